"""Tier 0 (`openness crawl --discover --tier listing`): every listed model judged from the listing alone, stored
compactly; a deep crawl replaces its judgement. Stored texts compressed and stored once (m018)."""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
import urllib.request
import zlib
from pathlib import Path

import pytest

from conftest import SNAPSHOT, run_openness, start_replica
from crawler.report import model_report
from crawler.store import Store, blob_content, blob_text, compress_blobs, inflate, open_db
from crawler.tier0 import LEVEL_LETTERS, hydrate, listing_judgement, reduce_row
from extractors import CRITERIA

SYNTHETIC = 2000
MAX_BYTES_PER_MODEL = 2048  # issue 33: <= 2 KB of store per tier-0 model, indexes included


@pytest.fixture(scope="module")
def synthetic_replica():
    """A replica over the snapshot plus SYNTHETIC synthetic models, started as users start it."""
    proc, url = start_replica(SNAPSHOT, "--synthetic", str(SYNTHETIC))
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def listed_ids(url: str, kind: str) -> set[str]:
    """Every id the replica's listing names, read page by page (Link: rel=next) as the Hub's clients read it."""
    ids, next_url = set(), f"{url}/api/{kind}?limit=1000"
    while next_url:
        with urllib.request.urlopen(next_url) as answer:
            ids |= {row["id"] for row in json.load(answer)}
            link = answer.headers.get("Link") or ""
        next_url = link.split(";")[0].strip("<> ") if 'rel="next"' in link else None
    return ids


@pytest.fixture(scope="module")
def tier0_store(synthetic_replica, tmp_path_factory) -> Path:
    db_path = tmp_path_factory.mktemp("tier0") / "tier0.db"
    result = run_openness("crawl", "--discover", "--tier", "listing", "--db", str(db_path), "--hf-endpoint",
                          synthetic_replica, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return db_path


def vacuumed_size(db_path: Path, tmp_path: Path) -> int:
    copy = tmp_path / "vacuumed.db"
    source = sqlite3.connect(db_path)
    source.execute(f"vacuum into '{copy}'")
    source.close()
    return copy.stat().st_size


def test_every_listed_model_is_judged_from_listing_pages_only(tier0_store, synthetic_replica, tmp_path):
    models, datasets = listed_ids(synthetic_replica, "models"), listed_ids(synthetic_replica, "datasets")
    assert len(models) > SYNTHETIC
    con = sqlite3.connect(tier0_store)
    assert {i for (i,) in con.execute("select id from listed_models")} == models
    assert {i for (i,) in con.execute("select id from listed_datasets")} == datasets
    judged = dict(con.execute("select id, levels from tier0"))
    assert set(judged) == models
    letters = set(LEVEL_LETTERS.values())
    assert all(len(levels) == len(CRITERIA) and set(levels) <= letters for levels in judged.values())
    # Nothing but listing pages was asked: at most 2 API calls per 1000 models, no repo JSON, card, file or tree.
    counts = json.loads(con.execute("select counts from crawl_runs order by id desc limit 1").fetchone()[0])
    requests = {k.rsplit("/", 1)[1]: v for k, v in counts.items() if k.startswith("openness/requests/")}
    assert set(requests) == {"listing", "dataset_listing"}
    assert requests["listing"] == math.ceil(len(models) / 1000)
    assert requests["dataset_listing"] == math.ceil(len(datasets) / 1000)
    assert counts["downloader/request_count"] == requests["listing"] + requests["dataset_listing"]
    assert requests["listing"] <= 2 * len(models) / 1000 + 1
    assert con.execute("select count(*) from artifacts").fetchone() == (0,)
    assert con.execute("select count(*) from judgements").fetchone() == (0,)


def test_tier0_store_is_at_most_2kb_per_model(tier0_store, tmp_path):
    con = sqlite3.connect(tier0_store)
    models = con.execute("select count(*) from tier0").fetchone()[0]
    con.close()
    assert vacuumed_size(tier0_store, tmp_path) / models <= MAX_BYTES_PER_MODEL


def test_stored_row_keeps_what_the_judge_reads(tier0_store, synthetic_replica):
    """The compressed row gives the listing row's judged fields back (the tags, files and card values within their
    bounds); the judgement re-derived on read (its evidence) matches the levels stored."""
    with urllib.request.urlopen(f"{synthetic_replica}/api/models?limit=5&expand=sha&expand=siblings"
                                "&expand=cardData&expand=tags&expand=gated") as answer:
        rows = json.load(answer)
    db = open_db(tier0_store)
    for row in rows:
        stored = zlib.decompress(db.execute("select row from listed_models where id = ?", [row["id"]]).fetchone()[0])
        kept = hydrate(db, json.loads(stored))  # a gated prompt is stored once in blobs, the row naming it
        reduced = reduce_row(row)  # of the fields asked here (a few of the crawl's expand fields)
        assert {k: kept.get(k) for k in reduced} == reduced
        assert [s["rfilename"] for s in kept.get("siblings", [])] == [s["rfilename"] for s in row.get("siblings", [])]
        _, result = listing_judgement(db, row["id"])
        levels = db.execute("select levels from tier0 where id = ?", [row["id"]]).fetchone()[0]
        assert "".join(LEVEL_LETTERS[j.level] for j in result.judgements) == levels
        assert all(j.evidence for j in result.judgements)
    db.close()


def show_json(db_path: Path, model_id: str) -> dict:
    result = run_openness("show", model_id, "--db", str(db_path), "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def test_a_deep_crawl_replaces_the_tier0_judgement(tier0_store, synthetic_replica, tmp_path):
    db_path = tmp_path / "copy.db"
    shutil.copy(tier0_store, db_path)
    con = sqlite3.connect(db_path)
    model_id = con.execute("select id from listed_models where id not like '%synthetic%' order by id "
                           "limit 1").fetchone()[0]
    con.close()
    before = show_json(db_path, model_id)
    assert before["tier"] == "listing" and {j["tier"] for j in before["judgements"]} == {"listing"}
    assert len(before["judgements"]) == len(CRITERIA)
    text = run_openness("show", model_id, "--db", str(db_path)).stdout
    assert "tier: listing" in text
    result = run_openness("crawl", model_id, "--depth", "0", "--no-github", "--db", str(db_path), "--hf-endpoint",
                          synthetic_replica)
    assert result.returncode in (0, 1), result.stderr[-2000:]
    after = show_json(db_path, model_id)
    assert after["tier"] == "deep" and {j["tier"] for j in after["judgements"]} == {"deep"}
    out = tmp_path / "export.jsonl"
    assert run_openness("export", "--format", "jsonl", "--out", str(out), "--db", str(db_path)).returncode == 0
    records = [json.loads(line) for line in out.read_text().splitlines()[1:]]
    tiers = {}
    for record in records:
        assert record["model"] not in tiers, "a model exported twice"
        tiers[record["model"]] = record["tier"]
        assert {j.get("tier") for j in record["judgements"]} == {record["tier"]}
    assert tiers[model_id] == "deep"
    assert set(tiers.values()) == {"deep", "listing"}
    assert sum(t == "listing" for t in tiers.values()) == len(tiers) - 1


def test_listing_tier_goes_with_discover_only(tmp_path):
    result = run_openness("crawl", "some/model", "--tier", "listing", "--db", str(tmp_path / "x.db"))
    assert result.returncode == 2 and "--tier listing" in result.stderr


# -- deliverable 7: texts compressed, stored once -------------------------------------------------------------------
def test_texts_are_compressed_and_stored_once(tmp_path):
    db = open_db(tmp_path / "s.db")
    store = Store(db)
    run = store.start_run("test", "http://127.0.0.1:9", "http://127.0.0.1:9", [])
    card = (SNAPSHOT / "huggingface").glob("**/README.md")
    body = next(p for p in card if p.stat().st_size > 2000).read_bytes()
    common = dict(source="huggingface", repo_type="model", kind="card", revision="a" * 40, http_status=200,
                  etag=None, content_type="text/markdown", body=body, path="README.md")
    store.save_artifact(run, repo_id="a/one", url="http://127.0.0.1:9/a/one", **common)
    store.save_artifact(run, repo_id="b/two", url="http://127.0.0.1:9/b/two", **common)
    assert db.execute("select count(*) from artifacts").fetchone() == (2,)
    rows = db.execute("select sha256, size, length(content), encoding from blobs").fetchall()
    assert len(rows) == 1
    sha, size, stored, encoding = rows[0]
    assert encoding == "zlib" and stored < size == len(body)
    assert blob_content(db, sha) == body
    assert blob_text(db, sha) == body.decode("utf-8-sig")


def test_compressing_a_store_keeps_the_demo_judgements(demo_copy, tmp_path):
    """The demo store with its texts stored raw (as before m018), compressed by the migration's step, judged
    again: every model's levels as before, and every text read back byte for byte."""
    db = open_db(demo_copy)
    raw = {sha: inflate(content, encoding) for sha, content, encoding in
           db.execute("select sha256, content, encoding from blobs")}
    with db.conn:
        db.conn.executemany("update blobs set content = ?, encoding = null where sha256 = ?",
                            [(content, sha) for sha, content in raw.items()])
    models = [m for (m,) in db.execute("select repo_id from subjects where kind = 'model' and revision is not null "
                                       "and exists (select 1 from judgements j where j.subject_id = subjects.id) "
                                       "order by id")]
    before = levels(db, models)
    raw_bytes = db.execute("select sum(length(content)) from blobs").fetchone()[0]
    with db.conn:
        assert compress_blobs(db) > 0
    assert db.execute("select sum(length(content)) from blobs").fetchone()[0] < raw_bytes / 2
    assert all(blob_content(db, sha) == content for sha, content in raw.items())
    db.close()
    assert run_openness("assess", "--force", "--db", str(demo_copy)).returncode == 0
    db = open_db(demo_copy)
    assert levels(db, models) == before
    db.close()


def levels(db, models: list[str]) -> dict:
    """Each model's levels as `show --json` gives them (crawler.report.model_report, in this process)."""
    return {m: {j["criterion"]: (j["level"], j["tier"]) for j in model_report(db, m)["judgements"]} for m in models}


# -- what a stored row keeps, and rows a hostile Hub may list ---------------------------------------------------------
def _levels(judged) -> str:
    return "".join(LEVEL_LETTERS[j.level] for j in judged.judgements)


def test_every_snapshot_row_as_stored_judges_as_the_whole_row():
    """The row is reduced before it is stored (tier0.reduce_row): what it keeps must be all the judge reads, so the
    stored judgement is the one the whole row gives (gates that only show a notice, a gated prompt's terms, a
    mirror's file list that is not exhaustive)."""
    from crawler.corpus import Corpus
    from crawler.replica.hub import derive_repo_json
    from crawler.tier0 import pack, unpack
    from extractors.listing import judge_listing

    rows = [derive_repo_json(repo) for repo in Corpus(SNAPSHOT).models.values()]
    assert len(rows) > 100
    differ = [row["id"] for row in rows
              if _levels(judge_listing(row)) != _levels(judge_listing(unpack(pack(reduce_row(row)))))]
    assert differ == []


def _row(model_id: str, **fields) -> dict:
    return {"id": model_id, "sha": "a" * 40, "siblings": [{"rfilename": "model.safetensors"}], **fields}


def test_hostile_rows_never_stop_the_judging_nor_lose_their_page(tmp_path):
    """A field of the wrong shape, a count SQLite cannot hold, a million tags: each row is stored (bounded) and
    judged, and so is every other row of its page."""
    from crawler.tier0 import MAX_TAGS, judge_listed, save_listing_page, unpack

    db = open_db(tmp_path / "hostile.db")
    rows = [_row("o/base-models-int", baseModels={"models": 5}), _row("o/base-models-true", baseModels=True),
            _row("o/likes-huge", likes=1e20, downloads=2 ** 70), _row("o/downloads-nan", downloads=math.nan),
            _row("o/tags", tags=[f"t{i}" for i in range(1_000_000)]), _row("o/plain", likes=3)]
    save_listing_page(db, "model", rows, run_id=1)
    stored = {i: (likes, downloads, unpack(row)) for i, likes, downloads, row in
              db.execute("select id, likes, downloads, row from listed_models")}
    assert set(stored) == {r["id"] for r in rows}
    assert stored["o/likes-huge"][:2] == (2 ** 63 - 1, 2 ** 63 - 1) and stored["o/downloads-nan"][1] is None
    assert len(stored["o/tags"][2]["tags"]) == MAX_TAGS
    assert judge_listed(db) == len(rows)
    assert {i for (i,) in db.execute("select id from tier0")} == set(stored)


def test_the_chain_is_joined_to_its_root_in_any_case_and_dual_licences_are_read_whole(tmp_path):
    """D -> C -> B -> A -> a Llama 2 base, each on its own judging page and named in another case than listed: D,
    Apache-2.0, is relicensed; a model declaring Apache-2.0 and llama2 over the same base keeps a licence it may."""
    from crawler.tier0 import judge_listed, save_listing_page, tier0_record

    chain = [("Org/Llama-2-7b", {"license": "llama2"}, None), ("org/a", {"license": "llama2"}, "org/llama-2-7B"),
             ("org/b", {}, "ORG/A"), ("org/c", {}, "org/B"), ("org/d", {"license": "apache-2.0"}, "Org/C"),
             ("org/dual", {"license": ["apache-2.0", "llama2"]}, "org/llama-2-7b")]
    db = open_db(tmp_path / "chain.db")
    for model_id, card, base in chain:  # a page each: the joins come from the store, not from the page
        save_listing_page(db, "model", [_row(model_id, cardData={**card, **({"base_model": base} if base else {})})],
                          run_id=1)
    judge_listed(db)
    flags = dict(db.execute("select id, flags from tier0"))
    assert flags["org/d"] == "relicensed" and flags["org/dual"] is None and flags["org/a"] is None
    record = tier0_record(db, "ORG/D")  # in any case, as a person types it
    (flag,) = record["listing_flags"]
    # Walked through C and B (no licence of their own) to A, the first base whose licence carries over.
    assert (flag["licence"], flag["base_licence"]) == ("apache-2.0", "llama2")
    assert [b.lower() for b in flag["chain"]] == ["org/c", "org/b", "org/a"]
