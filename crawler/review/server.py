"""Start Datasette over a store, the way people start it (`datasette serve`), with the review metadata and login."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from crawler.review.metadata import metadata


class ReviewConfigError(ValueError):
    """The review config file is unreadable or malformed; the message names it."""


def read_config(path: Path | None) -> dict:
    """`anonymous_read` (default true) and `accounts`: user -> a password hash from `datasette hash-password`, or
    `{"$env": "VARIABLE"}` naming the environment variable that holds it. Passwords never go into the DB."""
    if path is None:
        return {"anonymous_read": True, "accounts": {}}
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ReviewConfigError(f"{path}: cannot read the review config: {exc}") from exc
    if not isinstance(config, dict) or not isinstance(config.get("accounts", {}), dict):
        raise ReviewConfigError(f"{path}: expected a mapping with `accounts: {{user: password hash}}`")
    for user, secret in config.get("accounts", {}).items():
        if not (isinstance(secret, str) and secret.startswith("pbkdf2_sha256$")) and \
                not (isinstance(secret, dict) and set(secret) == {"$env"}):
            raise ReviewConfigError(f"{path}: account {user!r}: give a hash from `datasette hash-password` or "
                                    f"{{$env: VARIABLE}}, never a password")
    return {"anonymous_read": bool(config.get("anonymous_read", True)), "accounts": config.get("accounts", {})}


def datasette_command(db_path: Path, metadata_path: Path, host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "datasette", "serve", str(db_path), "--metadata", str(metadata_path),
            "--host", host, "--port", str(port)]


def serve(db_path: Path, host: str, port: int, config: dict, preexec_fn=None) -> int:
    """Run Datasette until it stops; returns its exit code. The cookie secret is DATASETTE_SECRET when set (logins
    then survive restarts), else new for each start."""
    with tempfile.TemporaryDirectory(prefix="openness-review-") as folder:
        metadata_path = Path(folder) / "metadata.json"
        metadata_path.write_text(json.dumps(metadata(db_path.stem, config["anonymous_read"], config["accounts"]),
                                            indent=2), encoding="utf-8")
        env = {**os.environ, "DATASETTE_SECRET": os.environ.get("DATASETTE_SECRET") or secrets.token_hex(32)}
        proc = subprocess.Popen(datasette_command(db_path, metadata_path, host, port), env=env,
                                preexec_fn=preexec_fn)
        try:
            return proc.wait()
        except KeyboardInterrupt:
            proc.terminate()
            return proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=10)
