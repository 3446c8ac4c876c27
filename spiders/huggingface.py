"""The Hugging Face spider: a model and what it points to, crawled completely, politely and incrementally.

Per repo (model or dataset): its JSON, its card at the repo's sha, its whole file tree, its licence, policy and
config files. It follows `base_model` and `datasets` to a bounded depth, and records the GitHub repos and arXiv
papers that the card, tags or `license_link` name as links (the GitHub spider crawls those). Weight files are never
downloaded: the tree says what is there.

It only fetches and yields items; judging happens later over what was stored.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from fnmatch import fnmatch
from itertools import islice

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider

from crawler.ids import BadId, arxiv_id, git_sha, github_repo, hub_repo_id, repo_id_of, shown
from crawler.items import ErrorItem, LinkItem, ListingPageItem, SubjectItem
from crawler.known import parse_time
from crawler.tier0 import DATASET_EXPAND, MODEL_EXPAND
from crawler.middlewares import answer_json
from crawler.hub_json import siblings_name_every_file
from crawler.labels import GITHUB_LINK, github_repos_linked, normalise_github
from crawler.urls import endpoint_url, safe_path
from spiders.base import (EvidenceSpider, KnownRepo, LocalLedger, Refusals, Repo, error_reason, id_list,
                          max_size, subject_id)

# Files fetched besides the card: licences, use policies, notices, and the architecture config.
# Tier `listing`: the ledger's count of listing pages claimed and not yet parsed, in every process of the crawl.
LISTING_WALK = "listing walk"
LISTING_READ = "listing pages read"  # the pages parsed in every process (opened, never closed): the progress
WANTED_FILES = ("license*", "licence*", "use_policy*", "notice*", "config.json")
ARXIV = re.compile(r"arxiv\.org/(?:abs|pdf)/(\d{4}\.\d{4,5})", re.IGNORECASE)
LISTING_EXPAND = ("sha", "gated", "disabled", "private", "lastModified", "tags", "cardData", "library_name",
                  "pipeline_tag", "siblings", "author")


def etag_of(response) -> str | None:
    """The ETag of a resolved file: for a file kept in git (not LFS) the Hub sends its git blob id."""
    value = (response.headers.get(b"ETag") or b"").decode("latin-1").strip()
    return value.removeprefix("W/").strip('"') or None


def not_the_file(response, revision: str | None) -> str | None:
    """Why a 200 answer to a file request is not the Hub's file at `revision`, or None. The Hub's resolve answers
    carry the commit (`X-Repo-Commit`) and an ETag; an answer with neither, or of another commit, came from
    something else on the way (a proxy's page, a corrupted answer)."""
    commit = (response.headers.get(b"X-Repo-Commit") or b"").decode("latin-1").strip()
    if commit and revision and commit != revision:
        return f"the answer is of commit {commit}, not {revision}"
    if not commit and not etag_of(response):
        return "the answer carries neither X-Repo-Commit nor an ETag: not the Hub's file"
    return None


def _strings(value) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [v.strip() for v in values if isinstance(v, str) and v.strip()]


def json_problem(info: object) -> str | None:
    """Why a Hub repo JSON (or a listing row) cannot be used, or None. Its sha becomes part of every file URL, its
    id a stored id, its siblings file URLs: each is checked by its host's rule; the fields read are checked for
    their type (a `siblings` that is a string, a `cardData` that is a list). Card data values themselves (base
    models, datasets) are the card's: checked one by one where they are followed."""
    if not isinstance(info, dict):
        return f"not a JSON object but a {type(info).__name__}"
    try:
        git_sha(info.get("sha"))
        if "id" in info:
            hub_repo_id(info["id"])
    except BadId as exc:
        return str(exc)
    for field, shape in (("siblings", list), ("cardData", dict), ("tags", list)):
        if info.get(field) is not None and not isinstance(info[field], shape):
            return f"its {field} is a {type(info[field]).__name__}, not a {shape.__name__}"
    if not all(isinstance(s, dict) and isinstance(s.get("rfilename"), str) for s in info.get("siblings") or []):
        return "its siblings are not all objects with a string rfilename"
    if refused := unsafe_paths(s["rfilename"] for s in info.get("siblings") or []):
        return f"siblings that are not repo paths: {', '.join(refused)}"
    if not all(isinstance(t, str) for t in info.get("tags") or []):
        return "its tags are not all strings"
    return None


def unsafe_paths(paths) -> list[str]:
    """The first few paths of a file list that may not become part of a URL (`..`, absolute, empty segments),
    quoted."""
    return [shown(p, 60) for p in islice((p for p in paths if not safe_path(p)), 5)]


def wanted_files(paths, license_link: str | None) -> list[str]:
    """Licence, policy, notice and config files at the repo root, plus a relative `license_link` target."""
    chosen = [p for p in paths if "/" not in p and any(fnmatch(p.lower(), pattern) for pattern in WANTED_FILES)]
    if license_link and "://" not in license_link and license_link.strip("./") in paths:
        chosen.append(license_link.strip("./"))
    return sorted(set(chosen))


def graph_targets(info: dict) -> list[tuple[str, str, str]]:
    """(type, id, relation) of the base models and datasets a repo JSON names, in the card data (`base_model` as a
    string or a list, `base_model_relation`, `datasets`) or in the tags the Hub derives (`base_model:<id>`,
    `base_model:<relation>:<id>`, `dataset:<id>`). The most specific relation wins."""
    card_data = info.get("cardData") if isinstance(info.get("cardData"), dict) else {}
    relation = "base_model"
    if _strings(card_data.get("base_model_relation")):
        relation += ":" + _strings(card_data.get("base_model_relation"))[0]
    models = {base: relation for base in _strings(card_data.get("base_model"))}
    datasets = dict.fromkeys(_strings(card_data.get("datasets")), "dataset")
    for tag in _strings(info.get("tags")):
        kind, _, rest = tag.partition(":")
        if kind == "base_model" and rest:
            parts = rest.split(":", 1)
            if len(parts) == 2 and "/" not in parts[0]:  # base_model:<relation>:<id>
                models[parts[1]] = f"base_model:{parts[0]}"
            else:
                models.setdefault(rest, "base_model")
        elif kind == "dataset" and rest:
            datasets.setdefault(rest, "dataset")
    return [("model", m, r) for m, r in models.items()] + [("dataset", d, r) for d, r in datasets.items()]


class HuggingFaceSpider(EvidenceSpider):
    name = "huggingface"
    source = "huggingface"
    endpoint = ("hf_endpoint", "HF_ENDPOINT")
    # Not versioned ("" as before stores recorded it): what it fetches of a model has not changed, and a new value
    # fetches every unchanged model on the Hub again (days of the API budget). Give it one when WANTED_FILES or the
    # calls per model change.
    fetch_rules = ""

    def __init__(self, hf_endpoint: str, model_ids: list[str] = (), github_repos: list[str] = (),
                 known: Mapping[str, KnownRepo] | None = None,
                 max_depth: int = 2, full: bool = False, discover: dict | None = None,
                 watermark: str | None = None, follow_unchanged: bool = True, tier: str = "deep", **kwargs):
        super().__init__(known=known, full=full, **kwargs)
        # Tier `listing` (issue 33, tier 0): the listing pages are the whole crawl. Each page is one item (its rows,
        # reduced by the writer to what the tier-0 judge reads) and the next page is asked at once: no repo is
        # registered for the deep crawl, so nothing is held back and memory stays one page. The dataset listing is
        # walked too (the judge joins named datasets to it). `deep` (the default) is the crawl as before.
        if tier not in ("deep", "listing"):
            raise ValueError(f"tier {tier!r}: expected deep or listing")
        self.tier = tier
        # Incremental mode: the listing, newest change first, is walked down to this lastModified and no further;
        # the newest lastModified seen becomes the next run's watermark.
        self.watermark = parse_time(watermark) if watermark else None
        self.newest_modified: str | None = None
        self.listing_failed = False  # a page that failed: the walk is not whole, so no new watermark
        # Whether an unchanged repo's base models and datasets are asked again (conditional requests); an
        # incremental run asks only what changed repos link to.
        self.follow_unchanged = follow_unchanged
        self.hf_endpoint = hf_endpoint.rstrip("/")
        self.model_ids = list(dict.fromkeys(model_ids))
        self.github_repos = list(dict.fromkeys(github_repos))
        self.max_depth = max_depth
        self.discover = discover
        # Lazy listing: the repos taken from listing pages still being crawled, and the next page, held until few
        # enough of them remain (setting LISTING_PENDING_REPOS).
        self.listed_open: set[str] = set()
        self.held_listing: scrapy.Request | None = None
        self.walk_progress: tuple[int, float] | None = None  # tier listing: (pages read anywhere, when it changed)

    @property
    def base_url(self) -> str:
        return self.hf_endpoint

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._on_idle, signal=signals.spider_idle)
        return spider

    @classmethod
    def parse_arguments(cls, kwargs: dict) -> dict:
        kwargs = super().parse_arguments(kwargs)
        for name in ("model_ids", "github_repos"):
            if name in kwargs:
                kwargs[name] = id_list(kwargs[name])
        if isinstance(kwargs.get("max_depth"), str):
            kwargs["max_depth"] = int(kwargs["max_depth"])
        if isinstance(kwargs.get("discover"), str):
            kwargs["discover"] = json.loads(kwargs["discover"])  # e.g. {"sort": "lastModified", "limit": 100}
        if isinstance(kwargs.get("incremental"), str):  # the nightly mode, as `openness crawl --incremental` runs it
            if kwargs.pop("incremental").lower() in ("1", "true", "yes"):
                # Only what changed, of what was asked: the named models, or the listing when `discover` is given
                # (newest change first, down to the watermark); never the listing for models that were named.
                if kwargs.get("discover") is None and not kwargs.get("model_ids") and \
                        not kwargs.get("github_repos"):
                    raise ValueError("incremental=true rechecks what was asked, and nothing was: give model_ids "
                                     "(or github_repos) to recheck those, or discover (JSON listing filters, {} "
                                     "for the whole Hub) to walk the listing down to the last run's watermark")
                kwargs["follow_unchanged"] = False
                if kwargs.get("discover") is not None:
                    kwargs["discover"]["sort"] = "lastModified"
        return kwargs

    async def start(self):
        refused = Refusals()
        for model_id in self.model_ids:
            try:
                hub_repo_id(model_id, "Hugging Face model id")
            except BadId as exc:
                refused.append(str(exc))
                continue
            request = self._repo_request("model", model_id, depth=0)
            if request:
                yield request
        if self.discover is not None and (request := self._listing_request(self._listing_url(), taken=0)):
            yield request
        if self.discover is not None and self.tier == "listing" and (request := self._listing_request(
                self._listing_url("dataset"), taken=0, repo_type="dataset")):
            yield request
        for full_name in self.github_repos:
            try:
                github_repo(full_name)
            except BadId as exc:
                refused.append(str(exc))
                continue
            yield SubjectItem(f"gh:{full_name}", "code", "github", full_name,
                              endpoint_url("https://github.com", full_name), status="queued",
                              note="named by a label file; crawled by the GitHub spider")
        for item in self._refused_ids(f"{self.name}: start", None, None, refused):
            yield item

    # -- discovery -----------------------------------------------------------------------------------------------
    def _listing_url(self, repo_type: str = "model") -> str:
        if repo_type == "dataset":  # tier 0's join table: the whole dataset listing, unfiltered
            params = [("limit", "1000")] + [("expand", field) for field in DATASET_EXPAND]
            return endpoint_url(self.hf_endpoint, "api", "datasets", query=params)
        params = [(k, v) for k, v in (("author", self.discover.get("author")), ("search", self.discover.get("search")),
                                      ("pipeline_tag", self.discover.get("pipeline_tag")),
                                      ("sort", self.discover.get("sort"))) if v]
        limit = self.discover.get("limit")
        params.append(("limit", str(min(limit, 1000) if limit else 1000)))
        params += [("expand", field) for field in (MODEL_EXPAND if self.tier == "listing" else LISTING_EXPAND)]
        return endpoint_url(self.hf_endpoint, "api", "models", query=params)

    def _listing_request(self, url: str, taken: int, page: int = 0, repo_type: str = "model"
                         ) -> scrapy.Request | None:
        """A listing page not asked for yet in this crawl (by any crawler process)."""
        if not self.ledger.claim(f"listing:{url}"):
            return None
        if self.tier == "listing":
            self.ledger.opened(LISTING_WALK)  # closed once the page is parsed, after its next page is opened
        self._count("listing" if repo_type == "model" else "dataset_listing")
        callback = self.parse_listing if self.tier == "deep" else self.parse_listing_page
        return scrapy.Request(url, callback=callback, errback=self.on_listing_failure,
                              cb_kwargs={"taken": taken, "page": page, "repo_type": repo_type} if self.tier ==
                              "listing" else {"taken": taken, "page": page}, dont_filter=True,
                              meta={"kind": "listing", "budget": "api", "download_maxsize": max_size("listing")})

    def parse_listing_page(self, response, taken: int, page: int = 0, repo_type: str = "model"):
        """Tier `listing`: the page's usable rows as one ListingPageItem, then the next page at once. Failures,
        the limit, the watermark and the page bounds as in parse_listing."""
        try:
            yield from self._listing_page(response, taken, page, repo_type)
        finally:
            self.ledger.opened(LISTING_READ)  # a count that only grows: the walk's progress, in every process
            self.ledger.closed(LISTING_WALK)

    @staticmethod
    def _listing_rows(response) -> tuple[list, ErrorItem | None]:
        """A listing page's rows, or the error that refuses the page (not answered, or not a JSON list)."""
        if response.status != 200:
            return [], ErrorItem("huggingface", None, response.url, "listing", response.status, error_reason(response))
        try:
            rows = answer_json(response.body)
        except ValueError:
            rows = None
        if not isinstance(rows, list):
            return [], ErrorItem("huggingface", None, response.url, "listing", response.status,
                                 "listing is not a JSON list")
        return rows, None

    def _listing_page(self, response, taken: int, page: int, repo_type: str):
        rows, refused = self._listing_rows(response)
        if refused is not None:
            self.listing_failed = True
            yield refused
            return
        limit = self.discover.get("limit") if repo_type == "model" else None
        kept, ended = [], False
        for row in rows:
            if limit and taken >= limit:
                ended = True
                break
            if not isinstance(row, dict) or not isinstance(row.get("id"), str):
                continue
            if repo_type == "model" and self._past_watermark(row):
                ended = True  # sorted newest change first: every row from here on is older than the last run
                break
            if (problem := json_problem(row)) is not None:
                yield ErrorItem("huggingface", None, response.url, f"{repo_type}_json", response.status,
                                f"listing row unreadable: {problem}: {json.dumps(row)[:120]}")
                continue
            try:
                repo_id_of(repo_type, row["id"])
            except BadId as exc:
                yield ErrorItem("huggingface", None, response.url, f"{repo_type}_json", response.status,
                                f"listing row refused: {exc}")
                continue
            kept.append(row)
            taken += 1
        self.crawler.stats.inc_value(f"openness/listed/{repo_type}s", len(kept))
        if kept:
            yield ListingPageItem(repo_type, kept, response.url)
        if ended:
            return
        next_url, recorded = self._next_page(response, None, "listing", page)
        if recorded:
            self.listing_failed = True
            yield from recorded
        if next_url is not None and (request := self._listing_request(next_url, taken, page + 1, repo_type)):
            yield request

    def parse_listing(self, response, taken: int, page: int = 0):
        """One listing page gives the metadata of many models: no per-model JSON request is needed."""
        rows, refused = self._listing_rows(response)
        if refused is not None:
            self.listing_failed = True
            yield refused
            return
        limit = self.discover.get("limit")
        for row in rows:
            if limit and taken >= limit:
                return
            if not isinstance(row, dict) or not isinstance(row.get("id"), str):
                continue
            if self._past_watermark(row):
                return  # sorted newest change first: every row from here on is older than the last run
            if (problem := json_problem(row)) is not None:
                yield ErrorItem("huggingface", None, response.url, "model_json", response.status,
                                f"listing row unreadable: {problem}: {json.dumps(row)[:120]}")
                continue
            repo = self._register("model", row["id"], depth=0)
            if repo is None:
                continue  # named as a seed too, or taken by another crawler process
            taken += 1
            self._opened(repo)
            self.listed_open.add(repo.subject.lower())
            yield from self._on_repo_json(response, repo, row, json.dumps(row, sort_keys=True).encode())
        if limit and taken >= limit:
            return
        next_url, recorded = self._next_page(response, None, "listing", page)
        if recorded:
            self.listing_failed = True  # a next page refused or not taken: the walk is not whole
            yield from recorded
        if next_url is not None:
            self.held_listing = self._listing_request(next_url, taken, page + 1)
            yield from self._release_listing()

    def _release_listing(self):
        """The held next listing page, once fewer listed repos than LISTING_PENDING_REPOS are still open."""
        if self.held_listing is not None and \
                len(self.listed_open) < self.crawler.settings.getint("LISTING_PENDING_REPOS", 500):
            yield self._take_held_listing()

    def _take_held_listing(self) -> scrapy.Request:
        request, self.held_listing = self.held_listing, None
        return request

    def _finished(self, repo: Repo):
        self.listed_open.discard(repo.subject.lower())
        yield from self._release_listing()

    def _on_idle(self):
        """Nothing left to fetch but a held listing page (its repos all finished elsewhere): ask for it now. Tier
        `listing` with a ledger shared by other crawler processes: stay open while a listing page is still being
        read anywhere, for its next page may come to this process (the walk's pages are queued one by one)."""
        if self.held_listing is not None:
            self.crawler.engine.crawl(self._take_held_listing())
            raise DontCloseSpider
        if self.tier == "listing" and not isinstance(self.ledger, LocalLedger) and \
                self.ledger.open_count(LISTING_WALK) > 0:
            # Not for ever: a crawler that died reading a page leaves it open; once no page was read anywhere for
            # MAX_REQUEST_TIME (no request of a live crawler takes longer), this one closes.
            read, now = self.ledger.open_count(LISTING_READ), time.monotonic()
            if self.walk_progress is None or self.walk_progress[0] != read:
                self.walk_progress = (read, now)
            if now - self.walk_progress[1] < self.settings.getfloat("MAX_REQUEST_TIME", 900.0):
                raise DontCloseSpider

    @property
    def watermark_seen(self) -> str | None:
        """The newest lastModified of a listing walked without a failed page; None otherwise (the next run must
        walk again from the old watermark)."""
        return None if self.listing_failed else self.newest_modified

    def _past_watermark(self, row: dict) -> bool:
        """Keep the newest lastModified seen; True once a row is older than the watermark (rows as old as it are
        still checked: a change in the same instant as the last run must not be missed)."""
        modified = parse_time(row.get("lastModified"))
        if modified is None:
            return False  # no time to compare: check it (its sha says whether anything changed)
        if self.newest_modified is None or modified > parse_time(self.newest_modified):
            self.newest_modified = row["lastModified"]
        return self.watermark is not None and modified < self.watermark

    def on_listing_failure(self, failure):
        self.listing_failed = True
        if self.tier == "listing":
            self.ledger.closed(LISTING_WALK)
        yield ErrorItem("huggingface", None, failure.request.url, "listing", None,
                        f"{failure.type.__name__}: {failure.getErrorMessage()}")

    # -- repos ---------------------------------------------------------------------------------------------------
    def _repo_request(self, repo_type: str, repo_id: str, depth: int) -> scrapy.Request | None:
        """The JSON request of a repo not seen yet in this crawl (each repo is crawled once)."""
        repo = self._register(repo_type, repo_id, depth)
        if repo is None or (depth > 0 and self._missing_lately(repo)):
            return None  # crawled already in this run, or a followed link that answered 404 lately
        request = self._request(repo, endpoint_url(self.hf_endpoint, "api", f"{repo_type}s", repo_id),
                                self.parse_repo_json, f"{repo_type}_json", "api")
        known = self.known.get(repo.subject.lower())
        if known and known.json_etag:
            request.headers[b"If-None-Match"] = known.json_etag.encode("latin-1")
        return request

    def _not_modified(self, repo: Repo):
        """304 on the repo's JSON: same revision as the last complete crawl; fetch nothing, and follow its known
        links unless the run follows changed repos only."""
        known = self.known[repo.subject.lower()]
        repo.revision = known.revision
        self.crawler.stats.inc_value("openness/not_modified")
        self._count_repo("unchanged")
        yield SubjectItem(repo.subject, repo.repo_type, "huggingface", repo.repo_id, self._page_url(repo),
                          revision=repo.revision, touch_only=True)
        for target_type, target_id, _ in known.follows if self.follow_unchanged else ():
            if repo.depth < self.max_depth:
                request = self._repo_request(target_type, target_id, repo.depth + 1)
                if request:
                    yield request
        yield from self._done(repo)

    def parse_repo_json(self, response, repo: Repo):
        kind = f"{repo.repo_type}_json"
        if response.status == 304 and repo.subject.lower() in self.known:
            yield from self._not_modified(repo)
            return
        if response.status != 200:
            yield from self._unavailable_repo(response, repo, kind)
            yield from self._done(repo)
            return
        try:
            info = answer_json(response.body)
        except ValueError:
            info, problem = None, "not JSON"
        else:
            problem = json_problem(info)
        if problem is not None:
            # Not stored, nothing followed: what was stored before stays the repo's last complete state.
            yield self._unreadable_answer(response, repo, kind, problem)
            yield SubjectItem(repo.subject, repo.repo_type, "huggingface", repo.repo_id, self._page_url(repo),
                              status="error", note=f"{kind} unreadable")
            yield from self._done(repo)
            return
        if response.meta.get("redirect_urls"):
            yield from self._renamed(response, repo, info)
        yield from self._on_repo_json(response, repo, info, body=None)

    def _on_repo_json(self, response, repo: Repo, info: dict, body: bytes | None):
        """Store the repo's JSON (`body`: a listing row, else the response), follow its links, and fetch its files
        unless its sha is unchanged."""
        repo.revision = info["sha"]
        kind = f"{repo.repo_type}_json"
        yield self._artifact(response, repo, kind, body=body, path=None)
        gated = info.get("gated") or False
        yield SubjectItem(repo.subject, repo.repo_type, "huggingface", repo.repo_id, self._page_url(repo),
                          revision=repo.revision, status="gated" if gated else "ok", gated=str(gated))
        known = self.known.get(repo.subject.lower())
        known = known.revision if known else None
        yield from self._follow_json_links(response, repo, info,
                                           crawl=known != repo.revision or self.follow_unchanged)
        if known == repo.revision:
            self._count_repo("unchanged")
        else:
            self._count_repo("changed" if known else "new")
            card_data = info.get("cardData") if isinstance(info.get("cardData"), dict) else {}
            license_link = next(iter(_strings(card_data.get("license_link"))), None)
            siblings = [s["rfilename"] for s in info.get("siblings") or []]
            yield self._request(repo, self._file_url(repo, "README.md"), self.parse_card, "card", "resolvers")
            if siblings_name_every_file(info):
                # The Hub's siblings name every file of the repo at this sha: the tree call (API budget) would
                # only add sizes, which no judgement needs.
                self.crawler.stats.inc_value("openness/trees_from_siblings")
                yield from self._file_requests(repo, siblings, license_link)
            else:
                yield self._request(repo, self._tree_url(repo), self.parse_tree, "tree", "api", page=0,
                                    siblings=siblings, license_link=license_link)
        yield from self._done(repo)

    def _unavailable_repo(self, response, repo: Repo, kind: str):
        code = response.headers.get(b"X-Error-Code", b"").decode("latin-1")
        message = response.headers.get(b"X-Error-Message", b"").decode("latin-1")
        if "disabled" in message.lower():
            status = "disabled"
        elif response.status == 404:
            status = "missing"
        elif response.status in (401, 403) and code != "GatedRepo":
            status = "private"  # the Hub answers 401 for private (and unknown) repos to an anonymous client
        elif response.status == 501 and code == "NotCaptured":
            status = "not captured"  # a replica or mirror that holds no copy: it exists, its content is unknown
        else:
            status = "error"
        yield SubjectItem(repo.subject, repo.repo_type, "huggingface", repo.repo_id, self._page_url(repo),
                          status=status, note=error_reason(response))
        if status in ("error", "missing", "disabled", "not captured"):
            yield ErrorItem("huggingface", repo.subject, response.url, kind, response.status, error_reason(response))

    def _renamed(self, response, repo: Repo, info: dict):
        new_id = info.get("id")
        if isinstance(new_id, str) and new_id.lower() != repo.repo_id.lower():
            yield LinkItem(repo.subject, subject_id(repo.repo_type, new_id), "renamed_to", response.url, info["sha"])

    def _capped(self, response, repo: Repo, group: str, values: list, bounds: list) -> list:
        """The first LINKS_PER_CARD[group] of the links an answer names; the rest dropped, the bound reached added
        to `bounds` (recorded by the caller once its links are out)."""
        cap = self._cap("LINKS_PER_CARD", group)
        if len(values) > cap:
            bounds.append(self._bound(response.url, repo.subject, response.status, "LINKS_PER_CARD", group,
                                      f"{len(values)} {group} links named"))
        return values[:cap]

    def _follow_json_links(self, response, repo: Repo, info: dict, crawl: bool = True):
        """Base models and datasets named in the card data, arXiv papers in the tags: link, and crawl to depth;
        nothing for an unchanged repo a nightly run does not follow (`crawl` False): its links at this revision are
        stored already. An id that breaks its host's rules (a path, a URL, 311 characters, a Cyrillic letter) is
        refused and recorded; at most LINKS_PER_CARD of each kind are followed."""
        if not crawl:
            return
        refused, targets = Refusals(), {"base_model": [], "dataset": []}
        for target_type, target_id, rel in graph_targets(info):
            try:
                repo_id_of(target_type, target_id)
            except BadId as exc:
                refused.append(f"{rel}: {exc}")
                continue
            targets["dataset" if target_type == "dataset" else "base_model"].append((target_type, target_id, rel))
        papers, licence_repos = [], []
        for tag in _strings(info.get("tags")):
            if tag.startswith("arxiv:"):
                try:
                    papers.append(f"arxiv:{arxiv_id(tag[6:])}")
                except BadId as exc:
                    refused.append(f"tag: {exc}")
        card_data = info.get("cardData") if isinstance(info.get("cardData"), dict) else {}
        for link in _strings(card_data.get("license_link")):
            licence_repos += self._github_repos(GITHUB_LINK.finditer(link), refused)
        bounds = []
        for group, found in targets.items():
            for target_type, target_id, rel in self._capped(response, repo, group, found, bounds):
                yield LinkItem(repo.subject, subject_id(target_type, target_id), rel, response.url, repo.revision)
                if repo.depth < self.max_depth:
                    request = self._repo_request(target_type, target_id, repo.depth + 1)
                    if request:
                        yield request
        for paper in self._capped(response, repo, "paper", papers, bounds):
            yield LinkItem(repo.subject, paper, "paper", response.url, repo.revision)
        for github in self._capped(response, repo, "github", licence_repos, bounds):
            yield LinkItem(repo.subject, f"gh:{github}", "licence_link", response.url, repo.revision)
        yield from bounds
        yield from self._refused_ids(response.url, response.status, repo.subject, refused)

    @staticmethod
    def _github_repos(matches, refused: Refusals) -> list[str]:
        """owner/repo of GitHub link matches, once each, by GitHub's rules (the others added to `refused`)."""
        found = {}
        for match in matches:
            name = normalise_github(match.group(1), match.group(2))
            try:
                found.setdefault(github_repo(name).lower(), name)
            except BadId as exc:
                refused.append(f"GitHub link: {exc}")
        return list(found.values())

    # -- files ---------------------------------------------------------------------------------------------------
    def _suspect_file(self, response, repo: Repo, kind: str):
        """Record and refuse a 200 answer that is not the file asked for (HTML, another commit, other bytes)."""
        if (yield from self._html_instead(response, repo, kind)):
            return True
        if (why := not_the_file(response, repo.revision)) is not None:
            self.ledger.mark_failed(repo.subject)
            yield ErrorItem("huggingface", repo.subject, response.url, kind, response.status, f"{kind}: {why}")
            return True
        return (yield from self._not_the_blob(response, repo, kind, etag_of(response)))

    def parse_card(self, response, repo: Repo):
        if response.status == 200 and (yield from self._suspect_file(response, repo, "card")):
            yield from self._done(repo)
            return
        if response.status == 200:
            yield self._artifact(response, repo, "card", path="README.md")
            text = response.text if hasattr(response, "text") else response.body.decode("utf-8", "replace")
            yield from self._card_links(response, repo, text)
        else:
            yield from self._failed_file(response, repo, "card")
        yield from self._done(repo)

    def _card_links(self, response, repo: Repo, text: str):
        """GitHub repos and arXiv papers the card links to: those that break GitHub's rules refused and recorded,
        at most LINKS_PER_CARD of each kind."""
        refused, repos = Refusals(), []
        for name in github_repos_linked(text):
            try:
                repos.append(github_repo(name))
            except BadId as exc:
                refused.append(f"GitHub link: {exc}")
        bounds = []
        for name in self._capped(response, repo, "github", repos, bounds):
            yield LinkItem(repo.subject, f"gh:{name}", "code_repo", response.url, repo.revision)
        papers = sorted({m.group(1) for m in ARXIV.finditer(text)})
        for paper in self._capped(response, repo, "paper", papers, bounds):
            yield LinkItem(repo.subject, f"arxiv:{paper}", "paper", response.url, repo.revision)
        yield from bounds
        yield from self._refused_ids(response.url, response.status, repo.subject, refused)

    def parse_tree(self, response, repo: Repo, page: int, siblings: list, license_link: str | None, paths=()):
        if response.status != 200:
            yield from self._failed_file(response, repo, "tree")
            # The JSON's siblings still name the files, so licence files can be fetched without the tree.
            yield from self._file_requests(repo, [s for s in siblings if s], license_link)
            yield from self._done(repo)
            return
        try:
            entries = answer_json(response.body)
            assert isinstance(entries, list)
            page_paths = [e["path"] for e in entries if isinstance(e, dict) and e.get("type") == "file"
                          and isinstance(e.get("path"), str)]
        except (ValueError, AssertionError):
            # Not stored: a broken page must not stand for the tree; the repo stays incomplete for the next run.
            self.ledger.mark_failed(repo.subject)
            yield ErrorItem("huggingface", repo.subject, response.url, "tree", response.status,
                            f"tree page unreadable: not a JSON list ({len(response.body)} bytes)")
            yield from self._done(repo)
            return
        if refused := unsafe_paths(page_paths):
            # Neither stored nor followed, as a page that does not parse: no Hub file is named `../x`.
            yield self._unreadable_answer(response, repo, "tree", f"paths that are not repo paths: "
                                                                  f"{', '.join(refused)}")
            yield from self._done(repo)
            return
        yield self._artifact(response, repo, "tree", path=f"page-{page}")
        paths = [*paths, *page_paths]
        next_url, recorded = self._next_page(response, repo, "tree", page)
        yield from recorded
        if next_url is not None:
            yield self._request(repo, next_url, self.parse_tree, "tree", "api", page=page + 1, siblings=siblings,
                                license_link=license_link, paths=paths)
        else:
            yield from self._file_requests(repo, paths, license_link)
        yield from self._done(repo)

    def _file_requests(self, repo: Repo, paths, license_link: str | None):
        for path in wanted_files(paths, license_link):
            yield self._request(repo, self._file_url(repo, path), self.parse_file, "file", "resolvers", path=path)

    def parse_file(self, response, repo: Repo, path: str):
        if response.status == 200 and (yield from self._suspect_file(response, repo, "file")):
            yield from self._done(repo)
            return
        if response.status == 200:
            yield self._artifact(response, repo, "file", path=path)
        else:
            yield from self._failed_file(response, repo, "file")
        yield from self._done(repo)

    def _failed_file(self, response, repo: Repo, kind: str):
        if response.headers.get(b"X-Error-Code") == b"GatedRepo":
            # Gated is a fact about the repo, not a failure: the subject is already marked gated.
            self.crawler.stats.inc_value("openness/gated_files")
            return
        yield from self._failed(response, repo, kind)

    # -- helpers -------------------------------------------------------------------------------------------------
    def _prefix(self, repo: Repo) -> str:
        return endpoint_url(self.hf_endpoint, "datasets", repo.repo_id) if repo.repo_type == "dataset" else \
            endpoint_url(self.hf_endpoint, repo.repo_id)

    def _file_url(self, repo: Repo, path: str) -> str:
        return endpoint_url(self._prefix(repo), "resolve", repo.revision, path)

    def _tree_url(self, repo: Repo) -> str:
        return endpoint_url(self.hf_endpoint, "api", f"{repo.repo_type}s", repo.repo_id, "tree", repo.revision,
                            query={"recursive": "true"})

    def _page_url(self, repo: Repo) -> str:
        return self._prefix(repo)

