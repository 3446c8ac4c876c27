"""The licence criterion. Here: the licence the card declares (id, name, link), classified by the Hub licence table.

Reading the licence texts themselves comes with the judgement engine; until then a custom licence (`other`)
that the table cannot name is judged closed ("not licensed clearly") with a low confidence.
"""

from __future__ import annotations

from extractors.rules import hub_licences, licence_class_levels
from extractors.text import front_matter, key_line, load_json, quote
from extractors.types import Evidence, Judgement, ModelArtifacts

CRITERION = "licenses"
DECLARING_KEYS = ("license", "license_name", "license_link")


def _as_ids(value) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [str(v).strip().lower() for v in values if isinstance(v, (str, int, float)) and str(v).strip()]


def declared_licence(model: ModelArtifacts) -> tuple[dict, list[Evidence], str | None]:
    """The licence keys the model declares, with evidence of where; from the card, else from the model JSON."""
    if model.card:
        meta, span, error = front_matter(model.card.text)
        if meta:
            evidence = []
            for key in (k for k in DECLARING_KEYS if k in meta):
                line = key_line(model.card.text, key, span) or (None, f"{key}: {meta[key]}")
                evidence.append(Evidence(f"licence.card.{key}", model.card.url, model.card.revision, "README.md",
                                         quote(line[1], 200), line[0], line[0], model.card.artifact_id))
            return {k: meta[k] for k in DECLARING_KEYS if k in meta}, evidence, None
        if error:
            return {}, [Evidence("licence.card.unreadable", model.card.url, model.card.revision, "README.md",
                                 quote(error), artifact_id=model.card.artifact_id, confidence=0.5)], error
    info = load_json(model.model_json.text) if model.model_json else None
    card_data = info.get("cardData") if isinstance(info, dict) else None
    if isinstance(card_data, dict):
        declared = {k: card_data[k] for k in DECLARING_KEYS if k in card_data}
        evidence = [Evidence(f"licence.model-json.{k}", model.model_json.url, model.revision, None,
                             quote(f'"{k}": {card_data[k]!r}', 200), artifact_id=model.model_json.artifact_id)
                    for k in declared]
        return declared, evidence, None
    return {}, [], None


def judge_licences(model: ModelArtifacts) -> Judgement:
    declared, evidence, _ = declared_licence(model)
    if not declared and not evidence and model.card is None:
        reason = model.failure_reason("card", "model_json")
        return Judgement(CRITERION, "unknown", 0.0, f"no card metadata to read the licence from: {reason}",
                         model.unavailable_evidence("card", "licence.unavailable", "README.md"))
    if not declared:
        where = model.card or model.model_json
        searched = Evidence("licence.none-declared", where.url, where.revision, "README.md" if model.card else None,
                            "searched card front matter and model JSON for license, license_name, license_link: "
                            "none declared", artifact_id=where.artifact_id, confidence=0.7)
        return Judgement(CRITERION, "closed", 0.6, "no licence declared", (*evidence, searched))
    table, levels = hub_licences(), licence_class_levels()
    ids = _as_ids(declared.get("license"))
    if "other" in ids or not ids:
        ids = [i for i in ids if i != "other"] + _as_ids(declared.get("license_name"))
    known = [table[i] for i in ids if i in table]
    if not known:
        named = ", ".join(ids) or "other"
        return Judgement(CRITERION, "closed", 0.5, f"custom licence ({named}) not in the Hub licence table", (
            *evidence, Evidence("licence.custom-unclassified", evidence[0].url, evidence[0].revision, evidence[0].file,
                                quote(f"licence {named}: not an open licence the table knows"), evidence[0].line_start,
                                evidence[0].line_end, evidence[0].artifact_id, 0.5)))
    # Several licences declared: the most restrictive decides (closed < partial < open).
    order = {"closed": 0, "partial": 1, "open": 2}
    deciding = min(known, key=lambda lic: order[levels[lic.licence_class]])
    level = levels[deciding.licence_class]
    classified = Evidence(f"licence.class.{deciding.licence_class}", evidence[0].url, evidence[0].revision,
                          evidence[0].file, quote(f"{deciding.licence_id}: {deciding.licence_class}; "
                                                  f"OSI approved: {deciding.osi_approved}"),
                          evidence[0].line_start, evidence[0].line_end, evidence[0].artifact_id)
    return Judgement(CRITERION, level, 0.8, f"declared licence {deciding.licence_id} ({deciding.licence_class})",
                     (*evidence, classified))
