"""Reliability: a heavy fault mix ends with a clean crawl's judgements; the bad-input corpus (tests/bad_inputs.py)
yields recorded errors or sane judgements, in bounded time; the defects found by trying the tool as a hostile user
would stay fixed; docs/reliability.md is generated from the cases."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from bad_inputs import CARD_CASES, LICENCE_CASES, SHAPE_CASES, render
from conftest import ROOT, SNAPSHOT, run_openness, start_replica
from test_nightly import MODELS, clean_run, slow_replica, stored_state  # noqa: F401 (fixtures)

CAPTURE = {"card": "full", "files": "none", "licence_files": [], "facts": False, "source": "test fixture"}


def plant(corpus: Path, case: str, card: bytes, files: dict[str, bytes] | None = None) -> str:
    folder = corpus / "huggingface" / "models" / "badinput" / case
    folder.mkdir(parents=True)
    (folder / "README.md").write_bytes(card)
    capture = dict(CAPTURE)
    if files:
        for name, body in files.items():
            (folder / name).write_bytes(body)
        listed = ["README.md", *files]
        (folder / "files.tsv").write_text("path\tsize_bytes_approx\tsource\n" + "".join(
            f"{name}\t{len((folder / name).read_bytes())}\tthe test's own listing\n" for name in listed))
        capture["files"] = "full"
    (folder / "capture.json").write_text(json.dumps(capture))
    return f"badinput/{case}"


@pytest.fixture(scope="module")
def bad_store(tmp_path_factory) -> Path:
    corpus = tmp_path_factory.mktemp("bad") / "corpus"
    (corpus / "github").mkdir(parents=True)
    ids = [plant(corpus, case, card) for case, _, card, _ in CARD_CASES]
    ids += [plant(corpus, case, b"---\ntags: [text-generation]\n---\n# Model\n", {name: body})
            for case, _, name, body, _ in LICENCE_CASES]
    db = corpus.parent / "bad.db"
    proc, url = start_replica(corpus)
    try:
        started = time.monotonic()
        result = run_openness("crawl", *ids, "--db", str(db), "--hf-endpoint", url, "--github-endpoint", url,
                              "--depth", "0", timeout=300)
        elapsed = time.monotonic() - started
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert result.returncode in (0, 1), result.stderr[-3000:]  # finished; never a crash
    assert "Traceback" not in result.stderr
    assert elapsed < 240, f"the bad-input crawl took {elapsed:.0f} s"
    return db


def outcome(db: Path, model: str) -> dict:
    con = sqlite3.connect(db)
    subject = f"hf:model:{model}"
    levels = dict(con.execute("select criterion, level from judgements where subject_id = ?", [subject]).fetchall())
    parse = con.execute("select url, reason from errors where subject_id = ? and kind = 'parse'", [subject]).fetchall()
    return {"levels": levels, "parse": parse}


def check(expected: str, found: dict, document: str) -> None:
    assert len(found["levels"]) == 14, "every criterion judged"
    for part in expected.split():
        if part == "parse":
            assert found["parse"], "a parse error is recorded"
            assert any(url.endswith(document) for url, _ in found["parse"]), found["parse"]
        else:
            criterion, _, levels = part.partition(":")
            level = found["levels"]["licenses" if criterion == "licence" else "modelcard"]
            assert level in levels.split(","), f"{criterion} is {level}, expected one of {levels}"


@pytest.mark.parametrize("case, what, card, expected", CARD_CASES, ids=[c[0] for c in CARD_CASES])
def test_a_bad_card_yields_a_recorded_error_or_a_sane_judgement(case, what, card, expected, bad_store):
    check(expected, outcome(bad_store, f"badinput/{case}"), "README.md")


@pytest.mark.parametrize("case, what, name, body, expected", LICENCE_CASES, ids=[c[0] for c in LICENCE_CASES])
def test_a_bad_licence_file_yields_a_recorded_error_or_a_sane_judgement(case, what, name, body, expected, bad_store):
    found = outcome(bad_store, f"badinput/{case}")
    check(expected, found, name)


def fake_response(url: str, body: bytes, request_kwargs: dict | None = None):
    from scrapy import Request
    from scrapy.http import TextResponse

    request = Request(url, **(request_kwargs or {}))
    return TextResponse(url, status=200, body=body, request=request, encoding="utf-8",
                        headers={"Content-Type": "text/html" if body.startswith(b"<!DOCTYPE") else "application/json"})


def run_callback(kind: str, body: bytes) -> list:
    """Feed one answer to the spider callback that reads it; the items it yields."""
    from scrapy.utils.test import get_crawler

    from spiders.base import Repo
    from spiders.github import GithubSpider
    from spiders.huggingface import HuggingFaceSpider

    if kind.startswith("gh_"):
        crawler = get_crawler(GithubSpider)
        spider = GithubSpider.from_crawler(crawler, github_endpoint="http://api")
    else:
        crawler = get_crawler(HuggingFaceSpider)
        spider = HuggingFaceSpider.from_crawler(crawler, hf_endpoint="http://hub", discover={})
    crawler.stats.open_spider()
    repo = Repo("github" if kind.startswith("gh_") else "model", "a/b", revision="0" * 40)
    spider.ledger.opened(repo.subject)
    spider.ledger.opened(repo.subject)
    calls = {
        "hub_json": lambda r: spider.parse_repo_json(r, repo),
        "hub_tree": lambda r: spider.parse_tree(r, repo, page=0, siblings=[], license_link=None),
        "hub_listing": lambda r: spider.parse_listing(r, taken=0),
        "gh_repo": lambda r: spider.parse_repo(r, repo),
        "gh_head": lambda r: spider.parse_head(r, repo, repo_json=None, info={}),
        "gh_tree": lambda r: spider.parse_tree(r, repo, prefix=""),
        "gh_file": lambda r: spider.parse_file(r, repo, path="LICENSE", artifact_kind="file"),
    }
    return list(calls[kind](fake_response("http://api/x", body)))


@pytest.mark.parametrize("case, what, kind, body, error_kind", SHAPE_CASES, ids=[c[0] for c in SHAPE_CASES])
def test_an_answer_of_the_wrong_shape_is_recorded_never_a_crash(case, what, kind, body, error_kind):
    import scrapy

    from crawler.items import ErrorItem

    started = time.monotonic()
    items = run_callback(kind, body)
    assert time.monotonic() - started < 30
    errors = [i for i in items if isinstance(i, ErrorItem)]
    if error_kind:
        assert [e.kind for e in errors] == [error_kind], items
        assert errors[0].url == "http://api/x" and errors[0].reason
    else:
        assert not errors, errors
    requested = [i.url for i in items if isinstance(i, scrapy.Request)]
    assert all(".." not in url.split("?")[0] and "//LICENSE" not in url for url in requested), requested


def test_the_reliability_page_is_generated_from_the_cases():
    assert (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8") == render(), \
        "regenerate: python tests/bad_inputs.py > docs/reliability.md"


# -- the fault mix -------------------------------------------------------------------------------------------------

def without_ports(value) -> str:
    return re.sub(r"http://127\.0\.0\.1:\d+", "http://replica", repr(value))


# The fault mix of issue 30's acceptance: a third of the answers fail, each way a network and an API fail.
FAULT_MIX = ["500:0.15", "503:0.05", "429:0.1:retry-after=1", "reset:0.05", "truncate:0.05", "badjson:0.03",
             "slow:0.05"]


def same_as_clean(db: Path, clean_db: Path) -> None:
    """The same judgements and evidence, whichever replica port each crawl fetched from (a GitHub JSON answer embeds
    the endpoint's URL, so its stored copy, and the id it is cited by, differ with the port)."""
    judgements, evidence = stored_state(db)[:2]
    clean_judgements, clean_evidence = stored_state(clean_db)[:2]
    assert without_ports(judgements) == without_ports(clean_judgements)
    assert without_ports([e[:3] + e[4:] for e in evidence]) == without_ports([e[:3] + e[4:] for e in clean_evidence])


def crawl_through(db: Path, *replica_options: str, crawl_options: tuple[str, ...] = ()):
    proc, url = start_replica(SNAPSHOT, *replica_options)
    try:
        return run_openness("crawl", *MODELS, "--db", str(db), "--hf-endpoint", url, "--github-endpoint", url,
                            *crawl_options, timeout=600)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_one_run_through_the_fault_mix_ends_with_the_clean_crawls_judgements(clean_run, tmp_path):
    """Every answer drawn against the mix: retried with backoff (5xx, resets, bodies cut short, JSON that does not
    parse) or after the wait asked for (429), until the one run has every answer a clean crawl has."""
    db = tmp_path / "faulty.db"
    args = [part for fault in FAULT_MIX for part in ("--fault", fault)]
    started = time.monotonic()
    faulty = crawl_through(db, *args, "--seed", "5")
    assert faulty.returncode == 0, faulty.stdout[-2000:] + faulty.stderr[-2000:]
    assert "Traceback" not in faulty.stderr and time.monotonic() - started < 300
    con = sqlite3.connect(db)
    assert con.execute("select count(*) from errors where http_status is not 501").fetchone()[0] == 0
    counts = json.loads(con.execute("select counts from crawl_runs").fetchone()[0])
    assert counts["retry/count"] > 50 and counts["openness/ratelimit/retries"] > 5  # the faults did happen
    assert con.execute("pragma integrity_check").fetchone()[0] == "ok"
    con.close()
    same_as_clean(db, clean_run)


# (case, the outage, crawl options, exit code of the run through it)
OUTAGES = [
    # Every answer 503 for 150 requests, past what two quick retries ride out: failures recorded, repos left
    # incomplete, and the next run completes them.
    ("outage-outlasting-the-retries", "outage:1:after=60:requests=150",
     ("-s", "RETRY_TIMES=2", "-s", "RETRY_BACKOFF_BASE=0.1"), 1),
    # Every answer 503 for 6 seconds: the default backoff rides it out within the run.
    ("outage-of-6-seconds", "outage:1:after=60:seconds=6", (), 0),
]


@pytest.mark.parametrize("case, outage, options, exit_code", OUTAGES, ids=[c[0] for c in OUTAGES])
def test_a_503_outage_mid_crawl_ends_with_the_clean_crawls_judgements_after_the_next_run(case, outage, options,
                                                                                       exit_code, clean_run,
                                                                                       tmp_path):
    db = tmp_path / "outage.db"
    through = crawl_through(db, "--fault", outage, crawl_options=options)
    assert through.returncode == exit_code, through.stdout[-2000:] + through.stderr[-2000:]
    assert "Traceback" not in through.stderr
    con = sqlite3.connect(db)
    failed = con.execute("select count(*) from errors where http_status = 503").fetchone()[0]
    incomplete = con.execute("select count(distinct s.id) from errors e join subjects s on s.id = e.subject_id "
                             "where e.http_status = 503 and s.complete_revision is not s.revision").fetchone()[0]
    counts = json.loads(con.execute("select counts from crawl_runs").fetchone()[0])
    assert counts["retry/reason_count/503 Service Unavailable"] >= 8  # the outage was met, every slot by it
    assert (failed > 0 and incomplete > 0) if exit_code else failed == 0
    con.close()
    after = crawl_through(db)
    assert after.returncode == 0, after.stderr[-2000:]
    same_as_clean(db, clean_run)


# -- the defects found by trying the tool as a hostile user would ----------------------------------------------------

def test_snapshot_never_deletes_a_folder_it_did_not_write(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(SNAPSHOT / "huggingface" / "models" / "mistralai", corpus / "huggingface" / "models" / "mistralai")
    (corpus / "MANIFEST.tsv").write_text("path\n")
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    labels = ROOT / "data" / "labels"
    for out, message in ((precious, "not a snapshot"), (corpus, "is the corpus"), (corpus / "sub", "overlaps")):
        result = run_openness("snapshot", "--corpus", str(corpus), "--labels", str(labels), "--out", str(out))
        assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr
    assert (precious / "thesis.tex").read_text() == "years of work"
    assert (corpus / "huggingface" / "models" / "mistralai").is_dir()
    fresh = tmp_path / "fresh"
    assert run_openness("snapshot", "--corpus", str(corpus), "--labels", str(labels), "--out",
                        str(fresh)).returncode == 0
    again = run_openness("snapshot", "--corpus", str(corpus), "--labels", str(labels), "--out", str(fresh))
    assert again.returncode == 0 and (fresh / "README.md").exists()  # its own snapshot is replaced


@pytest.mark.parametrize("command", [["show", "a/b"], ["flags"], ["table"], ["errors"], ["changes"],
                                     ["export", "--format", "jsonl"], ["assess"]])
def test_commands_open_only_a_store_of_their_own(command, tmp_path):
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("create table notes (id integer primary key, text text)")
    con.commit()
    con.close()
    not_db = tmp_path / "notes.txt"
    not_db.write_text("hello")
    for path, message in ((other, "not an openness store"), (not_db, "not a SQLite database"),
                          (tmp_path / "missing" / "x.db", "no such store"), (tmp_path, "is a directory")):
        result = run_openness(*command, "--db", str(path))
        assert result.returncode != 0 and message in result.stderr, (path, result.stderr)
        assert "Traceback" not in result.stderr
    tables = {r[0] for r in sqlite3.connect(other).execute("select name from sqlite_master where type = 'table'")}
    assert tables == {"notes"}  # nothing added to somebody else's database


def test_crawl_refuses_somebody_elses_database(tmp_path):
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("create table notes (id integer)").connection.commit()
    result = run_openness("crawl", "a/b", "--db", str(other), "--hf-endpoint", "http://127.0.0.1:9")
    assert result.returncode == 2 and "not an openness store" in result.stderr


def test_a_document_past_its_size_cap_is_cut_off_and_recorded(tmp_path):
    from spiders import base

    corpus = tmp_path / "corpus"
    (corpus / "github").mkdir(parents=True)
    model = plant(corpus, "oversized-card", b"# Model\n\n" + b"words " * (base.MAX_BYTES["card"] // 6 + 1000))
    db = tmp_path / "big.db"
    proc, url = start_replica(corpus)
    try:
        result = run_openness("crawl", model, "--db", str(db), "--hf-endpoint", url, "--github-endpoint", url,
                              "--depth", "0", timeout=300)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert result.returncode == 1  # finished, with the truncation recorded as a failure
    con = sqlite3.connect(db)
    kind, reason = con.execute("select kind, reason from errors where url like '%README.md'").fetchone()
    assert kind == "card" and "max" in reason.lower()
    assert con.execute("select count(*) from artifacts where kind = 'card'").fetchone()[0] == 0  # nothing half-kept
    level = con.execute("select level from judgements where criterion = 'modelcard'").fetchone()[0]
    assert level == "unknown"


def test_help_says_which_commands_create_the_store():
    def help_text(command: str) -> str:
        return " ".join(run_openness(command, "--help").stdout.split())

    assert "created if missing" in help_text("crawl")
    for command in ("show", "flags", "assess", "table"):
        assert "created if missing" not in help_text(command) and "an existing one" in help_text(command)
