"""What an AI-BOM tells beyond the export record, read from the store: the model's own release date, the licence texts
of its weights (its concluded licence), its datasets' availability, type and licence, and its base models' pages."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import sqlite_utils

from crawler.assess import load_model
from crawler.public import PublicLinks, artifact_url, subject_url
from crawler.store import blob_text
from extractors.licences import licence_texts, read_licence_text, text_licence_id

# The Hub's `modality:` dataset tags that name one of SPDX's dataset types; any other modality is not asserted.
MODALITY_TYPES = {"text": "text", "image": "image", "audio": "audio", "video": "video", "tabular": "structured",
                  "timeseries": "timeseries"}
# How a Hub dataset is had, by its gating (hub-api.md): open files download directly; an automatic approval follows
# the acceptance of terms, SPDX's click-through. A manual approval (terms accepted, then the owner decides) is none
# of SPDX's kinds (`registration` is without accepting terms), so it is not asserted; nor is it for a dataset the
# store did not read.
AVAILABILITY = {"false": "directDownload", "auto": "clickthrough"}


@dataclass(frozen=True)
class LicenceText:
    """A licence text the store holds for the weights: `spdx` when the text is an SPDX licence's, else a custom
    licence, with its words and its public URL."""
    name: str
    url: str
    text: str
    spdx: str | None


@dataclass(frozen=True)
class Dataset:
    id: str
    status: str
    page: str | None  # its public page, when the Hub holds it
    availability: str | None
    types: tuple[str, ...]
    licences: tuple[str, ...]  # the ids its listing's `license:` tags declare


@dataclass(frozen=True)
class Base:
    id: str
    status: str
    page: str | None


@dataclass
class Facts:
    released: str | None = None  # the Hub's `createdAt` of the model
    concluded: list[LicenceText] = field(default_factory=list)
    datasets: list[Dataset] = field(default_factory=list)
    bases: list[Base] = field(default_factory=list)
    licence_link: str | None = None  # the public URL of the declared licence's text, from the card's `license_link`

    @classmethod
    def of_record(cls, record: dict) -> "Facts":
        """What the export record alone says (no store at hand): the datasets and bases by name."""
        return cls(datasets=[Dataset(d["id"], d["status"], None, None, (), ()) for d in record["datasets"]],
                   bases=[Base(b, "not crawled", None) for b in record["base_models"]],
                   licence_link=licence_link(record))


def facts(db: sqlite_utils.Database, record: dict) -> Facts:
    subject = next(db.query("select * from subjects where id = ?", [record["subject_id"]]))
    model = load_model(db, subject, depth=0)
    released = None
    if model.model_json:
        try:
            info = json.loads(model.model_json.text)
            released = info.get("createdAt") if isinstance(info, dict) else None
        except ValueError:
            pass
    return Facts(released=released if isinstance(released, str) and released else None,
                 concluded=weights_licence_texts(db, model), datasets=datasets(db, record["subject_id"]),
                 bases=[base(db, parent) for parent in record["base_models"]],
                 licence_link=licence_link(record))


def weights_licence_texts(db: sqlite_utils.Database, model) -> list[LicenceText]:
    """The distinct licence texts the judge reads for the weights (the card's gated prompt and licence section, the
    repo's and its own GitHub repos' licence and policy files) that say something: an open licence's text, or terms
    of their own. A text the rules do not recognise (a section that only points elsewhere) concludes nothing."""
    links, found, seen = PublicLinks(db), [], set()
    for doc in licence_texts(model):
        text = doc.text.strip()
        if doc.component != "weights" or text in seen or read_licence_text(doc).level is None:
            continue
        seen.add(text)
        artifact = doc.artifact
        part = f" from line {doc.first_line}" if doc.first_line > 1 else ""  # a card's gated prompt or section
        url = links.public(artifact.url, subject_url(f"hf:model:{model.repo_id}", model.revision),
                           artifact.artifact_id, doc.first_line if part else None)
        found.append(LicenceText(f"{artifact.path or artifact.kind}{part} of {artifact.repo_id}", url, text,
                                 text_licence_id(text)))
    return found


def datasets(db: sqlite_utils.Database, subject_id: str) -> list[Dataset]:
    """The datasets the model names: those its card's metadata links (crawled as far as the crawl went), then those
    the judge found named in its card's text (never crawled: a name, and its page when it is a Hub dataset)."""
    found = linked_datasets(db, subject_id)
    known = {d.id.lower() for d in found}
    row = db.execute("select searched from judgements where subject_id = ? and criterion = 'datasources_endmodel'",
                     [subject_id]).fetchone()
    try:
        searched = json.loads(row[0]) if row and row[0] else []
    except ValueError:
        searched = []
    for source in searched if isinstance(searched, list) else []:
        scope, _, name = str(source.get("source") or "").partition(":") if isinstance(source, dict) else ("", "", "")
        if scope in ("dataset", "linked-dataset") and name and name.lower() not in known:
            known.add(name.lower())
            page = source.get("url") if "://" not in name and _public_web(source.get("url")) else None
            found.append(Dataset(name, str(source.get("status") or "named"), page, None, (), ()))
    return found


def linked_datasets(db: sqlite_utils.Database, subject_id: str) -> list[Dataset]:
    found = []
    for row in db.query("""select l.to_subject, s.status, s.gated, s.revision,
                             (select content_sha256 from artifacts a where a.repo_type = 'dataset'
                              and a.repo_id = s.repo_id and a.kind = 'dataset_json' and a.revision is s.revision
                              order by fetched_at desc limit 1) as info
                           from links l left join subjects s on s.id = l.to_subject
                           where l.from_subject = ? and l.relation = 'dataset' order by 1""", [subject_id]):
        tags = _tags(db, row["info"])
        modalities = {t.removeprefix("modality:") for t in tags if t.startswith("modality:")}
        read = row["revision"] is not None
        found.append(Dataset(
            row["to_subject"].split(":", 2)[2], row["status"] or "not crawled",
            subject_url(row["to_subject"], row["revision"]) if read else None,
            AVAILABILITY.get(str(row["gated"]).lower()) if read else None,
            tuple(sorted(MODALITY_TYPES[m] for m in modalities if m in MODALITY_TYPES)),
            tuple(t.removeprefix("license:").strip() for t in tags
                  if t.startswith("license:") and t.removeprefix("license:").strip())))
    return found


def _tags(db: sqlite_utils.Database, sha256: str | None) -> list[str]:
    if not sha256:
        return []
    try:
        tags = json.loads(blob_text(db, sha256)).get("tags")
    except (ValueError, AttributeError):
        return []
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def base(db: sqlite_utils.Database, repo_id: str) -> Base:
    subject_id = f"hf:model:{repo_id}"
    row = next(db.query("select status, revision from subjects where id = ?", [subject_id]), None)
    if row is None:
        return Base(repo_id, "not crawled", None)
    return Base(repo_id, row["status"], subject_url(subject_id, row["revision"]) if row["revision"] else None)


def licence_link(record: dict) -> str | None:
    """The public URL of the card's `license_link`: a path in the repo at the crawled revision, or a public web page;
    None for anything else (another scheme, a path out of the repo, a loopback or private host)."""
    link = record["declared_licence"].get("license_link")
    if not isinstance(link, str) or not link.strip():
        return None
    link = link.strip()
    if "://" in link or ":" in link.split("/", 1)[0]:
        return link if _public_web(link) else None
    path = link.removeprefix("./")
    if not path or path.startswith("/") or ".." in path.split("/"):
        return None
    return artifact_url("huggingface", "model", record["model"], "file", path, record["revision"])


def _public_web(url) -> bool:
    """An http(s) URL of a public host: a card's link to a loopback or private address is no page to publish."""
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme.lower() not in ("http", "https") or not host or host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return True
    return address.is_global
