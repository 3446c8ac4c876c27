"""PLACEHOLDER (replaced by wt-t0judge at merge): tier-0 judgement of a model from its Hub listing row alone.

The interface is the one the tier-0 crawl calls (crawler/tier0.py); this placeholder decides nothing: every
criterion is `unknown`, with one Evidence naming the listing row it was read from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from extractors.types import Evidence, Judgement

LISTING_CRITERIA = ("datasources_basemodel", "datasources_endmodel", "weights_basemodel", "weights_endmodel",
                    "trainingcode", "code", "hardware_architecture", "preprint", "paper", "modelcard", "datasheet",
                    "package", "api", "licenses")


@dataclass(frozen=True)
class ListingJudgement:
    judgements: tuple[Judgement, ...]  # all 14 CRITERIA
    licence: str | None
    base_chain: tuple[str, ...]
    datasets: tuple[str, ...]


def judge_listing(row: dict, bases: Mapping[str, dict] = {}, datasets: Mapping[str, dict] = {}) -> ListingJudgement:
    """Every criterion `unknown` (placeholder), citing the model's public page as the listing row read."""
    model_id = row.get("id") or ""
    url = f"https://huggingface.co/{model_id}"
    evidence = (Evidence("listing.placeholder", url, row.get("sha"), None, "the Hub listing row of the model"),)
    judgements = tuple(Judgement(c, "unknown", 0.0, "not decided from the listing (placeholder judge)", evidence,
                                 basis="absence") for c in LISTING_CRITERIA)
    card = row.get("cardData") if isinstance(row.get("cardData"), dict) else {}
    licence = card.get("license") if isinstance(card.get("license"), str) else None
    return ListingJudgement(judgements, licence, (), ())
