"""Analyst review: `openness review` (Datasette with the analysts' pages) over a store the demo crawl wrote, driven
in Debian's Chromium by Playwright: log in, record verdicts on the flag and model pages, recrawl, see them survive;
a changed reviewed judgement returns to the queue; nothing is written without login; card text shows as text."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import SNAPSHOT, run_openness, start_replica, start_review_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
MODEL = "Qwen/Qwen2.5-32B"
# A hostile card: entities that decode to markup, in a section the hardware rule quotes.
HOSTILE = ("\n## Training hardware\n\nTrained on 64 GPUs &lt;script&gt;window.__pwned = 1&lt;/script&gt; "
           "&lt;b&gt;not bold&lt;/b&gt;.\n")
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("review") / "corpus"
    shutil.copytree(SNAPSHOT, target)
    return target


@pytest.fixture(scope="module")
def store(corpus) -> Path:
    db = corpus.parent / "review.db"
    result = run_openness("demo", "--corpus", str(corpus), "--db", str(db))
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"-m crawler review --db {db}" in result.stdout  # the demo says how to review it
    return db


@pytest.fixture(scope="module")
def review_server(store, tmp_path_factory):
    from datasette_auth_passwords.utils import hash_password

    config = tmp_path_factory.mktemp("config") / "review.yaml"
    config.write_text("anonymous_read: true\naccounts:\n  alice: {$env: ALICE_PASSWORD_HASH}\n")
    env = {**os.environ, "ALICE_PASSWORD_HASH": hash_password(PASSWORD), "DATASETTE_SECRET": "test-secret"}
    with start_review_server(store, "--config", str(config), env=env) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is not installed: `make test` installs it"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


def log_in(browser, base: str):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(root(base) + "/-/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    return page


def root(base: str) -> str:
    """The site's root (the analysts' home) from the database's URL the server fixture yields."""
    return base.rsplit("/", 1)[0]


def submit(page, form: str, note: str, choices: dict) -> str:
    """Fill a verdict form on the page shown (`choices`: select or radio name -> value), write the note, send it;
    the page's text after."""
    for name, value in choices.items():
        field = page.locator(f"{form} [name='{name}']")
        if field.first.get_attribute("type") == "radio":
            page.check(f"{form} input[name='{name}'][value='{value}']")
        else:
            field.select_option(value)
    page.fill(f"{form} [name=note]", note)
    page.click(f"{form} input[type=submit]")
    page.wait_for_load_state()
    return page.inner_text("body")


def crawl_ids(corpus: Path) -> list[str]:
    from crawler.corpus import Corpus

    return [repo.repo_id for repo in Corpus(corpus).models.values()]  # what the demo crawled


def test_a_verdict_survives_a_full_recrawl_and_a_changed_reviewed_judgement_returns_to_the_queue(
        browser, review_server, store, corpus):
    site = root(review_server)
    page = log_in(browser, review_server)
    assert page.url == site + "/"  # the analysts' home
    first = page.locator("table.flags tbody tr").first
    flag_id = first.locator("a.flag-link").inner_text().split()[-1]
    assert first.locator("td:nth-child(2)").inner_text().strip() == "high"  # worst first

    page.goto(f"{site}/-/flag/{flag_id}")
    body = submit(page, "form.verdict", "checked against the card and the GitHub repo: no training code, data "
                                        "withheld", {"verdict": "confirmed"})
    assert "Recorded: 1 review." in body, body[-500:]
    # A note is required: the page says so and records nothing.
    page.goto(f"{site}/-/model/{MODEL}")
    hardware = "section.criterion[data-criterion=hardware_architecture] form.override"
    body = submit(page, hardware, " ", {"level": "closed"})
    assert "a review needs a note" in body

    page.goto(f"{site}/-/model/{urllib.parse.quote(MODEL)}")
    body = submit(page, hardware, "the card states no training hardware", {"level": "closed"})
    assert "Recorded: 1 review." in body

    proc, url = start_replica(corpus)
    try:
        full = run_openness("crawl", "--full", *crawl_ids(corpus), "--db", str(store), "--hf-endpoint", url,
                            "--github-endpoint", url, timeout=600)
        assert full.returncode == 0, full.stderr[-2000:]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert run_openness("assess", "--force", "--db", str(store)).returncode == 0
    page.goto(f"{site}/-/flag/{flag_id}")
    assert page.locator("p.facts .status").inner_text().strip() == "confirmed"
    assert "no training code" in page.locator("table.verdicts tbody tr").first.inner_text()
    page.goto(site + "/")
    row = page.locator("table.flags tbody tr", has=page.locator(f"a.flag-link:text-is('flag {flag_id}')"))
    assert row.locator("td.status").inner_text().strip() == "confirmed"

    card = corpus / "huggingface" / "models" / MODEL / "README.md"
    card.write_text(card.read_text(encoding="utf-8") + HOSTILE, encoding="utf-8")
    proc, url = start_replica(corpus)
    try:
        changed = run_openness("crawl", MODEL, "--db", str(store), "--hf-endpoint", url, "--github-endpoint", url)
        assert changed.returncode == 0, changed.stderr[-2000:]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    page.goto(site + "/")
    queued = page.locator("table.queue tbody tr", has=page.locator("td:text-is('changed judgement')"))
    assert queued.count() == 1
    assert queued.locator("td:nth-child(2)").inner_text().strip() == MODEL
    assert queued.locator("td:nth-child(3)").inner_text().strip() == "Hardware Architecture"
    assert queued.locator("td:nth-child(5) .level").all_inner_texts() == ["closed", "partial"]  # seen, now

    page.goto(f"{site}/-/model/{urllib.parse.quote(MODEL)}")
    hardware = page.locator("section.criterion[data-criterion=hardware_architecture]")
    assert hardware.locator("h3 .effective").inner_text().strip() == "closed"  # the analyst's override
    assert hardware.locator(".machine").inner_text().strip() == "partial"
    # Card text is shown as text: the script is visible and never ran, the markup is not bold.
    quotes = hardware.locator("blockquote").all_inner_texts()
    assert any("<script>window.__pwned = 1</script>" in q for q in quotes), quotes
    assert page.evaluate("window.__pwned") is None
    assert hardware.locator("blockquote b").count() == 0
    link = hardware.locator("a.public").first.get_attribute("href")
    assert re.fullmatch(rf"https://huggingface\.co/{MODEL}/blob/[0-9a-f]{{40}}/README\.md#L\d+", link), link
    page.close()


def test_an_anonymous_browser_reads_but_gets_no_form(browser, review_server, store):
    site = root(review_server)
    page = browser.new_page()
    page.goto(f"{site}/-/flag/1")
    assert page.locator("form.verdict").count() == 0
    assert page.locator("a.login").first.get_attribute("href") == "/-/login?next=%2F-%2Fflag%2F1"
    page.goto(site + "/")  # reading is anonymous here
    assert page.locator("table.flags tbody tr").count() > 0
    page.close()


def post(url: str, data: dict, cookie: str = "") -> int:
    request = urllib.request.Request(url, data=urllib.parse.urlencode(data).encode(), method="POST",
                                     headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.parametrize("form", ["/-/flag/1", f"/-/model/{MODEL}"], ids=["flag", "model"])
def test_every_write_is_refused_without_a_valid_login(form, review_server, store):
    from itsdangerous import URLSafeSerializer

    reviews = sqlite3.connect(store).execute("select count(*) from reviews").fetchone()[0]
    fields = {"verdict": "dismissed", "criterion": "licenses", "level": "open", "note": "forged"}
    url = root(review_server) + form
    assert post(url, fields) == 403  # no session
    forged = URLSafeSerializer("not-the-secret", "actor").dumps({"a": {"id": "alice"}})
    assert post(url, fields, cookie=f"ds_actor={forged}") == 403  # tampered cookie
    signed = URLSafeSerializer("test-secret", "actor").dumps({"a": {"id": "alice"}})
    assert post(url, fields, cookie=f"ds_actor={signed}") == 403  # no CSRF token
    assert sqlite3.connect(store).execute("select count(*) from reviews").fetchone()[0] == reviews
