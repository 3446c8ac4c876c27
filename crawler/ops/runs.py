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
# Answers that are facts about the world, not failures of the run: a repo that does not exist, a replica or mirror
# that holds no copy of something that exists.
ABSENCE_STATUSES = (404, 501)


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


def error_split(db: sqlite_utils.Database, run_id: int) -> dict[str, int]:
    """The run's recorded errors: `absent` (404 / 501, expected in a real graph) and `failed` (everything else)."""
    marks = ", ".join("?" for _ in ABSENCE_STATUSES)
    absent = db.execute(f"select count(*) from errors where run_id = ? and http_status in ({marks})",
                        [run_id, *ABSENCE_STATUSES]).fetchone()[0]
    total = db.execute("select count(*) from errors where run_id = ?", [run_id]).fetchone()[0]
    return {"absent": absent, "failed": total - absent}


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
                                    f"that do not exist or were not captured) (exit {EXIT_OK})")
