"""Scrapy settings for every crawl. The CLI adds the per-run values (DB path, run id, endpoints)."""

BOT_NAME = "openness-crawler"
USER_AGENT = "openness-crawler/0.1 (openness evidence crawler; polite, read-only)"
# The crawl talks to two JSON APIs and their file resolvers, not to web pages: robots.txt does not govern API
# clients, and each fetch of it would cost a request from the API budget.
ROBOTSTXT_OBEY = False
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = "WARNING"
CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 8
# CONCURRENT_ITEMS stays Scrapy's 100 although every pipeline is synchronous: 1 made the fetch phase of 1,628
# synthetic models 15-20% faster (fewer worker tasks per callback output), but one run in nine stalled, idle, for
# over 15 minutes, for a reason not found (docs/performance.md).
DOWNLOAD_TIMEOUT = 60
# The listing is read lazily: its next page is asked for only when fewer repos than this, taken from the pages read
# so far, are still being crawled. Memory then stays flat however long the listing (a page holds up to 1000).
LISTING_PENDING_REPOS = 500
# Days before a repo with no sign of change is asked again (a followed link that answered 404; in nightly runs a
# GitHub repo no changed model links): `crawl --recheck-days` / `ingest --recheck-days`.
RECHECK_DAYS = 7.0
# Spiders look at every status themselves (a 401 GatedRepo is evidence, not an error); 501 NotCaptured and 404
# are not retried, transient failures are.
HTTPERROR_ALLOW_ALL = True
# Transient failures are retried with Scrapy's retry machinery (crawler.middlewares.BackoffRetryMiddleware, in place of
# Scrapy's RetryMiddleware): these statuses, RETRY_EXCEPTIONS (resets, timeouts, bodies cut short of their
# Content-Length: DOWNLOAD_FAIL_ON_DATALOSS), and a 200 that is not what was asked for (an HTML page, JSON that does
# not parse). Each retry waits longer: RETRY_BACKOFF_BASE seconds doubling up to RETRY_BACKOFF_MAX, times a random
# 0.5-1 (jitter: clients that failed together do not come back together); a 503's Retry-After is honoured. Ten
# retries ride out minutes of outage; what still fails is recorded and its repo left incomplete for the next run.
RETRY_TIMES = 10
# 429 is not retried here: the rate-limit middlewares retry it after the wait the server asks for.
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408]
RETRY_BACKOFF_BASE = 1.0
RETRY_BACKOFF_MAX = 60.0
DOWNLOAD_FAIL_ON_DATALOSS = True
# The longest one request waits, in seconds, for a pause a server asks for (Retry-After, RateLimit's t, GitHub's
# x-ratelimit-reset), a budget holds it or a backoff: the Hub's rate windows are 5 minutes. A longer wait (a reset
# in the year 5000, `t=inf`) is an outage: the request fails at once, transiently (recorded; the next run asks
# again), and the run goes on.
MAX_WAIT = 360.0
# The most time one request may take, in seconds, from its first try through its retries and waits; past it, it
# fails as transient (recorded; the next run asks again).
MAX_REQUEST_TIME = 900.0
# On Ctrl-C or SIGTERM, the seconds given to answers on their way before the run stops without them (a second Ctrl-C
# stops it at once). Waits end at once.
SHUTDOWN_GRACE = 5.0
# GitHub's secondary rate limit answered without a hint: wait this long, doubling with each retry (GitHub's docs:
# at least a minute).
GITHUB_SECONDARY_LIMIT_WAIT = 60.0
DOWNLOADER_MIDDLEWARES = {
    "crawler.middlewares.RedirectPolicyMiddleware": 440,  # before the token is added
    "crawler.middlewares.TokenMiddleware": 450,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.BackoffRetryMiddleware": 550,
    "crawler.middlewares.HubRateLimitMiddleware": 560,
    "crawler.middlewares.GithubRateLimitMiddleware": 565,
}
# Requests per 5-minute window, per Hub budget. Unset: the Hub's published defaults (anonymous 500 API / 3000
# resolver calls; with HF_TOKEN 1000 / 5000). The CLI sets them from --api-budget / --resolver-budget.
HUB_BUDGET_WINDOW = 300.0
HUB_RATELIMIT_RETRIES = 10
GITHUB_RATELIMIT_RETRIES = 10
ITEM_PIPELINES = {
    "crawler.pipelines.StorePipeline": 300,
}
# A rename or a CDN is one or two hops; a chain longer than this is a loop, recorded and not followed further.
REDIRECT_MAX_TIMES = 5
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
# Bounds on what a third party's answers can make the crawl ask for, each recorded when reached (an `errors` row of
# kind `bound` naming the answer and the setting, and the run's count `openness/bounds/<setting>/<key>`):
# pages read of one paginated answer (a Hub tree, a repo's releases, the model listing; for a GitHub tree GitHub
# truncated, the sub-tree levels walked per repo), and links followed from one answer (a card's text, a repo JSON's
# card data and tags): a card naming 3,000 GitHub repos or 5,000 base models costs at most the cap. The defaults are
# far above what real repos need (the snapshot's largest: 18 GitHub links, 10 datasets, one base model).
PAGES_PER_RESOURCE = {"tree": 500, "gh_tree": 1000, "gh_releases": 10, "listing": 10000}
LINKS_PER_CARD = {"github": 50, "base_model": 20, "dataset": 100, "paper": 100}
