"""The GitHub spider: code, licences, docs and packaging of the repos a model names.

Per repo: the repo JSON, the head commit of the default branch, the recursive tree at that commit (walking
sub-trees when GitHub truncates it), the README, every licence-like file at any depth outside vendored folders,
model cards, datasheets, citation files, the docs index, the READMEs of training folders, the packaging files
(stored as they are; extractors read them) and the releases. A repo whose head commit is unchanged since its last
complete crawl is not fetched again (unless it was fetched under other file rules: FETCH_RULES).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from fnmatch import fnmatch
from hashlib import sha256

from crawler.ids import BadId, git_ref, git_sha, github_repo, shown
from crawler.items import ArtifactItem, LinkItem, SubjectItem
from crawler.known import target_priority
from crawler.middlewares import answer_json
from crawler.urls import endpoint_url, safe_path
from spiders.base import EvidenceSpider, KnownRepo, Refusals, Repo, id_list

RAW = {"Accept": "application/vnd.github.raw"}
JSON = {"Accept": "application/vnd.github+json"}
# The licence texts of a repo that follows the REUSE layout: `LICENSES/<SPDX id>.txt` at the root.
LICENCES_FOLDER = re.compile(r"licen[cs]es/[^/]+\.(txt|md)")
# Licence files by name, also a component's (`CODE_LICENSE`, `MODEL_WEIGHTS_LICENSE`, `DATA_LICENSE.md`).
LICENCE_LIKE = ("license*", "licence*", "copying*", "*_license", "*_licence", "*_license.*", "*_licence.*",
                "use_policy*", "notice*")
DOCUMENTS = ("model_card*", "datasheet*", "citation*")
DOCS_INDEX = {"docs/index.md", "docs/index.rst", "docs/readme.md", "docs/source/index.rst", "docs/source/index.md",
              "doc/index.md", "doc/index.rst", "doc/readme.md", "documentation/readme.md", "docs/index.html"}
PACKAGING = {"pyproject.toml", "setup.cfg", "setup.py"}
# The READMEs of folders named for training (`scripts/train/`, `finetune/`, `pretrain/`, `training/arctic/`): where
# a repo documents its training steps when the root README does not. Broad on purpose (the code-documentation
# judge decides what they document); at most TRAINING_READMES a repo, the shallowest first, to stay polite.
TRAINING_FOLDER = re.compile(r"(^|/)[^/]*(train|tun|sft)[^/]*/", re.IGNORECASE)
TRAINING_READMES = 8
VENDORED = {"vendor", "vendored", "third_party", "third-party", "thirdparty", "3rdparty", "external", "extern",
            "node_modules", "site-packages", ".git"}
# Request priorities inside a repo: what decides judgements first, when the hourly budget is tight.
PRIORITY = {"repo_json": 40, "head": 35, "tree": 30, "file": 20, "readme": 25, "releases": 0}


def blob_paths(entries, prefix: str) -> dict[str, str | None]:
    """The file paths of a tree listing with their blob shas, whatever else a malformed answer holds."""
    entries = entries if isinstance(entries, list) else []
    return {prefix + e["path"]: e.get("sha") if isinstance(e.get("sha"), str) else None for e in entries
            if isinstance(e, dict) and e.get("type") == "blob" and isinstance(e.get("path"), str)}


README_NAMES = ("readme.md", "readme.rst", "readme.txt", "readme")


def root_readme(paths) -> str | None:
    """The README GitHub shows on the repo's page: the first of README.md, .rst, .txt, README at the root."""
    at_root = {p.lower(): p for p in paths if "/" not in p}
    return next((at_root[name] for name in README_NAMES if name in at_root), None)


def is_vendored(path: str) -> bool:
    return any(part.lower() in VENDORED for part in path.split("/")[:-1])


def repo_json_problem(info: dict, asked: str, redirected: bool) -> str | None:
    """Why a GitHub repo JSON cannot be used, or None: its full_name becomes the repo's URLs and stored id, its
    default branch part of the head's URL; each is checked by its host's rule, and `archived` for its type. A
    full_name other than the repo `asked` (but for case) is a rename only when GitHub redirected the request."""
    try:
        if "full_name" in info:
            github_repo(info["full_name"])
            if info["full_name"].lower() != asked.lower() and not redirected:
                return f"its full_name {info['full_name']!r} is not the repo asked for, and no redirect said it moved"
        if info.get("default_branch") is not None:
            git_ref(info["default_branch"], "default branch")
    except BadId as exc:
        return str(exc)
    if info.get("archived") is not None and not isinstance(info["archived"], bool):
        return f"its archived is a {type(info['archived']).__name__}, not a boolean"
    return None


def tree_problem(tree: dict, prefix: str) -> str | None:
    """Why a GitHub tree answer (a whole tree, or one level of a truncated one) cannot be used, or None: its
    entries a list, `truncated` a boolean, the sha of a truncated tree (the next request's URL) a git object id, and
    every entry's path a repo path (no `..`, absolute or empty segment) and every sub-tree's sha a git object id.
    GitHub sends none of these otherwise: such an answer is not read at all."""
    entries = tree.get("tree")
    if entries is not None and not isinstance(entries, list):
        return f"its tree is a {type(entries).__name__}, not a list"
    if tree.get("truncated") is not None and not isinstance(tree["truncated"], bool):
        return f"its truncated is a {type(tree['truncated']).__name__}, not a boolean"
    try:
        if tree.get("truncated"):
            git_sha(tree.get("sha"), "sha of the truncated tree")
        for entry in entries or []:
            if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
                continue  # not an entry: nothing of it is used
            if not safe_path(prefix + entry["path"]):
                return f"an entry whose path is not a repo path: {shown(entry['path'], 60)}"
            if entry.get("type") == "tree":
                git_sha(entry.get("sha"), f"sha of the sub-tree {shown(entry['path'], 60)}")
    except BadId as exc:
        return str(exc)
    return None


def wanted_paths(paths) -> list[str]:
    """The files to fetch from a tree: licence-like files anywhere (outside vendored folders), model cards,
    datasheets, citation files, the docs index, root packaging metadata and the READMEs of training folders."""
    chosen, training = [], []
    for path in paths:
        name = path.rsplit("/", 1)[-1].lower()
        if is_vendored(path):
            continue
        if any(fnmatch(name, p) for p in LICENCE_LIKE + DOCUMENTS) or path.lower() in DOCS_INDEX \
                or path.lower() in PACKAGING or LICENCES_FOLDER.fullmatch(path.lower()):
            chosen.append(path)
        elif name in README_NAMES and TRAINING_FOLDER.search(path):
            training.append(path)
    training.sort(key=lambda p: (p.count("/"), p))
    return sorted(chosen + training[:TRAINING_READMES])


# The file rules of this module, recorded with each repo's complete mark: when they change, an unchanged repo is
# fetched again once, so that a store crawled before gets the files the new rules want.
FETCH_RULES = "github:" + sha256(repr((LICENCES_FOLDER.pattern, LICENCE_LIKE, DOCUMENTS, sorted(DOCS_INDEX),
                                       sorted(PACKAGING), TRAINING_FOLDER.pattern, TRAINING_READMES,
                                       sorted(VENDORED), README_NAMES)).encode()).hexdigest()[:16]


class GithubSpider(EvidenceSpider):
    name = "github"
    source = "github"
    endpoint = ("github_endpoint", "GITHUB_API_URL")
    custom_settings = {"CONCURRENT_REQUESTS_PER_DOMAIN": 2}  # GitHub asks clients for serial-ish requests
    fetch_rules = FETCH_RULES

    def __init__(self, github_endpoint: str, repos: list[tuple[str, int]] = (),
                 known: Mapping[str, KnownRepo] | None = None, full: bool = False, **kwargs):
        super().__init__(known=known, full=full, **kwargs)
        self.api = github_endpoint.rstrip("/")
        self.wanted = repos  # (owner/repo, priority)
        self.canonical: dict[str, str] = {}  # subject -> owner/repo after a rename, so requests skip the redirect

    @classmethod
    def parse_arguments(cls, kwargs: dict) -> dict:
        kwargs = super().parse_arguments(kwargs)
        if isinstance(kwargs.get("repos"), str):  # `-a repos=owner/a,owner/b`: named by hand, as labels name them
            kwargs["repos"] = [(name, target_priority("label")) for name in id_list(kwargs["repos"])]
        return kwargs

    @property
    def base_url(self) -> str:
        return self.api

    def _repo_api(self, repo: Repo, *parts: str, query=None) -> str:
        return endpoint_url(self.api, "repos", self.canonical.get(repo.subject, repo.repo_id), *parts, query=query)

    async def start(self):
        refused = Refusals()
        for full_name, priority in sorted(self.wanted, key=lambda r: -r[1]):
            try:
                github_repo(full_name)
            except BadId as exc:
                refused.append(str(exc))
                continue
            repo = self._register("github", full_name, priority=priority)
            if repo is None or (priority < target_priority("label") and self._missing_lately(repo)):
                continue  # a label's repo is always asked; a linked one that answered 404 lately is not
            request = self._request(repo, self._repo_api(repo), self.parse_repo, "gh_repo_json",
                                    priority=PRIORITY["repo_json"], headers=JSON)
            known = self.known.get(repo.subject.lower())
            if known and known.json_etag:
                request.headers[b"If-None-Match"] = known.json_etag.encode("latin-1")
            yield request
        for item in self._refused_ids(f"{self.name}: start", None, None, refused):
            yield item

    def parse_repo(self, response, repo: Repo):
        known = self.known.get(repo.subject.lower())
        if response.status == 304 and known:
            # The repo JSON changes on every push: unchanged JSON, unchanged head. Nothing to fetch.
            repo.revision = known.revision
            self.crawler.stats.inc_value("openness/not_modified")
            self._count_repo("unchanged")
            yield SubjectItem(repo.subject, "code", "github", repo.repo_id, self._page(repo), revision=repo.revision,
                              touch_only=True)
            yield from self._done(repo)
            return
        if response.status != 200:
            yield from self._unavailable(response, repo)
            yield from self._done(repo)
            return
        info = self._json(response, repo, "gh_repo_json", dict)
        asked = self.canonical.get(repo.subject, repo.repo_id)
        problem = None if info is None else repo_json_problem(info, asked, bool(response.meta.get("redirect_urls")))
        if info is None or problem is not None:
            yield SubjectItem(repo.subject, "code", "github", repo.repo_id, self._page(repo), status="error",
                              note="the repo JSON could not be read")
            yield from self._unreadable(response, repo, "gh_repo_json", problem)
            return
        canonical = info.get("full_name") or repo.repo_id
        if canonical.lower() != repo.repo_id.lower():
            self.canonical[repo.subject] = canonical
            yield LinkItem(repo.subject, f"gh:{canonical}", "renamed_to", response.url, None)
        branch = info.get("default_branch") or "HEAD"
        # The repo JSON is stored at the head revision, known only from the next answer: it travels with that
        # request as an item (requests may be serialized into a shared queue, responses may not).
        yield self._request(repo, self._repo_api(repo, "commits", branch), self.parse_head,
                            "gh_head", priority=PRIORITY["head"], headers={"Accept": "application/vnd.github.sha"},
                            repo_json=self._artifact(response, repo, "repo_json", path=None), info=info)
        yield from self._done(repo)

    def parse_head(self, response, repo: Repo, repo_json: ArtifactItem, info: dict):
        if response.status != 200:
            yield from self._failed(response, repo, "gh_head")
            yield from self._done(repo)
            return
        head = response.text.strip() if response.body[:1] != b"{" else \
            (self._json(response, repo, "gh_head", dict) or {}).get("sha")
        try:
            git_sha(head, "head commit sha")
        except BadId as exc:
            yield from self._unreadable(response, repo, "gh_head", str(exc))
            return
        repo.revision = head
        yield replace(repo_json, revision=head)
        yield SubjectItem(repo.subject, "code", "github", repo.repo_id, self._page(repo), revision=head,
                          status="archived" if info.get("archived") else "ok")
        known = self.known.get(repo.subject.lower())
        if known and known.revision == head:
            self._count_repo("unchanged")
        else:
            self._count_repo("changed" if known else "new")
            yield self._request(repo, self._repo_api(repo, "git", "trees", head, query={"recursive": "1"}),
                                self.parse_tree, "gh_tree", priority=PRIORITY["tree"], headers=JSON, prefix="")
            yield self._request(repo, self._repo_api(repo, "releases", query={"per_page": "100"}),
                                self.parse_releases, "gh_releases", priority=PRIORITY["releases"], headers=JSON,
                                page=0)
        yield from self._done(repo)

    def parse_tree(self, response, repo: Repo, prefix: str):
        """A tree page; when GitHub truncated it, walk its sub-trees one level at a time instead."""
        if response.status != 200:
            yield from self._failed(response, repo, "gh_tree")
            yield from self._done(repo)
            return
        tree = self._json(response, repo, "gh_tree", dict)
        problem = None if tree is None else tree_problem(tree, prefix)
        if tree is None or problem is not None:
            yield from self._unreadable(response, repo, "gh_tree", problem)
            return
        yield self._artifact(response, repo, "tree", path=f"tree:{prefix}")
        entries = tree.get("tree") or []
        if tree.get("truncated"):
            self.crawler.stats.inc_value("openness/truncated_trees")
            # Start again from this level without recursion; every sub-tree is then fetched the same way.
            yield from self._level_request(response, repo, tree["sha"], prefix)
        else:
            yield from self._file_requests(repo, blob_paths(entries, prefix))
        yield from self._done(repo)

    def _level_request(self, response, repo: Repo, sha: str, prefix: str):
        """The request of one sub-tree level of a truncated tree: at most PAGES_PER_RESOURCE['gh_tree'] per repo
        (a bound, recorded: a hostile tree can name sub-trees without end)."""
        if self.ledger.tally(f"levels:{repo.subject}") > self._cap("PAGES_PER_RESOURCE", "gh_tree"):
            if self.ledger.claim(f"levels-bound:{repo.subject}"):  # recorded once per repo
                yield self._bound(response.url, repo.subject, response.status, "PAGES_PER_RESOURCE", "gh_tree",
                                  f"{repo.repo_id}: the sub-tree levels of a truncated tree")
            return
        yield self._request(repo, self._repo_api(repo, "git", "trees", sha), self.parse_level, "gh_tree",
                            priority=PRIORITY["tree"], headers=JSON, prefix=prefix)

    def parse_level(self, response, repo: Repo, prefix: str):
        if response.status != 200:
            yield from self._failed(response, repo, "gh_tree")
            yield from self._done(repo)
            return
        level = self._json(response, repo, "gh_tree", dict)
        problem = None if level is None else tree_problem({**level, "truncated": None}, prefix)
        if level is None or problem is not None:
            yield from self._unreadable(response, repo, "gh_tree", problem)
            return
        yield self._artifact(response, repo, "tree", path=f"level:{prefix}")
        entries = level.get("tree") or []
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
                continue
            path = prefix + entry["path"]
            if entry.get("type") == "tree" and not is_vendored(path + "/x"):
                yield from self._level_request(response, repo, entry["sha"], path + "/")
        yield from self._file_requests(repo, blob_paths(entries, prefix), at_root=prefix == "")
        yield from self._done(repo)

    def _json(self, response, repo: Repo, kind: str, shape: type):
        """The answer's JSON when it is of the expected shape, else None (the caller records it)."""
        try:
            value = answer_json(response.body)
        except ValueError:
            return None
        return value if isinstance(value, shape) else None

    def _unreadable(self, response, repo: Repo, kind: str, why: str | None = None):
        """A truncated or malformed answer, or one holding a value that may not become a URL or an id (`why`):
        recorded against its URL, the repo left incomplete (the next run asks again), never a crash."""
        yield self._unreadable_answer(response, repo, kind,
                                      why or f"not JSON of the expected shape ({len(response.body)} bytes)")
        yield from self._done(repo)

    def _file_requests(self, repo: Repo, blobs: dict[str, str | None], at_root: bool = True):
        """The wanted files of a tree listing (and, at the root, the README), each with the blob sha the tree
        gives it, so a body that is not that blob (cut short, replaced by an error page) is never stored."""
        safe = {path: sha for path, sha in blobs.items() if safe_path(path)}
        chosen = [(path, "file") for path in wanted_paths(safe)]
        readme = root_readme(safe) if at_root else None
        if readme:
            chosen.insert(0, (readme, "readme"))
        for path, kind in chosen:
            url = self._repo_api(repo, "contents", path, query={"ref": repo.revision})
            yield self._request(repo, url, self.parse_file, f"gh_{kind}", priority=PRIORITY[kind], headers=RAW,
                                path=path, artifact_kind=kind, blob_sha=safe[path])

    def parse_file(self, response, repo: Repo, path: str, artifact_kind: str, blob_sha: str | None = None):
        if response.status != 200:
            yield from self._failed(response, repo, f"gh_{artifact_kind}")
            yield from self._done(repo)
            return
        if (yield from self._html_instead(response, repo, f"gh_{artifact_kind}")) or \
                (yield from self._not_the_blob(response, repo, f"gh_{artifact_kind}", blob_sha)):
            yield from self._done(repo)
            return
        yield self._artifact(response, repo, artifact_kind, path=path)
        yield from self._done(repo)

    def parse_releases(self, response, repo: Repo, page: int):
        if response.status != 200:
            yield from self._failed(response, repo, "gh_releases")
            yield from self._done(repo)
            return
        yield self._artifact(response, repo, "releases", path=f"page-{page}")
        next_url, recorded = self._next_page(response, repo, "gh_releases", page)
        yield from recorded
        if next_url is not None:
            yield self._request(repo, next_url, self.parse_releases, "gh_releases", headers=JSON, page=page + 1)
        yield from self._done(repo)

    def _unavailable(self, response, repo: Repo):
        not_captured = response.status == 501 and response.headers.get(b"X-Error-Code") == b"NotCaptured"
        status = "missing" if response.status == 404 else "not captured" if not_captured else "error"
        yield SubjectItem(repo.subject, "code", "github", repo.repo_id, self._page(repo), status=status,
                          note=f"HTTP {response.status}")
        yield from self._failed(response, repo, "gh_repo_json")

    def _page(self, repo: Repo) -> str:
        return endpoint_url("https://github.com", repo.repo_id)

