"""The GitHub spider against the replica: what it stores per repo, truncated trees, rate limits, incremental runs."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from conftest import SNAPSHOT, run_openness, start_replica
from crawler.labels import github_repo_of
from crawler.store import inflate
from extractors.packaging import package_metadata
from spiders.github import wanted_paths
from test_hf_spider import run_counts, stored

MODEL = "meta-llama/Meta-Llama-3-8B"  # its card links meta-llama/llama3 (and repos the corpus lacks)
REPO = "meta-llama/llama-models"  # licence files at several depths, pyproject.toml


def tree_paths(repo: str) -> set[str]:
    lines = (SNAPSHOT / "github" / repo / "tree.txt").read_text(encoding="utf-8").splitlines()
    return {line.split("\t", 1)[1] for line in lines if line.strip()}


def stored_tree_paths(con, repo: str) -> set[str]:
    """Every file and submodule path in the tree pages stored for a repo (whole trees, or walked levels)."""
    paths = set()
    for path, content, encoding in con.execute("select a.path, b.content, b.encoding from artifacts a join blobs b "
                                     "on b.sha256 = a.content_sha256 where a.source = 'github' and a.repo_id = ? and a.kind = 'tree'", [repo]):
        content = inflate(content, encoding)  # texts are stored compressed (m018)
        prefix = path.split(":", 1)[1]
        paths |= {prefix + e["path"] for e in json.loads(content)["tree"] if e["type"] in ("blob", "commit")}
    return paths


def test_every_corpus_repo_is_stored_with_tree_licences_readme_docs_and_packaging(demo_db, snapshot_corpus):
    con = sqlite3.connect(demo_db)
    for capture in snapshot_corpus.github.values():
        repo = capture.full_name
        subject = con.execute("select status, revision, complete_revision from subjects where id = ?",
                              [f"gh:{repo}"]).fetchone()
        assert subject and subject[0] == "ok" and subject[1] == subject[2] == capture.head_sha, repo
        assert stored_tree_paths(con, repo) == tree_paths(repo), repo
        files = {p for (p,) in con.execute("select path from artifacts where source = 'github' and repo_id = ? "
                                               "and kind = 'file'", [repo])}
        wanted = set(wanted_paths(tree_paths(repo)))
        assert files == wanted & set(capture.captured_files), repo  # the rest: recorded as not captured
        readme = con.execute("select count(*) from artifacts where repo_id = ? and kind = 'readme'", [repo])
        assert readme.fetchone()[0] == 1, repo
        for path in wanted & set(capture.captured_files):
            if path.rsplit("/", 1)[-1].lower() in ("pyproject.toml", "setup.cfg", "setup.py"):
                row = con.execute("select b.content, b.encoding from artifacts a join blobs b on b.sha256 = "
                                  "a.content_sha256 where a.repo_id = ? and a.kind = 'file' and a.path = ?", [repo, path])
                assert inflate(*row.fetchone()) == capture.captured_files[path].read_bytes(), (repo, path)  # verbatim
    several = con.execute("select count(*) from artifacts where repo_id = ? and kind = 'file' and "
                          "lower(path) like '%licen%'", [REPO]).fetchone()[0]
    assert several >= 3  # code, model and data licences of one repo are kept apart


def test_truncated_tree_is_walked_level_by_level(replica_url, tmp_path):
    reference = tmp_path / "reference.db"
    run_openness("crawl", MODEL, "--depth", "0", "--db", str(reference), "--hf-endpoint", replica_url,
                 "--github-endpoint", replica_url)
    proc, url = start_replica(SNAPSHOT, "--truncate-trees", "5")
    truncated = tmp_path / "truncated.db"
    try:
        result = run_openness("crawl", MODEL, "--depth", "0", "--db", str(truncated), "--hf-endpoint", url,
                              "--github-endpoint", url)
    finally:
        proc.terminate()
    assert result.returncode == 0, result.stderr[-2000:]
    assert run_counts(truncated)[0]["openness/truncated_trees"] >= 1
    con = sqlite3.connect(truncated)
    assert stored_tree_paths(con, "meta-llama/llama3") == tree_paths("meta-llama/llama3")
    files = lambda db: {r for r in stored(db) if r[2] in ("file", "readme")}  # noqa: E731
    assert files(truncated) == files(reference)


def test_rate_limit_exhaustion_pauses_until_reset_and_loses_nothing(replica_url, tmp_path):
    reference = tmp_path / "reference.db"
    run_openness("crawl", MODEL, "--depth", "0", "--db", str(reference), "--hf-endpoint", replica_url,
                 "--github-endpoint", replica_url)
    proc, url = start_replica(SNAPSHOT, "--github-limit", "4", "--github-window", "3")
    limited = tmp_path / "limited.db"
    try:
        started = time.monotonic()
        result = run_openness("crawl", MODEL, "--depth", "0", "--db", str(limited), "--hf-endpoint", url,
                              "--github-endpoint", url)
        elapsed = time.monotonic() - started
    finally:
        proc.terminate()
    assert result.returncode == 0, result.stderr[-2000:]
    counts = run_counts(limited)[0]
    assert counts.get("openness/ratelimit/budget_waits", 0) + counts.get("openness/ratelimit/pauses", 0) >= 1
    assert elapsed >= 3  # it waited for the window to reset instead of failing
    # the same documents; JSON answers embed the server's own URL (another port), so compare their identity only
    same = lambda db: {r[1:5] if r[2] in ("repo_json", "tree", "model_json") else r[1:]  # noqa: E731
                       for r in stored(db)}
    assert same(limited) == same(reference)
    con = sqlite3.connect(limited)
    assert con.execute("select count(*) from errors where http_status = 403").fetchone()[0] == 0


def test_second_crawl_of_unchanged_repos_costs_only_conditional_requests(replica_url, db_path):
    args = ("crawl", MODEL, "--depth", "0", "--db", str(db_path), "--hf-endpoint", replica_url,
            "--github-endpoint", replica_url)
    assert run_openness(*args).returncode == 0
    before = stored(db_path)
    assert run_openness(*args).returncode == 0
    first, second = run_counts(db_path)
    con = sqlite3.connect(db_path)
    existing = con.execute("select count(*) from subjects where kind = 'code' and status = 'ok'").fetchone()[0]
    assert existing >= 1
    gh_requests = {k: v for k, v in second.items() if k.startswith("openness/requests/gh_")}
    assert gh_requests == {"openness/requests/gh_repo_json": first["openness/requests/gh_repo_json"]}
    # every repo that exists answered 304 to its conditional request (repos that do not exist answer 404 again)
    assert second["openness/not_modified"] == existing + 1  # + the model's JSON
    assert stored(db_path) == before


def test_repos_crawled_under_other_file_rules_are_fetched_again_once(replica_url, db_path):
    """A store written before the spider wanted more files (complete marks of other rules, or none recorded): its
    unchanged repos are fetched again, whole, and marked with the rules of now; the run after costs 304s only."""
    from spiders.github import FETCH_RULES

    args = ("crawl", MODEL, "--depth", "0", "--db", str(db_path), "--hf-endpoint", replica_url,
            "--github-endpoint", replica_url)
    assert run_openness(*args).returncode == 0
    con = sqlite3.connect(db_path)
    trees = "select count(*) from artifacts where source = 'github' and kind = 'tree'"
    trees_before = con.execute(trees).fetchone()[0]
    with con:
        con.execute("update subjects set complete_fetch_rules = null where kind = 'code'")
    assert run_openness(*args).returncode == 0
    again = run_counts(db_path)[-1]
    assert again["openness/requests/gh_tree"] >= 1 and again.get("openness/not_modified", 0) == 1  # the model's JSON
    assert {rules for (rules,) in con.execute("select distinct complete_fetch_rules from subjects where kind = "
                                              "'code' and complete_revision is not null")} == {FETCH_RULES}
    assert con.execute(trees).fetchone()[0] == trees_before  # the same tree: stored once
    assert run_openness(*args).returncode == 0
    assert "openness/requests/gh_tree" not in run_counts(db_path)[-1]


@pytest.mark.parametrize("link, expected", [
    ("https://github.com/meta-llama/llama3", "meta-llama/llama3"),
    ("https://github.com/meta-llama/llama3.git", "meta-llama/llama3"),
    ("https://github.com/meta-llama/llama3/blob/main/LICENSE", "meta-llama/llama3"),
    ("https://github.com/meta-llama/llama3/tree/main/llama", "meta-llama/llama3"),
    ("https://raw.githubusercontent.com/meta-llama/llama3/main/README.md", "meta-llama/llama3"),
    ("see github.com/QwenLM/Qwen2.5.", "QwenLM/Qwen2.5"),
    ("git@github.com:foo/bar.git", "foo/bar"),
    ("not a repo at all", None),
    ("meta-llama/llama3", "meta-llama/llama3"),
])
def test_github_url_forms_normalise_to_owner_repo(link, expected):
    assert github_repo_of(link) == expected


def test_packaging_is_read_as_data():
    pyproject = (SNAPSHOT / "github/meta-llama/llama-models/files/pyproject.toml").read_text()
    facts = package_metadata("pyproject.toml", pyproject)
    assert facts["file"] == "pyproject.toml" and facts["name"] == "llama_models"
    setup_py = "import os\nos.system('rm -rf /')\nsetup(name='demo-pkg', version='1.2.3')\n"
    assert package_metadata("setup.py", setup_py) == {"file": "setup.py", "name": "demo-pkg", "version": "1.2.3"}
    cfg = "[metadata]\nname = cfgpkg\nversion = attr: pkg.__version__\n"
    assert package_metadata("setup.cfg", cfg)["name"] == "cfgpkg"
    assert package_metadata("pyproject.toml", "not [valid toml") is None


def test_the_readmes_of_training_folders_are_fetched_the_shallowest_first():
    from spiders.github import TRAINING_READMES

    paths = ["README.md", "scripts/train/README.md", "scripts/inference/README.md", "finetune/README.md",
             "training/arctic/README.md", "third_party/trainer/README.md", "scripts/train/train.py"]
    assert wanted_paths(paths) == ["finetune/README.md", "scripts/train/README.md", "training/arctic/README.md"]
    many = [f"train/run{n:02}/README.md" for n in range(TRAINING_READMES + 5)] + ["a/b/c/finetune/README.md"]
    fetched = wanted_paths(many)
    assert len(fetched) == TRAINING_READMES and "a/b/c/finetune/README.md" not in fetched


def test_vendored_folders_are_skipped():
    paths = ["LICENSE", "third_party/foo/LICENSE", "vendor/x/COPYING", "models/llama3/LICENSE", "docs/index.md",
             "src/node_modules/a/LICENSE.md", "MODEL_CARD.md", "CITATION.cff", "pyproject.toml", "sub/pyproject.toml"]
    assert wanted_paths(paths) == ["CITATION.cff", "LICENSE", "MODEL_CARD.md", "docs/index.md",
                                   "models/llama3/LICENSE", "pyproject.toml"]


def test_a_renamed_repo_is_followed_and_recorded():
    from scrapy import Request
    from scrapy.http import TextResponse
    from scrapy.utils.test import get_crawler

    from crawler.items import LinkItem
    from spiders.base import Repo
    from spiders.github import GithubSpider

    crawler = get_crawler(GithubSpider)
    crawler.stats.open_spider()
    spider = GithubSpider.from_crawler(crawler, github_endpoint="http://api")
    repo = Repo("github", "old-owner/thing")
    spider.ledger.opened(repo.subject)
    # Scrapy followed the 301: the answer is the renamed repo's JSON
    request = Request("http://api/repositories/1", meta={"redirect_urls": ["http://api/repos/old-owner/thing"]})
    response = TextResponse("http://api/repositories/1", status=200, request=request, encoding="utf-8",
                            body=json.dumps({"full_name": "new-owner/thing", "default_branch": "main"}).encode())
    items = list(spider.parse_repo(response, repo))
    renames = [(i.from_subject, i.to_subject) for i in items if isinstance(i, LinkItem)]
    assert renames == [("gh:old-owner/thing", "gh:new-owner/thing")]
    follow_up = [i for i in items if hasattr(i, "url") and "/commits/" in getattr(i, "url", "")]
    assert follow_up and follow_up[0].url == "http://api/repos/new-owner/thing/commits/main"


def test_repos_that_matter_most_are_crawled_first(db_path):
    """With 60 requests an hour, the budget goes first to labelled repos, then licence links, then the model
    owner's own code, then other code links."""
    from crawler.run import github_targets
    from crawler.store import Store, open_db

    store = Store(open_db(db_path))
    run = store.start_run("test", "http://hub", "http://api", [])
    store.save_subject(run, "hf:model:acme/model", kind="model", source="huggingface", repo_id="acme/model",
                       url="http://hub/acme/model")
    store.save_subject(run, "gh:labelled/repo", kind="code", source="github", repo_id="labelled/repo",
                       url="https://github.com/labelled/repo", status="queued")
    for target, relation in (("gh:someone/library", "code_repo"), ("gh:acme/train", "code_repo"),
                             ("gh:acme/licences", "licence_link")):
        store.save_link("hf:model:acme/model", target, relation, None)
    assert [name for name, _ in github_targets(store.db, run)] == [
        "labelled/repo", "acme/licences", "acme/train", "someone/library"]


def test_a_repo_with_no_sign_of_change_is_asked_again_only_after_the_recheck_interval(db_path):
    """A followed repo that answered 404, and a GitHub repo crawled before that no model of the run links, wait
    --recheck-days (default 7) before they are asked again; 0 asks every run."""
    from crawler.run import github_targets, known_repos
    from crawler.store import Store, open_db

    store = Store(open_db(db_path))
    run = store.start_run("test", "http://hub", "http://api", [])
    store.save_subject(run, "hf:dataset:acme/gone", kind="dataset", source="huggingface", repo_id="acme/gone",
                       url="http://hub/datasets/acme/gone", status="missing")
    store.save_subject(run, "gh:acme/code", kind="code", source="github", repo_id="acme/code",
                       url="https://github.com/acme/code", revision="a" * 40, status="ok")
    store.mark_complete("gh:acme/code", "a" * 40)
    later = store.start_run("test", "http://hub", "http://api", [])
    assert known_repos(store.db)["hf:dataset:acme/gone"].missing
    assert "hf:dataset:acme/gone" not in known_repos(store.db, recheck_days=0)
    assert github_targets(store.db, later, every_known=True) == []  # asked a moment ago
    assert [name for name, _ in github_targets(store.db, later, every_known=True, recheck_days=0)] == ["acme/code"]
    store.db.execute("update subjects set last_crawled_at = '2020-01-01T00:00:00+00:00'")
    assert "hf:dataset:acme/gone" not in known_repos(store.db)
    assert [name for name, _ in github_targets(store.db, later, every_known=True)] == ["acme/code"]


def test_a_followed_repo_that_answered_404_lately_is_not_asked_but_a_named_one_is():
    from scrapy import Request
    from scrapy.utils.test import get_crawler

    from spiders.base import KnownRepo
    from spiders.huggingface import HuggingFaceSpider

    def spider():
        crawler = get_crawler(HuggingFaceSpider)
        crawler.stats.open_spider()
        return HuggingFaceSpider.from_crawler(crawler, hf_endpoint="http://hub",
                                              known={"hf:dataset:acme/gone": KnownRepo(None, missing=True)})

    followed = spider()
    assert followed._repo_request("dataset", "acme/gone", depth=1) is None
    assert followed.crawler.stats.get_value("openness/repos/missing_not_rechecked") == 1
    assert isinstance(spider()._repo_request("dataset", "acme/gone", depth=0), Request)
