"""Tier 1: which listed models the deep crawl takes first (`openness crawl --tier deep --from-listing`).

The deep crawl (card, licence files, config, linked GitHub repos) costs minutes of API budget a model; the Hub
lists ~3M. `deep_queue` orders the models of the tier-0 listing (`listed_models`, crawler/tier0.py) by a list of
named keys, each a column of one ordered SQL query over a covering index (m019), so it stays one scan of an index
of ~40 bytes a model, not of the compressed rows. The keys (ORDER_KEYS, data; the user sets the list with
`--deep-order`), the default first to last:

  claims               the listing row claims openness: an open licence declared (the licence's class from
                       extractors.licence_index, as the deep judge reads it) or a claim tag of
                       data/rules/openness_claims.yaml (`open-source`): the models whose claims are worth checking
  changed              crawled deep before, and its sha has changed since (listed sha != the deep subject's revision)
  new-of-judged-orgs   never crawled deep, by an author (organisation) with models judged deep
  downloads            most downloaded first (the listing's count)
  likes                most liked first

Ties fall to the next key, then to the id. A model judged deep at the sha the listing names is never in the queue:
it is done. A deep judgement replaces the tier-0 one wherever judgements are read (crawler/report.py).

Whether a row claims is read once per listing row (`mark_claims`, the rows' `claims` column): a row listed again is
replaced by the tier-0 writer, its `claims` null until read again, so a new listing walk costs one decompression per
row it changed, once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import lru_cache

import sqlite_utils

from crawler.tier0 import unpack
from extractors.claims import claim_rules
from extractors.licence_index import classify

# A key: the SQL expression sorted on, descending (true first, larger first). `d` is the model's subject when it is
# judged deep (its revision the sha judged), null when it is not; `l` the listing row.
ORDER_KEYS: dict[str, str] = {
    "claims": "coalesce(l.claims, 0)",
    "changed": "d.id is not null",
    "new-of-judged-orgs": "d.id is null and substr(l.id, 1, instr(l.id, '/') - 1) in (select value from orgs)",
    "downloads": "coalesce(l.downloads, -1)",
    "likes": "coalesce(l.likes, -1)",
}
DEFAULT_ORDER: tuple[str, ...] = ("claims", "changed", "new-of-judged-orgs", "downloads", "likes")
CLAIM_PAGE = 5000  # listing rows read for claims per transaction (written in id order: the rows are the table)


def parse_order(text: str | Sequence[str]) -> tuple[str, ...]:
    """`claims,changed,...` as a tuple of known keys; ValueError naming the unknown ones."""
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    unknown = [n for n in names if n not in ORDER_KEYS]
    if unknown or not names:
        raise ValueError(f"unknown order key(s) {', '.join(unknown) or '(none given)'}: expected a comma-separated "
                         f"list of {', '.join(ORDER_KEYS)}")
    return tuple(dict.fromkeys(names))


# -- claims of a listing row ---------------------------------------------------------------------------------------
@lru_cache(maxsize=4096)
def _open_licence(licence_id: str) -> bool:
    found = classify(licence_id)
    return found is not None and found.level == "open"


def _strings(value) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [v.strip() for v in values if isinstance(v, str) and v.strip()]


def row_claims(row: dict) -> bool:
    """Whether a (reduced) listing row claims openness: an open licence declared in its front matter or licence tag,
    or a claim tag (data/rules/openness_claims.yaml `tags`)."""
    card = row.get("cardData") if isinstance(row.get("cardData"), dict) else {}
    tags = _strings(row.get("tags"))
    licences = _strings(card.get("license")) + [t[8:] for t in tags if t.lower().startswith("license:")]
    if any(_open_licence(licence) for licence in licences):
        return True
    claim_tags = claim_rules().tags
    return any(t.lower() in claim_tags for t in tags)


def mark_claims(db: sqlite_utils.Database) -> int:
    """Read the claim of every listed model whose `claims` is not read yet (rows new or changed since), a page per
    transaction; returns how many were read."""
    done = 0
    while True:
        page = db.execute(f"select id, row from listed_models where claims is null limit {CLAIM_PAGE}").fetchall()
        if not page:
            return done
        out = []
        for model_id, packed in page:
            try:
                claims = row_claims(unpack(packed))
            except (ValueError, TypeError):  # an unreadable stored row claims nothing
                claims = False
            out.append((int(claims), model_id))
        with db.conn:
            db.conn.executemany("update listed_models set claims = ? where id = ?", sorted(out, key=lambda o: o[1]))
        done += len(out)


# -- the queue -----------------------------------------------------------------------------------------------------
def queue_sql(order: Sequence[str] = DEFAULT_ORDER, limit: int | None = None) -> str:
    keys = ", ".join(f"{ORDER_KEYS[name]} desc" for name in order)
    return f"""
        with orgs(value) as materialized (
            select distinct substr(s.repo_id, 1, instr(s.repo_id, '/') - 1) from subjects s
            where s.id like 'hf:model:%' and instr(s.repo_id, '/') > 0 and s.revision is not null
              and exists (select 1 from judgements j where j.subject_id = s.id and coalesce(j.tier, 'deep') = 'deep'))
        select l.id from listed_models l
        left join subjects d on d.id = 'hf:model:' || l.id and d.revision is not null
              and exists (select 1 from judgements j where j.subject_id = d.id and coalesce(j.tier, 'deep') = 'deep')
        where d.id is null or (l.sha is not null and d.revision is not l.sha)
        order by {keys}, l.id{f' limit {int(limit)}' if limit is not None else ''}"""


def deep_queue(db: sqlite_utils.Database, limit: int | None = None, order: Sequence[str] = DEFAULT_ORDER
               ) -> Iterator[str]:
    """The listed models to crawl deep, first first: ordered by `order` (names of ORDER_KEYS), without the models
    judged deep at their listed sha. Reads the claims of rows not read yet first (mark_claims). Streams the rows of
    one ordered query (with `limit`, SQLite keeps only the top `limit` while it scans)."""
    order = parse_order(order)
    if "claims" in order:
        mark_claims(db)
    cursor = db.execute(queue_sql(order, limit))
    while rows := cursor.fetchmany(1000):
        for (model_id,) in rows:
            yield model_id


# Seeds a `--from-listing` run takes without --deep-limit: about a day of the anonymous Hub API budget (500 calls per
# 5 minutes, ~144k a day, at ~10-15 calls a model with its files and bases).
DEFAULT_DEEP_LIMIT = 10_000


def listing_seeds(db: sqlite_utils.Database, limit: int | None = None, order: Sequence[str] = DEFAULT_ORDER
                  ) -> list[str]:
    """The first `limit` (default DEFAULT_DEEP_LIMIT) models of the deep queue, the seeds of a `--from-listing`
    run."""
    return list(deep_queue(db, limit=limit or DEFAULT_DEEP_LIMIT, order=order))


class NoListing(ValueError):
    """A `--from-listing` run over a store that holds no listing."""


def seeds_from_listing(db_path, named: list[str], limit: int | None, order: Sequence[str]) -> list[str]:
    """The seeds of a deep run from the listing: the named ones, then the queue's first `limit`. The queue writes
    (the listing rows' claims, mark_claims) under the crawl's lock. Raises NoListing, and the store's and the lock's
    refusals (StoreError, LockHeld)."""
    from crawler.ops.lock import StoreLock
    from crawler.store import check_store, guarded_store, open_db

    check_store(db_path)
    with guarded_store(db_path), StoreLock(db_path, "crawl"):
        db = open_db(db_path)
        try:
            if db.execute("select 1 from listed_models limit 1").fetchone() is None:
                raise NoListing(f"{db_path}: no listing stored; run `openness crawl --discover --tier listing` first")
            return list(dict.fromkeys([*named, *listing_seeds(db, limit, order)]))
        finally:
            db.close()


def deep_time_settings(seconds: float | None) -> dict:
    """The Scrapy settings of `--deep-time SECONDS` (crawler/deep_budget.py)."""
    if not seconds:
        return {}
    return {"OPENNESS_DEEP_TIME": seconds, "SPIDER_MIDDLEWARES": {"crawler.deep_budget.DeepTimeBudget": 50}}
