"""Fixtures: the bundled snapshot, a real `openness replica` process on loopback, and a CLI runner."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from crawler.corpus import Corpus

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "data" / "snapshot"
OPENNESS = [sys.executable, "-m", "crawler"]

# No test may reach the internet: a crawl that forgets its endpoint hits a closed loopback port (the discard port),
# never huggingface.co or api.github.com. Subprocesses inherit this.
os.environ["HF_ENDPOINT"] = "http://127.0.0.1:9"
os.environ["GITHUB_API_URL"] = "http://127.0.0.1:9"
os.environ.pop("HF_TOKEN", None)
os.environ.pop("GITHUB_TOKEN", None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def start_review_server(db: Path, *extra: str, env: dict | None = None) -> Iterator[str]:
    """`openness review` over `db`, started as users start it; yields the database's base URL."""
    port = free_port()
    proc = subprocess.Popen([*OPENNESS, "review", "--db", str(db), "--port", str(port), *extra], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "the review server exited"
            assert time.monotonic() < deadline, "the review server did not start"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/{db.stem}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def start_replica(corpus_dir: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([*OPENNESS, "replica", "--corpus", str(corpus_dir), *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    url = proc.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), f"replica did not print its URL: {url!r}"
    return proc, url


@pytest.fixture(scope="session")
def snapshot_corpus() -> Corpus:
    return Corpus(SNAPSHOT)


@pytest.fixture(scope="session")
def replica_url():
    """A replica over the bundled snapshot, started as users start it."""
    proc, url = start_replica(SNAPSHOT)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> Path:
    """The store `openness demo` leaves: every snapshot model and GitHub repo crawled through a replica, once."""
    db_path = tmp_path_factory.mktemp("demo") / "demo.db"
    result = run_openness("demo", "--db", str(db_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert str(db_path.resolve()) in result.stdout.replace("\n", "")
    return db_path


@pytest.fixture
def small_pages_replica():
    """A replica whose listings and trees page every 3 entries, to exercise pagination."""
    proc, url = start_replica(SNAPSHOT, "--page-size", "3")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def run_openness(*args: str, timeout: int = 300, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*OPENNESS, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT, **kwargs)


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture
def demo_copy(demo_db, tmp_path) -> Path:
    """A copy of the demo store that a test may change."""
    copy = tmp_path / "demo-copy.db"
    shutil.copy(demo_db, copy)
    return copy


@pytest.fixture
def corpus_copy(tmp_path) -> Path:
    """A writable copy of a few snapshot folders, for tests that plant bad input."""
    target = tmp_path / "corpus"
    for rel in ("huggingface/models/mistralai/Mistral-7B-v0.1", "huggingface/models/meta-llama/Meta-Llama-3-8B",
                "github/meta-llama/llama3"):
        shutil.copytree(SNAPSHOT / rel, target / rel)
    return target
