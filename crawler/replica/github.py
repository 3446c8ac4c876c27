"""The GitHub REST API, as far as the spiders use it, answered from a corpus.

The corpus holds each repo's whole tree and verbatim copies of its non-code files, but not the repository JSON,
the head commit id, the default branch name or the releases: those are derived (and say so in `_replica`) or
answered as not captured.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from urllib.parse import unquote

from crawler.corpus import Corpus, GithubRepoCapture, git_blob_sha1, tree_directories
from crawler.replica.http import Answer, json_answer, not_captured

DERIVED_DEFAULT_BRANCH = "main"
LICENCE_NAMES = ("LICENSE", "LICENCE", "COPYING")
DOCS_URL = "https://docs.github.com/rest"


def github_error(status: int, message: str) -> Answer:
    answer = json_answer({"message": message, "documentation_url": DOCS_URL, "status": str(status)}, status)
    answer.etag = None
    return answer


class RateBudget:
    """GitHub's primary limit per client kind, in a window: past it, 403 "API rate limit exceeded" with
    `x-ratelimit-remaining: 0` until the reset time, as GitHub answers. 304s cost nothing.

    The replica's default limits are generous so demos never wait an hour; `--github-limit 60` mimics GitHub's
    anonymous budget."""

    def __init__(self, anonymous: int = 5000, authenticated: int = 5000, window: int = 3600):
        self.limits = {False: anonymous, True: authenticated}
        self.window = window
        self.used = {False: 0, True: 0}
        self.reset_at = time.time() + window
        self.lock = threading.Lock()

    def take(self, authenticated: bool, spend: bool) -> tuple[bool, dict[str, str]]:
        """Count one call when `spend`; (whether it was within the limit, the x-ratelimit headers to send)."""
        with self.lock:
            now = time.time()
            if now >= self.reset_at:
                self.used = {False: 0, True: 0}
                self.reset_at = now + self.window
            limit = self.limits[authenticated]
            allowed = not spend or self.used[authenticated] < limit
            if spend and allowed:
                self.used[authenticated] += 1
            return allowed, {
                "x-ratelimit-limit": str(limit),
                "x-ratelimit-remaining": str(max(limit - self.used[authenticated], 0)),
                "x-ratelimit-used": str(self.used[authenticated]),
                "x-ratelimit-reset": str(int(self.reset_at + 0.999)),
                "x-ratelimit-resource": "core",
            }


def rate_limit_exceeded() -> Answer:
    return github_error(403, "API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated "
                             "requests get a higher rate limit.)")


class GithubApi:
    def __init__(self, corpus: Corpus, truncate_trees: int = 0):
        self.corpus = corpus
        # Recursive trees with more entries than this answer `truncated: true` with only the first ones, as GitHub
        # does past 100,000 entries; 0 never truncates.
        self.truncate_trees = truncate_trees

    def route(self, method: str, parts: list[str], query, base_url: str, path: str, accept: str) -> Answer | None:
        if parts[:1] != ["repos"] or len(parts) < 3:
            return None
        repo = self.corpus.github_repo(f"{parts[1]}/{parts[2]}")
        if repo is None and (named_by := self.corpus.github_named_by(f"{parts[1]}/{parts[2]}")):
            return not_captured(f"GitHub repo {parts[1]}/{parts[2]} (linked by {named_by})")
        if repo is None:
            return github_error(404, "Not Found")
        tail = parts[3:]
        params = dict(query)
        if not tail:
            return json_answer(self.repo_json(repo, base_url))
        if tail == ["license"]:
            return self.licence(repo, base_url, accept)
        if tail == ["readme"]:
            return self.readme(repo, base_url, accept)
        if tail == ["releases"]:
            return not_captured(f"releases of {repo.full_name}")
        if tail[0] == "commits" and len(tail) == 2:
            return self.head_commit(repo, unquote(tail[1]), accept)
        if tail[:2] == ["git", "trees"] and len(tail) == 3:
            return self.tree(repo, unquote(tail[2]), "recursive" in params, base_url)
        if tail[0] == "contents":
            ref = params.get("ref")
            if ref not in (None, DERIVED_DEFAULT_BRANCH, repo.head_sha):
                return github_error(404, f"No commit found for the ref {ref}")
            return self.contents(repo, unquote("/".join(tail[1:])), base_url, accept)
        return github_error(404, "Not Found")

    def head_commit(self, repo: GithubRepoCapture, ref: str, accept: str) -> Answer:
        """The head commit of the default branch (derived: the capture has no commit id, see `_replica`)."""
        if ref not in (DERIVED_DEFAULT_BRANCH, "HEAD", repo.head_sha):
            return github_error(422, f"No commit found for SHA: {ref}")
        if "application/vnd.github.sha" in accept:
            sha = repo.head_sha.encode()
            return Answer(200, sha, content_type="text/plain; charset=utf-8", etag='"%s"' % repo.head_sha)
        return json_answer({"sha": repo.head_sha, "commit": {"tree": {"sha": repo.head_sha}},
                            "_replica": {"derived": True, "derived_fields": ["sha"]}})

    def repo_json(self, repo: GithubRepoCapture, base_url: str) -> dict:
        owner, name = repo.full_name.split("/")
        api = f"{base_url}/repos/{repo.full_name}"
        return {
            "id": int(hashlib.sha1(repo.full_name.lower().encode()).hexdigest()[:8], 16),
            "name": name,
            "full_name": repo.full_name,
            "owner": {"login": owner, "type": "Organization"},
            "html_url": f"https://github.com/{repo.full_name}",
            "url": api,
            "private": False,
            "fork": False,
            "archived": False,
            "disabled": False,
            "default_branch": DERIVED_DEFAULT_BRANCH,
            "pushed_at": repo.pushed_at,
            "topics": [],
            "license": None,
            "_replica": {
                "derived": True,
                "derived_fields": ["id", "default_branch", "private", "fork", "archived", "disabled"] +
                                  ([] if repo.provenance_head else ["head_sha", "pushed_at"]),
                "head_sha": repo.head_sha,
                "head_from": "PROVENANCE.md (verified: every captured file is that commit's blob)"
                             if repo.provenance_head else "derived from the captured tree and files",
                "not_captured": ["topics", "license", "releases", "stargazers_count"],
                "corpus_path": repo.corpus_path,
                "note": "derived by the loopback replica; the corpus holds the tree and non-code files only",
            },
        }

    def _content_json(self, repo: GithubRepoCapture, path: str, content: bytes, base_url: str) -> dict:
        sha = next((e.sha for e in repo.tree if e.path == path and e.sha), None)
        return {
            "type": "file",
            "encoding": "base64",
            "size": len(content),
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "content": base64.encodebytes(content).decode("ascii"),
            "sha": sha,
            "url": f"{base_url}/repos/{repo.full_name}/contents/{path}?ref={DERIVED_DEFAULT_BRANCH}",
            "html_url": f"https://github.com/{repo.full_name}/blob/{DERIVED_DEFAULT_BRANCH}/{path}",
            "download_url": f"https://raw.githubusercontent.com/{repo.full_name}/{DERIVED_DEFAULT_BRANCH}/{path}",
        }

    def _file_answer(self, repo: GithubRepoCapture, path: str, base_url: str, accept: str, extra: dict | None = None) -> Answer:
        content = repo.captured_files[path].read_bytes()
        if "application/vnd.github.raw" in accept:
            return Answer(200, content, content_type="text/plain; charset=utf-8", etag='"%s"' % hashlib.sha1(content).hexdigest())
        return json_answer({**self._content_json(repo, path, content, base_url), **(extra or {})})

    def _root_file(self, repo: GithubRepoCapture, prefixes: tuple[str, ...]) -> str | None:
        names = sorted(p for p in repo.captured_files if "/" not in p and p.upper().startswith(prefixes))
        return names[0] if names else None

    def licence(self, repo: GithubRepoCapture, base_url: str, accept: str) -> Answer:
        path = self._root_file(repo, LICENCE_NAMES)
        if path is None:
            if any("/" not in e.path and e.path.upper().startswith(LICENCE_NAMES) for e in repo.tree):
                return not_captured(f"copy of the licence file of {repo.full_name}")
            return github_error(404, "Not Found")
        # GitHub's own licence detection (Licensee) was not captured: say so rather than guess.
        return self._file_answer(repo, path, base_url, accept, {"license": None, "_replica": {"not_captured": ["license"]}})

    def readme(self, repo: GithubRepoCapture, base_url: str, accept: str) -> Answer:
        path = self._root_file(repo, ("README",))
        if path is None:
            return github_error(404, "Not Found")
        return self._file_answer(repo, path, base_url, accept)

    def tree(self, repo: GithubRepoCapture, sha: str, recursive: bool, base_url: str) -> Answer:
        directories = tree_directories(e.path for e in repo.tree)
        dir_shas = {hashlib.sha1(f"{repo.head_sha}:{d}".encode()).hexdigest(): d for d in directories}
        if sha in (repo.head_sha, DERIVED_DEFAULT_BRANCH, "HEAD"):
            root = ""
        elif sha in dir_shas:
            root = dir_shas[sha]
        else:
            return github_error(404, "Not Found")
        prefix = f"{root}/" if root else ""
        entries = []
        for directory in sorted(directories):
            rel = directory[len(prefix):]
            if directory.startswith(prefix) and (recursive or "/" not in rel):
                sha_of = hashlib.sha1(f"{repo.head_sha}:{directory}".encode()).hexdigest()
                entries.append({"path": rel, "mode": "040000", "type": "tree", "sha": sha_of,
                                "url": f"{base_url}/repos/{repo.full_name}/git/trees/{sha_of}"})
        captured = repo.captured_files
        for entry in repo.tree:
            rel = entry.path[len(prefix):]
            if entry.path.startswith(prefix) and (recursive or "/" not in rel):
                # A captured file is served as its bytes are, so the tree names those bytes' blob (the same as the
                # tree.txt blob unless the capture was changed since, when the head is derived too).
                sha = git_blob_sha1(captured[entry.path].read_bytes()) if entry.path in captured else entry.sha
                item = {"path": rel, "mode": entry.mode, "type": entry.type, "sha": sha}
                if entry.type == "blob":
                    item["size"] = entry.size
                entries.append(item)
        entries.sort(key=lambda e: e["path"])
        tree_sha = repo.head_sha if not root else sha
        truncated = recursive and 0 < self.truncate_trees < len(entries)
        if truncated:
            entries = entries[:self.truncate_trees]
        return json_answer({"sha": tree_sha, "url": f"{base_url}/repos/{repo.full_name}/git/trees/{tree_sha}",
                            "tree": entries, "truncated": truncated})

    def contents(self, repo: GithubRepoCapture, path: str, base_url: str, accept: str) -> Answer:
        path = path.strip("/")
        if path in repo.captured_files:
            return self._file_answer(repo, path, base_url, accept)
        if any(e.path == path for e in repo.tree):
            return not_captured(f"copy of {path} in {repo.full_name} (source code is not copied)")
        directories = tree_directories(e.path for e in repo.tree)
        if path and path not in directories:
            return github_error(404, "Not Found")
        prefix = f"{path}/" if path else ""
        listing = [{"type": "dir", "name": d[len(prefix):], "path": d} for d in sorted(directories)
                   if d.startswith(prefix) and "/" not in d[len(prefix):]]
        listing += [{"type": "file", "name": e.path[len(prefix):], "path": e.path, "sha": e.sha, "size": e.size}
                    for e in repo.tree if e.path.startswith(prefix) and "/" not in e.path[len(prefix):]]
        return json_answer(listing)
