"""One model's record for every export, read from the store a model at a time (memory stays flat however many)."""

from __future__ import annotations

import json
from importlib.metadata import version
from typing import Iterator

import sqlite_utils

from crawler.public import subject_url
from crawler.report import evidence_item
from crawler.store import SCHEMA_VERSION, is_confident, utcnow
from crawler.table import gating_label
from extractors import CRITERIA, EXTRACTOR_VERSION
from extractors.frameworks import verdicts

FORMAT_VERSION = "1.0"


def header(db: sqlite_utils.Database, export_format: str, effective: bool) -> dict:
    """What every export says about itself: tool, format, extractors, schema, the crawl it comes from."""
    run = next(iter(db.query("select id, started_at, finished_at from crawl_runs where status = 'completed' "
                             "order by id desc limit 1")), None) or {}
    return {"record": "header", "tool": "openness-crawler", "tool_version": version("openness-crawler"),
            "format": export_format, "format_version": FORMAT_VERSION, "extractor_version": EXTRACTOR_VERSION,
            "schema_version": SCHEMA_VERSION, "crawl_run_id": run.get("id"), "crawl_run_finished_at":
            run.get("finished_at"), "exported_at": utcnow(),
            "levels": "analysts' overrides where they exist (effective)" if effective else "the machine's judgements"}


def subject_rows(db: sqlite_utils.Database, model_ids: list[str] | None) -> Iterator[dict]:
    where, args = "kind = 'model' and revision is not null", []
    if model_ids:
        where += f" and lower(repo_id) in ({', '.join('?' for _ in model_ids)})"
        args = [m.lower() for m in model_ids]
    last = ""
    while True:  # keyset pages: never the whole table in memory
        page = list(db.query(f"select * from subjects where {where} and id > ? order by id limit 500", [*args, last]))
        if not page:
            return
        yield from page
        last = page[-1]["id"]


def model_record(db: sqlite_utils.Database, subject: dict, effective: bool = False) -> dict:
    """Ids, revision, public URLs, the 14 judgements with evidence and what was searched, flags, reviews and
    framework verdicts. `effective`: levels as analysts overrode them (the machine's kept beside)."""
    overrides = {r["criterion"]: r for r in db.query(
        "select criterion, level, reviewer, review_note from effective_judgements where subject_id = ? and "
        "reviewer is not null", [subject["id"]])} if effective else {}
    judgements = []
    for row in db.query("select * from judgements where subject_id = ? order by criterion", [subject["id"]]):
        evidence = [evidence_item(e) for e in db.query(
            "select * from evidence where subject_id = ? and criterion = ? order by ordinal",
            [subject["id"], row["criterion"]])]
        override = overrides.get(row["criterion"])
        judgements.append({
            "criterion": row["criterion"], "level": override["level"] if override else row["level"],
            "machine_level": row["level"], "tier": row.get("tier") or "deep", "confidence": row["confidence"],
            "confident": is_confident(row["level"], row["confidence"]), "summary": row["summary"],
            "basis": row["basis"], "rule_ids": row["rule_ids"].split(",") if row["rule_ids"] else [],
            "searched": json.loads(row["searched"] or "[]"), "evidence": evidence,
            "review": {"reviewer": override["reviewer"], "note": override["review_note"]} if override else None})
    order = {c: i for i, c in enumerate(CRITERIA)}
    judgements.sort(key=lambda j: order.get(j["criterion"], 99))
    levels = {j["criterion"]: j["level"] for j in judgements}
    flags = [dict(f) for f in db.query("select id, severity, kind, claim, claim_location, claim_fetched_url, "
                                       "failing_criteria, status, evidence from flags where subject_id = ? and "
                                       "status != 'superseded'", [subject["id"]])]
    for flag in flags:  # a relicensed flag's lineage: both licences, the base chain, the carrying clause
        flag["evidence"] = json.loads(flag["evidence"]) if flag["evidence"] else None
    reviews = [dict(r) for r in db.query("select id, criterion, flag_id, verdict, level_override, level_seen, note, "
                                         "reviewer, created_at from reviews where subject_id = ? order by id",
                                         [subject["id"]])]
    licence = next(iter(db.query("select declared, licence_class from model_licences where subject_id = ?",
                                 [subject["id"]])), None)
    links = [dict(r) for r in db.query(
        "select l.relation, l.to_subject, s.status from links l left join subjects s on s.id = l.to_subject "
        "where l.from_subject = ? and (l.relation like 'base_model%' or l.relation = 'dataset') order by 1, 2",
        [subject["id"]])]
    return {"record": "model", "model": subject["repo_id"], "subject_id": subject["id"], "tier": "deep",
            "revision": subject["revision"], "status": subject["status"],
            "public_url": subject_url(subject["id"], subject["revision"]), "fetched_url": subject["url"],
            "declared_licence": json.loads(licence["declared"]) if licence and licence["declared"].startswith("{")
            else {}, "licence_class": licence["licence_class"] if licence else None,
            "base_models": [l["to_subject"].split(":", 2)[2] for l in links if l["relation"].startswith("base_model")],
            "datasets": [{"id": l["to_subject"].split(":", 2)[2], "status": l["status"] or "not crawled"}
                         for l in links if l["relation"] == "dataset"],
            "gated": subject["gated"], "gating": gating_label(subject["gated"]),
            "judgements": judgements, "flags": flags, "reviews": reviews, "frameworks": verdicts(levels)}


def records(db: sqlite_utils.Database, model_ids: list[str] | None = None,
            effective: bool = False, listing: bool = False) -> Iterator[dict]:
    """Every crawled model (tier deep), then with `listing` every model known from the listing only (tier
    `listing`, its evidence re-derived from the stored listing row: crawler.tier0.tier0_record). A model crawled
    deep is given once, deep."""
    from crawler.tier0 import tier0_only_ids, tier0_record

    for subject in subject_rows(db, model_ids):
        yield model_record(db, subject, effective)
    if not listing:
        return
    for model_id in tier0_only_ids(db, model_ids):
        if (record := tier0_record(db, model_id)) is not None:
            yield record
