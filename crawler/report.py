"""Reading judgements back out of the store, as data: for tools (JSON) and for crawler/terminal.py, which prints it."""

from __future__ import annotations

import json

import sqlite_utils

from crawler.public import subject_url
from crawler.table import gating_label
from crawler.store import is_confident, model_subject_id
from extractors.frameworks import verdicts



class NotCrawled(LookupError):
    """The model is not in the store."""


def model_report(db: sqlite_utils.Database, repo_id: str) -> dict:
    subject_id = model_subject_id(repo_id)
    # The exact id first, else the same model id in another case; never a GitHub repo of the same name
    # (THUDM/chatglm-6b the model and THUDM/ChatGLM-6B its code repo differ only in case).
    rows = list(db.query("select * from subjects where id = :id or (kind = 'model' and lower(repo_id) = lower(:repo)) "
                         "order by id != :id, id limit 1", {"id": subject_id, "repo": repo_id}))
    if not rows or db.execute("select 1 from judgements where subject_id = ? limit 1", [rows[0]["id"]]).fetchone() \
            is None:
        # Not crawled deep (or not judged yet): its tier-0 judgement, if the listing holds it.
        from crawler.tier0 import tier0_report

        if (listed := tier0_report(db, repo_id)) is not None:
            return listed
    if not rows:
        raise NotCrawled(f"{repo_id}: not in the store (crawl it first: openness crawl {repo_id})")
    subject = rows[0]
    judgements = []
    for row in db["judgements"].rows_where("subject_id = ?", [subject["id"]], order_by="criterion"):
        evidence = [evidence_item(e) for e in db["evidence"].rows_where(
            "subject_id = ? and criterion = ?", [subject["id"], row["criterion"]], order_by="ordinal")]
        judgements.append({"criterion": row["criterion"], "level": row["level"], "tier": row.get("tier") or "deep",
                           "confidence": row["confidence"],
                           "confident": is_confident(row["level"], row["confidence"]),
                           "summary": row["summary"], "rule_ids": row["rule_ids"].split(",") if row["rule_ids"] else [],
                           "extractor_version": row["extractor_version"], "basis": row.get("basis"),
                           "searched": json.loads(row["searched"]) if row.get("searched") else [],
                           "evidence": evidence})
    latest_errors = {(e["kind"], e["url"]): e for e in db["errors"].rows_where("subject_id = ?", [subject["id"]],
                                                                                order_by="id")}
    errors = [{"fetched_url": e["url"], **{k: e[k] for k in ("kind", "http_status", "reason", "run_id")}}
              for e in latest_errors.values()]
    frameworks = verdicts({j["criterion"]: j["level"] for j in judgements})
    capture = next(iter(db.query("select capture from model_capture where subject_id = ?", [subject["id"]])), {})
    return {"model": subject["repo_id"], "subject_id": subject["id"], "tier": "deep", "frameworks": frameworks,
            "public_url": subject_url(subject["id"], subject["revision"]), "fetched_url": subject["url"],
            "revision": subject["revision"], "status": subject["status"], "gating": gating_label(subject["gated"]),
            "capture": capture.get("capture"), "judgements": judgements, "errors": errors}


def evidence_item(row: dict) -> dict:
    """A stored evidence row as people and tools read it (show, exports): its public URL, with the lines quoted, and
    the URL it was fetched from, named as such."""
    return {"rule_id": row["rule_id"], "public_url": row["public_url"], "fetched_url": row["url"],
            **{k: row[k] for k in ("revision", "file", "line_start", "line_end", "snippet", "confidence")}}


SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


def flag_rows(db: sqlite_utils.Database, kind: str | None = None, severity: str | None = None) -> list[dict]:
    """Openwashing flags, worst first (optionally of one kind or severity): the claim quoted where it stands with its
    kind, and each promised criterion with its level and first evidence row."""
    rows = [dict(r) for r in db.query(
        "select f.id, s.id as subject_id, s.repo_id as model, f.severity, f.kind, f.claim, f.claim_location, "
        "f.claim_fetched_url, f.promised, f.failing_criteria, f.rule_ids, f.status, f.evidence "
        "from flags f join subjects s on s.id = f.subject_id "
        "where f.status != 'superseded' and (:kind is null or f.kind = :kind) and "
        "(:severity is null or f.severity = :severity)",
        {"kind": kind, "severity": severity})]
    for row in rows:
        promised = json.loads(row.pop("promised") or "[]")
        for item in promised:
            first = next(iter(db["evidence"].rows_where(
                "subject_id = ? and criterion = ?", [row["subject_id"], item["criterion"]], order_by="ordinal",
                limit=1, select="rule_id, public_url, url as fetched_url, line_start, snippet")), None)
            item["evidence"] = dict(first) if first else None
        row["promised"] = promised
        # The promises the machine could not decide: what the analyst must look at beside the broken ones.
        row["undecided"] = [item["criterion"] for item in promised if item["level"] == "unknown"]
        row["rule_ids"] = (row["rule_ids"] or "").split(",") if row["rule_ids"] else []
        row["evidence"] = json.loads(row["evidence"]) if row["evidence"] else None  # a relicensed flag's lineage
        del row["subject_id"]
    return sorted(rows, key=lambda r: (SEVERITY_ORDER.get(r["severity"], 9), -len(r["failing_criteria"].split(",")),
                                       r["model"].lower()))