"""What both spiders share: repos tracked through their open requests, artifacts, errors, counts.

A repo is complete when every request made for it has been answered (or recorded as failed); its revision is then
the mark an incremental crawl compares against. Which repos are claimed and how many requests each has open is
kept in a ledger (`Ledger`): in this process (`LocalLedger`), or shared by every crawler process of a distributed
crawl (`crawler.ops.distributed.RedisLedger`), so each repo is crawled once and completed by whichever process
answers its last request. The spiders import nothing of the distributed mode: its settings name the function that
hands a spider the shared ledger (`OPENNESS_SPIDER_CONTEXT`), and what both use (`KnownRepo`, the GitHub targets'
priorities) lives in crawler/known.py, so the imports point one way, from spiders/ to crawler/.

What a server answers never steers a request: ids pass the hosts' rules (`crawler.ids`) before they are registered,
URLs are built from quoted parts (`crawler.urls`), `Link: rel="next"` is followed only on the spider's endpoint and
never back to a page read already, and pages per answer and links per card are bounded by settings
(PAGES_PER_RESOURCE, LINKS_PER_CARD); a refusal is recorded against the answer's URL, a bound reached too.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import scrapy
from scrapy.utils.misc import load_object

from crawler import settings as default_settings
from crawler.gitblob import git_blob_sha1
from crawler.ids import BadId, repo_id_of
from crawler.items import ArtifactItem, CompletedItem, ErrorItem
from crawler.known import KnownRepo  # noqa: F401 (spiders and tests name it here too)
from crawler.middlewares import html_page
from crawler.signals import subject_done, subject_found
from crawler.urls import UnsafeUrl, next_page, page_key


# The most a document of each kind may weigh: past it Scrapy stops the download and the spider records the
# truncation (a 5 GB "README" must cost nothing). Trees and listings are JSON of many entries; cards and licence
# texts are prose.
MAX_BYTES = {"card": 16_000_000, "file": 8_000_000, "gh_file": 8_000_000, "gh_readme": 16_000_000,
             "tree": 64_000_000, "gh_tree": 64_000_000, "listing": 64_000_000}
MAX_JSON_BYTES = 16_000_000  # repo JSON, head, releases


def max_size(kind: str) -> int:
    return MAX_BYTES.get(kind, MAX_JSON_BYTES)


def id_list(value) -> list[str]:
    """A list argument: a Python list, or a comma-separated string (`-a model_ids=a/b,c/d`)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return list(value or ())


def error_reason(response) -> str:
    """A failed answer in words: status, the server's error code and message where it sent them."""
    code = response.headers.get(b"X-Error-Code", b"").decode("latin-1")
    message = response.headers.get(b"X-Error-Message", b"").decode("latin-1")
    return " ".join(part for part in (f"HTTP {response.status}", code, message) if part)


def subject_id(repo_type: str, repo_id: str) -> str:
    """`hf:model:<id>`, `hf:dataset:<id>`, `gh:<owner/repo>`."""
    return f"gh:{repo_id}" if repo_type == "github" else f"hf:{repo_type}:{repo_id}"


class Refusals:
    """The ids an answer names that break their host's rules: how many, and the first few in words (a card naming
    100,000 look-alikes costs a count, not 100,000 messages kept)."""

    SHOWN = 5

    def __init__(self):
        self.count, self.first = 0, []

    def append(self, why: str) -> None:
        self.count += 1
        if len(self.first) < self.SHOWN:
            self.first.append(why)


class FetchedAlike(Mapping):
    """What the store knows, less the repos a spider's older file rules crawled: to a spider that now fetches more
    of a repo (another `fetch_rules`), such a repo is new, so its files are fetched again once. A 404 stays known."""

    def __init__(self, known: Mapping[str, KnownRepo], fetch_rules: str):
        self.known, self.fetch_rules = known, fetch_rules

    def __getitem__(self, key: str) -> KnownRepo:
        found = self.known[key]
        if found.missing or found.fetch_rules == self.fetch_rules:
            return found
        raise KeyError(key)

    def __iter__(self):
        return (key for key in self.known if key in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass
class Repo:
    """A repo being crawled: what kind, at which depth of the graph, at which revision. It travels with its
    requests (in a distributed crawl, serialized in the shared queue), so it holds no counters: the ledger does."""

    repo_type: str  # model | dataset | github
    repo_id: str
    depth: int = 0
    revision: str | None = None
    priority: int = 0

    @property
    def subject(self) -> str:
        return subject_id(self.repo_type, self.repo_id)


class ClaimedKeys:
    """The keys a crawl has claimed, every repo and listing page it met, in a private temporary SQLite database
    (SQLite deletes its file when the crawl ends). A set in memory grew by about 180 bytes a listed repo, 360 MB for
    the Hub's 2M models, for the whole run; here memory stays at SQLite's page cache (2 MB), at 4 µs a claim.
    The standard library's sqlite3 rather than its dbm: a temporary database needs no path of ours to make or
    remove."""

    def __init__(self):
        # "" opens a temporary on-disk database of this connection alone; nothing here needs to survive a crash.
        self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute("CREATE TABLE claimed (key TEXT PRIMARY KEY) WITHOUT ROWID")

    def add(self, key: str) -> bool:
        """True when `key` was not claimed before (and is now)."""
        return self._db.execute("INSERT OR IGNORE INTO claimed VALUES (?)", (key,)).rowcount == 1


class Ledger(Protocol):
    """The bookkeeping a spider needs, kept in this process (`LocalLedger`) or shared by the processes of a
    distributed crawl (`crawler.ops.distributed.RedisLedger`). Keys are compared without case."""

    def claim(self, key: str) -> bool:
        """True for the first claim of `key` in this crawl (a repo, a listing page, a page read)."""

    def opened(self, subject: str) -> None:
        """One more request of the repo is open."""

    def closed(self, subject: str) -> int:
        """One request of the repo answered; how many remain open."""

    def open_count(self, subject: str) -> int:
        """How many requests of the repo (or of a listing walk) are open now, in every process sharing the ledger."""

    def mark_failed(self, subject: str) -> None:
        """The repo's revision is incomplete: the next run asks again."""

    def has_failed(self, subject: str) -> bool:
        """Whether mark_failed was called for the repo in this crawl."""

    def tally(self, key: str) -> int:
        """Count one more of `key` (e.g. the sub-tree levels walked of a repo); the count now."""


class LocalLedger:
    """The crawl's bookkeeping in this process: claimed keys (a repo, a listing page), open requests per repo, and
    repos hit by a transient failure (a network failure or a 5xx other than 501 NotCaptured leaves the revision
    incomplete, so the next run refetches)."""

    def __init__(self):
        self.claimed = ClaimedKeys()
        self.pending: Counter = Counter()
        self.failed: set[str] = set()
        # In memory: kept only for what is rare (a GitHub tree truncated), never one entry per repo.
        self.tallies: Counter = Counter()

    def claim(self, key: str) -> bool:
        """True for the first claim of `key` in this crawl."""
        return self.claimed.add(key.lower())

    def opened(self, subject: str) -> None:
        self.pending[subject.lower()] += 1

    def closed(self, subject: str) -> int:
        """One request answered; returns how many remain open (a finished repo is dropped)."""
        self.pending[subject.lower()] -= 1
        left = self.pending[subject.lower()]
        if left <= 0:
            del self.pending[subject.lower()]
        return left

    def open_count(self, subject: str) -> int:
        return self.pending.get(subject.lower(), 0)

    def mark_failed(self, subject: str) -> None:
        self.failed.add(subject.lower())

    def has_failed(self, subject: str) -> bool:
        return subject.lower() in self.failed

    def tally(self, key: str) -> int:
        self.tallies[key.lower()] += 1
        return self.tallies[key.lower()]


class EvidenceSpider(scrapy.Spider):
    """Base of our spiders: subclasses set `source` and call `_register`, `_request`, `_artifact`, `_done`."""

    source = ""
    endpoint = ("", "")  # (spider argument, Scrapy setting) of the API base URL
    fetch_rules = ""  # what the spider fetches of a repo, recorded with each complete mark (FetchedAlike)

    def __init__(self, known: Mapping[str, KnownRepo] | None = None, full: bool = False, ledger: Ledger | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        # A mapping that may ask the store: never its length.
        self.known = {} if full or known is None else FetchedAlike(known, self.fetch_rules)
        self.ledger = ledger or LocalLedger()

    @property
    def base_url(self) -> str:
        """The endpoint this spider asks (without a trailing slash): every URL it builds starts with it, and a
        pagination link is followed only when it does."""
        raise NotImplementedError

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        """Arguments as Python values (from `openness crawl`) or as `-a name=value` strings (`scrapy crawl`,
        Scrapyd). In a distributed crawl, what the run shares and no argument gave (the ledger, what the store
        knows, the watermark, GitHub targets) comes from the function the setting OPENNESS_SPIDER_CONTEXT names
        (`crawler.ops.distributed.spider_context`), called with the settings, the spider's name and arguments."""
        kwargs = cls.parse_arguments(kwargs)
        argument, setting = cls.endpoint
        if not kwargs.get(argument) and crawler.settings.get(setting):
            kwargs[argument] = crawler.settings[setting]  # one endpoint: the one the token middleware guards
        context = crawler.settings.get("OPENNESS_SPIDER_CONTEXT")
        if context and kwargs.get("ledger") is None:
            kwargs = {**load_object(context)(crawler.settings, cls.name, kwargs), **kwargs}
        return super().from_crawler(crawler, *args, **kwargs)

    @classmethod
    def parse_arguments(cls, kwargs: dict) -> dict:
        """Subclasses turn string arguments into their types."""
        if isinstance(kwargs.get("full"), str):
            kwargs["full"] = kwargs["full"].lower() in ("1", "true", "yes")
        return kwargs

    def _register(self, repo_type: str, repo_id: str, depth: int = 0, priority: int = 0) -> Repo | None:
        """The repo, claimed for this crawl; None when it was claimed already (each repo is crawled once), or when
        its id breaks its host's rules (callers check and record ids where they read them: this is the last gate,
        so that no id becomes a URL or a stored id unchecked)."""
        try:
            repo_id_of(repo_type, repo_id)
        except BadId:
            self.crawler.stats.inc_value("openness/refused_ids")
            return None
        repo = Repo(repo_type, repo_id, depth, priority=priority)
        if not self.ledger.claim(repo.subject):
            return None
        self.crawler.signals.send_catch_log(subject_found)
        return repo

    def _missing_lately(self, repo: Repo) -> bool:
        """A repo that answered 404 within the recheck interval: not asked again this run (counted)."""
        known = self.known.get(repo.subject.lower())
        if known is None or not known.missing:
            return False
        self._count_repo("missing_not_rechecked")
        return True

    def _opened(self, repo: Repo) -> None:
        self.ledger.opened(repo.subject)

    def _request(self, repo: Repo, url: str, callback, kind: str, budget: str = "", priority: int = 0,
                 headers: dict | None = None, **cb_kwargs) -> scrapy.Request:
        self._opened(repo)
        self._count(kind)
        return scrapy.Request(url, callback=callback, errback=self.on_failure, cb_kwargs={"repo": repo, **cb_kwargs},
                              meta={"kind": kind, "budget": budget, "subject": repo.subject,
                                    "download_maxsize": max_size(kind)},
                              dont_filter=True, priority=repo.priority + priority, headers=headers)

    def on_failure(self, failure):
        """Network-level failure (refused, timeout, truncated body): recorded with its URL, never silent."""
        request = failure.request
        repo = request.cb_kwargs.get("repo")
        yield ErrorItem(self.source, repo.subject if repo else None, request.url, request.meta.get("kind", "fetch"),
                        None, f"{failure.type.__name__}: {failure.getErrorMessage()}")
        if repo:
            self.ledger.mark_failed(repo.subject)
            yield from self._done(repo)

    def _cap(self, setting: str, key: str) -> int:
        """A bound of a dict setting (PAGES_PER_RESOURCE, LINKS_PER_CARD), the project's default where unset."""
        return int({**getattr(default_settings, setting), **self.settings.getdict(setting)}[key])

    def _bound(self, url: str, subject: str | None, status: int | None, setting: str, key: str,
               what: str) -> ErrorItem:
        """A bound reached: counted in the run's stats and recorded against the answer that reached it."""
        self.crawler.stats.inc_value(f"openness/bounds/{setting.lower()}/{key}")
        return ErrorItem(self.source, subject, url, "bound", status,
                         f"{what}: the bound {setting}[{key!r}] = {self._cap(setting, key)} was reached; the rest is "
                         "not followed")

    def _unreadable_answer(self, response, repo: Repo | None, kind: str, why: str) -> ErrorItem:
        """An answer holding a value that may not become a URL, a path or an id, or a value of the wrong type: a
        parse error of that answer, named by its URL. Its repo is left incomplete, so what was stored before stays
        its last complete state and the next run asks again."""
        if repo is not None:
            self.ledger.mark_failed(repo.subject)
        return ErrorItem(self.source, repo.subject if repo else None, response.url, kind, response.status,
                         f"{kind} unreadable: {why}")

    def _refused_ids(self, url: str, status: int | None, subject: str | None, refusals: Refusals):
        """The ids an answer at `url` names (a card's base models, datasets, GitHub links; the run's arguments at
        `<spider>: start`) that break their host's rules: neither linked nor crawled; one row per answer, naming
        the first few and how many."""
        if not refusals.count:
            return
        self.crawler.stats.inc_value("openness/refused_ids", refusals.count)
        more = f"; and {refusals.count - len(refusals.first)} more" if refusals.count > len(refusals.first) else ""
        yield ErrorItem(self.source, subject, url, "refused_id", status,
                        f"{refusals.count} id(s) named here refused, neither linked nor crawled: "
                        + "; ".join(refusals.first) + more)

    def _next_page(self, response, repo: Repo | None, kind: str, page: int) -> tuple[str | None, list[ErrorItem]]:
        """The URL of the page after this one (`page`, counted from 0) of a paginated answer, or None; and what is
        to be recorded. Followed only on this spider's endpoint, never to a page read already in this crawl (a
        loop stops: the pages read stand), and at most PAGES_PER_RESOURCE[kind] pages (a bound, recorded)."""
        link = response.headers.get(b"Link", b"").decode("latin-1")
        subject = repo.subject if repo else None
        try:
            url = next_page(link, response.url, self.base_url)
        except UnsafeUrl as exc:
            return None, [self._unreadable_answer(response, repo, kind, str(exc))]
        if url is None:
            return None, []
        # Pages are claimed by a digest of their canonical URL: the ledger compares keys without case, a cursor
        # does not.
        self.ledger.claim(f"page:{hashlib.sha1(page_key(response.url).encode()).hexdigest()}")
        if not self.ledger.claim(f"page:{hashlib.sha1(page_key(url).encode()).hexdigest()}"):
            return None, [ErrorItem(self.source, subject, response.url, kind, response.status,
                                    f'{kind} unreadable: its Link rel="next" {url[:200]!r} is a page read already '
                                    "in this crawl: a loop, not followed")]
        if page + 2 > self._cap("PAGES_PER_RESOURCE", kind):
            return None, [self._bound(response.url, subject, response.status, "PAGES_PER_RESOURCE", kind,
                                      f"{kind}: {page + 1} pages read")]
        return url, []

    def _failed(self, response, repo: Repo, kind: str):
        if response.status >= 500 and response.status != 501:
            self.ledger.mark_failed(repo.subject)
        yield ErrorItem(self.source, repo.subject, response.url, kind, response.status, error_reason(response))

    def _html_instead(self, response, repo: Repo, kind: str):
        """An HTML page where a file or JSON was asked for (a proxy's or a portal's error page answered 200): never
        stored as the document; recorded, and the repo left incomplete so the next run asks again."""
        if html_page(response):
            content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1").lower()
            self.ledger.mark_failed(repo.subject)
            yield ErrorItem(self.source, repo.subject, response.url, kind, response.status,
                            f"an HTML page (Content-Type {content_type}) instead of the {kind}")
            return True
        return False

    def _not_the_blob(self, response, repo: Repo, kind: str, blob_sha: str | None):
        """A file whose bytes are not the git blob its tree (or the Hub's ETag) names: cut short or replaced on the
        way. Recorded, not stored, the repo left incomplete."""
        if not blob_sha or not re.fullmatch(r"[0-9a-f]{40}", blob_sha) or git_blob_sha1(response.body) == blob_sha:
            return False
        self.ledger.mark_failed(repo.subject)
        yield ErrorItem(self.source, repo.subject, response.url, kind, response.status,
                        f"{kind}: the {len(response.body)} bytes received are not the blob {blob_sha} (cut short or "
                        f"replaced on the way)")
        return True

    def _done(self, repo: Repo):
        """One request of the repo answered; when none is open, its revision is complete (the incremental mark)."""
        if self.ledger.closed(repo.subject) == 0:
            self.crawler.signals.send_catch_log(subject_done)
            if repo.revision and not self.ledger.has_failed(repo.subject):
                yield CompletedItem(repo.subject, repo.revision, self.fetch_rules)
            yield from self._finished(repo)

    def _finished(self, repo: Repo):
        """Called once a repo has no request open; subclasses may yield more requests (the next listing page)."""
        yield from ()

    def _artifact(self, response, repo: Repo, kind: str, path: str | None, body: bytes | None = None) -> ArtifactItem:
        """The response as an artifact pinned to the repo's revision (`body`: a part of it, e.g. a listing row)."""
        return ArtifactItem(
            source=self.source, repo_type=repo.repo_type, repo_id=repo.repo_id, kind=kind, url=response.url,
            revision=repo.revision, http_status=response.status,
            etag=None if body is not None else (response.headers.get(b"ETag") or b"").decode("latin-1") or None,
            content_type=(response.headers.get(b"Content-Type") or b"").decode("latin-1") or None,
            body=response.body if body is None else body, path=path)

    def _count(self, kind: str) -> None:
        self.crawler.stats.inc_value(f"openness/requests/{kind}")

    def _count_repo(self, state: str) -> None:
        self.crawler.stats.inc_value(f"openness/repos/{state}")
