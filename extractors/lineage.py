"""Licence lineage: a derivative declaring a licence its base model's licence does not let it declare is
`relicensed` (Apache-2.0 on a Llama fine-tune, MIT over a CC-BY-NC base). Which base licences carry over, and what a
derivative may declare over them, is data: data/rules/licence_lineage.yaml, by licence id and by the licence classes
of data/hub_licences.csv. Pure: the deep assessment gives it the chain read from the store, the tier-0 path the
listing's licence and base chain.

Unknown is never flagged: a derivative or base licence no table knows (none declared, `other` without a known
`license_name`, a custom id) says nothing about what the derivative may declare."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from extractors.licence_index import classify
from extractors.licences import declared_licence
from extractors.rules import RuleFileError, _load_yaml, hub_licences, licence_class_levels
from extractors.types import Evidence, ModelArtifacts

RULES_FILE = "licence_lineage.yaml"


@dataclass(frozen=True)
class Relicensing:
    licence: str  # the derivative's declared licence id
    base: str  # the base whose licence carries over
    base_licence: str  # that base's declared licence id
    chain: tuple[str, ...]  # the base chain walked, nearest first, down to `base`
    rule_id: str
    why: str  # the clause that makes the base's licence carry over

    @property
    def evidence(self) -> dict:
        return {"licence": self.licence, "base": self.base, "base_licence": self.base_licence,
                "chain": list(self.chain), "rule_id": self.rule_id, "why": self.why}


@dataclass(frozen=True)
class LineageRule:
    rule_id: str
    base_licences: frozenset[str]
    base_classes: frozenset[str]
    may_licences: frozenset[str]
    may_classes: frozenset[str]
    found_in: str
    flagged: tuple[tuple[str, str], ...]
    kept: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class LineageRules:
    rules: tuple[LineageRule, ...]
    severity_open: str
    severity_otherwise: str


def _ids(entry: dict, key: str) -> frozenset[str]:
    return frozenset(str(v).strip().lower() for v in entry.get(key) or ())


@cache
def lineage_rules() -> LineageRules:
    data = _load_yaml(RULES_FILE)
    known_classes = set(licence_class_levels())
    known_ids = set(hub_licences())
    rules = []
    for number, entry in enumerate(data.get("rules") or [], start=1):
        where = f"{RULES_FILE}: rule {number}"
        if not isinstance(entry, dict) or not entry.get("id") or not entry.get("found_in"):
            raise RuleFileError(f"{where}: needs an `id` and a `found_in`")
        base, may = entry.get("base") or {}, entry.get("may_declare") or {}
        rule = LineageRule(entry["id"], _ids(base, "licences"), _ids(base, "classes"), _ids(may, "licences"),
                           _ids(may, "classes"), " ".join(str(entry["found_in"]).split()),
                           tuple(tuple(map(str, p)) for p in (entry.get("examples") or {}).get("flagged") or ()),
                           tuple(tuple(map(str, p)) for p in (entry.get("examples") or {}).get("kept") or ()))
        if not rule.base_licences and not rule.base_classes:
            raise RuleFileError(f"{where} ({rule.rule_id}): `base` names no licence and no class")
        unknown = (rule.base_classes | rule.may_classes) - known_classes
        if unknown:
            raise RuleFileError(f"{where} ({rule.rule_id}): classes not in hub_licences.csv: {sorted(unknown)}")
        unknown = (rule.base_licences | rule.may_licences) - known_ids
        if unknown:
            raise RuleFileError(f"{where} ({rule.rule_id}): licence ids not in hub_licences.csv: {sorted(unknown)}")
        if not rule.flagged:
            raise RuleFileError(f"{where} ({rule.rule_id}): needs `examples: flagged` (its test)")
        rules.append(rule)
    severity = data.get("severity") or {}
    if not rules or not severity.get("open") or not severity.get("otherwise"):
        raise RuleFileError(f"{RULES_FILE}: needs `rules` and `severity: {{open, otherwise}}`")
    return LineageRules(tuple(rules), str(severity["open"]), str(severity["otherwise"]))


def licence_class(licence_id: str) -> str | None:
    """The Hub table's class of a licence id; None for an id it lacks (even when SPDX knows it: the rules speak of
    the table's classes)."""
    entry = hub_licences().get(licence_id.strip().lower())
    return entry.licence_class if entry else None


def _known(licence_id: str | None) -> bool:
    if not licence_id or licence_id.strip().lower() in ("other", "unknown"):
        return False
    return licence_class(licence_id) not in (None, "unknown") or classify(licence_id) is not None


def carrying_rule(base_licence: str) -> LineageRule | None:
    """The rule that carries a base licence over to derivatives: by id first, then by class; None when it does not
    carry over (a permissive base) or is unknown."""
    licence_id = base_licence.strip().lower()
    rules = lineage_rules().rules
    found = next((r for r in rules if licence_id in r.base_licences), None)
    if found is None:
        cls = licence_class(licence_id)
        found = next((r for r in rules if cls and cls in r.base_classes), None)
    return found


def allowed(rule: LineageRule, licence: str, base_licence: str) -> bool:
    licence_id = licence.strip().lower()
    return licence_id == base_licence.strip().lower() or licence_id in rule.may_licences or \
        (licence_class(licence_id) or "") in rule.may_classes


def relicensed(licence: str | None, chain: Sequence[tuple[str, str | None]]) -> Relicensing | None:
    """Whether a derivative declaring `licence` over the base `chain` ((base id, its declared licence id or None),
    nearest first) declares what a base's licence does not allow. Every base of the chain counts: a licence that
    carries over binds the derivative of a derivative too, whatever the middle one declares. None when nothing is
    flagged, including when the derivative's licence is unknown or no base's licence is known."""
    if not _known(licence):
        return None
    walked = []
    for base, base_licence in chain:
        walked.append(base)
        if not _known(base_licence):
            continue
        rule = carrying_rule(base_licence)
        if rule is not None and not allowed(rule, licence, base_licence):
            return Relicensing(licence.strip().lower(), base, base_licence.strip().lower(), tuple(walked), rule.rule_id,
                               rule.found_in)
    return None


def severity(relicensing: Relicensing) -> str:
    """high when the derivative declares an open licence (its tag reads as open), else medium (as data)."""
    rules = lineage_rules()
    found = classify(relicensing.licence)
    return rules.severity_open if found is not None and found.level == "open" else rules.severity_otherwise


def base_licence_level(relicensing: Relicensing) -> str:
    """The level the base's licence has as the licence criterion reads it (closed for every carrying class)."""
    found = classify(relicensing.base_licence)
    return found.level if found else "unknown"


def declared_ids(declared: dict) -> list[str]:
    """The licence ids a card declares: `license` (one or a list), with `license_name` standing for `other`."""
    values = declared.get("license")
    ids = [str(v).strip().lower() for v in (values if isinstance(values, list) else [values])
           if isinstance(v, (str, int, float)) and str(v).strip()]
    name = declared.get("license_name")
    if (not ids or "other" in ids) and isinstance(name, str) and name.strip():
        ids = [i for i in ids if i != "other"] + [name.strip().lower()]
    return ids


def _first_known(ids: list[str]) -> str | None:
    return next((i for i in ids if _known(i)), ids[0] if ids else None)


def model_chain(model: ModelArtifacts) -> list[tuple[str, str | None]]:
    """The base chain of a loaded model, nearest first: each base's id and its declared licence (None when its card
    was not crawled or declares none)."""
    chain, current = [], model
    while current is not None and current.base_model:
        base = current.base
        chain.append((current.base_model, _first_known(declared_ids(declared_licence(base)[0])) if base else None))
        current = base
    return chain


def model_relicensing(model: ModelArtifacts) -> Relicensing | None:
    """A loaded model's relicensing: each licence it declares against its base chain; flagged only when every
    declared licence is one the bases do not allow (a dual licence naming the base's one is not relicensed)."""
    ids = [i for i in declared_ids(declared_licence(model)[0]) if _known(i)]
    chain = model_chain(model)
    if not ids or not chain:
        return None
    found = [relicensed(i, chain) for i in ids]
    return found[0] if all(found) else None


@dataclass(frozen=True)
class RelicensedFlag:
    """A flag of kind `relicensed`: the relicensing, its severity, the level the base's licence has, and where the
    derivative declares its licence (the claim the flag contradicts), when the card says it."""

    relicensing: Relicensing
    severity: str
    base_level: str
    declaration: Evidence | None

    kind = "relicensed"

    @property
    def claim(self) -> str:
        return self.declaration.snippet if self.declaration else f"license: {self.relicensing.licence}"


def relicensed_flag(model: ModelArtifacts) -> RelicensedFlag | None:
    """The `relicensed` flag of a loaded model (its base chain loaded with it), or None."""
    found = model_relicensing(model)
    if found is None:
        return None
    _, evidence, _ = declared_licence(model)
    declaration = next((e for e in evidence if found.licence in e.snippet.lower()), evidence[0] if evidence else None)
    return RelicensedFlag(found, severity(found), base_licence_level(found), declaration)
