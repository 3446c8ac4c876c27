"""What the spiders, the local run and the distributed mode share about repos, in a module of the crawler package
so that imports point one way (spiders -> crawler, never back): what the store knows of a repo from earlier crawls
(`KnownRepo`), which GitHub repos matter most (`target_priority`), and the Hub's time format (`parse_time`).

crawler/ops/distributed.py imports these from here, not from spiders/ (it once imported spiders.base and
spiders.github at import time while spiders.base named the distributed ledger: a circle). Only crawler/run.py,
which starts the spiders, imports spiders/. tests/test_distributed_tiers.py checks it in a fresh interpreter.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class KnownRepo:
    """What the store knows of a repo from earlier crawls: the revision last crawled completely, the ETag of its
    JSON at that revision, and the base models / datasets it links to (followed again when it is unchanged); or
    that it answered 404 lately (`missing`: not asked again as a followed link until the recheck interval passed)."""

    revision: str | None
    json_etag: str | None = None
    follows: tuple[tuple[str, str, str], ...] = ()
    missing: bool = False
    fetch_rules: str = ""


# Which GitHub repos matter most when the hourly budget is tight: those labels name, then licence links, then code
# repos of the model's own organisation, then any other code link (and repos crawled before, checked again).
TARGET_PRIORITY = {"label": 30, "licence_link": 20, "own_code_repo": 10, "code_repo": 0, "known": 0}


def target_priority(relation: str, from_subject: str = "", full_name: str = "") -> int:
    """The priority of a GitHub repo named by a label (`label`), by a model's link (`licence_link`, `code_repo`:
    the model owner's own repos first), or crawled before (`known`)."""
    if relation == "code_repo" and from_subject.startswith("hf:"):
        owner_of_model = from_subject.split(":", 2)[2].split("/")[0].lower()
        if full_name.split("/")[0].lower() == owner_of_model:
            return TARGET_PRIORITY["own_code_repo"]
    return TARGET_PRIORITY[relation]


def parse_time(value) -> dt.datetime | None:
    """An ISO 8601 time as the Hub writes it (`2024-05-01T12:00:00.000Z`), or None when it is not one."""
    try:
        parsed = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return parsed.replace(tzinfo=parsed.tzinfo or dt.timezone.utc) if parsed else None
