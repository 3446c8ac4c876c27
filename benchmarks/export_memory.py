"""Benchmark: peak memory and speed of `openness export` as the store grows (not a test; prints figures).

Builds synthetic stores of N models by cloning every judged model of a source store (the demo's) under new ids
`synthetic-K/<owner>__<name>` (derived data: marked by the ids, never bundled), then runs `openness export --format
jsonl` and `--format csv` on each in a child process and reads its peak RSS.

    .venv/bin/python benchmarks/export_memory.py --source demo.db --sizes 10000 100000
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLONED = {"subjects": "id, kind, source, repo_id, url, revision, status, gated, note, last_crawled_at, run_id",
          "judgements": "subject_id, criterion, level, confidence, rule_ids, summary, extractor_version, assessed_at, "
                        "basis, searched",
          "evidence": "subject_id, criterion, ordinal, artifact_id, url, revision, file, line_start, line_end, snippet, "
                      "rule_id, confidence, public_url"}


def build(source: Path, target: Path, size: int) -> None:
    shutil.copy(source, target)
    con = sqlite3.connect(target)
    models = [r for (r,) in con.execute("select id from subjects where kind = 'model' and revision is not null")]
    copies = -(-size // len(models))
    for copy in range(copies):
        prefix = f"hf:model:synthetic-{copy}/"
        for table, columns in CLONED.items():
            key = "id" if table == "subjects" else "subject_id"
            values = columns.replace(key, f"'{prefix}' || replace(substr({key}, 10), '/', '__')", 1)
            if table == "subjects":
                values = values.replace("repo_id", "'synthetic-' || " + str(copy) + " || '/' || replace(repo_id, '/', '__')", 1)
            con.execute(f"insert into {table} ({columns}) select {values} from {table} where {key} in "
                        f"(select id from subjects where kind = 'model' and revision is not null and id not like "
                        f"'hf:model:synthetic-%')")
        con.commit()
    con.close()


def measure(db: Path, export_format: str) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one export in a child process."""
    start = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run([sys.executable, "-m", "crawler", "export", "--format", export_format, "--db", str(db),
                    "--out", "/dev/null"], check=True, capture_output=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return time.monotonic() - start, max(peak, before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=Path("demo.db"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            db = Path(folder) / f"synthetic-{size}.db"
            started = time.monotonic()
            build(args.source, db, size)
            models = sqlite3.connect(db).execute("select count(*) from subjects where kind = 'model' and "
                                                 "revision is not null").fetchone()[0]
            print(f"{models} models: store built in {time.monotonic() - started:.0f} s, "
                  f"{db.stat().st_size / 1e6:.0f} MB", flush=True)
            for export_format in ("jsonl", "csv"):
                seconds, peak = measure(db, export_format)
                print(f"  export {export_format}: {seconds:.0f} s, {models / seconds:.0f} models/s, peak RSS "
                      f"{peak:.0f} MB (children's high-water mark so far)", flush=True)
            db.unlink()


if __name__ == "__main__":
    main()
