"""One writer per store: a lock file beside the DB, held by a live process, free again the moment it dies."""

from __future__ import annotations

import fcntl
import json
import os
import socket
from pathlib import Path

from crawler.store import StoreError, utcnow


class LockHeld(RuntimeError):
    """Another live process holds the store's lock; the message names it."""


class StoreLock:
    """An advisory `flock` on `<db>.lock`, with the holder's pid, host, start time and command written inside.

    The kernel drops a `flock` when its process dies (kill -9, power loss), so a dead holder's lock is simply taken
    over; a live holder's is refused with its identity. Why not a row in the DB: a row outlives a killed process and
    needs pid-liveness guesses across hosts; the kernel already knows who is alive."""

    def __init__(self, db_path: Path, purpose: str):
        self.path = Path(f"{db_path}.lock")
        self.purpose = purpose
        self.handle = None
        self.previous: dict | None = None  # what a dead holder left in the file, when we took its lock over

    def acquire(self) -> "StoreLock":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(self.path, "a+", encoding="utf-8")
        except OSError as exc:  # a read-only or full folder: the store cannot be written there either
            raise StoreError(f"{self.path.with_suffix('')}: cannot make its lock file {self.path}: "
                             f"{exc.strerror or exc}") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = _holder(handle.read())
            handle.close()
            raise LockHeld(f"{self.path.with_suffix('')} is locked by {_describe(holder)}; wait for it to finish "
                           f"(or stop it) and run again") from None
        handle.seek(0)
        self.previous = _holder(handle.read()) or None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started_at": utcnow(),
                                 "purpose": self.purpose}))
        handle.flush()
        self.handle = handle
        return self

    def release(self) -> None:
        if self.handle is not None:
            self.handle.seek(0)
            self.handle.truncate()
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None

    def __enter__(self) -> "StoreLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _holder(text: str) -> dict:
    try:
        holder = json.loads(text)
    except ValueError:
        return {}
    return holder if isinstance(holder, dict) else {}


def _describe(holder: dict) -> str:
    if not holder:
        return "another process"
    return (f"pid {holder.get('pid')} on {holder.get('host')} ({holder.get('purpose')}, started "
            f"{holder.get('started_at')})")
