"""A model card read once for every criterion: which topics its headings and its lines of substance cover, the
training hardware and setup it states. Shared by the availability and documentation judges."""

from __future__ import annotations

from dataclasses import dataclass

from extractors.markdown import URL
from extractors.rules import card_content_rules, card_section_rules
from extractors.text import document, front_matter, headings
from extractors.types import Artifact


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


def _substance(text: str, start: int) -> tuple[list[tuple[int, str, str]], int]:
    """(line, text, block kind) of every heading and block outside the skipped sections, and the prose words."""
    rules = card_content_rules()
    stack: list[tuple[int, bool]] = []  # (heading level, skipped)
    lines, words = [], 0
    for block in document(text, start).blocks:
        if block.kind == "heading":
            while stack and stack[-1][0] >= block.level:
                stack.pop()
            stack.append((block.level, any(r.pattern.search(block.text) for r in rules.skip_sections)))
            if not any(skipped for _, skipped in stack):
                lines.append((block.line_start, block.text, "heading"))
            continue
        if block.kind == "code" or any(skipped for _, skipped in stack):
            continue
        if block.kind in ("prose", "html"):
            words += len(URL.sub("", block.text).split())
        for offset, line in enumerate(block.text.splitlines()):
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
