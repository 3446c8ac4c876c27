"""The change history: every judgement level and model fact, versioned per run; `judgements` stays the current view.

A row is written only when a value differs from the last one recorded for the same model and aspect, so assessing
unchanged artifacts again (a resumed run, `openness assess`) writes nothing, and each row is one change."""

from __future__ import annotations

import json

import sqlite_utils

from crawler.store import utcnow

JUDGEMENT = "judgement:"


def record(db: sqlite_utils.Database, run_id: int | None, subject_id: str, values: dict[str, dict],
           extractor_version: str) -> int:
    """Append the aspects of `values` (aspect -> {value, summary, evidence}) that changed; returns how many.
    The caller holds the transaction, so history and judgements commit together."""
    latest = {row["aspect"]: row["value"] for row in db.query(
        "select aspect, value from history h where subject_id = ? and id = (select max(id) from history "
        "where subject_id = h.subject_id and aspect = h.aspect)", [subject_id])}
    now = utcnow()
    rows = [{"run_id": run_id, "subject_id": subject_id, "aspect": aspect, "value": entry["value"],
             "summary": entry.get("summary"), "evidence": json.dumps(entry.get("evidence"), sort_keys=True),
             "extractor_version": extractor_version, "recorded_at": now}
            for aspect, entry in sorted(values.items()) if latest.get(aspect) != entry["value"]]
    if rows:
        db["history"].insert_all(rows)
    return len(rows)


def changes(db: sqlite_utils.Database, since_run: int | None = None, since_date: str | None = None,
            subject_ids: list[str] | None = None, criterion: str | None = None, include_first: bool = False) -> list[dict]:
    """What changed, oldest first: each history row beside the value it replaced, with the evidence of both."""
    where, args = [], []
    if since_run is not None:
        where.append("run_id >= ?")
        args.append(since_run)
    if since_date is not None:
        where.append("recorded_at >= ?")
        args.append(since_date)
    if subject_ids:
        where.append(f"subject_id in ({', '.join('?' for _ in subject_ids)})")
        args += subject_ids
    if criterion is not None:
        where.append("aspect = ?")
        args.append(JUDGEMENT + criterion)
    if not include_first:
        where.append("old_value is not null")
    query = f"""
        select * from (
            select h.*, lag(value) over w as old_value, lag(summary) over w as old_summary,
                   lag(evidence) over w as old_evidence, lag(run_id) over w as old_run_id,
                   lag(recorded_at) over w as old_recorded_at
            from history h window w as (partition by subject_id, aspect order by id))
        {"where " + " and ".join(where) if where else ""}
        order by id"""
    found = []
    for row in db.query(query, args):
        found.append({
            "repo_id": row["subject_id"].split(":", 2)[-1], "subject_id": row["subject_id"], "aspect": row["aspect"],
            "run_id": row["run_id"], "recorded_at": row["recorded_at"],
            "old": None if row["old_value"] is None else {
                "value": row["old_value"], "summary": row["old_summary"], "run_id": row["old_run_id"],
                "recorded_at": row["old_recorded_at"], "evidence": json.loads(row["old_evidence"] or "null")},
            "new": {"value": row["value"], "summary": row["summary"],
                    "evidence": json.loads(row["evidence"] or "null")},
        })
    return found


def why_nothing_changed(db: sqlite_utils.Database, since: str | None, since_run: int | None = None,
                        since_date: str | None = None, include_first: bool = False, **filters) -> str:
    """Why `changes` (with the same options) lists nothing: no run yet, no run after --since, or only first values
    (hidden unless --include-first: after one run, every value is one)."""
    runs = db["crawl_runs"].count if db["crawl_runs"].exists() else 0
    if not runs:
        return "no changes: no run has been recorded yet (crawl first)"
    latest = next(iter(db.query("select id, started_at from crawl_runs order by id desc limit 1")))
    if since and (latest["id"] < since_run if since_run is not None else (latest["started_at"] or "") < since_date):
        return (f"no changes: no run after --since {since} (the latest is run {latest['id']}, started "
                f"{latest['started_at']})")
    first = 0 if include_first else len(changes(db, since_run, since_date, include_first=True, **filters))
    if first:
        only = "only one run so far, so every value is a first value: " if runs == 1 else ""
        return f"no changes: {only}{first} first values are hidden; --include-first lists them"
    return "no changes: nothing recorded matches these options"
