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
from extractors.types import Judgement, ModelArtifacts

# Bump when a rule or an extractor changes what it decides, so stored judgements say which logic made them.
EXTRACTOR_VERSION = "0.4.0"


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


def assess_model(model: ModelArtifacts) -> list[Judgement]:
    judgements, sources = [], None
    for criterion, judge in JUDGES.items():
        judgement = judge(model)
        if not judgement.searched:  # the base-model criteria settle on the base model's own sources
            sources = model_sources(model) if sources is None else sources
            judgement = settle(judgement, model, sources)
        if judgement.criterion != criterion:
            raise ValueError(f"{judge.__name__} judged {judgement.criterion}, expected {criterion}")
        judgements.append(calibrated(judgement))
    return judgements


def calibrated(judgement: Judgement) -> Judgement:
    """The judgement with its measured confidence: how often the experts agreed with the rule that decided it (its
    first evidence) at this level. `unknown` decides nothing, so it keeps the confidence its judge gave."""
    if judgement.level == "unknown":
        return judgement
    measured = calibration().confidence(judgement.criterion, judgement.level, judgement.evidence[0].rule_id)
    return replace(judgement, confidence=round(measured, 3))
