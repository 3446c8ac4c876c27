"""Scrapy settings for our spiders run by Scrapyd (or `scrapy crawl`) as crawler processes of a distributed crawl:
the project's settings, the spiders' modules, and the distributed ones for the Redis in OPENNESS_REDIS_URL.
Endpoints come from HF_ENDPOINT / GITHUB_API_URL, tokens from HF_TOKEN / GITHUB_TOKEN, as for `openness crawl`."""

import os

from crawler.ops.distributed import crawler_settings
from crawler.settings import *  # noqa: F401,F403 (the project's settings, extended below)

SPIDER_MODULES = ["spiders.huggingface", "spiders.github"]
HF_ENDPOINT = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
GITHUB_API_URL = os.environ.get("GITHUB_API_URL", "https://api.github.com")
if not os.environ.get("OPENNESS_REDIS_URL"):
    raise RuntimeError("crawler.ops.scrapyd_settings: set OPENNESS_REDIS_URL (e.g. redis://127.0.0.1:6379/0) in the "
                       "environment of scrapyd or scrapy; the run's ingester (`openness ingest`) uses the same URL")
globals().update(crawler_settings(os.environ["OPENNESS_REDIS_URL"]))
