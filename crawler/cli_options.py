"""The options every `openness` command shares, and the command group that turns a store or an output that cannot
be used into one line naming its path (exit 2): kept apart so crawler/cli.py stays a list of commands."""

from __future__ import annotations

import os
from pathlib import Path

import click

DEFAULT_DB = "openness.db"


DB_PATH = "openness.db_path"  # where a command's --db is kept in click's context, for Commands to name it


def _remember_db(ctx, param, value: Path) -> Path:
    ctx.meta[DB_PATH] = value
    return value


DB_ENV = "OPENNESS_DB"  # the store every command reads when --db is not given: set once per shell


def db_option(default: str = DEFAULT_DB, creates: bool = False, from_env: bool = True):
    """`--db`, defaulting to OPENNESS_DB when set; `from_env=False` for the demo, which must never crawl its replica
    into the store a shell points every other command at."""
    where = "created if missing" if creates else "an existing one: crawl first"
    return click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), default=default,
                        envvar=DB_ENV if from_env else None, show_envvar=from_env, show_default=True,
                        callback=_remember_db, help=f"SQLite file of the evidence store ({where}).")


class Refused(click.ClickException):
    """A store or an output that cannot be used as given: one line naming the path, exit 2 (as for bad options)."""

    exit_code = 2


def require_store(db_path: Path) -> None:
    """The commands that read a store: a clear one-line error for a missing file, a folder, a file that is not a
    database, or another program's database (which is never touched)."""
    from crawler.store import StoreError, check_store

    if not db_path.exists():
        raise Refused(f"{db_path}: no such store; crawl first (e.g. make demo)")
    try:
        check_store(db_path)
    except StoreError as exc:
        raise Refused(str(exc)) from exc


def output_path(ctx, param, value: Path | None) -> Path | None:
    """A file option the command writes (--out, --report): a link, a folder or a device refused before any work."""
    from crawler.files import OutputError, check_file_target

    try:
        return value and check_file_target(value)
    except OutputError as exc:
        raise click.BadParameter(str(exc)) from exc


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")


def base_url(ctx, param, value: str) -> str:
    """A bad endpoint is a configuration error (exit 2) before any request (`crawler.endpoints.check_endpoint`)."""
    from crawler.endpoints import EndpointError, check_endpoint

    try:
        return check_endpoint(value)
    except EndpointError as exc:
        raise click.BadParameter(str(exc)) from exc


def endpoint_options(func):
    func = click.option("--github-endpoint", envvar="GITHUB_API_URL", default="https://api.github.com",
                        show_default=True, callback=base_url,
                        help="GitHub REST API base URL (env GITHUB_API_URL).")(func)
    func = click.option("--hf-endpoint", envvar="HF_ENDPOINT", default="https://huggingface.co", show_default=True,
                        callback=base_url,
                        help="Hugging Face Hub base URL (env HF_ENDPOINT); e.g. a loopback replica.")(func)
    return func


def workers_option(func):
    """`--workers N`, one meaning for every command that judges: 0 becomes the number of cores."""
    return click.option("--workers", type=click.IntRange(min=0), default=1, show_default=True,
                        callback=lambda ctx, param, value: value or os.cpu_count() or 1,
                        help="Judge in this many processes (0: one per core). This process still reads and writes "
                             "the store alone, so the store ends the same whatever the number.")(func)


def in_processes(workers: int, judged: int) -> str:
    return f" (judged in {workers} processes)" if workers > 1 and judged else ""


def print_version(ctx, param, value) -> None:
    """`--version`: the tool, the extractors that judge, and the store's schema (its newest migration)."""
    if not value or ctx.resilient_parsing:
        return
    from importlib.metadata import version

    from crawler.store import SCHEMA_VERSION
    from extractors import EXTRACTOR_VERSION

    click.echo(f"openness-crawler {version('openness-crawler')}; extractors {EXTRACTOR_VERSION}; "
               f"schema {SCHEMA_VERSION}")
    ctx.exit()


class Commands(click.Group):
    """Every command: a store or an output that cannot be used (crawler.store.StoreError, crawler.files.OutputError:
    a read-only or full store, a symbolic link as --out, a full disk) ends in one line naming the path, exit 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except Exception as exc:
            from crawler.files import OutputError
            from crawler.store import StoreError, failed_store, is_store_failure

            if isinstance(exc, (StoreError, OutputError)):
                raise Refused(str(exc)) from exc
            if is_store_failure(exc) and ctx.meta.get(DB_PATH):  # a write refused half-way (read-only, disk full)
                raise Refused(str(failed_store(ctx.meta[DB_PATH], exc))) from exc
            raise
