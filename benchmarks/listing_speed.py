"""Tier-0 speed: rows/s of extractors.listing.judge_listing on one core.

Rows are the replica's /api/models JSON for N synthetic models (ids, authors, dates and tasks from the real Hub
listing in data/hub-listing, cards and file lists borrowed round-robin from the snapshot's real captures, as
`openness replica --synthetic N` serves them), each judged with the snapshot's model rows as `bases` and its
dataset rows as `datasets`. Prints the figures; asserts nothing (a figure, not a test).

    .venv/bin/python benchmarks/listing_speed.py --rows 10000
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--passes", type=int, default=2, help="passes over the rows; the first warms the caches")
    args = parser.parse_args()

    from crawler.corpus import Corpus
    from crawler.replica.hub import derive_repo_json
    from extractors.listing import judge_listing

    corpus = Corpus(ROOT / "data" / "snapshot")
    bases = {repo.repo_id: derive_repo_json(repo) for repo in corpus.models.values()}
    datasets = {repo.repo_id: derive_repo_json(repo) for repo in corpus.datasets.values()}
    corpus.add_synthetic_models(args.rows, ROOT / "data" / "hub-listing" / "models-2023-10-01.csv.gz")
    rows = [derive_repo_json(repo) for repo in corpus.models.values()][-args.rows:]
    print(f"{len(rows)} rows, {sum(len(r.get('siblings') or ()) for r in rows) / len(rows):.1f} siblings a row")
    for number in range(1, args.passes + 1):
        started, cpu = time.perf_counter(), time.process_time()
        levels = {}
        for row in rows:
            for judgement in judge_listing(row, bases, datasets).judgements:
                levels[judgement.level] = levels.get(judgement.level, 0) + 1
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(f"pass {number}: {len(rows) / cpu:,.0f} rows/s of CPU ({cpu:.2f} s CPU, {elapsed:.2f} s wall: the machine is "
              f"shared); levels {dict(sorted(levels.items()))}")
    print(f"1,000,000 rows at the last pass's rate: {1_000_000 / (len(rows) / cpu) / 60:.1f} min on one core")


if __name__ == "__main__":
    main()
