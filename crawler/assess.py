"""Assess: read a model's latest stored artifacts, run the extractors, store judgements and evidence.

Runs without any network, so judgements can be recomputed whenever rules change.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import multiprocessing
import re
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

import sqlite_utils

from crawler.hub_json import siblings_name_every_file
from crawler.ops import history
from crawler.public import PublicLinks, subject_url
from crawler.relicensing import save_relicensed
from crawler.store import blob_text, decode_text, retire_flag, utcnow
from extractors import CRITERIA, EXTRACTOR_VERSION, assess_model, judge_fingerprint, within_bounds
from extractors.facts import code_repo_facts, model_facts, unreadable
from extractors.flags import Flag, openwashing_flag
from extractors.lineage import RelicensedFlag, relicensed_flag
from extractors.ownership import is_own_repo
from extractors.text import load_json, quote
from extractors.types import Artifact, Evidence, Failure, Judgement, LinkedDataset, ModelArtifacts, Source


# The load path asks the store in plain SQL (`db.query`): sqlite-utils' `rows_where` and `get` ask the schema for the
# table's columns and keys on every call, a third of the time an unchanged model's assessment took.
def _artifact(db: sqlite_utils.Database, row: dict) -> Artifact:
    return Artifact(row["id"], row["kind"], row["url"], row["revision"], row["path"],
                    blob_text(db, row["content_sha256"]), row["repo_id"])


def own_code_repos(db: sqlite_utils.Database, subject: dict) -> list[dict]:
    """The GitHub repos that are the model's own (extractors.ownership): linked from its card by its organisation
    or an alias of it, or carrying its name, or named by its `license_link`; with the revision they were crawled
    at (None when they were not read)."""
    repos = []
    for row in db.query("""select s.repo_id, s.revision, s.status, l.relation,
                             (select e.url from errors e where e.subject_id = s.id order by e.id desc limit 1)
                               as failed_url
                           from links l join subjects s on s.id = l.to_subject
                           where l.from_subject = ? and l.relation in ('code_repo', 'licence_link')
                           order by s.repo_id""", [subject["id"]]):
        if is_own_repo(subject["repo_id"], row["repo_id"], row["relation"]):
            if all(r["repo_id"] != row["repo_id"] for r in repos):
                repos.append(row)
    return repos


def source_status(failure: Failure | None) -> str:
    """What a failed fetch means for the source: absent (404), gated (401 with a gating answer), not captured by
    the source (501), or failed (anything else, transport errors included)."""
    if failure is None:
        return "failed"
    if failure.http_status == 404:
        return "missing"
    if failure.http_status == 501:
        return "not captured"
    if failure.http_status in (401, 403) and "gated" in failure.reason.lower():
        return "gated"
    return "failed"


def _sources(subject: dict, found: dict[str, Artifact | None], failures: dict[str, Failure],
             repos: list[dict]) -> tuple[Source, ...]:
    sources = []
    for kind, artifact in found.items():
        if artifact is not None:
            sources.append(Source(kind, "read", artifact.url))
        elif kind == "tree" and found.get("model_json") is not None and \
                siblings_name_every_file(load_json(found["model_json"].text)):
            # Not asked for: the repo JSON's siblings name every file of the repo.
            sources.append(Source(kind, "read", found["model_json"].url, "the repo JSON's siblings"))
        else:
            failure = failures.get(kind)
            sources.append(Source(kind, source_status(failure), failure.url if failure else subject["url"],
                                  failure.reason if failure else "not fetched"))
    for repo in repos:
        sources.append(Source(f"github:{repo['repo_id']}", "read" if repo["revision"] else
                              {"missing": "missing", "queued": "not crawled", None: "not crawled",
                               "not captured": "not captured"}.get(repo["status"], "failed"),
                              # where it was asked when it was not read (the failed fetch), else its page
                              (not repo["revision"] and repo["failed_url"]) or f"https://github.com/{repo['repo_id']}",
                              "" if repo["revision"] else repo["status"] or ""))
    return tuple(sources)


def latest_per_path(rows: list[dict], kind: str | None = None) -> list[dict]:
    """One artifact per (kind, path): the latest fetched (rows come newest first). The same document fetched again
    from another endpoint can differ in bytes (its JSON embeds the endpoint's URL) and so be stored twice; it is
    still one document."""
    seen, kept = set(), []
    for row in rows:
        key = (row["kind"], row["path"])
        if (kind is None or row["kind"] == kind) and key not in seen:
            seen.add(key)
            kept.append(row)
    return kept


def _page_number(row: dict) -> int:
    match = re.search(r"(\d+)$", row["path"] or "")
    return int(match.group(1)) if match else 0


def _linked(db: sqlite_utils.Database, subject_id: str, relation: str) -> list[str]:
    return [r["to_subject"] for r in db.query(
        "select to_subject from links where from_subject = ? and (relation = ? or relation like ? || ':%') "
        "order by to_subject", [subject_id, relation, relation])]


def _datasets(db: sqlite_utils.Database, subject_id: str) -> tuple[LinkedDataset, ...]:
    found = []
    for target in _linked(db, subject_id, "dataset"):
        row = next(db.query("select * from subjects where id = ?", [target]), None)
        repo_id = target.split(":", 2)[2]
        if row is None:
            found.append(LinkedDataset(repo_id, "not crawled", ""))
            continue
        card = next(db.query("select * from artifacts where repo_type = 'dataset' and repo_id = ? and kind = 'card' "
                             "and revision is ? order by fetched_at desc limit 1", [row["repo_id"], row["revision"]]),
                    None)
        # Its public page, not the endpoint's: evidence quotes it to people.
        found.append(LinkedDataset(repo_id, row["status"], subject_url(target, row["revision"]),
                                   _artifact(db, card) if card else None))
    return tuple(found)


# How far down a base-model chain (fine-tune of a fine-tune of ...) the root pretrained model is looked for.
BASE_CHAIN_DEPTH = 4


def load_model(db: sqlite_utils.Database, subject: dict, depth: int = BASE_CHAIN_DEPTH,
               seen: frozenset[str] = frozenset()) -> ModelArtifacts:
    """The artifacts of a model at the revision its subject was last crawled at, what failed to be fetched, what
    it links to (own code repos, datasets) and its base model's artifacts, down the chain to `depth` steps."""
    repo_id, revision = subject["repo_id"], subject["revision"]
    rows = list(db.query("select * from artifacts where repo_type = 'model' and repo_id = ? and revision is ? "
                         "order by fetched_at desc, id", [repo_id, revision]))

    def latest(kind: str) -> Artifact | None:
        row = next((r for r in rows if r["kind"] == kind), None)
        return _artifact(db, row) if row else None

    tree_rows = {}
    for row in rows:
        if row["kind"] == "tree":
            tree_rows.setdefault(_page_number(row), row)
    # The latest failure of each kind of fetch; an artifact of that kind, when stored, outweighs it in the extractors.
    # (The judge's own failures are no input of the judge: `_save_failed`.)
    failures = {row["kind"]: Failure(row["url"], row["reason"], row["http_status"])
                for row in db.query("select * from errors where subject_id = ? and kind != 'judge' order by id",
                                    [subject["id"]])}
    files = tuple(_artifact(db, r) for r in latest_per_path(rows, "file"))
    code_files, code_trees = [], []
    repos = own_code_repos(db, subject)
    for repo in (r for r in repos if r["revision"]):
        rows_of_repo = list(db.query(
            "select * from artifacts where source = 'github' and repo_id = ? and revision = ? and kind in ('file', "
            "'readme', 'tree') order by fetched_at desc, id", [repo["repo_id"], repo["revision"]]))
        for row in sorted(latest_per_path(rows_of_repo), key=lambda r: (r["kind"], r["path"] or "")):
            (code_trees if row["kind"] == "tree" else code_files).append(_artifact(db, row))
    bases = [b for b in _linked(db, subject["id"], "base_model") if b != subject["id"]]  # a repo is not its own base
    base_model = bases[0].split(":", 2)[2] if bases else None
    base = None
    if depth > 0 and bases and bases[0] not in seen:
        row = next(db.query("select * from subjects where id = ? and revision is not null", [bases[0]]), None)
        base = load_model(db, row, depth - 1, seen | {subject["id"]}) if row else None
    found = {"model_json": latest("model_json"), "card": latest("card"),
             "tree": _artifact(db, tree_rows[min(tree_rows)]) if tree_rows else None}
    return ModelArtifacts(repo_id=repo_id, revision=revision, page_url=subject["url"],
                          model_json=found["model_json"], card=found["card"],
                          tree_pages=tuple(_artifact(db, tree_rows[n]) for n in sorted(tree_rows)),
                          files=files, code_files=tuple(code_files), code_trees=tuple(code_trees),
                          datasets=_datasets(db, subject["id"]), base_model=base_model, base=base,
                          failures=failures, sources=_sources(subject, found, failures, repos))


JUDGEMENT_COLUMNS = ("subject_id", "criterion", "level", "confidence", "rule_ids", "summary", "extractor_version",
                     "assessed_at", "basis", "searched")
EVIDENCE_COLUMNS = ("subject_id", "criterion", "ordinal", "artifact_id", "url", "revision", "file", "line_start",
                    "line_end", "snippet", "rule_id", "confidence", "public_url")
# Written with prepared statements, not sqlite-utils' upsert and insert_all: a model's fourteen judgements and their
# evidence are three statements here, where sqlite-utils builds and runs its queries judgement by judgement (a
# seventh of assessment time). The tables and their migrations stay sqlite-utils'.
SAVE_JUDGEMENT = (f"insert into judgements ({', '.join(JUDGEMENT_COLUMNS)}) "
                  f"values ({', '.join('?' for _ in JUDGEMENT_COLUMNS)}) on conflict (subject_id, criterion) do update "
                  f"set {', '.join(f'{c} = excluded.{c}' for c in JUDGEMENT_COLUMNS[2:])}")
SAVE_EVIDENCE = f"insert into evidence ({', '.join(EVIDENCE_COLUMNS)}) values ({', '.join('?' for _ in EVIDENCE_COLUMNS)})"


def save_judgements(db: sqlite_utils.Database, subject_id: str, judgements: list[Judgement],
                    revision: str | None = None) -> dict[str, str]:
    """Replace the model's judgements and evidence (inside the caller's transaction); returns each criterion's
    main evidence's public URL."""
    now = utcnow()
    links, page = PublicLinks(db), subject_url(subject_id, revision)
    main_urls, judgement_rows, evidence_rows = {}, [], []
    for judgement in judgements:
        # Evidence that rests on no stored artifact (a failed fetch) links to the model's page at the revision.
        urls = [links.public(e.url, page, e.artifact_id, e.line_start, e.line_end) for e in judgement.evidence]
        main_urls[judgement.criterion] = urls[0] if urls else page
        searched = [links.source(s.as_dict(), subject_id, revision) for s in judgement.searched]
        judgement_rows.append((subject_id, judgement.criterion, judgement.level, judgement.confidence,
                               ",".join(judgement.rule_ids), judgement.summary, EXTRACTOR_VERSION, now,
                               judgement.basis, json.dumps(searched)))
        evidence_rows += [(subject_id, judgement.criterion, ordinal, e.artifact_id, e.url, e.revision, e.file,
                           e.line_start, e.line_end, e.snippet, e.rule_id, e.confidence, url)
                          for ordinal, (e, url) in enumerate(zip(judgement.evidence, urls))]
    criteria = [j.criterion for j in judgements]
    db.execute(f"delete from evidence where subject_id = ? and criterion in ({', '.join('?' for _ in criteria)})",
               [subject_id, *criteria])
    db.conn.executemany(SAVE_JUDGEMENT, judgement_rows)
    db.conn.executemany(SAVE_EVIDENCE, evidence_rows)
    return main_urls


def save_flag(db: sqlite_utils.Database, subject_id: str, flag: Flag | None, revision: str | None = None) -> None:
    """Keep one current flag a model (inside the caller's transaction): the same claim with the same failing
    criteria updates its row in place (its id, creation time and any analyst verdict stay); a flag no longer raised,
    or raised with another claim or failing set, is deleted when nobody reviewed it and marked `superseded` when
    somebody did (a verdict is never lost)."""
    failing = ",".join(f"{c}={level}" for c, level in flag.failing) if flag else None
    current = None
    for row in db.query("select id, claim, failing_criteria, status from flags where subject_id = ? and "
                        "status != 'superseded' and kind is not 'relicensed'", [subject_id]):  # crawler/relicensing
        if flag is not None and row["claim"] == flag.claim.quote and row["failing_criteria"] == failing:
            current = row
            continue
        retire_flag(db, row)
    if flag is None:
        return
    claim = flag.claim
    location = PublicLinks(db).public(claim.location, subject_url(subject_id, revision),
                                      claim.artifact.artifact_id if claim.artifact else None, claim.line, claim.line)
    values = {"severity": flag.severity, "claim_location": location, "claim_fetched_url": claim.location,
              "kind": flag.kind,
              "promised": json.dumps([{"criterion": c, "level": level} for c, level in flag.promised]),
              "rule_ids": ",".join(flag.rule_ids)}
    if current is not None:
        db.execute(f"update flags set {', '.join(f'{column} = ?' for column in values)} where id = ?",
                   [*values.values(), current["id"]])
    else:
        row = {"subject_id": subject_id, "claim": flag.claim.quote, "failing_criteria": failing, **values,
               "created_at": utcnow(), "status": "open"}
        db.execute(f"insert into flags ({', '.join(row)}) values ({', '.join('?' for _ in row)})", list(row.values()))


def history_values(subject: dict, judgements: list[Judgement], facts: dict[str, tuple[str, str]],
                   public_urls: dict[str, str]) -> dict[str, dict]:
    """What the change history versions for a model: each judgement (level, summary, main evidence) and its facts
    (extractors.facts.model_facts)."""
    values = {}
    for judgement in judgements:
        main = judgement.evidence[0] if judgement.evidence else None
        values[f"judgement:{judgement.criterion}"] = {
            "value": judgement.level, "summary": judgement.summary,
            "evidence": main and {"public_url": public_urls[judgement.criterion], "fetched_url": main.url,
                                  "file": main.file, "line_start": main.line_start, "snippet": main.snippet,
                                  "rule_id": main.rule_id}}
    for aspect, (value, url) in facts.items():
        values[aspect] = {"value": value, "evidence": {"fetched_url": url,
                                                       "public_url": subject_url(subject["id"], subject["revision"])}}
    return values


def record_unreadable(db: sqlite_utils.Database, run_id: int | None, subject_id: str, model: ModelArtifacts) -> None:
    """A `parse` error for each stored document that could not be read (extractors.facts.unreadable), once."""
    for artifact, reason in unreadable(model):
        known = db.execute("select 1 from errors where subject_id = ? and kind = 'parse' and url = ? and reason = ?",
                           [subject_id, artifact.url, reason]).fetchone()
        if not known:
            db["errors"].insert({"run_id": run_id, "source": "huggingface", "subject_id": subject_id,
                                 "url": artifact.url, "kind": "parse", "http_status": None, "reason": reason,
                                 "at": utcnow()})


def record_code_repos(db: sqlite_utils.Database, run_id: int | None) -> int:
    """History of the GitHub repos written since last recorded: head commit and licence files."""
    count = 0
    for subject in list(db["subjects"].rows_where("kind = 'code' and assess_pending = 1 and revision is not null",
                                                  order_by="id")):
        files = [_artifact(db, row) for row in db["artifacts"].rows_where(
            "source = 'github' and repo_id = ? and revision = ? and kind = 'file'",
            [subject["repo_id"], subject["revision"]], order_by="path")]
        page = subject_url(subject["id"], subject["revision"])
        values = {aspect: {"value": value, "evidence": {"fetched_url": url, "public_url": page}}
                  for aspect, (value, url) in code_repo_facts(subject["revision"], subject["url"], files).items()}
        with db.conn:
            history.record(db, run_id, subject["id"], values, EXTRACTOR_VERSION)
            db.execute("update subjects set assess_pending = 0 where id = ?", [subject["id"]])
        count += 1
    return count


def inputs_fingerprint(model: ModelArtifacts) -> str:
    """Everything a model's judgements are computed from (its artifacts with their URLs and ids, failures,
    sources, linked datasets and code, the base-model chain) and the judge's own fingerprint: equal fingerprints,
    equal judgements and evidence. An artifact's text is not hashed again: its id is computed from its content
    (`crawler.store.Store.save_artifact`, the only writer of artifacts), so the id stands for its bytes, and
    `text_decoding` for how the bytes become text."""
    inputs = f"{judge_fingerprint()}\n{text_decoding()}\n{model!r}"
    return hashlib.sha256(inputs.encode("utf-8", "surrogatepass")).hexdigest()


@cache
def text_decoding() -> str:
    """The code that turns stored bytes into the texts judged (`crawler.store.decode_text`): the fingerprint names
    an artifact by its id, which stands for its bytes, so a change in how bytes become text must change it too."""
    return hashlib.sha256(inspect.getsource(decode_text).encode()).hexdigest()


def assess_selection(repo_ids: list[str] | None = None, pending: bool = False) -> tuple[str, list]:
    """The `subjects` rows `assess` looks at (a where clause and its arguments): the models named, else (`pending`)
    those written since their last assessment, else every crawled model."""
    where, args = "kind = 'model' and revision is not null", []
    if repo_ids:
        where += f" and repo_id in ({', '.join('?' for _ in repo_ids)})"
        args = list(repo_ids)
    elif pending:
        where += " and assess_pending = 1"
    return where, args


# Models written per transaction: few enough that a killed run loses little, many enough that commits are rare.
ASSESS_CHUNK = 200
# Models handed to a judging process at a time: few, so the processes share a chunk's work evenly.
JUDGE_BATCH = 4


def assess(db: sqlite_utils.Database, repo_ids: list[str] | None = None, pending: bool = False,
           run_id: int | None = None, on_progress=None, force: bool = False, workers: int = 1,
           on_failure=None) -> int:
    """Assess models: those named, or (`pending`) those written since their last assessment, or else every
    crawled model. A model whose inputs are unchanged since its last assessment is not judged again (unless
    `force`): same artifacts, same judgements. Every write is idempotent and a model's pending mark is cleared in
    the transaction that writes its judgements, so a run killed during assessment loses nothing: the next one
    assesses again the models left pending, to the same result. `run_id` is the run the history rows belong to.
    With `workers` above 1 the judging runs in that many processes; this one still reads and writes the store
    alone, in the same order, so the store ends the same. A model the judge fails on (loading or judging it) is
    recorded as failed (`_save_failed`), `on_failure` is called with its subject id, and the others go on. Returns
    the number of models judged."""
    if pending:
        record_code_repos(db, run_id)
    where, args = assess_selection(repo_ids, pending)
    ids = [r["id"] for r in db.query(f"select id from subjects where {where} order by id", args)]
    chunks = [ids[start:start + ASSESS_CHUNK] for start in range(0, len(ids), ASSESS_CHUNK)]
    judged, previous = 0, ([], iter(()))
    with judging(workers) as start_judging:
        # Chunk k is loaded (and handed to the judging processes) in the transaction that writes chunk k-1's
        # judgements: the processes judge while this one reads and writes. Loading reads nothing that writing does.
        for chunk in [*chunks, []]:
            with db.atomic():  # one transaction per chunk (sqlite-utils nests its own writes as savepoints)
                changed = _load_chunk(db, chunk, run_id, force, on_progress, on_failure)
                judging_now = start_judging([(loaded.model, loaded.subject.get("gated")) for loaded in changed])
                current = (changed, judging_now)
                for loaded, judged_model in zip(*previous):
                    saved = _save(db, loaded, judged_model, run_id)
                    judged += 1
                    if isinstance(saved, Failed) and on_failure:
                        on_failure(loaded.subject["id"])
                    if on_progress:
                        on_progress()
            previous = current
    return judged


@dataclass(frozen=True)
class _Loaded:
    """A model to judge: its subject row, its artifacts and their fingerprint."""

    subject: dict
    model: ModelArtifacts
    fingerprint: str


def _load_chunk(db: sqlite_utils.Database, chunk: list[str], run_id: int | None, force: bool,
                on_progress, on_failure=None) -> list[_Loaded]:
    """The models of a chunk of subject ids whose inputs changed, loaded in id order."""
    changed = []
    for subject in list(db.query(f"select * from subjects where id in ({', '.join('?' for _ in chunk)}) "
                                 "order by id", chunk)):
        loaded = _load_changed(db, subject, run_id, force)
        if isinstance(loaded, _Loaded):
            changed.append(loaded)
            continue
        if isinstance(loaded, Failed) and on_failure:
            on_failure(subject["id"])
        if on_progress:
            on_progress()
    return changed


def _load_changed(db: sqlite_utils.Database, subject: dict, run_id: int | None,
                  force: bool) -> _Loaded | Failed | None:
    """Load a model inside the caller's transaction; None (its pending mark cleared) when its inputs are unchanged.
    A document it cannot read is recorded now, before the next model is loaded: a model built on this one reads
    that failure among its base's, as when each model was judged and written before the next was loaded. A model
    that cannot even be loaded is saved as failed (`_save_failed`), and its failure returned."""
    model = None
    try:
        model = load_model(db, subject)
        fingerprint = inputs_fingerprint(model)
        if not force and subject.get("assessed_inputs") == fingerprint:
            db.execute("update subjects set assess_pending = 0 where id = ?", [subject["id"]])
            return None
        record_unreadable(db, run_id, subject["id"], model)
    except Exception as exc:  # noqa: BLE001 (recorded against the model: one model never stops the others)
        failed = failure("loading", exc, (model,), subject["url"], subject["revision"])
        _save_failed(db, subject, failed, run_id, None)
        return failed
    return _Loaded(subject, model, fingerprint)


@dataclass(frozen=True)
class Judged:
    """What judging a model gives: its judgements, its openwashing flag and the facts its history versions."""

    judgements: list[Judgement]
    flag: Flag | None
    facts: dict[str, tuple[str, str]]
    relicensed: RelicensedFlag | None = None  # a licence its base chain's licences do not allow


@dataclass(frozen=True)
class Failed:
    """A model the judge failed on: when (loading or judging), the exception (type and message), and the stored
    document it was reading when the traceback says which (else the model's page). Plain strings, so a judging
    process can send it back."""

    stage: str
    error: str
    url: str
    revision: str | None = None
    path: str | None = None
    artifact_id: str | None = None

    @property
    def reason(self) -> str:
        return f"the judge failed {self.stage} the model, on {self.path or self.url}: {self.error}"


def _documents(model: ModelArtifacts | None):
    """Every artifact a model holds, down its base chain."""
    while model is not None:
        yield from (a for a in (model.model_json, model.card, *model.tree_pages, *model.files, *model.code_files,
                                *model.code_trees, *(d.card for d in model.datasets)) if a is not None)
        model = model.base


def failure(stage: str, exc: BaseException, models: tuple[ModelArtifacts | None, ...], page_url: str,
            revision: str | None) -> Failed:
    """What failed, and on which document: the innermost frame of the traceback holding one of the model's
    artifacts, or the text of one (the judges pass texts down: `front_matter(card.text)`), names it. The judges take
    the whole model, so the traceback is the one place that knows which document they were reading."""
    artifacts = {id(a): a for model in models for a in _documents(model)}
    texts = {id(a.text): a for a in artifacts.values()}
    frames, tb = [], exc.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    found = next((artifacts.get(id(value)) or texts.get(id(value)) for frame in reversed(frames)
                  for value in frame.f_locals.values() if id(value) in artifacts or id(value) in texts), None)
    error = quote(f"{type(exc).__name__}: {exc}", 300)
    if found is None:
        return Failed(stage, error, page_url, revision)
    return Failed(stage, error, found.url, found.revision, found.path or found.kind, found.artifact_id)


def judge(model_and_gated: tuple[ModelArtifacts, str | None]) -> Judged | Failed:
    """Judge a model (with its subject's `gated` state): pure, so any process can compute it. Any exception is the
    model's failure, returned as such: what one model's documents hold never stops the others being judged."""
    model, gated = model_and_gated
    bounded = None
    try:
        bounded = within_bounds(model)  # the flag and the facts read the documents as the judgements do
        judgements = assess_model(bounded)
        return Judged(judgements, openwashing_flag(bounded, judgements), model_facts(bounded, gated),
                      relicensed_flag(bounded))
    except Exception as exc:  # noqa: BLE001 (recorded against the model: see the docstring)
        return failure("judging", exc, (bounded, model), model.page_url, model.revision)


def failed_judgements(failed: Failed) -> list[Judgement]:
    """The model's judgements when the judge failed on it: `unknown`, each naming the failure and its document."""
    evidence = (Evidence("judge.failed", failed.url, failed.revision, failed.path, quote(failed.error),
                         artifact_id=failed.artifact_id, confidence=0.0),)
    return [Judgement(criterion, "unknown", 0.0, f"not judged: {failed.reason}", evidence)
            for criterion in CRITERIA]


@contextmanager
def judging(workers: int):
    """A function that starts judging a list of models and returns their results as an iterator, in order: judged in
    this process as the iterator is read, or at once in `workers` processes. These are started by a fork server
    that imported the judge once (forking this process, which holds the store's connection and perhaps a crawl's
    threads, is not safe); each keeps its own memos, which never change a judgement
    (tests/test_assess_incremental.py)."""
    if workers <= 1:
        yield lambda models: map(judge, models)
        return
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["crawler.assess", "spacy", "spacy.lang.en"])  # the judge imports spaCy late
    with context.Pool(workers) as pool:
        yield lambda models: pool.imap(judge, models, chunksize=JUDGE_BATCH)


def _save(db: sqlite_utils.Database, loaded: _Loaded, judged: Judged | Failed, run_id: int | None) -> Failed | None:
    """Write a judged model inside the caller's transaction: judgements, evidence, flag, history, inputs. Writing
    is part of judging: a judgement the store cannot hold (a string no UTF-8 can encode, read from an answer's JSON
    escapes) fails this model alone, its writes undone (a savepoint). Returns the model's failure, if any."""
    subject = loaded.subject
    if isinstance(judged, Judged):
        try:
            with db.atomic():
                public_urls = save_judgements(db, subject["id"], judged.judgements, subject["revision"])
                save_flag(db, subject["id"], judged.flag, subject["revision"])
                save_relicensed(db, subject["id"], judged.relicensed, judged.judgements, subject["revision"])
                history.record(db, run_id, subject["id"],
                               history_values(subject, judged.judgements, judged.facts, public_urls), EXTRACTOR_VERSION)
                db.execute("update subjects set assess_pending = 0, assessed_inputs = ? where id = ?",
                           [loaded.fingerprint, subject["id"]])
            return None
        except Exception as exc:  # noqa: BLE001 (recorded against the model: one model never stops the others)
            judged = failure("saving", exc, (loaded.model,), subject["url"], subject["revision"])
    _save_failed(db, subject, judged, run_id, loaded.fingerprint)
    return judged


def _save_failed(db: sqlite_utils.Database, subject: dict, failed: Failed, run_id: int | None,
                 fingerprint: str | None) -> None:
    """Write a model the judge failed on (inside the caller's transaction): the failure in `errors` (kind `judge`,
    once a run), its judgements `unknown` naming it, no flag, its pending mark cleared. With the fingerprint of its
    inputs (a judging failure), a later run judges it again only when its inputs or the judge change; a model that
    could not be loaded has none, and is tried again by the next assessment of every model."""
    known = db.execute("select 1 from errors where subject_id = ? and kind = 'judge' and reason = ? and run_id is ?",
                       [subject["id"], failed.reason, run_id]).fetchone()
    if not known:
        db["errors"].insert({"run_id": run_id, "source": "huggingface", "subject_id": subject["id"],
                             "url": failed.url, "kind": "judge", "http_status": None, "reason": failed.reason,
                             "at": utcnow()})
    judgements = failed_judgements(failed)
    public_urls = save_judgements(db, subject["id"], judgements, subject["revision"])
    save_flag(db, subject["id"], None)
    save_relicensed(db, subject["id"], None)
    history.record(db, run_id, subject["id"], history_values(subject, judgements, {}, public_urls), EXTRACTOR_VERSION)
    db.execute("update subjects set assess_pending = 0, assessed_inputs = ? where id = ?",
               [fingerprint, subject["id"]])
