"""Serve the review: Datasette over a store, in this process (what `datasette serve` does: build the app, run its
startup hooks, run it under uvicorn), with the review metadata, the analysts' pages (crawler/review/plugin),
datasette-auth-passwords' login and our login throttle.

Nothing is written to disk, so nothing is left behind however the server stops (Ctrl-C, SIGTERM, a kill): the
metadata is handed to Datasette in memory, and the analysts' password hashes reach datasette-auth-passwords as
Datasette's own secret references (`{"$env": NAME}`, resolved from this process's environment only when the plugin
asks for its config), so what Datasette serves as metadata (/-/metadata.json) names variables, never hashes."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import sqlite3
from pathlib import Path

import yaml

from crawler.review import plugin, throttle
from crawler.review.metadata import metadata

HASH_VARIABLE = "OPENNESS_REVIEW_PASSWORD_HASH_{}"
THROTTLE_KEYS = set(throttle.DEFAULTS)


class ReviewConfigError(ValueError):
    """The review config file is unreadable or malformed; the message names it."""


def read_config(path: Path | None) -> dict:
    """`anonymous_read` (default true), `accounts`: user -> a password hash from `datasette hash-password`, or
    `{"$env": "VARIABLE"}` naming the environment variable that holds it (passwords never go into the DB), and
    `login_throttle`: `max_failures` per client address (default 5), `max_account_failures` per account from any
    address (default 10), `lockout_seconds` (default 900)."""
    if path is None:
        return {"anonymous_read": True, "accounts": {}, "login_throttle": {}}
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
    limits = config.get("login_throttle") or {}
    if not isinstance(limits, dict) or set(limits) - THROTTLE_KEYS or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in limits.values()):
        raise ReviewConfigError(f"{path}: `login_throttle` takes positive numbers for "
                                f"{', '.join(sorted(THROTTLE_KEYS))}")
    return {"anonymous_read": bool(config.get("anonymous_read", True)), "accounts": config.get("accounts", {}),
            "login_throttle": limits}


def secret_references(accounts: dict, environ=os.environ) -> dict:
    """Each account's hash as a Datasette secret reference: a hash given in the config is put in this process's
    environment under a variable of ours; a `{$env: NAME}` is kept as it is."""
    references = {}
    for number, (user, secret) in enumerate(accounts.items()):
        if isinstance(secret, str):
            environ[HASH_VARIABLE.format(number)] = secret
            secret = {"$env": HASH_VARIABLE.format(number)}
        references[user] = secret
    return references


def tables_of(db_path: Path) -> list[str]:
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return [r[0] for r in con.execute("select name from sqlite_master where type in ('table', 'view')")]
    finally:
        con.close()


def review_app(db_path: Path, config: dict):
    """The Datasette instance of the review. The cookie secret is DATASETTE_SECRET when set (logins then survive
    restarts), else new for each start."""
    from datasette.app import Datasette
    from datasette.plugins import pm

    # The package's entry points register both when it is installed with them; an install made before they existed
    # (an editable one) has not: registered here too, once.
    for module, name in ((throttle, throttle.PLUGIN), (plugin, "openness_review")):
        if not pm.is_registered(module):
            pm.register(module, name=name)
    document = metadata(db_path.stem, config["anonymous_read"], secret_references(config["accounts"]),
                        tables_of(db_path), config.get("login_throttle"))
    # allow_download: the whole file is never served (it is anyway refused for a store Datasette may write).
    return Datasette([str(db_path)], metadata=document, settings={"allow_download": False},
                     secret=os.environ.get("DATASETTE_SECRET") or secrets.token_hex(32))


# Datasette's pages of the server's own workings: the store's absolute path (/-/databases), the process's threads
# and tasks (/-/threads). No review needs them, and no reader may learn the server's paths from them.
HIDDEN_PAGES = frozenset({"/-/databases", "/-/databases.json", "/-/threads", "/-/threads.json"})


def hiding_internals(app):
    """The review's ASGI app, answering 404 to HIDDEN_PAGES."""
    async def filtered(scope, receive, send):
        if scope["type"] == "http" and scope["path"].rstrip("/") in HIDDEN_PAGES:
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
            await send({"type": "http.response.body", "body": b"Not found.\n"})
            return
        await app(scope, receive, send)
    return filtered


class PortInUse(OSError):
    """The review's address cannot be bound; the message names host:port."""


def check_bind(host: str, port: int) -> None:
    """Bind and release host:port, so a port in use is said before the review announces its URL."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            sock.bind(address)
    except OSError as exc:
        raise PortInUse(f"cannot serve the review on {host}:{port}: {exc.strerror or exc}") from exc


def serve(db_path: Path, host: str, port: int, config: dict) -> int:
    """Run the review until it is stopped (Ctrl-C or SIGTERM: uvicorn shuts down cleanly); returns 0."""
    import uvicorn

    app = review_app(db_path, config)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(app.invoke_startup())
    finally:
        loop.close()
    uvicorn.run(hiding_internals(app.app()), host=host, port=port, log_level="info", lifespan="on", workers=1)
    return 0
