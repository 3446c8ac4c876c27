"""The Hugging Face Hub API, as far as the spiders use it, answered from a corpus.

No capture holds the Hub's model JSON: it is derived here from the card's front matter and the file list, and the
`_replica` field of every derived answer says which fields were derived and what was not captured.
"""

from __future__ import annotations

import hashlib
import mimetypes
from urllib.parse import unquote

from crawler.corpus import Corpus, CorpusError, HubRepoCapture, SyntheticModel, git_blob_sha1, tree_directories
from crawler.replica.synthetic import (ROW_NOTE, ScaledListing, ScaledSyntheticModel, SyntheticDataset, encode_rows,
                                       scaled_json)
from crawler.replica.http import Answer, decode_cursor, hub_error, json_answer, next_link, not_captured

# Files the Hub serves even on gated repos: the card and git attributes are public, the rest needs approval.
PUBLIC_ON_GATED = {"README.md", ".gitattributes"}
LISTING_DEFAULT_FIELDS = ["id", "modelId", "private", "tags", "pipeline_tag", "library_name"]
EXPANDABLE = {
    "author", "sha", "lastModified", "private", "gated", "disabled", "library_name", "tags", "pipeline_tag",
    "cardData", "siblings", "downloads", "likes", "createdAt", "config", "baseModels", "trendingScore",
    "safetensors", "spaces", "usedStorage", "inference", "widgetData", "model-index", "transformersInfo",
    "mask_token", "downloadsAllTime", "gguf", "resourceGroup", "evalResults", "inferenceProviderMapping",
    "securityRepoStatus", "xetEnabled",
}
SORTABLE = {"downloads", "likes", "lastModified", "createdAt", "trendingScore", "id"}
NOT_IN_ANY_CAPTURE = ["createdAt", "downloads", "likes"]


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _is_gated(repo: HubRepoCapture, card_data: dict | None) -> bool:
    if card_data and any(key.startswith("extra_gated") for key in card_data):
        return True
    # A stored copy of the rendered model page that shows the gating notice.
    return any("gated" in fact.get("facts", {}) for fact in repo.facts)


def _derived_tags(card_data: dict) -> list[str]:
    """Tags as the Hub derives them from the card: its own tags, library, languages, licence, datasets, base models."""
    tags = [str(t) for t in _as_list(card_data.get("tags"))]
    for key, prefix in (("library_name", ""), ("language", ""), ("license", "license:"), ("datasets", "dataset:"),
                        ("base_model", "base_model:")):
        tags += [f"{prefix}{value}" for value in _as_list(card_data.get(key)) if isinstance(value, (str, int, float))]
    return list(dict.fromkeys(tags))


def derive_repo_json(repo: HubRepoCapture) -> dict:
    """The model (or dataset) JSON the Hub would send, built only from what the corpus captured."""
    not_captured_fields = list(NOT_IN_ANY_CAPTURE)
    errors = []
    try:
        card_data = repo.front_matter
    except CorpusError as exc:
        card_data, errors = None, [str(exc)]
    if card_data is None and not errors and repo.card_bytes is not None and repo.capture.get("card") == "full":
        card_data = {}  # a whole card without front matter: its metadata is captured, and empty
    info: dict = {"_id": repo.revision_sha[:24], "id": repo.repo_id}
    if repo.repo_type == "model":
        info["modelId"] = repo.repo_id
    info.update({"author": repo.repo_id.split("/")[0], "sha": repo.revision_sha, "private": False, "disabled": False,
                 "gated": "manual" if _is_gated(repo, card_data) else False,
                 # Derived (a real capture: when it last changed on this disk; a synthetic model: its listing date).
                 "lastModified": repo.last_modified})
    derived = ["_id", "author", "sha", "private", "disabled", "gated", "lastModified"]
    if card_data is None:
        not_captured_fields += ["cardData", "tags", "library_name", "pipeline_tag"]
    else:
        info["tags"] = _derived_tags(card_data)
        for key in ("library_name", "pipeline_tag"):
            if isinstance(card_data.get(key), str):
                info[key] = card_data[key]
        info["cardData"] = card_data
        derived += ["tags", "library_name", "pipeline_tag"]
    if repo.file_list is None:
        not_captured_fields.append("siblings")
    else:
        info["siblings"] = [{"rfilename": f.path} for f in repo.file_list]
        derived.append("siblings")
    synthetic = None
    if isinstance(repo, SyntheticModel):
        row = repo.listing_row
        info["author"] = row.get("author") or info["author"]
        if (row.get("downloads") or "").replace(".", "", 1).isdigit():
            info["downloads"] = int(float(row["downloads"]))
        if row.get("createdAt"):
            info["createdAt"] = row["createdAt"].replace(" ", "T")
        if row.get("pipeline_tag"):
            info["pipeline_tag"] = row["pipeline_tag"]
        synthetic = {"listing_row": row, "card_and_files_from": repo.corpus_path,
                     "note": "synthetic model: id, author, date, downloads and task from a real Hub listing; "
                             "card and file list borrowed from a real captured model"
                             + ("" if repo.round == 1 else f"; id suffixed: the listing read again (round {repo.round})"),
                     **({"mutation": f"{repo.mutation}: a new sha, the card with one line more, modified at replica "
                                     "start"} if repo.mutation else {})}
    if isinstance(repo, SyntheticDataset):
        synthetic = {"named_by": repo.named_by, "card_and_files_from": repo.corpus_path,
                     "note": "synthetic dataset: a captured model card names it, the corpus did not capture it; card "
                             "borrowed from a real captured dataset, gating drawn by the replica"}
    info["_replica"] = {
        "derived": True,
        **({"synthetic": synthetic} if synthetic else {}),
        "derived_fields": derived,
        "not_captured": not_captured_fields,
        # A third-party mirror's list names what it saw, and mirrors omit Git LFS files (the weights): the tree
        # and siblings built from it prove that a file is there, never that one is not.
        "not_exhaustive": ["siblings", "tree"] if repo.file_list is not None and
        (repo.capture or {}).get("files") == "third-party-mirror" else [],
        "capture": repo.capture,
        "corpus_path": repo.corpus_path,
        "note": "derived by the loopback replica from the captured card front matter and file list; "
        "the file list is a third-party mirror's where capture.files says so",
        **({"errors": errors} if errors else {}),
    }
    return info


class HubApi:
    """Routes and answers for the Hub's REST API and its file resolver."""

    def __init__(self, corpus: Corpus, page_size: int = 1000):
        self.corpus = corpus
        self.page_size = page_size
        self._derived: dict[tuple[str, str], dict] = {}
        self._scaled = None  # the listing of a synthetic hub, when the corpus has one

    def repo_json(self, repo: HubRepoCapture) -> dict:
        """The derived JSON of a repo, computed once per server: listings read every repo on every page."""
        if isinstance(repo, ScaledSyntheticModel):
            return scaled_json(repo, compact=False)  # built when asked: a million of them are never all held
        key = (repo.repo_type, repo.repo_id)
        if key not in self._derived:
            self._derived[key] = derive_repo_json(repo)
        return self._derived[key]

    # -- routing ---------------------------------------------------------------------------------------------
    def route(self, method: str, parts: list[str], query: list[tuple[str, str]], base_url: str, path: str) -> Answer | None:
        if parts[:1] == ["api"] and len(parts) >= 2 and parts[1] in ("models", "datasets"):
            repo_type = parts[1][:-1]
            rest = parts[2:]
            if not rest:
                return self.listing(repo_type, query, base_url, path)
            repo_id, tail = "/".join(rest[:2]), rest[2:]
            if len(rest) < 2:
                return hub_error(404, "RepoNotFound", f"Repository not found: {'/'.join(rest)}")
            if not tail:
                return self.repo_info(repo_type, repo_id, None, query)
            if tail[0] == "revision" and len(tail) == 2:
                return self.repo_info(repo_type, repo_id, unquote(tail[1]), query)
            if tail[0] == "tree" and len(tail) >= 2:
                return self.tree(repo_type, repo_id, unquote(tail[1]), "/".join(tail[2:]), query, base_url, path)
            return None
        offset = 1 if parts[:1] == ["datasets"] else 0
        repo_type = "dataset" if offset else "model"
        if len(parts) >= offset + 5 and parts[offset + 2] in ("resolve", "raw"):
            repo_id = "/".join(parts[offset:offset + 2])
            return self.file(repo_type, repo_id, unquote(parts[offset + 3]), "/".join(parts[offset + 4:]), method)
        return None

    # -- answers ---------------------------------------------------------------------------------------------
    def _repo(self, repo_type: str, repo_id: str) -> HubRepoCapture | Answer:
        repo = self.corpus.hub_repo(repo_type, repo_id)
        if repo is None and (named_by := self.corpus.named_by(repo_type, repo_id)):
            # A repo the corpus's own cards name existed when they were captured: not captured is not missing.
            return not_captured(f"{repo_type} {repo_id} (named by {named_by})")
        if repo is None:
            return hub_error(404, "RepoNotFound", f"Repository not found: {repo_type} {repo_id}")
        return repo

    def _check_revision(self, repo: HubRepoCapture, revision: str | None) -> Answer | None:
        if revision in (None, "main", repo.revision_sha):
            return None
        return hub_error(404, "RevisionNotFound", f"Invalid rev id: {revision}")

    def repo_info(self, repo_type: str, repo_id: str, revision: str | None, query) -> Answer:
        repo = self._repo(repo_type, repo_id)
        if isinstance(repo, Answer):
            return repo
        if (bad := self._check_revision(repo, revision)) is not None:
            return bad
        info = self.repo_json(repo)
        expand = _expand_values(query)
        if expand:
            if unknown := sorted(set(expand) - EXPANDABLE):
                return hub_error(400, "BadRequest", f"invalid expand value(s): {', '.join(unknown)}")
            info = {k: v for k, v in info.items() if k in ("_id", "id", "_replica") or k in expand}
        return json_answer(info)

    def listing(self, repo_type: str, query, base_url: str, path: str) -> Answer:
        params = {k: v for k, v in query}
        try:
            offset = decode_cursor(params.get("cursor"))
            limit = min(int(params.get("limit", self.page_size)), self.page_size)
        except ValueError as exc:
            return hub_error(400, "BadRequest", str(exc))
        expand = _expand_values(query)
        if unknown := sorted(set(expand) - EXPANDABLE):
            return hub_error(400, "BadRequest", f"invalid expand value(s): {', '.join(unknown)}")
        if repo_type == "model" and self.corpus.synthetic is not None:
            return self.scaled_listing(query, base_url, path, offset, limit, expand)
        table = self.corpus.models if repo_type == "model" else self.corpus.datasets
        rows = [self.repo_json(repo) for repo in table.values()]
        rows = [row for row in rows if _listing_match(row, query)]
        sort = params.get("sort")
        if sort:
            if sort not in SORTABLE:
                return hub_error(400, "BadRequest", f"invalid sort: {sort}")
            # Descending as the Hub always sorts; rows without the field (not captured) go last, by id.
            rows.sort(key=lambda row: row["id"].lower())
            rows.sort(key=lambda row: (row.get(sort) is not None, row.get(sort) or 0), reverse=True)
        page = rows[offset:offset + limit]
        fields = set(expand) if expand else set(LISTING_DEFAULT_FIELDS)
        if params.get("full") in ("true", "True", "1"):
            fields |= {"siblings", "sha", "lastModified", "gated", "author", "disabled"}
        if params.get("cardData") in ("true", "True", "1"):
            fields.add("cardData")
        # `_replica` stays on every row: what the replica derived, did not capture or holds only partly (a mirror's
        # file list) is said wherever a repo's JSON is served, a listing row included.
        body = [{k: v for k, v in row.items() if k in ("_id", "id", "_replica") or k in fields} for row in page]
        headers = {}
        if offset + limit < len(rows):
            headers["Link"] = next_link(base_url, path, query, offset + limit)
        return json_answer(body, headers=headers)

    def scaled_listing(self, query, base_url: str, path: str, offset: int, limit: int, expand: list[str]) -> Answer:
        """The model listing over a synthetic hub at listing scale (crawler.replica.synthetic): the page is built
        from its cursor alone; the rows' short `_replica` notes are explained once, in the X-Replica-Note header."""
        params = {k: v for k, v in query}
        sort = params.get("sort") or None
        if sort not in ScaledListing.SORTS:
            return hub_error(400, "BadRequest", f"invalid sort: {sort} (a synthetic hub is served sorted by "
                             "lastModified, downloads or createdAt, or in its listing's order)")
        if self._scaled is None:
            real_rows = [self.repo_json(repo) for repo in self.corpus.models.values()]
            self._scaled = ScaledListing(self.corpus.synthetic, real_rows)

        def match(row):
            return _listing_match(row, query)
        author, search = params.get("author", "").lower(), params.get("search", "").lower()
        match.cheap = lambda repo_id: (not author or repo_id.split("/")[0].lower() == author) and \
            (not search or search in repo_id.lower())
        rows, after, total = self._scaled.page(sort, offset, limit, match)
        fields = set(expand) if expand else set(LISTING_DEFAULT_FIELDS)
        if params.get("full") in ("true", "True", "1"):
            fields |= {"siblings", "sha", "lastModified", "gated", "author", "disabled"}
        if params.get("cardData") in ("true", "True", "1"):
            fields.add("cardData")
        body = [{k: v for k, v in row.items() if k in ("_id", "id", "_replica") or k in fields} for row in rows]
        headers = {"X-Replica-Note": ROW_NOTE}
        if after < total:
            headers["Link"] = next_link(base_url, path, query, after)
        text = encode_rows(body)
        return Answer(200, text, headers, etag='W/"%s"' % hashlib.sha1(text).hexdigest())

    def tree(self, repo_type: str, repo_id: str, revision: str, subpath: str, query, base_url: str, path: str) -> Answer:
        repo = self._repo(repo_type, repo_id)
        if isinstance(repo, Answer):
            return repo
        if (bad := self._check_revision(repo, revision)) is not None:
            return bad
        if repo.file_list is None:
            return not_captured(f"file list of {repo_type} {repo.repo_id}")
        params = {k: v for k, v in query}
        recursive = params.get("recursive", "false").lower() in ("true", "1")
        entries = _tree_entries(repo, subpath.strip("/"), recursive)
        if entries is None:
            return hub_error(404, "EntryNotFound", f"{subpath} does not exist on {revision}")
        try:
            offset = decode_cursor(params.get("cursor"))
        except ValueError as exc:
            return hub_error(400, "BadRequest", str(exc))
        headers = {"X-Replica-Derived": "tree from a third-party mirror's file list; sizes approximate; oids derived"}
        if offset + self.page_size < len(entries):
            headers["Link"] = next_link(base_url, path, query, offset + self.page_size)
        return json_answer(entries[offset:offset + self.page_size], headers=headers)

    def file(self, repo_type: str, repo_id: str, revision: str, file_path: str, method: str) -> Answer:
        repo = self._repo(repo_type, repo_id)
        if isinstance(repo, Answer):
            return repo
        if (bad := self._check_revision(repo, revision)) is not None:
            return bad
        file_path = unquote(file_path)
        listed = repo.file_list is not None and any(f.path == file_path for f in repo.file_list)
        captured = repo.captured_files.get(file_path)
        if captured is None and not listed and repo.file_list is not None:
            return hub_error(404, "EntryNotFound", f"{file_path} does not exist on {revision}")
        try:
            card_data = repo.front_matter
        except CorpusError:
            card_data = None
        if _is_gated(repo, card_data) and file_path not in PUBLIC_ON_GATED:
            message = f"Access to model {repo.repo_id} is restricted. You must have access to it and be authenticated to access it. Please log in."
            return hub_error(401, "GatedRepo", message)
        if captured is None:
            return not_captured(f"copy of {file_path} in {repo_type} {repo.repo_id}")
        content = repo.file_bytes(file_path)
        content_type = mimetypes.guess_type(file_path)[0] or "application/octet-stream"
        if content_type.startswith("text/") or file_path.endswith((".md", ".txt", ".json", ".yaml", ".yml")):
            content_type = (content_type if content_type.startswith("text/") else "text/plain") + "; charset=utf-8"
        headers = {"X-Repo-Commit": repo.revision_sha, "Accept-Ranges": "bytes"}
        return Answer(200, content, headers, content_type=content_type, etag='"%s"' % git_blob_sha1(content))


def _expand_values(query) -> list[str]:
    """`expand=a&expand=b` (httpx) and `expand[]=a` (other clients) both mean the same."""
    values = []
    for key, value in query:
        if key in ("expand", "expand[]"):
            values += [v for v in value.split(",") if v]
    return values


def _listing_match(row: dict, query) -> bool:
    tags = set(row.get("tags") or [])
    for key, value in query:
        if key == "search" and value.lower() not in row["id"].lower():
            return False
        if key == "author" and row["id"].split("/")[0].lower() != value.lower():
            return False
        if key == "filter" and not all(v in tags or v == row.get("library_name") for v in value.split(",")):
            return False
        if key == "pipeline_tag" and row.get("pipeline_tag") != value:
            return False
        if key == "gated" and str(bool(row.get("gated"))).lower() != value.lower():
            return False
    return True


def _tree_entries(repo: HubRepoCapture, subpath: str, recursive: bool) -> list[dict] | None:
    files = {f.path: f.size for f in repo.file_list}
    directories = tree_directories(files)
    if subpath and subpath not in directories:
        return None
    prefix = f"{subpath}/" if subpath else ""

    def wanted(path: str) -> bool:
        if not path.startswith(prefix):
            return False
        return recursive or "/" not in path[len(prefix):]

    entries = []
    for directory in sorted(d for d in directories if wanted(d)):
        entries.append({"type": "directory", "oid": git_blob_sha1(directory.encode()), "size": 0, "path": directory})
    for path in sorted(p for p in files if wanted(p)):
        captured = repo.captured_files.get(path)
        oid = git_blob_sha1(captured.read_bytes()) if captured else git_blob_sha1(f"{repo.revision_sha}:{path}".encode())
        entries.append({"type": "file", "oid": oid, "size": files[path] or 0, "path": path})
    return entries
