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
