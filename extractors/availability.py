"""Availability criteria: what of the model can be had. Here: the end model's weights."""

from __future__ import annotations

from fnmatch import fnmatch

from extractors.rules import weight_rules
from extractors.text import front_matter, key_line, load_json, quote
from extractors.types import Evidence, Judgement, ModelArtifacts

CRITERION = "weights_endmodel"


def tree_files(model: ModelArtifacts) -> list[tuple[str, int | None]] | None:
    """(path, size) of every file in the stored tree pages; None when no page was stored."""
    if not model.tree_pages:
        return None
    files = []
    for page in model.tree_pages:
        entries = load_json(page.text)
        if not isinstance(entries, list):
            return None
        files += [(e["path"], e.get("size")) for e in entries
                  if isinstance(e, dict) and e.get("type") == "file" and isinstance(e.get("path"), str)]
    return files


def weight_file_matches(paths) -> list[tuple[str, str]]:
    """(path, rule id) of each weight file, by the rules in data/rules/weight_files.yaml."""
    rules = weight_rules()
    found = []
    for path in paths:
        name = path.rsplit("/", 1)[-1].lower()
        if any(fnmatch(name, skip) for skip in rules.not_weights):
            continue
        rule = next((r for r in rules.rules if fnmatch(name, r.glob)), None)
        if rule:
            found.append((path, rule.rule_id))
    return found


def gating_evidence(model: ModelArtifacts) -> list[Evidence]:
    """Evidence that downloads are gated: the model JSON's `gated` field, and the card's `extra_gated_*` keys."""
    evidence = []
    info = load_json(model.model_json.text) if model.model_json else None
    if isinstance(info, dict) and info.get("gated"):
        evidence.append(Evidence("weights.gated", model.model_json.url, model.revision, None,
                                 f'"gated": "{info["gated"]}"', artifact_id=model.model_json.artifact_id))
    if model.card:
        meta, span, _ = front_matter(model.card.text)
        for key in sorted(k for k in (meta or {}) if str(k).startswith("extra_gated")):
            line = key_line(model.card.text, key, span)
            if line:
                evidence.append(Evidence("weights.gated", model.card.url, model.card.revision, "README.md",
                                         quote(line[1], 120), line[0], line[0], model.card.artifact_id))
                break
    return evidence


def judge_end_model_weights(model: ModelArtifacts) -> Judgement:
    gated = gating_evidence(model)
    files = tree_files(model)
    if files is None:
        if gated:
            return Judgement(CRITERION, "partial", 0.5, "gated repo; its file list could not be fetched", tuple(gated))
        reason = model.failure_reason("tree", "model_json")
        return Judgement(CRITERION, "unknown", 0.0, f"file list not available: {reason}",
                         model.unavailable_evidence("tree", "weights.tree-unavailable", None))
    tree = model.tree_pages[0]
    weights = weight_file_matches(path for path, _ in files)
    if not weights:
        searched = ", ".join(r.glob for r in weight_rules().rules)
        return Judgement(CRITERION, "closed", 0.8, "no weight file in the repo's tree", (
            Evidence("weights.none-found", tree.url, tree.revision, None,
                     quote(f"searched {len(files)} files for {searched}: none found"), artifact_id=tree.artifact_id),
            *gated))
    sizes = dict(files)
    listed = "; ".join(f"{path} ({sizes.get(path) or '?'} bytes)" for path, _ in weights[:5])
    more = f" and {len(weights) - 5} more" if len(weights) > 5 else ""
    found = Evidence(weights[0][1], tree.url, tree.revision, weights[0][0], quote(listed + more),
                     artifact_id=tree.artifact_id, confidence=0.9)
    if gated:
        return Judgement(CRITERION, "partial", 0.9, f"{len(weights)} weight files, behind a gated download",
                         (found, *gated))
    return Judgement(CRITERION, "open", 0.9, f"{len(weights)} weight files, downloadable without approval", (found,))
