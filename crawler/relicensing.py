"""Store the `relicensed` flag (extractors/lineage.py) beside the openwashing flag: one current a model, kept in
place while the same licence is declared over the same base licence (its id, creation time and any analyst verdict
stay), else replaced: deleted when nobody reviewed it, marked `superseded` when somebody did.

Its columns, as the flags table has them: `claim` the derivative's licence declaration, `claim_location` where the
card makes it, `failing_criteria` `licenses=<level of the base's licence>`, `promised` the licence criterion with
the machine's level, `rule_ids` the lineage rule, `evidence` (JSON) both licences, the base chain walked and the
clause that carries the base's licence over."""

from __future__ import annotations

import json

import sqlite_utils

from crawler.public import PublicLinks, subject_url
from crawler.store import retire_flag, utcnow
from extractors.lineage import RelicensedFlag
from extractors.types import Judgement

KIND = RelicensedFlag.kind


def save_relicensed(db: sqlite_utils.Database, subject_id: str, flag: RelicensedFlag | None,
                    judgements: list[Judgement] = (), revision: str | None = None) -> None:
    """Keep the model's `relicensed` flag current (inside the caller's transaction)."""
    failing = f"licenses={flag.base_level}" if flag else None
    evidence = json.dumps(flag.relicensing.evidence) if flag else None
    current = None
    for row in db.query("select id, claim, failing_criteria, evidence, status from flags where subject_id = ? and "
                        "kind = ? and status != 'superseded'", [subject_id, KIND]):
        if flag is not None and current is None and row["claim"] == flag.claim and row["evidence"] == evidence:
            current = row
            continue
        retire_flag(db, row)
    if flag is None:
        return
    level = next((j.level for j in judgements if j.criterion == "licenses"), "unknown")
    declaration = flag.declaration
    page = subject_url(subject_id, revision)
    location = PublicLinks(db).public(declaration.url, page, declaration.artifact_id, declaration.line_start,
                                      declaration.line_end) if declaration else page
    values = {"severity": flag.severity, "claim_location": location,
              "claim_fetched_url": declaration.url if declaration else None, "kind": KIND,
              "failing_criteria": failing, "promised": json.dumps([{"criterion": "licenses", "level": level}]),
              "rule_ids": flag.relicensing.rule_id}
    if current is not None:
        db.execute(f"update flags set {', '.join(f'{column} = ?' for column in values)} where id = ?",
                   [*values.values(), current["id"]])
    else:
        row = {"subject_id": subject_id, "claim": flag.claim, "evidence": evidence, **values,
               "created_at": utcnow(), "status": "open"}
        db.execute(f"insert into flags ({', '.join(row)}) values ({', '.join('?' for _ in row)})", list(row.values()))
