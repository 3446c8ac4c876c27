"""Analysts' accounts in a review config (YAML): adding one writes only the password's hash, made by
datasette-auth-passwords' own function (pbkdf2_sha256, the format its login checks), never the password."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from crawler.files import write_text

SAMPLE = Path(__file__).with_name("accounts.sample.yaml")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,63}")  # a login name: no `_` (the plugin's keys are NAME_password_hash)
MIN_PASSWORD = 8


class AccountError(ValueError):
    """An account that cannot be added; the message says why."""


def add_account(config: Path, name: str, password: str) -> str:
    """Put `name` with the hash of `password` in the review config `config` (created from the sample's header when
    missing; an existing file keeps its other settings, rewritten without its comments). Returns `added` or
    `replaced`."""
    from datasette_auth_passwords.utils import hash_password

    if not NAME.fullmatch(name):
        raise AccountError(f"{name!r}: a login name is letters, digits, `.` and `-`, at most 64")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password of at least {MIN_PASSWORD} characters, please")
    if config.exists():
        try:
            settings = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise AccountError(f"{config}: cannot read the review config: {exc}") from exc
        if not isinstance(settings, dict) or not isinstance(settings.get("accounts") or {}, dict):
            raise AccountError(f"{config}: expected a mapping with `accounts: {{user: password hash}}`")
        header = ""
    else:
        settings, header = {"anonymous_read": True}, _sample_header()
    accounts = settings.get("accounts") or {}
    outcome = "replaced" if name in accounts else "added"
    settings["accounts"] = {**accounts, name: hash_password(password)}
    write_text(config, header + yaml.safe_dump(settings, sort_keys=False, allow_unicode=True))
    config.chmod(0o600)  # hashes: readable by their owner only
    return outcome


def _sample_header() -> str:
    """The sample's comment lines: what each setting means, at the top of a new config."""
    lines = SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)
    return "".join(line for line in lines if line.startswith("#"))
