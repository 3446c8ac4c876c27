"""Extractors: pure functions from a model's stored artifacts to judgements with evidence. No network, no DB."""

from __future__ import annotations

from extractors.availability import judge_end_model_weights
from extractors.documentation import judge_model_card
from extractors.licences import judge_licences
from extractors.types import Judgement, ModelArtifacts

# Bump when a rule or an extractor changes what it decides, so stored judgements say which logic made them.
EXTRACTOR_VERSION = "0.1.0"

JUDGES = (judge_end_model_weights, judge_model_card, judge_licences)
CRITERIA = ("weights_endmodel", "modelcard", "licenses")


def assess_model(model: ModelArtifacts) -> list[Judgement]:
    return [judge(model) for judge in JUDGES]
