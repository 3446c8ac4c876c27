"""The main job end to end: `openness demo` over the bundled snapshot, through a real replica process."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time

from conftest import OPENNESS, ROOT, run_openness
from extractors import CRITERIA


def judged_models(db_path) -> dict[str, set[str]]:
    con = sqlite3.connect(db_path)
    judged = {}
    for repo_id, criterion in con.execute(
            "select s.repo_id, j.criterion from judgements j join subjects s on s.id = j.subject_id"):
        judged.setdefault(repo_id, set()).add(criterion)
    return judged


def judgements_without_artifact_evidence(db_path) -> list[tuple]:
    """Judgements none of whose evidence rows quote a stored artifact at the URL and revision it names."""
    con = sqlite3.connect(db_path)
    return con.execute("""
        select j.subject_id, j.criterion from judgements j
        where not exists (
            select 1 from evidence e join artifacts a on a.id = e.artifact_id
            where e.subject_id = j.subject_id and e.criterion = j.criterion
              and a.url = e.url and a.revision = e.revision and e.revision is not null)
    """).fetchall()


def duplicate_artifacts(db_path) -> int:
    con = sqlite3.connect(db_path)
    return con.execute("""select count(*) - count(distinct source || repo_type || repo_id || kind || coalesce(path, '')
                          || coalesce(revision, '') || content_sha256) from artifacts""").fetchone()[0]


def test_demo_judges_every_snapshot_model_with_evidence(demo_db, snapshot_corpus):
    db_path = demo_db
    judged = judged_models(db_path)
    expected = {repo.repo_id for repo in snapshot_corpus.models.values()}
    assert set(judged) == expected
    assert all(criteria == set(CRITERIA) for criteria in judged.values())
    assert judgements_without_artifact_evidence(db_path) == []
    con = sqlite3.connect(db_path)
    assert con.execute("select status from crawl_runs").fetchall() == [("completed",)]
    # What the corpus did not capture is a recorded failed fetch, and its judgement is unknown, not closed.
    uncaptured = [r.repo_id for r in snapshot_corpus.models.values() if r.capture["card"] == "none"]
    assert uncaptured
    for repo_id in uncaptured:
        level = con.execute("select level from judgements where subject_id = ? and criterion = 'modelcard'",
                            [f"hf:model:{repo_id}"]).fetchone()[0]
        assert level == "unknown"
        assert con.execute("select count(*) from errors where subject_id = ? and kind = 'card' and http_status = 501",
                           [f"hf:model:{repo_id}"]).fetchone()[0] == 1


def test_interrupted_demo_completes_when_run_again_without_duplicates(tmp_path, snapshot_corpus):
    db_path = tmp_path / "demo.db"
    proc = subprocess.Popen([*OPENNESS, "demo", "--db", str(db_path), "--replica-delay", "0.02"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if db_path.exists():
            try:
                stored = sqlite3.connect(db_path).execute("select count(*) from artifacts").fetchone()[0]
            except sqlite3.OperationalError:
                continue  # the schema is being created
            if stored >= 40:
                break
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C at a terminal does: the whole foreground group gets it
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-2000:]
    con = sqlite3.connect(db_path)
    assert con.execute("select status from crawl_runs").fetchall() == [("interrupted",)]
    assert len(judged_models(db_path)) < len(snapshot_corpus.models)

    result = run_openness("demo", "--db", str(db_path))
    assert result.returncode == 0, result.stderr[-2000:]
    assert [s for (s,) in con.execute("select status from crawl_runs order by id")] == ["interrupted", "completed"]
    assert len(judged_models(db_path)) == len(snapshot_corpus.models)
    assert duplicate_artifacts(db_path) == 0
    assert con.execute("select count(*) from artifacts").fetchone()[0] == \
        con.execute("select count(distinct id) from artifacts").fetchone()[0]


def test_demo_stores_the_whole_subject_graph_the_snapshot_holds(demo_db, snapshot_corpus):
    from crawler.replica.hub import derive_repo_json
    from spiders.huggingface import wanted_files

    con = sqlite3.connect(demo_db)
    subjects = {sid: status for sid, status in con.execute("select id, status from subjects")}
    stored = {(t, r, k, p) for t, r, k, p in con.execute("select repo_type, repo_id, kind, path from artifacts")}
    captures = [*snapshot_corpus.models.values(), *snapshot_corpus.datasets.values()]
    for capture in captures:
        sid = f"hf:{capture.repo_type}:{capture.repo_id}"
        assert sid in subjects, sid
        assert subjects[sid] == ("gated" if derive_repo_json(capture)["gated"] else "ok"), sid
        has = {(k, p) for t, r, k, p in stored if (t, r) == (capture.repo_type, capture.repo_id)}
        assert (("card", "README.md") in has) == (capture.capture["card"] != "none"), sid
        # A file list is stored as the tree, unless the repo JSON's siblings name every file (then no tree call).
        whole = capture.file_list is not None and capture.capture.get("files") != "third-party-mirror"
        assert any(k == "tree" for k, _ in has) == (capture.file_list is not None and not whole), sid
        if not subjects[sid] == "gated" and capture.file_list is not None:
            listed = [f.path for f in capture.file_list]
            for path in wanted_files(listed, None):
                assert (("file", path) in has) == (path in capture.captured_files), (sid, path)
    links = set(con.execute("select from_subject, to_subject from links"))
    for capture in captures:
        meta = capture.front_matter or {}  # None for a partial card (body only) or no card
        for key, kind in (("base_model", "model"), ("datasets", "dataset")):
            values = meta.get(key) or []
            for target in values if isinstance(values, list) else [values]:
                if isinstance(target, str) and target.count("/") == 1:
                    assert (f"hf:{capture.repo_type}:{capture.repo_id}", f"hf:{kind}:{target}") in links
                    assert f"hf:{kind}:{target}" in subjects  # crawled: found, or recorded missing
    missing = [sid for sid, status in subjects.items() if status == "missing" and sid.startswith("hf:")]
    assert all(sid.split(":", 2)[2].lower() not in snapshot_corpus.models for sid in missing)
