"""Downloader middlewares: each token goes to its own endpoint only; the Hub's budgets and rate limits are kept;
transient failures are retried with backoff; no wait is longer than MAX_WAIT, nor outlasts Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import re
import time
from collections import deque
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from scrapy.downloadermiddlewares.retry import RetryMiddleware, get_retry_request
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.python import global_object_name
from scrapy.utils.response import response_status_message

from crawler.endpoints import TOKEN_VARIABLES, endpoint_of

# A pause a server asks for is kept finite (a shared budget stores it in Redis): past MAX_WAIT it is an outage
# anyway, so 30 days or `inf` mean the same.
LONGEST_PAUSE = 30 * 86400.0


class GaveUp(IgnoreRequest):
    """A request given up on as transient: a server asked for a wait longer than MAX_WAIT (an outage), the request's
    MAX_REQUEST_TIME ran out, or it was still refused after its retries. The spider's errback records it with this
    message and leaves its repo incomplete, so the next run asks again."""


class Interrupted(IgnoreRequest):
    """A request not sent because the run is stopping (Ctrl-C, SIGTERM) while it waited."""


class Waits:
    """Every wait of a request (a backoff, a paused or spent budget) goes through here: at most MAX_WAIT at once and
    within what is left of the request's MAX_REQUEST_TIME since its first try, or the request fails at once
    (`GaveUp`); and a wait ends within a second when the run is being stopped (`Interrupted`)."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.max_wait = crawler.settings.getfloat("MAX_WAIT", 360.0)
        self.max_request_time = crawler.settings.getfloat("MAX_REQUEST_TIME", 900.0)

    def check(self, request, seconds: float, why: str) -> None:
        """Raise GaveUp when `request` may not wait `seconds` (counted in the run's stats by the bound hit)."""
        started = request.meta.get("first_try_at")
        left = self.max_request_time - (time.time() - started) if started else math.inf
        if seconds <= min(self.max_wait, left):
            return
        bound, value = ("MAX_WAIT", self.max_wait) if seconds > self.max_wait else ("MAX_REQUEST_TIME",
                                                                                    self.max_request_time)
        self.crawler.stats.inc_value(f"openness/bounds/{bound.lower()}")
        raise GaveUp(f"{why}: waiting {seconds:.0f} s more would pass {bound} ({value:.0f} s): treated as an outage, "
                     f"the next run asks again")

    def stopping(self) -> bool:
        engine = self.crawler.engine
        return engine is not None and not engine.running

    async def sleep(self, request, seconds: float, why: str) -> None:
        """Sleep `seconds` before `request` goes, if it may (`check`). Scrapy's graceful stop waits for every request
        in progress, sleeping ones too, so a sleep looks every second whether the engine is stopping."""
        self.check(request, seconds, why)
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self.stopping():
                raise Interrupted(f"not sent: the run was stopped while it waited ({why})")
            await asyncio.sleep(min(left, 1.0))


def backoff(attempt: int, base: float, ceiling: float) -> float:
    """Seconds before retry number `attempt` (1, 2, ...): `base` doubling up to `ceiling`, times a random 0.5-1
    ("equal jitter": a wait of at least half, and clients that failed together come back apart)."""
    return min(ceiling, base * 2 ** min(attempt - 1, 64)) * random.uniform(0.5, 1.0)


class CrawlerEndpoints:
    """The crawl's two endpoints (crawler.endpoints) and the one of this crawler's spider, which decides between
    them where both have the same base URL (a replica serving both APIs)."""

    def __init__(self, crawler):
        self.urls = {name: crawler.settings.get(name) for name in TOKEN_VARIABLES if crawler.settings.get(name)}
        self.own = getattr(crawler.spidercls, "endpoint", ("", ""))[1]

    def of(self, url: str) -> str | None:
        return endpoint_of(url, self.urls, prefer=self.own)


class TokenMiddleware:
    """Adds `Authorization: Bearer` with HF_TOKEN to requests for the Hub endpoint and with GITHUB_TOKEN to requests
    for the GitHub endpoint, and removes it from any other (a redirect elsewhere must not carry it). Endpoints are
    base URLs, not hosts: both may be on one host.

    Tokens are read from the environment at start and never put in settings, items, logs or the DB.
    """

    def __init__(self, endpoints: CrawlerEndpoints, tokens: dict[str, str]):
        self.endpoints = endpoints
        self.tokens = tokens  # by endpoint setting name

    @classmethod
    def from_crawler(cls, crawler):
        endpoints = CrawlerEndpoints(crawler)
        tokens = {name: os.environ[variable] for name, variable in TOKEN_VARIABLES.items()
                  if os.environ.get(variable) and name in endpoints.urls}
        return cls(endpoints, tokens)

    def process_request(self, request, spider=None):
        token = self.tokens.get(self.endpoints.of(request.url))
        if token:
            request.headers[b"Authorization"] = f"Bearer {token}".encode()
        else:
            request.headers.pop(b"Authorization", None)
        return None


def html_page(response) -> bool:
    """An HTML page (a proxy's, a CDN's or a captive portal's) where the crawl asked for JSON or a file."""
    content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1").lower()
    start = response.body[:200].lstrip().lower()
    return "text/html" in content_type and start.startswith((b"<!doctype html", b"<html"))


def answer_json(body: bytes):
    """An answer's JSON. Nesting deeper than the parser's recursion (a few kB of `[`) raises ValueError like any
    JSON that does not parse, not RecursionError, so every reader records it as a parse error of that answer."""
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("JSON nested too deep to read") from None


JSON_TYPE = re.compile(r"application/([\w.-]+\+)?json\b")


def unfit_answer(response) -> str | None:
    """Why a 200 answer is not the server's document, or None: an HTML page, or a body that says it is JSON and does
    not parse (cut short or garbled on the way). Either is retried like a 503."""
    if response.status != 200:
        return None
    if html_page(response):
        return "an HTML page instead of the answer"
    content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1").lower()
    if JSON_TYPE.match(content_type.strip()):
        try:
            answer_json(response.body)
        except ValueError:
            return "a JSON answer that does not parse"
    return None


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's RetryMiddleware (RETRY_TIMES, RETRY_HTTP_CODES, RETRY_EXCEPTIONS, `get_retry_request`) with what a
    crawl of APIs that have outages needs besides: a retry waits an exponential backoff with jitter (Scrapy's comes at
    once), a 503's Retry-After is honoured, a 200 that is not the document asked for (`unfit_answer`) is retried too,
    and retries stop at MAX_REQUEST_TIME. The wait is slept in `process_request`, as the rate-limit middlewares
    pause, so it holds the request's slot: a failing server gets fewer requests.

    Given up: a 5xx goes to the spider, which records it and leaves the repo incomplete; a 408 becomes `GaveUp`
    (spiders take a status under 500 as an answer); an unfit 200 goes to the spider, which refuses it."""

    def __init__(self, settings):
        super().__init__(settings)
        self.base = settings.getfloat("RETRY_BACKOFF_BASE", 1.0)
        self.ceiling = settings.getfloat("RETRY_BACKOFF_MAX", 60.0)

    @classmethod
    def from_crawler(cls, crawler):
        middleware = super().from_crawler(crawler)
        middleware.waits = Waits(crawler)
        return middleware

    async def process_request(self, request, spider=None):
        request.meta.setdefault("first_try_at", time.time())  # wall clock: a distributed crawl's queue moves it
        retry_at = request.meta.get("retry_at")
        if retry_at and retry_at > time.time():
            await self.waits.sleep(request, retry_at - time.time(), f"backoff before retrying {request.url}")
        return None

    def process_response(self, request, response, spider=None):
        if request.meta.get("dont_retry", False):
            return response
        if response.status in self.retry_http_codes:
            reason = response_status_message(response.status)
        elif (reason := unfit_answer(response)) is None:
            return response
        hint = retry_after_seconds(response.headers.get(b"Retry-After", b"").decode("latin-1"))
        retry = self._retry_later(request, reason, hint)
        if retry is not None:
            return retry
        if response.status == 200 or response.status >= 500:
            return response
        raise GaveUp(f"HTTP {response.status} {reason}: still failing after {request.meta.get('retry_times', 0)} "
                     f"retries")

    def process_exception(self, request, exception, spider=None):
        if isinstance(exception, self.exceptions_to_retry) and not request.meta.get("dont_retry", False):
            return self._retry_later(request, global_object_name(exception.__class__), None)
        return None

    def _retry_later(self, request, reason: str, hint: float | None):
        """The retry of `request` with its backoff, or None when its retries or its time are spent (counted)."""
        delay = backoff(request.meta.get("retry_times", 0) + 1, self.base, self.ceiling)
        try:
            self.waits.check(request, max(delay, hint or 0.0), reason)
        except GaveUp:
            return None
        retry = get_retry_request(request, spider=self.crawler.spider, reason=reason,
                                  max_retry_times=request.meta.get("max_retry_times", self.max_retry_times),
                                  priority_adjust=request.meta.get("priority_adjust", self.priority_adjust))
        if retry is not None:
            retry.meta["retry_at"] = time.time() + max(delay, hint or 0.0)
        return retry


# Where the two services send a client on, besides their own hosts: the Hub's file CDNs (LFS and Xet) and GitHub's
# content hosts. A host matches itself and its subdomains. More with `crawl --allow-redirect-host`.
REDIRECT_HOSTS = ("huggingface.co", "hf.co", "xethub.hf.co", "api.github.com", "github.com",
                  "githubusercontent.com")


def host_allowed(host: str, allowed: set[str]) -> bool:
    return any(host == a or host.endswith("." + a) for a in allowed)


class RedirectPolicyMiddleware:
    """A redirect is followed only to the endpoints' own hosts and the allow-listed ones: anything else is refused
    before it is sent (the spider's errback records it with the URL it came from). Scrapy's OffsiteMiddleware is
    not enough here: it lets every `dont_filter` request through, and retries and conditional requests are such."""

    def __init__(self, allowed: set[str]):
        self.allowed = allowed

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        hosts = {urlsplit(settings.get(name) or "").hostname for name in ("HF_ENDPOINT", "GITHUB_API_URL")}
        extra = settings.getlist("OPENNESS_REDIRECT_HOSTS")  # crawl --allow-redirect-host
        return cls({h.lower() for h in (*hosts, *REDIRECT_HOSTS, *extra) if h})

    def process_request(self, request, spider=None):
        chain = request.meta.get("redirect_urls")
        host = (urlsplit(request.url).hostname or "").lower()
        if chain and not host_allowed(host, self.allowed):
            raise IgnoreRequest(f"redirected from {chain[0]} to {request.url}: host {host} is not allowed "
                                f"(allowed: {', '.join(sorted(self.allowed))}; more with --allow-redirect-host)")
        return None


RATELIMIT_FIELD = re.compile(r'"?(?P<name>[\w-]+)"?\s*;(?P<params>.*)')
# The Hub's published budgets per 5-minute window (reference/hub-api.md, "September '25").
HUB_BUDGETS = {False: {"api": 500, "resolvers": 3000}, True: {"api": 1000, "resolvers": 5000}}


class Budget:
    """At most `quota` requests in any `window` seconds (a sliding window keeps under the Hub's fixed one too),
    and a pause the server asked for."""

    def __init__(self, name: str, quota: int, window: float):
        self.name, self.quota, self.window = name, quota, window
        self.sent: deque[float] = deque()
        self.paused_until = 0.0

    def wait_time(self, now: float) -> float:
        if now < self.paused_until:
            return self.paused_until - now
        while self.sent and self.sent[0] <= now - self.window:
            self.sent.popleft()
        return 0.0 if len(self.sent) < self.quota else self.sent[0] + self.window - now

    def acquire(self) -> float:
        """0 when a request may go now (and it is counted), else the seconds to wait before asking again."""
        wait = self.wait_time(time.monotonic())
        if wait <= 0:
            self.sent.append(time.monotonic())
        return wait

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)


def make_budget(settings, name: str, quota: int, window: float):
    """This process's budget, or in a distributed crawl one shared by every crawler process through Redis."""
    url = settings.get("OPENNESS_REDIS_URL")
    if not url:
        return Budget(name, quota, window)
    from crawler.ops.distributed import RedisBudget, connect

    return RedisBudget(connect(url), name, quota, window)


def _seconds(text: str) -> float | None:
    """A count of seconds as a server writes it (digits, perhaps a fraction; `inf` for never): None for anything
    else, negative or NaN included, which the caller takes as no hint."""
    text = text.strip().lower()
    if text in ("inf", "infinity", "+inf"):
        return math.inf
    return float(text) if re.fullmatch(r"\d+(\.\d+)?", text) else None  # 400 digits: inf


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds or as an HTTP date (a date past: 0); None when absent or not either."""
    if not value or not value.strip():
        return None
    if (seconds := _seconds(value)) is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max((when - datetime.now(timezone.utc)).total_seconds(), 0.0)


def ratelimit_reset(value: str | None) -> tuple[str | None, int | None, float | None]:
    """The IETF draft `RateLimit: "api";r=<remaining>;t=<seconds>` header: (name, remaining, seconds to reset), each
    None where absent or not a number."""
    match = RATELIMIT_FIELD.match(value or "")
    if not match:
        return None, None, None
    params = dict(p.strip().split("=", 1) for p in match.group("params").split(";") if "=" in p)
    remaining = params.get("r", "").strip()
    return (match.group("name"), int(remaining) if remaining.isdigit() and len(remaining) < 20 else None,
            _seconds(params.get("t", "")))


def epoch_seconds_from_now(value: bytes | None) -> float | None:
    """GitHub's `x-ratelimit-reset` (a time in epoch seconds) as seconds from now (0 when past); None if not one."""
    seconds = _seconds((value or b"").decode("latin-1"))
    return None if seconds is None else max(seconds - time.time(), 0.0)


class HubRateLimitMiddleware:
    """Politeness towards the Hub: separate API and resolver budgets per 5 minutes, and when the Hub says stop
    (429 with `Retry-After` or `RateLimit: r=0;t=N`), every request of that budget waits until it may go again,
    MAX_WAIT at most (`Waits`): a longer pause is an outage, and the requests fail transiently meanwhile.

    Scrapy does not read these headers itself (its RetryMiddleware retries at once), so this is ours.
    """

    def __init__(self, crawler, endpoints: CrawlerEndpoints, budgets: dict[str, Budget], max_retries: int):
        self.stats = crawler.stats
        self.endpoints = endpoints
        self.budgets = budgets
        self.max_retries = max_retries
        self.waits = Waits(crawler)
        self.base = crawler.settings.getfloat("RETRY_BACKOFF_BASE", 1.0)
        self.ceiling = crawler.settings.getfloat("RETRY_BACKOFF_MAX", 60.0)

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        if not settings.get("HF_ENDPOINT"):
            raise NotConfigured("no HF_ENDPOINT")
        defaults = HUB_BUDGETS[bool(os.environ.get("HF_TOKEN"))]
        window = settings.getfloat("HUB_BUDGET_WINDOW", 300.0)
        budgets = {
            "api": make_budget(settings, "api", settings.getint("HUB_API_BUDGET") or defaults["api"], window),
            "resolvers": make_budget(settings, "resolvers", settings.getint("HUB_RESOLVER_BUDGET")
                                     or defaults["resolvers"], window),
        }
        return cls(crawler, CrawlerEndpoints(crawler), budgets, settings.getint("HUB_RATELIMIT_RETRIES", 10))

    def _budget(self, request) -> Budget | None:
        if self.endpoints.of(request.url) != "HF_ENDPOINT":
            return None
        name = request.meta.get("budget")
        if name not in self.budgets:
            path = urlsplit(request.url).path
            name = "resolvers" if "/resolve/" in path or "/raw/" in path else "api"
        return self.budgets[name]

    async def process_request(self, request, spider=None):
        budget = self._budget(request)
        if budget is None:
            return None
        waited = False
        while (wait := budget.acquire()) > 0:
            if not waited:
                self.stats.inc_value("openness/ratelimit/budget_waits")  # requests held back to stay in budget
                waited = True
            await self.waits.sleep(request, wait, f"the Hub's {budget.name} budget holds {request.url}")
        return None

    def process_response(self, request, response, spider=None):
        budget = self._budget(request)
        if budget is None:
            return response
        name, remaining, reset = ratelimit_reset(response.headers.get(b"RateLimit", b"").decode("latin-1"))
        told = self.budgets.get(name, budget) if name else budget
        if remaining == 0 and reset is not None:
            told.pause(min(reset + 1, LONGEST_PAUSE))  # the window resets in `reset` seconds: nothing of it before
        if response.status != 429:
            return response
        retries = request.meta.get("ratelimit_retries", 0)
        wait = retry_after_seconds(response.headers.get(b"Retry-After", b"").decode("latin-1"))
        if wait is None:
            wait = reset if reset is not None else backoff(retries + 1, self.base, self.ceiling)
        told.pause(min(wait, LONGEST_PAUSE))
        self.stats.inc_value("openness/ratelimit/pauses")
        return rate_limited_retry(self, request, response, wait, retries)


def rate_limited_retry(middleware, request, response, wait: float, retries: int):
    """The retry of a rate-limited request, after `wait`: or GaveUp (an outage, or its retries spent), which the
    spider's errback records, leaving the repo incomplete for the next run."""
    reason = f"HTTP {response.status} rate limited at {request.url}"
    middleware.waits.check(request, wait, reason)
    if retries >= middleware.max_retries:
        raise GaveUp(f"{reason}: still limited after {retries} retries")
    middleware.stats.inc_value("openness/ratelimit/retries")
    retry = request.copy()
    retry.meta["ratelimit_retries"] = retries + 1
    retry.dont_filter = True
    return retry


class GithubRateLimitMiddleware:
    """Politeness towards the GitHub API: read `x-ratelimit-remaining/reset` on every answer and, at 0, hold every
    request until the reset; on a primary or secondary limit (403/429), wait as told (`retry-after`, else the
    reset time, else GITHUB_SECONDARY_LIMIT_WAIT doubling each time) and retry. Every wait is MAX_WAIT at most
    (`Waits`): a longer one is an outage, and the requests fail transiently meanwhile."""

    # GitHub counts its budget itself and says what is left on every answer: ours only holds requests while paused
    # (shared by every crawler process of a distributed crawl, as the token's budget is).
    UNLIMITED = 10 ** 9

    def __init__(self, crawler, endpoints: CrawlerEndpoints, max_retries: int, pause):
        self.stats = crawler.stats
        self.endpoints = endpoints
        self.max_retries = max_retries
        self.pause = pause
        self.waits = Waits(crawler)
        self.secondary_wait = crawler.settings.getfloat("GITHUB_SECONDARY_LIMIT_WAIT", 60.0)

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.get("GITHUB_API_URL"):
            raise NotConfigured("no GITHUB_API_URL")
        return cls(crawler, CrawlerEndpoints(crawler), crawler.settings.getint("GITHUB_RATELIMIT_RETRIES", 10),
                   make_budget(crawler.settings, "github", cls.UNLIMITED, 1.0))

    def _ours(self, request) -> bool:
        return self.endpoints.of(request.url) == "GITHUB_API_URL"

    async def process_request(self, request, spider=None):
        if not self._ours(request):
            return None
        waited = False
        while (wait := self.pause.acquire()) > 0:
            if not waited:
                self.stats.inc_value("openness/ratelimit/budget_waits")
                waited = True
            await self.waits.sleep(request, wait, f"GitHub's rate limit holds {request.url}")
        return None

    def process_response(self, request, response, spider=None):
        if not self._ours(request):
            return response
        spent = response.headers.get(b"x-ratelimit-remaining") == b"0"
        reset = epoch_seconds_from_now(response.headers.get(b"x-ratelimit-reset")) if spent else None
        if reset is not None:
            self.pause.pause(min(reset + 1, LONGEST_PAUSE))
        limited = response.status == 429 or (response.status == 403 and (
            spent or b"retry-after" in response.headers or b"rate limit" in response.body.lower()))
        if not limited:
            return response
        retries = request.meta.get("ratelimit_retries", 0)
        wait = retry_after_seconds(response.headers.get(b"retry-after", b"").decode("latin-1"))
        if wait is None:
            # a secondary limit without a hint: GitHub asks for at least a minute, more with each retry
            wait = reset + 1 if reset is not None else self.secondary_wait * 2 ** min(retries, 64)
        self.pause.pause(min(wait, LONGEST_PAUSE))
        self.stats.inc_value("openness/ratelimit/pauses")
        return rate_limited_retry(self, request, response, wait, retries)
