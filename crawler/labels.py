"""Expert label files (YAML, both schemas): which Hugging Face and GitHub repos a file is about, from its links."""

from __future__ import annotations

import re
from pathlib import Path

# huggingface.co/<org>/<name> but not the site's own sections.
HF_LINK = re.compile(r"huggingface\.co/(?!(?:datasets|spaces|collections|papers|blog|docs|models|organizations|api|"
                     r"learn|chat|join|login|settings|posts|tasks|pricing)/)([A-Za-z0-9][\w.-]*)/([A-Za-z0-9][\w.-]*)")
GITHUB_LINK = re.compile(r"(?:github\.com|raw\.githubusercontent\.com)[/:]"
                         r"(?!(?:orgs|topics|features|sponsors|marketplace|settings|apps|about)/)"
                         r"([A-Za-z0-9][\w.-]*)/([A-Za-z0-9_.-]+)", re.IGNORECASE)

# A link to an image or a video inside a repo (a logo, a badge, a figure) shows the repo hosts a picture, not that
# the card points to the repo's code: the card of one model carries another repo's logo.
ASSET_PATH = re.compile(r"[^\s\"'()<>\]\[]*?\.(?:svg|png|jpe?g|gif|webp|ico|bmp|mp4|webm)(?=[?#\s\"'()<>\]\[]|$)",
                        re.IGNORECASE)

OWNER_REPO = re.compile(r"^([A-Za-z0-9][\w.-]*)/([\w.-]+)$")


def normalise_github(owner: str, repo: str) -> str:
    """owner/repo without a `.git` suffix or sentence punctuation after it."""
    return f"{owner}/{repo.rstrip('.').removesuffix('.git')}"


def github_repo_of(url_or_name: str) -> str | None:
    """owner/repo from any GitHub URL form (blob / tree / raw links, `.git`, trailing paths) or an `owner/repo`."""
    match = GITHUB_LINK.search(url_or_name)
    if match:
        return normalise_github(match.group(1), match.group(2))
    match = OWNER_REPO.match(url_or_name.strip().strip("/"))
    return normalise_github(match.group(1), match.group(2)) if match else None


def github_repos_linked(text: str) -> list[str]:
    """owner/repo of every GitHub repo a document links, in order, once each; links to an image or video file held
    in a repo (`github.com/o/r/blob/main/figures/logo.svg?raw=true`) do not count."""
    found: dict[str, str] = {}  # lower case -> as first written
    for match in GITHUB_LINK.finditer(text):
        if not ASSET_PATH.match(text, match.end()):
            repo = normalise_github(match.group(1), match.group(2))
            found.setdefault(repo.lower(), repo)
    return list(found.values())


def repos_named(text: str) -> tuple[set[str], set[str]]:
    """(Hugging Face model ids, GitHub owner/repo) linked anywhere in a label file's text."""
    models = {f"{m.group(1)}/{m.group(2)}" for m in HF_LINK.finditer(text)}
    github = {normalise_github(m.group(1), m.group(2)) for m in GITHUB_LINK.finditer(text)}
    return models, github


def repos_in_label_dir(directory: Path) -> tuple[list[str], list[str]]:
    """Every Hub model id and GitHub repo linked from the label files (*.yaml, *.yml) under a directory, sorted."""
    models, github = set(), set()
    for path in sorted([*directory.rglob("*.yaml"), *directory.rglob("*.yml")]):
        found_models, found_github = repos_named(path.read_text(encoding="utf-8", errors="replace"))
        models |= found_models
        github |= found_github
    return sorted(models, key=str.lower), sorted(github, key=str.lower)
