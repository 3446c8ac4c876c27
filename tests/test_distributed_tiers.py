"""Issue 33, distributed mode: tier 0 (`--tier listing`) and tier 1 (`--tier deep`) across two crawler processes
with one writer (`openness ingest`), over a real redis-server and the loopback replica; and the imports between
crawler/ and spiders/ pointing one way."""

from __future__ import annotations

import ast
import json
import math
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import redis

from conftest import OPENNESS, ROOT, SNAPSHOT, start_replica
from crawler.tier0 import LEVEL_LETTERS
from extractors import CRITERIA
from test_nightly import redis_url  # noqa: F401 (a fixture: a real redis-server)

# -- imports point one way: spiders/ -> crawler/ -------------------------------------------------------------------
# Checked in a fresh interpreter per module: the test process has imported everything already, so only a new one
# shows what importing a module alone pulls in, and whether it imports at all when it comes first (a circle fails
# in one of the orders). Not modulefinder: it also counts the imports inside functions, where crawler/ may start
# the spiders.
ALONE = ("crawler.ops.distributed", "crawler.known", "crawler.run", "crawler.cli", "spiders.base", "spiders.github",
         "spiders.huggingface")


def imported_alone(module: str) -> set[str]:
    """The modules of spiders/ and crawler/ in sys.modules after importing `module` alone in a new interpreter."""
    code = (f"import sys, {module}; print(' '.join(sorted(m for m in sys.modules "
            f"if m.split('.')[0] in ('spiders', 'crawler'))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, f"{module} does not import alone: {result.stderr[-2000:]}"
    return set(result.stdout.split())


@pytest.mark.parametrize("module", ALONE)
def test_each_module_imports_alone(module):
    assert module in imported_alone(module)


def test_the_distributed_mode_imports_no_spider_at_import_time():
    loaded = imported_alone("crawler.ops.distributed")
    assert "crawler.known" in loaded
    assert not {m for m in loaded if m.split(".")[0] == "spiders"}


def test_only_the_module_that_starts_the_spiders_imports_them_at_module_level():
    importers = set()
    for path in sorted((ROOT / "crawler").rglob("*.py")):
        for node in ast.parse(path.read_text()).body:  # module level only
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n.split(".")[0] == "spiders" for n in names):
                importers.add(path.relative_to(ROOT).as_posix())
    assert importers == {"crawler/run.py"}


# -- tier 0 and tier 1 across two crawler processes and one writer ------------------------------------------------
SYNTHETIC = 3000
PAGE_SIZE = 500  # pages of 500 rows: 7 model pages and a dataset page to share between the two crawlers


@pytest.fixture(scope="module")
def synthetic_replica():
    """A replica over the snapshot plus SYNTHETIC synthetic models, listing PAGE_SIZE rows a page, each answer
    0.2 s late (a Hub farther than loopback), started as users start it."""
    proc, url = start_replica(SNAPSHOT, "--synthetic", str(SYNTHETIC), "--page-size", str(PAGE_SIZE),
                              "--delay", "0.2")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def answered(replica: str) -> int:
    with urllib.request.urlopen(f"{replica}/_replica/stats") as answer:
        return sum(json.load(answer)["answered"].values())


def distributed_run(redis_url: str, db: Path, crawl_args: list[str]) -> tuple[list[str], str]:
    """Two `openness crawl --distributed` processes and one `openness ingest`, as an operator starts them; the
    crawlers are started first (they wait for the run) so neither finds the work done before it began. Returns the
    crawlers' outputs and the writer's."""
    server = redis.Redis.from_url(redis_url)
    server.delete("openness:run")  # the crawlers wait for this run, not the last test's
    clients = len(server.client_list())
    crawlers = [subprocess.Popen([*OPENNESS, "crawl", "--distributed", redis_url, *crawl_args], cwd=ROOT, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    for _ in range(600):  # both crawlers are connected and waiting for the run
        if len(server.client_list()) >= clients + 2 or any(c.poll() is not None for c in crawlers):
            break
        time.sleep(0.1)
    ingester = subprocess.Popen([*OPENNESS, "ingest", "--redis", redis_url, "--db", str(db), "--wait", "120"],
                                cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    outputs = [c.communicate(timeout=300) for c in crawlers]
    out, err = ingester.communicate(timeout=300)
    for crawler, (c_out, c_err) in zip(crawlers, outputs):
        assert crawler.returncode == 0, c_out[-1000:] + c_err[-2000:]
        assert "crawler of run" in c_out and "completed" in c_out
    assert ingester.returncode == 0, out[-1000:] + err[-2000:]
    assert out.rstrip().endswith("(exit 0)")
    return [o for o, _ in outputs], out


def bytes_received(output: str) -> int:
    """The bytes a crawler's output says it received (`bytes received: N`): what it downloaded itself."""
    return int(output.split("bytes received: ", 1)[1].split(";", 1)[0])


def repos_new(output: str) -> int:
    """The repos a crawler's output says it completed (`repos: N new, ...`)."""
    return int(output.split("repos: ", 1)[1].split(" new", 1)[0])


def requests_said(output: str) -> dict[str, int]:
    """The requests a crawler's output says it sent, by kind (`requests: 1 dataset_listing, 4 listing`)."""
    line = next(line for line in output.splitlines() if line.strip().startswith("requests:"))
    said = line.split("requests:", 1)[1].strip()
    return {} if said == "none" else {kind: int(n) for n, kind in (part.split() for part in said.split(", "))}


def test_tier0_across_two_crawlers_reads_each_listing_page_once_and_the_writer_judges_every_model(
        redis_url, synthetic_replica, tmp_path):
    from test_tier0 import listed_ids

    models, datasets = listed_ids(synthetic_replica, "models"), listed_ids(synthetic_replica, "datasets")
    assert len(models) > SYNTHETIC
    pages = {"listing": math.ceil(len(models) / PAGE_SIZE), "dataset_listing": math.ceil(len(datasets) / PAGE_SIZE)}
    before = answered(synthetic_replica)
    db = tmp_path / "tier0.db"
    outputs, _ = distributed_run(redis_url, db, ["--discover", "--tier", "listing", "--hf-endpoint",
                                                 synthetic_replica])
    # Each listing page asked once between the two crawlers, counted by the replica (less the stats request that
    # reads the count) and by the crawlers (a crawler counts the pages it queued: the next page of one it parsed).
    assert answered(synthetic_replica) - before - 1 == sum(pages.values())
    said = [requests_said(o) for o in outputs]
    assert {k: sum(s.get(k, 0) for s in said) for k in pages} == pages
    assert all(set(s) <= set(pages) for s in said)
    con = sqlite3.connect(db)
    counts = json.loads(con.execute("select counts from crawl_runs").fetchone()[0])
    assert counts["openness/crawlers"] == 2
    assert counts["downloader/request_count"] == sum(pages.values())
    # Both crawlers downloaded listing pages (a page is hundreds of KB; between them, all the run received).
    received = [bytes_received(o) for o in outputs]
    assert all(n > 0 for n in received), received
    assert sum(received) == counts["downloader/response_bytes"]
    # The one writer stored every listed model and dataset once, and judged every listed model once at tier 0.
    assert [i for (i,) in con.execute("select id from listed_models")] and \
        sorted(i for (i,) in con.execute("select id from listed_models")) == sorted(models)
    assert {i for (i,) in con.execute("select id from listed_datasets")} == datasets
    judged = [i for (i,) in con.execute("select id from tier0")]
    assert sorted(judged) == sorted(models)  # a row per model: none judged twice, none missed
    letters = set(LEVEL_LETTERS.values())
    assert all(len(levels) == len(CRITERIA) and set(levels) <= letters
               for (levels,) in con.execute("select levels from tier0"))
    assert con.execute("select status, exit_code from crawl_runs").fetchall() == [("completed", 0)]


# Real captured models of the bundled snapshot (data/snapshot/huggingface/models/...).
SEEDS = ("01-ai/Yi-1.5-34B-Chat-16K", "01-ai/Yi-34B", "01-ai/Yi-9B", "01-ai/Yi-Coder-9B-Chat", "BAAI/AltDiffusion",
         "ByteDance/SDXL-Lightning", "CohereForAI/c4ai-command-r-v01", "DeepFloyd/IF-I-XL-v1.0",
         "EleutherAI/pythia-12b-deduped", "EleutherAI/pythia-6.9b", "HuggingFaceH4/starchat2-15b-v0.1",
         "HuggingFaceH4/zephyr-7b-beta")


def test_tier1_across_two_crawlers_crawls_each_seed_once_and_judges_it_deep(redis_url, synthetic_replica, tmp_path):
    assert all((SNAPSHOT / "huggingface" / "models" / seed).is_dir() for seed in SEEDS)
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("# snapshot models\n" + "\n".join(SEEDS) + "\n")
    db = tmp_path / "tier1.db"
    outputs, _ = distributed_run(redis_url, db, ["--seeds", str(seeds), "--tier", "deep", "--depth", "0",
                                                 "--no-github", "--hf-endpoint", synthetic_replica])
    said = [requests_said(o) for o in outputs]
    # Each seed's repo JSON asked once between the two crawlers (claimed once, whichever process sent it), no
    # request sent twice, no listing page; both crawlers completed seeds.
    assert sum(s.get("model_json", 0) for s in said) == len(SEEDS)
    assert not any("listing" in s or "dataset_listing" in s for s in said)
    con = sqlite3.connect(db)
    counts = json.loads(con.execute("select counts from crawl_runs").fetchone()[0])
    assert counts["openness/requests/model_json"] == len(SEEDS)
    assert counts["downloader/request_count"] == sum(sum(s.values()) for s in said)
    assert counts["openness/crawlers"] == 2
    completed = [repos_new(o) for o in outputs]
    assert all(n > 0 for n in completed) and sum(completed) == len(SEEDS), completed
    subjects = {i for (i,) in con.execute("select id from subjects where kind = 'model'")}
    assert {s.lower() for s in subjects} == {f"hf:model:{seed}".lower() for seed in SEEDS}
    tiers = con.execute("select subject_id, count(*), group_concat(distinct tier) from judgements "
                        "group by subject_id").fetchall()
    assert {s.lower() for s, _, _ in tiers} == {f"hf:model:{seed}".lower() for seed in SEEDS}
    assert all(n == len(CRITERIA) and tier == "deep" for _, n, tier in tiers)
    assert not con.execute("select count(*) from listed_models").fetchone()[0]
    assert con.execute("select status, exit_code from crawl_runs").fetchall() == [("completed", 0)]


class SharedLedger:
    """A ledger standing for one shared with other crawler processes (as crawler.ops.distributed.RedisLedger is):
    only its counts of open requests, which another process moves."""

    def __init__(self, **counts):
        self.counts = {k.replace("_", " "): v for k, v in counts.items()}

    def open_count(self, subject: str) -> int:
        return self.counts.get(subject, 0)


def idle_keeps_open(spider) -> bool:
    from scrapy.exceptions import DontCloseSpider

    try:
        spider._on_idle()
    except DontCloseSpider:
        return True
    return False


@pytest.mark.parametrize("max_request_time", [900.0, 0.0])
def test_a_crawler_stays_open_while_another_reads_the_walk_and_not_for_ever(max_request_time):
    from scrapy.utils.test import get_crawler

    from spiders.huggingface import HuggingFaceSpider

    ledger = SharedLedger(listing_walk=1, listing_pages_read=3)
    crawler = get_crawler(HuggingFaceSpider, {"MAX_REQUEST_TIME": max_request_time})
    spider = HuggingFaceSpider.from_crawler(crawler, hf_endpoint="http://127.0.0.1:9", discover={}, tier="listing",
                                            ledger=ledger)
    # A page of the walk is open in another process: this one waits for the next page, unless no page was read
    # anywhere for MAX_REQUEST_TIME (a crawler that died reading one never closes it).
    assert idle_keeps_open(spider) is (max_request_time > 0)
    ledger.counts["listing pages read"] += 1  # another page read: progress, so it waits again
    assert idle_keeps_open(spider) is (max_request_time > 0)
    ledger.counts["listing walk"] = 0  # the walk is over everywhere: it closes
    assert not idle_keeps_open(spider)
    # A local crawl (its own ledger) never waits on the walk: nothing of it can be open elsewhere.
    local = HuggingFaceSpider.from_crawler(get_crawler(HuggingFaceSpider), hf_endpoint="http://127.0.0.1:9",
                                           discover={}, tier="listing")
    local.ledger.opened("listing walk")
    assert not idle_keeps_open(local)
