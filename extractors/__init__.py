"""Extractors: pure functions from a model's stored artifacts to judgements with evidence. No network, no DB.

One module per family of criteria: availability (weights, data, training code), documentation (code docs,
architecture, preprint, paper, model card, datasheet), access (package, API), licences. They share readings of a
card (cards, markdown, text) and of the model's code repos (code, ownership, packaging); `searched` records what
each judgement read and turns a `closed` that rests on an unread source into `unknown`.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from functools import cache
from pathlib import Path

from extractors.access import judge_api, judge_package
from extractors.availability import (judge_base_model_data, judge_base_model_weights, judge_end_model_data,
                                     judge_end_model_weights, judge_training_code)
from extractors.documentation import (judge_code_documentation, judge_datasheet, judge_hardware_architecture,
                                      judge_model_card, judge_paper, judge_preprint)
from extractors.licences import judge_licences
from extractors.rules import calibration
from extractors.searched import model_sources, settle
from extractors.text import MAX_JUDGED_CHARS, MAX_JUDGED_LINES, judged_part
from extractors.types import Artifact, Evidence, Judgement, ModelArtifacts

# Bump when a rule or an extractor changes what it decides, so stored judgements say which logic made them.
EXTRACTOR_VERSION = "0.4.2"


@cache
def judge_fingerprint() -> str:
    """What the judgements depend on besides the artifacts: this version, the extractors' code and the rules'
    data. A model whose artifacts and this fingerprint are unchanged is judged the same, so it is not re-judged.
    (The code is hashed, not only the version: a change nobody bumped the version for still re-judges.)"""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256(EXTRACTOR_VERSION.encode())
    for path in sorted([*root.glob("*.py"), *(root.parent / "data" / "rules").glob("*"),
                        root.parent / "data" / "hub_licences.csv"]):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


# Pieces of evidence kept a judgement: the rest are counted in a last one. The bundled models' judgements cite at
# most 24; a card naming thousands of datasets would otherwise store thousands of rows for one judgement.
MAX_EVIDENCE = 50

# The 14 criteria of the index, in its order, each with its judge.
JUDGES = {
    "datasources_basemodel": judge_base_model_data,
    "datasources_endmodel": judge_end_model_data,
    "weights_basemodel": judge_base_model_weights,
    "weights_endmodel": judge_end_model_weights,
    "trainingcode": judge_training_code,
    "code": judge_code_documentation,
    "hardware_architecture": judge_hardware_architecture,
    "preprint": judge_preprint,
    "paper": judge_paper,
    "modelcard": judge_model_card,
    "datasheet": judge_datasheet,
    "package": judge_package,
    "api": judge_api,
    "licenses": judge_licences,
}
CRITERIA = tuple(JUDGES)


def _bounded(artifact: Artifact | None) -> Artifact | None:
    """The artifact with only the head of its text that is judged (extractors.text.judged_part); JSON is read whole
    (its own parser is linear, and a cut would make it unreadable)."""
    if artifact is None or artifact.full_length or artifact.kind in ("model_json", "tree") or \
            (artifact.path or "").lower().endswith(".json"):
        return artifact
    head = judged_part(artifact.text)
    return artifact if head is artifact.text else replace(artifact, text=head, full_length=len(artifact.text))


def within_bounds(model: ModelArtifacts | None) -> ModelArtifacts | None:
    """The model with every document it holds (card, licence and policy files, its repos' READMEs and files, its
    datasets' cards, down its base chain) cut to the head that is judged: what a judge costs stays bounded whatever
    a document's owner writes. The model itself when nothing is cut; cutting a model twice cuts nothing more."""
    if model is None:
        return None
    card, files, code_files = _bounded(model.card), tuple(map(_bounded, model.files)), \
        tuple(map(_bounded, model.code_files))
    datasets = tuple(replace(d, card=_bounded(d.card)) if d.card is not None else d for d in model.datasets)
    base = within_bounds(model.base)
    if card is model.card and base is model.base and all(a is b for a, b in zip(files, model.files)) and \
            all(a is b for a, b in zip(code_files, model.code_files)) and \
            all(a.card is b.card for a, b in zip(datasets, model.datasets)):
        return model
    return replace(model, card=card, files=files, code_files=code_files, datasets=datasets, base=base)


def _cut_artifacts(model: ModelArtifacts | None) -> dict[str, Artifact]:
    """The artifacts of a bounded model whose text was cut, by id."""
    found = {}
    while model is not None:
        for artifact in (model.card, *model.files, *model.code_files, *(d.card for d in model.datasets)):
            if artifact is not None and artifact.full_length:
                found[artifact.artifact_id] = artifact
        model = model.base
    return found


def bound_notes(judgement: Judgement, cut: dict[str, Artifact]) -> Judgement:
    """The judgement saying, in its summary and as evidence, which documents it cites were judged on their head
    only; and keeping at most MAX_EVIDENCE pieces of evidence (a card listing thousands of datasets names each)."""
    cited = list({e.artifact_id: cut[e.artifact_id] for e in judgement.evidence if e.artifact_id in cut}.values())
    evidence = judgement.evidence
    if len(evidence) > MAX_EVIDENCE:
        dropped = evidence[MAX_EVIDENCE - 1]
        evidence = (*evidence[:MAX_EVIDENCE - 1], Evidence(
            "evidence.more", dropped.url, dropped.revision, dropped.file,
            f"and {len(evidence) - MAX_EVIDENCE + 1} more pieces of evidence, not listed (at most {MAX_EVIDENCE} "
            "a judgement)", artifact_id=dropped.artifact_id, confidence=dropped.confidence))
    if not cited:
        return replace(judgement, evidence=evidence) if evidence is not judgement.evidence else judgement
    said = [f"{a.path or a.kind} judged on its first {len(a.text):,} of {a.full_length:,} characters" for a in cited]
    notes = tuple(Evidence("text.bounded", a.url, a.revision, a.path, f"{line} (a document is judged up to "
                           f"{MAX_JUDGED_LINES:,} lines and {MAX_JUDGED_CHARS:,} characters)",
                           artifact_id=a.artifact_id) for a, line in zip(cited, said))
    return replace(judgement, summary=f"{judgement.summary} ({'; '.join(said)})", evidence=(*evidence, *notes))


def assess_model(model: ModelArtifacts) -> list[Judgement]:
    """The 14 judgements of a model, on the heads of its documents (within_bounds)."""
    model = within_bounds(model)
    cut = _cut_artifacts(model)
    judgements, sources = [], None
    for criterion, judge in JUDGES.items():
        judgement = judge(model)
        if not judgement.searched:  # the base-model criteria settle on the base model's own sources
            sources = model_sources(model) if sources is None else sources
            judgement = settle(judgement, model, sources)
        if judgement.criterion != criterion:
            raise ValueError(f"{judge.__name__} judged {judgement.criterion}, expected {criterion}")
        judgements.append(bound_notes(calibrated(judgement), cut))
    return judgements


def calibrated(judgement: Judgement) -> Judgement:
    """The judgement with its measured confidence: how often the experts agreed with the rule that decided it (its
    first evidence) at this level. `unknown` decides nothing, so it keeps the confidence its judge gave."""
    if judgement.level == "unknown":
        return judgement
    measured = calibration().confidence(judgement.criterion, judgement.level, judgement.evidence[0].rule_id)
    return replace(judgement, confidence=round(measured, 3))
