"""The replica's GitHub REST answers: repo, licence, readme, tree, contents, rate-limit headers, ETag/304."""

from __future__ import annotations

import base64
import json

from conftest import SNAPSHOT
from test_replica_hub import fetch

REPO = "meta-llama/llama3"


def test_repo_json_is_marked_derived(replica_url):
    status, headers, body = fetch(f"{replica_url}/repos/{REPO}")
    repo = json.loads(body)
    assert status == 200 and repo["full_name"] == REPO
    assert repo["_replica"]["derived"] and "default_branch" in repo["_replica"]["derived_fields"]
    assert int(headers["x-ratelimit-remaining"]) < int(headers["x-ratelimit-limit"])


def test_licence_and_readme_are_verbatim(replica_url):
    licence = json.loads(fetch(f"{replica_url}/repos/{REPO}/license")[2])
    assert licence["path"] == "LICENSE"
    assert base64.b64decode(licence["content"]) == (SNAPSHOT / "github" / REPO / "files/LICENSE").read_bytes()
    status, _, raw = fetch(f"{replica_url}/repos/{REPO}/readme", {"Accept": "application/vnd.github.raw+json"})
    assert status == 200 and raw == (SNAPSHOT / "github" / REPO / "files/README.md").read_bytes()


def test_recursive_tree_holds_every_captured_path(replica_url):
    tree = json.loads(fetch(f"{replica_url}/repos/{REPO}/git/trees/main?recursive=1")[2])
    lines = (SNAPSHOT / "github" / REPO / "tree.txt").read_text().splitlines()
    expected = {line.split("\t", 1)[1] for line in lines if line.strip()}
    assert {e["path"] for e in tree["tree"] if e["type"] != "tree"} == expected
    assert tree["truncated"] is False


def test_subtree_without_recursion(replica_url):
    top = json.loads(fetch(f"{replica_url}/repos/{REPO}/git/trees/main")[2])["tree"]
    directory = next(e for e in top if e["type"] == "tree")
    sub = json.loads(fetch(f"{replica_url}/repos/{REPO}/git/trees/{directory['sha']}")[2])["tree"]
    assert sub and all("/" not in e["path"] for e in sub)


def test_contents_file_uncaptured_source_and_missing(replica_url):
    status, _, body = fetch(f"{replica_url}/repos/{REPO}/contents/USE_POLICY.md")
    assert status == 200 and json.loads(body)["encoding"] == "base64"
    tree = json.loads(fetch(f"{replica_url}/repos/{REPO}/git/trees/main?recursive=1")[2])["tree"]
    captured = {p.relative_to(SNAPSHOT / "github" / REPO / "files").as_posix()
                for p in (SNAPSHOT / "github" / REPO / "files").rglob("*")}
    source = next(e["path"] for e in tree if e["type"] == "blob" and e["path"] not in captured)
    status, headers, _ = fetch(f"{replica_url}/repos/{REPO}/contents/{source}")
    assert status == 501 and headers["X-Error-Code"] == "NotCaptured"
    assert fetch(f"{replica_url}/repos/{REPO}/contents/no/such/file.py")[0] == 404
    assert fetch(f"{replica_url}/repos/{REPO}/releases")[0] == 501
    assert fetch(f"{replica_url}/repos/nobody/nothing")[0] == 404


def test_rate_limit_counts_and_304_is_free(replica_url):
    url = f"{replica_url}/repos/{REPO}/readme"
    _, first, _ = fetch(url)
    _, second, _ = fetch(url)
    assert int(second["x-ratelimit-used"]) == int(first["x-ratelimit-used"]) + 1
    status, third, _ = fetch(url, {"If-None-Match": second["ETag"]})
    assert status == 304 and third["x-ratelimit-used"] == second["x-ratelimit-used"]
    _, with_token, _ = fetch(url, {"Authorization": "Bearer test-token"})
    _, with_token_again, _ = fetch(url, {"Authorization": "Bearer test-token"})
    assert int(with_token_again["x-ratelimit-used"]) == int(with_token["x-ratelimit-used"]) + 1
    _, anonymous_again, _ = fetch(url)
    assert int(anonymous_again["x-ratelimit-used"]) == int(second["x-ratelimit-used"]) + 1  # budgets kept apart


def test_etags_survive_a_replica_restart_on_another_port(replica_url):
    """JSON answers embed the server's URL; a restart elsewhere must not look like a change of the repo."""
    from conftest import start_replica

    proc, other_url = start_replica(SNAPSHOT)
    try:
        for path in (f"/repos/{REPO}", f"/repos/{REPO}/git/trees/main?recursive=1", "/api/models/Qwen/Qwen2.5-32B"):
            first = fetch(replica_url + path)[1]["ETag"]
            assert fetch(other_url + path)[1]["ETag"] == first, path
            assert fetch(other_url + path, {"If-None-Match": first})[0] == 304, path
    finally:
        proc.terminate()


def test_a_repo_a_captured_card_links_is_not_captured_and_one_nobody_links_is_missing(replica_url):
    from crawler.corpus import Corpus
    from crawler.labels import GITHUB_LINK, normalise_github

    corpus = Corpus(SNAPSHOT)
    linked = sorted({normalise_github(m.group(1), m.group(2)) for repo in corpus.models.values() if repo.card_bytes
                     for m in GITHUB_LINK.finditer(repo.card_bytes.decode("utf-8", "replace"))})
    uncaptured = [name for name in linked if corpus.github_repo(name) is None]
    assert uncaptured  # the snapshot's cards link repos it does not hold
    status, headers, body = fetch(f"{replica_url}/repos/{uncaptured[0]}")
    assert status == 501 and headers["X-Error-Code"] == "NotCaptured" and "linked by" in json.loads(body)["message"]
    assert fetch(f"{replica_url}/repos/nobody-links/this-repo")[0] == 404
