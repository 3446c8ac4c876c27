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
    ranked = [r for r in rows if r["rank"] is not None]
    for row in ranked:
        assert row["score"] == sum(points[c["level"]] for c in row["criteria"].values())
        assert len(row["criteria"]) == 14
    assert [r["score"] for r in ranked] == sorted((r["score"] for r in ranked), reverse=True)
    assert [r["rank"] for r in ranked] == list(range(1, len(ranked) + 1)) and rows[:len(ranked)] == ranked
    by_name = json.loads(run_openness("table", "--db", str(demo_db), "--format", "json", "--sort", "name").stdout)
    named = [r["model"] for r in by_name if r["rank"] is not None]
    assert named == sorted((r["model"] for r in ranked), key=str.lower)
    assert [r["model"] for r in by_name[len(named):]] == [r["model"] for r in rows[len(ranked):]]
    markdown = run_openness("table", "--db", str(demo_db), "--format", "markdown").stdout
    tables = markdown.split("\n\n")
    assert markdown.startswith("| model | score | BD |") and tables[0].count("|\n|") == len(ranked) + 1
    assert tables[2].count("\n|") == len(rows) - len(ranked) + 1


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
        rows = page.locator("tbody tr:has(td.model)")
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
        cut = len(whole) - 3  # into the models not ranked, listed last
        assert not whole[cut].ranked
        for limit in (40, cut):
            assert [(r.model, r.score, r.capture, r.cells) for r in table.rows(db, sort=sort, limit=limit)] == \
                [(r.model, r.score, r.capture, r.cells) for r in whole[:limit]]


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


def nothing_decided(db: Path) -> set[str]:
    """The models judged whose 14 criteria are all unknown (nothing the crawl read decides any)."""
    return {m for (m,) in sqlite3.connect(db).execute(
        "select s.repo_id from judgements j join subjects s on s.id = j.subject_id group by s.id "
        "having sum(j.level != 'unknown') = 0")}


def test_models_with_nothing_decided_are_marked_and_not_ranked_beside_one_closed_on_every_criterion(demo_copy,
                                                                                                    tmp_path):
    con = sqlite3.connect(demo_copy)
    closed = con.execute("select s.repo_id from judgements j join subjects s on s.id = j.subject_id group by s.id "
                         "having sum(j.level != 'unknown') > 0 order by 1 limit 1").fetchone()[0]
    con.execute("update judgements set level = 'closed' where subject_id = (select id from subjects where "
                "repo_id = ?)", [closed])
    con.commit()
    unranked = nothing_decided(demo_copy)
    assert len(unranked) >= 10 and closed not in unranked

    rows = json.loads(run_openness("table", "--db", str(demo_copy), "--format", "json").stdout)
    ranked = [r for r in rows if r["capture"] == "judged"]
    assert rows[:len(ranked)] == ranked and {r["model"] for r in rows[len(ranked):]} == unranked
    assert all(r["rank"] is None and r["score"] is None and r["capture"] in ("not captured", "undecided")
               for r in rows[len(ranked):])
    closed_row = next(r for r in ranked if r["model"] == closed)  # ranked, among the score-0 models, last
    assert closed_row["score"] == 0 and ranked[-1]["score"] == 0 and closed_row["rank"] >= len(ranked) - 5

    text = run_openness("table", "--db", str(demo_copy), env={**os.environ, "COLUMNS": "80"}).stdout
    ranked_part, unranked_part = text.split(f"not ranked, no criterion decided ({len(unranked)}):\n")
    assert re.search(rf"^{re.escape(closed)}\s+0 ", ranked_part, re.MULTILINE)
    for model in unranked:
        assert not re.search(rf"^{re.escape(model)}\s", ranked_part, re.MULTILINE)
        assert re.search(rf"^{re.escape(model)}\s+(not captured|undecided)$", unranked_part, re.MULTILINE)

    markdown = run_openness("table", "--db", str(demo_copy), "--format", "markdown").stdout
    assert f"| {closed} | 0 |" in markdown
    for model in unranked:
        assert re.search(rf"^\| {re.escape(model)} \| (not captured|undecided) \|$", markdown, re.MULTILINE)

    page = tmp_path / "t.html"
    run_openness("table", "--db", str(demo_copy), "--format", "html", "--out", str(page))
    ranked_html, unranked_html = page.read_text().split('<tbody class="not-ranked">')
    assert re.search(rf'<td class="rank">{closed_row["rank"]}</td><td class="model"[^>]*>{re.escape(closed)}</td>'
                     r'<td class="score">0</td>', ranked_html)
    for model in unranked:
        assert f">{model}<" not in ranked_html
        assert re.search(rf'<td class="rank"></td><td class="model"[^>]*>{re.escape(model)}</td><td class="capture"'
                         r'[^>]*>(not captured|undecided)</td>', unranked_html)


def test_the_demo_says_how_many_models_its_snapshot_lacks(tmp_path):
    """A corpus of one model captured whole and one of which only the capture record is kept."""
    corpus = tmp_path / "corpus"
    for rel in ("huggingface/models/mistralai/Mistral-7B-v0.1", "huggingface/models/EleutherAI/pythia-12b-deduped"):
        shutil.copytree(ROOT / "data" / "snapshot" / rel, corpus / rel)
    result = run_openness("demo", "--corpus", str(corpus), "--db", str(tmp_path / "d.db"))
    assert result.returncode == 0, result.stderr
    assert (f"the corpus {corpus} lacks 1 model (1 not captured): 1 listed in the table after the ranked ones, "
            "not ranked") in result.stdout.replace("\n", "")
    text = result.stdout.split("not ranked, no criterion decided (1):\n")[1]
    assert re.match(r"EleutherAI/pythia-12b-deduped +not captured\n", text)


def test_the_demo_store_s_lacking_models_are_counted_from_the_capture_view(demo_db):
    from crawler.store import open_db
    from crawler.table import capture_lacking

    db = open_db(demo_db)
    lacking = {r["subject_id"] for r in db.query("select subject_id from model_capture where capture in "
                                                 "('not captured', 'undecided')")}
    line = capture_lacking(db, "the bundled snapshot")
    listed = len(nothing_decided(demo_db))
    assert line.startswith(f"the bundled snapshot lacks {len(lacking)} models (")
    assert f"): {listed} listed in the table after the ranked ones, not ranked; {len(lacking) - listed} only " \
           f"named by other models" in line
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert (f"of its {len(model_ids(demo_db))} models, {listed} are listed not ranked, and {len(lacking) - listed} "
            f"more that its models name as base models are not in it at all") in readme


def test_a_gate_the_hub_approves_automatically_reads_so_in_the_table_page_and_exports(demo_copy, tmp_path):
    con = sqlite3.connect(demo_copy)
    model = con.execute("select repo_id from subjects where kind = 'model' and revision is not null and "
                        "gated = 'manual' order by 1 limit 1").fetchone()[0]
    con.execute("update subjects set gated = 'auto' where repo_id = ?", [model])
    con.commit()
    row = json.loads(run_openness("table", model, "--db", str(demo_copy), "--format", "json").stdout)[0]
    assert (row["gated"], row["gating"]) == ("auto", "gated, approved automatically")
    page = tmp_path / "t.html"
    run_openness("table", model, "--db", str(demo_copy), "--format", "html", "--out", str(page))
    assert f'<td class="model" title="gated, approved automatically">{model}</td>' in page.read_text()
    lines = run_openness("export", model, "--format", "jsonl", "--db", str(demo_copy)).stdout.splitlines()
    exported = next(r for r in map(json.loads, lines) if r.get("record") == "model")
    assert (exported["gated"], exported["gating"]) == ("auto", "gated, approved automatically")


def test_a_model_whose_sources_were_read_and_decide_nothing_is_marked_undecided(demo_copy):
    from crawler.store import open_db
    from crawler import table

    con = sqlite3.connect(demo_copy)
    model = sorted(nothing_decided(demo_copy))[0]
    con.execute("update judgements set searched = replace(searched, '\"not captured\"', '\"failed\"') where "
                "subject_id = (select id from subjects where repo_id = ?)", [model])
    con.execute("update subjects set status = 'ok' where repo_id = ?", [model])
    con.commit()
    rows = table.rows(open_db(demo_copy))
    row = next(r for r in rows if r.model == model)
    assert row.capture == "undecided" and not row.ranked and rows.index(row) > len(table.ranked(rows)) - 1
    assert re.search(rf"^{re.escape(model)} +undecided$", "\n".join(table.text(rows, width=200)), re.MULTILINE)
    assert "undecided: its sources were read, failed or gated" in " ".join(table.text(rows, width=200))
