"""Distributed crawls on scrapy-redis: any number of crawler processes, on any number of machines, share one
request queue and dupefilter in Redis; their items flow through Redis to one writer (`openness ingest`), so SQLite
keeps a single writer, which is also the only process that assesses.

Protocol, all keys under `openness:` in the Redis database of the URL:
- the ingester opens a run: clears what a previous run left (queues, claims, counters; never unread items),
  publishes what the store knows (`known`: revision, ETag and links per repo; `watermark`), then `run` (its id);
- each crawler waits for `run`, keeps a heartbeat key while it works, crawls with the shared scheduler, ledger and
  rate budgets, pushes every item in order onto `items`, and its counters into `stats` at the end;
- the ingester writes items as they come and, once crawlers have come and none is left alive and `items` is
  empty, assesses and closes the run.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
import warnings
from pathlib import Path

import redis
from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy_redis.scheduler import Scheduler

from crawler.items import ErrorItem, LinkItem, SubjectItem, decode_item, encode_item
from crawler.ops.runs import stat_merge
from crawler.known import KnownRepo, parse_time, target_priority

PREFIX = "openness:"
ITEMS = PREFIX + "items"
RUN = PREFIX + "run"
KNOWN = PREFIX + "known"
WATERMARK = PREFIX + "watermark"
NEWEST = PREFIX + "newest"
STATS = PREFIX + "stats"
# Keep the larger of a hash field and a number (a memory peak over processes): Redis has no command for it.
HASH_MAX = ("local old = redis.call('HGET', KEYS[1], ARGV[1]) "
            "if not old or tonumber(old) < tonumber(ARGV[2]) then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end")
ENDPOINTS = PREFIX + "endpoints"
CLAIMS = PREFIX + "claims"
PENDING = PREFIX + "pending"
FAILED = PREFIX + "failed"
TALLIES = PREFIX + "tallies"
GITHUB_TARGETS = PREFIX + "github-targets"
CRAWLER = PREFIX + "crawler:"  # + name: heartbeat, expires unless refreshed
CRAWLERS_SEEN = PREFIX + "crawlers-seen"
HEARTBEAT_SECONDS = 5
# A distributed tier-0 crawl reads the model and the dataset listing: two chains of pages, each page naming the next
# (the Hub's cursor), each claimed once in the run through the ledger. A process that parsed a page queues the next
# one and, free to send more, would pop it back at once: every page would go to the process that read the first, the
# others closing idle. Instead each process sends one request at a time, stays open while a page of the walk is read
# anywhere (spiders.huggingface: the ledger's `listing walk` count), and when it has nothing at all to do waits on
# the shared queue in a blocking pop (ListingScheduler: a FIFO list, and Redis hands a page pushed to a client
# already waiting), so a page queued goes to a crawler waiting for one and the walk passes between the processes.
# More crawlers than chains read no faster: a chain is read one page after another.
LISTING_SETTINGS = {"CONCURRENT_REQUESTS": 1, "SCHEDULER": "crawler.ops.distributed.ListingScheduler",
                    "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.FifoQueue"}
LISTING_WAIT = 5  # seconds of a blocking pop: the engine's idle beat (it asks again every 5 s)
HEARTBEAT_TTL = 20


class DistributedError(RuntimeError):
    """Redis cannot be reached, or no run was opened on it; the message says which and what to do."""


def connect(url: str) -> redis.Redis:
    try:
        server = redis.Redis.from_url(url, socket_connect_timeout=10, socket_timeout=30)
        server.ping()
    except (redis.RedisError, ValueError) as exc:
        raise DistributedError(f"{url}: cannot reach Redis: {exc}") from exc
    return server


class RedisLedger:
    """The spiders' bookkeeping (`spiders.base.Ledger`) shared by every crawler process: each repo and listing page
    is claimed once in a run, and a repo completes in whichever process answers its last open request."""

    def __init__(self, server: redis.Redis):
        self.server = server

    def claim(self, key: str) -> bool:
        return bool(self.server.sadd(CLAIMS, key.lower()))

    def opened(self, subject: str) -> None:
        self.server.hincrby(PENDING, subject.lower(), 1)

    def closed(self, subject: str) -> int:
        return int(self.server.hincrby(PENDING, subject.lower(), -1))

    def open_count(self, subject: str) -> int:
        return int(self.server.hget(PENDING, subject.lower()) or 0)

    def mark_failed(self, subject: str) -> None:
        self.server.sadd(FAILED, subject.lower())

    def has_failed(self, subject: str) -> bool:
        return bool(self.server.sismember(FAILED, subject.lower()))

    def tally(self, key: str) -> int:
        return int(self.server.hincrby(TALLIES, key.lower(), 1))


# A sliding-window budget shared by every process, on the Redis server's clock: at most `quota` sends in any
# `window` seconds, none while paused. Returns "0" when this send is granted, else the seconds to wait.
BUDGET_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if now < paused then return tostring(paused - now) end
local quota, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < quota then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('EXPIRE', KEYS[1], math.ceil(window) + 1)
  return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tostring(tonumber(oldest[2]) + window - now)
"""
# Pause a budget until now + ARGV[1] seconds (server clock), never shortening a longer pause.
PAUSE_SCRIPT = """
local t = redis.call('TIME')
local until_ = tonumber(t[1]) + tonumber(t[2]) / 1000000 + tonumber(ARGV[1])
if until_ > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], tostring(until_), 'EX', math.ceil(tonumber(ARGV[1])) + 1)
end
return 1
"""


class RedisBudget:
    """`crawler.middlewares.Budget` shared across processes: N crawlers together stay within one token's budget."""

    def __init__(self, server: redis.Redis, name: str, quota: int, window: float):
        self.name, self.quota, self.window = name, quota, window
        self.key, self.pause_key = f"{PREFIX}budget:{name}", f"{PREFIX}budget:{name}:paused"
        self._acquire = server.register_script(BUDGET_SCRIPT)
        self._pause = server.register_script(PAUSE_SCRIPT)
        self.sender = uuid.uuid4().hex

    def acquire(self) -> float:
        return float(self._acquire(keys=[self.key, self.pause_key],
                                   args=[self.quota, self.window, f"{self.sender}:{time.time_ns()}"]))

    def pause(self, seconds: float) -> None:
        self._pause(keys=[self.pause_key], args=[max(seconds, 0.0)])


def crawler_settings(url: str, tier: str = "deep") -> dict:
    """Scrapy settings of a crawler process: scrapy-redis's shared scheduler queue and dupefilter, and items to
    Redis instead of the store. Tier `listing`: one request at a time in each process (see LISTING_CONCURRENCY)."""
    return {
        "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_PERSIST": True,  # the ingester clears the queues per run; a crawler closing must not
        "SCHEDULER_QUEUE_KEY": PREFIX + "%(spider)s:requests",
        "SCHEDULER_DUPEFILTER_KEY": PREFIX + "%(spider)s:dupefilter",
        "REDIS_URL": url,
        "OPENNESS_REDIS_URL": url,
        # What a spider takes from the run (spiders.base.EvidenceSpider.from_crawler): named here, so the spiders
        # import nothing of this module.
        "OPENNESS_SPIDER_CONTEXT": "crawler.ops.distributed.spider_context",
        "ITEM_PIPELINES": {"crawler.ops.distributed.GithubTargetsPipeline": 200,
                           "crawler.ops.distributed.RedisItemPipeline": 300},
        "EXTENSIONS": {"crawler.ops.distributed.CrawlerPresence": 500},
        **(LISTING_SETTINGS if tier == "listing" else {}),
    }


class ListingScheduler(Scheduler):
    """scrapy-redis's scheduler, whose pop waits for a request (up to LISTING_WAIT seconds) when this process has
    nothing in flight and nothing to parse, and takes what is there at once otherwise: a wait while a response of
    this process waits to be parsed would hold back the very page that queues the next one."""

    def next_request(self):
        engine = self.spider.crawler.engine
        idle = not engine.downloader.active and engine.scraper.slot is not None and engine.scraper.slot.is_idle()
        request = self.queue.pop(LISTING_WAIT if idle else 0)
        if request and self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request


class _RedisPipeline:
    """A pipeline of a distributed crawler process, holding the connection to the crawl's Redis."""

    def __init__(self, server: redis.Redis):
        self.server = server

    @classmethod
    def from_crawler(cls, crawler):
        return cls(connect(crawler.settings["OPENNESS_REDIS_URL"]))


class RedisItemPipeline(_RedisPipeline):
    """Pushes each item onto the shared list, in the order the spider yielded it (scrapy-redis's RedisPipeline
    pushes from a thread pool, which can reorder a repo's items: a completion before its subject, a link before
    the artifact it cites)."""

    def process_item(self, item, spider=None):
        self.server.rpush(ITEMS, encode_item(item))
        return item


class GithubTargetsPipeline(_RedisPipeline):
    """Collects the GitHub repos the Hub crawl names (label-queued subjects, card and licence links), with their
    priority, for every crawler's GitHub phase: the distributed counterpart of `crawler.run.github_targets`."""

    def process_item(self, item, spider=None):
        if isinstance(item, SubjectItem) and item.kind == "code" and item.status == "queued":
            self.server.zadd(GITHUB_TARGETS, {item.repo_id: target_priority("label")}, gt=True)
        elif isinstance(item, LinkItem) and item.to_subject.startswith("gh:") and \
                item.relation in ("code_repo", "licence_link"):
            full_name = item.to_subject[3:]
            priority = target_priority(item.relation, item.from_subject, full_name)
            self.server.zadd(GITHUB_TARGETS, {full_name: priority}, gt=True)
        return item


# -- the ingester's side -------------------------------------------------------------------------------------------
def open_run(server: redis.Redis, run_id: int, known: dict[str, KnownRepo], watermark: str | None,
             every_known_github: list[str]) -> None:
    """Clear what an earlier run left (unread items stay: they are written first) and announce run `run_id`."""
    stale = [k for k in server.scan_iter(match=PREFIX + "*") if k.decode() != ITEMS]
    if stale:
        server.delete(*stale)
    if known:
        pipe = server.pipeline()
        for subject, repo in known.items():
            pipe.hset(KNOWN, subject, json.dumps([repo.revision, repo.json_etag, [list(f) for f in repo.follows],
                                                  repo.missing, repo.fetch_rules]))
        pipe.execute()
    if watermark:
        server.set(WATERMARK, watermark)
    if every_known_github:
        server.zadd(GITHUB_TARGETS, {name: target_priority("known") for name in every_known_github})
    server.set(RUN, run_id)


def crawlers_alive(server: redis.Redis) -> int:
    return sum(1 for _ in server.scan_iter(match=CRAWLER + "*"))


def ingest_items(server: redis.Redis, write, timeout: float = 1.0, batch: int = 500) -> int:
    """Write the items waiting in Redis (waiting up to `timeout` for the first); returns how many. An item that
    does not decode is written as a recorded error, never dropped silently."""
    first = server.blpop([ITEMS], timeout=timeout)
    if first is None:
        return 0
    raw = [first[1], *(server.lpop(ITEMS, batch) or [])]
    for data in raw:
        try:
            item = decode_item(data)
        except ValueError as exc:
            item = ErrorItem("redis", None, ITEMS, "parse", None, f"{exc}: {data[:120]!r}")
        write(item)
    return len(raw)


def run_counts(server: redis.Redis) -> dict:
    counts = {}
    for key, value in server.hgetall(STATS).items():
        number = float(value)
        counts[key.decode()] = int(number) if number.is_integer() else number
    return counts


# -- a crawler's side ----------------------------------------------------------------------------------------------
def wait_for_run(server: redis.Redis, timeout: float) -> tuple[int, dict[str, KnownRepo], str | None]:
    """The run the ingester opened, what the store knows, and the incremental watermark."""
    deadline = time.monotonic() + timeout
    while (run := server.get(RUN)) is None:
        if time.monotonic() > deadline:
            raise DistributedError("no run is open on this Redis: start `openness ingest --redis URL` first")
        time.sleep(0.2)
    known = {}
    for subject, value in server.hgetall(KNOWN).items():
        revision, etag, follows, missing, fetch_rules = json.loads(value)
        known[subject.decode()] = KnownRepo(revision, etag, tuple(tuple(f) for f in follows), missing, fetch_rules)
    watermark = server.get(WATERMARK)
    return int(run), known, watermark.decode() if watermark else None


class Heartbeat:
    """A key that says this crawler is alive, refreshed from a thread of its own (the Twisted reactor is not
    installed yet when it starts, and must not be chosen by us); it expires on its own when the process dies."""

    def __init__(self, server: redis.Redis):
        self.server = server
        self.key = f"{CRAWLER}{socket.gethostname()}:{os.getpid()}"
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="openness-heartbeat", daemon=True)

    def beat(self) -> None:
        self.server.set(self.key, "alive", ex=HEARTBEAT_TTL)

    def _run(self) -> None:
        while not self.stopped.wait(HEARTBEAT_SECONDS):
            self.beat()

    def start(self) -> None:
        self.beat()
        self.server.sadd(CRAWLERS_SEEN, self.key)
        self.thread.start()

    def stop(self, linger: int = 3) -> None:
        """Stop beating; the key lingers a few seconds, so the gap between this process's Hub and GitHub phases
        never looks like the end of the crawl to the ingester."""
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join(timeout=HEARTBEAT_SECONDS + 1)
        self.server.set(self.key, "closing", ex=linger)


class CrawlerPresence:
    """Scrapy extension of a distributed crawl (any spider run: `openness crawl --distributed`, `scrapy crawl`,
    Scrapyd): a heartbeat while the spider runs, and when it closes, what only this process knows handed to the
    ingester: its counters, the callbacks that raised (as error items) and the newest lastModified it listed."""

    def __init__(self, crawler, server: redis.Redis):
        self.crawler, self.server = crawler, server
        self.heartbeat = Heartbeat(server)
        crawler.signals.connect(self.opened, signal=signals.spider_opened)
        crawler.signals.connect(self.failed, signal=signals.spider_error)
        crawler.signals.connect(self.closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        url = crawler.settings.get("OPENNESS_REDIS_URL")
        if not url:
            raise NotConfigured("not a distributed crawl")
        return cls(crawler, connect(url))

    def opened(self, spider) -> None:
        self.heartbeat.start()

    def failed(self, failure, response, spider) -> None:
        error = ErrorItem(spider.source, response.meta.get("subject") if response else None,
                          response.url if response else f"{spider.name}: start", "spider",
                          response.status if response else None,
                          f"{failure.type.__name__} in the spider: {failure.getErrorMessage()}")
        self.server.rpush(ITEMS, encode_item(error))
        self.server.hincrby(STATS, "openness/spider_exceptions", 1)

    def closed(self, spider, reason) -> None:
        pipe = self.server.pipeline()
        # The run's counts from every process, merged as those of one process's crawlers are (stat_merge); the
        # processes crawl at once, so their elapsed times are not added.
        for key, value in (self.crawler.stats.get_stats() or {}).items():
            merge = stat_merge(key, value)
            if merge == "max":
                pipe.eval(HASH_MAX, 1, STATS, key, value)
            elif merge == "sum" and isinstance(value, int):
                pipe.hincrby(STATS, key, value)
            elif merge == "sum" and key != "elapsed_time_seconds":
                pipe.hincrbyfloat(STATS, key, value)
        pipe.execute()
        if getattr(spider, "watermark_seen", None):
            self.server.sadd(NEWEST, spider.watermark_seen)
        self.heartbeat.stop()


def spider_context(settings, spider_name: str, arguments: dict) -> dict:
    """What a spider of a distributed crawl takes from the run the ingester opened, for what its arguments did not
    say: the shared ledger, what the store knows, the watermark (nightly mode) and, for GitHub, the targets."""
    server = connect(settings["OPENNESS_REDIS_URL"])
    _, known, watermark = wait_for_run(server, timeout=float(arguments.pop("wait_for_run", 600)))
    context = {"ledger": RedisLedger(server), "known": known}
    if spider_name == "huggingface" and arguments.get("follow_unchanged") is False:
        context["watermark"] = watermark
    if spider_name == "github":
        context["repos"] = github_targets(server)
    return context


def github_targets(server: redis.Redis) -> list[tuple[str, int]]:
    return [(name.decode(), int(score)) for name, score in server.zrange(GITHUB_TARGETS, 0, -1, desc=True,
                                                                         withscores=True)]


def crawl_distributed(url: str, options, wait: float = 600.0):
    """One crawler process of a distributed crawl: returns (run id, Fetched). The ingester writes and assesses."""
    from scrapy.exceptions import ScrapyDeprecationWarning

    from crawler.run import crawl_settings, fetch

    # scrapy-redis 0.9.1 still passes `spider=` to the stats collector; harmless on Scrapy 2.19, said on every run.
    warnings.filterwarnings("ignore", message="Passing a 'spider' argument", category=ScrapyDeprecationWarning)
    server = connect(url)
    run_id, known, watermark = wait_for_run(server, wait)
    settings = crawl_settings(options, crawler_settings(url, options.tier))
    server.hsetnx(ENDPOINTS, "hf_endpoint", options.hf_endpoint)
    server.hsetnx(ENDPOINTS, "github_endpoint", options.github_endpoint)
    # Heartbeats, counters and callback failures go to the ingester through the CrawlerPresence extension.
    fetched = fetch(settings, options, known, watermark if options.incremental else None,
                    targets=lambda: github_targets(server), ledger=RedisLedger(server))
    return run_id, fetched


def newest_listed(server: redis.Redis) -> list[str]:
    return [v.decode() for v in server.smembers(NEWEST)]


def ingest(db_path: Path, url: str, command: str, wait: float = 600.0, on_progress=None,
           recheck_days: float | None = None, workers: int = 1):
    """The single writer of a distributed crawl: opens a run, writes every item the crawlers push, and once they
    are done, assesses (judging in `workers` processes) and closes the run the way a local crawl does. Returns a
    `crawler.run.CrawlResult`."""
    from crawler.assess import assess
    from crawler.ops.lock import StoreLock
    from crawler.ops.runs import abandon_dead_runs, run_ending
    from crawler.pipelines import write_item
    from crawler.run import RECHECK_DAYS, CrawlResult, known_github_due, known_repos, last_watermark
    from crawler.store import Store, open_db
    from crawler.tier0 import judge_listed

    server = connect(url)
    with StoreLock(db_path, "ingest") as lock:
        db = open_db(db_path)
        store = Store(db)
        abandoned = abandon_dead_runs(db)
        run_id = store.start_run(command, f"distributed: {url}", f"distributed: {url}", ["distributed"])
        watermark = last_watermark(db)
        days = RECHECK_DAYS if recheck_days is None else recheck_days
        open_run(server, run_id, known_repos(db, days), watermark, known_github_due(db, days))
        written, deadline = 0, time.monotonic() + wait
        while True:
            count = ingest_items(server, lambda item: write_item(store, run_id, item))
            written += count
            if on_progress and count:
                on_progress(written)
            if count:
                continue
            seen = server.scard(CRAWLERS_SEEN)
            if seen and not crawlers_alive(server) and not server.llen(ITEMS):
                break
            if not seen and time.monotonic() > deadline:
                break  # no crawler came: the run fails with nothing answered
        counts = run_counts(server)
        counts["openness/items_ingested"] = written
        counts["openness/crawlers"] = int(server.scard(CRAWLERS_SEEN))
        endpoints = {k.decode(): v.decode() for k, v in server.hgetall(ENDPOINTS).items()}
        if endpoints:
            db["crawl_runs"].update(run_id, endpoints)
        server.delete(RUN)  # a crawler started from now on waits for the next run
        ending = run_ending(db, run_id, "completed", counts)
        result = CrawlResult(run_id, ending.status, counts, abandoned=abandoned,
                             lock_note=f"took over the lock of a process that died: {lock.previous}"
                             if lock.previous else "")
        if ending.status == "completed":
            store.set_run_status(run_id, "assessing", counts)
            result.assessed = assess(db, pending=True, run_id=run_id, workers=workers)
            if db.execute("select 1 from listed_models where run_id = ? limit 1", [run_id]).fetchone():
                # Tier 0 (crawlers run with --tier listing): judged after every page is written, not per page,
                # since a model's bases and datasets may be listed on pages another crawler read later.
                result.assessed += judge_listed(db, run_id)
            # What assessing recorded (documents it could not read, models the judge failed on) counts too.
            ending = run_ending(db, run_id, "completed", counts)
        marks = [m for m in (watermark, *newest_listed(server)) if parse_time(m)]
        mark = max(marks, key=parse_time) if marks and ending.status == "completed" else None
        store.finish_run(run_id, ending.status, counts, exit_code=ending.exit_code, watermark=mark)
        db.close()
        result.status, result.exit_code, result.final_line = ending.status, ending.exit_code, ending.line
        return result
