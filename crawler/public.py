"""Canonical public URLs: where a person (or another tool) can read a stored document at its revision on
huggingface.co or github.com, whatever endpoint (replica, mirror, proxy) it was fetched from. The store keeps both."""

from __future__ import annotations

from urllib.parse import quote

HUB = "https://huggingface.co"
GITHUB = "https://github.com"


def artifact_url(source: str, repo_type: str, repo_id: str, kind: str, path: str | None, revision: str | None) -> str:
    """The public URL of an artifact at its revision (the repo's page when the revision is unknown)."""
    at = quote(revision or "main", safe="")
    if source == "github":
        if kind in ("file",) and path:
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
