"""The run lifecycle for schedulers: dead runs found and marked `abandoned`, and how a run ends (status, exit code,
the final line that says which)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from crawler.store import utcnow

EXIT_OK = 0  # success: everything asked was fetched, or is recorded as absent (404) or not captured (501)
EXIT_WITH_ERRORS = 1  # finished, with failures recorded in `errors` (after retries: 5xx, network, parse, spider)
EXIT_FAILED = 2  # nothing useful fetched, bad configuration, or the store is locked by another process
LIVE_STATUSES = ("running", "assessing")


def stat_merge(key: str, value) -> str | None:
    """How one crawler's Scrapy stat joins a run's counts, over the crawlers of a run (the Hub's and GitHub's, or
    several processes): "sum" for a counter; "max" for a process's memory peak (`memusage/`), since the peaks of
    processes in turn do not add up; None for what means nothing summed (flags, texts, rates per minute)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or key.endswith("_per_minute"):
        return None
    return "max" if key.startswith("memusage/") else "sum"


def add_stat(counts: dict, key: str, value) -> None:
    """Add one crawler's Scrapy stat to a run's counts (`stat_merge`)."""
    merge = stat_merge(key, value)
    if merge == "max":
        counts[key] = max(counts.get(key, 0), value)
    elif merge == "sum":
        counts[key] = counts.get(key, 0) + value


def abandon_dead_runs(db: sqlite_utils.Database) -> list[int]:
    """Mark `abandoned` every run still `running` or `assessing`. Called with the store's lock held, so no live
    process can own such a run: its process died (kill -9, power loss) before it could finish."""
    dead = [row["id"] for row in db.query(
        f"select id from crawl_runs where status in ({', '.join('?' for _ in LIVE_STATUSES)}) order by id",
        list(LIVE_STATUSES))]
    with db.conn:
        for run_id in dead:
            db["crawl_runs"].update(run_id, {"status": "abandoned", "finished_at": utcnow(),
                                             "note": "its process ended without finishing (killed?); the next run "
                                                     "completed its work"})
    return dead


# Why a fetch is in `errors`, in words, and whether a working crawl expects it: the Hub graph names repos that do
# not exist, a replica or mirror holds no copy of some, gated files need approval. The rest are failures.
CAUSES = {
    "not captured": (True, "the replica or mirror holds no copy (501 NotCaptured): it exists, its content is unknown"),
    "missing repo": (True, "a repo the graph names does not exist (404)"),
    "missing file": (True, "a file the repo names is not there (404)"),
    "gated": (True, "the files need approval (401 GatedRepo)"),
    "refused id": (True, "a card or the run's arguments name something that is not a repo id by its host's rules "
                         "(a path, a URL, too long, a look-alike): refused, neither linked nor crawled"),
    "bound": (True, "a bound on what a third party controls was reached (the setting is named): the rest was not "
                    "followed"),
    "failed after retries": (False, "5xx, 429 or a network failure that outlasted the retries"),
    "parse": (False, "an answer that could not be read"),
    "spider exception": (False, "a bug of ours on some input, recorded against the URL"),
    "judge exception": (False, "the judge failed on a model's documents: its judgements are unknown, naming it"),
}
CAUSE_SQL = """case
    when http_status = 501 then 'not captured'
    when http_status = 404 and kind in ('model_json', 'dataset_json', 'gh_repo_json') then 'missing repo'
    when http_status = 404 then 'missing file'
    when http_status in (401, 403) and lower(reason) like '%gated%' then 'gated'
    when kind = 'spider' then 'spider exception'
    when kind = 'refused_id' then 'refused id'
    when kind = 'bound' then 'bound'
    when kind = 'judge' then 'judge exception'
    when kind = 'parse' or reason like '%unreadable%' or reason like '%not a JSON%' then 'parse'
    else 'failed after retries' end"""


def error_rows(db: sqlite_utils.Database, run_id: int, kind: str | None = None, cause: str | None = None) -> list[dict]:
    """A run's recorded errors (optionally of one artifact kind or cause), each with its cause, whether a working
    crawl expects it, and the model or repo it belongs to."""
    rows = [dict(r) for r in db.query(
        f"select e.*, s.repo_id as model from (select id, run_id, {CAUSE_SQL} as cause, kind, http_status, "
        f"subject_id, url as fetched_url, reason from errors where run_id = :run) e "
        f"left join subjects s on s.id = e.subject_id "
        f"where (:kind is null or e.kind = :kind) and (:cause is null or e.cause = :cause) order by e.id",
        {"run": run_id, "kind": kind, "cause": cause})]
    for row in rows:
        row["expected"] = CAUSES[row["cause"]][0]
    return rows


def error_causes(db: sqlite_utils.Database, run_id: int) -> dict[str, int]:
    """The run's recorded errors by cause (CAUSES), commonest first."""
    return {row["cause"]: row["n"] for row in db.query(
        f"select {CAUSE_SQL} as cause, count(*) as n from errors where run_id = ? group by 1 order by 2 desc, 1",
        [run_id])}


def error_split(db: sqlite_utils.Database, run_id: int) -> dict[str, int]:
    """The run's recorded errors: `absent` (expected causes: not captured, missing, gated, a refused id, a bound
    reached) and `failed` (the rest)."""
    causes = error_causes(db, run_id)
    absent = sum(n for cause, n in causes.items() if CAUSES[cause][0])
    return {"absent": absent, "failed": sum(causes.values()) - absent, "causes": causes}


def errors_line(run_id: int, causes: dict[str, int], hint: bool = True) -> str:
    """`errors: 450 — expected: 292 not captured, 158 missing repo; failures: none (openness errors --run 3)`; without
    the hint when the caller prints a command that runs as printed on a line of its own."""
    if not causes:
        return "errors: none"
    expected = [f"{n} {c}" for c, n in causes.items() if CAUSES[c][0]]
    failed = [f"{n} {c}" for c, n in causes.items() if not CAUSES[c][0]]
    return (f"errors: {sum(causes.values())} — expected: {', '.join(expected) or 'none'}; failures: "
            f"{', '.join(failed) or 'none'}" + (f" (openness errors --run {run_id} lists them)" if hint else ""))


def useful_answers(counts: dict) -> int:
    """Answers that told us something: any status but a server failure or a rate limit (a 404 says the repo does
    not exist, a 304 that the stored copy is current). Refused connections and timeouts are no answer at all."""
    return sum(v for k, v in counts.items() if k.startswith("downloader/response_status_count/")
               and k.rsplit("/", 1)[1].isdigit() and int(k.rsplit("/", 1)[1]) < 500
               and int(k.rsplit("/", 1)[1]) != 429)


@dataclass(frozen=True)
class Outcome:
    status: str  # completed | interrupted | failed
    exit_code: int
    line: str


def outcome(run_id: int, status: str, counts: dict, errors: dict[str, int]) -> Outcome:
    if status == "interrupted":
        return Outcome(status, 130, f"run {run_id}: interrupted; run the same command again to complete it")
    if status == "completed" and useful_answers(counts) == 0:
        return Outcome("failed", EXIT_FAILED, f"run {run_id}: failed: no request was answered ({errors['failed']} "
                                              f"failures recorded; is the endpoint right?) (exit {EXIT_FAILED})")
    if status != "completed":
        return Outcome("failed", EXIT_FAILED, f"run {run_id}: failed (exit {EXIT_FAILED})")
    if errors["failed"]:
        return Outcome(status, EXIT_WITH_ERRORS, f"run {run_id}: completed with {errors['failed']} failures recorded "
                                                 f"(and {errors['absent']} absences); see the errors table "
                                                 f"(exit {EXIT_WITH_ERRORS})")
    return Outcome(status, EXIT_OK, f"run {run_id}: completed; {errors['absent']} absences recorded (repos or files "
                                    f"that do not exist or were not captured, ids refused, bounds reached) "
                                    f"(exit {EXIT_OK})")


def run_ending(db, run_id: int, status: str, counts: dict) -> Outcome:
    """How the run ends from what it recorded so far: its errors counted into `counts`, by cause."""
    counts["openness/errors"] = db["errors"].count_where("run_id = ?", [run_id])
    split = error_split(db, run_id)
    counts.update({f"openness/errors_by_cause/{cause}": n for cause, n in split["causes"].items()})
    return outcome(run_id, status, counts, split)
