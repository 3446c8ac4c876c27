"""Run a crawl in this process: Scrapy spiders write artifacts to the store, then the models are assessed."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from scrapy import signals
from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler import settings as default_settings
from crawler.assess import assess
from crawler.signals import model_step
from crawler.store import Store, open_db
from spiders.huggingface import STEPS_PER_MODEL, HuggingFaceSpider


@dataclass
class CrawlResult:
    run_id: int
    status: str  # completed | interrupted | failed
    counts: dict = field(default_factory=dict)
    assessed: int = 0


def read_seeds(path: Path) -> list[str]:
    """One model id per line; blank lines and `#` comments ignored."""
    ids = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            ids.append(line)
    return ids


def crawl(db_path: Path, model_ids: list[str], hf_endpoint: str, github_endpoint: str, *,
          command: list[str], show_progress: bool = True, log_level: str = "WARNING") -> CrawlResult:
    db = open_db(db_path)
    store = Store(db)
    run_id = store.start_run(shlex.join(command), hf_endpoint, github_endpoint, model_ids)
    db.close()

    settings = Settings()
    settings.setmodule(default_settings, priority="project")
    settings.update({"OPENNESS_DB": str(db_path), "OPENNESS_RUN_ID": run_id, "HF_ENDPOINT": hf_endpoint,
                     "GITHUB_API_URL": github_endpoint, "LOG_LEVEL": log_level})
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(HuggingFaceSpider)
    close_reason = {}
    crawler.signals.connect(lambda spider, reason: close_reason.update(reason=reason), signal=signals.spider_closed,
                            weak=False)

    progress = Progress(TextColumn("[bold]crawling"), BarColumn(), MofNCompleteColumn(), TextColumn("steps"),
                        TimeElapsedColumn(), disable=not show_progress, transient=False)
    task = progress.add_task("crawl", total=len(model_ids) * STEPS_PER_MODEL)
    crawler.signals.connect(lambda units: progress.advance(task, units), signal=model_step, weak=False)
    with progress:
        process.crawl(crawler, model_ids=model_ids, hf_endpoint=hf_endpoint)
        process.start()

    reason = close_reason.get("reason")
    status = {"finished": "completed", "shutdown": "interrupted"}.get(reason, "failed")
    counts = {k: v for k, v in (crawler.stats.get_stats() or {}).items() if isinstance(v, (int, float))}
    db = open_db(db_path)
    Store(db).finish_run(run_id, status, counts)
    result = CrawlResult(run_id, status, counts)
    if status == "completed":
        result.assessed = assess(db, model_ids)
    db.close()
    return result
