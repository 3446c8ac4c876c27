"""Tier 1 (`openness crawl --tier deep --from-listing`): the deep crawl takes the listed models in the queue's order
(crawler/priority.py), crawls exactly the first N, judges them at tier deep; `--deep-time` ends a run on time and
the next run takes what it left. Every store here is made by real crawls of the replica (snapshot + synthetic
models): a tier-0 listing, deep crawls, and a listing again from a replica that changed the synthetic models."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from conftest import SNAPSHOT, run_openness, start_replica
from crawler.priority import DEFAULT_ORDER, ORDER_KEYS, deep_queue, parse_order, row_claims
from crawler.report import model_report
from crawler.store import open_db
from crawler.tier0 import unpack
from extractors import CRITERIA

SYNTHETIC = 2000


def replica(*extra: str):
    proc, url = start_replica(SNAPSHOT, "--synthetic", str(SYNTHETIC), *extra)
    return proc, url


@pytest.fixture(scope="module")
def replica_url():
    proc, url = replica()
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def listing_crawl(db_path: Path, url: str) -> None:
    result = run_openness("crawl", "--discover", "--tier", "listing", "--db", str(db_path), "--hf-endpoint", url,
                          timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]


def deep_crawl(db_path: Path, url: str, *extra: str):
    result = run_openness("crawl", "--tier", "deep", "--from-listing", "--no-github", "--depth", "0", "--db",
                          str(db_path), "--hf-endpoint", url, *extra, timeout=600)
    assert result.returncode in (0, 1), result.stdout[-2000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def listing_store(replica_url, tmp_path_factory) -> Path:
    db_path = tmp_path_factory.mktemp("priority") / "listing.db"
    listing_crawl(db_path, replica_url)
    return db_path


@pytest.fixture(scope="module")
def deep20(listing_store, replica_url, tmp_path_factory) -> tuple[Path, list[str]]:
    """The listing store after `--from-listing --deep-limit 20`, and the queue's first 20 read before it."""
    db_path = tmp_path_factory.mktemp("priority") / "deep20.db"
    shutil.copy(listing_store, db_path)
    db = open_db(db_path)
    first = list(deep_queue(db, limit=20))
    db.close()
    deep_crawl(db_path, replica_url, "--deep-limit", "20")
    return db_path, first


def judged_deep(db_path: Path) -> dict[str, str]:
    """Models judged deep: their revision judged."""
    con = sqlite3.connect(db_path)
    rows = con.execute("select s.repo_id, s.revision from subjects s where s.kind = 'model' and exists (select 1 "
                       "from judgements j where j.subject_id = s.id)").fetchall()
    con.close()
    return dict(rows)


def last_run(db_path: Path) -> dict:
    con = sqlite3.connect(db_path)
    requested, counts, status = con.execute("select requested, counts, status from crawl_runs order by id desc "
                                            "limit 1").fetchone()
    con.close()
    return {"requested": json.loads(requested), "counts": json.loads(counts or "{}"), "status": status}


def listed(db_path: Path) -> dict[str, dict]:
    """Every listed model's stored row, with the sha and downloads of its columns."""
    con = sqlite3.connect(db_path)
    rows = {m: {**unpack(packed), "_sha": sha, "_downloads": downloads or 0} for m, sha, downloads, packed in
            con.execute("select id, sha, downloads, row from listed_models")}
    con.close()
    return rows


def declared(row: dict) -> str | None:
    card = row.get("cardData") if isinstance(row.get("cardData"), dict) else {}
    return card.get("license") if isinstance(card.get("license"), str) else None


def claim_free(row: dict) -> bool:
    """No licence declared anywhere in the row and no tag saying open: nothing in it claims openness."""
    tags = [t.lower() for t in row.get("tags") or [] if isinstance(t, str)]
    return declared(row) is None and not any(t.startswith("license:") or "open" in t for t in tags)


def test_order_keys_are_data_and_checked():
    assert parse_order(",".join(DEFAULT_ORDER)) == DEFAULT_ORDER
    assert set(DEFAULT_ORDER) == set(ORDER_KEYS)
    assert parse_order("downloads, likes,downloads") == ("downloads", "likes")
    for bad in ("", "stars", "claims,stars"):
        with pytest.raises(ValueError):
            parse_order(bad)


def test_from_listing_crawls_exactly_the_first_20_of_the_queue_at_tier_deep(deep20):
    db_path, first = deep20
    assert len(first) == 20
    run = last_run(db_path)
    assert run["status"] == "completed" and run["requested"] == first
    judged = judged_deep(db_path)
    assert set(judged) == set(first)
    db = open_db(db_path)
    for model_id in first:
        report = model_report(db, model_id)
        assert report["tier"] == "deep", model_id
        assert len(report["judgements"]) == len(CRITERIA)
        assert {j["tier"] for j in report["judgements"]} == {"deep"}
    # Done: judged deep at the listed sha, no longer in the queue.
    rest = list(deep_queue(db))
    db.close()
    assert not set(first) & set(rest)
    assert len(rest) == len(listed(db_path)) - 20


def test_show_says_deep_for_a_model_of_the_run(deep20):
    db_path, first = deep20
    result = run_openness("show", first[0], "--db", str(db_path), "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    shown = json.loads(result.stdout)
    assert shown["tier"] == "deep" and {j["tier"] for j in shown["judgements"]} == {"deep"}


def test_a_claiming_model_comes_before_a_more_downloaded_silent_one(listing_store, tmp_path):
    db_path = tmp_path / "copy.db"
    shutil.copy(listing_store, db_path)
    rows = listed(db_path)
    db = open_db(db_path)
    queue = list(deep_queue(db))
    by_downloads = list(deep_queue(db, order=["downloads", "likes"]))
    db.close()
    assert sorted(queue) == sorted(rows)  # nothing crawled deep yet: every listed model, once
    position = {m: i for i, m in enumerate(queue)}
    apache = [m for m, r in rows.items() if declared(r) == "apache-2.0"]
    silent = [m for m, r in rows.items() if claim_free(r)]
    assert apache and silent
    claiming = min(apache, key=lambda m: rows[m]["_downloads"])
    louder = [m for m in silent if rows[m]["_downloads"] > rows[claiming]["_downloads"]]
    assert louder, "no silent model more downloaded than the least downloaded apache-2.0 one"
    assert all(position[claiming] < position[m] for m in louder)
    assert all(row_claims(rows[m]) for m in apache) and not any(row_claims(rows[m]) for m in silent)
    # The user's order: downloads alone puts the louder ones first.
    where = {m: i for i, m in enumerate(by_downloads)}
    assert all(where[m] < where[claiming] for m in louder)
    downloads = [rows[m]["_downloads"] for m in by_downloads]
    assert downloads == sorted(downloads, reverse=True)


def test_a_changed_model_comes_before_an_unchanged_one(listing_store, replica_url, tmp_path):
    """Five of the least downloaded claiming synthetic models are crawled deep (named), then the listing is read
    again from a replica that changed every synthetic model (a new sha, a card line more: `replica --mutate 1`):
    the five are queued again, before every model never crawled deep that weighs the same on the claims key and
    the organisations key, however more downloaded."""
    db_path = tmp_path / "relisted.db"
    shutil.copy(listing_store, db_path)
    rows = listed(db_path)
    synthetic = [m for m in rows if not (SNAPSHOT / "huggingface" / "models" / m).exists() and row_claims(rows[m])]
    picked = sorted(synthetic, key=lambda m: (rows[m]["_downloads"], m))[:5]
    result = run_openness("crawl", *picked, "--depth", "0", "--no-github", "--db", str(db_path), "--hf-endpoint",
                          replica_url)
    assert result.returncode in (0, 1), result.stderr[-2000:]
    judged = judged_deep(db_path)
    assert set(picked) <= set(judged)
    db = open_db(db_path)
    assert not set(picked) & set(deep_queue(db))  # done at the listed sha
    db.close()
    proc, url = replica("--mutate", "1", "--mutate-seed", "7")
    try:
        listing_crawl(db_path, url)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    rows = listed(db_path)
    changed = {m for m, sha in judged.items() if m in rows and rows[m]["_sha"] != sha}
    assert changed, "the replica changed none of the five"
    db = open_db(db_path)
    queue = list(deep_queue(db))
    db.close()
    position = {m: i for i, m in enumerate(queue)}
    assert changed <= set(position)
    assert not (set(judged) - changed) & set(position)  # judged at the listed sha: done
    orgs = {m.split("/")[0] for m in judged}
    compared = 0
    for model_id in changed:
        others = [m for m in position if m not in judged and m.split("/")[0] not in orgs and row_claims(rows[m])
                  and rows[m]["_downloads"] > rows[model_id]["_downloads"]]
        assert all(position[model_id] < position[m] for m in others)
        compared += len(others)
    assert compared


def test_new_models_of_judged_organisations_come_before_other_new_ones(deep20):
    db_path, first = deep20
    rows = listed(db_path)
    orgs = {m.split("/")[0] for m in first}
    db = open_db(db_path)
    queue = list(deep_queue(db))
    db.close()
    position = {m: i for i, m in enumerate(queue)}
    same_org = [m for m in queue if m.split("/")[0] in orgs]
    assert same_org, "no other model of the 20's organisations is listed"
    compared = 0
    for model_id in same_org:
        claims = row_claims(rows[model_id])
        others = [m for m in queue if m.split("/")[0] not in orgs and row_claims(rows[m]) == claims
                  and rows[m]["_downloads"] > rows[model_id]["_downloads"]]
        assert all(position[model_id] < position[m] for m in others)
        compared += len(others)
    assert compared


@pytest.fixture(scope="module")
def slow_replica_url():
    """The same replica answering each request after half a second: a deep crawl that takes time."""
    proc, url = replica("--delay", "0.5")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def test_deep_time_ends_a_run_and_the_next_run_takes_the_rest(slow_replica_url, tmp_path):
    """Ordered without the organisations key, so that what the first run judges does not move other models up:
    the second run's first models are exactly those the first left."""
    order = "claims,changed,downloads,likes"
    db_path = tmp_path / "timed.db"
    listing_crawl(db_path, slow_replica_url)
    db = open_db(db_path)
    first = list(deep_queue(db, limit=20, order=parse_order(order)))
    db.close()
    deep_crawl(db_path, slow_replica_url, "--deep-limit", "20", "--deep-time", "1", "--deep-order", order)
    run = last_run(db_path)
    assert run["requested"] == first
    assert run["status"] == "completed"  # ended by the budget, not interrupted: what started is judged
    cut = judged_deep(db_path)
    not_started = run["counts"].get("openness/deep/not_started", 0)
    assert 0 < len(cut) < 20 and set(cut) < set(first)
    assert not_started == 20 - len(cut)
    # The requests counted are those sent: one model JSON per model started.
    assert run["counts"]["openness/requests/model_json"] == len(cut)
    # The next run takes the rest of those 20 first (the queue without what is done), and completes them.
    left = [m for m in first if m not in cut]
    deep_crawl(db_path, slow_replica_url, "--deep-limit", str(len(left)), "--deep-order", order)
    run = last_run(db_path)
    assert run["requested"] == left
    assert set(judged_deep(db_path)) == set(first)


def test_from_listing_needs_a_listing(tmp_path):
    result = run_openness("crawl", "--from-listing", "--db", str(tmp_path / "empty.db"))
    assert result.returncode == 2 and "--tier listing" in result.stderr
    result = run_openness("crawl", "some/model", "--deep-limit", "3", "--db", str(tmp_path / "empty.db"))
    assert result.returncode == 2 and "--from-listing" in result.stderr
    result = run_openness("crawl", "--from-listing", "--deep-order", "stars", "--db", str(tmp_path / "e.db"))
    assert result.returncode == 2 and "stars" in result.stderr
    for other in (["--incremental"], ["--discover"], ["--distributed", "redis://127.0.0.1:9/0"]):
        result = run_openness("crawl", "some/model", "--from-listing", *other, "--db", str(tmp_path / "other.db"))
        assert result.returncode == 2 and "--from-listing and --deep-time go with --tier deep" in result.stderr, other
        assert not (tmp_path / "other.db").exists()
