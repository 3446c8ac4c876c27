"""The one writer of the store: every item a spider yields goes through `write_item`, in this process
(`StorePipeline`) or, in a distributed crawl, in the single ingester that reads them from Redis."""

from __future__ import annotations

import sqlite3

from itemadapter import ItemAdapter
from scrapy.utils.defer import deferred_from_coro

from crawler.items import ArtifactItem, CompletedItem, ErrorItem, LinkItem, ListingPageItem, SubjectItem
from crawler.store import Store, is_store_failure, open_db


STORE_FAILED = "openness/store_failed/"  # a count whose key ends with the reason the store refused a write


def write_item(store: Store, run_id: int, item) -> None:
    if isinstance(item, ListingPageItem):  # tier 0: a page of rows, one executemany in one transaction
        store.save_listing_page(run_id, item.repo_type, item.rows)
        return
    fields = ItemAdapter(item).asdict()
    if isinstance(item, ArtifactItem):
        store.save_artifact(run_id, **fields)
    elif isinstance(item, SubjectItem):
        subject_id = fields.pop("subject_id")
        if fields.pop("touch_only"):
            fields = {k: fields[k] for k in ("kind", "source", "repo_id", "url", "revision")}
        store.save_subject(run_id, subject_id, **fields)
    elif isinstance(item, ErrorItem):
        store.save_error(run_id, **fields)
    elif isinstance(item, CompletedItem):
        store.mark_complete(item.subject_id, item.revision, item.fetch_rules)
    elif isinstance(item, LinkItem):
        store.save_link(item.from_subject, item.to_subject, item.relation,
                        store.artifact_at(item.found_in_url, item.found_in_revision))


class StorePipeline:
    def __init__(self, db_path: str, run_id: int, crawler=None):
        self.db_path = db_path
        self.run_id = run_id
        self.crawler = crawler
        self.store: Store | None = None
        self.failed = ""

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings["OPENNESS_DB"], crawler.settings.getint("OPENNESS_RUN_ID"), crawler)

    def open_spider(self, spider=None):
        self.store = Store(open_db(self.db_path))

    def close_spider(self, spider=None):
        self.store.db.close()

    def process_item(self, item, spider=None):
        if self.failed:
            return item  # the store failed: the crawl is closing, and nothing more can be written
        try:
            write_item(self.store, self.run_id, item)
        except sqlite3.DatabaseError as exc:
            if not is_store_failure(exc):
                raise
            # A store that fails (a full disk, a read-only file, an I/O error) fails every later write too: the crawl
            # stops at the first, its reason in the stats for the command to report (cli._run_crawl),
            # instead of a traceback per item.
            self.failed = str(exc)
            if self.crawler is not None:
                # SQLite's own short reason in the key: the run's counts keep numbers only.
                self.crawler.stats.set_value(f"{STORE_FAILED}{self.failed}", 1)
                deferred_from_coro(self.crawler.engine.close_spider_async(reason="store_failed"))
        return item
