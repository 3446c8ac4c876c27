"""How fast the loopback replica serves a synthetic Hub's listing, and with how much memory (issue 33, deliverable 6).

Starts `openness replica --synthetic N` as users do, walks PAGES pages of 1000 models sorted by lastModified with
every field a tier-0 crawl asks (`expand`), and prints pages/s, MB/page and the replica's RSS (VmRSS) after start,
after the first page and after the walk. Usage: python benchmarks/replica_listing.py [N ...] [--pages P]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIELDS = ["sha", "siblings", "cardData", "gated", "tags", "baseModels", "safetensors", "config", "library_name",
          "inference", "downloads", "likes", "lastModified", "createdAt"]


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


def measure(count: int, pages: int) -> dict:
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "crawler", "replica", "--synthetic", str(count)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = proc.stdout.readline().strip()
        ready = time.monotonic() - started
        at_start = rss_mib(proc.pid)
        target = f"{url}/api/models?sort=lastModified&" + "&".join(f"expand={f}" for f in FIELDS)
        size, first = 0, None
        walk_started = time.monotonic()
        for n in range(pages):
            with urllib.request.urlopen(target, timeout=300) as answer:
                body = answer.read()
                link = answer.headers["Link"]
            size += len(body)
            assert len(json.loads(body)) == 1000
            target = link[1:link.index(">")]
            if n == 0:
                first = rss_mib(proc.pid)
        elapsed = time.monotonic() - walk_started
        return {"models": count, "start_s": round(ready, 1), "pages_per_s": round(pages / elapsed, 2),
                "mb_per_page": round(size / pages / 1e6, 1), "rss_start_mib": round(at_start),
                "rss_first_page_mib": round(first), "rss_after_mib": round(rss_mib(proc.pid)), "pages": pages}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("counts", nargs="*", type=int, default=[100_000, 1_000_000])
    parser.add_argument("--pages", type=int, default=100)
    args = parser.parse_args()
    for count in args.counts:
        print(json.dumps(measure(count, args.pages)), flush=True)


if __name__ == "__main__":
    main()
