"""`crawl --incremental` is "only what changed, of what was asked" (issue 33, deliverable 5).

Named models (arguments, --seeds, --from-labels) are rechecked, conditionally, with no listing request; the listing
is walked, newest change first down to the last run's watermark, only with --discover; asked for nothing, it
refuses. Every crawl is a real `openness crawl` process. The replica answers from the bundled snapshot: started as
users start it where the crawl's own record is what is checked, and as the hostile server with no answer changed
(tests/hostile_server.py: the replica's app, recording every request it answered) where the requests the Hub
received are counted.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from conftest import SNAPSHOT, run_openness, start_replica
from crawler.corpus import Corpus
from hostile_server import HostileServer

LISTING = r"^/api/models(\?|$)"
SEEDS = ("Intel/neural-chat-7b-v3-3", "meta-llama/Meta-Llama-3-8B")  # a base chain; a card linking a GitHub repo
AUTHOR = "meta-llama"
LABELS = SNAPSHOT.parent / "labels" / "opening-up-chatgpt"


def crawl(url: str, db: Path, *args: str) -> sqlite3.Connection:
    result = run_openness("crawl", *args, "--db", str(db), "--hf-endpoint", url, "--github-endpoint", url,
                          timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return sqlite3.connect(db)


def run_requests(con: sqlite3.Connection, run_id: int) -> dict[str, int]:
    """The crawl's own count of its requests, by kind, for one run."""
    counts = json.loads(con.execute("select counts from crawl_runs where id = ?", [run_id]).fetchone()[0])
    return {k.rsplit("/", 1)[1]: v for k, v in counts.items() if k.startswith("openness/requests/")}


def test_a_nightly_run_with_seeds_sends_no_listing_request(snapshot_corpus, tmp_path):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("# the models this nightly run watches\n" + "\n".join(SEEDS) + "\n", encoding="utf-8")
    db = tmp_path / "nightly.db"
    with HostileServer(snapshot_corpus) as server:
        first = crawl(server.url, db, "--incremental", "--seeds", str(seeds))  # the first night: an empty store
        first_seen = server.seen
        server.app.seen.clear()
        crawl(server.url, db, "--incremental", "--seeds", str(seeds))
        second_seen = server.seen
        second_json = {seed: server.requests_to(rf"^/api/models/{re.escape(seed)}$") for seed in SEEDS}
    assert first_seen and second_seen
    for seen in (first_seen, second_seen):
        assert not [r.target for r in seen if r.target.startswith("/api/models?") or r.target == "/api/models"]
    for run_id in (1, 2):
        assert "listing" not in run_requests(first, run_id)
    crawled = {repo for (repo,) in first.execute("select repo_id from subjects where kind = 'model'")}
    assert set(SEEDS) <= crawled
    # What the seeds link to, by the existing rules: the base chain is followed on the first night.
    links = set(first.execute("select from_subject, to_subject from links where relation = 'base_model'"))
    for source, target in links:
        if source.removeprefix("hf:model:") in SEEDS:
            assert target.removeprefix("hf:model:") in crawled
    # The second night rechecks exactly the seeds, each once and conditionally (their JSON's ETag), and finds them
    # unchanged: no card, tree or file is asked again.
    for seed, asked in second_json.items():
        assert len(asked) == 1 and asked[0].headers.get("if-none-match"), seed
    assert run_requests(first, 2) == {"model_json": len(SEEDS)}
    # No listing walked: no watermark recorded for a later --discover --incremental to trust.
    assert first.execute("select count(*) from crawl_runs where watermark is not null").fetchone()[0] == 0


def with_distinct_times(corpus: Path, author: str) -> list[str]:
    """The author's models, each given a capture time of its own (a second apart, newest last in id order): the
    listing sorted by lastModified then has no ties at the watermark, whatever times the checkout left."""
    folders = sorted((corpus / "huggingface" / "models" / author).iterdir())
    base = 1_700_000_000
    for i, folder in enumerate(folders):
        for path in folder.rglob("*"):
            if path.is_file():
                os.utime(path, (base + i, base + i))
    return [f"{author}/{folder.name}" for folder in folders]


def test_discover_incremental_right_after_a_complete_run_asks_one_listing_page(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(SNAPSHOT, corpus)
    models = with_distinct_times(corpus, AUTHOR)
    page_size = 2
    assert len(models) > 2 * page_size  # the complete run needs several pages: one page is then a real saving
    db = tmp_path / "nightly.db"
    listing = ("--discover", "--author", AUTHOR, "--depth", "0", "--no-github")
    with HostileServer(Corpus(corpus), page_size=page_size) as server:
        con = crawl(server.url, db, *listing)
        complete_pages = len(server.requests_to(LISTING))
        server.app.seen.clear()
        crawl(server.url, db, *listing, "--incremental")
        pages = server.requests_to(LISTING)
        asked = {r.target for r in server.seen}
    assert complete_pages >= len(models) / page_size
    assert {m for (m,) in con.execute("select repo_id from subjects where kind = 'model'")} == \
        set(models)
    assert len(pages) == 1 and "sort=lastModified" in pages[0].target
    assert run_requests(con, 2) == {"listing": 1}
    assert all(t.startswith("/api/models?") for t in asked), asked  # nothing else: nothing changed
    watermarks = [w for (w,) in con.execute("select watermark from crawl_runs order by id")]
    assert watermarks[0] and watermarks[1] == watermarks[0]


def test_a_labels_run_with_incremental_crawls_only_the_labelled_models(tmp_path):
    from crawler.labels import repos_in_label_dir

    labelled, _ = repos_in_label_dir(LABELS)
    listed = len(list((SNAPSHOT / "huggingface" / "models").glob("*/*")))
    assert labelled and len(labelled) < listed  # the listing has models no label names
    db = tmp_path / "nightly.db"
    proc, url = start_replica(SNAPSHOT)
    try:
        con = crawl(url, db, "--incremental", "--from-labels", str(LABELS), "--no-github")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert "listing" not in run_requests(con, 1)
    wanted = {m.lower() for m in labelled}
    crawled = {repo.lower() for (repo,) in con.execute("select repo_id from subjects where kind = 'model'")}
    assert wanted <= crawled
    # Every other model crawled is one a labelled model links to (its base chain), never one from the listing.
    linked = {to.removeprefix("hf:model:").lower() for (to,) in con.execute(
        "select to_subject from links where to_subject like 'hf:model:%'")}
    assert crawled - wanted <= linked, sorted(crawled - wanted - linked)
    assert len(crawled) < listed


@pytest.mark.parametrize("args", [(), ("--author", AUTHOR), ("--seeds", "{empty}")])
def test_incremental_asked_for_nothing_is_refused_naming_both_ways(args, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("# no model yet\n", encoding="utf-8")
    db = tmp_path / "store.db"
    args = tuple(a.replace("{empty}", str(empty)) for a in args)
    result = run_openness("crawl", "--incremental", *args, "--db", str(db), "--hf-endpoint", "http://127.0.0.1:9",
                          "--github-endpoint", "http://127.0.0.1:9")
    assert result.returncode == 2
    message = " ".join(result.stderr.split())
    if "--author" in args:
        assert "go with --discover" in message
    else:
        assert "--discover" in message and "--seeds" in message and "--from-labels" in message
    assert not db.exists()  # refused before any run was opened


def test_crawl_help_says_what_incremental_rechecks():
    result = run_openness("crawl", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split()).replace("- ", "-")  # lines wrapped at a hyphen, joined again
    incremental = text[text.index("--incremental"):text.index("--recheck-days DAYS")]
    for said in ("--seeds", "--from-labels", "no listing request", "--discover", "watermark"):
        assert said in incremental, said


def test_the_spider_arguments_follow_the_same_scope():
    from spiders.huggingface import HuggingFaceSpider

    named = HuggingFaceSpider.parse_arguments({"incremental": "true", "model_ids": "a/b,c/d"})
    assert named.get("discover") is None and named["follow_unchanged"] is False
    listing = HuggingFaceSpider.parse_arguments({"incremental": "true", "discover": "{}"})
    assert listing["discover"] == {"sort": "lastModified"}
    with pytest.raises(ValueError, match="model_ids.*discover"):
        HuggingFaceSpider.parse_arguments({"incremental": "true"})
