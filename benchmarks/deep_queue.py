"""How long the deep crawl's queue (crawler/priority.py) takes over a large listing: N listed models (default 1M),
rows copied from a real tier-0 store (the rows the replica listed: `openness crawl --discover --tier listing` of a
replica of the snapshot, e.g. with --synthetic 2000), ids and shas made unique, of which 2% already judged deep
(a fifth of them at an older sha). Not a test: prints the figures.

    PYTHONPATH=. .venv/bin/python benchmarks/deep_queue.py TIER0_DB [N] [DB]
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

from crawler.priority import deep_queue, mark_claims
from crawler.store import open_db
from crawler.tier0 import listing_rows, unpack


def real_rows(tier0_db: Path) -> list[dict]:
    db = open_db(tier0_db)
    rows = [unpack(packed) for (packed,) in db.execute("select row from listed_models")]
    db.close()
    return rows


def build(db_path: Path, tier0_db: Path, n: int, deep_share: float = 0.02) -> None:
    templates = real_rows(tier0_db)
    db = open_db(db_path)
    rng = random.Random(0)
    run = db.execute("insert into crawl_runs (started_at, status) values ('2026-01-01', 'completed')").lastrowid
    page = []
    deep = []
    for i in range(n):
        row = dict(rng.choice(templates))
        row["id"] = f"org{i % 50000}/model-{i}"
        row["sha"] = f"{i:040x}"
        row["downloads"], row["likes"] = int(rng.paretovariate(1.2)), int(rng.paretovariate(1.5))
        page.append(row)
        if rng.random() < deep_share:
            deep.append((row["id"], row["sha"] if rng.random() < 0.8 else "0" * 40))
        if len(page) == 1000:
            with db.conn:
                db.conn.executemany("insert or replace into listed_models (id, sha, last_modified, downloads, likes, "
                                    "gated, row, run_id) values (?, ?, ?, ?, ?, ?, ?, ?)",
                                    listing_rows(page, "model", run))
            page = []
    with db.conn:
        db.conn.executemany("insert into subjects (id, kind, source, repo_id, revision) values (?, 'model', "
                            "'huggingface', ?, ?)", [(f"hf:model:{m}", m, sha) for m, sha in deep])
        db.conn.executemany("insert into judgements (subject_id, criterion, level) values (?, 'licenses', 'open')",
                            [(f"hf:model:{m}",) for m, _ in deep])
    db.close()


def main() -> None:
    tier0_db = Path(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    db_path = Path(sys.argv[3] if len(sys.argv) > 3 else f"/tmp/deep_queue_{n}.db")
    if not db_path.exists():
        started = time.perf_counter()
        build(db_path, tier0_db, n)
        print(f"built {n} listed models in {time.perf_counter() - started:.1f} s")
    db = open_db(db_path)
    db.execute("update listed_models set claims = null")
    db.conn.commit()
    started = time.perf_counter()
    marked = mark_claims(db)
    print(f"mark_claims (first time, every row): {marked} rows in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    print(f"mark_claims (again, nothing new): {mark_claims(db)} rows in {time.perf_counter() - started:.3f} s")
    for limit in (20, 1000, None):
        started = time.perf_counter()
        first = None
        count = 0
        for model_id in deep_queue(db, limit=limit):
            if first is None:
                first = time.perf_counter() - started
            count += 1
        print(f"deep_queue(limit={limit}): {count} ids, first after {first:.2f} s, all in "
              f"{time.perf_counter() - started:.2f} s")
    started = time.perf_counter()
    count = sum(1 for _ in deep_queue(db, limit=20, order=["downloads", "likes"]))
    print(f"deep_queue(limit=20, order=downloads,likes): {time.perf_counter() - started:.2f} s")
    db.close()


if __name__ == "__main__":
    main()
