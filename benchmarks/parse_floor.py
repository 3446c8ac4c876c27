"""Benchmark: the floor the Markdown parse sets under judging (not a test; prints figures).

Times markdown-it-py's tokens alone, and `extractors.markdown.parse` (blocks and links, what the judges read), over
every distinct card and README text of a store; then judges every model of the store in this process, counting the
texts it parses and the time in the parse, and prints the judging rate that the parse alone allows on one core. Run
after `make demo` (real cards), or on any store:

    .venv/bin/python benchmarks/parse_floor.py --db demo.db
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import time
from pathlib import Path

import sqlite_utils

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawler.assess import load_model  # noqa: E402
from crawler.store import decode_text, inflate  # noqa: E402
from extractors import assess_model, markdown  # noqa: E402
from extractors import text as text_module  # noqa: E402

TEXTS = ("select distinct b.content, b.encoding from artifacts a join blobs b on b.sha256 = a.content_sha256 "
         "where a.kind in ('card', 'readme')")
MODELS = "select * from subjects where kind = 'model' and revision is not null order by id"


def read_only(db_path: Path) -> sqlite3.Connection:
    """The store opened read-only: a measurement changes nothing in it (no migration, no journal mode)."""
    return sqlite3.connect(f"file:{db_path.resolve()}?mode=ro", uri=True)


def milliseconds(parse, texts: list[str]) -> list[float]:
    times = []
    for text in texts:
        start = time.perf_counter()
        parse(text)
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)


def judge_counting_parses(db_path: Path) -> tuple[int, int, float, float]:
    """(models, texts parsed, seconds judging, seconds of it in the parse): every model judged once, cold."""
    parsed, in_parse = [0], [0.0]
    parse = text_module.parse

    def timed_parse(text: str, first_line: int = 1):
        start = time.perf_counter()
        try:
            return parse(text, first_line)
        finally:
            parsed[0] += 1
            in_parse[0] += time.perf_counter() - start

    text_module.parse = timed_parse  # what `extractors.text.document` calls, once per distinct text (memoised)
    db = sqlite_utils.Database(read_only(db_path))
    subjects = list(db.query(MODELS))
    start = time.perf_counter()
    for subject in subjects:
        assess_model(load_model(db, subject))
    return len(subjects), parsed[0], time.perf_counter() - start, in_parse[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, required=True, help="A store written by `openness crawl` or `demo`.")
    args = parser.parse_args()
    if not args.db.exists():
        raise SystemExit(f"no store at {args.db}")
    con = read_only(args.db)
    texts = [decode_text(inflate(content, encoding)) for content, encoding in con.execute(TEXTS)]  # m018
    con.close()
    if not texts:
        raise SystemExit(f"{args.db} holds no card or README")
    for name, parse in (("markdown-it-py tokens", markdown.PARSER.parse), ("blocks and links", markdown.parse)):
        times = milliseconds(parse, texts)
        print(f"{name:<22} {len(times)} texts: median {statistics.median(times):.1f} ms, mean "
              f"{statistics.mean(times):.1f} ms, p90 {times[int(len(times) * 0.9)]:.1f} ms, total "
              f"{sum(times) / 1000:.2f} s")
    models, parsed, judging, in_parse = judge_counting_parses(args.db)
    if not models or not parsed:
        raise SystemExit(f"{args.db} holds no crawled model whose judging parses a text")
    floor = 1000 * in_parse / models
    print(f"judging {models} models in one process: {1000 * judging / models:.1f} ms a model "
          f"({models / judging:.1f} models/s), of which the parse {floor:.1f} ms ({parsed} texts, "
          f"{parsed / models:.2f} a model): the parse alone allows at most {1000 / floor:.0f} models/s on one core")


if __name__ == "__main__":
    main()
