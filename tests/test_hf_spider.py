"""The Hugging Face spider against the replica: the subject graph, Hub behaviour, incremental runs, rate limits."""

from __future__ import annotations

import json
import sqlite3
import time

from conftest import SNAPSHOT, run_openness, start_replica
from crawler.store import inflate
from test_replica_hub import fetch

CHAIN = "Intel/neural-chat-7b-v3-3"  # base Intel/neural-chat-7b-v3-1, whose base is mistralai/Mistral-7B-v0.1


def crawl(url, db_path, *args, exit_code=0):
    """The Hub alone: these tests are about the Hugging Face spider."""
    result = run_openness("crawl", *args, "--no-github", "--db", str(db_path), "--hf-endpoint", url,
                          "--github-endpoint", url)
    assert result.returncode == exit_code, result.stderr[-3000:]
    return result


def run_counts(db_path) -> list[dict]:
    con = sqlite3.connect(db_path)
    return [json.loads(c) for (c,) in con.execute("select counts from crawl_runs order by id")]


def stored(db_path) -> set[tuple]:
    con = sqlite3.connect(db_path)
    return set(con.execute("select repo_type, repo_id, kind, path, revision, content_sha256 from artifacts"))


def test_the_subject_graph_is_followed_to_the_depth_asked(replica_url, db_path, snapshot_corpus):
    crawl(replica_url, db_path, CHAIN)
    con = sqlite3.connect(db_path)
    subjects = dict(con.execute("select id, status from subjects"))
    assert subjects["hf:model:Intel/neural-chat-7b-v3-1"] == "ok"
    assert subjects["hf:model:mistralai/Mistral-7B-v0.1"] == "gated"  # depth 2
    assert subjects["hf:dataset:Open-Orca/SlimOrca"] == "ok"  # v3-1's dataset, depth 2
    links = set(con.execute("select from_subject, to_subject, relation from links"))
    assert ("hf:model:Intel/neural-chat-7b-v3-3", "hf:model:Intel/neural-chat-7b-v3-1", "base_model") in links
    assert ("hf:model:Intel/neural-chat-7b-v3-1", "hf:dataset:Open-Orca/SlimOrca", "dataset") in links
    # every card the corpus holds for these subjects is stored, pinned to the sha the repo was read at
    for repo_type, repo_id in (("model", CHAIN), ("model", "Intel/neural-chat-7b-v3-1"),
                               ("model", "mistralai/Mistral-7B-v0.1"), ("dataset", "Open-Orca/SlimOrca")):
        capture = snapshot_corpus.hub_repo(repo_type, repo_id)
        row = con.execute("select a.revision, b.content, b.encoding from artifacts a join blobs b on b.sha256 = "
                          "a.content_sha256 where a.repo_id = ? and a.kind = 'card'", [repo_id]).fetchone()
        row = (row[0], inflate(row[1], row[2]))  # texts are stored compressed (m018)
        assert row == (capture.revision_sha, capture.card_bytes), repo_id
    # links found in the card point at the card artifact they were read from
    code_links = con.execute("select l.artifact_id, a.kind from links l join artifacts a on a.id = l.artifact_id "
                             "where l.relation = 'code_repo'").fetchall()
    assert code_links and all(kind == "card" for _, kind in code_links)


def test_depth_bounds_the_walk(replica_url, db_path):
    crawl(replica_url, db_path, CHAIN, "--depth", "1")
    con = sqlite3.connect(db_path)
    crawled = {s for (s,) in con.execute("select id from subjects")}
    assert "hf:model:Intel/neural-chat-7b-v3-1" in crawled
    assert "hf:model:mistralai/Mistral-7B-v0.1" not in crawled
    assert con.execute("select count(*) from links where to_subject = 'hf:model:mistralai/Mistral-7B-v0.1'").fetchone()[0]


def test_gated_files_are_not_errors_and_missing_repos_are_recorded(replica_url, db_path):
    crawl(replica_url, db_path, "meta-llama/Meta-Llama-3-8B", "nobody/absent-model")
    con = sqlite3.connect(db_path)
    statuses = dict(con.execute("select repo_id, status from subjects"))
    assert statuses == {"meta-llama/Meta-Llama-3-8B": "gated", "nobody/absent-model": "missing"}
    gated_errors = con.execute("select count(*) from errors where subject_id = 'hf:model:meta-llama/Meta-Llama-3-8B' "
                               "and http_status = 401").fetchone()[0]
    assert gated_errors == 0 and run_counts(db_path)[0]["openness/gated_files"] >= 2  # LICENSE, USE_POLICY.md
    kinds = {k for (k,) in con.execute("select kind from artifacts where repo_id = 'meta-llama/Meta-Llama-3-8B'")}
    assert kinds == {"model_json", "card", "tree"}


def test_second_crawl_of_an_unchanged_hub_fetches_no_card_and_no_tree(replica_url, db_path):
    crawl(replica_url, db_path, CHAIN, "bigscience/bloomz")
    before = stored(db_path)
    crawl(replica_url, db_path, CHAIN, "bigscience/bloomz")
    first, second = run_counts(db_path)
    assert first["openness/requests/card"] >= 5 and first["openness/requests/tree"] >= 5
    for kind in ("card", "tree", "file"):
        assert second.get(f"openness/requests/{kind}", 0) == 0, kind
    assert second["openness/not_modified"] == second["openness/requests/model_json"] + \
        second.get("openness/requests/dataset_json", 0)
    assert second["openness/repos/unchanged"] == first["openness/repos/new"]
    assert stored(db_path) == before
    crawl(replica_url, db_path, "bigscience/bloomz", "--full")
    assert run_counts(db_path)[2]["openness/requests/card"] >= 1


def test_changed_repo_is_refetched(corpus_copy, db_path):
    proc, url = start_replica(corpus_copy)
    try:
        crawl(url, db_path, "mistralai/Mistral-7B-v0.1")
    finally:
        proc.terminate()
    card = corpus_copy / "huggingface/models/mistralai/Mistral-7B-v0.1/README.md"
    card.write_text(card.read_text() + "\n## Changelog\nA later revision.\n")
    proc, url = start_replica(corpus_copy)
    try:
        crawl(url, db_path, "mistralai/Mistral-7B-v0.1")
    finally:
        proc.terminate()
    second = run_counts(db_path)[1]
    assert second["openness/repos/changed"] == 1 and second["openness/requests/card"] == 1
    con = sqlite3.connect(db_path)
    assert con.execute("select count(distinct revision) from artifacts where kind = 'card'").fetchone()[0] == 2


def test_rate_limits_are_waited_out_and_nothing_is_lost(replica_url, tmp_path):
    models = [CHAIN, "bigscience/bloomz", "Qwen/Qwen2.5-32B"]
    reference_db = tmp_path / "reference.db"
    crawl(replica_url, reference_db, *models)
    proc, url = start_replica(SNAPSHOT, "--hub-quota", "api=6", "--quota-window", "3",
                              "--fault", "429:0.2:retry-after=1", "--seed", "7")
    limited_db = tmp_path / "limited.db"
    try:
        started = time.monotonic()
        crawl(url, limited_db, *models)
        elapsed = time.monotonic() - started
        answered = json.loads(fetch(f"{url}/_replica/stats")[2])["answered"]
    finally:
        proc.terminate()
    counts = run_counts(limited_db)[0]
    assert answered.get("429", 0) >= 1 and counts["openness/ratelimit/pauses"] == answered["429"]
    assert elapsed >= 3  # at least one quota window was waited out
    assert counts["openness/errors"] == run_counts(reference_db)[0]["openness/errors"]
    assert {row[1:] for row in stored(limited_db)} == {row[1:] for row in stored(reference_db)}


def test_discover_takes_metadata_from_listing_pages(db_path):
    proc, url = start_replica(SNAPSHOT, "--synthetic", "3000", "--page-size", "250")
    try:
        # The replica is not the Hub: lift the Hub's 5-minute budgets so 600 models do not wait for a window.
        crawl(url, db_path, "--discover", "--limit", "600", "--depth", "0", "--api-budget", "100000",
              "--resolver-budget", "100000")
        top = run_openness("crawl", "--discover", "--sort", "downloads", "--limit", "3", "--depth", "0",
                           "--db", str(db_path.parent / "top.db"), "--hf-endpoint", url, "--github-endpoint", url)
        listing = json.loads(fetch(f"{url}/api/models?sort=downloads&limit=3")[2])
    finally:
        proc.terminate()
    counts = run_counts(db_path)[0]
    assert counts["openness/requests/listing"] == 3  # 600 models in pages of 250
    assert counts.get("openness/requests/model_json", 0) == 0
    assert counts["openness/repos/new"] == 600 and counts["openness/requests/card"] == 600
    con = sqlite3.connect(db_path)
    assert con.execute("select count(*) from artifacts where kind = 'model_json'").fetchone()[0] == 600
    assert top.returncode == 0
    top_ids = {r for (r,) in sqlite3.connect(db_path.parent / "top.db").execute(
        "select repo_id from subjects where kind = 'model'")}
    assert top_ids == {row["id"] for row in listing}


def test_from_labels_crawls_the_models_and_queues_the_repos_they_name(replica_url, db_path):
    from crawler.labels import repos_in_label_dir

    labels = SNAPSHOT.parent / "labels" / "opening-up-chatgpt"
    models, github = repos_in_label_dir(labels)
    assert models and github
    crawl(replica_url, db_path, "--from-labels", str(labels), "--depth", "0")
    con = sqlite3.connect(db_path)
    subjects = dict(con.execute("select id, status from subjects"))
    assert {f"hf:model:{m}".lower() for m in models} <= {s.lower() for s in subjects}
    assert all(subjects[f"gh:{g}"] == "queued" for g in github)


def test_budget_holds_requests_to_the_quota_per_window_and_honours_pauses():
    from crawler.middlewares import Budget, ratelimit_reset, retry_after_seconds

    budget = Budget("api", quota=3, window=300)
    for sent_at in (0.0, 1.0, 2.0):
        assert budget.wait_time(sent_at) == 0
        budget.sent.append(sent_at)
    assert budget.wait_time(10.0) == 290.0  # the 4th waits until the 1st leaves the window
    assert budget.wait_time(300.5) == 0
    assert ratelimit_reset('"api";r=0;t=55') == ("api", 0, 55.0)
    assert retry_after_seconds("7") == 7.0
    assert 0 <= retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") < 1  # a date in the past: go now


def spider_response(spider, url: str, status: int, body: dict | str, headers: dict | None = None,
                    redirected_from: str | None = None):
    from scrapy import Request
    from scrapy.http import TextResponse

    from spiders.huggingface import Repo

    repo = Repo("model", "old-org/model", 0)
    repo.pending = 1
    meta = {"redirect_urls": [redirected_from]} if redirected_from else {}
    request = Request(url, meta=meta, cb_kwargs={"repo": repo})
    text = body if isinstance(body, str) else json.dumps(body)
    return TextResponse(url, status=status, body=text.encode(), headers=headers or {}, request=request,
                        encoding="utf-8"), repo


def make_spider():
    from scrapy.utils.test import get_crawler

    from spiders.huggingface import HuggingFaceSpider

    crawler = get_crawler(HuggingFaceSpider)
    crawler.stats.open_spider()
    return HuggingFaceSpider.from_crawler(crawler, hf_endpoint="http://hub", max_depth=0)


def test_a_renamed_repo_is_recorded_as_a_link_to_its_new_id():
    from crawler.items import LinkItem, SubjectItem

    spider = make_spider()
    response, repo = spider_response(spider, "http://hub/api/models/new-org/model", 200,
                                     {"id": "new-org/model", "sha": "a" * 40},
                                     redirected_from="http://hub/api/models/old-org/model")
    items = list(spider.parse_repo_json(response, repo))
    renames = [i for i in items if isinstance(i, LinkItem) and i.relation == "renamed_to"]
    assert [(r.from_subject, r.to_subject) for r in renames] == [("hf:model:old-org/model", "hf:model:new-org/model")]
    assert any(isinstance(i, SubjectItem) and i.revision == "a" * 40 for i in items)


def test_disabled_private_and_missing_repos_get_their_status():
    from crawler.items import SubjectItem

    cases = [(403, {"X-Error-Message": "Access to this resource is disabled."}, "disabled"),
             (401, {}, "private"), (404, {"X-Error-Code": "RepoNotFound"}, "missing")]
    for status, headers, expected in cases:
        spider = make_spider()
        response, repo = spider_response(spider, "http://hub/api/models/old-org/model", status, "{}", headers)
        subjects = [i for i in spider.parse_repo_json(response, repo) if isinstance(i, SubjectItem)]
        assert [s.status for s in subjects] == [expected]
        assert subjects[0].note.startswith(f"HTTP {status}")


def test_graph_targets_read_card_data_and_hub_tags():
    from spiders.huggingface import graph_targets

    # The tags of a model JSON recorded from the Hub (deepset/roberta-base-squad2, reference api-samples).
    sample = {"tags": ["transformers", "dataset:squad_v2", "base_model:FacebookAI/roberta-base",
                       "base_model:finetune:FacebookAI/roberta-base", "license:cc-by-4.0"], "cardData": {}}
    assert graph_targets(sample) == [("model", "FacebookAI/roberta-base", "base_model:finetune"),
                                     ("dataset", "squad_v2", "dataset")]
    card = {"cardData": {"base_model": ["a/one", "b/two"], "base_model_relation": "merge", "datasets": "c/data"},
            "tags": ["base_model:a/one"]}
    assert graph_targets(card) == [("model", "a/one", "base_model:merge"), ("model", "b/two", "base_model:merge"),
                                   ("dataset", "c/data", "dataset")]


def test_a_spider_exception_is_recorded_against_its_url(replica_url, db_path):
    """A callback that raises (a bug met on some input) leaves a recorded error naming the URL, and the repo is not
    marked complete, so the next run fetches it again."""
    import os
    import subprocess
    import sys

    from conftest import ROOT

    (db_path.parent / "break_cards.py").write_text(
        "import spiders.huggingface as hf\n"
        "def broken(self, response, repo):\n"
        "    raise ValueError('card parser broke')\n"
        "hf.HuggingFaceSpider.parse_card = broken\n")
    runner = db_path.parent / "run_broken.py"
    runner.write_text("import sys\nimport break_cards\nfrom crawler.cli import cli\nsys.exit(cli())\n")
    result = subprocess.run([sys.executable, str(runner), "crawl", "Qwen/Qwen2.5-32B", "--db", str(db_path),
                             "--hf-endpoint", replica_url, "--depth", "0"], capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": f"{db_path.parent}:{ROOT}"}, timeout=120)
    assert "failures: 1 spider exception" in result.stdout.replace("\n", " "), result.stdout + result.stderr
    assert result.returncode == 1  # finished, with a failure recorded
    con = sqlite3.connect(db_path)
    url, reason = con.execute("select url, reason from errors where kind = 'spider'").fetchone()
    assert url.endswith("/README.md") and "card parser broke" in reason
    assert con.execute("select complete_revision from subjects").fetchone()[0] is None


def test_transient_failures_are_recorded_and_the_next_run_completes_the_repos(replica_url, tmp_path):
    """5xx answers that outlast the retries are recorded errors; the repos they hit are not marked complete, so
    the next run fetches them again and ends with what a fault-free crawl stores."""
    models = [CHAIN, "bigscience/bloomz", "Qwen/Qwen2.5-32B", "meta-llama/Meta-Llama-3-8B"]
    reference = tmp_path / "reference.db"
    crawl(replica_url, reference, *models)
    flaky_db = tmp_path / "flaky.db"
    proc, url = start_replica(SNAPSHOT, "--fault", "503:0.7", "--seed", "11")
    try:
        # two quick retries, which a 503 on 70% of the answers outlasts somewhere
        flaky = crawl(url, flaky_db, *models, "-s", "RETRY_TIMES=2", "-s", "RETRY_BACKOFF_BASE=0.1", exit_code=1)
    finally:
        proc.terminate()
    assert "completed with" in flaky.stdout and "(exit 1)" in flaky.stdout
    con = sqlite3.connect(flaky_db)
    failed = con.execute("select count(*) from errors where http_status = 503").fetchone()[0]
    # Which requests the faults hit depends on the order answers arrive in: any repo a 503 outlasted the retries
    # on is left without a complete revision (its JSON failed, or one of its files did).
    incomplete = con.execute("select count(distinct s.id) from errors e join subjects s on s.id = e.subject_id "
                             "where e.http_status = 503 and (s.complete_revision is null or "
                             "s.complete_revision != s.revision)").fetchone()[0]
    assert failed >= 1 and incomplete >= 1  # the faults outlasted Scrapy's retries somewhere
    crawl(replica_url, flaky_db, *models)
    assert con.execute("select count(*) from subjects where revision is not null and "
                       "complete_revision is not revision").fetchone()[0] == 0
    assert stored(flaky_db) == stored(reference)


def test_a_repo_whose_json_names_every_file_costs_no_tree_call(replica_url, db_path):
    """The Hub's siblings list the whole repo: the tree (an API call) is not asked for, the licence and config
    files are fetched from the siblings, and the weights are judged from them, the tree source counted as read.
    A file list from a third-party mirror is not the whole repo: its tree is still asked for."""
    whole, mirror = "stabilityai/stable-audio-open-1.0", "Qwen/Qwen2.5-32B"
    crawl(replica_url, db_path, whole, mirror)
    counts = run_counts(db_path)[0]
    assert counts["openness/trees_from_siblings"] == 1 and counts["openness/requests/tree"] == 1
    con = sqlite3.connect(db_path)
    trees = {r for (r,) in con.execute("select repo_id from artifacts where kind = 'tree'")}
    assert trees == {mirror}
    # Its licence and config files were asked for from the siblings (the repo is gated: they answer 401).
    assert counts["openness/gated_files"] >= 1
    weights = json.loads(run_openness("show", whole, "--db", str(db_path), "--json").stdout)
    judged = next(j for j in weights["judgements"] if j["criterion"] == "weights_endmodel")
    assert judged["level"] in ("open", "partial")
    assert {"source": "tree", "status": "read"}.items() <= next(s for s in judged["searched"]
                                                                if s["source"] == "tree").items()


def test_a_card_showing_another_repos_logo_does_not_link_that_repo_as_code(replica_url, db_path):
    # The real DeepSeek-R1 card draws its logo, badges and QR code from github.com/deepseek-ai/DeepSeek-V2/blob/...
    # and links its own repo and DeepSeek-V3 as text: only the text links name code repos.
    card = (SNAPSHOT / "huggingface/models/deepseek-ai/DeepSeek-R1/README.md").read_text(encoding="utf-8")
    assert "github.com/deepseek-ai/DeepSeek-V2/blob/main/figures/logo.svg" in card
    crawl(replica_url, db_path, "deepseek-ai/DeepSeek-R1", "--depth", "0")
    con = sqlite3.connect(db_path)
    linked = {t for (t,) in con.execute("select to_subject from links where relation = 'code_repo'")}
    assert {"gh:deepseek-ai/DeepSeek-R1", "gh:deepseek-ai/DeepSeek-V3"} <= linked
    assert "gh:deepseek-ai/DeepSeek-V2" not in linked


def test_the_listing_is_read_lazily_the_next_page_only_when_few_listed_repos_remain_open():
    from scrapy import Request
    from scrapy.utils.test import get_crawler

    from spiders.huggingface import HuggingFaceSpider

    crawler = get_crawler(HuggingFaceSpider, settings_dict={"LISTING_PENDING_REPOS": 3})
    crawler.stats.open_spider()
    spider = HuggingFaceSpider.from_crawler(crawler, hf_endpoint="http://hub", max_depth=0, discover={})
    rows = [{"id": f"org/model-{i}", "sha": f"{i:040x}", "siblings": [{"rfilename": "README.md"}]} for i in range(5)]
    response, _ = spider_response(spider, "http://hub/api/models?limit=5", 200, rows,
                                  {"Link": '<http://hub/api/models?cursor=2>; rel="next"'})
    first = list(spider.parse_listing(response, taken=0))
    listing_pages = [r for r in first if isinstance(r, Request) and "cursor=2" in r.url]
    cards = [r for r in first if isinstance(r, Request) and r.url.endswith("README.md")]
    assert len(cards) == 5 and not listing_pages  # five repos open, more than three: the next page waits
    released = []
    for index, card in enumerate(cards):
        repo = card.cb_kwargs["repo"]
        while spider.ledger.pending.get(repo.subject.lower()):
            released += [r for r in spider._done(repo) if isinstance(r, Request) and "cursor=2" in r.url]
        if index < 2:
            assert not released, f"asked for the next page with {5 - index - 1} listed repos open"
        if index == 2:
            assert len(released) == 1  # two open now, fewer than three
    assert len(released) == 1 and spider.held_listing is None and not spider.listed_open
    assert not spider.ledger.pending  # finished repos are dropped from the ledger


def test_a_held_listing_page_is_asked_for_when_the_crawl_would_otherwise_close():
    import pytest
    from scrapy.exceptions import DontCloseSpider
    from scrapy.utils.test import get_crawler

    from spiders.huggingface import HuggingFaceSpider

    crawler = get_crawler(HuggingFaceSpider)
    crawler.stats.open_spider()
    spider = HuggingFaceSpider.from_crawler(crawler, hf_endpoint="http://hub", max_depth=0, discover={})
    scheduled = []
    crawler.engine = type("Engine", (), {"crawl": staticmethod(scheduled.append)})()
    spider._on_idle()  # nothing held: the crawl may close
    spider.held_listing = spider._listing_request("http://hub/api/models?cursor=2", taken=5)
    with pytest.raises(DontCloseSpider):
        spider._on_idle()
    assert [r.url for r in scheduled] == ["http://hub/api/models?cursor=2"] and spider.held_listing is None


def test_each_repo_is_claimed_once_per_crawl_whatever_its_spelling_and_two_crawls_claim_apart():
    """The ledger's claims (kept in a temporary SQLite file, not in memory): the first claim of a key wins, a repo
    named again in another case is the same repo, and each crawl has its own claims."""
    from spiders.base import LocalLedger
    first, second = LocalLedger(), LocalLedger()
    assert first.claim("hf:model:Intel/neural-chat-7b-v3-3")
    assert not first.claim("hf:model:intel/Neural-Chat-7B-v3-3")
    assert first.claim("listing:http://127.0.0.1:1/api/models?p=2") and first.claim("hf:model:Intel/other")
    assert second.claim("hf:model:Intel/neural-chat-7b-v3-3")
    keys = [f"hf:model:org{i % 97}/model-{i}" for i in range(20000)]
    assert all(first.claim(k) for k in keys) and not any(first.claim(k.upper()) for k in keys)
