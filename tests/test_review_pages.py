"""The analysts' pages of the review (crawler/review/plugin, a Datasette plugin) over the demo store, driven in
Debian's Chromium by Playwright: home -> a flag -> its model -> log in -> a verdict recorded shows on the flag and the
model; every form refuses anonymous posts and offers the login; no page scrolls sideways at 1280 px; unknown ids are
404 with a message; a Hub URL finds its model. Also: the plugin's entry point, the account command, a port in use."""

from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
import subprocess
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import OPENNESS, ROOT, run_openness, start_review_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DOCS = ROOT / "docs"
PASSWORD = "correct horse battery staple"
FLAG_NOTE = "the card's own repo has fine-tuning code only; data withheld"


def quick_hash(password: str) -> str:
    from datasette_auth_passwords.utils import hash_password

    return hash_password(password, iterations=1000)


@pytest.fixture(scope="module")
def store(demo_db, tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("review-pages") / "review.db"
    shutil.copy(demo_db, db)
    return db


@pytest.fixture(scope="module")
def server(store, tmp_path_factory):
    config = tmp_path_factory.mktemp("review-pages-config") / "review.yaml"
    config.write_text(f"anonymous_read: true\naccounts:\n  alice: '{quick_hash(PASSWORD)}'\n")
    env = {**os.environ, "DATASETTE_SECRET": "pages-secret"}
    with start_review_server(store, "--config", str(config), env=env) as base:
        yield base.rsplit("/", 1)[0]  # the site's root: the analysts' home


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is not installed: `make test` installs it"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


def query(store: Path, sql: str, params=()) -> list[tuple]:
    con = sqlite3.connect(store)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def no_sideways_scroll(page) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"{page.url} scrolls sideways at 1280 px: {widths}"


def test_home_flag_model_login_verdict_shows_on_the_flag_and_the_model(browser, server, store):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server + "/")
    assert page.title() == "Openness review"
    severities = page.locator("table.flags tbody tr td:nth-child(2)").all_inner_texts()
    assert severities and severities == sorted(severities, key=["high", "medium", "low"].index)  # worst first
    for section in ("table.queue", "table.league"):
        assert page.locator(f"{section} tbody tr a").count() > 0  # each row a link
    no_sideways_scroll(page)
    page.screenshot(path=str(DOCS / "review-home.png"), full_page=False)

    first = page.locator("table.flags tbody tr").first
    flag_id = first.locator("a.flag-link").inner_text().split()[-1]
    model = first.locator("td:nth-child(3) a").inner_text()
    first.locator("a.flag-link").click()
    assert page.url == f"{server}/-/flag/{flag_id}"
    claim = query(store, "select claim from flags where id = ?", [flag_id])[0][0]
    assert page.locator("blockquote.claim").inner_text().strip() == claim.strip()
    assert page.locator("a.claim-location").get_attribute("href")
    promised = [c for c, in query(store, "select json_extract(p.value, '$.criterion') from flags, "
                                         "json_each(flags.promised) p where flags.id = ?", [flag_id])]
    assert page.locator("section.criterion").evaluate_all("s => s.map(e => e.dataset.criterion)") == promised
    assert page.locator("form.verdict").count() == 0 and page.locator("a.login").count() > 0  # anonymous
    no_sideways_scroll(page)
    page.screenshot(path=str(DOCS / "review-flags.png"), full_page=False)

    page.locator("h1 a.model").click()
    assert page.url == f"{server}/-/model/{model}"
    page.locator("a.login").first.click()
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    assert page.url == f"{server}/-/model/{model}"  # back where the login was asked for
    page.goto(f"{server}/-/flag/{flag_id}")
    page.check("form.verdict input[name=verdict][value='needs evidence']")
    overridden = promised[0]
    page.select_option(f"select[name=level_{overridden}]", "closed")
    page.fill("form.verdict textarea[name=note]", FLAG_NOTE)
    no_sideways_scroll(page)
    page.click("form.verdict input[type=submit]")
    assert page.url == f"{server}/-/flag/{flag_id}"
    assert page.locator("p.facts .status").inner_text() == "needs evidence"
    verdicts = page.locator("table.verdicts tbody tr").all_inner_texts()
    assert any("needs evidence" in v and FLAG_NOTE in v and "alice" in v for v in verdicts), verdicts
    assert any("override → closed" in v for v in verdicts), verdicts
    assert query(store, "select verdict, reviewer, note from reviews where flag_id = ?", [flag_id]) == [
        ("needs evidence", "alice", FLAG_NOTE)]

    page.goto(f"{server}/-/model/{model}")
    verdicts = page.locator("table.verdicts tbody tr").all_inner_texts()
    assert any("needs evidence" in v and FLAG_NOTE in v for v in verdicts), verdicts
    section = page.locator(f"section.criterion[data-criterion={overridden}]")
    assert section.locator("h3 .effective").inner_text() == "closed"
    assert "Analyst override by alice" in section.locator("p.judgement").inner_text()
    page.close()


def test_the_model_page_shows_the_14_criteria_in_the_index_order_with_every_evidence_item(browser, server, store):
    from crawler.table import COLOUR, COLUMNS

    model = "meta-llama/Meta-Llama-3-8B"
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{server}/-/model/{model}")
    sections = page.locator("section.criterion")
    assert sections.evaluate_all("s => s.map(e => e.dataset.criterion)") == [key for key, _, _ in COLUMNS]
    for (key, _, name), n in zip(COLUMNS, range(14)):
        section = sections.nth(n)
        assert name in section.locator("h3").inner_text()
        level = section.locator("h3 .effective")
        colour = level.evaluate("e => getComputedStyle(e).backgroundColor")
        hex_colour = COLOUR[level.inner_text()]
        assert colour == "rgb({}, {}, {})".format(*(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)))
        stored = query(store, "select snippet, public_url from evidence where subject_id = ? and criterion = ? "
                              "order by ordinal", [f"hf:model:{model}", key])
        shown = section.locator("ol.evidence > li")
        assert shown.count() == len(stored), key
        for i, (snippet, public_url) in enumerate(stored):
            assert shown.nth(i).locator("blockquote").inner_text().strip() == snippet.strip()
            if public_url:
                assert shown.nth(i).locator("a.public").get_attribute("href") == public_url
    licence = page.locator("section.criterion[data-criterion=licenses]").inner_text()
    assert "700 million monthly active users" in licence  # not only the first item (`license: other`)
    assert "gated, approved by the publisher" in page.locator("p.facts").inner_text()
    assert page.locator("section.criterion .searched").count() > 0
    from extractors.frameworks import framework_rules

    assert page.locator("ul.frameworks li").count() == len(framework_rules())  # each framework's verdict
    history = query(store, "select count(*) from history where subject_id = ?", [f"hf:model:{model}"])[0][0]
    assert page.locator("table.history tbody tr").count() == min(history, 200) > 0
    no_sideways_scroll(page)
    page.screenshot(path=str(DOCS / "review-model.png"), full_page=False)
    page.close()


def test_a_model_whose_judgements_decide_nothing_is_marked_and_not_ranked(browser, server, store):
    uncaptured = query(store, "select s.repo_id from model_capture c join subjects s on s.id = c.subject_id "
                              "where c.capture = 'not captured' and exists (select 1 from judgements j "
                              "where j.subject_id = s.id) order by 1 limit 1")[0][0]
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{server}/-/model/{uncaptured}")
    assert "not captured" in page.locator("p.facts strong.capture").inner_text()
    page.goto(server + "/")
    row = page.locator("table.league tbody tr", has=page.locator(f"a:text-is('{uncaptured}')"))
    assert row.locator("td").nth(0).inner_text() == "" and row.locator("td").nth(2).inner_text() == "not captured"
    page.close()


@pytest.mark.parametrize("typed", ["https://huggingface.co/META-LLAMA/meta-llama-3-8b/tree/main",
                                   "https://huggingface.co/meta-llama/Meta-Llama-3-8B", "meta-llama/meta-llama-3-8b"])
def test_the_search_box_finds_a_model_by_hub_url_or_id_in_any_case(typed, browser, server):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server + "/")
    page.fill("form.search input[name=q]", typed)
    page.click("form.search input[type=submit]")
    assert page.url == f"{server}/-/model/meta-llama/Meta-Llama-3-8B"
    assert page.locator("h1").inner_text() == "meta-llama/Meta-Llama-3-8B"
    page.close()


def fetch(url: str, data: dict | None = None, cookie: str = "") -> tuple[int, str]:
    request = urllib.request.Request(url, data=urllib.parse.urlencode(data).encode() if data is not None else None,
                                     headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.mark.parametrize("path", ["/-/flag/99999", "/-/flag/not-a-number", "/-/model/nobody/no-such-model",
                                  "/-/model/not a model id", "/-/model?q=https://example.com/x"])
def test_an_unknown_id_is_a_404_with_a_message(path, server):
    status, text = fetch(server + urllib.parse.quote(path, safe="/?=:"))
    assert status == 404
    assert re.search(r"no flag|not in the store|not a", text), text[:500]


def post_forms(server: str, path: str, cookie: str) -> list[tuple[str, dict]]:
    """Every POST form of the page at `path` as the logged-in analyst sees it: its target and the fields it sends (a
    choice's first option, a radio's first value), without its CSRF token."""
    from bs4 import BeautifulSoup

    status, text = fetch(server + path, cookie=cookie)
    assert status == 200, (path, status)
    forms = []
    for form in BeautifulSoup(text, "html.parser").find_all("form", method="post"):
        fields = {}
        for field in form.find_all(["input", "select", "textarea"]):
            name = field.get("name")
            if not name or name == "csrftoken" or name in fields:
                continue
            if field.name == "select":
                options = [o.get("value") for o in field.find_all("option") if o.get("value")]
                fields[name] = options[0] if options else ""
            else:
                fields[name] = field.get("value") or "forged"
        forms.append((form.get("action") or path, fields))
    return [(target, fields) for target, fields in forms if target != "/-/logout"]  # Datasette's own: ends a session


@pytest.mark.parametrize("page", ["flag", "model"])
def test_every_form_refuses_an_anonymous_post_and_offers_the_login(page, browser, server, store):
    from itsdangerous import URLSafeSerializer

    flag, model = query(store, "select f.id, s.repo_id from flags f join subjects s on s.id = f.subject_id "
                               "order by f.id limit 1")[0]
    signed = f'ds_actor={URLSafeSerializer("pages-secret", "actor").dumps({"a": {"id": "alice"}})}'
    forms = post_forms(server, {"flag": f"/-/flag/{flag}", "model": f"/-/model/{model}"}[page], signed)
    assert forms, "the logged-in analyst's page has forms"
    reviews = query(store, "select count(*) from reviews")
    forged = URLSafeSerializer("not-the-secret", "actor").dumps({"a": {"id": "alice"}})
    for path, fields in forms:
        status, text = fetch(server + path, fields)  # no login
        assert status == 403, (path, status)
        assert f'href="/-/login?next={urllib.parse.quote(path, safe="")}"' in text
        # a tampered cookie, a login without its CSRF token, and a forged cookie put before a valid one
        for cookie in (f"ds_actor={forged}", signed, f"ds_actor=junk; {signed}"):
            assert fetch(server + path, fields, cookie)[0] == 403, (path, cookie)
        page_ = browser.new_page()  # a browser's anonymous post of the form's fields: the same refusal, a login link
        response = page_.request.post(server + path, form=fields)
        assert response.status == 403 and "/-/login?next=" in response.text()
        page_.close()
    assert query(store, "select count(*) from reviews") == reviews


def test_the_plugin_is_registered_by_entry_point_with_its_templates_and_static_files():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["entry-points"]["datasette"] == {
        "openness_review": "crawler.review.plugin", "openness_review_throttle": "crawler.review.throttle"}
    data = project["tool"]["setuptools"]["package-data"]["crawler.review.plugin"]
    folder = ROOT / "crawler" / "review" / "plugin"
    shipped = {p.relative_to(folder).as_posix() for pattern in data for p in folder.glob(pattern)}
    assert {"templates/openness_home.html", "templates/openness_model.html", "templates/openness_flag.html",
            "static/review.css"} <= shipped
    assert "accounts.sample.yaml" in project["tool"]["setuptools"]["package-data"]["crawler.review"]


def test_a_port_in_use_fails_in_one_line_naming_it_before_any_url(demo_db):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_openness("review", "--db", str(demo_db), "--port", str(port), timeout=60)
    assert result.returncode == 1
    assert "http://" not in result.stdout
    assert result.stderr.strip().splitlines() == [
        f"Error: cannot serve the review on 127.0.0.1:{port}: Address already in use"]


def test_one_command_adds_an_analyst_with_the_password_hashed(tmp_path):
    from datasette_auth_passwords.utils import verify_password

    from crawler.review.server import read_config

    config = tmp_path / "review.yaml"
    added = subprocess.run([*OPENNESS, "review-account", "add", "alice", "--config", str(config)], cwd=ROOT,
                           input=f"{PASSWORD}\n{PASSWORD}\n", capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    assert PASSWORD not in config.read_text() and PASSWORD not in added.stdout
    scripted = subprocess.run([*OPENNESS, "review-account", "add", "bob", "--config", str(config),
                               "--password-stdin"], cwd=ROOT, input="another long password\n", capture_output=True,
                              text=True, timeout=60)
    assert scripted.returncode == 0, scripted.stderr
    accounts = read_config(config)["accounts"]
    assert set(accounts) == {"alice", "bob"}
    assert verify_password(PASSWORD, accounts["alice"]) and verify_password("another long password", accounts["bob"])
    assert config.stat().st_mode & 0o077 == 0
    mismatch = subprocess.run([*OPENNESS, "review-account", "add", "carol", "--config", str(config)], cwd=ROOT,
                              input=f"{PASSWORD}\nsomething else\n", capture_output=True, text=True, timeout=60)
    assert mismatch.returncode != 0 and "carol" not in config.read_text()


def test_the_sample_accounts_file_is_a_config_the_review_reads():
    from crawler.review.accounts import SAMPLE
    from crawler.review.server import read_config

    config = read_config(SAMPLE)
    assert config["anonymous_read"] is True and config["accounts"] == {"alice": {"$env": "ALICE_PASSWORD_HASH"}}
    assert "openness review-account add" in SAMPLE.read_text()


def test_the_store_takes_needs_evidence_on_a_flag_and_refuses_other_words(demo_copy):
    from crawler.store import open_db

    db = open_db(demo_copy)
    flag, subject = db.execute("select id, subject_id from flags limit 1").fetchone()
    insert = "insert into reviews (subject_id, flag_id, verdict, note, reviewer) values (?, ?, ?, 'why', 'ana')"
    db.execute(insert, [subject, flag, "needs evidence"])
    assert db.execute("select status from flags where id = ?", [flag]).fetchone()[0] == "needs evidence"
    with pytest.raises(sqlite3.IntegrityError, match="needs evidence"):
        db.execute(insert, [subject, flag, "maybe"])


def test_a_review_that_asks_a_login_to_read_refuses_its_pages_with_the_login(store, tmp_path):
    config = tmp_path / "review.yaml"
    config.write_text(f"anonymous_read: false\naccounts:\n  alice: '{quick_hash(PASSWORD)}'\n")
    with start_review_server(store, "--config", str(config)) as base:
        site = base.rsplit("/", 1)[0]
        for path in ("/", "/-/model/meta-llama/Meta-Llama-3-8B", "/-/flag/1"):
            status, text = fetch(site + path)
            assert status == 403 and "Log in to read the review." in text, (path, status)
            assert f'href="/-/login?next={urllib.parse.quote(path, safe="")}"' in text


def test_another_datasette_of_the_environment_keeps_its_own_pages(demo_copy):
    """Installed by entry point, the plugin is in every Datasette of the environment: one that is not a review
    (no review metadata) keeps Datasette's index at `/` and has no analysts' pages."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from datasette.app import Datasette
    from datasette.plugins import pm

    from crawler.review import plugin
    from crawler.review.server import read_config, review_app

    review_app(demo_copy, read_config(None))  # registers the plugin in this process, as the review does
    assert pm.is_registered(plugin)

    async def pages():
        other = Datasette([str(demo_copy)])
        return [(await other.client.get(path)) for path in ("/", "/-/flag/1")]

    with ThreadPoolExecutor(1) as thread:  # a loop of its own: Playwright's sync API runs one in this thread
        home, flag = thread.submit(asyncio.run, pages()).result()
    assert home.status_code == 200 and "Openness review" not in home.text and demo_copy.stem in home.text
    assert flag.status_code == 404


def test_a_gate_the_hub_approves_automatically_reads_so_in_the_changes_and_the_history(server, store):
    subject, model = query(store, "select id, repo_id from subjects where kind = 'model' and gated = 'False' "
                                  "order by id limit 1")[0]
    run = query(store, "select max(run_id) from history")[0][0]
    con = sqlite3.connect(store)
    with con:  # the model's gate turned to one the Hub approves automatically, in the last run
        con.execute("insert into history (run_id, subject_id, aspect, value, summary, recorded_at) "
                    "values (?, ?, 'gated', 'auto', 'gate changed', '2026-12-07T00:00:00')", [run, subject])
    con.close()
    for path in ("/", f"/-/model/{model}"):
        status, text = fetch(server + path)
        assert status == 200
        assert "gated, approved automatically" in text and ">auto<" not in text, path


def test_no_review_page_shows_a_loopback_url(server, store):
    """The demo's store was crawled through the loopback replica: every link and quote an analyst reads on the home
    page, each model's page and each flag's page is public (huggingface.co, github.com), none the replica's."""
    from test_public_links import LOOPBACK

    models = [m for (m,) in query(store, "select repo_id from subjects where kind = 'model' order by id")]
    flags = [f for (f,) in query(store, "select id from flags order by id")]
    assert len(models) > 100 and len(flags) > 30
    pages = ["/", *(f"/-/model/{m}" for m in models), *(f"/-/flag/{f}" for f in flags)]
    found = {}
    for path in pages:
        status, text = fetch(server + urllib.parse.quote(path, safe="/"))
        assert status == 200, path
        if hit := LOOPBACK.search(text):
            found[path] = text[max(0, hit.start() - 80):hit.end() + 80]
    assert not found, found
