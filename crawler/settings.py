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
DOWNLOAD_TIMEOUT = 60
# Spiders look at every status themselves (a 401 GatedRepo is evidence, not an error); 501 NotCaptured and 404
# are not retried, transient ones are.
HTTPERROR_ALLOW_ALL = True
RETRY_TIMES = 3
DOWNLOADER_MIDDLEWARES = {
    "crawler.middlewares.TokenMiddleware": 450,
}
ITEM_PIPELINES = {
    "crawler.pipelines.StorePipeline": 300,
}
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
