"""Every file the tool writes (exports, reports, the league table, `--out` anywhere) goes through here: written to a
temporary file in the target's own folder and renamed over the target once complete. A reader never sees half a
file; a full disk, a read-only folder or a crash leave the old file (or none) and no temporary file behind; a
symbolic link, a folder or a device where a file is expected is refused before a byte is written (a rename would
silently replace a link, and `--out /dev/null` would replace the device with a file).

The standard library has the pieces (mkstemp in the same folder, os.replace) but no function doing the whole."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator


class OutputError(Exception):
    """A target that cannot be written as asked; the message is one line naming the path. Nothing was written."""


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def check_file_target(path: Path | str) -> Path:
    """The target of a file output, refused when it is a symbolic link, a folder, a device or a pipe, or when its
    folder does not exist."""
    path = Path(path)
    if path.is_symlink():
        raise OutputError(f"{path}: is a symbolic link; refusing to write through it (name the file itself)")
    if path.is_dir():
        raise OutputError(f"{path}: is a folder; give a file name")
    if path.exists() and not path.is_file():
        raise OutputError(f"{path}: is not a regular file (a device, a pipe or a socket); give a file name")
    if not path.parent.is_dir():
        raise OutputError(f"{path}: its folder {path.parent} does not exist")
    return path


def _file_mode(path: Path) -> int:
    """The mode the written file gets: the replaced file's, else what a plain `open` would give (0666 less the
    umask); mkstemp's own 0600 would hide an export from its readers."""
    if path.is_file():
        return stat.S_IMODE(path.stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def output_file(path: Path | str, *, binary: bool = False, newline: str | None = None) -> Iterator[IO]:
    """A handle to write `path` through: a temporary file beside it, renamed over it when the block ends without an
    error, removed when it ends with one (OSError becomes OutputError naming `path`)."""
    path = check_file_target(path)
    try:
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:80]}.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"{path}: cannot write in {path.parent}: {_reason(exc)}") from None
    try:
        with (os.fdopen(descriptor, "wb") if binary else
              os.fdopen(descriptor, "w", encoding="utf-8", newline=newline)) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, _file_mode(path))
        check_file_target(path)  # still not a link or a folder (it may have changed while we wrote)
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write: {_reason(exc)}; nothing was written") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_text(path: Path | str, text: str) -> Path:
    with output_file(path) as handle:
        handle.write(text)
    return Path(path)


class OutputFolder:
    """The files of one export into a folder: each written into a staging folder inside it, and all renamed into
    place at the end, so a failure half-way (a full disk, a bad record) leaves the folder as it was. Files in the
    folder that the export does not write are left alone."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise OutputError(f"{self.path}: is not a folder; this format writes one file per model into a folder")
        self.created = not self.path.exists()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self.staging = Path(tempfile.mkdtemp(dir=self.path, prefix=".openness-export-"))
        except OSError as exc:
            self._remove_created()
            raise OutputError(f"{self.path}: cannot write in this folder: {_reason(exc)}") from None
        self.names: list[str] = []

    def write_text(self, name: str, text: str) -> None:
        """Stage the file `name` (a plain file name): refused if the folder holds a link, a folder or a device of
        that name."""
        if Path(name).name != name or name in (".", ".."):
            raise ValueError(f"not a plain file name: {name!r}")
        target = self.path / name
        check_file_target(target)
        try:
            (self.staging / name).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"{target}: cannot write: {_reason(exc)}; nothing was written") from None
        self.names.append(name)

    def commit(self) -> None:
        try:
            for name in self.names:
                check_file_target(self.path / name)
                os.replace(self.staging / name, self.path / name)
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot write: {_reason(exc)}") from None
        finally:
            self.discard()

    def discard(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)

    def _remove_created(self) -> None:
        if self.created:
            try:
                self.path.rmdir()
            except OSError:
                pass

    def __enter__(self) -> "OutputFolder":
        return self

    def __exit__(self, kind, exc, traceback) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()
            self._remove_created()
