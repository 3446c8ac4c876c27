"""The SQLite evidence store: schema by named migrations, idempotent writes, and the reads the CLI needs.

Every table and column is documented in docs/schema.md (a test keeps the two in step).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import socket
import sqlite3
import zlib
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import sqlite_utils
from sqlite_utils.migrations import Migrations

from crawler.public import artifact_url

migrations = Migrations("openness")


def retire_flag(db: sqlite_utils.Database, row: dict) -> None:
    """A flag no longer raised as it stands: deleted when nobody reviewed it, marked `superseded` when somebody did (a
    verdict is never lost). Plain SQL: sqlite-utils' update and delete ask the schema for the table's keys on every
    call."""
    reviewed = row["status"] != "open" or db.execute("select count(*) from reviews where flag_id = ?",
                                                     [row["id"]]).fetchone()[0]
    if reviewed:
        db.execute("update flags set status = 'superseded' where id = ?", [row["id"]])
    else:
        db.execute("delete from flags where id = ?", [row["id"]])


def utcnow() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db["crawl_runs"].create(
        {"id": int, "started_at": str, "finished_at": str, "status": str, "command": str, "hf_endpoint": str,
         "github_endpoint": str, "requested": str, "counts": str},
        pk="id",
    )
    db["blobs"].create({"sha256": str, "size": int, "content": bytes}, pk="sha256")
    db["artifacts"].create(
        {"id": str, "source": str, "repo_type": str, "repo_id": str, "kind": str, "path": str, "url": str,
         "revision": str, "http_status": int, "etag": str, "content_type": str, "content_sha256": str,
         "first_fetched_at": str, "fetched_at": str, "run_id": int},
        pk="id",
        foreign_keys=[("content_sha256", "blobs", "sha256"), ("run_id", "crawl_runs", "id")],
    )
    db["artifacts"].create_index(["repo_type", "repo_id", "kind"])
    db["subjects"].create(
        {"id": str, "kind": str, "source": str, "repo_id": str, "url": str, "revision": str, "status": str,
         "gated": str, "note": str, "last_crawled_at": str, "run_id": int},
        pk="id",
        foreign_keys=[("run_id", "crawl_runs", "id")],
    )
    db["links"].create(
        {"from_subject": str, "to_subject": str, "relation": str, "artifact_id": str},
        pk=("from_subject", "to_subject", "relation"),
        foreign_keys=[("from_subject", "subjects", "id"), ("artifact_id", "artifacts", "id")],
    )
    db["judgements"].create(
        {"subject_id": str, "criterion": str, "level": str, "confidence": float, "rule_ids": str,
         "summary": str, "extractor_version": str, "assessed_at": str},
        pk=("subject_id", "criterion"),
        foreign_keys=[("subject_id", "subjects", "id")],
    )
    db["evidence"].create(
        {"id": int, "subject_id": str, "criterion": str, "ordinal": int, "artifact_id": str, "url": str,
         "revision": str, "file": str, "line_start": int, "line_end": int, "snippet": str, "rule_id": str,
         "confidence": float},
        pk="id",
        foreign_keys=[("subject_id", "subjects", "id"), ("artifact_id", "artifacts", "id")],
    )
    db["evidence"].create_index(["subject_id", "criterion"])
    db["flags"].create(
        {"id": int, "subject_id": str, "severity": str, "claim": str, "claim_location": str,
         "failing_criteria": str, "created_at": str, "status": str},
        pk="id",
        foreign_keys=[("subject_id", "subjects", "id")],
    )
    db["errors"].create(
        {"id": int, "run_id": int, "source": str, "subject_id": str, "url": str, "kind": str, "http_status": int,
         "reason": str, "at": str},
        pk="id",
        foreign_keys=[("run_id", "crawl_runs", "id")],
    )
    db["reviews"].create(
        {"id": int, "subject_id": str, "criterion": str, "flag_id": int, "verdict": str, "level_override": str,
         "note": str, "reviewer": str, "created_at": str},
        pk="id",
        foreign_keys=[("subject_id", "subjects", "id"), ("flag_id", "flags", "id")],
    )


@migrations()
def m002_incremental_watermark(db: sqlite_utils.Database) -> None:
    # The revision of a subject whose every fetch was answered: a later crawl that finds the same sha skips it.
    db["subjects"].add_column("complete_revision", str)


@migrations()
def m003_judgement_sources(db: sqlite_utils.Database) -> None:
    # What each judgement searched (JSON list of {source, status, url, detail}) and whether its level rests on
    # evidence found or on an absence (which stands only where the deciding sources were read).
    db["judgements"].add_column("basis", str)
    db["judgements"].add_column("searched", str)


@migrations()
def m004_flag_kinds(db: sqlite_utils.Database) -> None:
    # A flag's claim has a kind, which promises some criteria: stored with their levels and the rules behind them.
    db["flags"].add_column("kind", str)
    db["flags"].add_column("promised", str)
    db["flags"].add_column("rule_ids", str)


@migrations()
def m005_nightly_operations(db: sqlite_utils.Database) -> None:
    # Runs say who ran them and how they ended (exit code for schedulers) and, for --incremental, the listing's
    # newest lastModified they saw: the next incremental run walks the listing down to it.
    for column in ("pid", "exit_code"):
        db["crawl_runs"].add_column(column, int)
    for column in ("host", "watermark", "note"):
        db["crawl_runs"].add_column(column, str)
    # A model whose artifacts were written since it was last assessed: a run killed before or during assessment
    # leaves it pending, and the next run assesses it.
    db["subjects"].add_column("assess_pending", int)
    db["history"].create(
        {"id": int, "run_id": int, "subject_id": str, "aspect": str, "value": str, "summary": str, "evidence": str,
         "extractor_version": str, "recorded_at": str},
        pk="id", foreign_keys=[("subject_id", "subjects", "id"), ("run_id", "crawl_runs", "id")],
    )
    db["history"].create_index(["subject_id", "aspect", "id"])
    db["artifacts"].create_index(["url", "revision"])


@migrations()
def m006_public_urls_and_reviews(db: sqlite_utils.Database) -> None:
    # Beside the URL fetched (a replica, a mirror), the canonical public one, which still works tomorrow.
    from crawler.public import artifact_url

    db["artifacts"].add_column("public_url", str)
    db["evidence"].add_column("public_url", str)
    for row in list(db.query("select id, source, repo_type, repo_id, kind, path, revision from artifacts")):
        db["artifacts"].update(row["id"], {"public_url": artifact_url(
            row["source"], row["repo_type"], row["repo_id"], row["kind"], row["path"], row["revision"])})
    # A review records what the analyst saw (a judgement's level, a flag's claim), so a later crawl that changes it
    # puts it back in the review queue with both values; a review without a note is refused by the DB itself.
    db["reviews"].add_column("level_seen", str)
    db["reviews"].add_column("claim_seen", str)
    db.execute("""create trigger reviews_need_a_note before insert on reviews
                  when new.note is null or trim(new.note) = ''
                  begin select raise(abort, 'a review needs a note saying why'); end""")
    db.execute("""create trigger reviews_need_a_verdict before insert on reviews
                  when new.verdict is null or new.verdict not in ('confirmed', 'dismissed', 'override')
                     or (new.verdict = 'override' and (new.criterion is null or
                         new.level_override not in ('open', 'partial', 'closed')))
                     or (new.verdict != 'override' and new.flag_id is null)
                  begin select raise(abort, 'a review confirms or dismisses a flag, or overrides a judgement with
                  open, partial or closed'); end""")
    # A verdict on a flag is its status from then on (a crawl keeps it: flags are updated in place).
    db.execute("""create trigger reviews_set_flag_status after insert on reviews when new.flag_id is not null
                  begin update flags set status = new.verdict where id = new.flag_id; end""")
    # What an analyst's override makes of each judgement: the latest override wins over the machine's level.
    db.execute("""create view effective_judgements as
                  select j.subject_id, j.criterion, j.level as machine_level,
                         coalesce(r.level_override, j.level) as level, r.reviewer, r.note as review_note,
                         r.created_at as reviewed_at, j.summary, j.assessed_at
                  from judgements j left join reviews r on r.id = (
                      select max(id) from reviews where subject_id = j.subject_id and criterion = j.criterion
                      and verdict = 'override')""")
    # Each model's declared licence and its class, as last recorded: what the review facets on.
    db.execute("""create view model_licences as
                  select h.subject_id, h.value as licence_class,
                         (select value from history where subject_id = h.subject_id and aspect = 'licence'
                          order by id desc limit 1) as declared
                  from history h where h.aspect = 'licence_class' and h.id = (
                      select max(id) from history where subject_id = h.subject_id and aspect = 'licence_class')""")
    # What waits for an analyst: flags nobody reviewed yet, and reviewed judgements a later crawl changed.
    db.execute("""create view review_queue as
                  select 'flag' as item, f.subject_id, null as criterion, f.severity, f.claim as what,
                         null as level_seen, null as level_now, f.id as flag_id, f.created_at as since
                  from flags f where f.status = 'open'
                  union all
                  select 'changed judgement', r.subject_id, r.criterion, null, r.note, r.level_seen, j.level, null,
                         j.assessed_at
                  from reviews r join judgements j on j.subject_id = r.subject_id and j.criterion = r.criterion
                  where r.verdict = 'override' and r.id = (select max(id) from reviews where
                        subject_id = r.subject_id and criterion = r.criterion) and j.level != r.level_seen""")


@migrations()
def m007_assessed_inputs(db: sqlite_utils.Database) -> None:
    # The fingerprint of what a model's judgements were computed from (its artifacts, failures, links and the
    # judge's own fingerprint): an unchanged model is not judged again.
    db["subjects"].add_column("assessed_inputs", str)


@migrations()
def m008_artifact_lookup_by_repo(db: sqlite_utils.Database) -> None:
    # What the store knows of each repo at the start of a crawl (its JSON's ETag at the revision last crawled)
    # looks artifacts up by repo id, kind and revision, whatever the repo type: without this index that lookup read
    # the whole table once per repo (65 s for 10k models).
    db["artifacts"].create_index(["repo_id", "kind", "revision"])


@migrations()
def m009_subject_lookup_in_any_case(db: sqlite_utils.Database) -> None:
    # A crawl asks the store what it knows of each repo it meets by the repo's id in lower case (ids are matched in
    # any case, as the Hub matches them): without this index each question read the whole subjects table.
    db.execute("create index if not exists idx_subjects_lower_id on subjects (lower(id))")


@migrations()
def m010_fetch_rules(db: sqlite_utils.Database) -> None:
    # What the spider fetched of a repo when it was marked complete (its file rules): a spider that fetches more
    # than it did then asks an unchanged repo again, once, instead of never getting the new files.
    db["subjects"].add_column("complete_fetch_rules", str)


@migrations()
def m011_errors_by_subject(db: sqlite_utils.Database) -> None:
    # Loading a model to assess it reads its failed fetches and those of its own code repos: without this index each
    # read scanned the whole errors table (an unchanged model cost 2.7 ms at 10k models, growing with the store).
    db.execute("create index if not exists idx_errors_subject_id on errors (subject_id, id)")


# The columns where an endpoint given with `user:password@` (refused since crawler.endpoints.check_endpoint) may
# have been written by an older version: the run's endpoints and command line, and every URL built on them.
URL_COLUMNS = {"crawl_runs": ("command", "hf_endpoint", "github_endpoint"), "artifacts": ("url", "public_url"),
               "subjects": ("url",), "evidence": ("url", "public_url"), "flags": ("claim_location",),
               "errors": ("url", "reason")}
USERINFO = re.compile(r"(?<=://)[^/?#\s@]*@")


@migrations()
def m013_no_endpoint_passwords(db: sqlite_utils.Database) -> None:
    # A password in a stored URL is shown by `openness errors`, the review and exports: drop the user:password@
    # part wherever a URL column holds one (a URL of a card's text is quoted in snippets, never in these columns).
    db.conn.create_function("without_userinfo", 1, lambda v: USERINFO.sub("", v) if isinstance(v, str) else v,
                            deterministic=True)
    for table, columns in URL_COLUMNS.items():
        present = set(db[table].columns_dict) if db[table].exists() else set()
        for column in (c for c in columns if c in present):
            db.execute(f"update [{table}] set [{column}] = without_userinfo([{column}]) "
                       f"where [{column}] like '%://%@%'")


# A judgement at or above this confidence (its rule's measured agreement with the experts) is shown as confident.
# The one place it is set: evaluate, show, the table, exports and the review read it from here.
CONFIDENT = 0.9


def is_confident(level: str, confidence: float | None) -> bool:
    """A decided judgement whose measured confidence reaches CONFIDENT."""
    return level != "unknown" and confidence is not None and confidence >= CONFIDENT


# How many of the most downloaded models of a store have their unsure judgements queued, beside the flagged ones.
QUEUE_TOP_MODELS = 100


@migrations()
def m012_unsure_judgements_queued(db: sqlite_utils.Database) -> None:
    # The queue also holds the judgements the machine is least sure of (below CONFIDENT), of flagged models and of
    # the most downloaded ones: confidence is measured (data/rules/calibration.yaml), so review can start where the
    # machine is most often wrong. Downloads come from the model's latest Hub JSON. The view keeps CONFIDENT as it
    # is now: a new threshold takes a new migration. Stored confidences were hand-set before: every model is judged
    # again at the next assess or crawl (assess_pending), so none shows as confident on an old number.
    db.execute("update subjects set assess_pending = 1 where kind = 'model' and revision is not null")
    db.execute("""create view if not exists model_downloads as
                  select s.id as subject_id, max(json_extract(cast(b.content as text), '$.downloads')) as downloads
                  from subjects s join artifacts a on a.repo_type = 'model' and a.repo_id = s.repo_id
                       and a.kind = 'model_json' and a.revision is s.revision
                  join blobs b on b.sha256 = a.content_sha256
                  where s.kind = 'model' and json_valid(cast(b.content as text))
                  group by s.id""")
    db.execute("drop view if exists review_queue")
    db.execute(f"""create view review_queue as
                  select 'flag' as item, f.subject_id, null as criterion, f.severity, f.claim as what,
                         null as level_seen, null as level_now, null as confidence, f.id as flag_id,
                         f.created_at as since
                  from flags f where f.status = 'open'
                  union all
                  select 'changed judgement', r.subject_id, r.criterion, null, r.note, r.level_seen, j.level,
                         j.confidence, null, j.assessed_at
                  from reviews r join judgements j on j.subject_id = r.subject_id and j.criterion = r.criterion
                  where r.verdict = 'override' and r.id = (select max(id) from reviews where
                        subject_id = r.subject_id and criterion = r.criterion) and j.level != r.level_seen
                  union all
                  select 'unsure judgement', j.subject_id, j.criterion, null, j.summary, null, j.level, j.confidence,
                         null, j.assessed_at
                  from judgements j
                  where j.level != 'unknown' and j.confidence < {CONFIDENT}
                    and not exists (select 1 from reviews r where r.subject_id = j.subject_id
                                    and r.criterion = j.criterion)
                    and (j.subject_id in (select subject_id from flags where status = 'open')
                         or j.subject_id in (select subject_id from model_downloads where downloads is not null
                                             order by downloads desc
                                             limit {QUEUE_TOP_MODELS}))""")


@migrations()
def m014_model_capture(db: sqlite_utils.Database) -> None:
    # Whether a model's judgements say anything: a model none of whose 14 criteria is decided is not ranked as a
    # score-0 model beside one closed on every criterion. `not captured` when a source it needed (its JSON, card or
    # file list) is one the crawl's endpoint holds no copy of (a replica, a mirror); `undecided` when its sources
    # were read, failed or gated and still decide nothing; `not judged` before its first judgement.
    db.execute("""create view if not exists model_capture as
                  select s.id as subject_id,
                    case when exists (select 1 from judgements j where j.subject_id = s.id and j.level != 'unknown')
                           then 'judged'
                         when s.status = 'not captured' or exists (
                           select 1 from judgements j, json_each(coalesce(j.searched, '[]')) e
                           where j.subject_id = s.id and json_valid(j.searched)
                             and json_extract(e.value, '$.status') = 'not captured')
                           then 'not captured'
                         when exists (select 1 from judgements j where j.subject_id = s.id) then 'undecided'
                         else 'not judged' end as capture
                  from subjects s where s.kind = 'model'""")


@migrations()
def m015_public_links(db: sqlite_utils.Database) -> None:
    # Every link a person or a tool reads is public (huggingface.co, github.com at the revision); the URL fetched (a
    # replica's, dead once it stops) is kept beside it, named as such. A flag's claim location becomes public, its
    # fetched URL kept in `claim_fetched_url`; each searched source gets its public `url` and its `fetched_url`; a
    # history row's evidence names its URL `fetched_url`. Public URLs come from the artifacts fetched from those URLs
    # (crawler.public.PublicLinks), else from what the link was for (the model's page, the source's).
    from crawler.public import PublicLinks, subject_url

    # A GitHub README's public URL is its file (was the repo page's `#readme`), so the lines a claim quotes link.
    for row in list(db.query("select id, repo_id, path, revision from artifacts where source = 'github' and "
                             "kind = 'readme' and path is not null")):
        public = artifact_url("github", "github", row["repo_id"], "readme", row["path"], row["revision"])
        db.execute("update artifacts set public_url = ? where id = ?", [public, row["id"]])
    db["flags"].add_column("claim_fetched_url", str)
    revisions = {r["id"]: r["revision"] for r in db.query("select id, revision from subjects where kind = 'model'")}
    links = PublicLinks(db)
    for row in list(db.query("select id, subject_id, claim_location from flags")):
        page = subject_url(row["subject_id"], revisions.get(row["subject_id"]))
        db.execute("update flags set claim_fetched_url = ?, claim_location = ? where id = ?",
                   [row["claim_location"], links.public(row["claim_location"], page), row["id"]])
    for row in list(db.query("select subject_id, criterion, searched from judgements where searched like '[{%'")):
        try:
            sources = json.loads(row["searched"])
        except ValueError:
            continue
        revision = revisions.get(row["subject_id"])
        public = [links.source(s, row["subject_id"], revision) if isinstance(s, dict) else s for s in sources]
        db.execute("update judgements set searched = ? where subject_id = ? and criterion = ?",
                   [json.dumps(public), row["subject_id"], row["criterion"]])
    db.execute("""update history set evidence = json_set(json_remove(evidence, '$.url'), '$.fetched_url',
                                                          json_extract(evidence, '$.url'))
                  where json_valid(evidence) and json_type(evidence, '$.url') is not null""")
    # Evidence quotes a linked dataset's page, the endpoint's until now: the next assessment quotes the public one.
    db.execute("update subjects set assess_pending = 1 where kind = 'model' and revision is not null")


@migrations()
def m016_needs_evidence(db: sqlite_utils.Database) -> None:
    # An analyst may answer a flag "needs evidence" (neither confirmed nor dismissed: what is stored does not decide
    # it). The verdict trigger of m006 is recreated with it; it becomes the flag's status like the others.
    db.execute("drop trigger if exists reviews_need_a_verdict")
    db.execute("""create trigger reviews_need_a_verdict before insert on reviews
                  when new.verdict is null or new.verdict not in ('confirmed', 'dismissed', 'needs evidence',
                                                                  'override')
                     or (new.verdict = 'override' and (new.criterion is null or
                         new.level_override not in ('open', 'partial', 'closed')))
                     or (new.verdict != 'override' and new.flag_id is null)
                  begin select raise(abort, 'a review confirms or dismisses a flag or says it needs evidence, or
                  overrides a judgement with open, partial or closed'); end""")


@migrations()
def m017_flag_evidence(db: sqlite_utils.Database) -> None:
    # A flag of kind `relicensed` (crawler/relicensing.py) carries its evidence as JSON: the derivative's and the
    # base's licences, the base chain walked and the clause that carries the base's licence over.
    db["flags"].add_column("evidence", str)


@migrations()
def m018_tier0_and_compressed_blobs(db: sqlite_utils.Database) -> None:
    # Tier 0 (crawler/tier0.py): every model and dataset of the Hub's listing, a row each, and every listed model's
    # judgement from its row alone. The whole Hub is ~3M models: these tables are WITHOUT ROWID with the repo id as
    # key (one b-tree each, no second index), the listing row reduced to what the judge reads and zlib-compressed,
    # and a tier-0 judgement is 14 letters (o/p/c/u in CRITERIA order) plus flags; its evidence is re-derived on read
    # by extractors.listing.judge_listing over the stored row (deterministic), not stored. Measured: see
    # tests/test_tier0.py and the report (<= 2 KB per listed model, file size after VACUUM).
    for table in ("listed_models", "listed_datasets"):
        db.execute(f"""create table if not exists {table} (id text primary key, sha text, last_modified text,
                       downloads integer, likes integer, gated text, row blob, run_id integer) without rowid""")
    db.execute("""create table if not exists tier0 (id text primary key, sha text, levels text, flags text,
                  licence text, base_chain text, judged_at text) without rowid""")
    # Which tier a judgement rests on: the judgements table holds deep ones (card, files, code repos); tier-0 ones
    # are in tier0 and are shown only for a model with no deep judgement.
    db.execute("alter table judgements add column tier text default 'deep'")
    # Deliverable 7: stored texts compressed. A blob's `encoding` says how its content is stored: null raw, 'zlib'
    # compressed (crawler.store.blob_content decompresses; blob_text reads through it). Identical texts were already
    # stored once (keyed by the sha256 of the raw bytes). Existing texts are compressed by compress_blobs below.
    db.execute("alter table blobs add column encoding text")
    compress_blobs(db)


@migrations()
def m019_deep_priority(db: sqlite_utils.Database) -> None:
    # The deep crawl's queue (crawler/priority.py): whether a listed model's row claims openness (an open licence
    # declared, a claim tag), computed once per listing row by crawler.priority.mark_claims (null until then: a row
    # listed again is replaced, so its claim is read again), and one covering index the queue's ordered scan reads
    # instead of the compressed rows (the id, the key, comes with every index entry of a WITHOUT ROWID table).
    db.execute("alter table listed_models add column claims integer")
    db.execute("create index if not exists listed_models_priority on listed_models (claims, downloads, likes, sha)")


@migrations()
def m020_listed_ids_in_any_case(db: sqlite_utils.Database) -> None:
    # The Hub's ids are case-insensitive and a card may write its base's in another case: the tier-0 joins and
    # `show` look listed rows up by lower(id), which this index serves (without it, a scan of the whole listing).
    for table in ("listed_models", "listed_datasets"):
        db.execute(f"create index if not exists {table}_lower_id on {table} (lower(id))")


# Blobs smaller than this stay raw: zlib's header and a dictionary-less stream gain nothing on a few hundred bytes.
COMPRESS_MIN = 256
# Kinds of artifacts stored raw, compressed or not: the repo JSONs, which SQL reads in place (the model_downloads
# view's json_extract); they are a few KB per model.
RAW_KINDS = ("model_json", "dataset_json", "repo_json")


def should_compress(kind: str | None, body: bytes) -> bool:
    return len(body) >= COMPRESS_MIN and kind not in RAW_KINDS


def compress_blobs(db: sqlite_utils.Database, batch: int = 500) -> int:
    """Compress every raw blob no JSON-reading artifact uses (keyset batches). Returns how many were compressed."""
    done, last = 0, ""
    while True:
        rows = db.execute(f"""select sha256, content from blobs b where sha256 > ? and encoding is null
                              and length(content) >= {COMPRESS_MIN}
                              and not exists (select 1 from artifacts a where a.content_sha256 = b.sha256
                                              and a.kind in ({', '.join(repr(k) for k in RAW_KINDS)}))
                              order by sha256 limit {batch}""", [last]).fetchall()
        if not rows:
            return done
        db.conn.executemany("update blobs set content = ?, encoding = 'zlib' where sha256 = ?",
                            [(zlib.compress(content, 6), sha) for sha, content in rows])
        done += len(rows)
        last = rows[-1][0]


# The schema's version: its newest migration (`openness --version` and every export say it).
SCHEMA_VERSION = migrations._migrations[-1].name  # sqlite-utils keeps the registered migrations in order


class StoreError(ValueError):
    """A store that cannot be used: not one, or not writable (read-only, disk full); the message is one line naming
    its path."""


class NotAStore(StoreError):
    """A path that is not an openness store (another SQLite database, not a database, a folder, a device); the
    message names it. Nothing is written to it."""


def check_store(path: Path | str) -> None:
    """Refuse anything but a missing or empty regular file, or a SQLite file that is ours (or has no table yet).
    A device (`/dev/null`), a pipe or a socket is refused before anything is created beside it (a lock, a
    journal)."""
    path = Path(path)
    if path.is_dir():
        raise NotAStore(f"{path} is a folder, not a store file")
    if path.exists() and not path.is_file():
        raise NotAStore(f"{path} is not a regular file (a device, a pipe or a socket), not a store file")
    if not path.exists() or path.stat().st_size == 0:
        return
    # Only SQLite opens the file: closing a descriptor of it opened any other way drops every lock this process's
    # connections hold on it (POSIX locks are per process), and a reader elsewhere closing last then deletes the
    # WAL under the writer, whose later commits are lost (seen with a crawl's read-only KnownRepos connection open).
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = {r[0] for r in con.execute("select name from sqlite_master where type = 'table'")}
        ours = "_sqlite_migrations" in tables and con.execute(
            "select count(*) from _sqlite_migrations where migration_set = 'openness'").fetchone()[0] > 0
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            raise NotAStore(f"{path} is not a SQLite database: nothing was changed") from exc
        if not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
            # SQLite cannot even read a WAL store whose folder it cannot write (its -shm file): say so.
            raise StoreError(f"{path}: the store is read-only (its file or its folder cannot be written): "
                             f"{exc}") from None
        raise NotAStore(f"{path} is not a readable SQLite database ({exc}): nothing was changed") from exc
    finally:
        con.close()
    if tables and not ours:
        raise NotAStore(f"{path} is a SQLite database but not an openness store (tables: "
                        f"{', '.join(sorted(tables)[:5])}{' …' if len(tables) > 5 else ''}): nothing was changed")


def open_store(path: Path | str) -> sqlite_utils.Database:
    """An existing store, for the commands that read one (they never create it)."""
    if not Path(path).exists():
        raise NotAStore(f"{path}: no such store; crawl first (e.g. make demo)")
    return open_db(path)


def open_db(path: Path | str) -> sqlite_utils.Database:
    """Open (creating if needed) a store: WAL so readers never block the crawl, foreign keys on, migrated.
    Anything that is not a store is refused (NotAStore) before a byte is written; a store that cannot be written
    (a read-only file or folder, a full disk) raises StoreError naming it."""
    check_store(path)
    with store_errors(path):
        db = sqlite_utils.Database(path)
        db.execute("PRAGMA foreign_keys = ON")
        db.enable_wal()
        # In WAL mode NORMAL cannot corrupt the store and a killed process loses nothing; a power cut may lose the
        # last commits, which the next run writes again (every write is idempotent). FULL syncs the disk at every
        # commit, and a crawl commits every document it fetches.
        db.execute("PRAGMA synchronous = NORMAL")
        migrations.apply(db)
    return db


# SQLite's answers that say the store itself fails (its file or disk), not that a statement is wrong (a bug).
STORE_FAILURES = {sqlite3.SQLITE_PERM, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CORRUPT,
                  sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_NOTADB}


def is_store_failure(exc: BaseException) -> bool:
    """A read-only file or folder, a full disk, an I/O error, a damaged or foreign file."""
    return isinstance(exc, sqlite3.DatabaseError) and (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF in \
        STORE_FAILURES


@contextmanager
def store_errors(path: Path | str):
    """SQLite's own failures to read or write the store (read-only, disk full, I/O error, not a database) as a
    StoreError naming its path, in one line."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        if not is_store_failure(exc):
            raise
        raise StoreError(f"{path}: the store cannot be used: {exc}") from None


@contextmanager
def guarded_store(path: Path | str):
    """Around a command that writes the store: a SQLite failure under it (a full disk, a read-only file or folder,
    an I/O error) ends it as one StoreError naming the path, with the runs this process left unfinished marked
    failed."""
    try:
        yield
    except NotAStore:
        raise
    except (sqlite3.DatabaseError, StoreError) as exc:
        if isinstance(exc, sqlite3.DatabaseError) and not is_store_failure(exc):
            raise  # a statement of ours is wrong: a bug, with its traceback
        raise failed_store(path, exc) from None


def failed_store(path: Path | str, exc: Exception) -> StoreError:
    """The StoreError to end a command with when the store failed under it, this process's unfinished runs marked
    failed."""
    message = str(exc) if isinstance(exc, StoreError) else f"{path}: the store cannot be written: {exc}"
    marked = fail_own_runs(path, message)
    return StoreError(message + "".join(f"; run {run_id} marked failed" for run_id in marked))


def fail_own_runs(path: Path | str, reason: str) -> list[int]:
    """Mark the runs this process left `running` or `assessing` as failed, after the store failed under them (a
    disk that filled up): best effort, as the store may still refuse; a run it cannot mark is marked abandoned by
    the next one (its process is dead by then). Returns the runs marked."""
    try:
        con = sqlite3.connect(path, timeout=5)
        try:
            with con:
                ids = [r[0] for r in con.execute(
                    "select id from crawl_runs where pid = ? and host = ? and status in ('running', 'assessing')",
                    [os.getpid(), socket.gethostname()])]
                con.executemany("update crawl_runs set status = 'failed', finished_at = ?, exit_code = 2, note = ? "
                                "where id = ?", [(utcnow(), reason, run_id) for run_id in ids])
            return ids
        finally:
            con.close()
    except sqlite3.Error:
        return []


def model_subject_id(repo_id: str) -> str:
    return f"hf:model:{repo_id}"


class Store:
    """Writes of one crawl run. Each write is idempotent, so a run killed half-way can simply be run again."""

    # The artifacts the latest documents were stored as, by the URL and revision they were read from: a link names
    # the document it was found in by that URL, which is not the URL an identical document already stored keeps
    # (read again from another URL of the same endpoint, as a listing row from another page). A document's links
    # are written right after it, so the latest few thousand suffice.
    RECENT_ARTIFACTS = 4096

    def __init__(self, db: sqlite_utils.Database):
        self.db = db
        self.recent: OrderedDict[tuple[str, str | None], str] = OrderedDict()

    # -- runs ---------------------------------------------------------------------------------------------------
    def start_run(self, command: str, hf_endpoint: str, github_endpoint: str, requested: list[str]) -> int:
        table = self.db["crawl_runs"].insert(
            {"started_at": utcnow(), "status": "running", "command": command, "hf_endpoint": hf_endpoint,
             "github_endpoint": github_endpoint, "requested": json.dumps(requested), "counts": "{}",
             "pid": os.getpid(), "host": socket.gethostname()}
        )
        return table.last_pk

    def set_run_status(self, run_id: int, status: str, counts: dict) -> None:
        self.db["crawl_runs"].update(run_id, {"status": status, "counts": json.dumps(counts, sort_keys=True)})

    def finish_run(self, run_id: int, status: str, counts: dict, exit_code: int | None = None,
                   watermark: str | None = None) -> None:
        self.db["crawl_runs"].update(run_id, {"finished_at": utcnow(), "status": status, "exit_code": exit_code,
                                              "watermark": watermark, "counts": json.dumps(counts, sort_keys=True)})

    # -- artifacts ----------------------------------------------------------------------------------------------
    # The writes a crawl makes for every document and link it fetches are plain SQL, not sqlite-utils' insert and
    # upsert, which introspect the table on each call (a sixth of the fetch phase); the schema stays sqlite-utils'.
    def save_artifact(self, run_id: int, *, source: str, repo_type: str, repo_id: str, kind: str, url: str,
                      revision: str | None, http_status: int, etag: str | None, content_type: str | None,
                      body: bytes, path: str | None = None) -> str:
        content_sha = hashlib.sha256(body).hexdigest()
        # Identity is what the document is (repo, kind, path, revision, content), not the host it came from, so
        # a re-run against another endpoint (a replica on a new port) stores no duplicate.
        identity = "\n".join(str(part) for part in (source, repo_type, repo_id, kind, path, revision, content_sha))
        artifact_id = hashlib.sha256(identity.encode()).hexdigest()
        now = utcnow()
        with self.db.conn:
            # Texts compressed (zlib, level 6) but the repo JSONs that SQL reads in place (m018); identical
            # texts once, keyed by the raw bytes' sha256. Compressed only when not stored yet.
            if self.db.execute("select 1 from blobs where sha256 = ?", [content_sha]).fetchone() is None:
                packed = should_compress(kind, body)
                self.db.execute("insert or ignore into blobs (sha256, size, content, encoding) values (?, ?, ?, ?)",
                                [content_sha, len(body), zlib.compress(body, 6) if packed else body,
                                 "zlib" if packed else None])
            existing = next(self.db.query("select url from artifacts where id = ?", [artifact_id]), None)
            if existing:
                seen = {"fetched_at": now, "etag": etag, "run_id": run_id}
                if urlsplit(existing["url"]).netloc != urlsplit(url).netloc:
                    # Served now from another endpoint: cite where it can be read. From another URL of the same
                    # endpoint (a listing row read again from another page), it is the document already cited,
                    # and its judgements stand.
                    seen["url"] = url
                self.db.execute(f"update artifacts set {', '.join(f'{column} = ?' for column in seen)} where id = ?",
                                [*seen.values(), artifact_id])
            else:
                record = {"id": artifact_id, "source": source, "repo_type": repo_type, "repo_id": repo_id,
                          "kind": kind, "path": path, "url": url, "revision": revision, "http_status": http_status,
                          "etag": etag, "content_type": content_type, "content_sha256": content_sha,
                          "fetched_at": now, "run_id": run_id, "first_fetched_at": now,
                          "public_url": artifact_url(source, repo_type, repo_id, kind, path, revision)}
                self.db.execute(f"insert into artifacts ({', '.join(record)}) values ({', '.join('?' for _ in record)})",
                                list(record.values()))
        self.recent[(url, revision)] = artifact_id
        self.recent.move_to_end((url, revision))
        if len(self.recent) > self.RECENT_ARTIFACTS:
            self.recent.popitem(last=False)
        return artifact_id

    def artifact_at(self, url: str, revision: str | None) -> str | None:
        """The id of the artifact last fetched from `url` at `revision`, if stored."""
        if (recent := self.recent.get((url, revision))) is not None:
            return recent
        rows = list(self.db["artifacts"].rows_where("url = ? and revision is ?", [url, revision],
                                                    order_by="fetched_at desc", limit=1))
        return rows[0]["id"] if rows else None

    def save_subject(self, run_id: int, subject_id: str, **fields) -> None:
        # Every model (and code repo, whose facts the history versions) the crawl writes is assessed by this run
        # or, if it is killed first, by the next one.
        pending = {"assess_pending": 1} if fields.get("kind") in ("model", "code") and fields.get("revision") else {}
        self.db["subjects"].upsert({"id": subject_id, **fields, **pending, "last_crawled_at": utcnow(),
                                    "run_id": run_id}, pk="id", alter=False)

    def mark_complete(self, subject_id: str, revision: str, fetch_rules: str = "") -> None:
        self.db["subjects"].update(subject_id, {"complete_revision": revision, "complete_fetch_rules": fetch_rules})

    def save_link(self, from_subject: str, to_subject: str, relation: str, artifact_id: str | None) -> None:
        self.db.execute("insert into links (from_subject, to_subject, relation, artifact_id) values (?, ?, ?, ?) "
                        "on conflict (from_subject, to_subject, relation) do update set artifact_id = "
                        "excluded.artifact_id", [from_subject, to_subject, relation, artifact_id])

    def save_listing_page(self, run_id: int, repo_type: str, rows: list[dict]) -> None:
        from crawler.tier0 import save_listing_page

        save_listing_page(self.db, repo_type, rows, run_id)

    def save_error(self, run_id: int, *, source: str, subject_id: str | None, url: str, kind: str,
                   http_status: int | None, reason: str) -> None:
        self.db["errors"].insert({"run_id": run_id, "source": source, "subject_id": subject_id, "url": url,
                                  "kind": kind, "http_status": http_status, "reason": reason, "at": utcnow()})


def decode_text(content: bytes) -> str:
    """Stored bytes as text: UTF-16 when a byte-order mark says so, else UTF-8 (its BOM dropped), undecodable
    bytes as U+FFFD (so a binary file shows as not text, and nothing crashes)."""
    if content[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return content.decode("utf-16", errors="replace")
    return content.decode("utf-8-sig", errors="replace")


def blob_content(db: sqlite_utils.Database, sha256: str) -> bytes:
    """A blob's bytes as fetched, decompressed if it is stored compressed (m018)."""
    row = db.execute("select content, encoding from blobs where sha256 = ?", [sha256]).fetchone()
    if row is None:
        raise sqlite_utils.db.NotFoundError(f"no stored blob {sha256}")
    return inflate(row[0], row[1])


def inflate(content: bytes, encoding: str | None) -> bytes:
    """Stored blob bytes as fetched, given the blob's `encoding` column."""
    if encoding == "zlib":
        return zlib.decompress(content)
    return content


def blob_text(db: sqlite_utils.Database, sha256: str) -> str:
    return decode_text(blob_content(db, sha256))
