"""Openwashing flags: the model's own claim of openness, of a known kind, against the criteria that kind promises.

Policy over judgements, kept apart from them (as a licence scanner applies policy after detection): a claim is
contradicted only by promised criteria that were decided and are not open, never by `unknown`; but `unknown`
promises beside broken ones do not lower the flag below medium, so it reaches review naming them.
"""

from __future__ import annotations

from dataclasses import dataclass

from extractors.claims import Claim, claim_rules, tag_claims, text_claims
from extractors.licence_index import classify
from extractors.licences import declared_licence
from extractors.types import Judgement, ModelArtifacts


@dataclass(frozen=True)
class Flag:
    severity: str  # high | medium | low
    claim: Claim
    promised: tuple[tuple[str, str], ...]  # (criterion, level) of every criterion the claim's kind promises
    failing: tuple[tuple[str, str], ...]  # the promised ones decided and not open
    rule_ids: tuple[str, ...]  # the claim's rule, then the rules behind each failing judgement

    @property
    def kind(self) -> str:
        return self.claim.kind

    @property
    def undecided(self) -> tuple[str, ...]:
        """The promised criteria left `unknown`: what review must still look at."""
        return tuple(c for c, level in self.promised if level == "unknown")


def licence_tag_claim(model: ModelArtifacts) -> Claim | None:
    """An open licence id the card declares, and no words: the weakest claim."""
    declared, evidence, _ = declared_licence(model)
    ids = declared.get("license")
    for licence_id in ids if isinstance(ids, list) else [ids]:
        licence = classify(str(licence_id)) if licence_id else None
        if licence and licence.level == "open" and evidence:
            first = evidence[0]
            location = f"{first.url}#L{first.line_start}" if first.line_start else first.url
            return Claim("claim.open-licence-id", "licence tag only", f"license: {licence_id}", None,
                         first.line_start, location)
    return None


def strongest_claim(model: ModelArtifacts) -> Claim | None:
    """The strongest kind of claim the model makes, its first occurrence; a licence tag only when no words are."""
    kinds = claim_rules().kinds
    found = [*text_claims(model), *tag_claims(model)]
    if found:
        return max(found, key=lambda c: kinds[c.kind].strength)  # max keeps the first of the strongest
    return licence_tag_claim(model)


def severity(strength: int, promised: tuple[tuple[str, str], ...], failing: int) -> str:
    """How badly the claim is contradicted, from the promises decided: `unknown` neither breaks nor keeps one.

    - high: an open-source claim that breaks every promise, each decided;
    - medium: every decided promise broken, the rest `unknown` (the flag names them), for a claim of open source,
      open weights or open; and an open-source claim that breaks any promise (open source promises all three:
      training code, data and an open licence; one broken makes the claim false);
    - low: open weights / open breaking only some decided promises, or a licence tag only."""
    decided = sum(level != "unknown" for _, level in promised)
    if strength >= 3 and failing == len(promised):
        return "high"
    if strength >= 2 and failing == decided:
        return "medium"
    return "medium" if strength >= 3 else "low"


def openwashing_flag(model: ModelArtifacts, judgements: list[Judgement]) -> Flag | None:
    """One flag per model: its strongest claim beside the promised criteria that are decided and not open."""
    claim = strongest_claim(model)
    if claim is None:
        return None
    rules = claim_rules()
    kind = rules.kinds[claim.kind]
    judged = {j.criterion: j for j in judgements}
    promised = tuple((c, judged[c].level) for c in kind.promises if c in judged)
    failing = tuple((c, level) for c, level in promised if level in rules.breaking_levels)
    if not failing:
        return None
    rule_ids = (claim.rule_id, *dict.fromkeys(r for c, _ in failing for r in judged[c].rule_ids))
    return Flag(severity(kind.strength, promised, len(failing)), claim, promised, failing, rule_ids)
