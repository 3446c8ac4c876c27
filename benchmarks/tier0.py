"""Figures, not tests: the whole Hub in tiers, against the replica's synthetic Hub (`openness replica --synthetic N`:
real listing ids, borrowed real cards and file lists, marked synthetic).

For each size N:
- tier 0, `crawl --discover --tier listing` over N synthetic models (plus the snapshot's): wall time, models/s, API
  calls per 1000 models, peak RSS of the crawl, store bytes per listed model (file size after VACUUM / models);
then, once:
- tier 1, `crawl --tier deep --from-listing --deep-order downloads --deep-limit D` on the last store: requests per
  deep model by budget (Hub API, Hub resolver, GitHub);
- the budget model for the real Hub: the whole listing (2.9M models) at tier 0, and how many models a day get the
  deep tier, on 1 and on K tokens (of K accounts: the Hub's limits are per user).

    .venv/bin/python benchmarks/tier0.py                      # 100,000 and 1,000,000 models (about an hour)
    .venv/bin/python benchmarks/tier0.py --sizes 2000 --deep 20   # a quick look
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crawl import BUDGETS, OPENNESS, UNLIMITED, Replica, last_run, run  # noqa: E402 (the crawl benchmark's tools)

HUB_MODELS = 2_900_000  # public models, May 2026 (../shared/reference/hub-api.md)
FREE_TOKEN = {"api": 1000, "resolver": 5000}  # calls per 5 minutes with a free token (hub-api.md)
GITHUB_PER_HOUR = 5000
LISTING_KINDS = ("listing", "dataset_listing")


def store_bytes(db: Path, work: Path) -> int:
    copy = work / "vacuumed.db"
    copy.unlink(missing_ok=True)
    con = sqlite3.connect(db)
    con.execute("vacuum into ?", [str(copy)])
    con.close()
    return copy.stat().st_size


def tier0(size: int, work: Path) -> dict:
    db = work / f"tier0-{size}.db"
    with Replica("--synthetic", str(size)) as replica:
        seconds, rss, _ = run([*OPENNESS, "crawl", "--discover", "--tier", "listing", *UNLIMITED, "--db", str(db),
                               "--hf-endpoint", replica.url])
    con = sqlite3.connect(db)
    listed, judged = con.execute("select (select count(*) from listed_models), (select count(*) from tier0)"
                                 ).fetchone()
    con.close()
    counts = last_run(db)["counts"]
    calls = sum(counts.get(f"openness/requests/{k}", 0) for k in LISTING_KINDS)
    other = sum(v for k, v in counts.items() if k.startswith("openness/requests/")) - calls
    return {"size": size, "db": db, "seconds": seconds, "rss_mb": rss, "listed": listed, "judged": judged,
            "calls": calls, "other_calls": other, "bytes": store_bytes(db, work) / max(listed, 1)}


def deep(db: Path, limit: int, size: int) -> dict:
    with Replica("--synthetic", str(size)) as replica:  # the Hub the listing was read from
        seconds, rss, _ = run([*OPENNESS, "crawl", "--tier", "deep", "--from-listing", "--deep-order", "downloads",
                               "--deep-limit", str(limit), *UNLIMITED, "--db", str(db), "--hf-endpoint", replica.url,
                               "--github-endpoint", replica.url])
    result = last_run(db)
    return {"seconds": seconds, "rss_mb": rss, "models": limit, **{b: result[b] for b in BUDGETS}}


def budget_lines(tier0_result: dict, deep_result: dict, tokens: int) -> list[str]:
    per_model = tier0_result["calls"] / tier0_result["listed"]
    calls = HUB_MODELS * per_model
    lines = ["budget model for the real Hub (a free token: 1000 API and 5000 resolver calls per 5 minutes; "
             f"GitHub {GITHUB_PER_HOUR} per hour):",
             f"  tier 0, the whole listing ({HUB_MODELS:,} models): {calls:,.0f} API calls "
             f"({1000 * per_model:.2f} per 1000 models): {calls / FREE_TOKEN['api'] * 5:,.0f} minutes on one token, "
             f"{calls / FREE_TOKEN['api'] * 5 / tokens:,.0f} on {tokens}"]
    per_deep = {b: deep_result[b] / deep_result["models"] for b in BUDGETS}
    per_day = {"api": FREE_TOKEN["api"] * 288, "resolver": FREE_TOKEN["resolver"] * 288,
               "github": GITHUB_PER_HOUR * 24}
    bound = {b: per_day[b] / per_deep[b] for b in per_deep if per_deep[b]}
    lines.append(f"  tier 1, per deep model: API {per_deep['api']:.2f}, resolver {per_deep['resolver']:.2f}, GitHub "
                 f"{per_deep['github']:.2f} calls (measured on {deep_result['models']} models, the most downloaded)")
    # The Hub token and the GitHub token are budgets of their own: each is said, and which one binds.
    for name, budgets in (("the Hub token's budgets", ("api", "resolver")),
                          ("the Hub's and the GitHub token's budgets", tuple(bound))):
        daily = min(bound[b] for b in budgets if b in bound)
        binding = min((b for b in budgets if b in bound), key=bound.get)
        lines.append(f"  deep models a day under {name}: {daily:,.0f} on one token ({binding} binds), "
                     f"{daily * tokens:,.0f} on {tokens}; the 100,000 most downloaded in {100_000 / daily:.2f} days "
                     f"on one token, {100_000 / daily / tokens:.2f} on {tokens}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--deep", type=int, default=200, help="deep models to measure tier 1 on")
    parser.add_argument("--tokens", type=int, default=4, help="K tokens for the budget model")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tier0-bench-") as folder:
        work = Path(folder)
        results = []
        print("tier 0 (crawl --discover --tier listing) over a synthetic Hub:")
        for size in args.sizes:
            result = tier0(size, work)
            results.append(result)
            per_1000 = 1000 * result["calls"] / result["listed"]
            print(f"  {result['listed']:>9,} models listed, {result['judged']:,} judged: {result['seconds']:7.1f} s, "
                  f"{result['listed'] / result['seconds']:6.0f} models/s, {per_1000:.2f}"
                  f" API calls per 1000 models ({result['other_calls']} other requests), peak RSS "
                  f"{result['rss_mb']:.0f} MB, store {result['bytes']:.0f} bytes per model")
        if len(results) > 1:
            low, high = results[0], results[-1]
            print(f"  peak RSS at {high['listed']:,} against {low['listed']:,}: "
                  f"{100 * (high['rss_mb'] / low['rss_mb'] - 1):+.0f}%")
        deep_result = deep(results[-1]["db"], args.deep, results[-1]["size"])
        print(f"tier 1 (crawl --tier deep --from-listing --deep-limit {args.deep}): {deep_result['seconds']:.1f} s, "
              f"peak RSS {deep_result['rss_mb']:.0f} MB")
        for text in budget_lines(results[-1], deep_result, args.tokens):
            print(text)


if __name__ == "__main__":
    main()
