"""Nightly operations: incremental runs by watermark, crash-safe runs resumed after kill -9, one crawl per DB, the
change history, exit codes. Every crawl is a real `openness crawl` process against a real replica process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from conftest import OPENNESS, ROOT, SNAPSHOT, run_openness, start_replica
from crawler.ops.runs import add_stat
from crawler.run import KnownRepos, known_repos
from crawler.store import open_db

CHANGED_MODEL = "Qwen/Qwen2.5-32B"
CHANGED_REPO = "openai/whisper"  # its LICENSE is replaced by another repo's licence text
OTHER_LICENCE = "github/THUDM/ChatGLM-6B/files/LICENSE"


def crawl_args(url: str, db: Path, *args: str) -> list[str]:
    return ["crawl", *args, "--db", str(db), "--hf-endpoint", url, "--github-endpoint", url]


def counts_of(db: Path, run_id: int) -> dict:
    return json.loads(sqlite3.connect(db).execute("select counts from crawl_runs where id = ?", [run_id]).fetchone()[0])


def judged_in_run(db: Path, run_id: int) -> int:
    con = sqlite3.connect(db)
    started, finished = con.execute("select started_at, finished_at from crawl_runs where id = ?", [run_id]).fetchone()
    return con.execute("select count(distinct subject_id) from judgements where assessed_at between ? and ?",
                       [started, finished]).fetchone()[0]


def requests_of(counts: dict) -> dict[str, int]:
    return {k.rsplit("/", 1)[1]: v for k, v in counts.items() if k.startswith("openness/requests/")}


@pytest.fixture
def full_corpus_copy(tmp_path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(SNAPSHOT, target)  # copy2: the capture times (lastModified) travel with the files
    return target


def test_incremental_runs_cost_the_first_listing_page_and_refetch_exactly_what_changed(full_corpus_copy, tmp_path):
    db = tmp_path / "nightly.db"
    proc, url = start_replica(full_corpus_copy, "--page-size", "50")
    try:
        # The first full crawl walks the listing in its default order; the nightly runs after it, newest change first.
        first = run_openness(*crawl_args(url, db, "--discover"))
        assert first.returncode == 0, first.stderr[-2000:]
        second = run_openness(*crawl_args(url, db, "--discover", "--incremental"))
        assert second.returncode == 0, second.stderr[-2000:]
        rechecked = run_openness(*crawl_args(url, db, "--discover", "--incremental", "--recheck-days", "0"))
        assert rechecked.returncode == 0, rechecked.stderr[-2000:]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    first_requests = requests_of(counts_of(db, 1))
    assert first_requests["listing"] >= 3 and first_requests["card"] >= 100  # the whole listing, every model
    # An unchanged Hub: the listing's first page; the GitHub repos, asked a moment ago, wait for --recheck-days.
    assert requests_of(counts_of(db, 2)) == {"listing": 1}
    # ... and judges nothing again: the row at the watermark, read again from another listing page, is the document
    # already stored.
    assert judged_in_run(db, 2) == 0 < judged_in_run(db, 1)
    # With --recheck-days 0: also one conditional request per GitHub repo crawled before, each answered 304.
    rechecked = counts_of(db, 3)
    requests = requests_of(rechecked)
    assert requests["listing"] == 1
    assert set(requests) == {"listing", "gh_repo_json"}, requests
    complete_repos = sqlite3.connect(db).execute(
        "select count(*) from subjects where kind = 'code' and complete_revision is not null").fetchone()[0]
    assert rechecked["openness/not_modified"] == complete_repos > 0

    card = full_corpus_copy / "huggingface" / "models" / CHANGED_MODEL / "README.md"
    card.write_text(card.read_text(encoding="utf-8") + "\n## Training hardware\n\nTrained on 64 GPUs (a change made "
                                                       "by this test).\n", encoding="utf-8")
    shutil.copyfile(full_corpus_copy / OTHER_LICENCE, full_corpus_copy / "github" / CHANGED_REPO / "files" / "LICENSE")
    proc, url = start_replica(full_corpus_copy, "--page-size", "50")
    try:
        third = run_openness(*crawl_args(url, db, "--discover", "--incremental", "--recheck-days", "0"))
        assert third.returncode == 0, third.stderr[-2000:]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    changed = counts_of(db, 4)
    requests = requests_of(changed)
    # The changed model's file list: its tree, or the repo JSON's siblings where they name every file.
    assert requests["listing"] == 1 and requests["card"] == 1 and \
        requests.get("tree", 0) + changed.get("openness/trees_from_siblings", 0) == 1
    assert requests["gh_head"] == 1 and requests["gh_tree"] == 1
    assert changed["openness/repos/changed"] == 2

    result = run_openness("changes", "--db", str(db), "--since", "4", "--json")
    assert result.returncode == 0, result.stderr
    rows = {(r["repo_id"], r["aspect"]): r for r in json.loads(result.stdout)}
    card_change, licence_change = rows[(CHANGED_MODEL, "card")], rows[(CHANGED_REPO, "licence")]
    for change in (card_change, licence_change):
        assert change["old"]["value"] != change["new"]["value"] and change["run_id"] == 4
        assert change["old"]["run_id"] == 1 and change["new"]["evidence"]["fetched_url"]
    assert (CHANGED_REPO, "revision") in rows and (CHANGED_MODEL, "revision") in rows
    changed_subjects = {r["repo_id"] for r in rows.values()}
    assert changed_subjects == {CHANGED_MODEL, CHANGED_REPO}, changed_subjects
    # The added training hardware section changes the judgement; its history shows both levels with evidence.
    history = run_openness("show", CHANGED_MODEL, "--db", str(db), "--history", "--json")
    judged = [h for h in json.loads(history.stdout)["history"] if h["aspect"] == "judgement:hardware_architecture"]
    assert [h["new"]["value"] for h in judged] == ["closed", "partial"]
    assert "64 GPUs" in judged[-1]["new"]["evidence"]["snippet"]


def test_a_runs_counts_add_the_crawlers_counters_and_keep_the_largest_memory_peak():
    counts: dict = {}
    hub = {"downloader/request_count": 300, "memusage/max": 180_000_000, "elapsed_time_seconds": 20.5,
           "responses_per_minute": 900.0, "log_count/ERROR": True}
    github = {"downloader/request_count": 40, "memusage/max": 170_000_000, "elapsed_time_seconds": 4.5,
              "responses_per_minute": 500.0}
    for stats in (hub, github):
        for key, value in stats.items():
            add_stat(counts, key, value)
    assert counts == {"downloader/request_count": 340, "memusage/max": 180_000_000, "elapsed_time_seconds": 25.0}


# -- crash safety ---------------------------------------------------------------------------------------------------

MODELS = sorted(p.parent.relative_to(SNAPSHOT / "huggingface" / "models").as_posix()
                for p in (SNAPSHOT / "huggingface" / "models").glob("*/*/README.md"))[:30]


def stored_state(db: Path) -> tuple:
    con = sqlite3.connect(db)
    judgements = con.execute("select subject_id, criterion, level, confidence, rule_ids, summary, basis, searched "
                             "from judgements order by 1, 2").fetchall()
    evidence = con.execute("select subject_id, criterion, ordinal, artifact_id, url, file, line_start, snippet, "
                           "rule_id from evidence order by 1, 2, 3").fetchall()
    artifacts = con.execute("select id from artifacts order by id").fetchall()
    flags = con.execute("select subject_id, claim, failing_criteria from flags order by 1").fetchall()
    return judgements, evidence, artifacts, flags


@pytest.fixture(scope="module")
def slow_replica():
    proc, url = start_replica(SNAPSHOT, "--delay", "0.01")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def clean_run(slow_replica, tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("clean") / "clean.db"
    result = run_openness(*crawl_args(slow_replica, db, *MODELS))
    assert result.returncode == 0, result.stderr[-2000:]
    return db


def test_what_the_store_knows_of_each_repo_is_its_last_complete_crawl_and_cannot_be_written(clean_run):
    con = sqlite3.connect(clean_run)
    complete = dict(con.execute("select lower(id), complete_revision from subjects where complete_revision is not null"))
    followed = {(f.lower(), *t.split(":", 2)[1:], r) for f, t, r in
                con.execute("select from_subject, to_subject, relation from links where relation in "
                            "('base_model', 'dataset') or relation like 'base_model:%' or relation like 'dataset:%'")}
    asked = KnownRepos.read_only(clean_run)
    every = known_repos(open_db(clean_run))  # as a distributed run hands them out
    assert len(complete) > 30 and sorted(asked) == sorted(every) and set(complete) <= set(every)
    assert {key: asked[key].revision for key in complete} == complete
    assert {(key, *follow) for key in every for follow in every[key].follows} == \
        {f for f in followed if f[0] in complete} != set()
    assert any(k.json_etag for k in every.values())
    assert asked.get("hf:model:nobody/nothing") is None and "hf:model:nobody/nothing" not in asked
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        asked.db.execute("delete from subjects")
    asked.close()


def wait_for(condition, db: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the crawl ended before the kill point"
        if db.exists():
            try:
                if condition(sqlite3.connect(db, timeout=1)):
                    return
            except sqlite3.OperationalError:
                pass  # the schema is being created
        time.sleep(0.005)
    raise AssertionError("kill point never reached")


def count(con, query: str) -> int:
    return con.execute(query).fetchone()[0]


# When to kill, given the clean run's number of artifacts: as the first answers arrive, half-way through the
# item writes, and once assessment has begun (it commits a chunk of models at a time, so a kill there leaves the
# chunk's models pending).
KILL_POINTS = {
    "fetching": lambda con, total: count(con, "select count(*) from artifacts") >= 3,
    "item writes": lambda con, total: count(con, "select count(*) from artifacts") >= total // 2,
    "assessment": lambda con, total: count(con, "select count(*) from crawl_runs where status = 'assessing'") == 1,
}


@pytest.mark.parametrize("point", KILL_POINTS)
def test_kill_9_then_resume_ends_as_the_clean_run(point, slow_replica, clean_run, tmp_path):
    db = tmp_path / "killed.db"
    proc = subprocess.Popen([*OPENNESS, *crawl_args(slow_replica, db, *MODELS)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        total = count(sqlite3.connect(clean_run), "select count(*) from artifacts")
        wait_for(lambda con: KILL_POINTS[point](con, total), db, proc)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    con = sqlite3.connect(db)
    assert con.execute("select status from crawl_runs").fetchall() in ([("running",)], [("assessing",)])

    resumed = run_openness(*crawl_args(slow_replica, db, *MODELS))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "run 1 had been left running by a process that died: marked abandoned" in resumed.stderr
    assert con.execute("pragma integrity_check").fetchone()[0] == "ok"
    assert con.execute("select id, status from crawl_runs order by id").fetchall() == [(1, "abandoned"),
                                                                                        (2, "completed")]
    duplicates = count(con, "select count(*) from (select 1 from artifacts group by source, repo_type, repo_id, "
                            "kind, path, revision, content_sha256 having count(*) > 1)")
    assert duplicates == 0
    assert count(con, "select count(*) from subjects where assess_pending = 1") == 0
    assert stored_state(db) == stored_state(clean_run)


def test_a_second_crawl_on_a_locked_db_exits_2_naming_the_holder(slow_replica, clean_run, tmp_path):
    db = tmp_path / "busy.db"
    first = subprocess.Popen([*OPENNESS, *crawl_args(slow_replica, db, *MODELS)], cwd=ROOT, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lock = Path(f"{db}.lock")
    deadline = time.monotonic() + 60
    while not (lock.exists() and lock.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.01)
    second = run_openness(*crawl_args(slow_replica, db, *MODELS))
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-2000:]
    assert second.returncode == 2
    assert f"locked by pid {first.pid}" in second.stderr and "started 20" in second.stderr
    assert "(exit 2)" in second.stderr
    # Nothing lost: the first crawl's store is the clean one, and the refused one left no run behind.
    assert stored_state(db) == stored_state(clean_run)
    assert sqlite3.connect(db).execute("select count(*) from crawl_runs").fetchone()[0] == 1


def test_a_crawl_nothing_answered_fails_with_exit_2(tmp_path):
    # a refused connection is retried like any transient failure: one quick retry here
    result = run_openness("crawl", "Qwen/Qwen2.5-32B", "--db", str(tmp_path / "x.db"), "-s", "RETRY_TIMES=1",
                          "--hf-endpoint", "http://127.0.0.1:1", "--github-endpoint", "http://127.0.0.1:1")
    assert result.returncode == 2
    assert "failed: no request was answered" in result.stdout and result.stdout.rstrip().endswith("(exit 2)")
    status = sqlite3.connect(tmp_path / "x.db").execute("select status, exit_code from crawl_runs").fetchone()
    assert status == ("failed", 2)


def test_the_demo_killed_with_9_leaves_no_replica_running(tmp_path):
    demo = subprocess.Popen([*OPENNESS, "demo", "--db", str(tmp_path / "demo.db"), "--replica-delay", "0.2"],
                            cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env={**os.environ, "COLUMNS": "400"})
    line = demo.stdout.readline()
    assert "replica serving" in line, line
    port = int(line.split(" at http://127.0.0.1:", 1)[1].split(";", 1)[0])
    socket.create_connection(("127.0.0.1", port), timeout=5).close()  # the replica is up
    demo.send_signal(signal.SIGKILL)
    demo.wait(timeout=10)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return  # nobody listens any more: the replica died with the demo
        time.sleep(0.1)
    raise AssertionError(f"the replica on port {port} outlived the demo killed with -9")


# -- distributed mode -------------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """A real redis-server on loopback, started as an operator starts one (installed by `make test` / .ci/run)."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed: `make test` installs it (apt-get install redis-server)"
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path_factory.mktemp("redis"))], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)


def test_two_crawler_processes_and_one_ingester_end_as_the_single_process_crawl(redis_url, slow_replica, clean_run,
                                                                                tmp_path):
    db = tmp_path / "distributed.db"
    ingester = subprocess.Popen([*OPENNESS, "ingest", "--redis", redis_url, "--db", str(db), "--wait", "120"],
                                cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    crawler_command = [*OPENNESS, "crawl", "--distributed", redis_url, *MODELS, "--hf-endpoint", slow_replica,
                       "--github-endpoint", slow_replica]
    crawlers = [subprocess.Popen(crawler_command, cwd=ROOT, text=True, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE) for _ in range(2)]
    outputs = [c.communicate(timeout=300) for c in crawlers]
    out, err = ingester.communicate(timeout=300)
    for crawler, (c_out, c_err) in zip(crawlers, outputs):
        assert crawler.returncode == 0, c_err[-2000:]
        assert "crawler of run 1: completed" in c_out
    assert ingester.returncode == 0, err[-2000:]
    assert out.rstrip().endswith("(exit 0)")
    # Both crawlers did part of the work, and the one writer stored what a single-process crawl stores.
    repos_per_crawler = [int(o.split(" new,")[0].rsplit("repos: ", 1)[1]) for o, _ in outputs]
    assert all(n > 0 for n in repos_per_crawler), repos_per_crawler
    assert stored_state(db) == stored_state(clean_run)
    con = sqlite3.connect(db)
    assert con.execute("select status, exit_code from crawl_runs").fetchall() == [("completed", 0)]
    counts = json.loads(con.execute("select counts from crawl_runs").fetchone()[0])
    assert counts["openness/crawlers"] == 2


def test_a_rate_budget_shared_through_redis_holds_across_processes(redis_url):
    from crawler.ops.distributed import RedisBudget, connect

    # Two budgets on one key stand for two crawler processes spending one token's budget.
    first, second = (RedisBudget(connect(redis_url), "test-shared", quota=5, window=30) for _ in range(2))
    granted = [budget.acquire() == 0 for _ in range(4) for budget in (first, second)]
    assert granted.count(True) == 5
    waits = [first.acquire(), second.acquire()]
    assert all(0 < wait <= 30 for wait in waits)
    other = RedisBudget(connect(redis_url), "test-paused", quota=100, window=30)
    assert other.acquire() == 0
    RedisBudget(connect(redis_url), "test-paused", quota=100, window=30).pause(5)  # the Hub said stop
    assert 4 < other.acquire() <= 5


def test_a_distributed_runs_memory_peak_is_the_largest_of_its_processes(redis_url):
    from crawler.ops.distributed import HASH_MAX, connect

    server = connect(redis_url)
    server.delete("test-stats")
    for peak in (180_000_000, 250_000_000, 170_000_000):  # three crawler processes close, in turn
        server.eval(HASH_MAX, 1, "test-stats", "memusage/max", peak)
    assert int(server.hget("test-stats", "memusage/max")) == 250_000_000


def test_a_distributed_crawler_without_an_ingester_fails_clearly(redis_url):
    import redis

    redis.Redis.from_url(redis_url).delete("openness:run")
    result = run_openness("crawl", "--distributed", redis_url, "--wait-for-run", "1", "Qwen/Qwen2.5-32B", timeout=60)
    assert result.returncode == 2
    assert "no run is open on this Redis: start `openness ingest --redis URL` first" in result.stderr


@pytest.mark.parametrize("endpoint", ["not a url", "", "http://127.0.0.1:99999", "ftp://example.org"])
def test_a_bad_endpoint_is_a_configuration_error_exit_2_before_any_run(endpoint, tmp_path):
    result = run_openness("crawl", "Qwen/Qwen2.5-32B", "--db", str(tmp_path / "x.db"), "--hf-endpoint", endpoint)
    assert result.returncode == 2
    assert "Invalid value for '--hf-endpoint'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x.db").exists()  # no run left `running`: none was started
