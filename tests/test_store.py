"""The store: migrations, WAL and foreign keys, idempotent artifact writes, and its documentation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crawler.store import Store, migrations, open_db

SCHEMA_DOC = Path(__file__).resolve().parent.parent / "docs" / "schema.md"


def documented_columns() -> dict[str, set[str]]:
    tables, current = {}, None
    for line in SCHEMA_DOC.read_text(encoding="utf-8").splitlines():
        if heading := re.match(r"^## `(\w+)`", line):
            current = tables.setdefault(heading.group(1), set())
        elif current is not None and (row := re.match(r"^\| `(\w+)` \|", line)):
            current.add(row.group(1))
    return tables


def test_every_table_and_column_is_documented(db_path):
    db = open_db(db_path)
    documented = documented_columns()
    for table in db.table_names():
        if table.startswith("_sqlite"):
            continue
        assert table in documented, f"table {table} is not in docs/schema.md"
        missing = set(db[table].columns_dict) - documented[table]
        assert not missing, f"{table}: columns not in docs/schema.md: {sorted(missing)}"
    assert set(documented) <= set(db.table_names()), "docs/schema.md documents tables that do not exist"


def test_open_db_is_wal_with_normal_sync_foreign_keys_and_migrations_applied(db_path):
    db = open_db(db_path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL: no disk sync at every commit
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert not migrations.pending(db)
    open_db(db_path)  # opening again applies nothing twice


def save(store: Store, run_id: int, body: bytes, url: str = "http://a/x/resolve/abc/README.md"):
    return store.save_artifact(run_id, source="huggingface", repo_type="model", repo_id="x/y", kind="card", url=url,
                               revision="abc", http_status=200, etag='"e"', content_type="text/plain", body=body,
                               path="README.md")


def test_same_document_from_any_endpoint_is_stored_once(db_path):
    store = Store(open_db(db_path))
    run = store.start_run("openness crawl x/y", "http://a", "http://a", ["x/y"])
    first = save(store, run, b"card text")
    again = save(store, run, b"card text", url="http://b:1234/x/resolve/abc/README.md")
    changed = save(store, run, b"card text, edited")
    assert first == again != changed
    assert store.db["artifacts"].count == 2 and store.db["blobs"].count == 2
    assert store.db["artifacts"].get(first)["url"] == "http://b:1234/x/resolve/abc/README.md"


def test_a_document_read_again_from_another_url_of_its_endpoint_keeps_its_url_and_names_its_links(db_path):
    # A listing row read again from another page: the same document, cited by the URL it was first stored from;
    # the links found in it name it by the URL it was just read from.
    store = Store(open_db(db_path))
    run = store.start_run("openness crawl x/y", "http://a", "http://a", ["x/y"])
    first = save(store, run, b"row", url="http://a/api/models?cursor=3")
    again = save(store, run, b"row", url="http://a/api/models?cursor=1")
    assert first == again and store.db["artifacts"].get(first)["url"] == "http://a/api/models?cursor=3"
    assert store.artifact_at("http://a/api/models?cursor=1", "abc") == first
    assert Store(store.db).artifact_at("http://a/api/models?cursor=3", "abc") == first  # as stored, in a later run
    store.db["subjects"].insert_all([{"id": "hf:model:x/y"}, {"id": "hf:model:x/base"}], pk="id", alter=True)
    store.save_link("hf:model:x/y", "hf:model:x/base", "base_model", store.artifact_at("http://a/api/models?cursor=1",
                                                                                       "abc"))
    assert store.db["links"].get(("hf:model:x/y", "hf:model:x/base", "base_model"))["artifact_id"] == first


def test_foreign_keys_are_enforced(db_path):
    import sqlite3

    store = Store(open_db(db_path))
    with pytest.raises(sqlite3.IntegrityError):
        store.db["evidence"].insert({"subject_id": "hf:model:not/there", "criterion": "licenses", "snippet": "x"})


def test_a_model_is_found_by_its_id_in_any_case_and_never_as_the_github_repo_of_the_same_name(db_path):
    from crawler.report import NotCrawled, model_report

    store = Store(open_db(db_path))
    run_id = store.start_run("crawl", "http://hub", "http://gh", [])
    # The code repo is written first, so a lookup by name alone would find it.
    store.save_subject(run_id, "gh:THUDM/ChatGLM-6B", kind="code", source="github", repo_id="THUDM/ChatGLM-6B",
                       url="http://gh/repos/THUDM/ChatGLM-6B", revision="a" * 40, status="ok")
    store.save_subject(run_id, "hf:model:THUDM/chatglm-6b", kind="model", source="hf", repo_id="THUDM/chatglm-6b",
                       url="http://hub/api/models/THUDM/chatglm-6b", revision="b" * 40, status="ok")
    for asked in ("THUDM/chatglm-6b", "thudm/ChatGLM-6B"):
        assert model_report(store.db, asked)["subject_id"] == "hf:model:THUDM/chatglm-6b"
    with pytest.raises(NotCrawled):
        model_report(store.db, "THUDM/ChatGLM2-6B")


def test_a_store_written_with_an_endpoint_password_loses_it_at_the_next_open(db_path):
    """Endpoints with `user:password@` are refused now (crawler.endpoints); a store an older version wrote with one
    holds it in the run, its errors and every URL built on it: opening the store drops it, and only it."""
    db = open_db(db_path)
    store = Store(db)
    run_id = store.start_run("openness crawl --hf-endpoint https://bob:s3cret@hub.example x/y",
                             "https://bob:s3cret@hub.example", "https://api.github.com", ["x/y"])
    db["errors"].insert({"run_id": run_id, "url": "https://bob:s3cret@hub.example/api/models/x/y",
                         "kind": "model_json", "reason": "HTTP 500 from https://bob:s3cret@hub.example/api/models/x/y"})
    db["subjects"].insert({"id": "hf:model:x/y", "kind": "model", "repo_id": "x/y",
                           "url": "https://bob:s3cret@hub.example/x/y"}, alter=False)
    db["subjects"].insert({"id": "hf:model:a/b", "kind": "model", "repo_id": "a/b",
                           "url": "https://hub.example/a/b#mail@example.org"}, alter=False)
    db.execute("delete from _sqlite_migrations where name = 'm013_no_endpoint_passwords'")
    db.conn.commit()
    db.close()
    db = open_db(db_path)
    dump = "\n".join(db.conn.iterdump())
    assert "s3cret" not in dump and "bob" not in dump
    assert db["crawl_runs"].get(run_id)["hf_endpoint"] == "https://hub.example"
    assert db["errors"].rows.__next__()["reason"] == "HTTP 500 from https://hub.example/api/models/x/y"
    assert db["subjects"].get("hf:model:a/b")["url"] == "https://hub.example/a/b#mail@example.org"


@pytest.mark.parametrize("judged, searched, status, capture", [
    (["open", "unknown"], "[]", "ok", "judged"),
    (["unknown", "unknown"], '[{"source": "card", "status": "not captured", "url": "u"}]', "ok", "not captured"),
    (["unknown"], '[{"source": "card", "status": "failed", "url": "u"}]', "not captured", "not captured"),
    (["unknown", "unknown"], '[{"source": "card", "status": "gated", "url": "u"}]', "ok", "undecided"),
    ([], "[]", "ok", "not judged"),
], ids=["one-decided", "card-not-captured", "subject-not-captured", "gated-undecided", "never-judged"])
def test_model_capture_says_whether_a_model_s_judgements_decide_anything(db_path, judged, searched, status, capture):
    db = open_db(db_path)
    db["subjects"].insert({"id": "hf:model:o/m", "kind": "model", "source": "huggingface", "repo_id": "o/m",
                           "status": status})
    for number, level in enumerate(judged):
        db["judgements"].insert({"subject_id": "hf:model:o/m", "criterion": f"c{number}", "level": level,
                                 "searched": searched})
    assert db.execute("select capture from model_capture where subject_id = 'hf:model:o/m'").fetchone()[0] == capture
