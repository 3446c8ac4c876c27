"""Ids as people paste them: `owner/name`, Hub URLs (`https://huggingface.co/owner/name`, `/tree/main`, `/blob/…`,
`hf.co/…`), GitHub URLs, with surrounding whitespace. Anything else is a clear error naming the input."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from crawler.labels import GITHUB_LINK, normalise_github

HUB_HOSTS = {"huggingface.co", "www.huggingface.co", "hf.co"}
# What may follow a repo on a Hub page: a file view, a revision, the files tab, discussions …
HUB_PAGE_PARTS = {"tree", "blob", "resolve", "raw", "commit", "commits", "discussions", "discussion", "files"}
REPO_PART = re.compile(r"^[A-Za-z0-9][\w.-]*$")


class BadId(ValueError):
    """Not a model id nor a Hub or GitHub URL; the message quotes the input."""


def parse_ref(text: str) -> tuple[str, str]:
    """("model", "owner/name") for a Hub model id or URL; ("github", "owner/repo") for a GitHub URL."""
    value = text.strip()
    if not value:
        raise BadId("empty model id")
    if "github.com" in value.lower():
        match = GITHUB_LINK.search(value if "://" in value else f"https://{value}")
        if not match:
            raise BadId(f"not a GitHub repo URL: {text!r}")
        return "github", normalise_github(match.group(1), match.group(2))
    if "://" in value or value.lower().split("/", 1)[0] in HUB_HOSTS:
        parts = urlsplit(value if "://" in value else f"https://{value}")
        if parts.hostname not in HUB_HOSTS:
            raise BadId(f"not a Hugging Face URL: {text!r} (expected https://huggingface.co/owner/name)")
        path = [p for p in parts.path.split("/") if p]
        if path[:1] in (["datasets"], ["spaces"]):
            raise BadId(f"a {path[0][:-1]}, not a model: {text!r}")
        if len(path) < 2 or (len(path) > 2 and path[2] not in HUB_PAGE_PARTS):
            raise BadId(f"not a model page: {text!r} (expected https://huggingface.co/owner/name)")
        value = "/".join(path[:2])
    owner, _, name = value.partition("/")
    if not (REPO_PART.match(owner) and REPO_PART.match(name)) or ".." in value:
        raise BadId(f"not a Hugging Face model id (owner/name) or URL: {text!r}")
    return "model", f"{owner}/{name}"


def model_id(text: str) -> str:
    """The Hub model id of `text`; BadId when it names something else."""
    kind, ref = parse_ref(text)
    if kind != "model":
        raise BadId(f"a GitHub repo, not a Hugging Face model: {text!r}")
    return ref
