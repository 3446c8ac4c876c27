"""What the analysts' pages show, read from the store: the home page (flags worst first, the review queue, the last
run's changes, the league table), one model (its 14 criteria in the index's order with every evidence item) and one
flag (its claim, each promise with its evidence, the verdicts given). Plain functions over a SQLite connection (the
plugin runs them on Datasette's read connection); the templates escape every text, which comes from cards."""

from __future__ import annotations

import json
import sqlite3

import sqlite_utils

from crawler import table
from crawler.ids import BadId, model_id
from crawler.report import NotCrawled, model_report
from crawler.review.metadata import CHANGES, FLAGGED, REVIEW_QUEUE

NAMES = {key: name for key, _, name in table.COLUMNS}
CODES = {key: code for key, code, _ in table.COLUMNS}
FLAG_VERDICTS = ("confirmed", "dismissed", "needs evidence")
OVERRIDE_LEVELS = ("open", "partial", "closed")
HOME_ROWS = 200  # rows of the queue and of the changes on the home page; the rest are in Datasette's views


class NotFound(LookupError):
    """An id the store does not hold (or that is no id); the message says which, for the 404 page."""


def _db(conn: sqlite3.Connection) -> sqlite_utils.Database:
    return sqlite_utils.Database(conn)


def _rows(conn: sqlite3.Connection, sql: str, params=()) -> list[dict]:
    cursor = conn.execute(sql, params)
    columns = [c[0] for c in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


def home(conn: sqlite3.Connection) -> dict:
    db = _db(conn)
    # table.rows ranks the judged models and lists those whose judgements decide nothing after them
    league = [{"model": row.model, "score": table.score_text(row), "capture": row.capture,
               "cells": [{"code": code, "name": name, **row.cells.get(key, {"level": "unknown"})}
                         for key, code, name in table.COLUMNS]} for row in table.rows(db)]
    return {"flags": _rows(conn, FLAGGED, {"severity": ""}),
            "queue": _rows(conn, REVIEW_QUEUE + f" limit {HOME_ROWS}"),
            "queue_total": conn.execute("select count(*) from review_queue").fetchone()[0],
            "changes": _rows(conn, CHANGES + f" limit {HOME_ROWS}"),
            "league": league, "columns": table.COLUMNS}


def parse_model(text: str) -> str:
    """The model id a pasted Hub URL (with any /tree/… tail) or id names, as the CLI reads it."""
    try:
        return model_id(text)
    except BadId as exc:
        raise NotFound(str(exc)) from exc


def model(conn: sqlite3.Connection, text: str) -> dict:
    """Everything the model page shows; NotFound when `text` names no model of the store."""
    db = _db(conn)
    try:
        report = model_report(db, parse_model(text))
    except NotCrawled as exc:
        raise NotFound(str(exc)) from exc
    subject = report["subject_id"]
    effective = {r["criterion"]: r for r in _rows(
        conn, "select criterion, level, reviewer, review_note, reviewed_at from effective_judgements "
              "where subject_id = ?", [subject])}
    by_key = {j["criterion"]: j for j in report["judgements"]}
    criteria = []
    for key, code, name in table.COLUMNS:
        judgement = by_key.get(key) or {"level": "unknown", "confidence": None, "confident": False,
                                        "summary": "not judged", "evidence": [], "searched": []}
        override = effective.get(key) or {}
        criteria.append({"key": key, "code": code, "name": name, **judgement,
                         "effective": override.get("level") or judgement["level"],
                         "overridden_by": override.get("reviewer"), "override_note": override.get("review_note")})
    return {**report, "criteria": criteria,  # report names the model's capture state and gating
            "flags": _rows(conn, "select id, severity, kind, claim, claim_location, failing_criteria, status "
                                 "from flags where subject_id = ? order by status = 'superseded', id desc",
                           [subject]),
            "reviews": _rows(conn, "select * from reviews where subject_id = ? order by id desc", [subject]),
            "history": _rows(conn, "select run_id, aspect, value, summary, recorded_at from history "
                                   "where subject_id = ? order by id desc limit 200", [subject]),
            "frameworks": list(report["frameworks"].values()), "names": NAMES, "levels": OVERRIDE_LEVELS}


def flag(conn: sqlite3.Connection, flag_id: str) -> dict:
    """Everything the flag page shows; NotFound for an id no flag has."""
    found = _rows(conn, "select f.*, s.repo_id as model from flags f join subjects s on s.id = f.subject_id "
                        "where f.id = ?", [flag_id]) if flag_id.isdigit() else []
    if not found:
        raise NotFound(f"no flag {flag_id!r} in this store")
    row = found[0]
    promises = []
    for promise in json.loads(row["promised"] or "[]"):
        key = promise["criterion"]
        now = conn.execute("select e.level, j.confidence, j.summary from effective_judgements e join judgements j "
                           "using (subject_id, criterion) where subject_id = ? and criterion = ?",
                           [row["subject_id"], key]).fetchone()
        promises.append({"key": key, "name": NAMES.get(key, key), "level": now[0] if now else promise["level"],
                         "flagged_level": promise["level"], "confidence": now[1] if now else None,
                         "summary": now[2] if now else "",
                         "evidence": _rows(conn, "select * from evidence where subject_id = ? and criterion = ? "
                                                 "order by ordinal", [row["subject_id"], key])})
    return {"flag": row, "promises": promises, "verdicts": FLAG_VERDICTS, "levels": OVERRIDE_LEVELS,
            "reviews": _rows(conn, "select * from reviews where flag_id = ? or (subject_id = ? and criterion in "
                                   f"({', '.join('?' for _ in promises) or 'null'})) order by id desc",
                             [row["id"], row["subject_id"], *(p["key"] for p in promises)])}


class Refused(ValueError):
    """A verdict form filled in a way the store would refuse; the message says what to change."""


def _check(verdict: str | None, overrides: dict[str, str], note: str) -> None:
    if verdict and verdict not in FLAG_VERDICTS:
        raise Refused(f"a verdict is one of {', '.join(FLAG_VERDICTS)}")
    if any(level not in OVERRIDE_LEVELS for level in overrides.values()):
        raise Refused(f"a level is one of {', '.join(OVERRIDE_LEVELS)}")
    if not verdict and not overrides:
        raise Refused("choose a verdict or a level to record")
    if not note.strip():
        raise Refused("a review needs a note saying why")


def record(conn: sqlite3.Connection, reviewer: str, now: str, note: str, subject_id: str,
           flag_id: int | None = None, verdict: str | None = None, overrides: dict[str, str] | None = None) -> int:
    """Write a verdict on a flag and/or level overrides of a model's judgements (criterion -> level) as `reviews`
    rows in one transaction, recording what the analyst saw (the claim, the machine's level); the rows written."""
    overrides = overrides or {}
    _check(verdict, overrides, note)
    written = 0
    with conn:
        if verdict:
            written += conn.execute(
                "insert into reviews (subject_id, flag_id, verdict, note, reviewer, created_at, claim_seen) "
                "select subject_id, id, ?, ?, ?, ?, claim from flags where id = ? and subject_id = ?",
                [verdict, note, reviewer, now, flag_id, subject_id]).rowcount
        for criterion, level in overrides.items():
            written += conn.execute(
                "insert into reviews (subject_id, criterion, verdict, level_override, level_seen, note, reviewer, "
                "created_at) select subject_id, criterion, 'override', ?, level, ?, ?, ? from judgements "
                "where subject_id = ? and criterion = ?",
                [level, note, reviewer, now, subject_id, criterion]).rowcount
    return written
