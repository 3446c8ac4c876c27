"""Packaging metadata read as data: the name and version a repo publishes under. setup.py is never run."""

from __future__ import annotations

import configparser
import re
import tomllib

SETUP_ARG = r"""\b{key}\s*=\s*(['"])(?P<value>[^'"]+)\1"""


def package_metadata(path: str, text: str) -> dict | None:
    """{"file", "name", "version"} from pyproject.toml, setup.cfg or setup.py; None when none is stated.

    A version computed at build time (dynamic, read from a file) is reported as None: only literals are read."""
    name = path.rsplit("/", 1)[-1].lower()
    found: dict = {}
    if name == "pyproject.toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            return None
        project = data.get("project") or data.get("tool", {}).get("poetry") or {}
        found = {"name": project.get("name"), "version": project.get("version")}
    elif name == "setup.cfg":
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(text)
        except configparser.Error:
            return None
        if parser.has_section("metadata"):
            found = {"name": parser.get("metadata", "name", fallback=None),
                     "version": parser.get("metadata", "version", fallback=None)}
    elif name == "setup.py":
        for key in ("name", "version"):
            match = re.search(SETUP_ARG.format(key=key), text)
            found[key] = match.group("value") if match else None
    if not found.get("name"):
        return None
    version = found.get("version")
    return {"file": path, "name": str(found["name"]), "version": str(version) if isinstance(version, str) else None}
