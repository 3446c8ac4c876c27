"""Terminal output that reads at 80 columns (issue 31, deliverable 3): `show`, `flags`, `evaluate`, `errors` and
`changes` as the CLI prints them in a subprocess with COLUMNS=80; `--db` from OPENNESS_DB; and every command the demo
prints runs as printed in a new shell."""

from __future__ import annotations

import json
import os
import re
import shlex
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import OPENNESS, ROOT, free_port, run_openness
from crawler.table import COLUMNS

URL = re.compile(r"https?://[^\s“”\"'<>]+")
TITLE = re.compile(r"^([A-Z]{2})  .+ \((\w+)\)$")  # a criterion block's first line: `LI  Licenses (licenses)`
NARROW = {**os.environ, "COLUMNS": "80"}
LONG_QUOTES = "meta-llama/Meta-Llama-3-8B"  # long blob URLs with line anchors, licence clauses quoted at length


def cli(*args: str, env: dict | None = None) -> str:
    result = run_openness(*args, env=env or NARROW)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def urls_of(data) -> set[str]:
    return {url for text in strings(data) for url in URL.findall(text)}


def assert_reads_at_80(text: str, data) -> None:
    """No line over 80 characters but a URL standing alone; no URL cut: each printed one is whole in the JSON."""
    lines = text.splitlines()
    long = [line for line in lines if len(line) > 80 and not URL.fullmatch(line)]
    assert not long, long[:5]
    public = urls_of(data)
    printed = URL.findall(text)
    assert printed, "no URL printed"
    cut = [url for url in printed if url not in public]
    assert not cut, cut[:5]


@pytest.fixture(scope="module")
def models(demo_db) -> dict[str, str]:
    """Examples from the demo store: a flagged model and one whose sources were not captured."""
    db = sqlite3.connect(demo_db)
    flagged = db.execute("select s.repo_id from flags f join subjects s on s.id = f.subject_id "
                         "where s.repo_id != ? order by f.id limit 1", [LONG_QUOTES]).fetchone()[0]
    missing = db.execute("select s.repo_id from model_capture m join subjects s on s.id = m.subject_id "
                         "where m.capture = 'not captured' and exists (select 1 from judgements j "
                         "where j.subject_id = s.id) order by s.repo_id limit 1").fetchone()[0]
    return {"long": LONG_QUOTES, "flagged": flagged, "not captured": missing}


@pytest.mark.parametrize("example", ["long", "flagged", "not captured"])
def test_show_is_a_block_per_criterion_in_the_index_order_within_80_columns(demo_db, models, example):
    model = models[example]
    text = cli("show", model, "--db", str(demo_db))
    report = json.loads(cli("show", model, "--db", str(demo_db), "--json"))
    assert_reads_at_80(text, report)
    lines = text.splitlines()
    titles = [TITLE.match(line).groups() for line in lines if TITLE.match(line)]
    assert titles == [(code, key) for key, code, _ in COLUMNS]
    assert report["public_url"] in lines[1] and "http://127.0.0.1" not in lines[1]
    assert f"revision {report['revision']}" in text
    assert report["gating"] in text and report["gating"] != "gating unknown"
    capture = [line for line in lines if line.startswith("  capture: ")]
    if report["capture"] == "judged":
        assert not capture
    else:
        assert capture and capture[0].startswith(f"  capture: {report['capture']} (")
    for judgement in report["judgements"]:
        block = lines[lines.index(next(line for line in lines if TITLE.match(line) and
                                        TITLE.match(line).group(2) == judgement["criterion"])):]
        sure = "confident" if judgement["confident"] else "not confident"
        assert block[1] == f"    {judgement['level']} · confidence {judgement['confidence']:.2f} ({sure})"
        more = len(judgement["evidence"]) - 1
        if more > 0:
            assert f"    + {more} more evidence item{'s' * (more != 1)} (--evidence all)" in block


def test_show_deciding_evidence_its_quote_whole_words_its_public_url_alone(demo_db):
    text = cli("show", LONG_QUOTES, "--db", str(demo_db))
    report = json.loads(cli("show", LONG_QUOTES, "--db", str(demo_db), "--json"))
    lines = text.splitlines()
    licence = next(j for j in report["judgements"] if j["criterion"] == "licenses")
    deciding = licence["evidence"][0]
    assert (f"    README.md, line {deciding['line_start']}, rule {deciding['rule_id']}") in lines
    url_lines = [line.strip() for line in lines if URL.search(line) and line.strip().startswith("http")]
    assert deciding["public_url"] in url_lines  # the whole URL, a line of its own
    # A quote wrapped at word boundaries: joined again, its words are the snippet's words.
    quotes, inside = [], None
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("“"):
            inside = []
        if inside is not None:
            inside.append(stripped)
            if stripped.endswith("”"):
                quotes.append(" ".join(inside)[1:-1])
                inside = None
    snippets = {" ".join(e["snippet"].split()) for j in report["judgements"] for e in j["evidence"][:1]}
    assert quotes and set(quotes) <= snippets


def test_show_evidence_all_prints_every_item(demo_db):
    text = cli("show", LONG_QUOTES, "--db", str(demo_db), "--evidence", "all")
    report = json.loads(cli("show", LONG_QUOTES, "--db", str(demo_db), "--json"))
    assert_reads_at_80(text, report)
    licence = next(j for j in report["judgements"] if j["criterion"] == "licenses")
    total = len(licence["evidence"])
    assert total > 5
    for number in range(1, total + 1):
        assert f"    evidence {number} of {total}:" in text
    assert "more evidence item" not in text
    clause = next(e for e in licence["evidence"] if e["rule_id"] == "licence.text.user-cap")
    assert clause["public_url"] in text.splitlines() or f"    {clause['public_url']}" in text.splitlines()


def test_flags_a_block_per_flag_with_its_review_status_named(demo_db):
    text = cli("flags", "--db", str(demo_db))
    rows = json.loads(cli("flags", "--db", str(demo_db), "--json"))
    assert_reads_at_80(text, rows)
    lines = text.splitlines()
    assert lines[0] == f"Openwashing flags ({len(rows)})"
    heads = [number for number, line in enumerate(lines) if line.startswith("  review: ")]
    assert len(heads) == len(rows)
    for row, number in zip(rows, heads):
        status = "not reviewed" if row["status"] == "open" else row["status"]
        assert lines[number] == f"  review: {status} · flag {row['id']}"
        assert lines[number - 1] == f"{row['severity']} · {row['model']}"
    assert all(lines[n].startswith("  review: not reviewed · ") for n in heads)  # nobody reviewed the demo's flags
    assert len(lines) < 10 * len(rows)  # compact: 816 lines for 41 flags before
    # Each promise with its level, under its two-letter code and display name.
    codes = {key: (code, name) for key, code, name in COLUMNS}
    for row in rows:
        for promise in row["promised"]:
            code, name = codes[promise["criterion"]]
            assert any(line.startswith(f"    {code} {name}: {promise['level']}") for line in lines)


def test_evaluate_fits_80_columns_with_criterion_codes(demo_db):
    text = cli("evaluate", "--labels", "data/labels", "--db", str(demo_db))
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    rows = {line.split()[0] for line in lines if line[:2].isupper() and len(line.split()) == 9}
    result = json.loads(cli("evaluate", "--labels", "data/labels", "--db", str(demo_db), "--json"))
    codes = {key: code for key, code, _ in COLUMNS}
    assert rows == {codes[key] for key in result["per_criterion"]}
    legend = " ".join(text.split())
    for key, code, name in COLUMNS:
        if key in result["per_criterion"]:
            assert f"{code} {name}" in legend
    assert "…" not in text  # no name cut short


def test_errors_counts_by_cause_and_model_first_every_row_with_all(demo_db):
    rows = json.loads(cli("errors", "--db", str(demo_db), "--json"))
    assert len(rows) > 100 and all("model" in row for row in rows)
    text = cli("errors", "--db", str(demo_db))
    lines = text.splitlines()
    assert len(lines) < 40  # not a block per row (4,118 lines before)
    assert lines[0] == f"Errors of run {rows[0]['run_id']}: {len(rows)}"
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["cause"]] = counts.get(row["cause"], 0) + 1
    for cause, n in counts.items():
        assert any(re.fullmatch(rf" *{n}  {re.escape(cause)}: .*", line) for line in lines), cause
    expected = sum(row["expected"] for row in rows)
    assert f"expected in a working crawl: {expected}" in lines
    assert f"failures: {len(rows) - expected or 'none'}" in lines
    assert any(line.startswith("models and repos with most errors") for line in lines)
    every = cli("errors", "--db", str(demo_db), "--all")
    assert_reads_at_80(every, rows)
    printed = set(URL.findall(every))
    assert {row["fetched_url"] for row in rows} <= printed
    of = [line for line in every.splitlines() if line.startswith("  of: ")]
    assert of == [f"  of: {row['model'] or '(no model or repo)'}" for row in rows]


def test_empty_changes_say_why(demo_db):
    assert json.loads(cli("changes", "--db", str(demo_db), "--json")) == []
    first = len(json.loads(cli("changes", "--db", str(demo_db), "--json", "--include-first")))
    text = " ".join(cli("changes", "--db", str(demo_db)).split())
    assert text == (f"no changes: only one run so far, so every value is a first value: {first} first values are "
                    f"hidden; --include-first lists them")
    later = " ".join(cli("changes", "--db", str(demo_db), "--since", "2").split())
    assert later.startswith("no changes: no run after --since 2 (the latest is run 1, started ")


def test_db_defaults_from_openness_db(demo_db, tmp_path):
    elsewhere = {**NARROW, "PYTHONPATH": str(ROOT)}  # run from another folder: this checkout's package
    env = {**elsewhere, "OPENNESS_DB": str(demo_db)}
    result = subprocess.run([*OPENNESS, "flags", "--json"], capture_output=True, text=True, cwd=tmp_path, env=env,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == cli("flags", "--json", "--db", str(demo_db))
    assert "env var: OPENNESS_DB" in " ".join(cli("show", "--help").split())
    unset = subprocess.run([*OPENNESS, "flags"], capture_output=True, text=True, cwd=tmp_path, env=elsewhere,
                           timeout=120)
    assert unset.returncode == 2 and "openness.db: no such store" in unset.stderr
    # every command but the demo, which never crawls its replica into the store a shell points the others at
    demo_help = " ".join(cli("demo", "--help", env=env).split())
    assert "OPENNESS_DB" not in demo_help and "default: demo.db" in demo_help


def test_runnable_names_the_cli_a_new_shell_finds(monkeypatch, tmp_path):
    from crawler.terminal import runnable

    monkeypatch.chdir(tmp_path)
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    monkeypatch.setattr(sys, "argv", [str(tmp_path / ".venv" / "bin" / "openness"), "demo"])
    assert runnable("review", "--db", "demo.db") == ".venv/bin/openness review --db demo.db"
    monkeypatch.setattr(sys, "argv", [".venv/bin/openness", "demo"])  # as `make demo` starts it
    assert runnable("flags", "--db", "my store.db") == ".venv/bin/openness flags --db 'my store.db'"
    monkeypatch.setattr(sys, "argv", ["/opt/tools/bin/openness", "demo"])  # outside the folder: absolute
    assert runnable("table") == "/opt/tools/bin/openness table"
    monkeypatch.setattr(sys, "argv", [str(ROOT / "crawler" / "__main__.py"), "demo"])  # python -m crawler
    monkeypatch.setattr(sys, "executable", str(tmp_path / ".venv" / "bin" / "python"))
    assert runnable("flags") == ".venv/bin/python -m crawler flags"


def test_every_command_the_demo_prints_runs_as_printed_in_a_new_shell(corpus_copy, tmp_path):
    db = tmp_path / "demo.db"
    result = run_openness("demo", "--corpus", str(corpus_copy), "--db", str(db), env=NARROW)
    assert result.returncode == 0, result.stderr[-2000:]
    # How this test started it (`python -m crawler`), as a shell in the repo (the cwd of run_openness) names it
    interpreter = Path(os.path.abspath(sys.executable))
    program = shlex.join([str(interpreter.relative_to(ROOT)) if interpreter.is_relative_to(ROOT) else str(interpreter),
                          "-m", "crawler"])
    commands = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith(program + " ")]
    verbs = [shlex.split(c)[3] for c in commands]
    assert {"show", "flags", "table", "review"} <= set(verbs), result.stdout
    assert not re.search(r"(?<![/\w])openness (show|flags|table|review|errors|assess|crawl|changes)\b",
                         result.stdout), "a command a new shell cannot run"
    shell = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path), "COLUMNS": "80"}  # no .venv/bin
    for command in commands:
        if shlex.split(command)[3] == "review":  # a server: it must serve, then is stopped
            port = free_port()
            proc = subprocess.Popen(["bash", "-c", f"exec {command} --port {port}"], cwd=ROOT, env=shell,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                assert serves(f"http://127.0.0.1:{port}/", proc), proc.stderr.read().decode()[-2000:]
            finally:
                proc.terminate()
                proc.wait(timeout=10)
            continue
        ran = subprocess.run(["bash", "-c", command], cwd=ROOT, env=shell, capture_output=True, text=True,
                             timeout=120)
        assert ran.returncode == 0, (command, ran.stderr[-2000:])
        assert ran.stdout.strip(), command


def serves(url: str, proc: subprocess.Popen, wait: float = 60) -> bool:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=5) as answer:
                return answer.status == 200
        except OSError:
            time.sleep(0.2)
    return False


def test_a_reviewed_flag_says_its_verdict_as_its_review_status(demo_copy):
    con = sqlite3.connect(demo_copy)
    flagged = con.execute("select id, subject_id from flags where status = 'open' order by id limit 2").fetchall()
    for (flag_id, subject), verdict in zip(flagged, ("confirmed", "dismissed")):
        con.execute("insert into reviews (subject_id, flag_id, verdict, note, reviewer, created_at) values "
                    "(?, ?, ?, 'read the card', 'analyst', '2026-12-01T00:00:00+00:00')", [subject, flag_id, verdict])
    con.commit()
    lines = cli("flags", "--db", str(demo_copy)).splitlines()
    assert f"  review: confirmed · flag {flagged[0][0]}" in lines
    assert f"  review: dismissed · flag {flagged[1][0]}" in lines


def test_changes_name_a_gate_as_the_hub_approves_it(demo_copy):
    con = sqlite3.connect(demo_copy)
    with con:
        subject, model = con.execute("select id, repo_id from subjects where kind = 'model' and gated = 'False' "
                                     "order by id limit 1").fetchone()
        run = con.execute("select max(run_id) from history").fetchone()[0]
        con.execute("insert into history (run_id, subject_id, aspect, value, summary, recorded_at) "
                    "values (?, ?, 'gated', 'auto', 'gate changed', '2026-12-07T00:00:00')", [run, subject])
    con.close()
    text = cli("changes", "--model", model, "--db", str(demo_copy))
    assert "new: gated, approved automatically" in text and "old: not gated" in text, text
