"""A synthetic Hub at listing scale (crawler/replica/synthetic.py): the model and dataset listings of N synthetic
models, pages built from their cursor alone, so a million models are served with the memory of a few pages."""

from __future__ import annotations

import json
import time
import urllib.request
from urllib.parse import urlsplit

import pytest

from conftest import SNAPSHOT, start_replica
from crawler.corpus import Corpus
from crawler.replica.server import ReplicaApp
from crawler.replica.synthetic import SyntheticHub, _is_repo_id

LISTING = next((SNAPSHOT.parent / "hub-listing").glob("*.csv.gz"))
# What a tier-0 crawl asks of the listing (issue 33), in both forms clients send.
ASKED = ["sha", "siblings", "cardData", "gated", "tags", "baseModels", "safetensors", "config", "library_name",
         "inference", "downloads", "likes", "lastModified", "createdAt"]
BASE = "http://replica.test"


def app_over(count: int, **options) -> tuple[ReplicaApp, SyntheticHub]:
    corpus = Corpus(SNAPSHOT)
    hub = SyntheticHub(corpus, count, LISTING, **options)
    return ReplicaApp(corpus), hub


def get(app: ReplicaApp, target: str):
    answer = app.handle("GET", target, {}, BASE)
    return answer.status, answer.headers, json.loads(answer.body)


def next_target(headers: dict) -> str | None:
    link = headers.get("Link")
    if not link:
        return None
    assert link.endswith('>; rel="next"') and link.startswith(f"<{BASE}/")
    url = urlsplit(link[1:link.index(">")])
    return f"{url.path}?{url.query}"


def walk(app: ReplicaApp, target: str):
    """Every row of a listing, page after page by the Link header; and the pages' sizes."""
    rows, sizes = [], []
    while target:
        status, headers, page = get(app, target)
        assert status == 200
        rows += page
        sizes.append(len(page))
        target = next_target(headers)
    return rows, sizes


def expand_query(fields, bracket_every: int = 2) -> str:
    return "&".join(f"expand{'[]' if n % bracket_every else ''}={f}" for n, f in enumerate(fields))


@pytest.fixture(scope="module")
def scaled():
    return app_over(20_000, mutate=0.01, mutate_seed=3)


def test_a_page_holds_1000_rows_a_next_link_and_the_expand_fields_asked_only(scaled):
    app, hub = scaled
    status, headers, rows = get(app, f"/api/models?cursor=eyJvZmZzZXQiOiAxMDAwMH0&{expand_query(ASKED)}")
    assert status == 200 and len(rows) == 1000 and next_target(headers)
    assert "synthetic" in headers["X-Replica-Note"]
    kept = {"_id", "id", "_replica"}
    for row in rows:
        assert set(row) <= kept | set(ASKED)
        # Borrowed from a capture or given by the listing: always there; in no capture: never, and said so.
        assert {"sha", "siblings", "cardData", "gated", "tags", "lastModified", "createdAt"} <= set(row)
        assert not {"likes", "safetensors", "inference", "config"} & set(row)
        assert {"likes", "safetensors", "inference", "config"} <= set(row["_replica"]["not_captured"])
        assert row["_replica"]["synthetic"]["card_and_files_from"].startswith("huggingface/models/")
        card = row["cardData"]
        if isinstance(card.get("license"), str):
            assert f"license:{card['license']}" in row["tags"]
        for dataset in card.get("datasets") or []:
            assert f"dataset:{dataset}" in row["tags"]
    derivatives = [row for row in rows if "baseModels" in row]
    assert derivatives and len(derivatives) < len(rows)
    for row in derivatives:
        base = row["cardData"]["base_model"]
        assert [m["id"] for m in row["baseModels"]["models"]] == (base if isinstance(base, list) else [base])
        assert all(f"base_model:{b}" in row["tags"] for b in row["cardData"]["base_model"]
                   if isinstance(row["cardData"]["base_model"], list)) or f"base_model:{base}" in row["tags"]
    # Only what is asked: without expand, the listing's default fields; siblings and cardData only when asked.
    _, _, plain = get(app, "/api/models?cursor=eyJvZmZzZXQiOiAxMDAwMH0&expand=sha&expand[]=downloads")
    assert [r["id"] for r in plain] == [r["id"] for r in rows]
    assert all(set(r) <= {"_id", "id", "_replica", "sha", "downloads"} and "sha" in r for r in plain)


def test_a_walk_of_a_20000_model_listing_visits_every_id_once_in_each_order(scaled):
    app, hub = scaled
    real = len(app.hub.corpus.models)
    for sort in ("", "&sort=lastModified", "&sort=downloads"):
        rows, sizes = walk(app, f"/api/models?expand=lastModified&expand=downloads{sort}")
        ids = [row["id"] for row in rows]
        assert len(ids) == len(set(ids)) == 20_000 + real
        assert all(size == 1000 for size in sizes[:-1])
        if sort == "&sort=lastModified":
            # Newest change first, so an incremental walk can stop at its watermark: the mutated models lead.
            stamps = [row["lastModified"] for row in rows]
            assert stamps == sorted(stamps, reverse=True)
            mutated = [row for row in rows if row["_replica"].get("synthetic", {}).get("mutation")]
            assert mutated and rows[:len(mutated)] == mutated
        if sort == "&sort=downloads":
            downloads = [row.get("downloads", -1) for row in rows]
            assert downloads == sorted(downloads, reverse=True)


def test_rows_are_the_same_for_the_same_seed_and_others_for_another():
    target = f"/api/models?cursor=eyJvZmZzZXQiOiA0MDAwfQ&{expand_query(ASKED)}"
    first = get(app_over(10_000, seed=5)[0], target)[2]
    again = get(app_over(10_000, seed=5)[0], target)[2]
    other = get(app_over(10_000, seed=6)[0], target)[2]
    assert first == again
    assert [r["id"] for r in other] == [r["id"] for r in first]  # the listing's shape does not move
    assert [r.get("baseModels") for r in other] != [r.get("baseModels") for r in first]


def test_derivatives_name_a_base_the_hub_serves_and_keep_its_licence_or_declare_another(scaled):
    app, hub = scaled
    _, _, rows = get(app, "/api/models?cursor=eyJvZmZzZXQiOiAxNTAwMH0&expand=cardData&expand=baseModels")
    # Derivatives the replica made (a borrowed card may name its own real base too, kept as it is).
    derivatives = [row for row in rows if "derivative" in row["_replica"]["synthetic"]]
    assert all("baseModels" in row for row in derivatives)
    kept = declared = 0
    for row in derivatives:
        base_id = row["baseModels"]["models"][0]["id"]
        status, _, base = get(app, f"/api/models/{base_id}")
        assert status == 200 and base["id"] == base_id
        licence = {k: v for k, v in row["cardData"].items() if k in ("license", "license_name", "license_link")}
        base_licence = {k: v for k, v in (base.get("cardData") or {}).items()
                        if k in ("license", "license_name", "license_link")}
        note = row["_replica"]["synthetic"]["derivative"]
        if note["licence"] == "the base's":
            assert licence == base_licence
            kept += 1
        else:
            declared += 1
        # The licence is one a real captured card declares.
        assert licence in hub.licences
    assert kept and declared


def test_the_dataset_listing_holds_every_dataset_a_model_row_names(scaled):
    app, hub = scaled
    named = set()
    for row in walk(app, "/api/models?expand=cardData&expand=tags")[0]:
        named |= {t.removeprefix("dataset:") for t in row.get("tags") or [] if t.startswith("dataset:")}
        named |= {d for d in (row.get("cardData") or {}).get("datasets") or [] if isinstance(d, str)}
    datasets, sizes = walk(app, "/api/datasets?expand=gated&expand=tags&expand=lastModified&expand=sha"
                                "&expand[]=cardData")
    by_id = {row["id"]: row for row in datasets}
    # A card may name what is no repo (a config, `tau/scrolls/qasper`): the Hub's listing holds repo ids only.
    repos = {n for n in named if _is_repo_id(n)}
    assert repos and repos <= set(by_id) and not (named - repos) & set(by_id)
    for row in datasets:  # each field asked is there, or the row says no capture holds it
        assert {"gated", "lastModified", "sha"} <= set(row)
        assert {"tags", "cardData"} <= set(row) | set(row["_replica"]["not_captured"])
    synthetic = [row for row in datasets if "synthetic" in row["_replica"]]
    assert synthetic and len(synthetic) < len(datasets)  # the real captured ones are there too
    assert {bool(row["gated"]) for row in synthetic} == {True, False}
    paged = get(app, "/api/datasets?limit=5")
    assert len(paged[2]) == 5 and next_target(paged[1])


def test_a_synthetic_id_answers_its_model_json_at_any_revision_it_has():
    app, hub = app_over(80_000)  # past the listing's end: its rows again, ids suffixed
    # Every id once, whatever its case (the Hub's lookups ignore case), and each leads back to its model.
    assert len({hub.id_of(i).lower() for i in range(hub.count)}) == hub.count
    assert all(hub.index_of(hub.id_of(i).upper()) == i for i in range(0, hub.count, 97))
    past_listing = hub.id_of(len(hub.rows) + 7)
    assert past_listing.endswith("-synthetic-2")
    for repo_id in (hub.id_of(3), past_listing):
        status, _, info = get(app, f"/api/models/{repo_id}")
        assert status == 200 and info["id"] == repo_id and info["siblings"] and "synthetic" in info["_replica"]
        assert get(app, f"/api/models/{repo_id}/revision/{info['sha']}")[2]["sha"] == info["sha"]
        assert get(app, f"/api/models/{repo_id}/revision/{'0' * 40}")[0] == 404
    assert get(app, f"/api/models/{hub.id_of(len(hub.rows) * 2 - 1)}")[0] == 404  # past the hub's N
    # A derivative's card says what its cardData says.
    cards = [(i, app.handle("GET", f"/{hub.id_of(i)}/resolve/main/README.md", {}, BASE))
             for i in range(100, 400) if hub.derivation(i)]
    served = [(i, card) for i, card in cards if card.status == 200]
    assert served and {card.status for _, card in cards} <= {200, 401}  # a gated card's borrowed gating holds
    for i, card in served:
        assert f"base_model: {hub.derivation(i).base}" in card.body.decode()


def vm_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def test_the_replica_serving_a_million_models_keeps_its_memory_while_40_pages_are_walked():
    """A page of 1000 rows with every tier-0 field is about 9 MB of JSON; the 39 pages walked after the first, held,
    would be about 350 MB. The replica builds each page from its cursor and drops it; what the first page leaves
    (the templates' encoded card data and siblings, the allocator's arenas for one page's copies) stays. Bound: 48
    MiB of growth, about five pages' worth, so one page's transient copies fit and any per-page leak of its rows
    would not."""
    proc, url = start_replica(SNAPSHOT, "--synthetic", "1000000")
    try:
        target = f"{url}/api/models?sort=lastModified&{expand_query(ASKED)}"
        ids = set()
        for n in range(40):
            with urllib.request.urlopen(target, timeout=120) as answer:
                rows = json.loads(answer.read())
                link = answer.headers["Link"]
            ids |= {row["id"] for row in rows}
            target = link[1:link.index(">")]
            if n == 0:
                time.sleep(0.2)
                before = vm_rss_kib(proc.pid)
        after = vm_rss_kib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert len(ids) == 40 * 1000
    assert after - before < 48 * 1024, (before, after)
