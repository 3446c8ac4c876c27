"""Downloader middlewares: each token goes to its own host only; the Hub's budgets and rate limits are kept."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections import deque
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest, NotConfigured


class TokenMiddleware:
    """Adds `Authorization: Bearer` for HF_TOKEN / GITHUB_TOKEN, only on requests to that token's own host.

    Tokens are read from the environment at start and never put in settings, items, logs or the DB.
    """

    def __init__(self, tokens_by_host: dict[str, str]):
        self.tokens_by_host = tokens_by_host

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        tokens = {}
        for endpoint_setting, variable in (("HF_ENDPOINT", "HF_TOKEN"), ("GITHUB_API_URL", "GITHUB_TOKEN")):
            token = os.environ.get(variable)
            endpoint = settings.get(endpoint_setting)
            if token and endpoint:
                tokens[urlsplit(endpoint).netloc.lower()] = token
        return cls(tokens)

    def process_request(self, request, spider=None):
        token = self.tokens_by_host.get(urlsplit(request.url).netloc.lower())
        if token and b"Authorization" not in request.headers:
            request.headers[b"Authorization"] = f"Bearer {token}".encode()
        elif not token:
            # A redirect to another host must not carry a token that belongs elsewhere.
            request.headers.pop(b"Authorization", None)
        return None


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


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds or as an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max((parsedate_to_datetime(value) - datetime.now(timezone.utc)).total_seconds(), 0.0)
    except (TypeError, ValueError):
        return None


def ratelimit_reset(value: str | None) -> tuple[str | None, int | None, float | None]:
    """The IETF draft `RateLimit: "api";r=<remaining>;t=<seconds>` header: (name, remaining, seconds to reset)."""
    match = RATELIMIT_FIELD.match(value or "")
    if not match:
        return None, None, None
    params = dict(p.strip().split("=", 1) for p in match.group("params").split(";") if "=" in p)
    try:
        return match.group("name"), int(params["r"]) if "r" in params else None, \
            float(params["t"]) if "t" in params else None
    except ValueError:
        return match.group("name"), None, None


class HubRateLimitMiddleware:
    """Politeness towards the Hub: separate API and resolver budgets per 5 minutes, and when the Hub says stop
    (429 with `Retry-After` or `RateLimit: r=0;t=N`), every request of that budget waits until it may go again.

    Scrapy does not read these headers itself (its RetryMiddleware retries at once), so this is ours.
    """

    def __init__(self, crawler, hub_host: str, budgets: dict[str, Budget], max_retries: int):
        self.stats = crawler.stats
        self.hub_host = hub_host
        self.budgets = budgets
        self.max_retries = max_retries

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        endpoint = settings.get("HF_ENDPOINT")
        if not endpoint:
            raise NotConfigured("no HF_ENDPOINT")
        defaults = HUB_BUDGETS[bool(os.environ.get("HF_TOKEN"))]
        window = settings.getfloat("HUB_BUDGET_WINDOW", 300.0)
        budgets = {
            "api": make_budget(settings, "api", settings.getint("HUB_API_BUDGET") or defaults["api"], window),
            "resolvers": make_budget(settings, "resolvers", settings.getint("HUB_RESOLVER_BUDGET")
                                     or defaults["resolvers"], window),
        }
        return cls(crawler, urlsplit(endpoint).netloc.lower(), budgets, settings.getint("HUB_RATELIMIT_RETRIES", 10))

    def _budget(self, request) -> Budget | None:
        url = urlsplit(request.url)
        if url.netloc.lower() != self.hub_host or url.path.startswith("/repos/"):
            return None  # not the Hub (a replica serves GitHub's /repos/ paths on the same host)
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
            await asyncio.sleep(wait)
        return None

    def process_response(self, request, response, spider=None):
        budget = self._budget(request)
        if budget is None:
            return response
        name, remaining, reset = ratelimit_reset(response.headers.get(b"RateLimit", b"").decode("latin-1"))
        told = self.budgets.get(name, budget) if name else budget
        if remaining == 0 and reset:
            told.pause(reset + 1)  # the window resets in `reset` seconds: send nothing of it before then
        if response.status != 429:
            return response
        wait = retry_after_seconds(response.headers.get(b"Retry-After", b"").decode("latin-1"))
        wait = wait if wait is not None else (reset if reset is not None else 60.0)
        told.pause(wait)
        self.stats.inc_value("openness/ratelimit/pauses")
        retries = request.meta.get("ratelimit_retries", 0)
        if retries >= self.max_retries:
            return response  # the spider records it as a failed fetch
        self.stats.inc_value("openness/ratelimit/retries")
        retry = request.copy()
        retry.meta["ratelimit_retries"] = retries + 1
        retry.dont_filter = True
        return retry


class GithubRateLimitMiddleware:
    """Politeness towards the GitHub API: read `x-ratelimit-remaining/reset` on every answer and, at 0, hold every
    request until the reset; on a primary or secondary limit (403/429), wait as told (`retry-after`, else the
    reset time, else a minute doubling each time) and retry. Nothing is dropped while retries remain."""

    # GitHub counts its budget itself and says what is left on every answer: ours only holds requests while paused
    # (shared by every crawler process of a distributed crawl, as the token's budget is).
    UNLIMITED = 10 ** 9

    def __init__(self, crawler, api_host: str, max_retries: int, pause):
        self.stats = crawler.stats
        self.api_host = api_host
        self.max_retries = max_retries
        self.pause = pause

    @classmethod
    def from_crawler(cls, crawler):
        endpoint = crawler.settings.get("GITHUB_API_URL")
        if not endpoint:
            raise NotConfigured("no GITHUB_API_URL")
        return cls(crawler, urlsplit(endpoint).netloc.lower(), crawler.settings.getint("GITHUB_RATELIMIT_RETRIES", 10),
                   make_budget(crawler.settings, "github", cls.UNLIMITED, 1.0))

    def _ours(self, request) -> bool:
        # The replica serves both APIs on one host: GitHub's paths start with /repos/.
        url = urlsplit(request.url)
        return url.netloc.lower() == self.api_host and url.path.startswith("/repos/")

    async def process_request(self, request, spider=None):
        if not self._ours(request):
            return None
        waited = False
        while (wait := self.pause.acquire()) > 0:
            if not waited:
                self.stats.inc_value("openness/ratelimit/budget_waits")
                waited = True
            await asyncio.sleep(wait)
        return None

    def process_response(self, request, response, spider=None):
        if not self._ours(request):
            return response
        remaining = response.headers.get(b"x-ratelimit-remaining")
        reset = response.headers.get(b"x-ratelimit-reset")
        if remaining == b"0" and reset and reset.isdigit():
            self.pause.pause(int(reset) + 1 - time.time())
        limited = response.status == 429 or (response.status == 403 and (
            remaining == b"0" or b"retry-after" in response.headers or b"rate limit" in response.body.lower()))
        if not limited:
            return response
        retries = request.meta.get("ratelimit_retries", 0)
        wait = retry_after_seconds(response.headers.get(b"retry-after", b"").decode("latin-1"))
        if wait is None:
            wait = (int(reset) + 1 - time.time()) if remaining == b"0" and reset and reset.isdigit() \
                else 60.0 * 2 ** retries  # secondary limit without a hint: at least a minute, doubling
        self.pause.pause(wait)
        self.stats.inc_value("openness/ratelimit/pauses")
        if retries >= self.max_retries:
            return response
        self.stats.inc_value("openness/ratelimit/retries")
        retry = request.copy()
        retry.meta["ratelimit_retries"] = retries + 1
        retry.dont_filter = True
        return retry
