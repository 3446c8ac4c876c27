"""The demo's machinery outside the CLI: the replica as a child process that dies with its parent, and what the demo
prints once its crawl is stored (what the snapshot lacks, the league table page, the commands to run next)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path


class ReplicaDidNotStart(RuntimeError):
    """The replica printed no URL; the message names the corpus."""


def _die_with_parent() -> None:
    """In the replica's process, before it starts: ask Linux to send it SIGTERM when its parent dies, so a demo
    killed with -9 leaves no replica behind (prctl PR_SET_PDEATHSIG; elsewhere the demo stops it on exit)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except OSError:
        pass


def start_replica(corpus_dir: Path, delay: float) -> tuple[subprocess.Popen, str]:
    """Start `openness replica` as its own process, the way a user would, and read the URL it prints. The
    replica dies with this process, however it ends."""
    proc = subprocess.Popen([sys.executable, "-m", "crawler", "replica", "--corpus", str(corpus_dir),
                             "--delay", str(delay)], stdout=subprocess.PIPE, text=True, preexec_fn=_die_with_parent)
    url = proc.stdout.readline().strip()
    if not url.startswith("http://"):
        proc.kill()
        raise ReplicaDidNotStart(f"the replica did not start over {corpus_dir}")
    return proc, url


def closing_lines(db_path: Path, snapshot: str) -> list[str]:
    """After the crawl: how many models `snapshot` lacks, the league table page (written beside the store), and
    the commands to run next, each as a new shell in this folder runs it."""
    from crawler import table
    from crawler.files import write_text
    from crawler.report import flag_rows
    from crawler.store import open_db
    from crawler.terminal import next_commands

    page = db_path.with_name(f"{db_path.stem}-table.html")
    db = open_db(db_path)
    try:
        lacking = table.capture_lacking(db, snapshot)
        write_text(page, table.html_page(table.rows(db)))
        flagged = flag_rows(db)
    finally:
        db.close()
    return [lacking, f"league table page: {page.resolve()}",
            *next_commands(db_path, flagged[0]["model"] if flagged else None)]
