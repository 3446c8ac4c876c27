"""A model card read once for every criterion: which topics its headings and its lines of substance cover, the
training hardware and setup it states. Shared by the availability and documentation judges."""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

from extractors.markdown import URL
from extractors.rules import card_content_rules, card_section_rules
from extractors.text import document, front_matter, headings, lines_of, quote
from extractors.types import Artifact, Evidence, LinkedDataset, ModelArtifacts


def card_topics(text: str, body_start: int) -> dict[str, list[tuple[int, str]]]:
    """Which topics the card's headings cover: topic -> [(line, heading)]."""
    rules = card_section_rules()
    covered: dict[str, list[tuple[int, str]]] = {}
    for line, heading in headings(text, body_start):
        for topic, patterns in rules.topics.items():
            if any(p.search(heading) for p in patterns):
                covered.setdefault(topic, []).append((line, heading))
    return covered


@dataclass(frozen=True)
class CardReading:
    """What a card documents, outside its usage and paperwork sections: words of prose, and the lines (number,
    text) of each topic, of training hardware and of training setup."""

    words: int
    topics: dict[str, list[tuple[int, str]]]
    hardware: list[tuple[int, str]]
    setup: list[tuple[int, str]]


class HeadingPaths:
    """The headings each line of a document stands under, outermost first, computed once per document: the one
    way the card readers tell which section (and parent sections) a line belongs to."""

    def __init__(self, doc):
        self._starts, self._paths, stack = [], [], []
        for heading in doc.headings():
            while stack and stack[-1].level >= heading.level:
                stack.pop()
            stack.append(heading)
            self._starts.append(heading.line_start)
            self._paths.append(tuple(h.text for h in stack))

    def at(self, line: int) -> tuple[str, ...]:
        index = bisect_right(self._starts, line) - 1
        return self._paths[index] if index >= 0 else ()


def in_skipped_section(path: tuple[str, ...]) -> bool:
    """Under a usage or paperwork heading (or one of its sub-headings): card_content.yaml `skip_sections`."""
    return any(r.pattern.search(heading) for heading in path for r in card_content_rules().skip_sections)


def _substance(text: str, start: int) -> tuple[list[tuple[int, str, str]], int]:
    """(line, text, block kind) of every heading and block outside the skipped sections, and the prose words."""
    doc = document(text, start)
    paths = HeadingPaths(doc)
    lines, words = [], 0
    for block in doc.blocks:
        if block.kind == "code" or in_skipped_section(paths.at(block.line_start)):
            continue
        if block.kind == "heading":
            lines.append((block.line_start, block.text, "heading"))
            continue
        if block.kind in ("prose", "html"):
            words += len(URL.sub("", block.text).split())
        for offset, line in enumerate(lines_of(block.text)):
            if line.strip():
                lines.append((block.line_start + offset if block.kind == "prose" else block.line_start, line,
                              block.kind))
    return lines, words


def read_card(card: Artifact) -> CardReading:
    rules = card_content_rules()
    _, start, _ = front_matter(card.text)
    lines, words = _substance(card.text, start)
    topics = {}
    for topic, rule in rules.topics.items():
        found = [(n, t) for n, t, _ in lines if rule.pattern.search(t)]
        if len(found) >= rules.min_lines_per_topic:
            topics[topic] = found
    hardware = [(n, t) for n, t, _ in lines if any(r.pattern.search(t) for r in rules.training_hardware)
                and not rules.not_training_hardware.search(t)]
    setup = [(n, t) for n, t, _ in lines if any(r.pattern.search(t) for r in rules.training_setup)]
    return CardReading(words, topics, hardware, setup)


HUB_DATASET = re.compile(r"huggingface\.co/datasets/([A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)")


FILE_URL = re.compile(r"/(resolve|blob|raw)/|\.(png|jpe?g|gif|svg|webp|mp4|pdf)(\?|#|$)", re.IGNORECASE)


def _linked_datasets(artifact: Artifact, start: int, seen: set[str]) -> list[tuple[LinkedDataset, Artifact, int, str]]:
    """Datasets a document's text links as training data: Hub datasets, dataset pages elsewhere, Hub collections of
    datasets. Not a file or an image in a dataset repo; not on lines or in sections about evaluation, nor in usage
    or news sections (a dataset used to show how to fine-tune it further). `seen` (lower-cased ids, URLs) grows."""
    rules = card_content_rules()
    doc = document(artifact.text, start)
    lines = lines_of(artifact.text)
    paths = HeadingPaths(doc)
    found = []
    for line, url, _ in doc.links:
        match = HUB_DATASET.search(url)
        elsewhere = match is None and rules.dataset_page.search(url)
        key = match.group(1).rstrip(".").lower() if match else url
        if not (match or elsewhere) or key in seen or FILE_URL.search(url):
            continue
        number = next((n for n in range(line, min(line + 40, len(lines) + 1)) if url in lines[n - 1]), line)
        text = lines[number - 1] if number <= len(lines) else url
        under = paths.at(number)
        if rules.not_training_data.search(text) or any(rules.not_training_data.search(h) for h in under[-1:]) or \
                in_skipped_section(under):
            continue
        seen.add(key)
        if elsewhere:  # a dataset page on another host, or a Hub collection of datasets: named, not crawled
            found.append((LinkedDataset(url, "not crawled", url), artifact, number, text))
        else:
            repo_id = match.group(1).rstrip(".")
            found.append((LinkedDataset(repo_id, "not crawled", f"https://huggingface.co/datasets/{repo_id}"),
                          artifact, number, text))
    return found


def text_datasets(model: ModelArtifacts) -> list[tuple[LinkedDataset, Artifact, int, str]]:
    """Datasets the card's text links as training data; those its metadata names already are not repeated. (The
    model's own READMEs are not read for this: they link the data of the whole family, measured worse.)"""
    seen = {d.repo_id.lower() for d in model.datasets}
    return _linked_datasets(model.card, front_matter(model.card.text)[1], seen) if model.card else []


def card_line(model: ModelArtifacts, patterns, rule_id: str, confidence: float,
              skip_usage: bool = False) -> Evidence | None:
    """The first line of the card's text that one of `patterns` matches, outside code (and, with `skip_usage`,
    outside usage and paperwork sections), as evidence quoting that line where it stands."""
    if model.card is None:
        return None
    _, span, _ = front_matter(model.card.text)
    doc = document(model.card.text, span)
    paths = HeadingPaths(doc)
    lines = lines_of(model.card.text)
    for block in doc.blocks:
        if block.kind == "code" or (skip_usage and in_skipped_section(paths.at(block.line_start))):
            continue
        for number in range(block.line_start, min(block.line_end, len(lines)) + 1):
            if any(p.search(lines[number - 1]) for p in patterns):
                return Evidence(rule_id, model.card.url, model.card.revision, "README.md",
                                quote(lines[number - 1], 200), number, number, model.card.artifact_id, confidence)
    return None
