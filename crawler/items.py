"""What spiders yield. Spiders only fetch; the store pipeline writes these to SQLite."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field


@dataclass
class ArtifactItem:
    """A raw document as fetched: stored once by content hash, with where and when it came from."""

    source: str  # "huggingface" | "github"
    repo_type: str  # "model" | "dataset" | "github"
    repo_id: str
    kind: str  # model_json | card | tree | file ...
    url: str
    revision: str | None
    http_status: int
    etag: str | None
    content_type: str | None
    body: bytes = field(repr=False)
    path: str | None = None


@dataclass
class SubjectItem:
    """A thing judged or linked to (model, dataset, code repo, paper) and what the crawl found of it."""

    subject_id: str
    kind: str
    source: str
    repo_id: str
    url: str
    revision: str | None = None
    status: str = "ok"  # ok | gated | missing | error
    gated: str | None = None
    note: str | None = None
    # True when the crawl only confirmed the subject unchanged (304): keep its stored status, gated and note.
    touch_only: bool = False


@dataclass
class ErrorItem:
    """A failed fetch or parse, named by its source URL, with the reason."""

    source: str
    subject_id: str | None
    url: str
    kind: str  # which artifact kind failed (model_json, card, tree...), or parse
    http_status: int | None
    reason: str


@dataclass
class LinkItem:
    """An edge of the subject graph (base model, dataset, paper, code repo), with the artifact it was read from."""

    from_subject: str
    to_subject: str
    relation: str
    found_in_url: str
    found_in_revision: str | None


@dataclass
class CompletedItem:
    """Every request of a subject at this revision was answered: the mark incremental crawls compare against.
    `fetch_rules` names what the spider fetched of it (a spider that now fetches more asks again)."""

    subject_id: str
    revision: str
    fetch_rules: str = ""


@dataclass
class ListingPageItem:
    """Tier `listing`: the usable rows of one listing page (models or datasets), written in one transaction."""

    repo_type: str  # "model" | "dataset"
    rows: list = field(repr=False)
    url: str = ""


ITEM_TYPES = {cls.__name__: cls for cls in (ArtifactItem, SubjectItem, ErrorItem, LinkItem, CompletedItem,
                                            ListingPageItem)}


def encode_item(item) -> str:
    """An item as JSON text, for the Redis list a distributed crawl's single writer reads (bodies in base64)."""
    fields = dict(item.__dict__)
    if isinstance(item, ArtifactItem):
        fields["body"] = base64.b64encode(item.body).decode("ascii")
    return json.dumps({"type": type(item).__name__, "fields": fields}, sort_keys=True)


def decode_item(text: str | bytes):
    """The item `encode_item` wrote; ValueError for anything else."""
    try:
        data = json.loads(text)
        cls = ITEM_TYPES[data["type"]]
        fields = dict(data["fields"])
        if cls is ArtifactItem:
            fields["body"] = base64.b64decode(fields["body"])
        return cls(**fields)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not an encoded crawl item: {exc}") from exc
