"""`openness crawl --deep-time SECONDS`: a deep run that ends on time.

A spider middleware on the Hub spider's start (the seeds, a model each): a seed is started only when the engine has
room for it (no request waiting in the scheduler, the downloader not full), so started models are worked through
before new ones are taken; once OPENNESS_DEEP_TIME seconds have passed since the spider opened, no new model is
started. The ones started finish (their files, base models, then the GitHub repos they link), the run ends
`completed` and is judged; the seeds not started are counted (`openness/deep/not_started`) and stay first in the
deep queue (crawler/priority.py: a model is done once judged deep at its sha), so the next run takes them.

Not Scrapy's CLOSESPIDER_TIMEOUT: that closes the spider mid-model (requests dropped, the run not `finished`, so not
judged); this one stops taking, not working.
"""

from __future__ import annotations

import time

import scrapy
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import sleep

from crawler.signals import subject_done

SETTING = "OPENNESS_DEEP_TIME"
POLL = 0.05  # seconds between looks at the engine while it has no room for a new model
STAT = "openness/deep/not_started"


class DeepTimeBudget:
    def __init__(self, crawler, budget: float):
        self.crawler = crawler
        self.budget = budget
        self.deadline: float | None = None

    @classmethod
    def from_crawler(cls, crawler):
        budget = crawler.settings.getfloat(SETTING, 0.0)
        if budget <= 0:
            raise NotConfigured
        return cls(crawler, budget)

    def _over(self) -> bool:
        if self.deadline is None:
            self.deadline = time.monotonic() + self.budget
        return time.monotonic() >= self.deadline

    def _busy(self) -> bool:
        engine = self.crawler.engine
        scheduler = engine.scheduler
        return engine.needs_backout() or bool(scheduler and scheduler.has_pending_requests())

    def _drop(self, request: scrapy.Request) -> None:
        """A seed not started: counted, and taken back from the counts the spider made when it built the request
        (requests by kind, the progress bar's repos)."""
        self.crawler.stats.inc_value(STAT)
        if kind := request.meta.get("kind"):
            self.crawler.stats.inc_value(f"openness/requests/{kind}", -1)
        self.crawler.signals.send_catch_log(subject_done)

    async def process_start(self, start):
        spider = self.crawler.spider
        if getattr(spider, "name", None) != "huggingface" or getattr(spider, "tier", "deep") != "deep":
            async for item in start:
                yield item
            return
        self._over()  # the budget counts from the first seed
        stopped = False
        async for item in start:
            if not isinstance(item, scrapy.Request):
                yield item  # the subjects of refused ids and label repos: records, not work
                continue
            while not stopped and not self._over() and self._busy():
                await sleep(POLL)
            if stopped or self._over():
                stopped = True
                self._drop(item)
                continue
            yield item
