"""Benchmark: the crawler at Hub scale against the loopback replica (not a test; prints figures).

For each size N, in one process tree: a replica serving N synthetic models (`openness replica --synthetic N`, ids and
shapes from the real 75k-model listing, cards and file lists borrowed from real captures) beside the bundled
snapshot, then

- a full first crawl (`crawl --discover`), an incremental recrawl of the unchanged Hub
  (`crawl --discover --incremental`) and one after 1% of the models changed (the replica restarted with
  `--mutate 0.01`): wall time, models/s, requests per model by budget (Hub API, Hub resolver, GitHub) and peak RSS;
- `assess` alone, every model judged again (`--force`) and unchanged (the default);
- the naive huggingface_hub loop (`model_info` + `ModelCard.load` + `list_repo_tree` per model) on a sample of the
  same replica, without and with simulated latency (`--delay`), beside our crawl of the same sample: the ratio;
- the budget model: from the requests per model measured and the Hub's published budgets, how long a first full
  crawl and a nightly incremental crawl (1% changed a day) of 2M models take, for one token and for K tokens.

    .venv/bin/python benchmarks/crawl.py --sizes 10000 100000     # make bench
    .venv/bin/python benchmarks/crawl.py --quick                    # a small size, to check the script runs
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OPENNESS = [sys.executable, "-m", "crawler"]
# The Hub's published budgets per 5 minutes with a token (../shared/reference/hub-api.md), and GitHub's per hour.
HUB_API_PER_5MIN, HUB_RESOLVER_PER_5MIN, GITHUB_PER_HOUR = 1000, 5000, 5000
HUB_MODELS, DAILY_CHANGE = 2_000_000, 0.01
LISTING_PAGE = 1000  # models per listing page the crawler asks for
# Request kinds (crawl_runs.counts `openness/requests/<kind>`) by the budget they spend.
BUDGETS = {"api": ("listing", "model_json", "dataset_json", "tree"), "resolver": ("card", "file"),
           "github": ("gh_repo_json", "gh_head", "gh_tree", "gh_readme", "gh_file", "gh_releases")}
JUDGING_PROCESSES = sorted({1, os.cpu_count() or 1})  # one process, then one per core
UNLIMITED = ["--api-budget", "100000000", "--resolver-budget", "100000000"]  # the replica is ours: no waiting


def run(command: list[str]) -> tuple[float, float, str]:
    """(seconds, peak RSS in MB of the child and its descendants, stdout) of one command."""
    start = time.monotonic()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"failed: {' '.join(command)}\n{out[-2000:]}")
    return time.monotonic() - start, usage.ru_maxrss / 1024, out


class Replica:
    def __init__(self, *args: str):
        self.proc = subprocess.Popen([*OPENNESS, "replica", "--corpus", str(ROOT / "data" / "snapshot"), *args],
                                     cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            raise SystemExit(f"the replica did not start: {self.url!r}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def last_run(db: Path) -> dict:
    con = sqlite3.connect(db)
    counts, started = con.execute("select counts, started_at from crawl_runs order by id desc limit 1").fetchone()
    models = con.execute("select count(*) from subjects where kind = 'model' and revision is not null").fetchone()[0]
    judged = con.execute("select count(distinct subject_id) from judgements where assessed_at >= ?",
                         [started]).fetchone()[0]
    con.close()
    counts = json.loads(counts or "{}")
    return {"models": models, "counts": counts, "judged": judged, "changed": counts.get("openness/repos/changed", 0),
            # Scrapy's elapsed time of the Hub and GitHub spiders: the fetch phase, before assessment.
            "fetch_seconds": counts.get("elapsed_time_seconds", 0.0),
            **{budget: sum(counts.get(f"openness/requests/{k}", 0) for k in kinds) for budget, kinds in BUDGETS.items()}}


def crawl(db: Path, url: str, *extra: str) -> dict:
    seconds, rss, out = run([*OPENNESS, "crawl", *extra, *UNLIMITED, "--db", str(db), "--hf-endpoint", url,
                             "--github-endpoint", url])
    return {"seconds": seconds, "rss_mb": rss, **last_run(db)}


def line(name: str, result: dict, listed: int) -> str:
    per = {b: result[b] / listed for b in BUDGETS}
    return (f"  {name:<26} {result['seconds']:8.1f} s {listed / result['seconds']:8.1f} models/s   requests per model: "
            f"API {per['api']:.3f}, resolver {per['resolver']:.3f}, GitHub {per['github']:.3f} "
            f"(per 1000 models: {1000 * sum(per.values()):.1f})   fetch phase {result['fetch_seconds']:.1f} s   "
            f"peak RSS {result['rss_mb']:.0f} MB")


NAIVE = """
import sys, time
from huggingface_hub import HfApi, ModelCard
api = HfApi(endpoint=sys.argv[1])
ids = [m.id for m in api.list_models(limit=int(sys.argv[2]))]
start = time.monotonic()
for model_id in ids:
    try:  # a repo the replica holds no capture of answers 501, as a failed fetch: the loop goes on
        info = api.model_info(model_id)
        ModelCard.load(model_id)
        list(api.list_repo_tree(model_id, revision=info.sha, recursive=True))
    except Exception:
        pass
print(len(ids) / (time.monotonic() - start))
"""


def naive(url: str, sample: int, work: Path) -> float:
    cache = tempfile.mkdtemp(dir=work)  # a cold cache, as a first crawl has
    env = {**os.environ, "HF_ENDPOINT": url, "HF_HOME": cache, "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_OFFLINE": "0"}
    out = subprocess.run([sys.executable, "-c", NAIVE, url, str(sample)], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


def budget_model(full: dict, nightly: dict, listed: int, changed_share: float) -> list[str]:
    """Days for 2M models from the requests per model measured, under the published budgets."""
    def days(api: float, resolver: float, github: float, tokens: int) -> float:
        seconds = max(api / (HUB_API_PER_5MIN / 300), resolver / (HUB_RESOLVER_PER_5MIN / 300),
                      github / (GITHUB_PER_HOUR / 3600))
        return seconds / tokens / 86400

    per = {b: full[b] / listed for b in BUDGETS}
    first = {b: per[b] * HUB_MODELS for b in BUDGETS}
    # A nightly run: the listing down to the watermark (changed models, a page at a time) and the changed models'
    # own requests, scaled from the measured incremental run with `changed_share` of the models changed.
    changed = HUB_MODELS * DAILY_CHANGE
    scale = changed / max(listed * changed_share, 1)
    night = {b: nightly[b] * scale for b in BUDGETS}
    night["api"] = max(night["api"], changed / LISTING_PAGE)
    lines = ["budget model (Hub with a token: 1000 API and 5000 resolver calls per 5 minutes; GitHub 5000 per hour):"]
    for tokens in (1, 4, 16):
        lines.append(f"  {tokens:>2} token(s) on {tokens} machine(s): first full crawl of 2M models "
                     f"{days(*first.values(), tokens):.1f} days; nightly incremental (1% changed) "
                     f"{24 * days(*night.values(), tokens):.1f} hours")
    binding = max(BUDGETS, key=lambda b: first[b] / {"api": HUB_API_PER_5MIN / 300, "resolver": HUB_RESOLVER_PER_5MIN
                                                        / 300, "github": GITHUB_PER_HOUR / 3600}[b])
    lines.append(f"  the binding budget of a full crawl: {binding}")
    return lines


def compare_with_naive(size: int, sample: int, delay: float, work: Path) -> None:
    for latency in (0.0, delay):
        with Replica("--synthetic", str(sample), "--delay", str(latency)) as replica:
            theirs = naive(replica.url, sample, work)
            for workers in JUDGING_PROCESSES:
                ours = crawl(work / f"sample-{size}-{latency}-{workers}.db", replica.url, "--discover", "--limit",
                             str(sample), "--no-github", "--workers", str(workers))
                mine = sample / ours["seconds"]
                fetching = sample / ours["fetch_seconds"] if ours["fetch_seconds"] else float("nan")
                print(f"  vs the naive huggingface_hub loop, {sample} models, {latency * 1000:.0f} ms per answer: "
                      f"ours (judging in {workers} process{'es' if workers > 1 else ''}) {mine:.1f} models/s end to "
                      f"end (crawl and assess), naive {theirs:.1f} models/s (fetch only): {mine / theirs:.2f}x; our "
                      f"fetch phase alone {fetching:.1f} models/s: {fetching / theirs:.2f}x")


def bench(size: int, sample: int, delay: float, work: Path) -> None:
    db = work / f"bench-{size}.db"
    print(f"N = {size} synthetic models (+ the bundled snapshot's), store {db}")
    with Replica("--synthetic", str(size)) as replica:
        full = crawl(db, replica.url, "--discover")
        listed = full["models"]
        print(line("full crawl", full, listed))
        unchanged = crawl(db, replica.url, "--discover", "--incremental")
        print(line("incremental, 0% changed", unchanged, listed)
              + f"   repos changed: {unchanged['changed']}, models judged: {unchanged['judged']}")
    with Replica("--synthetic", str(size), "--mutate", "0.01", "--mutate-seed", "1") as replica:
        changed = crawl(db, replica.url, "--discover", "--incremental")
        print(line("incremental, 1% changed", changed, listed)
              + f"   repos changed: {changed['changed']}, models judged: {changed['judged']}")
    runs = [(f"assess --force --workers {n}" if n > 1 else "assess, all judged again",
             ["--force", "--workers", str(n)]) for n in JUDGING_PROCESSES] + [("assess, unchanged", [])]
    for name, extra in runs:
        seconds, rss, _ = run([*OPENNESS, "assess", *extra, "--db", str(db)])
        print(f"  {name:<26} {seconds:8.1f} s {listed / seconds:8.1f} models/s   peak RSS {rss:.0f} MB")
    print(f"  store: {db.stat().st_size / 1e6:.0f} MB, {db.stat().st_size / listed / 1024:.1f} KB per model")
    compare_with_naive(size, sample, delay, work)
    for text in budget_model(full, changed, listed, 0.01):
        print(text)
    return full["rss_mb"]


def full_crawl_only(size: int, work: Path) -> float:
    """The full first crawl alone (crawl and assess): what memory does as the listing grows."""
    db = work / f"memory-{size}.db"
    with Replica("--synthetic", str(size)) as replica:
        full = crawl(db, replica.url, "--discover")
    print(f"N = {size}:" + line("full crawl", full, full["models"]))
    return full["rss_mb"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 100000])
    parser.add_argument("--quick", action="store_true", help="One small size (200 models) to check the script.")
    parser.add_argument("--sample", type=int, default=300, help="Models of the naive-client comparison.")
    parser.add_argument("--delay", type=float, default=0.05, help="Simulated latency per answer, in seconds.")
    parser.add_argument("--work", type=Path, help="Folder for the stores (default: a temporary one).")
    parser.add_argument("--naive-only", action="store_true", help="Only the comparison with the naive client.")
    parser.add_argument("--memory-only", action="store_true",
                        help="Only the full first crawl of each size: its rate and peak RSS, and how RSS grows.")
    args = parser.parse_args()
    sizes, sample = ([200], 20) if args.quick else (args.sizes, args.sample)
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; {time.strftime('%Y-%m-%d %H:%M')}")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        peaks = {}
        for size in sizes:
            if args.naive_only:
                compare_with_naive(size, min(sample, size), args.delay, work)
            elif args.memory_only:
                peaks[size] = full_crawl_only(size, work)
            else:
                peaks[size] = bench(size, min(sample, size), args.delay, work)
        if len(peaks) > 1:
            low, high = min(peaks), max(peaks)
            print(f"peak RSS of the full crawl: {peaks[low]:.0f} MB at {low} models, {peaks[high]:.0f} MB at {high} "
                  f"models ({100 * (peaks[high] / peaks[low] - 1):+.0f}%; the target: within 20%)")


if __name__ == "__main__":
    main()
