"""A hostile or broken network (issue 30: waits, retries, faults, interrupts, credentials): no wait a server asks for
is longer than MAX_WAIT (a longer one is an outage: that request fails transiently, is recorded, and the next run
completes it); transient faults are retried with backoff and never change a judgement; Ctrl-C or SIGTERM end a run
within seconds at any time, leaving it resumable; each token goes to its own endpoint only, and an endpoint with a
password is refused. The crawler runs as users run it, in a subprocess, against the hostile Hub and GitHub of
tests/hostile_server.py, which records every request it is sent."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

from conftest import OPENNESS, ROOT, SNAPSHOT, run_openness
from crawler.replica.http import Answer, hub_error
from crawler.replica.limits import Fault
from hostile_server import HostileServer

# A model with a card, a config, licence files and a linked GitHub repo: 18 requests to both APIs at depth 0.
MODEL = "meta-llama/Meta-Llama-3-8B"
MODEL_JSON = r"^/api/models/meta-llama/Meta-Llama-3-8B$"
TREE = r"^/api/models/meta-llama/Meta-Llama-3-8B/tree/"
CARD = r"^/meta-llama/Meta-Llama-3-8B/resolve/[0-9a-f]+/README\.md$"
CONFIG = r"/resolve/[0-9a-f]+/config\.json$"
GH_REPO = r"^/repos/meta-llama/llama3$"
GH_HEAD = r"^/repos/meta-llama/llama3/commits/main$"
GH_TREE = r"^/repos/meta-llama/llama3/git/trees/"
GH_LICENCE = r"^/repos/meta-llama/llama3/contents/LICENSE\?"
YEAR_5000 = "95617584000"  # 5000-01-01 in epoch seconds, as GitHub's x-ratelimit-reset
HF_SECRET = "hf_network_secret_5a1b2c3d4e"
GH_SECRET = "ghp_network_secret_9f8e7d6c5b"
QUICK_RETRIES = ("-s", "RETRY_TIMES=2", "-s", "RETRY_BACKOFF_BASE=0.1")


def crawl(url: str, db: Path, *extra: str, github_url: str | None = None, env: dict | None = None,
          timeout: int = 180) -> subprocess.CompletedProcess:
    return run_openness("crawl", MODEL, "--db", str(db), "--hf-endpoint", url, "--github-endpoint", github_url or url,
                        "--depth", "0", *extra, env=env, timeout=timeout)


def query(db: Path, sql: str, params=()) -> list[tuple]:
    """Rows of the store, on a connection closed at once (not when the garbage collector gets to it, perhaps while
    the next crawl writes)."""
    with closing(sqlite3.connect(db, timeout=5)) as con:
        return con.execute(sql, params).fetchall()


def state(db: Path) -> str:
    """The judgements and their evidence, whichever port the crawl fetched from (GitHub's JSON embeds the URL)."""
    judgements = query(db, "select subject_id, criterion, level, confidence, rule_ids, summary, basis, searched "
                           "from judgements order by 1, 2")
    evidence = query(db, "select subject_id, criterion, ordinal, url, file, line_start, snippet, rule_id "
                         "from evidence order by 1, 2, 3")
    return re.sub(r"http://127\.0\.0\.1:\d+", "http://replica", repr((judgements, evidence)))


def errors(db: Path, run_id: int = 1) -> list[tuple]:
    """The run's failures (not the snapshot's absences: 501 not captured, 404)."""
    return query(db, "select kind, http_status, reason from errors where run_id = ? and http_status is not 501 "
                     "and http_status is not 404 order by id", [run_id])


def run_counts(db: Path, run_id: int = 1) -> dict:
    (counts,), = query(db, "select counts from crawl_runs where id = ?", [run_id])
    return json.loads(counts or "{}")


@pytest.fixture(scope="module")
def clean(snapshot_corpus, tmp_path_factory) -> str:
    """The judgements of a crawl of MODEL that nothing went wrong with."""
    db = tmp_path_factory.mktemp("clean") / "clean.db"
    with HostileServer(snapshot_corpus) as server:
        result = crawl(server.url, db)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not errors(db)
    return state(db)


@pytest.fixture
def server(snapshot_corpus):
    with HostileServer(snapshot_corpus) as server:
        yield server


class Faulty:
    """An override: the first `times` requests it matches are answered by `make(request, real)`, the rest as the
    replica answers; when each came is kept (`at`). A fault the server carries out on a real answer (truncate, slow)
    asks the app for that answer on the same thread: that call is given the real answer, uncounted."""

    def __init__(self, times: float, make):
        self.times, self.make = times, make
        self.at: list[float] = []
        self.lock = threading.Lock()
        self.local = threading.local()

    def __call__(self, request, real):
        if getattr(self.local, "carrying_out", False):
            self.local.carrying_out = False
            return real()
        with self.lock:
            self.at.append(time.monotonic())
            n = len(self.at)
        if n > self.times:
            return real()
        answer = self.make(request, real)
        self.local.carrying_out = answer.transport is not None and answer.transport.kind in ("truncate", "slow")
        return answer


def status(code: int, **headers: str):
    def make(request, real):
        answer = hub_error(code, "Injected", f"injected {code}")
        answer.headers.update({k.replace("_", "-"): v for k, v in headers.items()})
        return answer
    return make


def transport(kind: str, **params: str):
    return lambda request, real: Fault(kind, 1.0, params).answer()


def with_headers(**headers: str):
    """The real answer, with these headers added (a rate limit said on a success)."""
    def make(request, real):
        answer = real()
        answer.headers.update({k.replace("_", "-"): v for k, v in headers.items()})
        return answer
    return make


def html_page(request, real):
    return Answer(200, b"<!DOCTYPE html><html><body><h1>Please wait</h1>Checking your browser...</body></html>",
                  content_type="text/html; charset=utf-8")


# -- transient faults: retried with backoff, the judgements those of a clean crawl --------------------------------

# (case, request pattern, how many times it fails, how)
RECOVERED = [
    ("hub-json-500-twice", MODEL_JSON, 2, status(500)),
    ("hub-json-503-with-retry-after", MODEL_JSON, 1, status(503, Retry_After="2")),
    ("card-502-three-times", CARD, 3, status(502)),
    ("tree-504", TREE, 1, status(504)),
    ("config-408", CONFIG, 2, status(408)),
    ("gh-repo-500", GH_REPO, 2, status(500)),
    # The first request: a fresh connection (on a kept-alive one, Twisted's HTTP client itself tries again at once)
    ("hub-json-connection-reset", MODEL_JSON, 2, transport("reset")),
    ("gh-head-timeout", GH_HEAD, 1, transport("timeout", seconds="4")),
    ("hub-json-timeout", MODEL_JSON, 1, transport("timeout", seconds="4")),
    ("card-truncated", CARD, 2, transport("truncate")),
    ("gh-tree-truncated", GH_TREE, 1, transport("truncate")),
    ("hub-json-bad-json", MODEL_JSON, 2, transport("badjson")),
    ("card-bad-json", CARD, 1, transport("badjson")),
    ("gh-repo-html-page-200", GH_REPO, 2, transport("html")),
    ("card-html-page-200", CARD, 1, html_page),
    ("card-slow-body", CARD, 1, transport("slow", seconds="0.1")),
]


@pytest.mark.parametrize("case, target, times, make", RECOVERED, ids=[c[0] for c in RECOVERED])
def test_a_transient_fault_is_retried_with_backoff_and_changes_no_judgement(case, target, times, make, server,
                                                                             clean, tmp_path):
    db = tmp_path / "faulty.db"
    faulty = Faulty(times, make)
    server.override(target, faulty)
    result = crawl(server.url, db, "--download-timeout", "2")
    assert result.returncode == 0, result.stdout[-1500:] + result.stderr[-1500:]
    assert "Traceback" not in result.stderr
    slow = case == "card-slow-body"  # a slow body is no failure: nothing to retry
    assert len(faulty.at) == (1 if slow else times + 1)
    assert errors(db) == []
    assert state(db) == clean
    # Each retry waited its backoff: RETRY_BACKOFF_BASE (1 s) doubling, times at least 0.5 (jitter); a 503's
    # Retry-After at least.
    gaps = [b - a for a, b in zip(faulty.at, faulty.at[1:])]
    floors = [2.0 if "retry-after" in case else 0.5 * 2 ** i for i in range(len(gaps))]
    assert all(gap >= floor * 0.95 for gap, floor in zip(gaps, floors)), (gaps, floors)
    assert run_counts(db).get("retry/count", 0) == (0 if slow else times)


# (case, request pattern, how, the error recorded: kind, HTTP status, words of its reason)
OUTLASTING = [
    ("card-503-outlasts-retries", CARD, status(503), ("card", 503, "HTTP 503")),
    ("config-408-outlasts-retries", CONFIG, status(408), ("file", None, "GaveUp: HTTP 408")),
    ("gh-licence-truncated-outlasts-retries", GH_LICENCE, transport("truncate"),
     ("gh_file", None, "ResponseDataLossError")),
    ("tree-html-outlasts-retries", TREE, transport("html"), ("tree", 200, "not a JSON list")),
    ("gh-tree-bad-json-outlasts-retries", GH_TREE, transport("badjson"), ("gh_tree", 200, "unreadable")),
    ("card-429-outlasts-rate-limit-retries", CARD, status(429, Retry_After="0"),
     ("card", None, "still limited after 2 retries")),
]


@pytest.mark.parametrize("case, target, make, expected", OUTLASTING, ids=[c[0] for c in OUTLASTING])
def test_a_fault_that_outlasts_the_retries_is_recorded_and_the_next_run_completes_it(case, target, make, expected,
                                                                                       snapshot_corpus, clean,
                                                                                       tmp_path):
    db = tmp_path / "faulty.db"
    with HostileServer(snapshot_corpus) as server:
        faulty = Faulty(float("inf"), make)
        server.override(target, faulty)
        first = crawl(server.url, db, *QUICK_RETRIES, "-s", "HUB_RATELIMIT_RETRIES=2")
    assert first.returncode == 1, first.stdout[-1500:] + first.stderr[-1500:]
    assert "Traceback" not in first.stderr and "(exit 1)" in first.stdout
    kind, http_status, words = expected
    recorded = errors(db)
    assert [(k, s) for k, s, _ in recorded] == [(kind, http_status)] and words in recorded[0][2], recorded
    assert len(faulty.at) == 3  # the first try and RETRY_TIMES (or HUB_RATELIMIT_RETRIES) retries
    with HostileServer(snapshot_corpus) as server:
        second = crawl(server.url, db)
    assert second.returncode == 0, second.stderr[-2000:]
    assert state(db) == clean  # the next run completed what the fault left out


def test_a_request_stops_being_retried_at_max_request_time(server, tmp_path):
    db = tmp_path / "capped.db"
    faulty = Faulty(float("inf"), status(503))
    server.override(CARD, faulty)
    started = time.monotonic()
    result = crawl(server.url, db, "-s", "MAX_REQUEST_TIME=4")
    assert result.returncode == 1, result.stderr[-2000:]
    assert time.monotonic() - started < 60
    # 10 retries would back off for minutes: the 4 s cap ends them after a few, and the bound is counted.
    assert 2 <= len(faulty.at) <= 4 and faulty.at[-1] - faulty.at[0] <= 4
    assert run_counts(db)["openness/bounds/max_request_time"] == 1
    assert errors(db) == [("card", 503, "HTTP 503 Injected injected 503")]


# -- waits: capped, an absurd one an outage ------------------------------------------------------------------------

# (case, request pattern, how, the kind of the request given up, exit code: 2 when nothing else was answered). The
# server's pause holds the whole budget (the Hub's api or resolvers, GitHub's): the requests of that budget still
# to go fail at once too, recorded as waits past MAX_WAIT.
OUTAGES = [
    ("hub-429-ratelimit-t-inf", MODEL_JSON, status(429, RateLimit='"api";r=0;t=inf'), "model_json", 2),
    ("hub-429-ratelimit-t-400-digits", TREE, status(429, RateLimit='"api";r=0;t=' + "9" * 400), "tree", 1),
    ("hub-429-retry-after-99999999999", CARD, status(429, Retry_After="99999999999"), "card", 1),
    ("hub-429-retry-after-year-5000", CARD, status(429, Retry_After="Fri, 01 Jan 5000 00:00:00 GMT"), "card", 1),
    ("hub-503-retry-after-99999999999", CONFIG, status(503, Retry_After="99999999999"), "file", 1),
    ("gh-403-reset-year-5000", GH_HEAD, status(403, x_ratelimit_remaining="0", x_ratelimit_reset=YEAR_5000),
     "gh_head", 1),
    ("gh-403-reset-400-digits", GH_HEAD, status(403, x_ratelimit_remaining="0", x_ratelimit_reset="9" * 400),
     "gh_head", 1),
    ("gh-429-retry-after-99999999999", GH_REPO, status(429, retry_after="99999999999"), "gh_repo_json", 1),
]
SAME_BUDGET = {"model_json": {"tree"}, "tree": set(), "card": {"file"}, "file": set(), "gh_head": set(),
               "gh_repo_json": {"gh_repo_json"}}


@pytest.mark.parametrize("case, target, make, kind, exit_code", OUTAGES, ids=[c[0] for c in OUTAGES])
def test_a_wait_past_max_wait_is_an_outage_recorded_and_completed_by_the_next_run(case, target, make, kind,
                                                                                    exit_code, snapshot_corpus,
                                                                                    clean, tmp_path):
    db = tmp_path / "outage.db"
    with HostileServer(snapshot_corpus) as server:
        faulty = Faulty(float("inf"), make)
        server.override(target, faulty)
        started = time.monotonic()
        first = crawl(server.url, db, timeout=120)
        elapsed = time.monotonic() - started
    assert first.returncode == exit_code, first.stdout[-1500:] + first.stderr[-1500:]
    assert elapsed < 60 and "Traceback" not in first.stderr
    assert len(faulty.at) == 1  # given up at once, not retried into the same wall
    (given_up, http_status, reason), *held = errors(db)
    assert given_up == kind
    if case.startswith("hub-503"):  # Scrapy's retry gives the 503 up to the spider, which records it
        assert (http_status, reason) == (503, "HTTP 503 Injected injected 503")
        assert run_counts(db)["openness/bounds/max_wait"] == 1
    else:
        assert reason.startswith("GaveUp: HTTP ") and "would pass MAX_WAIT (360 s): treated as an outage" in reason
        assert run_counts(db)["openness/bounds/max_wait"] == 1 + len(held)
    assert all(k in SAME_BUDGET[kind] and "holds" in r and "would pass MAX_WAIT" in r for k, _, r in held), held
    with HostileServer(snapshot_corpus) as server:
        second = crawl(server.url, db)
    assert second.returncode == 0, second.stderr[-2000:]
    assert state(db) == clean


# A success that says the budget is spent until never: the requests of that budget fail at once, transiently;
# those of another budget go on. (case, pattern, how, kinds given up)
SPENT = [
    ("hub-200-ratelimit-r0-t-inf", MODEL_JSON, with_headers(RateLimit='"api";r=0;t=inf'), ["tree"]),
    ("gh-200-remaining-0-reset-year-5000", GH_REPO,
     with_headers(x_ratelimit_remaining="0", x_ratelimit_reset=YEAR_5000), ["gh_head"]),
]


@pytest.mark.parametrize("case, target, make, kinds", SPENT, ids=[c[0] for c in SPENT])
def test_a_budget_paused_past_max_wait_fails_its_requests_at_once(case, target, make, kinds, snapshot_corpus, clean,
                                                                   tmp_path):
    db = tmp_path / "spent.db"
    with HostileServer(snapshot_corpus) as server:
        server.override(target, Faulty(1, make))
        started = time.monotonic()
        first = crawl(server.url, db, timeout=120)
        assert time.monotonic() - started < 60
    assert first.returncode == 1, first.stdout[-1500:] + first.stderr[-1500:]
    recorded = errors(db)
    assert [k for k, _, _ in recorded] == kinds and all("budget" in r or "rate limit holds" in r and "MAX_WAIT" in r
                                                        for _, _, r in recorded), recorded
    with HostileServer(snapshot_corpus) as server:
        assert crawl(server.url, db).returncode == 0
    assert state(db) == clean


# A rate limit whose hint is not a number of seconds (negative, NaN, words): a short backoff, then the retry.
# (case, pattern, how)
GARBAGE = [
    ("hub-429-retry-after-negative", CARD, status(429, Retry_After="-5")),
    ("hub-429-retry-after-words", MODEL_JSON, status(429, Retry_After="soon, maybe")),
    ("hub-429-ratelimit-t-negative", TREE, status(429, RateLimit='"api";r=0;t=-1')),
    ("hub-429-ratelimit-unparsable", CARD, status(429, RateLimit=";;=;r=;t==")),
    ("gh-403-reset-words", GH_HEAD, status(403, x_ratelimit_remaining="0", x_ratelimit_reset="tomorrow")),
    ("gh-403-reset-negative", GH_HEAD, status(403, x_ratelimit_remaining="0", x_ratelimit_reset="-1")),
    ("gh-429-retry-after-nan", GH_REPO, status(429, retry_after="nan")),
    ("hub-429-retry-after-2-is-waited", CARD, status(429, Retry_After="2")),
    ("gh-429-retry-after-2-is-waited", GH_REPO, status(429, retry_after="2")),
]


@pytest.mark.parametrize("case, target, make", GARBAGE, ids=[c[0] for c in GARBAGE])
def test_a_rate_limit_with_a_bad_or_short_hint_is_waited_briefly_then_retried(case, target, make, server, clean,
                                                                             tmp_path):
    db = tmp_path / "hint.db"
    faulty = Faulty(1, make)
    server.override(target, faulty)
    started = time.monotonic()
    result = crawl(server.url, db, "-s", "GITHUB_SECONDARY_LIMIT_WAIT=1", timeout=120)
    assert result.returncode == 0, result.stdout[-1500:] + result.stderr[-1500:]
    assert time.monotonic() - started < 60
    assert len(faulty.at) == 2 and errors(db) == []
    assert state(db) == clean
    gap = faulty.at[1] - faulty.at[0]
    assert gap >= (1.9 if case.endswith("-2-is-waited") else 0.0), gap
    assert run_counts(db)["openness/ratelimit/retries"] == 1


def test_max_wait_is_a_setting(server, tmp_path):
    db = tmp_path / "short.db"
    server.override(CARD, Faulty(float("inf"), status(429, Retry_After="5")))
    result = crawl(server.url, db, "-s", "MAX_WAIT=2")
    assert result.returncode == 1
    (kind, _, reason), *held = errors(db)
    assert kind == "card" and "waiting 5 s more would pass MAX_WAIT (2 s)" in reason
    # the other files wait for the resolvers budget the Hub paused: past 2 s too
    assert all(k == "file" and "budget holds" in r for k, _, r in held), held
    assert run_counts(db)["openness/bounds/max_wait"] == 1 + len(held)


BAD_SETTINGS = [
    ("unknown-name", "MAX_WIAT=5", "'MAX_WIAT=5': expected NAME=VALUE"),
    ("seconds-with-a-unit", "MAX_WAIT=10m", "MAX_WAIT='10m': expected a number (default 360.0)"),
    ("infinite-wait", "MAX_WAIT=inf", "MAX_WAIT='inf': expected a finite number, 0 or more"),
    ("negative-wait", "MAX_REQUEST_TIME=-1", "MAX_REQUEST_TIME='-1': expected a finite number, 0 or more"),
    ("count-not-whole", "RETRY_TIMES=1.5", "RETRY_TIMES='1.5': expected a whole number (default 10)"),
    ("flag-not-a-flag", "RETRY_ENABLED=maybe", "RETRY_ENABLED='maybe': expected true or false"),
    ("middlewares-dropped", "DOWNLOADER_MIDDLEWARES={}", "DOWNLOADER_MIDDLEWARES is a table of the code (dict)"),
    ("bounds-table", "PAGES_PER_RESOURCE=x", "PAGES_PER_RESOURCE is a table of the code (dict)"),
]


@pytest.mark.parametrize("case, pair, message", BAD_SETTINGS, ids=[c[0] for c in BAD_SETTINGS])
def test_a_setting_unknown_or_of_the_wrong_kind_is_refused_before_any_run(case, pair, message, tmp_path):
    """A typo, a value its setting cannot take (a traceback mid-crawl, then a run left `running`), or a table of the
    code (dropping the token or retry middleware would crawl without them) is refused before anything is made."""
    result = run_openness("crawl", MODEL, "--db", str(tmp_path / "x.db"), "-s", pair)
    assert result.returncode == 2 and message in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.db").exists()


# -- Ctrl-C and SIGTERM: within seconds, at any time, the run left resumable ----------------------------------------

def start_crawl(url: str, db: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([*OPENNESS, "crawl", MODEL, "--db", str(db), "--hf-endpoint", url, "--github-endpoint",
                             url, "--depth", "0", *extra], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def stop_when(condition, proc: subprocess.Popen, how: int, timeout: float = 60,
              settle: float = 0.5) -> tuple[float, str, str]:
    """Once `condition()` holds, and `settle` seconds later, send `how` to the crawl's process group (Ctrl-C at a
    terminal reaches the whole foreground group); how long it then took to end, and its output."""
    deadline = time.monotonic() + timeout
    try:
        while not condition():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the point to stop at was never reached"
            time.sleep(0.02)
    except AssertionError:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # no crawl left behind by a failed test
        raise
    time.sleep(settle)
    sent = time.monotonic()
    os.killpg(proc.pid, how)
    out, err = proc.communicate(timeout=60)
    return time.monotonic() - sent, out, err


def hold(seconds: float):
    """An answer that takes `seconds` to come (a server that hangs)."""
    def make(request, real):
        time.sleep(seconds)
        return real()
    return make


# (case, pattern, how the request is held, extra options, signal)
STOPS = [
    ("sigint-during-a-rate-limit-pause", MODEL_JSON, status(429, Retry_After="300"), (), signal.SIGINT),
    ("sigint-during-a-budget-pause", MODEL_JSON, with_headers(RateLimit='"api";r=0;t=300'), (), signal.SIGINT),
    ("sigterm-during-a-rate-limit-pause", GH_HEAD, status(403, x_ratelimit_remaining="0", x_ratelimit_reset=str(
        int(time.time()) + 300)), (), signal.SIGTERM),
    ("sigint-during-a-backoff", CARD, status(503), ("-s", "RETRY_BACKOFF_BASE=200"), signal.SIGINT),
    ("sigint-during-an-answer-that-never-comes", CARD, hold(60), (), signal.SIGINT),
]


@pytest.mark.parametrize("case, target, make, extra, how", STOPS, ids=[c[0] for c in STOPS])
def test_ctrl_c_ends_a_run_within_seconds_and_the_next_run_completes_it(case, target, make, extra, how,
                                                                         snapshot_corpus, clean, tmp_path):
    db = tmp_path / "stopped.db"
    with HostileServer(snapshot_corpus) as server:
        faulty = Faulty(float("inf"), make)
        server.override(target, faulty)
        proc = start_crawl(server.url, db, *extra)
        took, out, err = stop_when(lambda: bool(faulty.at), proc, how)
    assert proc.returncode == 130, out[-1500:] + err[-1500:]
    assert took < 15, took  # SHUTDOWN_GRACE is 5 s; waits end within one
    assert "Traceback" not in err and "interrupted; run the same command again to complete it" in out
    assert query(db, "select status, exit_code from crawl_runs") == [("interrupted", 130)]
    with HostileServer(snapshot_corpus) as server:
        again = crawl(server.url, db)
    assert again.returncode == 0, again.stderr[-2000:]
    assert state(db) == clean


def test_a_failure_between_the_spiders_ends_the_process_instead_of_leaving_it_idle(server, tmp_path):
    """The store's folder removed while the Hub is crawled: opening it for the GitHub targets fails. That failure
    is raised, and the process ends; the reactor was left running, idle, for ever."""
    folder = tmp_path / "gone"
    folder.mkdir()
    db = folder / "store.db"
    server.override(CARD, Faulty(1, hold(3)))
    proc = start_crawl(server.url, db)
    try:
        while not server.requests_to(CARD):
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.02)
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    # A store that can no longer be used ends every command the same way: one line naming it, exit 2.
    assert proc.returncode == 2 and "Traceback" not in err, err[-2000:]
    assert f"{db}: the store cannot be used: unable to open database file (exit 2)" in " ".join(err.split()), err


def test_ctrl_c_while_assessing_ends_the_run_interrupted_and_the_next_run_completes_it(snapshot_corpus, tmp_path):
    # every model of the snapshot, for an assessment long enough to be caught in
    models = sorted(path.parent.relative_to(SNAPSHOT / "huggingface" / "models").as_posix()
                    for path in (SNAPSHOT / "huggingface" / "models").glob("*/*/README.md"))
    db = tmp_path / "assessing.db"
    with HostileServer(snapshot_corpus) as server:
        proc = subprocess.Popen([*OPENNESS, "crawl", *models, "--db", str(db), "--hf-endpoint", server.url,
                                 "--github-endpoint", server.url, "--no-github", "--depth", "0"], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)

        def assessing() -> bool:
            try:
                return db.exists() and query(db, "select count(*) from crawl_runs where status = 'assessing'") == [
                    (1,)]
            except sqlite3.OperationalError:
                return False  # the schema is being made

        took, out, err = stop_when(assessing, proc, signal.SIGINT, timeout=180, settle=0)
        assert proc.returncode == 130, out[-1500:] + err[-1500:]
        assert took < 15 and "Traceback" not in err
        assert query(db, "select status, exit_code from crawl_runs") == [("interrupted", 130)]
        (judged,), = query(db, "select count(distinct subject_id) from judgements")
        again = run_openness("crawl", *models, "--db", str(db), "--hf-endpoint", server.url, "--github-endpoint",
                             server.url, "--no-github", "--depth", "0")
    assert again.returncode == 0, again.stderr[-2000:]
    assert judged < len(models) == query(db, "select count(distinct subject_id) from judgements")[0][0]


# -- credentials: each token to its own endpoint, and none in an endpoint ------------------------------------------

def mount(server: HostileServer, prefix: str) -> str:
    """Serve the replica also under `prefix` on the same host (an API behind a path); its base URL."""
    base = server.url + prefix

    def proxied(request, real):
        return server.app.replica.handle(request.method, request.target[len(prefix):], request.headers, base)
    server.override("^" + re.escape(prefix) + "/", proxied)
    return base


# (case, the Hub's base path, GitHub's base path, the tokens set)
TOKEN_LAYOUTS = [
    ("same-base-url-both-tokens", "", "", ("HF_TOKEN", "GITHUB_TOKEN")),
    ("github-under-a-path-of-the-hubs-host", "", "/github", ("HF_TOKEN", "GITHUB_TOKEN")),
    ("hub-under-a-path-of-githubs-host", "/hub", "", ("HF_TOKEN", "GITHUB_TOKEN")),
    ("only-hf-token", "", "", ("HF_TOKEN",)),
    ("only-github-token", "", "", ("GITHUB_TOKEN",)),
]


@pytest.mark.parametrize("case, hub_path, github_path, tokens", TOKEN_LAYOUTS, ids=[c[0] for c in TOKEN_LAYOUTS])
def test_each_token_goes_to_its_own_endpoint_only(case, hub_path, github_path, tokens, server, clean, tmp_path):
    hub, github = (mount(server, path) if path else server.url for path in (hub_path, github_path))
    secrets = {"HF_TOKEN": HF_SECRET, "GITHUB_TOKEN": GH_SECRET}
    env = {**os.environ, **{name: secrets[name] for name in tokens}}
    db = tmp_path / "tokens.db"
    result = crawl(hub, db, "-v", github_url=github, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.sub(r"http://replica/(hub|github)/", "http://replica/", state(db)) == clean
    is_github = re.compile("^" + re.escape(github_path) + "/repos/")
    sent = {(bool(is_github.match(r.target)), r.headers.get("authorization")) for r in server.seen}
    expected = {(False, f"Bearer {HF_SECRET}" if "HF_TOKEN" in tokens else None),
                (True, f"Bearer {GH_SECRET}" if "GITHUB_TOKEN" in tokens else None)}
    assert sent == expected
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("tokens.db*"))
    for secret in (HF_SECRET, GH_SECRET):
        assert secret not in result.stdout + result.stderr and secret.encode() not in stored


def test_a_redirect_off_the_endpoint_on_the_same_host_carries_no_token(server, tmp_path):
    hub = mount(server, "/hub")
    elsewhere = server.url + "/cdn/README.md"
    server.override(r"^/hub/.*/README\.md$", lambda request, real: Answer(302, b"", {"Location": elsewhere}))
    server.answer("^/cdn/", Answer(404, b"{}"))
    env = {**os.environ, "HF_TOKEN": HF_SECRET, "GITHUB_TOKEN": GH_SECRET}
    result = crawl(hub, tmp_path / "redirect.db", "--no-github", env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    followed = server.requests_to("^/cdn/")
    assert len(followed) == 1 and "authorization" not in followed[0].headers
    assert {r.headers.get("authorization") for r in server.requests_to("^/hub/")} == {f"Bearer {HF_SECRET}"}


# (case, options, environment): an endpoint with a user name or password in it
USERINFO = [
    ("hf-endpoint-user-and-password", ["--hf-endpoint", "http://analyst:hunter2secret@127.0.0.1:9"], {}),
    ("github-endpoint-user-and-password", ["--github-endpoint", "https://analyst:hunter2secret@api.github.com"], {}),
    ("hf-endpoint-password-only", ["--hf-endpoint", "http://:hunter2secret@127.0.0.1:9"], {}),
    ("hf-endpoint-user-only", ["--hf-endpoint", "http://hunter2secret@127.0.0.1:9"], {}),
    ("endpoint-password-and-a-bad-port", ["--hf-endpoint", "http://analyst:hunter2secret@127.0.0.1:99999"], {}),
    ("endpoint-percent-encoded-password", ["--hf-endpoint", "http://an%40alyst:hunter2secret%3A@127.0.0.1:9"], {}),
    ("hf-endpoint-password-from-the-environment", [], {"HF_ENDPOINT": "http://analyst:hunter2secret@127.0.0.1:9"}),
    ("github-endpoint-password-from-the-environment", [],
     {"GITHUB_API_URL": "http://analyst:hunter2secret@127.0.0.1:9"}),
]


@pytest.mark.parametrize("case, options, environment", USERINFO, ids=[c[0] for c in USERINFO])
def test_an_endpoint_with_a_password_is_refused_and_never_stored(case, options, environment, tmp_path):
    db = tmp_path / "refused.db"
    result = run_openness("crawl", MODEL, "--db", str(db), *options, env={**os.environ, **environment})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "carries a user name or password (user:password@host): refused" in result.stderr
    assert "***@" in result.stderr  # the endpoint is named, without what it carried
    assert "hunter2secret" not in result.stdout + result.stderr
    assert not db.exists()  # no run, no error row, no log: nothing stored it


# -- the replica's outage fault: every answer of a stretch of the crawl 503 ---------------------------------------------

def test_an_outage_fails_exactly_its_stretch_of_requests():
    from crawler.replica.limits import FaultInjector

    faults = FaultInjector([Fault.parse("outage:1:after=3:requests=4"), Fault.parse("500:0")], seed=1)
    assert [a.status if (a := faults.draw()) else 200 for _ in range(10)] == [200] * 3 + [503] * 4 + [200] * 3
    timed = FaultInjector([Fault.parse("outage:1:after=1:seconds=0.5:status=502")], seed=1)
    during = [a.status if (a := timed.draw()) else 200 for _ in range(3)]
    time.sleep(0.6)
    assert during == [200, 502, 502] and timed.draw() is None


@pytest.mark.parametrize("spec", ["outage:1", "outage:1:after=x:requests=3", "outage:1:after=1:requests=2.5",
                                  "outage:1:after=1:requests=2:status=404", "outage:1:after=1:seconds=soon"],
                         ids=["no-stretch", "after-not-a-number", "requests-not-whole", "status-not-5xx",
                              "seconds-not-a-number"])
def test_a_bad_outage_spec_is_refused_naming_it(spec):
    from crawler.replica.limits import FaultSpecError

    with pytest.raises(FaultSpecError, match=re.escape(repr(spec)) + ": an outage is outage:RATE:after=N"):
        Fault.parse(spec)


# -- a reader elsewhere never costs a crawl its writes ---------------------------------------------------------------

def test_a_reader_closing_while_a_crawl_writes_loses_none_of_its_writes(tmp_path):
    """A crawl holds a read-only connection (KnownRepos) while its pipeline opens the store (check_store); a reader
    in another process (`openness show`, the review, a test) that closes last then must not delete the WAL under
    the writer. It did when check_store read the file's header with open(): closing that descriptor dropped every
    lock of the process."""
    from crawler.run import KnownRepos
    from crawler.store import open_db

    db_path = tmp_path / "store.db"
    open_db(db_path).close()
    known = KnownRepos.read_only(db_path)
    assert known.get("hf:model:a/b") is None  # asked while the Hub is crawled: its connection has read
    writer = open_db(db_path)  # the GitHub pipeline's, opened next
    try:
        for n in range(3):
            writer.execute("insert into blobs (sha256, size, content) values (?, 1, x'00')", [str(n)])
            writer.conn.commit()
        reader = [*OPENNESS[:1], "-c", f"import sqlite3; c = sqlite3.connect({str(db_path)!r}); "
                                      "c.execute('select count(*) from blobs').fetchall(); c.close()"]
        subprocess.run(reader, check=True, timeout=60)
        for n in range(3, 6):
            writer.execute("insert into blobs (sha256, size, content) values (?, 1, x'00')", [str(n)])
            writer.conn.commit()
    finally:
        writer.close()
        known.close()
    assert query(db_path, "select count(*) from blobs") == [(6,)]
