"""Small text helpers shared by extractors: front matter, headings, line lookup, short quotes."""

from __future__ import annotations

import json
import re

import yaml

from crawler.corpus import split_front_matter

HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
MAX_SNIPPET = 300


def quote(text: str, limit: int = MAX_SNIPPET) -> str:
    """A short quote: whitespace folded, cut at `limit` characters."""
    folded = " ".join(text.split())
    return folded if len(folded) <= limit else folded[: limit - 1] + "…"


def front_matter(card_text: str) -> tuple[dict | None, int, str | None]:
    """(metadata, number of lines the front matter spans, error). Hostile or broken YAML gives an error, not a crash."""
    yaml_text, span = split_front_matter(card_text)
    if yaml_text is None:
        return None, 0, None
    try:
        data = yaml.safe_load(yaml_text)
    except yaml.YAMLError as exc:
        return None, span, f"front matter is not valid YAML: {quote(str(exc), 200)}"
    if data is None:
        return {}, span, None
    if not isinstance(data, dict):
        return None, span, "front matter is not a mapping"
    return data, span, None


def key_line(card_text: str, key: str, within: int) -> tuple[int, str] | None:
    """The 1-based line of a top-level front-matter key, and its text."""
    pattern = re.compile(rf"^[\"']?{re.escape(key)}[\"']?\s*:")
    for number, line in enumerate(card_text.splitlines()[:within], start=1):
        if pattern.match(line):
            return number, line
    return None


def headings(text: str, start_line: int = 0) -> list[tuple[int, str]]:
    """Markdown ATX headings outside code fences, as (1-based line, heading text)."""
    found, in_fence = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if number <= start_line:
            continue
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        match = None if in_fence else HEADING.match(line)
        if match:
            found.append((number, match.group(2).strip()))
    return found


def load_json(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return None
