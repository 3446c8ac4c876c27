"""The first ten minutes: the league table at 80 columns and as an HTML page in Chromium, public evidence URLs,
errors a person understands, ids as people paste them, versions."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from conftest import ROOT, run_openness

PUBLIC_AT_REVISION = re.compile(r"^https://(huggingface\.co/(datasets/)?[\w.-]+/[\w.-]+/(blob|tree)/[0-9a-f]{40}"
                                r"|huggingface\.co/api/(models|datasets)/[\w.-]+/[\w.-]+/revision/[0-9a-f]{40}"
                                r"|github\.com/[\w.-]+/[\w.-]+/(blob|tree)/[0-9a-f]{40})")


def model_ids(db: Path) -> list[str]:
    return [r for (r,) in sqlite3.connect(db).execute("select repo_id from subjects where kind = 'model' and "
                                                      "revision is not null")]


def test_the_table_fits_80_columns_and_never_breaks_a_model_id(demo_db):
    result = run_openness("table", "--db", str(demo_db), env={**os.environ, "COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    body = "\n".join(lines)
    for model in model_ids(demo_db):
        owner, name = model.split("/", 1)
        whole = re.search(rf"^{re.escape(model)}\s", body, re.MULTILINE)
        split = re.search(rf"^{re.escape(owner)}/\s.*\n{re.escape(name)}$", body, re.MULTILINE)
        assert whole or split, f"{model} is not on the table whole (or split at its '/')"
    assert "legend: BD Base Model Data" in body and "✓ open" in body


def test_the_table_is_sorted_by_the_index_score(demo_db):
    rows = json.loads(run_openness("table", "--db", str(demo_db), "--format", "json").stdout)
    points = {"open": 1, "partial": 0.5, "closed": 0, "unknown": 0}
    for row in rows:
        assert row["score"] == sum(points[c["level"]] for c in row["criteria"].values())
        assert len(row["criteria"]) == 14
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    by_name = json.loads(run_openness("table", "--db", str(demo_db), "--format", "json", "--sort", "name").stdout)
    assert [r["model"] for r in by_name] == sorted((r["model"] for r in rows), key=str.lower)
    markdown = run_openness("table", "--db", str(demo_db), "--format", "markdown").stdout
    assert markdown.startswith("| model | score | BD |") and markdown.count("\n|") == len(rows) + 1


def test_the_html_league_table_renders_in_chromium(demo_db, tmp_path):
    from playwright.sync_api import sync_playwright

    page_path = tmp_path / "table.html"
    result = run_openness("table", "--db", str(demo_db), "--format", "html", "--out", str(page_path))
    assert result.returncode == 0, result.stderr
    html_text = page_path.read_text(encoding="utf-8")
    assert not re.search(r"<(script|link|img|iframe)\b", html_text)  # self-contained: no scripts, no assets
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(page_path.as_uri())
        rows = page.locator("tbody tr")
        assert rows.count() == len(model_ids(demo_db))
        first = rows.first
        assert first.locator("td.rank").inner_text() == "1"
        cell = first.locator("td.open, td.partial, td.closed, td.unknown").first
        assert cell.get_attribute("title")  # the summary on hover
        links = page.locator("tbody a")
        assert links.count() > 100
        assert all(PUBLIC_AT_REVISION.match(links.nth(i).get_attribute("href")) for i in range(0, links.count(), 97))
        page.screenshot(path=str(ROOT / "docs" / "league-table.png"))
        browser.close()


def test_every_evidence_url_in_show_is_public_at_a_revision_and_the_fetched_one_is_kept(demo_db):
    for model in model_ids(demo_db)[::7]:
        report = json.loads(run_openness("show", model, "--db", str(demo_db), "--json").stdout)
        assert report["public_url"].startswith(f"https://huggingface.co/{model}/tree/")
        for judgement in report["judgements"]:
            for evidence in judgement["evidence"]:
                assert PUBLIC_AT_REVISION.match(evidence["public_url"]), evidence
                # Where the demo fetched it; a source named by its page (a linked dataset's) keeps that page.
                assert evidence["fetched_url"].startswith(("http://127.0.0.1:", "https://huggingface.co/datasets/"))


def test_the_run_summary_says_which_errors_are_expected_and_errors_lists_them(demo_db):
    run_id = sqlite3.connect(demo_db).execute("select max(id) from crawl_runs").fetchone()[0]
    counts = json.loads(sqlite3.connect(demo_db).execute("select counts from crawl_runs where id = ?",
                                                         [run_id]).fetchone()[0])
    causes = {k.rsplit("/", 1)[1]: v for k, v in counts.items() if k.startswith("openness/errors_by_cause/")}
    # `refused id`: mosaicml/mpt-30b-instruct's card names dataset subsets (`tau/scrolls/qasper`) as datasets.
    assert causes and set(causes) <= {"not captured", "missing repo", "missing file", "gated", "refused id"}
    listed = json.loads(run_openness("errors", "--db", str(demo_db), "--json").stdout)
    assert len(listed) == sum(causes.values()) and all(e["expected"] for e in listed)
    missing = json.loads(run_openness("errors", "--db", str(demo_db), "--cause", "missing repo", "--json").stdout)
    assert missing and all(e["http_status"] == 404 for e in missing)


@pytest.mark.parametrize("pasted", ["https://huggingface.co/Qwen/Qwen2.5-32B", " Qwen/Qwen2.5-32B ",
                                    "https://huggingface.co/Qwen/Qwen2.5-32B/tree/main",
                                    "hf.co/Qwen/Qwen2.5-32B/blob/main/README.md"])
def test_ids_are_taken_as_people_paste_them(pasted, demo_db):
    result = run_openness("show", pasted, "--db", str(demo_db), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["model"] == "Qwen/Qwen2.5-32B"


@pytest.mark.parametrize("bad", ["../x", "a/..", "x/y?z=1#f", "https://example.org/a/b",
                                 "https://huggingface.co/datasets/a/b", "bert-base-uncased"])
def test_anything_else_is_a_clear_error_naming_it(bad, tmp_path):
    result = run_openness("crawl", bad, "--db", str(tmp_path / "x.db"))
    assert result.returncode == 2 and repr(bad) in result.stderr and "Traceback" not in result.stderr


def test_version_names_tool_extractors_and_schema():
    from crawler.store import SCHEMA_VERSION
    from extractors import EXTRACTOR_VERSION

    result = run_openness("--version")
    assert result.returncode == 0
    assert f"extractors {EXTRACTOR_VERSION}" in result.stdout and f"schema {SCHEMA_VERSION}" in result.stdout


def test_the_first_rows_chosen_in_sql_are_the_first_rows_of_the_whole_table(demo_db):
    from crawler import table
    from crawler.store import open_db

    db = open_db(demo_db)
    for sort in ("openness", "name"):
        whole = table.rows(db, sort=sort)
        assert table.row_count(db) == len(whole) > 40
        assert [(r.model, r.score, r.cells) for r in table.rows(db, sort=sort, limit=40)] == \
            [(r.model, r.score, r.cells) for r in whole[:40]]


def test_a_confident_judgement_is_shown_as_confident_in_show_the_table_and_exports(demo_copy, tmp_path):
    """Confidence >= 0.9 on a decided judgement reads as confident everywhere a judgement is shown; below, not."""
    db_file = demo_copy
    con = sqlite3.connect(db_file)
    model, criterion = con.execute("select s.repo_id, j.criterion from judgements j join subjects s on "
                                   "s.id = j.subject_id where j.level != 'unknown' order by 1, 2 limit 1").fetchone()
    con.execute("update judgements set confidence = 0.95 where criterion = ? and subject_id = "
                "(select id from subjects where repo_id = ?)", [criterion, model])
    con.commit()
    con.close()
    shown = json.loads(run_openness("show", model, "--db", str(db_file), "--json").stdout)
    sure = {j["criterion"]: j["confident"] for j in shown["judgements"]}
    assert sure[criterion] is True and sum(sure.values()) >= 1
    assert all(not j["confident"] for j in shown["judgements"] if j["level"] == "unknown")
    assert "confident)" in run_openness("show", model, "--db", str(db_file)).stdout.replace("\n", "")
    page = tmp_path / "t.html"
    assert run_openness("table", model, "--db", str(db_file), "--format", "html", "--out", str(page)).returncode == 0
    assert re.search(r'<td class="\w+ confident" title="[^"]*\(confident, 0\.95\)', page.read_text())
    lines = run_openness("export", model, "--format", "jsonl", "--db", str(db_file)).stdout.splitlines()
    exported = next(r for r in map(json.loads, lines) if "judgements" in r)
    assert {j["criterion"]: j["confident"] for j in exported["judgements"]}[criterion] is True


@pytest.mark.parametrize("gated, label", [("auto", "gated, approved automatically"), ("manual",
                         "gated, approved by the publisher"), ("False", "not gated"), (False, "not gated"),
                         (None, "gating unknown"), ("True", "gated")])
def test_a_gate_reads_as_how_it_is_approved(gated, label):
    from crawler.table import gating_label

    assert gating_label(gated) == label
