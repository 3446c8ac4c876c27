"""Documentation criteria: what is written down about the model. Here: the model card."""

from __future__ import annotations

from extractors.rules import card_section_rules
from extractors.text import front_matter, headings, quote
from extractors.types import Evidence, Judgement, ModelArtifacts

CRITERION = "modelcard"


def card_topics(text: str, body_start: int) -> dict[str, list[tuple[int, str]]]:
    """Which topics the card's headings cover: topic -> [(line, heading)]."""
    rules = card_section_rules()
    covered: dict[str, list[tuple[int, str]]] = {}
    for line, heading in headings(text, body_start):
        for topic, patterns in rules.topics.items():
            if any(p.search(heading) for p in patterns):
                covered.setdefault(topic, []).append((line, heading))
    return covered


def judge_model_card(model: ModelArtifacts) -> Judgement:
    if model.card is None:
        reason = model.failure_reason("card", "model_json")
        if reason.startswith("HTTP 404 EntryNotFound"):
            return Judgement(CRITERION, "closed", 0.9, "the repo has no model card (README.md)",
                             model.unavailable_evidence("card", "modelcard.none", "README.md"))
        return Judgement(CRITERION, "unknown", 0.0, f"model card not available: {reason}",
                         model.unavailable_evidence("card", "modelcard.unavailable", "README.md"))
    card = model.card
    rules = card_section_rules()
    _, body_start, _ = front_matter(card.text)
    body = "\n".join(card.text.splitlines()[body_start:])
    words = len(body.split())
    covered = card_topics(card.text, body_start)
    core = [t for t in rules.core_topics if t in covered]
    section_evidence = tuple(
        Evidence(f"modelcard.section.{topic}", card.url, card.revision, "README.md", quote(heading, 120), line, line,
                 card.artifact_id)
        for topic in sorted(covered) for line, heading in covered[topic][:1])
    length = Evidence("modelcard.length", card.url, card.revision, "README.md",
                      quote(f"{words} words; core topics covered: {', '.join(core) or 'none'}"),
                      body_start + 1 if words else None, len(card.text.splitlines()) or None, card.artifact_id)
    if len(core) >= rules.open_min_topics and words >= rules.open_min_words:
        return Judgement(CRITERION, "open", 0.8, f"card covers {', '.join(core)} in {words} words",
                         (length, *section_evidence))
    if core or words >= rules.partial_min_words:
        return Judgement(CRITERION, "partial", 0.7, f"card covers {len(core)} of {len(rules.core_topics)} core topics "
                         f"in {words} words", (length, *section_evidence))
    first = next((line for line in body.splitlines() if line.strip()), "")
    return Judgement(CRITERION, "closed", 0.7, f"card has {words} words and no core section", (
        length, Evidence("modelcard.thin", card.url, card.revision, "README.md", quote(first or "(empty card)"),
                         artifact_id=card.artifact_id)))
