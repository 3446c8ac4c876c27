"""Canonical public URLs: where a person (or another tool) can read a stored document at its revision on
huggingface.co or github.com, whatever endpoint (replica, mirror, proxy) it was fetched from. The store keeps both."""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

HUB = "https://huggingface.co"
GITHUB = "https://github.com"


def artifact_url(source: str, repo_type: str, repo_id: str, kind: str, path: str | None, revision: str | None) -> str:
    """The public URL of an artifact at its revision (the repo's page when the revision is unknown)."""
    at = quote(revision or "main", safe="")
    if source == "github":
        if kind in ("file", "readme") and path:  # a README as a file, so a quote's lines can be linked
            return f"{GITHUB}/{repo_id}/blob/{at}/{quote(path)}"
        if kind == "readme":
            return f"{GITHUB}/{repo_id}/tree/{at}#readme"
        if kind == "releases":
            return f"{GITHUB}/{repo_id}/releases"
        return f"{GITHUB}/{repo_id}/tree/{at}"
    prefix = f"{HUB}/datasets/{repo_id}" if repo_type == "dataset" else f"{HUB}/{repo_id}"
    if kind in ("model_json", "dataset_json"):
        return f"{HUB}/api/{repo_type}s/{repo_id}/revision/{at}"
    if kind in ("card", "file") and path:
        return f"{prefix}/blob/{at}/{quote(path)}"
    return f"{prefix}/tree/{at}"


def with_lines(url: str, line_start: int | None, line_end: int | None) -> str:
    """A line anchor on a blob URL: GitHub `?plain=1#L3-L5` (so Markdown shows its source lines), the Hub `#L3`."""
    if not line_start or "/blob/" not in url:
        return url
    if url.startswith(GITHUB):
        anchor = f"#L{line_start}" + (f"-L{line_end}" if line_end and line_end != line_start else "")
        return f"{url}?plain=1{anchor}"
    return f"{url}#L{line_start}"


def subject_url(subject_id: str, revision: str | None) -> str:
    """The public page of a subject (`hf:model:…`, `hf:dataset:…`, `gh:…`) at a revision."""
    if subject_id.startswith("gh:"):
        return artifact_url("github", "github", subject_id[3:], "repo_json", None, revision)
    _, repo_type, repo_id = subject_id.split(":", 2)
    return artifact_url("huggingface", repo_type, repo_id, "tree", None, revision)


def source_url(name: str, subject_id: str, revision: str | None) -> str:
    """The public page of a source a judgement searched, from what its name says: a GitHub repo (`github:owner/repo`),
    a dataset (`dataset:id`, `linked-dataset:id`), a base model (`base:id`), or a part of the model itself (`card`,
    `tree`, `model_json`) at its revision; the model's page for anything else."""
    scope, _, named = name.partition(":")
    if scope == "github" and named:
        return f"{GITHUB}/{named}"
    if scope == "linked-dataset" and "://" in named:
        # a card's link to data elsewhere: the page the card names, when it is a web page (a card may name any scheme)
        return named if urlsplit(named).scheme.lower() in ("http", "https") else subject_url(subject_id, revision)
    if scope in ("dataset", "linked-dataset") and named:
        return f"{HUB}/datasets/{named}"
    if scope == "base" and named:
        return f"{HUB}/{named}"
    part = {"card": ("card", "README.md"), "tree": ("tree", None), "model_json": ("model_json", None)}.get(name)
    if part and subject_id.startswith("hf:"):
        _, repo_type, repo_id = subject_id.split(":", 2)
        return artifact_url("huggingface", repo_type, repo_id, part[0], part[1], revision)
    return subject_url(subject_id, revision)


LINE_ANCHOR = re.compile(r"#L(\d+)(?:-L(\d+))?$")


class PublicLinks:
    """The one place a fetched URL (a replica's, a mirror's: dead once it stops) becomes the public URL a person or a
    tool reads: the stored artifact's `public_url` (by its id, else by the URL it was fetched from) with the lines
    quoted, else the public page the caller names from what the URL was for. Lookups are remembered: make one per
    model (or per migration), not one for the life of a process, as artifacts are added."""

    def __init__(self, db):
        self.db = db
        self.by_id: dict[str, str | None] = {}
        self.by_url: dict[str, str | None] = {}

    def _of_artifact(self, artifact_id: str) -> str | None:
        if artifact_id not in self.by_id:
            row = self.db.execute("select public_url from artifacts where id = ?", [artifact_id]).fetchone()
            self.by_id[artifact_id] = row[0] if row else None
        return self.by_id[artifact_id]

    def _of_fetched(self, url: str) -> str | None:
        if url not in self.by_url:
            row = self.db.execute("select public_url from artifacts where url = ? order by fetched_at desc limit 1",
                                  [url]).fetchone()
            self.by_url[url] = row[0] if row else None
        return self.by_url[url]

    def public(self, fetched: str | None, fallback: str, artifact_id: str | None = None,
               line_start: int | None = None, line_end: int | None = None) -> str:
        """The public URL of what was fetched from `fetched` (a `#L<n>` or `#L<n>-L<m>` on it names the lines, as a
        claim's location does), or `fallback` when no stored artifact was fetched from there."""
        url = fetched or ""
        anchor = LINE_ANCHOR.search(url)
        if anchor:
            url = url[:anchor.start()]
            if line_start is None:
                line_start, line_end = int(anchor[1]), int(anchor[2] or anchor[1])
        public = (artifact_id and self._of_artifact(artifact_id)) or (url and self._of_fetched(url))
        return with_lines(public, line_start, line_end) if public else fallback

    def source(self, searched: dict, subject_id: str, revision: str | None) -> dict:
        """A searched source (`{source, status, url, detail}`, its `url` where it was fetched or asked) as people
        and tools read it: `url` public, the one asked kept as `fetched_url`."""
        fetched = searched.get("fetched_url", searched.get("url"))
        public = self.public(fetched, source_url(searched.get("source") or "", subject_id, revision))
        return {"source": searched.get("source"), "status": searched.get("status"), "url": public,
                "fetched_url": fetched, "detail": searched.get("detail", "")}
