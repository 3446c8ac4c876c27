"""Analyst review: `openness review` (Datasette) over a store the demo crawl wrote, driven in Debian's Chromium by
Playwright: log in, record verdicts, recrawl, see them survive; a changed reviewed judgement returns to the queue;
nothing is written without login; card text shows as text."""

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

from conftest import ROOT, SNAPSHOT, run_openness, start_replica, start_review_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DOCS = ROOT / "docs"
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
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(base.rsplit("/", 1)[0] + "/-/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    return page


def submit_canned(page, url: str, note: str) -> str:
    """Open a writable canned query's form (parameters in the URL), write the note, run it; the message shown."""
    page.goto(url)
    page.fill("[name=note]", note)
    page.click("form.sql input[type=submit]")
    page.wait_for_load_state()
    return page.inner_text("body")


def crawl_ids(corpus: Path) -> list[str]:
    from crawler.corpus import Corpus

    return [repo.repo_id for repo in Corpus(corpus).models.values()]  # what the demo crawled


def test_a_verdict_survives_a_full_recrawl_and_a_changed_reviewed_judgement_returns_to_the_queue(
        browser, review_server, store, corpus):
    page = log_in(browser, review_server)
    page.goto(f"{review_server}/flagged_models?severity=")
    first = page.locator("table.rows-and-columns tbody tr").first
    flag_id = first.locator("td.col-flag_id").inner_text().strip()
    assert first.locator("td.col-severity").inner_text().strip() == "high"  # worst first
    page.screenshot(path=str(DOCS / "review-flags.png"), full_page=False)

    body = submit_canned(page, f"{review_server}/confirm_or_dismiss_flag?flag_id={flag_id}&verdict=confirmed",
                         "checked against the card and the GitHub repo: no training code, data withheld")
    assert "1 row affected" in body, body[-500:]
    # A note is required: the DB refuses an empty one.
    body = submit_canned(page, f"{review_server}/override_judgement?model={MODEL}&criterion=hardware_architecture"
                               f"&level=closed", " ")
    assert "a review needs a note" in body

    body = submit_canned(page, f"{review_server}/override_judgement?model={urllib.parse.quote(MODEL)}"
                               f"&criterion=hardware_architecture&level=closed",
                         "the card states no training hardware")
    assert "1 row affected" in body

    proc, url = start_replica(corpus)
    try:
        full = run_openness("crawl", "--full", *crawl_ids(corpus), "--db", str(store), "--hf-endpoint", url,
                            "--github-endpoint", url, timeout=600)
        assert full.returncode == 0, full.stderr[-2000:]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert run_openness("assess", "--force", "--db", str(store)).returncode == 0
    page.goto(f"{review_server}/flagged_models?severity=")
    row = page.locator("table.rows-and-columns tbody tr", has=page.locator(f"td.col-flag_id:text-is('{flag_id}')"))
    assert row.locator("td.col-status").inner_text().strip() == "confirmed"
    assert "no training code" in row.locator("td.col-last_verdict").inner_text()

    card = corpus / "huggingface" / "models" / MODEL / "README.md"
    card.write_text(card.read_text(encoding="utf-8") + HOSTILE, encoding="utf-8")
    proc, url = start_replica(corpus)
    try:
        changed = run_openness("crawl", MODEL, "--db", str(store), "--hf-endpoint", url, "--github-endpoint", url)
        assert changed.returncode == 0, changed.stderr[-2000:]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    page.goto(f"{review_server}/review_queue")
    queued = page.locator("table.rows-and-columns tbody tr", has=page.locator("td.col-item:text-is('changed judgement')"))
    assert queued.count() == 1
    assert queued.locator("td.col-model").inner_text().strip() == MODEL
    assert queued.locator("td.col-level_seen").inner_text().strip() == "closed"
    assert queued.locator("td.col-level_now").inner_text().strip() == "partial"

    page.goto(f"{review_server}/model?model={urllib.parse.quote(MODEL)}")
    hardware = page.locator("table.rows-and-columns tbody tr",
                            has=page.locator("td.col-criterion:text-is('hardware_architecture')"))
    assert hardware.locator("td.col-effective_level").inner_text().strip() == "closed"  # the analyst's override
    assert hardware.locator("td.col-machine_level").inner_text().strip() == "partial"
    # Card text is shown as text: the script is visible and never ran, the markup is not bold.
    assert "<script>window.__pwned = 1</script>" in hardware.locator("td.col-snippet").inner_text()
    assert page.evaluate("window.__pwned") is None
    assert hardware.locator("td.col-snippet b").count() == 0
    link = hardware.locator("td.col-public_url a").get_attribute("href")
    assert re.fullmatch(rf"https://huggingface\.co/{MODEL}/blob/[0-9a-f]{{40}}/README\.md#L\d+", link), link
    page.screenshot(path=str(DOCS / "review-model.png"), full_page=False)
    page.close()


def test_an_anonymous_browser_cannot_write(browser, review_server, store):
    page = browser.new_page()
    response = page.goto(f"{review_server}/confirm_or_dismiss_flag?flag_id=1&verdict=dismissed")
    assert response.status == 403
    page.goto(f"{review_server}/flagged_models?severity=")  # reading is anonymous here
    assert page.locator("table.rows-and-columns tbody tr").count() > 0
    page.close()


def post(url: str, data: dict, cookie: str = "") -> int:
    request = urllib.request.Request(url, data=urllib.parse.urlencode(data).encode(), method="POST",
                                     headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.parametrize("query", ["confirm_or_dismiss_flag", "override_judgement"])
def test_every_write_is_refused_without_a_valid_login(query, review_server, store):
    from itsdangerous import URLSafeSerializer

    reviews = sqlite3.connect(store).execute("select count(*) from reviews").fetchone()[0]
    fields = {"flag_id": "1", "verdict": "dismissed", "model": MODEL, "criterion": "licenses", "level": "open",
              "note": "forged"}
    assert post(f"{review_server}/{query}", fields) == 403  # no session
    forged = URLSafeSerializer("not-the-secret", "actor").dumps({"a": {"id": "alice"}})
    assert post(f"{review_server}/{query}", fields, cookie=f"ds_actor={forged}") == 403  # tampered cookie
    signed = URLSafeSerializer("test-secret", "actor").dumps({"a": {"id": "alice"}})
    assert post(f"{review_server}/{query}", fields, cookie=f"ds_actor={signed}") == 403  # no CSRF token
    assert sqlite3.connect(store).execute("select count(*) from reviews").fetchone()[0] == reviews
