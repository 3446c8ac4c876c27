"""Run a crawl in this process: Scrapy spiders write artifacts to the store, then the models are assessed."""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import shlex
import signal
import sqlite3
import threading
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import sqlite_utils
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from scrapy import signals
from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings
from twisted.internet import defer

from crawler import settings as default_settings
from crawler.assess import assess, assess_selection
from crawler.ops.lock import StoreLock
from crawler.ops.runs import abandon_dead_runs, add_stat, errors_line, outcome, run_ending
from crawler.items import ErrorItem
from crawler.pipelines import write_item
from crawler.signals import subject_done, subject_found
from crawler.store import Store, open_db
from crawler.known import KnownRepo, parse_time, target_priority
# The one module of crawler/ that imports spiders/: it starts them (crawler/known.py holds what both use).
from spiders.github import GithubSpider
from spiders.huggingface import HuggingFaceSpider

FOLLOWED_RELATIONS = ("base_model", "dataset")


RECHECK_DAYS = default_settings.RECHECK_DAYS


def recheck_cutoff(days: float) -> str:
    """The last_crawled_at before which a repo is due to be asked again (the store's ISO 8601 UTC form)."""
    return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)).isoformat(timespec="seconds")


@dataclass
class CrawlOptions:
    hf_endpoint: str
    github_endpoint: str
    model_ids: list[str] = field(default_factory=list)
    github_repos: list[str] = field(default_factory=list)  # named by labels: queued for the GitHub spider
    discover: dict | None = None  # listing filters: author, search, pipeline_tag, sort, limit
    max_depth: int = 2
    full: bool = False
    api_budget: int | None = None  # requests per 5 minutes; None: the Hub's published default for the client
    resolver_budget: int | None = None
    show_progress: bool = True
    log_level: str = "WARNING"
    github: bool = True  # crawl the GitHub repos the models and labels name, after the Hub
    # Nightly mode, only what changed of what was asked: with `discover`, walk the listing newest change first down
    # to the last successful run's watermark (the caller sets its sort); with model ids alone, no listing. Either
    # way, follow only what changed repos link to, and check every GitHub repo crawled before and due again with a
    # conditional request.
    incremental: bool = False
    download_timeout: float | None = None  # seconds to wait for an answer (default: the project's settings)
    redirect_hosts: list[str] = field(default_factory=list)  # followed besides the endpoints' and REDIRECT_HOSTS
    # Days before a repo with no reason to have changed is asked again: a followed link that answered 404, and (in
    # nightly mode) a GitHub repo crawled before that no model of this run links. 0: ask every run.
    recheck_days: float = RECHECK_DAYS
    workers: int = 1  # processes judging the run's models once it is fetched (`crawler.assess.assess`)
    settings: dict = field(default_factory=dict)  # Scrapy settings set on the command line (`crawl --set`)
    # `deep`: each model's card, files and code repos (the crawl as it always was); `listing`: tier 0, the listing
    # pages only (models and datasets), every listed model judged from its row (crawler/tier0.py).
    tier: str = "deep"


@dataclass
class CrawlResult:
    run_id: int
    status: str  # completed | interrupted | failed
    counts: dict = field(default_factory=dict)
    assessed: int = 0
    exit_code: int = 0
    final_line: str = ""
    abandoned: list[int] = field(default_factory=list)  # dead runs found and marked by this one
    lock_note: str = ""  # set when this run took over the lock of a process that had died


def read_seeds(path: Path) -> list[str]:
    """One model id per line; blank lines and `#` comments ignored."""
    ids = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            ids.append(line)
    return ids


# A subject's JSON ETag at the revision it was last crawled completely at.
KNOWN_ETAG = """(select a.etag from artifacts a where a.source = s.source and a.repo_id = s.repo_id
                   and a.kind in ('model_json', 'dataset_json', 'repo_json')
                   and (s.kind = 'code' or a.repo_type = s.kind) and a.revision = s.complete_revision
                 order by a.fetched_at desc limit 1)"""


def _follows(rows) -> tuple[tuple[str, str, str], ...]:
    """(repo type, repo id, relation) of the links to follow again from a subject: base models and datasets."""
    return tuple((*row["to_subject"].split(":", 2)[1:], row["relation"]) for row in rows
                 if row["relation"].split(":")[0] in FOLLOWED_RELATIONS)


def known_repos(db: sqlite_utils.Database, recheck_days: float = RECHECK_DAYS) -> dict[str, KnownRepo]:
    """Every repo the store knows (KnownRepos), at once: a distributed run hands them to its crawler processes."""
    return dict(KnownRepos(db, recheck_days).items())


class KnownRepos(Mapping):
    """What the store knows of each repo, by lower-case subject id: for each subject crawled completely before, its
    revision, its JSON's ETag there and the links to follow; for each that answered 404 less than `recheck_days`
    ago, that it is missing. Looked up when a spider asks: a nightly run meets the few repos that changed in a store
    that may hold the whole Hub, and loading every one first would cost memory in proportion to the store (400 bytes
    a repo: 800 MB for the Hub's 2M models)."""

    def __init__(self, db: sqlite_utils.Database, recheck_days: float = RECHECK_DAYS):
        self.db = db
        self.cutoff = recheck_cutoff(recheck_days)
        # A spider asks of a repo several times while crawling it; what it reads (revision, ETag, links to follow,
        # missing) changes in the store only once the repo is done, so the answers kept (far more than the repos
        # open at once) are what the store knew before this run.
        self._lookup = lru_cache(maxsize=65536)(self._ask_store)

    @classmethod
    def read_only(cls, db_path: Path | str, recheck_days: float = RECHECK_DAYS) -> KnownRepos:
        """On a connection of its own that cannot write: the store's one writer is the pipeline."""
        connection = sqlite3.connect(f"{Path(db_path).resolve().as_uri()}?mode=ro", uri=True)
        return cls(sqlite_utils.Database(connection), recheck_days)

    def close(self) -> None:
        self.db.close()

    def _ask_store(self, key: str) -> KnownRepo | None:
        row = next(self.db.query(f"select s.id, s.complete_revision, s.complete_fetch_rules, {KNOWN_ETAG} as etag "
                                 "from subjects s "
                                 "where lower(s.id) = ? and s.complete_revision is not null "
                                 "order by s.rowid desc limit 1", [key]), None)
        if row is not None:
            links = self.db.query("select to_subject, relation from links where from_subject = ? order by rowid",
                                  [row["id"]])
            return KnownRepo(row["complete_revision"], row["etag"], _follows(links), fetch_rules=row[
                "complete_fetch_rules"] or "")
        missing = next(self.db.query("select 1 from subjects where lower(id) = ? and status = 'missing' and "
                                     "last_crawled_at > ? limit 1", [key, self.cutoff]), None)
        return KnownRepo(None, missing=True) if missing else None

    def __getitem__(self, key: str) -> KnownRepo:
        if (found := self._lookup(key)) is None:
            raise KeyError(key)
        return found

    def __iter__(self):
        for row in self.db.query("select distinct lower(id) as key from subjects where complete_revision is not null "
                                 "or (status = 'missing' and last_crawled_at > ?)", [self.cutoff]):
            yield row["key"]

    def __len__(self) -> int:
        return sum(1 for _ in self)


def known_github_due(db: sqlite_utils.Database, recheck_days: float = RECHECK_DAYS) -> list[str]:
    """The GitHub repos crawled completely before and last asked at least `recheck_days` ago: a nightly run asks
    them whether their head moved even when no changed model links them (spread over the interval, not every
    repo every night)."""
    return [row["repo_id"] for row in db.query(
        "select repo_id from subjects where kind = 'code' and complete_revision is not null "
        "and (last_crawled_at is null or last_crawled_at <= ?) order by repo_id", [recheck_cutoff(recheck_days)])]


def github_targets(db: sqlite_utils.Database, run_id: int, every_known: bool = False,
                   recheck_days: float = RECHECK_DAYS) -> list[tuple[str, int]]:
    """(owner/repo, priority) of the GitHub repos named in this run: queued by labels, or linked by a crawled model;
    with `every_known`, also each repo crawled completely before and due again (`known_github_due`: an incremental
    run asks it whether its head moved, with a conditional request that costs no rate budget when it did not)."""
    priorities: dict[str, tuple[str, int]] = {}

    def want(full_name: str, priority: int) -> None:
        key = full_name.lower()
        if key not in priorities or priorities[key][1] < priority:
            priorities[key] = (full_name, priority)

    for row in db.query("select repo_id from subjects where kind = 'code' and status = 'queued' and run_id = ?",
                        [run_id]):
        want(row["repo_id"], target_priority("label"))
    # Links of the models this run crawled; in a nightly run (`every_known`), only of those it fetched files of
    # (changed or new): an unchanged model's linked repos wait for the recheck interval like any other.
    fetched_this_run = """and exists (select 1 from artifacts a where a.repo_type = s.kind and a.repo_id = s.repo_id
                                           and a.run_id = s.run_id and a.kind != 'model_json')""" if every_known else ""
    for row in db.query(f"""select l.from_subject, l.to_subject, l.relation from links l
                            join subjects s on s.id = l.from_subject
                            where s.run_id = ? and l.to_subject like 'gh:%'
                              and l.relation in ('code_repo', 'licence_link') {fetched_this_run}""", [run_id]):
        want(row["to_subject"][3:], target_priority(row["relation"], row["from_subject"], row["to_subject"][3:]))
    if every_known:
        for full_name in known_github_due(db, recheck_days):
            want(full_name, target_priority("known"))
    return sorted(priorities.values(), key=lambda r: (-r[1], r[0].lower()))


def setting_overrides(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """`NAME=VALUE` pairs (`crawl --set`) as settings: NAME a setting of the project's or Scrapy's (a typo must not
    pass silently) whose default is a number, a flag or text, and VALUE of that kind (`MAX_WAIT=10m` is refused
    here, not a traceback mid-crawl). Tables (middlewares, pipelines, per-resource bounds) are the code's: a
    command line that dropped the token or retry middleware would crawl without them, silently."""
    from scrapy.settings import default_settings as scrapy_defaults

    defaults = {name: value for module in (scrapy_defaults, default_settings) for name, value in vars(module).items()
                if name.isupper()}
    overrides = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        name, value = name.strip(), value.strip()
        if not equals or name not in defaults:
            raise ValueError(f"{pair!r}: expected NAME=VALUE with NAME a setting of crawler/settings.py or Scrapy's "
                             f"(e.g. MAX_WAIT=600)")
        overrides[name] = _setting_value(name, value, defaults[name])
    return overrides


def _setting_value(name: str, value: str, default) -> str:
    """VALUE, checked to be of the kind of the setting's default (kept as text: Scrapy's getint / getfloat read it)."""
    if isinstance(default, (dict, list, tuple, set)):
        raise ValueError(f"{name} is a table of the code ({type(default).__name__}), not set from the command line")
    if isinstance(default, bool):
        if value.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"{name}={value!r}: expected true or false")
    elif isinstance(default, (int, float)):
        try:
            number = int(value) if isinstance(default, int) else float(value)
        except ValueError:
            kind = "a whole number" if isinstance(default, int) else "a number"
            raise ValueError(f"{name}={value!r}: expected {kind} (default {default})") from None
        if not math.isfinite(number) or number < 0:
            raise ValueError(f"{name}={value!r}: expected a finite number, 0 or more")
    return value


def crawl_settings(options: CrawlOptions, extra: dict) -> Settings:
    """The project's Scrapy settings with a run's endpoints, log level, budgets and timeout, `extra`, and the
    settings given on the command line (`--set`), which win."""
    settings = Settings()
    settings.setmodule(default_settings, priority="project")
    settings.update({"HF_ENDPOINT": options.hf_endpoint, "GITHUB_API_URL": options.github_endpoint,
                     "LOG_LEVEL": options.log_level, **extra})
    if options.api_budget:
        settings.set("HUB_API_BUDGET", options.api_budget)
    if options.resolver_budget:
        settings.set("HUB_RESOLVER_BUDGET", options.resolver_budget)
    if options.download_timeout:
        settings.set("DOWNLOAD_TIMEOUT", options.download_timeout)
    if options.redirect_hosts:
        settings.set("OPENNESS_REDIRECT_HOSTS", options.redirect_hosts)
    settings.setdict(options.settings, priority="cmdline")
    return settings


def _settings(db_path: Path, run_id: int, options: CrawlOptions) -> Settings:
    return crawl_settings(options, {"OPENNESS_DB": str(db_path), "OPENNESS_RUN_ID": run_id})


def crawl(db_path: Path, options: CrawlOptions, command: list[str]) -> CrawlResult:
    """One run, crash-safe: the store's lock is held throughout (a second crawl is refused); runs left by dead
    processes are marked `abandoned` and their work completed here; the run is `completed` only once every model it
    wrote is assessed. Ctrl-C or SIGTERM at any time ends it `interrupted` (exit 130), for the same command to
    complete. Raises LockHeld when another live process holds the store."""
    with StoreLock(db_path, "crawl") as lock, sigterm_as_interrupt():
        db = open_db(db_path)
        abandoned = abandon_dead_runs(db)
        requested = options.model_ids or [f"discover:{options.discover}"]
        run_id = Store(db).start_run(shlex.join(command), options.hf_endpoint, options.github_endpoint, requested)
        db.close()
        result = CrawlResult(run_id, "running", abandoned=abandoned,
                             lock_note=f"took over the lock of a process that died: {lock.previous}"
                             if lock.previous else "")
        try:
            _fetch_and_assess(db_path, options, result)
        except KeyboardInterrupt:
            _interrupted(db_path, result)
        return result


def _fetch_and_assess(db_path: Path, options: CrawlOptions, result: CrawlResult) -> None:
    run_id = result.run_id
    db = open_db(db_path)
    watermark = last_watermark(db) if options.incremental else None
    db.close()
    known = KnownRepos.read_only(db_path, options.recheck_days)
    try:
        fetched = fetch(_settings(db_path, run_id, options), options, known, watermark,
                        targets=lambda: _github_targets(db_path, run_id, options.incremental, options.recheck_days))
    finally:
        known.close()
    db = open_db(db_path)
    try:
        store = Store(db)
        for error in fetched.callback_errors:
            write_item(store, run_id, error)
        status, counts, newest = fetched.status, fetched.counts, fetched.newest
        result.counts = counts
        ending = run_ending(db, run_id, status, counts)
        if ending.status == "completed":
            store.set_run_status(run_id, "assessing", counts)
            result.assessed = assess_with_progress(db, run_id, options.show_progress, options.workers)
            if options.tier == "listing":
                # After the walk, not per page: a model's bases and datasets may be listed on later pages.
                result.assessed += judge_listed_with_progress(db, run_id, options.show_progress)
            # What assessing recorded (documents it could not read, models the judge failed on) counts too.
            ending = run_ending(db, run_id, status, counts)
        # The watermark is the listing's: a run that walked none (named models, `--incremental` with seeds or
        # labels) leaves it to the listing runs (docs/schema.md).
        marks = [m for m in (watermark, newest) if parse_time(m)] if options.discover is not None else []
        mark = max(marks, key=parse_time) if marks and ending.status == "completed" else None
        store.finish_run(run_id, ending.status, counts, exit_code=ending.exit_code, watermark=mark)
    finally:
        db.close()  # on Ctrl-C too: what a write had begun is rolled back
    result.status, result.exit_code, result.final_line = ending.status, ending.exit_code, ending.line


def _interrupted(db_path: Path, result: CrawlResult) -> None:
    """Ctrl-C or SIGTERM outside the fetch (which stops gracefully by itself): the run ends `interrupted` with the
    counts it had, so the next run of the same command completes it, not `running` until then."""
    db = open_db(db_path)
    try:
        ending = outcome(result.run_id, "interrupted", result.counts, {})
        counts = result.counts or json.loads(db["crawl_runs"].get(result.run_id)["counts"] or "{}")
        Store(db).finish_run(result.run_id, ending.status, counts, exit_code=ending.exit_code)
    finally:
        db.close()
    result.status, result.exit_code, result.final_line = ending.status, ending.exit_code, ending.line


@contextmanager
def sigterm_as_interrupt():
    """SIGTERM (a scheduler's or systemd's stop) ends a run as Ctrl-C does, not as a kill that leaves it `running`."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def assess_with_progress(db: sqlite_utils.Database, run_id: int, show: bool, workers: int = 1) -> int:
    """Assess the models the run wrote (`crawler.assess.assess`, pending ones, judged in `workers` processes),
    with a progress bar."""
    total = db["subjects"].count_where(*assess_selection(pending=True))
    with Progress(TextColumn("[bold]assessing"), BarColumn(), MofNCompleteColumn(), TextColumn("models"),
                  TimeElapsedColumn(), disable=not show) as progress:
        task = progress.add_task("assess", total=total)
        return assess(db, pending=True, run_id=run_id, on_progress=lambda: progress.advance(task),
                      workers=workers)


def judge_listed_with_progress(db: sqlite_utils.Database, run_id: int, show: bool) -> int:
    """Judge at tier 0 the models this run listed (crawler.tier0.judge_listed), with a progress bar."""
    from crawler.tier0 import judge_listed

    total = db.execute("select count(*) from listed_models where run_id = ?", [run_id]).fetchone()[0]
    with Progress(TextColumn("[bold]judging listed models"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), disable=not show) as progress:
        task = progress.add_task("tier0", total=total)
        return judge_listed(db, run_id, on_progress=lambda n: progress.advance(task, n))


def _github_targets(db_path: Path, run_id: int, every_known: bool, recheck_days: float) -> list[tuple[str, int]]:
    db = open_db(db_path)
    try:
        return github_targets(db, run_id, every_known, recheck_days)
    finally:
        db.close()


def last_watermark(db: sqlite_utils.Database) -> str | None:
    """The newest listing lastModified seen by the last successful run that walked the listing."""
    row = next(iter(db.query("select watermark from crawl_runs where status = 'completed' and watermark is not "
                             "null order by id desc limit 1")), None)
    return row["watermark"] if row else None


class Stopper:
    """Ctrl-C and SIGTERM while the spiders run: the first stops the crawl gracefully (Scrapy's stop: answers on
    their way are kept, nothing new is sent, waits end within a second, `crawler.middlewares.Waits`), and after
    SHUTDOWN_GRACE seconds stops the reactor whatever is still on its way; a second stops it at once. In place of
    Scrapy's handlers, whose graceful stop waits for every request in progress however long it takes, and whose
    forced stop leaves the run looking failed, not interrupted."""

    def __init__(self, process: CrawlerProcess, grace: float):
        self.process, self.grace = process, grace
        self.received: int | None = None  # the first signal

    @contextmanager
    def installed(self):
        if threading.current_thread() is not threading.main_thread():
            yield self  # signals reach the main thread only
            return
        previous = {number: signal.signal(number, self._handle) for number in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def _handle(self, signum, frame) -> None:
        from twisted.internet import reactor

        first = self.received is None
        self.received = self.received or signum
        # What a signal handler may do with the reactor: hand it a call (Scrapy's own handlers do the same).
        reactor.callFromThread(self._stop if first else stop_reactor)

    def _stop(self) -> None:
        from twisted.internet import reactor

        self.process.stop()
        reactor.callLater(self.grace, stop_reactor)


def stop_reactor() -> None:
    """Stop the reactor CrawlerProcess installed, unless it is stopped or stopping already."""
    from twisted.internet import reactor
    from twisted.internet.error import ReactorNotRunning

    try:
        reactor.stop()
    except ReactorNotRunning:
        pass


@dataclass
class Fetched:
    """What the spiders of one process did: how they ended, their counters, the newest lastModified listed, and
    the callbacks that raised (an ErrorItem each, for the store's writer)."""

    status: str  # completed | interrupted | failed
    counts: dict
    newest: str | None
    callback_errors: list[ErrorItem]


# Libraries that log at debug level on every response, item or parsed block.
CHATTY_LOGGERS = ("scrapy", "markdown_it")


def quiet_debug_logging(level: str) -> None:
    """Scrapy leaves the root logger at NOTSET, its handler filtering by LOG_LEVEL: every debug call of any library
    then builds a record the handler drops (191,000 in a profile of a 1,628-model crawl, most from markdown-it-py's
    block rules while judging). The chatty libraries' loggers get the crawl's level, so below it nothing is built."""
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(level)


def fetch(settings: Settings, options: CrawlOptions, known: Mapping, watermark: str | None, targets,
          ledger=None) -> Fetched:
    """Run the spiders in this process, the Hub then GitHub; `targets()` names the GitHub repos once the Hub is
    done. `ledger`: the spiders' shared bookkeeping in a distributed crawl (default: this process's own)."""
    process = CrawlerProcess(settings)
    quiet_debug_logging(settings.get("LOG_LEVEL"))
    hub_crawler = process.create_crawler(HuggingFaceSpider)
    github_crawler = process.create_crawler(GithubSpider)
    close_reasons: dict[str, str] = {}
    callback_failures = []
    progress = Progress(TextColumn("[bold]crawling"), BarColumn(), MofNCompleteColumn(), TextColumn("repos"),
                        TimeElapsedColumn(), disable=not options.show_progress)
    task = progress.add_task("crawl", total=0)
    for crawler in (hub_crawler, github_crawler):
        crawler.signals.connect(lambda spider, reason: close_reasons.update({spider.name: reason}),
                                signal=signals.spider_closed, weak=False)
        # A callback that raises is a bug of ours on some input: record it against the URL, never pass silently.
        crawler.signals.connect(lambda failure, response, spider: callback_failures.append((spider, response, failure)),
                                signal=signals.spider_error, weak=False)
        crawler.signals.connect(lambda: progress.update(task, total=progress.tasks[0].total + 1),
                                signal=subject_found, weak=False)
        crawler.signals.connect(lambda: progress.advance(task), signal=subject_done, weak=False)

    stopper = Stopper(process, settings.getfloat("SHUTDOWN_GRACE", 5.0))

    @defer.inlineCallbacks
    def hub_then_github():
        """The Hub first (it finds the GitHub repos), then GitHub; an interruption stops both. The reactor is
        stopped however this ends: a failure here (raised again below) must not leave the process running idle."""
        try:
            yield process.crawl(hub_crawler, hf_endpoint=options.hf_endpoint, model_ids=options.model_ids,
                                github_repos=options.github_repos, known=known, max_depth=options.max_depth,
                                full=options.full, discover=options.discover, watermark=watermark,
                                follow_unchanged=not options.incremental, ledger=ledger, tier=options.tier)
            if options.github and options.tier == "deep" and close_reasons.get("huggingface") == "finished" and stopper.received is None:
                yield process.crawl(github_crawler, github_endpoint=options.github_endpoint, repos=targets(),
                                    known=known, full=options.full, ledger=ledger)
        finally:
            # If Ctrl-C has not already; once running: a spider that fails while it is built fails here before
            # the reactor starts, and a stop asked then would leave the reactor, started next, idle for ever.
            from twisted.internet import reactor
            reactor.callWhenRunning(stop_reactor)

    failures = []
    with progress, stopper.installed():
        hub_then_github().addErrback(failures.append)
        process.start(stop_after_crawl=False, install_signal_handlers=False)
    if failures:
        failures[0].raiseException()  # a bug in the orchestration itself: fail loudly

    reasons = set(close_reasons.values())
    status = "interrupted" if stopper.received or "shutdown" in reasons else \
        "completed" if reasons <= {"finished"} and reasons else "failed"
    counts: dict = {}
    for crawler in (hub_crawler, github_crawler):
        try:
            stats = crawler.stats.get_stats() or {}
        except RuntimeError:  # that crawler never started (Scrapy raises before the crawl)
            continue
        for key, value in stats.items():
            add_stat(counts, key, value)
    counts["openness/spider_exceptions"] = len(callback_failures)
    errors = [ErrorItem(spider.source, response.meta.get("subject") if response else None,
                        response.url if response else f"{spider.name}: start", "spider",
                        response.status if response else None,
                        f"{failure.type.__name__} in the spider: {failure.getErrorMessage()}")
              for spider, response, failure in callback_failures]
    spider = getattr(hub_crawler, "spider", None)
    return Fetched(status, counts, getattr(spider, "watermark_seen", None), errors)


def count_lines(counts: dict, run_id: int | None = None, hint: bool = True) -> list[str]:
    """The run's counts in words: requests by endpoint kind, 304s, bytes, retries, the bounds hit, errors by cause
    (what a working crawl expects, and failures), repos by change."""
    requests = {k.rsplit("/", 1)[1]: v for k, v in counts.items() if k.startswith("openness/requests/")}
    repos = {k.rsplit("/", 1)[1]: v for k, v in counts.items() if k.startswith("openness/repos/")}
    causes = {k.rsplit("/", 1)[1]: v for k, v in counts.items() if k.startswith("openness/errors_by_cause/")}
    return [
        "requests: " + (", ".join(f"{v} {k}" for k, v in sorted(requests.items())) or "none"),
        f"not modified (304): {counts.get('openness/not_modified', 0)}; "
        f"bytes received: {counts.get('downloader/response_bytes', 0)}; "
        f"retries: {counts.get('retry/count', 0) + counts.get('openness/ratelimit/retries', 0)}; "
        f"rate-limit pauses: {counts.get('openness/ratelimit/pauses', 0)}; "
        f"requests held to stay in budget: {counts.get('openness/ratelimit/budget_waits', 0)}",
        f"given up as outages: {counts.get('openness/bounds/max_wait', 0)} asked to wait past MAX_WAIT, "
        f"{counts.get('openness/bounds/max_request_time', 0)} past MAX_REQUEST_TIME",
        errors_line(run_id, causes, hint) if run_id is not None else f"errors: {counts.get('openness/errors', 0)}",
        "repos: " + ", ".join(f"{repos.get(k, 0)} {k}" for k in ("new", "changed", "unchanged")),
    ]
