"""Openwashing flags: the model's own words claim openness while its judgements say otherwise.

Policy over judgements, kept apart from them (as a licence scanner applies policy after detection).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from extractors.licences import declared_licence
from extractors.licence_index import classify
from extractors.rules import _load_yaml, _require, compile_pattern
from extractors.text import front_matter, load_json, quote
from extractors.types import Judgement, ModelArtifacts

STRENGTH = {"strong": 3, "medium": 2, "weak": 1}


@dataclass(frozen=True)
class Claim:
    rule_id: str
    strength: str
    quote: str
    location: str  # URL, file and line


@dataclass(frozen=True)
class Flag:
    severity: str  # high | medium | low
    claim: Claim
    failing: tuple[tuple[str, str], ...]  # (criterion, level)


@cache
def claim_rules() -> dict:
    name = "openness_claims.yaml"
    data = _load_yaml(name)
    rules = []
    for number, rule in enumerate(data.get("claims") or [], start=1):
        _require(isinstance(rule, dict) and {"id", "pattern", "strength", "example", "not_example"} <= set(rule),
                 name, f"claim #{number} needs id, pattern, strength, example and not_example")
        _require(rule["strength"] in STRENGTH, name, f"{rule['id']}: strength must be strong, medium or weak")
        rules.append((rule["id"], compile_pattern(name, rule["id"], rule["pattern"]), rule["strength"],
                      rule["example"], rule["not_example"]))
    tags = {str(t["tag"]).lower(): t["strength"] for t in data.get("tags") or []}
    contradicting = {k: tuple(v) for k, v in (data.get("contradicting") or {}).items()}
    _require(bool(rules) and bool(contradicting), name, "needs claims and contradicting criteria")
    return {"claims": rules, "tags": tags, "contradicting": contradicting}


def claims(model: ModelArtifacts) -> list[Claim]:
    """Claims of openness in the card's own text, the model's tags, and an open licence id."""
    rules = claim_rules()
    found = []
    if model.card:
        _, start, _ = front_matter(model.card.text)
        for number, line in enumerate(model.card.text.splitlines(), start=1):
            if number <= start:
                continue
            for rule_id, pattern, strength, _, _ in rules["claims"]:
                if pattern.search(line):
                    found.append(Claim(rule_id, strength, quote(line, 200), f"{model.card.url}#L{number}"))
                    break
    info = load_json(model.model_json.text) if model.model_json else None
    for tag in (info or {}).get("tags") or [] if isinstance(info, dict) else []:
        if isinstance(tag, str) and tag.lower() in rules["tags"]:
            found.append(Claim("claim.tag", rules["tags"][tag.lower()], f"tag: {tag}", model.model_json.url))
    declared, evidence, _ = declared_licence(model)
    ids = declared.get("license")
    for licence_id in (ids if isinstance(ids, list) else [ids]):
        licence = classify(str(licence_id)) if licence_id else None
        if licence and licence.level == "open" and evidence:
            found.append(Claim("claim.open-licence-id", "weak", evidence[0].snippet,
                               f"{evidence[0].url}#L{evidence[0].line_start or ''}"))
    return found


def openwashing_flag(model: ModelArtifacts, judgements: list[Judgement]) -> Flag | None:
    """One flag per model: its strongest claim beside the criteria that contradict it; None when none do."""
    contradicting = claim_rules()["contradicting"]
    failing = tuple((j.criterion, j.level) for j in judgements if j.level in contradicting.get(j.criterion, ()))
    found = claims(model)
    if not failing or not found:
        return None
    claim = max(found, key=lambda c: STRENGTH[c.strength])  # the first of the strongest, in text order
    weight = STRENGTH[claim.strength]
    severity = "high" if weight == 3 and len(failing) >= 2 else "medium" if weight >= 2 else "low"
    return Flag(severity, claim, failing)
