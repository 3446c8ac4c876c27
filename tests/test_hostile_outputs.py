"""Every file the tool writes, and the store, against hostile or broken targets: a symbolic link, a folder or a device
where a file is expected, a file where a folder is, a full disk, a read-only file or folder, odd model ids already
in a store. Each ends in one line naming the path and exit 2, nothing half-written, no temporary file left, no run
left `running`, nothing created beside a device.

Full and read-only disks are small tmpfs mounts (the tests run as root, as `make test` and CI do)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import run_openness

ODD_IDS = {"long-311": "o" * 150 + "/" + "m" * 160, "plus": "org/a+b", "underscore": "org/a_b",
           "dunder-owner": "a__b/c", "dunder-name": "a/b__c", "dotdot": "../..", "escape-codes": "org/ctrl\x07\x1b[31m",
           "no-slash": "noslash", "non-ascii": "org/ünïcode-名前", "long-non-ascii": "org/" + "é" * 120}
FOLDER_FORMATS = ("index-yaml", "cyclonedx", "spdx3", "badges")
SUFFIXES = {"index-yaml": [".yaml"], "cyclonedx": [".cdx.json"], "spdx3": [".spdx3.json"],
            "badges": [".openness.json", ".availability.json", ".documentation.json", ".access.json"]}


@contextmanager
def tiny_disk(folder: Path, size: str = "64k"):
    """A tmpfs of `size` mounted at `folder` for the block."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def read_only(path: Path) -> None:
    """Make a mounted tmpfs, or one file bind-mounted on itself, read-only."""
    subprocess.run(["mount", "-o", "remount,ro" if path.is_dir() else "remount,bind,ro", str(path)], check=True)


@contextmanager
def read_only_file(path: Path):
    subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
    try:
        read_only(path)
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


def refused(result, path, *words: str) -> None:
    """Exit 2, no traceback, and one line (the last) naming the path and saying why."""
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert str(path) in last and all(w in last for w in words), result.stderr[-1000:]


def snapshot(folder: Path) -> dict:
    """Every file under a folder (hidden ones too) with its bytes."""
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# -- file outputs ----------------------------------------------------------------------------------------------------

FILE_WRITERS = {
    "table-json": ["table", "--format", "json", "--out"],
    "table-html": ["table", "--format", "html", "--out"],
    "table-markdown": ["table", "--format", "markdown", "--out"],
    "export-jsonl": ["export", "--format", "jsonl", "--out"],
    "export-csv": ["export", "--format", "csv", "--out"],
    "evaluate-report": ["evaluate", "--labels", "data/labels", "--report"],
}


@pytest.mark.parametrize("command", FILE_WRITERS.values(), ids=FILE_WRITERS.keys())
def test_a_symbolic_link_as_target_is_refused_and_its_target_kept(command, demo_db, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    link = tmp_path / "out.txt"
    link.symlink_to(victim)
    result = run_openness(*command, str(link), "--db", str(demo_db))
    refused(result, link, "symbolic link")
    assert victim.read_text() == "precious\n" and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt", "victim.txt"]


def test_a_symbolic_link_as_the_csv_sidecar_is_refused_before_the_csv_is_written(demo_db, tmp_path):
    victim = tmp_path / "victim.json"
    victim.write_text("{}")
    (tmp_path / "out.csv.meta.json").symlink_to(victim)
    result = run_openness("export", "--format", "csv", "--out", str(tmp_path / "out.csv"), "--db", str(demo_db))
    refused(result, tmp_path / "out.csv.meta.json", "symbolic link")
    assert victim.read_text() == "{}" and not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("command", [FILE_WRITERS["export-jsonl"], FILE_WRITERS["export-csv"]],
                         ids=["export-jsonl", "export-csv"])
def test_a_folder_where_a_file_is_expected_is_refused(command, demo_db, tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "kept.txt").write_text("kept")
    refused(run_openness(*command, str(folder), "--db", str(demo_db)), folder, "is a folder")
    assert snapshot(folder) == {Path("kept.txt"): b"kept"}


@pytest.mark.parametrize("command", [FILE_WRITERS["export-jsonl"], FILE_WRITERS["table-json"]],
                         ids=["export-jsonl", "table-json"])
def test_a_device_as_target_is_refused_and_left_a_device(command, demo_db):
    result = run_openness(*command, "/dev/null", "--db", str(demo_db))
    refused(result, "/dev/null", "not a regular file")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@pytest.mark.parametrize("export_format", FOLDER_FORMATS)
def test_a_file_where_an_export_folder_is_expected_is_refused(export_format, demo_db, tmp_path):
    target = tmp_path / "index"
    target.write_text("not a folder")
    refused(run_openness("export", "--format", export_format, "--out", str(target), "--db", str(demo_db)), target,
            "is not a folder")
    assert target.read_text() == "not a folder"


def test_an_existing_index_folder_is_updated_in_place_and_strangers_kept(demo_db, tmp_path):
    folder = tmp_path / "index"
    first = run_openness("export", "--format", "index-yaml", "--out", str(folder), "--db", str(demo_db))
    assert first.returncode == 0, first.stderr
    (folder / "README.md").write_text("my notes")
    (folder / "Qwen__Qwen2.5-32B.yaml").write_text("stale")
    again = run_openness("export", "--format", "index-yaml", "--out", str(folder), "--db", str(demo_db))
    assert again.returncode == 0, again.stderr
    assert (folder / "README.md").read_text() == "my notes"
    assert (folder / "Qwen__Qwen2.5-32B.yaml").read_text().startswith("---\n")
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no staging left


@pytest.mark.parametrize("obstacle", ["folder", "symlink"])
def test_a_model_file_taken_by_a_folder_or_a_link_fails_the_export_and_changes_nothing(obstacle, demo_db, tmp_path):
    folder = tmp_path / "index"
    assert run_openness("export", "--format", "index-yaml", "--out", str(folder), "--db", str(demo_db)).returncode == 0
    blocked = folder / "Qwen__Qwen2.5-32B.yaml"
    blocked.unlink()
    victim = tmp_path / "victim"
    victim.write_text("precious")
    if obstacle == "folder":
        blocked.mkdir()
    else:
        blocked.symlink_to(victim)
    before = snapshot(folder)
    result = run_openness("export", "--format", "index-yaml", "--out", str(folder), "--db", str(demo_db))
    refused(result, blocked, "is a folder" if obstacle == "folder" else "symbolic link")
    assert snapshot(folder) == before and victim.read_text() == "precious"
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []


FULL_DISK = {**{f"export-{f}": ["export", "--format", f, "--out"] for f in ("jsonl", "csv", *FOLDER_FORMATS)},
             "table-html": ["table", "--format", "html", "--out"]}


@pytest.mark.parametrize("command", FULL_DISK.values(), ids=FULL_DISK.keys())
def test_a_full_disk_leaves_the_old_output_and_no_temporary_file(command, demo_db, tmp_path):
    with tiny_disk(tmp_path / "disk") as disk:
        target = disk / "out"
        if command[2] in FOLDER_FORMATS:
            target.mkdir()
            (target / "Qwen__Qwen2.5-32B.yaml").write_text("old")
        else:
            target.write_text("old")
        before = snapshot(disk)
        result = run_openness(*command, str(target), "--db", str(demo_db))
        refused(result, target, "No space left on device")
        assert snapshot(disk) == before


@pytest.mark.parametrize("export_format", ["jsonl", "index-yaml"])
def test_a_read_only_folder_is_refused_for_an_export(export_format, demo_db, tmp_path):
    with tiny_disk(tmp_path / "disk") as disk:
        read_only(disk)
        target = disk / "out"
        result = run_openness("export", "--format", export_format, "--out", str(target), "--db", str(demo_db))
        refused(result, target, "Read-only file system")
        assert list(disk.iterdir()) == []


@pytest.fixture(scope="module")
def odd_store(demo_db, tmp_path_factory) -> Path:
    """The demo store with models of odd ids, as a store written before ids were checked may hold: each a copy of
    one real model's judgements."""
    db = tmp_path_factory.mktemp("odd") / "odd.db"
    shutil.copy(demo_db, db)
    con = sqlite3.connect(db)
    source = "hf:model:Qwen/Qwen2.5-32B"
    with con:
        for odd in ODD_IDS.values():
            con.execute("insert into subjects (id, kind, source, repo_id, url, revision, status) select ?, kind, "
                        "source, ?, url, revision, status from subjects where id = ?", [f"hf:model:{odd}", odd, source])
            con.execute("insert into judgements (subject_id, criterion, level, confidence, rule_ids, summary, "
                        "extractor_version, assessed_at, basis, searched, tier) select ?, criterion, level, "
                        "confidence, rule_ids, summary, extractor_version, assessed_at, basis, searched, tier from "
                        "judgements where subject_id = ?",
                        [f"hf:model:{odd}", source])
    con.close()
    return db


@pytest.mark.parametrize("export_format", FOLDER_FORMATS)
def test_odd_ids_in_a_store_get_short_distinct_file_names(export_format, odd_store, tmp_path):
    """A 311-character id (and `..`, escape codes, ids that differ only where a file name cannot) exports: every
    name fits the filesystem, none is hidden, every model has its own files."""
    folder = tmp_path / export_format
    result = run_openness("export", "--format", export_format, "--out", str(folder), "--db", str(odd_store))
    assert result.returncode == 0, result.stderr[-2000:]
    models = sqlite3.connect(odd_store).execute("select count(*) from subjects where kind = 'model' and revision "
                                                "is not null").fetchone()[0]
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == models * len(SUFFIXES[export_format]) + 1  # and _export.json
    assert max(len(n.encode()) for n in names) <= 255
    assert not [n for n in names if n.startswith(".") or not n.isascii() or not n.isprintable()]


def test_the_file_name_of_a_model_is_bounded_and_distinct():
    from crawler.export.formats import FILE_STEM_MAX, file_name

    stems = {key: file_name(odd) for key, odd in ODD_IDS.items()}
    assert len(set(stems.values())) == len(stems)
    assert all(len(stem) <= FILE_STEM_MAX for stem in stems.values())
    assert stems["underscore"] == "org__a_b" and stems["plus"].startswith("org__a_b-")
    assert file_name("Qwen/Qwen2.5-32B") == "Qwen__Qwen2.5-32B"  # plain ids keep the names people look for


# -- stores ----------------------------------------------------------------------------------------------------------

STORE_COMMANDS = {
    "crawl": ["crawl", "Qwen/Qwen2.5-32B", "--hf-endpoint", "http://127.0.0.1:9"],
    "assess": ["assess"], "table": ["table"], "show": ["show", "Qwen/Qwen2.5-32B"], "flags": ["flags"],
    "errors": ["errors"], "export": ["export", "--format", "jsonl"], "review": ["review", "--port", "0"],
    "demo": ["demo", "--corpus", "data/snapshot"],
}


@pytest.mark.parametrize("command", STORE_COMMANDS.values(), ids=STORE_COMMANDS.keys())
def test_dev_null_as_the_store_is_refused_and_nothing_is_created_beside_it(command):
    beside = set(Path("/dev").glob("null*"))
    try:
        result = run_openness(*command, "--db", "/dev/null", timeout=120)
        refused(result, "/dev/null", "not a regular file")
    finally:
        created = set(Path("/dev").glob("null*")) - beside
        for path in created:
            path.unlink()
    assert created == set()


@pytest.mark.parametrize("command", [STORE_COMMANDS["crawl"], STORE_COMMANDS["table"]], ids=["crawl", "table"])
def test_a_pipe_as_the_store_is_refused_without_waiting_on_it(command, tmp_path):
    fifo = tmp_path / "store.db"
    os.mkfifo(fifo)
    refused(run_openness(*command, "--db", str(fifo), timeout=60), fifo, "not a regular file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store.db"]


def test_a_text_file_as_the_store_is_refused_unchanged(tmp_path):
    text = tmp_path / "notes.db"
    text.write_text("my notes\n")
    refused(run_openness(*STORE_COMMANDS["crawl"], "--db", str(text)), text, "not a SQLite database")
    assert text.read_text() == "my notes\n" and sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


def runs(db: Path, wal: bool = False) -> list[tuple]:
    """The runs of a store, read without writing a byte: `immutable` for a store on a read-only disk (no -shm can be
    made), which reads the main file alone; `wal` to read what its write-ahead log holds too (the last run's record
    may be there, not yet checkpointed)."""
    con = sqlite3.connect(f"file:{db}?mode=ro" + ("" if wal else "&immutable=1"), uri=True)
    try:
        return con.execute("select id, status from crawl_runs order by id").fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("command", ["crawl", "assess", "table", "show"])
def test_a_store_in_a_read_only_folder_is_refused_and_unchanged(command, demo_db, tmp_path):
    with tiny_disk(tmp_path / "disk", "64m") as disk:
        store = disk / "store.db"
        shutil.copy(demo_db, store)
        before = runs(store)
        read_only(disk)
        refused(run_openness(*STORE_COMMANDS[command], "--db", str(store)), store, "read-only")
        assert runs(store) == before and sorted(p.name for p in disk.iterdir()) == ["store.db"]


@pytest.mark.parametrize("command", ["crawl", "assess"])
def test_a_read_only_store_file_is_refused_and_unchanged(command, demo_copy):
    before = runs(demo_copy)
    with read_only_file(demo_copy):
        refused(run_openness(*STORE_COMMANDS[command], "--db", str(demo_copy)), demo_copy, "readonly database")
        assert runs(demo_copy) == before


def test_a_store_whose_disk_fills_up_fails_the_crawl_in_one_line_and_no_run_is_left_running(replica_url, tmp_path):
    """A crawl into a store on a disk with room for its first model only: the crawl stops at the first write that
    fails, says so in one line naming the store, exits 2, and its run is marked failed; with room again, the same
    crawl completes on the same store."""
    crawl = ["crawl", "--hf-endpoint", replica_url, "--github-endpoint", replica_url, "--no-github"]
    with tiny_disk(tmp_path / "disk", "64m") as disk:
        store = disk / "store.db"
        first = run_openness(*crawl, "mistralai/Mistral-7B-v0.1", "--db", str(store))
        assert first.returncode == 0, first.stderr[-2000:]
        used = sum(p.stat().st_size for p in disk.iterdir())
        # Room for the run's record and the WAL index (32 KiB), not for the documents of the models that follow.
        subprocess.run(["mount", "-o", f"remount,size={used + 128 * 1024}", str(disk)], check=True)
        models = ["01-ai/Yi-34B", "01-ai/Yi-9B", "bigscience/bloom", "microsoft/Phi-3-mini-128k-instruct",
                  "meta-llama/Meta-Llama-3-8B", "Qwen/Qwen2.5-32B"]
        full = run_openness(*crawl, *models, "--db", str(store))
        refused(full, store, "the store cannot be written", "database or disk is full", "run 2 marked failed")
        assert full.stderr.count("\n") <= 3, full.stderr  # no traceback per item
        assert runs(store, wal=True) == [(1, "completed"), (2, "failed")]
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        again = run_openness(*crawl, *models, "--db", str(store))
        assert again.returncode in (0, 1), again.stderr[-2000:]
        assert runs(store, wal=True)[-1] == (3, "completed")
        assert sqlite3.connect(store).execute("pragma integrity_check").fetchone() == ("ok",)
