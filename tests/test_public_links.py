"""Public links everywhere a person or a tool reads them: after a crawl of the bundled snapshot through the replica,
no URL on a loopback address (the replica's, dead once the demo ends) appears in `show --json`, `flags` (text and
JSON), `changes --json`, the table or any export, except under keys named as fetched URLs, which keep it for
debugging. The check is generic (any loopback URL, any key), so it also holds for fields added later."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path

import pytest

from conftest import run_openness
from crawler.public import PublicLinks, source_url
from crawler.store import open_db

# A URL on this machine: 127.0.0.0/8, localhost, [::1] or 0.0.0.0, with any port.
LOOPBACK = re.compile(r"https?://(?:127(?:\.\d{1,3}){3}|localhost|\[::1\]|0\.0\.0\.0)(?:[:/?#]|$)", re.I)
PUBLIC = ("https://huggingface.co/", "https://github.com/")
SHA = "0123456789abcdef0123456789abcdef01234567"


def fetched_key(key: str) -> bool:
    """A key that names a fetched URL (`fetched_url`, `claim_fetched_url`): the one place a loopback URL may be."""
    return "fetched" in key.lower()


def loopback_places(value, path: str = "$") -> list[str]:
    """Every place in a JSON value holding a loopback URL outside a fetched-URL key: its path and text."""
    if isinstance(value, dict):
        return [p for k, v in value.items() if not fetched_key(str(k)) for p in loopback_places(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in loopback_places(v, f"{path}[{i}]")]
    if isinstance(value, str) and LOOPBACK.search(value):
        return [f"{path}: {value[:200]}"]
    return []


def fetched_values(value) -> list[str]:
    """The strings under fetched-URL keys: where the demo fetched things, kept."""
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in ([v] if fetched_key(str(k)) and isinstance(v, str)
                                                     else fetched_values(v))]
    if isinstance(value, list):
        return [s for v in value for s in fetched_values(v)]
    return []


def json_of(*args: str):
    result = run_openness(*args)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def example_models(db: Path) -> dict[str, str]:
    """Models of the demo that hold each kind of link: a flag, GitHub evidence, a source not captured, a failed
    fetch."""
    con = sqlite3.connect(db)
    one = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
    return {
        "flagged": one("select s.repo_id from flags f join subjects s on s.id = f.subject_id order by f.id limit 1"),
        "github evidence": one("select s.repo_id from evidence e join subjects s on s.id = e.subject_id where "
                               "e.public_url like 'https://github.com/%' order by s.id limit 1"),
        "not captured": one("select s.repo_id from judgements j join subjects s on s.id = j.subject_id where "
                            "j.searched like '%\"not captured\"%' order by s.id limit 1"),
        "failed fetch": one("select s.repo_id from errors e join subjects s on s.id = e.subject_id where "
                            "s.kind = 'model' and s.revision is not null order by s.id limit 1"),
    }


def test_show_json_links_publicly_and_keeps_the_fetched_urls_named_as_such(demo_db):
    for why, model in example_models(demo_db).items():
        report = json_of("show", model, "--db", str(demo_db), "--json", "--history")
        assert loopback_places(report) == [], (why, model)
        # The fetched URLs are kept, under their own names: the model's, each evidence item's, each source's.
        assert LOOPBACK.match(report["fetched_url"]) and report["public_url"].startswith(PUBLIC)
        for judgement in report["judgements"]:
            assert all(e["public_url"].startswith(PUBLIC) and "fetched_url" in e for e in judgement["evidence"])
            assert all(s["url"].startswith(PUBLIC) and "fetched_url" in s for s in judgement["searched"])
        assert report["history"] and any(LOOPBACK.match(u) for u in fetched_values(report["history"]))
    errors = json_of("show", example_models(demo_db)["failed fetch"], "--db", str(demo_db), "--json")["errors"]
    assert errors and all(LOOPBACK.match(e["fetched_url"]) for e in errors)


def test_a_source_not_captured_links_to_the_public_page_of_what_it_names(demo_db):
    report = json_of("show", example_models(demo_db)["not captured"], "--db", str(demo_db), "--json")
    sources = [s for j in report["judgements"] for s in j["searched"] if s["status"] == "not captured"]
    assert sources
    for source in sources:
        assert LOOPBACK.match(source["fetched_url"]), source  # what the replica answered it does not hold
        assert source["url"] == source_url(source["source"], report["subject_id"], report["revision"])


def test_flags_json_and_text_give_public_claim_locations_at_their_lines(demo_db):
    rows = json_of("flags", "--db", str(demo_db), "--json")
    assert len(rows) > 10 and loopback_places(rows) == []
    for row in rows:
        assert row["claim_location"].startswith(PUBLIC) and LOOPBACK.match(row["claim_fetched_url"]), row
        line = re.search(r"#L(\d+)$", row["claim_fetched_url"])
        if line:  # the line quoted, anchored as each site shows a file's lines
            assert row["claim_location"].endswith((f"#L{line[1]}", f"?plain=1#L{line[1]}")), row
            assert "/blob/" in row["claim_location"], row
        for promise in row["promised"]:
            assert promise["evidence"] is None or promise["evidence"]["public_url"].startswith(PUBLIC)
    assert any(r["claim_location"].startswith("https://github.com/") for r in rows)  # a README's claim, too
    text = run_openness("flags", "--db", str(demo_db), env={**os.environ, "COLUMNS": "1000"})
    assert text.returncode == 0, text.stderr
    assert not LOOPBACK.search(text.stdout)
    assert all(r["claim_location"] in text.stdout for r in rows)


def test_changes_json_names_history_urls_as_fetched(demo_db):
    rows = json_of("changes", "--db", str(demo_db), "--json", "--include-first")
    assert rows and loopback_places(rows) == []
    evidence = [r["new"]["evidence"] for r in rows if r["new"]["evidence"]]
    assert all("url" not in e and e["public_url"].startswith(PUBLIC) for e in evidence)


@pytest.mark.parametrize("export_format", ["jsonl", "csv", "index-yaml", "spdx3", "cyclonedx", "badges"])
def test_every_export_format_links_publicly(export_format, demo_db, tmp_path):
    out = tmp_path / ("export" + (f".{export_format}" if export_format in ("jsonl", "csv") else ""))
    result = run_openness("export", "--format", export_format, "--db", str(demo_db), "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    files = sorted(out.iterdir()) if out.is_dir() else sorted(tmp_path.glob("export*"))
    assert files
    found, public = [], 0
    for path in files:
        text = path.read_text(encoding="utf-8")
        public += text.count(PUBLIC[0]) + text.count(PUBLIC[1])
        if path.suffix == ".json":
            found += loopback_places(json.loads(text), path.name)
        elif export_format == "jsonl":
            found += [p for line in text.splitlines() for p in loopback_places(json.loads(line), path.name)]
        else:  # csv, yaml: no key names a fetched URL, so no loopback URL at all
            found += [f"{path.name}: {m.group(0)}" for m in LOOPBACK.finditer(text)]
    assert found == [], found[:5]
    assert export_format == "badges" or public  # the links are there, and public


def test_the_league_table_links_publicly(demo_db):
    for output_format in ("json", "html", "markdown"):
        result = run_openness("table", "--db", str(demo_db), "--format", output_format)
        assert result.returncode == 0 and not LOOPBACK.search(result.stdout), output_format


def test_migration_makes_an_older_store_public_as_a_fresh_assessment_does(demo_copy):
    """A store written before m015 (claim locations and searched URLs fetched, history evidence `url`) reads as a
    fresh assessment writes it; assessing it again changes no level."""
    con = sqlite3.connect(demo_copy)
    fresh_flags = con.execute("select id, claim_location, claim_fetched_url from flags order by id").fetchall()
    fresh_searched = con.execute("select subject_id, criterion, searched from judgements order by 1, 2").fetchall()
    levels = con.execute("select subject_id, criterion, level from judgements order by 1, 2").fetchall()
    with con:  # back to the shape older versions wrote
        con.execute("update flags set claim_location = claim_fetched_url")
        con.execute("alter table flags drop column claim_fetched_url")
        for subject_id, criterion, searched in fresh_searched:
            old = [{"source": s["source"], "status": s["status"], "url": s["fetched_url"], "detail": s["detail"]}
                   for s in json.loads(searched)]
            con.execute("update judgements set searched = ? where subject_id = ? and criterion = ?",
                        [json.dumps(old), subject_id, criterion])
        con.execute("update history set evidence = json_set(json_remove(evidence, '$.fetched_url'), '$.url', "
                    "json_extract(evidence, '$.fetched_url')) where json_type(evidence, '$.fetched_url') is not null")
        con.execute("delete from _sqlite_migrations where name = 'm015_public_links'")
    assert con.execute("select count(*) from flags where claim_location like 'http://127.%'").fetchone()[0]
    con.close()

    open_db(demo_copy).conn.close()  # migrates
    con = sqlite3.connect(demo_copy)
    assert con.execute("select id, claim_location, claim_fetched_url from flags order by id").fetchall() == fresh_flags
    assert con.execute("select subject_id, criterion, searched from judgements order by 1, 2").fetchall() == \
        fresh_searched
    history = [json.loads(e) for (e,) in con.execute("select evidence from history where evidence != 'null'")]
    assert history and loopback_places(history) == [] and all("url" not in e for e in history)
    con.close()

    result = run_openness("assess", "--db", str(demo_copy), "--force")
    assert result.returncode == 0, result.stderr[-2000:]
    con = sqlite3.connect(demo_copy)
    assert con.execute("select subject_id, criterion, level from judgements order by 1, 2").fetchall() == levels
    assert con.execute("select id, claim_location, claim_fetched_url from flags order by id").fetchall() == fresh_flags


def test_public_links_map_a_fetched_url_to_its_artifact_and_else_to_what_it_names(tmp_path):
    db, card = open_db(tmp_path / "store.db"), f"https://huggingface.co/o/m/blob/{SHA}/README.md"
    db["artifacts"].insert({"id": "a1", "source": "huggingface", "repo_type": "model", "repo_id": "o/m",
                            "kind": "card", "path": "README.md", "revision": SHA,
                            "url": f"http://127.0.0.1:5/o/m/resolve/{SHA}/README.md", "public_url": card})
    links = PublicLinks(db)
    assert links.public(f"http://127.0.0.1:5/o/m/resolve/{SHA}/README.md#L7", "x") == f"{card}#L7"
    assert links.public(None, "fallback", artifact_id="a1", line_start=3, line_end=4) == f"{card}#L3"
    assert links.public("http://127.0.0.1:5/api/models/o/m", "https://huggingface.co/o/m") == \
        "https://huggingface.co/o/m"
    asked = "http://127.0.0.1:5/repos/o/code"
    source = links.source({"source": "github:o/code", "status": "not captured", "url": asked, "detail": "not captured"},
                          "hf:model:o/m", SHA)
    assert source == {"source": "github:o/code", "status": "not captured", "url": "https://github.com/o/code",
                      "fetched_url": asked, "detail": "not captured"}
    assert source_url("card", "hf:model:o/m", SHA) == card
    assert source_url("dataset:o/d", "hf:model:o/m", SHA) == "https://huggingface.co/datasets/o/d"
    assert source_url("linked-dataset:https://example.org/d", "hf:model:o/m", SHA) == "https://example.org/d"
    assert source_url("base:o/base", "hf:model:o/m", SHA) == "https://huggingface.co/o/base"


@pytest.mark.parametrize("named", ["javascript://x.org/%0aalert(1)", "data://text/html,x", "file:///etc/passwd"])
def test_a_searched_link_of_another_scheme_gets_the_model_s_page(named):
    from crawler.public import source_url

    assert source_url(f"linked-dataset:{named}", "hf:model:o/m", "abc") == "https://huggingface.co/o/m/tree/abc"
    assert source_url("linked-dataset:https://example.org/data", "hf:model:o/m", "abc") == "https://example.org/data"
