"""The one writer of the store: every item a spider yields goes through here."""

from __future__ import annotations

from itemadapter import ItemAdapter

from crawler.items import ArtifactItem, CompletedItem, ErrorItem, LinkItem, SubjectItem
from crawler.store import Store, open_db


class StorePipeline:
    def __init__(self, db_path: str, run_id: int):
        self.db_path = db_path
        self.run_id = run_id
        self.store: Store | None = None

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings["OPENNESS_DB"], crawler.settings.getint("OPENNESS_RUN_ID"))

    def open_spider(self, spider=None):
        self.store = Store(open_db(self.db_path))

    def close_spider(self, spider=None):
        self.store.db.close()

    def process_item(self, item, spider=None):
        fields = ItemAdapter(item).asdict()
        if isinstance(item, ArtifactItem):
            self.store.save_artifact(self.run_id, **fields)
        elif isinstance(item, SubjectItem):
            subject_id = fields.pop("subject_id")
            if fields.pop("touch_only"):
                fields = {k: fields[k] for k in ("kind", "source", "repo_id", "url", "revision")}
            self.store.save_subject(self.run_id, subject_id, **fields)
        elif isinstance(item, ErrorItem):
            self.store.save_error(self.run_id, **fields)
        elif isinstance(item, CompletedItem):
            self.store.mark_complete(item.subject_id, item.revision)
        elif isinstance(item, LinkItem):
            self.store.save_link(item.from_subject, item.to_subject, item.relation,
                                 self.store.artifact_at(item.found_in_url, item.found_in_revision))
        return item
