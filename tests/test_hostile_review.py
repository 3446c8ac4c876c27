"""The review (`openness review`, Datasette) against hostile readers: no secret in anything it serves (metadata,
settings, plugin pages, JSON of any table or query), SQL of one's own and the store's non-analyst tables refused to
anonymous readers (and read-only for analysts), failed logins throttled per client address and per account (the
form and HTTP Basic), and no file left behind however the server stops."""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import sqlite3
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest

from conftest import OPENNESS, ROOT, free_port, start_review_server

ALICE, BOB = "correct horse battery staple", "tr0ub4dor&3"
DATASETTE_SECRET = "cookie-secret-of-the-test-3f9a1c"
ENDPOINT_PASSWORD = "hunter2-endpoint-password"
LOCKOUT = 600  # seconds: longer than any test here takes, so a lock-out holds while a test checks it


def quick_hash(password: str) -> str:
    """A hash of datasette-auth-passwords' own format, with few iterations so the tests' logins are quick."""
    from datasette_auth_passwords.utils import hash_password

    return hash_password(password, iterations=1000)


ALICE_HASH, BOB_HASH = quick_hash(ALICE), quick_hash(BOB)
SECRETS = {"alice's hash": ALICE_HASH, "alice's hash digest": ALICE_HASH.rsplit("$", 1)[1],
           "bob's hash": BOB_HASH, "bob's hash digest": BOB_HASH.rsplit("$", 1)[1],
           "cookie secret": DATASETTE_SECRET, "endpoint password": ENDPOINT_PASSWORD}


def review_config(folder: Path, **throttle) -> Path:
    """Alice's hash in the config itself, Bob's in an environment variable it names."""
    config = folder / "review.yaml"
    limits = {"max_failures": 3, "max_account_failures": 5, "lockout_seconds": LOCKOUT, **throttle}
    config.write_text(f"anonymous_read: true\naccounts:\n  alice: '{ALICE_HASH}'\n  bob: {{$env: BOB_HASH}}\n"
                      f"login_throttle: {json.dumps(limits)}\n")
    return config


@pytest.fixture(scope="module")
def store(demo_db, tmp_path_factory) -> Path:
    """The demo store, with a run whose endpoint and command carry a password (as stores written before endpoints
    with userinfo were refused hold them) and a table no analyst page knows of."""
    import shutil

    db = tmp_path_factory.mktemp("hostile-review") / "review.db"
    shutil.copy(demo_db, db)
    con = sqlite3.connect(db)
    with con:
        con.execute("insert into crawl_runs (started_at, status, command, hf_endpoint, github_endpoint, requested, "
                    "counts, pid, host) values ('2024-01-01', 'completed', ?, ?, ?, '[]', '{}', 4242, 'crawler-host')",
                    [f"openness crawl --db /srv/private/store.db --hf-endpoint https://u:{ENDPOINT_PASSWORD}@hub",
                     f"https://u:{ENDPOINT_PASSWORD}@hub", "https://api.github.com"])
        con.execute("create table later_table (secret text)")
        con.execute("insert into later_table values (?)", [ENDPOINT_PASSWORD])
        plant_script_links(con)
    con.close()
    return db


SCRIPT_LINKS = ("javascript:alert(1)//", "JavaScript:alert(2)", "data:text/html,<script>alert(3)</script>")


def plant_script_links(con: sqlite3.Connection) -> None:
    """Links of other schemes where a card's words end up as links: a flag's claim location, an evidence item's
    URL, a searched source's URL (a card can link its data to any scheme)."""
    flag, subject = con.execute("select id, subject_id from flags order by id limit 1").fetchone()
    con.execute("update flags set claim_location = ? where id = ?", [SCRIPT_LINKS[0], flag])
    con.execute("update evidence set public_url = ? where subject_id = ? and ordinal = 0", [SCRIPT_LINKS[1], subject])
    searched = [{"source": "linked-dataset:data:x", "status": "not crawled", "url": SCRIPT_LINKS[2], "detail": ""}]
    con.execute("update judgements set searched = ? where subject_id = ?", [json.dumps(searched), subject])


@pytest.fixture(scope="module")
def server(store, tmp_path_factory):
    folder = tmp_path_factory.mktemp("review-config")
    env = {**os.environ, "BOB_HASH": BOB_HASH, "DATASETTE_SECRET": DATASETTE_SECRET}
    with start_review_server(store, "--config", str(review_config(folder)), env=env) as base:
        yield base


def request(base: str, path: str, method: str = "GET", body: dict | None = None, source: str = "127.0.0.1",
            headers: dict | None = None) -> tuple[int, dict, str]:
    """One request from the client address `source` (any of 127.0.0.0/8): status, headers, text."""
    url = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60, source_address=(source, 0))
    data = urllib.parse.urlencode(body).encode() if body is not None else None
    sent = {**({"Content-Type": "application/x-www-form-urlencoded"} if data else {}), **(headers or {})}
    try:
        connection.request(method, path, body=data, headers=sent)
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read().decode("utf-8", "replace")
    finally:
        connection.close()


def root(base: str) -> str:
    return base.rsplit("/", 1)[0]


def login(base: str, user: str, password: str, source: str) -> int:
    return request(root(base), "/-/login", "POST", {"username": user, "password": password}, source)[0]


def basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


# -- no secret served ----------------------------------------------------------------------------------------------

SERVED = ["/-/metadata.json", "/-/metadata", "/-/settings.json", "/-/config.json", "/-/plugins.json",
          "/-/versions.json", "/-/actor.json", "/-/login",
          "/-/password-tool", "/", "/.json", "DB", "DB.json",
          *(f"DB/{table}.json?_shape=array&_size=max" for table in (
              "judgements", "evidence", "flags", "reviews", "history", "errors", "subjects", "links", "artifacts",
              "effective_judgements", "model_licences", "review_queue", "model_downloads")),
          *(f"DB/{query}.json?_shape=array&severity=" for query in (
              "flagged_models", "review_queue", "changes_since_previous_run")),
          "/-/model/Qwen/Qwen2.5-32B", "/-/flag/1", "/-/model?q=https://huggingface.co/qwen/qwen2.5-32b/tree/main"]


@pytest.mark.parametrize("path", SERVED, ids=lambda p: p.replace("DB", "db").split("?")[0].strip("/") or "home")
def test_no_secret_in_any_page_anyone_reads(path, server, store):
    """Hashes (whole or their digest), the cookie secret and an endpoint password a store holds are in no page an
    anonymous reader gets, the metadata included (datasette-auth-passwords' config names variables instead)."""
    base = server
    target = path.replace("DB", urllib.parse.urlsplit(base).path) if path.startswith("DB") else path
    status, _, text = request(root(base), target)
    if status in (301, 302):
        status, _, text = request(root(base), urllib.parse.urlsplit(_["location"]).path)
    assert status == 200, (path, status, text[:300])
    leaked = [name for name, secret in SECRETS.items() if secret in text]
    assert leaked == [], f"{path} serves {leaked}"
    assert str(store.parent) not in text, f"{path} serves the store's path"


@pytest.mark.parametrize("path", ["/-/databases.json", "/-/databases", "/-/threads.json", "/-/threads/"])
def test_the_pages_of_the_servers_workings_are_not_served(path, server):
    """Datasette's /-/databases names the store's absolute path, /-/threads the process's threads: not found."""
    assert request(root(server), path)[0] == 404


def test_the_metadata_names_where_each_hash_is_never_the_hash(server):
    status, _, text = request(root(server), "/-/metadata.json")
    plugin = json.loads(text)["plugins"]["datasette-auth-passwords"]
    assert plugin == {"alice_password_hash": {"$env": "OPENNESS_REVIEW_PASSWORD_HASH_0"},
                      "bob_password_hash": {"$env": "BOB_HASH"}}
    assert json.loads(text)["plugins"]["openness-review"]["login_throttle"]["max_failures"] == 3


# -- what anonymous readers may ask --------------------------------------------------------------------------------

REFUSED = {
    "sql-on-crawl-runs": "DB.json?sql=select+command,host,pid+from+crawl_runs",
    "sql-select-1": "DB.json?sql=select+1",
    "sql-html-page": "DB?sql=select+*+from+later_table",
    "where-subquery": "DB/judgements.json?_where=subject_id+in+(select+command+from+crawl_runs)",
    "crawl-runs-json": "DB/crawl_runs.json",
    "crawl-runs-row": "DB/crawl_runs/1.json",
    "crawl-runs-page": "DB/crawl_runs",
    "blobs": "DB/blobs.json",
    "migrations": "DB/_sqlite_migrations.json",
    "a-table-added-later": "DB/later_table.json",
    "csv-of-crawl-runs": "DB/crawl_runs.csv",
    "database-download": "DB.db",
}


@pytest.mark.parametrize("path", REFUSED.values(), ids=REFUSED.keys())
def test_anonymous_readers_get_the_analyst_tables_and_pages_only(path, server):
    target = path.replace("DB", urllib.parse.urlsplit(server).path)
    status, _, text = request(root(server), target)
    assert status == 403, (path, status, text[:300])
    assert ENDPOINT_PASSWORD not in text and "crawler-host" not in text


def test_the_database_page_lists_no_table_but_the_analysts(server, store):
    status, _, text = request(root(server), urllib.parse.urlsplit(server).path + ".json")
    assert status == 200
    listed = {t["name"] for t in json.loads(text)["tables"]} | {v["name"] for v in json.loads(text)["views"]}
    from crawler.review.metadata import ANALYST_TABLES

    assert listed and listed <= set(ANALYST_TABLES), listed - set(ANALYST_TABLES)


def test_an_analyst_runs_sql_read_only(server, store):
    """Logged in, SQL of one's own works on every table, and cannot write (Datasette's read-only connection)."""
    cookie = analyst_cookie(server, "bob", BOB, "127.0.0.90")
    db_path = urllib.parse.urlsplit(server).path
    status, _, text = request(root(server), db_path + ".json?_shape=array&sql=select+count(*)+as+n+from+crawl_runs",
                              headers={"Cookie": cookie})
    assert status == 200 and json.loads(text)[0]["n"] >= 2
    reviews = sqlite3.connect(store).execute("select count(*) from reviews").fetchone()[0]
    for sql, refusal in (("insert into reviews (verdict, note) values ('dismissed', 'x')", "must be a SELECT"),
                         ("with x as (select 1) insert into reviews (verdict, note) select 'dismissed', 'x' from x",
                          "readonly database")):
        status, _, text = request(root(server), f"{db_path}.json?sql={urllib.parse.quote(sql)}",
                                  headers={"Cookie": cookie})
        assert status == 400 and refusal in text, (status, text[:300])
    assert sqlite3.connect(store).execute("select count(*) from reviews").fetchone()[0] == reviews


def analyst_cookie(base: str, user: str, password: str, source: str) -> str:
    status, headers, _ = request(root(base), "/-/login", "POST", {"username": user, "password": password}, source)
    assert status == 302, status
    return headers["set-cookie"].split(";", 1)[0]


# -- failed logins throttled ---------------------------------------------------------------------------------------

def test_a_client_is_locked_out_after_its_failures_the_right_password_included(server):
    """Three wrong passwords (for any accounts) from one address: the fourth attempt from it, the right password
    of another account, is refused with Retry-After; another address logs that account in."""
    for user in ("nobody-1", "nobody-2", "nobody-3"):
        assert login(server, user, "wrong", "127.0.0.10") == 200  # the form again, with its error
    status, headers, text = request(root(server), "/-/login", "POST", {"username": "bob", "password": BOB},
                                    "127.0.0.10")
    assert status == 429 and 0 < int(headers["retry-after"]) <= LOCKOUT + 1
    assert "Too many failed logins" in text
    assert login(server, "bob", BOB, "127.0.0.11") == 302


def test_an_account_is_locked_out_after_failures_from_many_addresses(server):
    """Five wrong passwords for one account, each from another address (none reaching its own limit): the account
    is locked, the right password from a fresh address refused; another account logs in from that address."""
    for n in range(5):
        assert login(server, "alice", f"guess-{n}", f"127.0.0.{20 + n}") == 200
    assert login(server, "alice", ALICE, "127.0.0.30") == 429
    assert login(server, "bob", BOB, "127.0.0.30") == 302


def test_http_basic_credentials_are_throttled_as_the_form_is(server):
    """datasette-auth-passwords also reads HTTP Basic credentials on any page: wrong ones are refused (401) and
    counted, then the address is locked out, the right ones included."""
    page = urllib.parse.urlsplit(server).path
    for n in range(3):
        assert request(root(server), page, headers=basic("nobody", f"x{n}"), source="127.0.0.40")[0] == 401
    assert request(root(server), page, headers=basic("bob", BOB), source="127.0.0.40")[0] == 429
    status, _, text = request(root(server), "/-/actor.json", headers=basic("bob", BOB), source="127.0.0.41")
    assert status == 200 and json.loads(text) == {"actor": {"id": "bob"}}


@pytest.mark.parametrize("user", ["\u00fc", "b\u00f6b", "\u0431ob"], ids=["u-umlaut", "o-umlaut", "cyrillic-b"])
def test_http_basic_credentials_that_are_not_ascii_are_refused_not_a_server_error(user, server):
    """The password library reads Basic credentials as ASCII: other bytes raised out of it (500, a traceback)."""
    page = urllib.parse.urlsplit(server).path
    header = {"Authorization": "Basic " + base64.b64encode(f"{user}:{BOB}".encode()).decode()}
    assert request(root(server), page, headers=header, source="127.0.0.45")[0] == 401


def test_a_burst_of_parallel_guesses_is_counted_before_the_passwords_are_checked(server):
    """Guesses sent together (before any is answered) count as they arrive: at most max_failures are checked."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda n: login(server, "nobody-burst", f"guess-{n}", "127.0.0.50"), range(8)))
    assert statuses.count(200) == 3 and statuses.count(429) == 5, statuses


def test_an_oversized_login_form_is_refused_unread(server):
    status, _, _ = request(root(server), "/-/login", "POST", {"username": "alice", "password": "x" * 40_000},
                           "127.0.0.60")
    assert status == 413


def test_a_successful_login_forgives_earlier_failures():
    from crawler.review.throttle import LoginThrottle

    throttle = LoginThrottle(3, 5, 60, clock=lambda: 0.0)
    for _ in range(3):
        assert throttle.attempt("10.0.0.1", "alice") == 0
    throttle.succeeded("10.0.0.1", "alice")
    assert [throttle.attempt("10.0.0.1", "alice") for _ in range(4)] == [0, 0, 0, 60]


def test_a_lock_out_ends_after_its_window_and_old_failures_are_forgotten():
    from crawler.review.throttle import LoginThrottle

    now = [0.0]
    throttle = LoginThrottle(2, 10, 100, clock=lambda: now[0])
    assert [throttle.attempt("a", "u") for _ in range(3)] == [0, 0, 100]
    now[0] = 60
    assert throttle.attempt("a", "u") == 40  # still locked, nothing checked
    now[0] = 100.5
    assert throttle.attempt("a", "u") == 0  # the window has passed
    now[0] = 300
    assert [throttle.attempt("a", "u") for _ in range(2)] == [0, 0]  # the failure at 100.5 is forgotten


def test_the_throttle_remembers_a_bounded_number_of_clients(monkeypatch):
    from crawler.review import throttle as module

    monkeypatch.setattr(module, "MAX_TRACKED", 50)
    throttle = module.LoginThrottle(1, 1, 60, clock=lambda: 0.0)
    for n in range(1000):
        throttle.attempt(f"10.0.{n // 256}.{n % 256}", f"user{n}")
    assert len(throttle.counters) == 50


def test_a_flood_of_new_names_never_unlocks_a_locked_account(monkeypatch):
    """Old keys make room for new ones, but never a locked one; and a locked client's attempts add no key."""
    from crawler.review import throttle as module

    monkeypatch.setattr(module, "MAX_TRACKED", 50)
    throttle = module.LoginThrottle(100, 3, 60, clock=lambda: 0.0)
    for n in range(4):
        throttle.attempt(f"10.1.0.{n}", "ana")
    assert throttle.attempt("10.1.0.9", "ana") > 0
    for n in range(1000):
        throttle.attempt(f"10.3.{n // 256}.{n % 256}", f"junk{n}")
    assert throttle.attempt("10.4.0.1", "ana") > 0 and len(throttle.counters) == 50
    locked = module.LoginThrottle(1, 100, 60, clock=lambda: 0.0)
    for name in ("a", "b"):  # the second attempt is one past the limit: the client is locked
        locked.attempt("10.5.0.1", name)
    keys = set(locked.counters)
    for n in range(100):
        assert locked.attempt("10.5.0.1", f"name{n}") > 0
    assert set(locked.counters) == keys


@pytest.mark.parametrize("limits", ["{max_failures: 0}", "{max_failures: many}", "{lockout: 5}", "[1, 2]"],
                         ids=["zero", "not-a-number", "unknown-key", "not-a-mapping"])
def test_a_bad_throttle_config_is_refused_with_its_path(limits, tmp_path, demo_db):
    from conftest import run_openness

    config = tmp_path / "review.yaml"
    config.write_text(f"login_throttle: {limits}\n")
    result = run_openness("review", "--db", str(demo_db), "--config", str(config), "--port", str(free_port()),
                          timeout=60)
    assert result.returncode == 1 and f"{config}: `login_throttle` takes positive numbers" in result.stderr


# -- nothing left behind -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_no_file_is_left_however_the_review_stops(stop, store, tmp_path):
    """While it serves, no file in the temporary folder or beside the store holds a hash; stopped by SIGTERM or
    Ctrl-C (SIGINT), it ends within seconds and leaves no file behind."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    beside = set(store.parent.iterdir())
    port = free_port()
    env = {**os.environ, "TMPDIR": str(temporary), "BOB_HASH": BOB_HASH}
    proc = subprocess.Popen([*OPENNESS, "review", "--db", str(store), "--port", str(port), "--config",
                             str(review_config(tmp_path))], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, "the review did not start"
            try:
                assert request(f"http://127.0.0.1:{port}/x", "/-/metadata.json")[0] == 200
                break
            except OSError:
                time.sleep(0.2)
        written = [p for p in [*temporary.rglob("*"), *store.parent.iterdir()] if p.is_file()]
        assert not [p for p in written if any(s.encode() in p.read_bytes() for s in (ALICE_HASH, BOB_HASH))]
        proc.send_signal(stop)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert list(temporary.rglob("*")) == []
    assert set(store.parent.iterdir()) - beside <= {store.with_name(store.name + "-wal"),
                                                    store.with_name(store.name + "-shm")}


def test_a_link_of_another_scheme_is_shown_as_text_never_as_a_link(server, store):
    from bs4 import BeautifulSoup

    flag, model = sqlite3.connect(store).execute(
        "select f.id, s.repo_id from flags f join subjects s on s.id = f.subject_id order by f.id limit 1").fetchone()
    for path in (f"/-/flag/{flag}", "/-/model/" + model):
        status, _, text = request(root(server), path)
        assert status == 200, path
        page = BeautifulSoup(text, "html.parser")
        hrefs = [a["href"] for a in page.find_all("a", href=True)]
        assert all(h.startswith(("http://", "https://", "/", "#")) for h in hrefs), [
            h for h in hrefs if not h.startswith(("http://", "https://", "/", "#"))]
        shown = page.get_text()
        assert any(link in shown for link in SCRIPT_LINKS), path  # still shown, as text
