"""`openness crawl`, `show` and `assess` against the replica: seeds, bad input, tokens, determinism."""

from __future__ import annotations

import json
import re
import shlex
import sqlite3
import subprocess

from conftest import ROOT, start_replica, run_openness
from crawler.middlewares import TokenMiddleware

SECRET = "hf_test_secret_token_1234567890"


def crawl(replica_url, db_path, *ids, env=None):
    return run_openness("crawl", *ids, "--db", str(db_path), "--hf-endpoint", replica_url, "--github-endpoint",
                        replica_url, env=env)


def test_seeds_file_with_comments(replica_url, db_path, tmp_path):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("# labelled models\nQwen/Qwen2.5-32B  # apache\n\nmeta-llama/Meta-Llama-3-8B\n")
    result = run_openness("crawl", "--seeds", str(seeds), "--db", str(db_path), "--hf-endpoint", replica_url,
                          "--github-endpoint", replica_url)
    assert result.returncode == 0, result.stderr
    subjects = {r for (r,) in sqlite3.connect(db_path).execute("select repo_id from subjects where kind = 'model'")}
    assert subjects == {"Qwen/Qwen2.5-32B", "meta-llama/Meta-Llama-3-8B"}


def test_show_json_lists_judgements_with_evidence(replica_url, db_path):
    assert crawl(replica_url, db_path, "Qwen/Qwen2.5-32B").returncode == 0
    result = run_openness("show", "Qwen/Qwen2.5-32B", "--db", str(db_path), "--json")
    report = json.loads(result.stdout)
    levels = {j["criterion"]: j["level"] for j in report["judgements"]}
    assert len(levels) == 14 and levels["licenses"] == "open" and levels["weights_endmodel"] == "open"
    assert all(j["evidence"] for j in report["judgements"])
    licence = next(j for j in report["judgements"] if j["criterion"] == "licenses")
    assert licence["evidence"][0]["snippet"] == "license: apache-2.0"
    assert report["revision"] in licence["evidence"][0]["fetched_url"]


def test_missing_model_is_recorded_as_missing(replica_url, db_path):
    result = crawl(replica_url, db_path, "nobody/no-such-model")
    assert result.returncode == 0
    con = sqlite3.connect(db_path)
    assert con.execute("select status from subjects").fetchone()[0] == "missing"
    reason = con.execute("select reason from errors where kind = 'model_json'").fetchone()[0]
    assert "404" in reason and "RepoNotFound" in reason


def test_assess_recomputes_identically_without_network(replica_url, db_path):
    assert crawl(replica_url, db_path, "meta-llama/Meta-Llama-3-8B", "bigscience/bloom").returncode == 0
    query = "select subject_id, criterion, level, confidence, rule_ids, summary from judgements order by 1, 2"
    evidence_query = "select * from evidence order by subject_id, criterion, ordinal"
    con = sqlite3.connect(db_path)
    before = con.execute(query).fetchall(), [r[1:] for r in con.execute(evidence_query)]
    result = run_openness("assess", "--force", "--db", str(db_path))  # no endpoint at all: stored artifacts only
    assert result.returncode == 0 and "assessed 2 models" in result.stdout
    after = con.execute(query).fetchall(), [r[1:] for r in con.execute(evidence_query)]
    assert before == after


def test_bad_model_id_is_refused_with_its_name(db_path):
    result = run_openness("crawl", "not-a-repo-id", "--db", str(db_path))
    assert result.returncode == 2 and "not-a-repo-id" in result.stderr


def test_show_unknown_model_names_it(replica_url, db_path):
    crawl(replica_url, db_path, "Qwen/Qwen2.5-32B")
    result = run_openness("show", "someone/else", "--db", str(db_path))
    assert result.returncode == 1 and "someone/else" in result.stderr


def test_hostile_front_matter_is_recorded_and_the_crawl_completes(corpus_copy, db_path):
    card = corpus_copy / "huggingface/models/mistralai/Mistral-7B-v0.1/README.md"
    card.write_text("---\nlicense: &a [*a, *a\n bad: : :\n---\n# Model\n" + "word " * 50, encoding="utf-8")
    proc, url = start_replica(corpus_copy)
    try:
        result = crawl(url, db_path, "mistralai/Mistral-7B-v0.1", "meta-llama/Meta-Llama-3-8B")
    finally:
        proc.terminate()
    # Completed, with the card's parse error (recorded while assessing) counted among the run's failures: exit 1.
    assert result.returncode == 1 and "failures: 1 parse" in " ".join(result.stdout.split()), result.stderr
    con = sqlite3.connect(db_path)
    rules = con.execute("select rule_ids from judgements where subject_id = 'hf:model:mistralai/Mistral-7B-v0.1' "
                        "and criterion = 'licenses'").fetchone()[0]
    assert "licence.card.unreadable" in rules
    assert con.execute("select count(*) from judgements").fetchone()[0] == 2 * 14


def test_tokens_go_only_to_their_own_host_and_are_never_stored(replica_url, db_path):
    env = {**__import__("os").environ, "HF_TOKEN": SECRET}
    result = crawl(replica_url, db_path, "Qwen/Qwen2.5-32B", env=env)
    assert result.returncode == 0
    assert SECRET not in result.stdout + result.stderr
    for path in db_path.parent.glob(db_path.name + "*"):
        assert SECRET.encode() not in path.read_bytes()


def test_token_middleware_sends_each_token_to_its_own_endpoint_only(monkeypatch):
    from scrapy import Request, Spider
    from scrapy.utils.test import get_crawler

    monkeypatch.setenv("HF_TOKEN", "hf-token")
    monkeypatch.setenv("GITHUB_TOKEN", "gh-token")
    settings = {"HF_ENDPOINT": "https://hub.example", "GITHUB_API_URL": "https://hub.example/github/"}
    middleware = TokenMiddleware.from_crawler(get_crawler(Spider, settings))
    hub = Request("https://hub.example/api/models/x/y")
    github = Request("https://hub.example/github/repos/x/y")
    elsewhere = Request("https://elsewhere.example/file", headers={"Authorization": "Bearer hf-token"})
    other_port = Request("https://hub.example:8443/api/models/x/y")
    for request in (hub, github, elsewhere, other_port):
        middleware.process_request(request)
    assert hub.headers[b"Authorization"] == b"Bearer hf-token"
    assert github.headers[b"Authorization"] == b"Bearer gh-token"
    assert b"Authorization" not in elsewhere.headers and b"Authorization" not in other_port.headers


def test_a_big_crawl_prints_the_first_rows_of_its_table_and_how_to_see_the_rest(replica_url, db_path, tmp_path):
    from conftest import SNAPSHOT
    from crawler.cli import CRAWL_TABLE_ROWS

    models = sorted(p.parent.relative_to(SNAPSHOT / "huggingface" / "models").as_posix()
                    for p in (SNAPSHOT / "huggingface" / "models").glob("*/*/README.md"))[:CRAWL_TABLE_ROWS + 5]
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(models) + "\n")
    result = run_openness("crawl", "--seeds", str(seeds), "--depth", "0", "--no-github", "--db", str(db_path),
                          "--hf-endpoint", replica_url, "--github-endpoint", replica_url)
    assert result.returncode == 0, result.stderr[-2000:]
    run_id = sqlite3.connect(db_path).execute("select max(id) from crawl_runs").fetchone()[0]
    lines = result.stdout.splitlines()
    more = lines.index("... and 5 more models of this run:")
    # The command on a line of its own, as a new shell in the same folder runs it: it shows this run's whole table
    printed = lines[more + 1].strip()
    assert shlex.split(printed)[-5:] == ["table", "--run", str(run_id), "--db", str(db_path)]
    whole = run_openness("table", "--run", str(run_id), "--db", str(db_path), "--format", "json")
    assert whole.returncode == 0, whole.stderr
    shown = subprocess.run(["bash", "-c", printed + " --format json"], cwd=ROOT, capture_output=True, text=True,
                           timeout=120)
    assert shown.returncode == 0 and json.loads(shown.stdout) == json.loads(whole.stdout), shown.stderr
    ordered = [row["model"] for row in json.loads(whole.stdout)]  # the most open first, as the crawl prints
    assert sorted(ordered) == sorted(models)
    table_part = result.stdout.split("... and 5 more")[0]
    rows = [line for line in table_part.splitlines() if re.search(r"\s\d+(\.5)?(\s+[✓~✗?]){14}\s*$", line)]
    assert len(rows) == CRAWL_TABLE_ROWS, table_part
    # the first rows, in the table's order (a long id wraps after its owner)
    for row, model in zip(rows, ordered[:CRAWL_TABLE_ROWS]):
        first = row.split()[0]
        assert first == model or (first.endswith("/") and model.startswith(first)), (row, model)


def test_judging_in_the_crawls_process_builds_no_debug_records_below_its_log_level():
    """Scrapy's CrawlerProcess leaves the root logger at NOTSET with a handler that filters by LOG_LEVEL (done here
    the same way, without Scrapy's global handler, which later crawlers in this process would install again):
    without `quiet_debug_logging`, parsing one real card builds thousands of markdown-it-py debug records only to
    drop them."""
    import io
    import logging

    from conftest import SNAPSHOT
    from crawler.run import quiet_debug_logging
    from extractors.markdown import parse

    card = (SNAPSHOT / "huggingface" / "models" / "WizardLM" / "WizardLM-7B-V1.0" / "README.md").read_text("utf-8")
    built = []
    factory = logging.getLogRecordFactory()
    logging.setLogRecordFactory(lambda *args, **kwargs: built.append(args[0]) or factory(*args, **kwargs))
    levels = {name: logging.getLogger(name).level for name in ("scrapy", "markdown_it")}
    root_level, handler = logging.root.level, logging.StreamHandler(io.StringIO())
    handler.setLevel(logging.WARNING)
    try:
        logging.root.addHandler(handler)
        logging.root.setLevel(logging.NOTSET)
        parse(card)
        loud = len(built)
        quiet_debug_logging("WARNING")
        built.clear()
        parse(card)
        assert loud > 100 and built == []
    finally:
        logging.setLogRecordFactory(factory)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        logging.root.removeHandler(handler)
        logging.root.setLevel(root_level)


def test_a_crawl_judging_in_two_processes_writes_what_one_process_writes(replica_url, tmp_path):
    # A chain of base models and a model that links GitHub repos: judgements that read other subjects' artifacts.
    ids = ("Intel/neural-chat-7b-v3-3", "meta-llama/Meta-Llama-3-8B")
    stores = {workers: tmp_path / f"workers-{workers}.db" for workers in ("1", "2")}
    for workers, db in stores.items():
        result = run_openness("crawl", *ids, "--workers", workers, "--db", str(db), "--hf-endpoint", replica_url,
                              "--github-endpoint", replica_url)
        assert result.returncode == 0, result.stderr[-2000:]
        said = " ".join(result.stdout.split())
        assert ("models assessed (judged in 2 processes)" in said) == (workers == "2")
    queries = ("select s.repo_id, j.criterion, j.level, j.rule_ids, j.summary from judgements j join subjects s "
               "on s.id = j.subject_id order by 1, 2",
               "select s.repo_id, e.criterion, e.url, e.line_start, e.snippet from evidence e join subjects s on "
               "s.id = e.subject_id order by 1, 2, 3, 4, 5",
               "select s.repo_id, f.claim, f.failing_criteria from flags f join subjects s on s.id = f.subject_id "
               "order by 1, 2")
    for query in queries:
        single, parallel = (sqlite3.connect(db).execute(query).fetchall() for db in stores.values())
        assert parallel == single
    judged = sqlite3.connect(stores["2"]).execute("select count(distinct subject_id) from judgements").fetchone()[0]
    assert judged >= 4  # the two named models and the bases they were built on


def test_a_distributed_crawler_refuses_workers_it_would_not_use(tmp_path):
    for workers in ("2", "0"):  # 0 (one per core) too, whatever the machine's number of cores
        result = run_openness("crawl", "Qwen/Qwen2.5-32B", "--distributed", "redis://127.0.0.1:1/0", "--workers",
                              workers, "--db", str(tmp_path / "unused.db"))
        assert result.returncode == 2 and "openness ingest --workers" in result.stderr, workers
