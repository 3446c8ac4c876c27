"""Tier 0: every model of the Hub's listing judged from its listing row alone (`openness crawl --discover --tier
listing`), stored compactly.

The spider (spiders/huggingface.py, tier `listing`) yields one ListingPageItem per listing page; the store's writer
keeps each row reduced to the fields the judge reads, zlib-compressed, in `listed_models` / `listed_datasets`
(`save_listing_page`: one executemany in one transaction per page). Once the walk is over, `judge_listed` reads the
stored rows in keyset pages (memory flat, as crawler/export/records.py reads), joins each model's bases and datasets
from the same tables, and stores each tier-0 judgement as 14 letters plus flags in `tier0`.

Evidence of a tier-0 judgement is not stored: it is re-derived on read (`listing_judgement`) by calling
extractors.listing.judge_listing on the stored row, which is deterministic (same row, same joins, same judgement).
A deep judgement (the `judgements` table) replaces a tier-0 one wherever judgements are read.
"""

from __future__ import annotations

import hashlib
import json
import math
import zlib
from collections.abc import Iterable, Iterator

import sqlite_utils

from crawler.store import blob_text, utcnow
from extractors import CRITERIA
from extractors.lineage import Relicensing, declared_ids, relicensed
from extractors.listing import ListingJudgement, declared_licence, judge_listing, listing_rules

# The listing fields asked (`expand`) in tier `listing`: those the tier-0 judge reads, and the sort keys. The Hub
# answers a page of 1000 rows with them in one API call.
MODEL_EXPAND = ("sha", "lastModified", "gated", "disabled", "private", "tags", "cardData", "library_name",
                "pipeline_tag", "siblings", "baseModels", "safetensors", "config", "inference",
                "inferenceProviderMapping", "downloads", "likes")
DATASET_EXPAND = ("sha", "lastModified", "gated", "disabled", "private", "tags", "cardData", "downloads", "likes")
# What of a row is kept (the rest of a listing row, e.g. the replica's `_replica` notes, is dropped). Kept in the
# compressed row too, so judge_listing reads the row it was given at the walk.
MODEL_FIELDS = ("id", *MODEL_EXPAND)
DATASET_FIELDS = ("id", *DATASET_EXPAND)
# The cardData keys the judge reads. A card's front matter may hold a whole model-index or a gating prompt (3.4 KB
# a model on average in the synthetic listing, measured) that no listing judgement reads: gating is the row's `gated`,
# the card's tags and languages are in the row's `tags`. The rest is dropped before compression: kept, a tier-0
# model cost 3.4 KB of store; without it, see tests/test_tier0.py (the 2 KB per model target).
CARD_KEYS = ("license", "license_name", "license_link", "base_model", "base_model_relation", "datasets",
             "library_name", "pipeline_tag", "inference")
CONFIG_KEYS = ("architectures", "model_type")
# The judge reads which `extra_gated_*` keys a card has (does the gate ask anything?) and the gated prompt's words
# (its terms): the prompt is kept (to PROMPT_CHARS), the other keys as a mark of presence.
GATE_PREFIX, PROMPT_KEY, PROMPT_CHARS = "extra_gated", "extra_gated_prompt", 20_000
# What the replica says of a row it derived (a mirror's file list is not exhaustive, a gating it made up): read by
# the judge, kept; the rest of the replica's note is not.
REPLICA_KEYS = ("derived_fields", "not_exhaustive", "not_captured")
# Bounds on what a hostile row can make us store and unpack: tags (a real row has tens), files (the judge reads to
# its own `max_list_items` and says a longer list is cut), any other card value (an id, a short string).
MAX_TAGS, MAX_VALUE_CHARS = 1000, 1000
INT64 = 2 ** 63 - 1

LEVEL_LETTERS = {"open": "o", "partial": "p", "closed": "c", "unknown": "u"}
LETTER_LEVELS = {v: k for k, v in LEVEL_LETTERS.items()}
JUDGE_PAGE = 200  # listed models judged (and their tier-0 rows written) per transaction: a bounded memory


def reduce_row(row: dict, repo_type: str = "model") -> dict:
    """The fields of a listing row the judge reads, in a stable shape (sorted keys once serialised)."""
    fields = MODEL_FIELDS if repo_type == "model" else DATASET_FIELDS
    reduced = {k: row[k] for k in fields if row.get(k) is not None}
    if isinstance(reduced.get("cardData"), dict):
        reduced["cardData"] = _card(reduced["cardData"])
    if isinstance(row.get("_replica"), dict):
        reduced["_replica"] = {k: row["_replica"][k] for k in REPLICA_KEYS if isinstance(row["_replica"].get(k), list)}
    if isinstance(reduced.get("tags"), list):
        reduced["tags"] = reduced["tags"][:MAX_TAGS]
    if isinstance(reduced.get("config"), dict):
        reduced["config"] = {k: v for k, v in reduced["config"].items() if k in CONFIG_KEYS}
    if isinstance(reduced.get("siblings"), list):
        # File names only (sizes, blob ids: bytes no judgement reads).
        # One more than the judge reads, so it still sees the list was cut.
        reduced["siblings"] = [{"rfilename": s["rfilename"][:MAX_VALUE_CHARS]}
                               for s in reduced["siblings"][:listing_rules().max_list_items + 1]
                               if isinstance(s, dict) and isinstance(s.get("rfilename"), str)]
    if isinstance(reduced.get("safetensors"), dict):
        reduced["safetensors"] = {k: v for k, v in reduced["safetensors"].items() if k in ("total", "parameters")}
    return reduced


def _card(card: dict) -> dict:
    kept = {}
    for key, value in card.items():
        if key == PROMPT_KEY:
            kept[key] = value[:PROMPT_CHARS] if isinstance(value, str) else value
        elif isinstance(key, str) and key.startswith(GATE_PREFIX):
            kept[key] = True
        elif key in CARD_KEYS:
            kept[key] = _bounded(value)
    return kept


def _bounded(value):
    """A card value cut to what an id or a short list of ids needs."""
    if isinstance(value, str):
        return value[:MAX_VALUE_CHARS]
    if isinstance(value, list):
        return [_bounded(v) for v in value[:MAX_TAGS] if isinstance(v, (str, int, float, bool)) or v is None]
    return value if isinstance(value, (int, float, bool)) or value is None else str(value)[:MAX_VALUE_CHARS]


def pack(row: dict) -> bytes:
    # Level 6 (zlib's default): 9 gained 1% on listing rows and cost a third more time (measured on 2k synthetic).
    return zlib.compress(json.dumps(row, sort_keys=True, separators=(",", ":")).encode())


def unpack(data: bytes) -> dict:
    return json.loads(zlib.decompress(data))


def _int(value) -> int | None:
    """A count SQLite can hold: an int64, never NaN or infinite (a row claiming 1e20 likes must not lose its page)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        return None
    return max(-INT64, min(INT64, int(value)))


def _prompt_to_blob(reduced: dict, prompts: dict[str, bytes]) -> None:
    """A gated prompt is a licence's text, the same in thousands of derivatives (a Llama licence is 10 KB): stored
    once in `blobs` (compressed, by the sha256 of its bytes, as every text is), the row naming it."""
    card = reduced.get("cardData")
    prompt = card.get(PROMPT_KEY) if isinstance(card, dict) else None
    if isinstance(prompt, str) and prompt:
        body = prompt.encode("utf-8")
        sha = hashlib.sha256(body).hexdigest()
        prompts[sha] = body
        card[PROMPT_KEY] = {"blob": sha}


def hydrate(db: sqlite_utils.Database, row: dict) -> dict:
    """A stored row as the judge reads it: its gated prompt's text back from `blobs`."""
    card = row.get("cardData")
    prompt = card.get(PROMPT_KEY) if isinstance(card, dict) else None
    if isinstance(prompt, dict) and isinstance(prompt.get("blob"), str):
        try:
            card[PROMPT_KEY] = blob_text(db, prompt["blob"])
        except sqlite_utils.db.NotFoundError:
            card.pop(PROMPT_KEY)
    return row


def unpack_row(db: sqlite_utils.Database, packed: bytes) -> dict:
    return hydrate(db, unpack(packed))


def listing_rows(rows: Iterable[dict], repo_type: str, run_id: int, prompts: dict[str, bytes] | None = None
                 ) -> list[tuple]:
    """The stored tuples of a page: (id, sha, last_modified, downloads, likes, gated, row, run_id); the gated
    prompts they name go to `prompts` (sha256 -> bytes)."""
    out = []
    for row in rows:
        reduced = reduce_row(row, repo_type)
        if prompts is not None:
            _prompt_to_blob(reduced, prompts)
        gated = row.get("gated")
        out.append((row["id"], row.get("sha"), row.get("lastModified"), _int(row.get("downloads")),
                    _int(row.get("likes")), None if gated is None else str(gated), pack(reduced), run_id))
    return out


def save_listing_page(db: sqlite_utils.Database, repo_type: str, rows: list[dict], run_id: int) -> None:
    """A listing page's rows, written with one executemany in one transaction (a row listed again replaces its
    older self)."""
    table = "listed_models" if repo_type == "model" else "listed_datasets"
    prompts: dict[str, bytes] = {}
    stored = listing_rows(rows, repo_type, run_id, prompts)
    with db.conn:
        db.conn.executemany("insert or ignore into blobs (sha256, size, content, encoding) values (?, ?, ?, 'zlib')",
                            [(sha, len(body), zlib.compress(body, 6)) for sha, body in prompts.items()])
        db.conn.executemany(f"insert or replace into {table} (id, sha, last_modified, downloads, likes, gated, row, "
                            f"run_id) values (?, ?, ?, ?, ?, ?, ?, ?)", stored)


# -- joins ---------------------------------------------------------------------------------------------------------
def _strings(value) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [v.strip() for v in values if isinstance(v, str) and v.strip()]


def named_bases(row: dict) -> list[str]:
    """The base models a listing row names: baseModels, cardData.base_model, `base_model:` tags. A field of another
    shape names nothing (a hostile row must not stop the judging of every other)."""
    names = []
    base_models = row.get("baseModels")
    models = base_models.get("models") if isinstance(base_models, dict) else base_models
    for model in models if isinstance(models, list) else []:
        names.append(model.get("id") if isinstance(model, dict) else model)
    card = row.get("cardData") if isinstance(row.get("cardData"), dict) else {}
    names += _strings(card.get("base_model"))
    for tag in _strings(row.get("tags")):
        if tag.startswith("base_model:"):
            names.append(tag.rsplit(":", 1)[1] if tag.count(":") == 2 else tag.split(":", 1)[1])
    return list(dict.fromkeys(n for n in names if isinstance(n, str) and n))


def named_datasets(row: dict) -> list[str]:
    card = row.get("cardData") if isinstance(row.get("cardData"), dict) else {}
    names = _strings(card.get("datasets")) + [t[8:] for t in _strings(row.get("tags")) if t.startswith("dataset:")]
    return list(dict.fromkeys(n for n in names if n))


def _rows_by_id(db: sqlite_utils.Database, table: str, ids: set[str]) -> dict[str, dict]:
    """The stored rows of these ids in any case (the Hub's ids are case-insensitive; a card may write
    `meta-llama/llama-2-7b`), keyed by the id in lower case (extractors.listing looks a name up as written, then in
    lower case). Of ids differing only in case, the first in order."""
    found: dict[str, dict] = {}
    ids_list = sorted({i.lower() for i in ids})
    for start in range(0, len(ids_list), 500):  # SQLite's bound on variables per statement
        chunk = ids_list[start:start + 500]
        for model_id, packed in db.execute(f"select id, row from {table} where lower(id) in "
                                           f"({', '.join('?' for _ in chunk)}) order by id", chunk):
            found.setdefault(model_id.lower(), unpack_row(db, packed))
    return found


def joins(db: sqlite_utils.Database, rows: list[dict]) -> tuple[dict[str, dict], dict[str, dict]]:
    """The stored listing rows of the bases, down the chain as far as the judge follows it, and of the datasets
    the rows name."""
    bases: dict[str, dict] = {}
    wanted = {b.lower() for r in rows for b in named_bases(r)}
    for _ in range(listing_rules().max_base_depth):
        wanted -= set(bases)
        if not wanted:
            break
        found = _rows_by_id(db, "listed_models", wanted)
        bases.update(found)
        wanted = {b.lower() for r in found.values() for b in named_bases(r)}
    datasets = _rows_by_id(db, "listed_datasets", {d for r in rows for d in named_datasets(r)})
    return bases, datasets


# -- judging -------------------------------------------------------------------------------------------------------
def relicensing(row: dict, result: ListingJudgement, bases: dict[str, dict]) -> Relicensing | None:
    """The licence lineage of a listed model (extractors.lineage): its declared licences against the licences its
    bases' own listing rows declare, nearest first (a base not listed: its licence unknown, never flagged). A model
    declaring several licences is relicensed only when every one is disallowed, as the deep judge reads it."""
    chain = [(base, declared_licence(bases.get(base) or bases.get(base.lower()))) for base in result.base_chain]
    card = row.get("cardData") if isinstance(row.get("cardData"), dict) else {}
    ids = declared_ids({k: card.get(k) for k in ("license", "license_name")}) or \
        ([result.licence] if result.licence else [])
    found = [relicensed(licence, chain) for licence in ids]
    return found[0] if found and all(found) else None


def levels_string(result: ListingJudgement) -> str:
    """The 14 levels in CRITERIA order, a letter each (o, p, c, u)."""
    by_criterion = {j.criterion: j.level for j in result.judgements}
    return "".join(LEVEL_LETTERS[by_criterion.get(c, "unknown")] for c in CRITERIA)


def keyset(db: sqlite_utils.Database, table: str, where: str = "1", args: list = (), page: int = JUDGE_PAGE
           ) -> Iterator[list[tuple]]:
    last = ""
    while True:
        rows = db.execute(f"select id, sha, row from {table} where {where} and id > ? order by id limit {page}",
                          [*args, last]).fetchall()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def judge_listed(db: sqlite_utils.Database, run_id: int | None = None, on_progress=None) -> int:
    """Judge the listed models (those this run listed, or all) at tier 0 in a streaming pass, writing each page of
    results in one transaction. Returns how many were judged."""
    where, args = ("run_id = ?", [run_id]) if run_id is not None else ("1", [])
    judged = 0
    for page in keyset(db, "listed_models", where, args):
        rows = [unpack_row(db, packed) for _, _, packed in page]
        bases, datasets = joins(db, rows)
        now = utcnow()
        out = []
        for (model_id, sha, _), row in zip(page, rows):
            result = judge_listing(row, bases, datasets)
            flags = ["relicensed"] if relicensing(row, result, bases) else []
            out.append((model_id, sha, levels_string(result), ",".join(flags) or None, result.licence,
                        "\n".join(result.base_chain) or None, now))
        with db.conn:
            db.conn.executemany("insert or replace into tier0 (id, sha, levels, flags, licence, base_chain, "
                                "judged_at) values (?, ?, ?, ?, ?, ?, ?)", out)
        judged += len(out)
        if on_progress:
            on_progress(len(out))
    return judged


# -- reading -------------------------------------------------------------------------------------------------------
def listing_judgement(db: sqlite_utils.Database, model_id: str) -> tuple[dict, ListingJudgement] | None:
    """A listed model's stored row and its tier-0 judgement, evidence included: re-derived here by judge_listing
    on the stored row and the stored rows of its bases and datasets (deterministic: it is the judgement stored in
    `tier0`, whose levels string it matches unless the judge changed since). None when the model is not listed."""
    # By its id as stored (an export's, fast), else in any case (a person's): a key lookup, then the lower-case index.
    found = db.execute("select id, row from listed_models where id = ?", [model_id]).fetchone() or db.execute(
        "select id, row from listed_models where lower(id) = lower(?) order by id limit 1", [model_id]).fetchone()
    if found is None:
        return None
    row = unpack_row(db, found[1])
    bases, datasets = joins(db, [row])
    return row, judge_listing(row, bases, datasets)


def has_deep_judgement(db: sqlite_utils.Database, model_id: str) -> bool:
    return db.execute("select 1 from judgements where subject_id = ? limit 1",
                      [f"hf:model:{model_id}"]).fetchone() is not None


def tier0_only_ids(db: sqlite_utils.Database, model_ids: list[str] | None = None) -> Iterator[str]:
    """The listed models with a tier-0 judgement and not crawled deep (a deep crawl replaces it), by id, keyset
    pages."""
    wanted = {m.lower() for m in model_ids} if model_ids else None
    last = ""
    while True:
        # A model crawled deep is exported from its subject (crawler/export/records.py), judged or not.
        page = db.execute("select t.id from tier0 t where t.id > ? and not exists (select 1 from subjects s "
                          "where s.id = 'hf:model:' || t.id and s.revision is not null) order by t.id limit 1000",
                          [last]).fetchall()
        if not page:
            return
        for (model_id,) in page:
            if wanted is None or model_id.lower() in wanted:
                yield model_id
        last = page[-1][0]


def judgement_dicts(result: ListingJudgement, fetched_url: str = "") -> list[dict]:
    """The tier-0 judgements in the shape `show --json` and the exports give deep ones, each saying its tier."""
    order = {c: i for i, c in enumerate(CRITERIA)}
    out = []
    for j in sorted(result.judgements, key=lambda j: order.get(j.criterion, 99)):
        out.append({"criterion": j.criterion, "level": j.level, "machine_level": j.level, "tier": "listing",
                    "confidence": j.confidence, "confident": False, "summary": j.summary, "basis": j.basis,
                    "rule_ids": list(j.rule_ids), "extractor_version": None,
                    "searched": [{"source": s.name, "status": s.status, "url": s.url, "detail": s.detail,
                                  "fetched_url": fetched_url} for s in j.searched],
                    # The evidence cites the model's public page (the field it came from); it was read from the
                    # endpoint's listing (`fetched_url`, the crawl's Hub endpoint).
                    "evidence": [{"rule_id": e.rule_id, "public_url": e.url, "fetched_url": fetched_url,
                                  "revision": e.revision, "file": e.file, "line_start": e.line_start,
                                  "line_end": e.line_end, "snippet": e.snippet, "confidence": e.confidence}
                                 for e in j.evidence],
                    "review": None})
    return out


def tier0_report(db: sqlite_utils.Database, model_id: str) -> dict | None:
    """`openness show` of a model known from the listing only (crawler/report.py's shape), tier `listing`; its
    evidence re-derived from the stored row (listing_judgement). None when it is not listed."""
    record = tier0_record(db, model_id)
    if record is None:
        return None
    return {"model": record["model"], "subject_id": record["subject_id"], "tier": "listing",
            "frameworks": record["frameworks"], "public_url": record["public_url"], "fetched_url": None,
            "revision": record["revision"], "status": "listed (tier 0: judged from the Hub listing only)",
            "gating": record["gating"], "capture": None, "judgements": record["judgements"], "errors": [],
            "listing_flags": record["listing_flags"]}


def tier0_record(db: sqlite_utils.Database, model_id: str) -> dict | None:
    """A model known from the listing only, as an export record (crawler/export/records.py's shape), tier
    `listing`."""
    from crawler.public import subject_url
    from crawler.table import gating_label
    from extractors.frameworks import verdicts

    found = listing_judgement(db, model_id)
    if found is None:
        return None
    row, result = found
    stored = db.execute("select t.flags, l.gated, r.hf_endpoint from tier0 t join listed_models l on l.id = t.id "
                        "left join crawl_runs r on r.id = l.run_id where t.id = ?", [row["id"]]).fetchone()
    fetched_url = f"{(stored[2] or '').rstrip('/')}/api/models" if stored else ""
    judgements = judgement_dicts(result, fetched_url)
    subject = f"hf:model:{row['id']}"
    listed_bases, listed_datasets = joins(db, [row])
    lineage = relicensing(row, result, listed_bases)
    return {"record": "model", "model": row["id"], "subject_id": subject, "tier": "listing",
            "revision": row.get("sha"), "status": "listed", "public_url": subject_url(subject, row.get("sha")),
            "fetched_url": fetched_url, "declared_licence": {"license": result.licence} if result.licence else {},
            "licence_class": None, "base_models": list(result.base_chain),
            "datasets": [{"id": d, "status": "listed" if d in listed_datasets else "not listed"}
                         for d in result.datasets],
            "gated": stored[1] if stored else None, "gating": gating_label(stored[1] if stored else None),
            # Tier-0 flags (`relicensed`: the licence lineage, re-derived from the stored rows as the judgements are)
            # are listed apart from the deep flags, which an analyst reviews: both licences, the chain, the clause.
            "judgements": judgements, "flags": [],
            "listing_flags": [{"kind": "relicensed", **lineage.evidence}] if lineage else [],
            "reviews": [], "frameworks": verdicts({j["criterion"]: j["level"] for j in judgements})}
