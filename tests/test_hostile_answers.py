"""Hostile answers (issue 30, the answers part): what the Hub and GitHub answer never steers the crawler.

A crawl of one model (its Hub JSON, tree and card, the GitHub repo its card links, that repo's tree and releases)
runs against the hostile server (tests/hostile_server.py) with one answer rewritten per case, into a copy of a store
the same crawl filled cleanly. Each case asserts the exact outcome: the error recorded (its kind, the answer's URL,
why), or the bound reached and recorded; the exit code; that no request left the endpoint's paths (no `..`, no
injected text as a path, nothing to another endpoint); and that nothing stored before is lost. Ids users give
(arguments, seeds, labels) go through the same rules; unit cases pin the rules themselves (crawler/ids.py,
crawler/urls.py).
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import replace

import pytest

from conftest import ROOT, run_openness
from crawler.gitblob import git_blob_sha1
from crawler.replica.http import Answer, json_answer
from crawler.settings import LINKS_PER_CARD, PAGES_PER_RESOURCE
from hostile_server import HostileServer

MODEL = "meta-llama/Meta-Llama-3-8B"  # its card links meta-llama/llama3, whose tree the snapshot holds
MODEL_JSON = r"^/api/models/meta-llama/Meta-Llama-3-8B$"
HUB_TREE = r"^/api/models/meta-llama/Meta-Llama-3-8B/tree/"
CARD = r"^/meta-llama/Meta-Llama-3-8B/resolve/[0-9a-f]{40}/README\.md$"
LISTING = r"^/api/models\?"
REPO = r"^/repos/meta-llama/llama3$"
HEAD = r"^/repos/meta-llama/llama3/commits/"
GH_TREE = r"^/repos/meta-llama/llama3/git/trees/"
RELEASES = r"^/repos/meta-llama/llama3/releases"
INJECTED = "PWNED"
EVIL_PATH = f"../../../../api/models/evil/{INJECTED}?x="
LONG_ID = "a/" + "b" * 309  # 311 characters
CYRILLIC_ID = "meta-llama/Meta-Llam\u0430-3-8B"  # a Cyrillic а


@pytest.fixture(scope="module")
def hostile(snapshot_corpus):
    with HostileServer(snapshot_corpus) as server:
        yield server


@pytest.fixture(scope="module")
def elsewhere(snapshot_corpus):
    """Another endpoint (the same replica on another port): a pagination link to it must never be followed."""
    with HostileServer(snapshot_corpus) as server:
        yield server


def reset(server: HostileServer) -> HostileServer:
    # tests/hostile_server.py has no way to drop a test's overrides; module-scoped servers are reset here.
    with server.app.lock:
        server.app.overrides.clear()
        server.app.seen.clear()
    return server


@pytest.fixture
def server(hostile, elsewhere):
    reset(elsewhere)
    return reset(hostile)


def crawl(server: HostileServer, db, *args: str) -> subprocess.CompletedProcess:
    return run_openness("crawl", *args, "--hf-endpoint", server.url, "--github-endpoint", server.url,
                        "--db", str(db), timeout=240)


@pytest.fixture(scope="module")
def clean_store(hostile, tmp_path_factory):
    """The store a clean crawl of MODEL leaves (through the same server, so URLs match)."""
    db = tmp_path_factory.mktemp("clean") / "clean.db"
    result = crawl(reset(hostile), db, MODEL, "--depth", "1")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return db


@pytest.fixture
def store(clean_store, tmp_path):
    copy = tmp_path / "store.db"
    shutil.copy(clean_store, copy)
    return copy


def state(db) -> dict:
    con = sqlite3.connect(db)
    try:
        return {
            "artifacts": set(con.execute("select source, repo_id, kind, path, revision, content_sha256 "
                                         "from artifacts")),
            "complete": dict(con.execute("select id, complete_revision from subjects "
                                         "where complete_revision is not null")),
            "judgements": dict(con.execute("select criterion, level from judgements where subject_id = ?",
                                           [f"hf:model:{MODEL}"])),
            "links": set(con.execute("select from_subject, to_subject, relation from links")),
        }
    finally:
        con.close()


def errors(db, kind: str | None = None) -> list[tuple]:
    """The hostile run's errors (of `kind`), but for the absences a crawl of the snapshot expects (repos and
    files it does not hold: 404, 501)."""
    con = sqlite3.connect(db)
    try:
        return con.execute("select kind, url, http_status, reason, subject_id from errors where run_id = 2 "
                           "and http_status is not 404 and http_status is not 501"
                           + (" and kind = ?" if kind else "") + " order by id", [kind] if kind else []).fetchall()
    finally:
        con.close()


def run_stats(db) -> dict:
    con = sqlite3.connect(db)
    try:
        return json.loads(con.execute("select counts from crawl_runs where id = 2").fetchone()[0])
    finally:
        con.close()


def assert_held(server: HostileServer, elsewhere: HostileServer, result, before: dict, db,
                same_judgements: bool = True) -> dict:
    """No traceback; no request with a dot segment or the injected text, none to the other endpoint; everything
    stored before still there (and the model's judgements as they were, where the hostile answer was refused)."""
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    for seen in server.seen:
        path = seen.target.split("?", 1)[0]
        assert INJECTED not in seen.target and "/../" not in path and "%2e%2e" not in path.lower(), seen.target
    assert elsewhere.seen == []
    after = state(db)
    assert before["artifacts"] <= after["artifacts"], "an artifact stored before is gone"
    assert {k: after["complete"].get(k) for k in before["complete"]} == before["complete"]
    assert len(after["judgements"]) == 14
    if same_judgements:  # unknown where a source was refused (the judgement names it), else as before
        changed = {c: level for c, level in after["judgements"].items() if level != before["judgements"][c]}
        assert set(changed.values()) <= {"unknown"}, changed
    return after


# -- answers holding values that may not become a URL, a path or an id: a parse error of that answer ---------------

def _set(**fields):
    return lambda info: {**info, **fields}


def _without(field: str, **fields):
    return lambda info: {**{k: v for k, v in info.items() if k != field}, **fields}


def _entry(**entry):
    return lambda tree: {**tree, "tree": [*tree["tree"], entry]}


PARSE_CASES = [
    # (case, answer pattern, change of its JSON, error kind, words of the reason)
    ("sha-with-dotdot", MODEL_JSON, _set(sha=EVIL_PATH), "model_json", "not 40 lower-case hex digits"),
    ("sha-short", MODEL_JSON, _set(sha="f791afc"), "model_json", "not 40 lower-case hex digits"),
    ("sha-upper-case", MODEL_JSON, _set(sha="F" * 40), "model_json", "not 40 lower-case hex digits"),
    ("sha-int", MODEL_JSON, _set(sha=7), "model_json", "7 is not 40 lower-case hex digits"),
    ("sha-missing", MODEL_JSON, _without("sha"), "model_json", "None is not 40 lower-case hex digits"),
    ("model-id-311-chars", MODEL_JSON, _set(id=LONG_ID), "model_json", "the Hub allows at most 96"),
    ("model-id-cyrillic", MODEL_JSON, _set(id=CYRILLIC_ID), "model_json", "Cyrillic character U+0430"),
    ("model-id-dotdot", MODEL_JSON, _set(id=f"meta-llama/../{INJECTED}"), "model_json", "not a Hugging Face"),
    ("siblings-not-list", MODEL_JSON, _set(siblings="README.md"), "model_json", "its siblings is a str, not a list"),
    ("siblings-entries-not-objects", MODEL_JSON, _set(siblings=["README.md", 5]), "model_json",
     "siblings are not all objects"),
    ("sibling-dotdot", MODEL_JSON, lambda info: {**info, "siblings": [*info["siblings"],
                                                                     {"rfilename": f"../../{INJECTED}"}]},
     "model_json", "siblings that are not repo paths"),
    ("card-data-list", MODEL_JSON, _set(cardData=["license: mit"]), "model_json", "its cardData is a list"),
    ("tags-string", MODEL_JSON, _set(tags="arxiv:2307.09288"), "model_json", "its tags is a str, not a list"),
    ("tags-not-strings", MODEL_JSON, _set(tags=["text-generation", {"a": 1}]), "model_json",
     "its tags are not all strings"),
    ("hub-tree-entry-dotdot", HUB_TREE, lambda entries: [*entries, {"type": "file", "path": f"../{INJECTED}"}],
     "tree", "paths that are not repo paths"),
    ("hub-tree-entry-empty-segment", HUB_TREE, lambda entries: [*entries, {"type": "file", "path": "a//LICENSE"}],
     "tree", "paths that are not repo paths"),
    ("full-name-int", REPO, _set(full_name=5), "gh_repo_json", "5 is a int, not a string"),
    ("full-name-dotdot", REPO, _set(full_name=f"meta-llama/../../{INJECTED}"), "gh_repo_json",
     "not a GitHub owner/repo"),
    ("full-name-three-parts", REPO, _set(full_name="meta-llama/llama3/x"), "gh_repo_json", "not a GitHub owner/repo"),
    ("full-name-other-repo-unredirected", REPO, _set(full_name=f"evil/{INJECTED}"), "gh_repo_json",
     "is not the repo asked for, and no redirect said it moved"),
    ("full-name-long-owner", REPO, _set(full_name="o" * 40 + "/llama3"), "gh_repo_json", "at most 39"),
    ("full-name-bidi", REPO, _set(full_name="meta-llama/\u202e3amall"), "gh_repo_json", "RIGHT-TO-LEFT OVERRIDE"),
    ("default-branch-list", REPO, _set(default_branch=["main", "x"]), "gh_repo_json",
     "['main', 'x'] is a list, not a string"),
    ("default-branch-dotdot", REPO, _set(default_branch=EVIL_PATH), "gh_repo_json", "git's ref rules"),
    ("default-branch-header-injection", REPO, _set(default_branch="main\r\nX-Evil: 1"), "gh_repo_json",
     "git's ref rules"),
    ("default-branch-lock", REPO, _set(default_branch="main.lock"), "gh_repo_json", "git's ref rules"),
    ("archived-string", REPO, _set(archived="no"), "gh_repo_json", "its archived is a str, not a boolean"),
    ("truncated-tree-without-sha", GH_TREE, _without("sha", truncated=True), "gh_tree",
     "sha of the truncated tree: None"),
    ("truncated-tree-sha-dotdot", GH_TREE, _set(truncated=True, sha=EVIL_PATH), "gh_tree",
     "not 40 lower-case hex digits"),
    ("truncated-not-boolean", GH_TREE, _set(truncated="yes"), "gh_tree", "its truncated is a str"),
    ("gh-tree-not-list", GH_TREE, _set(tree="LICENSE"), "gh_tree", "its tree is a str, not a list"),
    ("gh-tree-entry-dotdot", GH_TREE, _entry(path=f"../../{INJECTED}/LICENSE", type="blob", sha="0" * 40),
     "gh_tree", "an entry whose path is not a repo path"),
    ("gh-tree-entry-absolute", GH_TREE, _entry(path="/LICENSE", type="blob", sha="0" * 40), "gh_tree",
     "an entry whose path is not a repo path"),
    ("gh-subtree-sha-dotdot", GH_TREE, _entry(path="docs2", type="tree", sha=EVIL_PATH), "gh_tree",
     "sha of the sub-tree 'docs2'"),
]


@pytest.mark.parametrize("case, pattern, change, kind, reason", PARSE_CASES, ids=[c[0] for c in PARSE_CASES])
def test_a_hostile_or_malformed_answer_is_a_parse_error_of_that_answer(case, pattern, change, kind, reason, server,
                                                                      elsewhere, store, clean_store):
    before = state(clean_store)
    server.rewrite_json(pattern, change)
    result = crawl(server, store, MODEL, "--depth", "1", "--full")
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    (answer,) = [r for r in server.requests_to(pattern)]  # asked once, never again
    recorded = errors(store, kind)
    assert [(e[1], e[2]) for e in recorded] == [(server.url + answer.target, 200)], recorded
    assert f"{kind} unreadable: " in recorded[0][3] and reason in recorded[0][3], recorded[0][3]
    assert "failures: 1 parse" in result.stdout.replace("\n", "")
    assert_held(server, elsewhere, result, before, store)


def test_a_head_that_is_not_a_sha_is_a_parse_error(server, elsewhere, store, clean_store):
    before = state(clean_store)
    server.answer(HEAD, Answer(200, EVIL_PATH.encode(), content_type="text/plain; charset=utf-8"))
    result = crawl(server, store, MODEL, "--depth", "1", "--full")
    assert result.returncode == 1
    ((_, url, status, reason, subject),) = errors(store, "gh_head")
    assert url.endswith("/repos/meta-llama/llama3/commits/main") and status == 200
    assert subject == "gh:meta-llama/llama3" and "not a head commit sha" in reason and "../.." in reason
    assert_held(server, elsewhere, result, before, store)


DEEP_JSON = b"[" * 3000 + b"]" * 3000  # 6 kB nested deeper than Python's JSON reader recurses


@pytest.mark.parametrize("content_type", ["text/plain; charset=utf-8", "application/json"],
                         ids=["deep-json-as-text", "deep-json-as-json"])
def test_json_nested_too_deep_to_read_is_a_parse_error_of_that_answer(content_type, server, elsewhere, store,
                                                                      clean_store):
    """A RecursionError is not a ValueError: it escaped the spider as a traceback (as text), or passed the retry
    middleware's check for a network failure (as JSON). Now an answer that does not parse: retried as such, then a
    parse error of that answer."""
    before = state(clean_store)
    server.answer(MODEL_JSON, Answer(200, DEEP_JSON, content_type=content_type))
    result = run_openness("crawl", MODEL, "--depth", "1", "--full", "--hf-endpoint", server.url, "--github-endpoint",
                          server.url, "--db", str(store), "-s", "RETRY_TIMES=1", "-s", "RETRY_BACKOFF_BASE=0.1",
                          timeout=240)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    recorded = errors(store, "model_json")
    assert len(recorded) == 1 and recorded[0][1] == server.url + "/api/models/" + MODEL, recorded
    assert recorded[0][3] == "model_json unreadable: not JSON", recorded[0][3]
    assert_held(server, elsewhere, result, before, store)


# -- ids a card names: refused (never linked nor crawled) and recorded; an expected cause, the run exits 0 --------

def _card_data(**fields):
    return lambda info: {**info, "cardData": {**info.get("cardData", {}), **fields}}


def _tags(*tags):
    return lambda info: {**info, "tags": [*info.get("tags", []), *tags]}


REFUSED_ID_CASES = [
    # (case, change of the model JSON, words of the reason)
    ("base-model-dotdot", _card_data(base_model=EVIL_PATH), "base_model: not a Hugging Face model id"),
    ("base-model-url", _card_data(base_model=f"https://evil.example/{INJECTED}?a=b"), "not a Hugging Face model id"),
    ("base-model-311-chars", _card_data(base_model=LONG_ID), "a part of 309 characters, the Hub allows at most 96"),
    ("base-model-cyrillic", _card_data(base_model=CYRILLIC_ID), "Cyrillic character U+0430 CYRILLIC SMALL LETTER A "
                                                                "among Latin letters"),
    ("dataset-bidi-override", _card_data(datasets=[f"\u202e{INJECTED}/data"]), "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("dataset-zero-width", _card_data(datasets=["meta-llama/da\u200bta"]), "U+200B ZERO WIDTH SPACE"),
    ("dataset-double-dash", _card_data(datasets=["evil--x/data"]), "Cannot have -- or .."),
    ("base-model-tag-dotdot", _tags(f"base_model:finetune:../../{INJECTED}"), "base_model:finetune: not a Hugging"),
    ("arxiv-tag-path", _tags(f"arxiv:../../{INJECTED}"), "tag: not an arXiv id"),
    ("licence-link-github-cyrillic", _card_data(license_link="https://github.com/meta-llam\u0430/llama3"),
     "GitHub link: not a GitHub owner/repo: 'meta-llamа/llama3' holds a Cyrillic character"),
]


@pytest.mark.parametrize("case, change, reason", REFUSED_ID_CASES, ids=[c[0] for c in REFUSED_ID_CASES])
def test_an_id_a_card_names_against_its_hosts_rules_is_refused_and_recorded(case, change, reason, server, elsewhere,
                                                                           store, clean_store):
    before = state(clean_store)
    server.rewrite_json(MODEL_JSON, change)
    result = crawl(server, store, MODEL, "--depth", "1", "--full")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    ((_, url, status, why, subject),) = errors(store, "refused_id")
    assert url == f"{server.url}/api/models/{MODEL}" and status == 200 and subject == f"hf:model:{MODEL}"
    assert why.startswith("1 id(s) named here refused, neither linked nor crawled: ") and reason in why, why
    assert "refused id" in result.stdout.replace("\n", "") and run_stats(store)["openness/refused_ids"] == 1
    assert [r.target for r in server.seen if r.target.startswith(("/api/models/", "/api/datasets/"))
            and MODEL not in r.target] == []  # nothing followed
    after = assert_held(server, elsewhere, result, before, store)
    assert after["links"] == before["links"]  # nothing linked


# -- links per card and pages per answer: bounded, the bound recorded ----------------------------------------------

def card_with(extra: bytes):
    """The model's real card with `extra` appended, as the Hub would serve it (its blob id as ETag)."""
    def override(request, real):
        answer = real()
        body = answer.body + extra
        etag = '"%s"' % git_blob_sha1(body)
        return replace(answer, body=body, etag=etag, headers={**answer.headers, "ETag": etag})
    return override


@pytest.mark.parametrize("case, change, group, followed", [
    ("base-models-5000", _card_data(base_model=[f"org{i}/m{i}" for i in range(5000)]), "base_model",
     r"^/api/models/org\d+/m\d+$"),
    ("datasets-5000", _card_data(datasets=[f"org{i}/d{i}" for i in range(5000)]), "dataset",
     r"^/api/datasets/org\d+/d\d+$"),
], ids=["base-models-5000", "datasets-5000"])
def test_a_card_data_naming_thousands_of_repos_costs_at_most_the_cap(case, change, group, followed, server,
                                                                    elsewhere, store, clean_store):
    before = state(clean_store)
    server.rewrite_json(MODEL_JSON, change)
    result = crawl(server, store, MODEL, "--depth", "1", "--full")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert len(server.requests_to(followed)) == LINKS_PER_CARD[group]
    ((_, url, _, why, _),) = errors(store, "bound")
    assert url == f"{server.url}/api/models/{MODEL}"
    assert why == (f"5000 {group} links named: the bound LINKS_PER_CARD['{group}'] = {LINKS_PER_CARD[group]} was "
                   "reached; the rest is not followed")
    assert run_stats(store)[f"openness/bounds/links_per_card/{group}"] == 1
    after = assert_held(server, elsewhere, result, before, store, same_judgements=False)
    assert len(after["links"] - before["links"]) == LINKS_PER_CARD[group]


@pytest.mark.parametrize("case, extra, refused", [
    ("card-3000-github-links", "".join(f"- https://github.com/org{i}/repo{i}\n" for i in range(3000)), 0),
    ("card-3000-github-links-and-look-alikes",
     "".join(f"- https://github.com/org{i}/repo{i}\n" for i in range(3000))
     + "https://github.com/meta-llam\u0430/llama3 https://github.com/" + "o" * 60 + "/x\n", 2),
], ids=["card-3000-github-links", "card-3000-github-links-and-look-alikes"])
def test_a_card_linking_thousands_of_github_repos_costs_at_most_the_cap(case, extra, refused, server, elsewhere,
                                                                       store, clean_store):
    before = state(clean_store)
    server.override(CARD, card_with(extra.encode()))
    result = crawl(server, store, MODEL, "--depth", "1", "--full")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    repos = {r.target for r in server.requests_to(r"^/repos/[^/]+/[^/]+$")}
    assert len(repos) == LINKS_PER_CARD["github"], sorted(repos)  # the cap, reached: the first 50 linked
    ((_, url, _, why, _),) = errors(store, "bound")
    assert url.endswith("/README.md") and why.startswith("30") and "LINKS_PER_CARD['github'] = 50" in why
    if refused:
        ((_, url, _, why, _),) = errors(store, "refused_id")
        assert url.endswith("/README.md") and why.startswith("2 id(s)") and "Cyrillic" in why and "at most 39" in why
    else:
        assert errors(store, "refused_id") == []
    assert_held(server, elsewhere, result, before, store, same_judgements=False)


def with_link(link_of):
    """The replica's answer (or an empty JSON list where it has none) with a `Link` header made from the request."""
    def override(request, real):
        answer = real()
        if answer.status != 200:
            answer = json_answer([])
        return replace(answer, headers={**answer.headers, "Link": link_of(request)})
    return override


def _page_of(target: str) -> int:
    match = re.search(r"[?&]page=(\d+)", target)
    return int(match.group(1)) if match else 1


LINK_CASES = [
    # (case, pattern, Link header from (server, elsewhere, request), error kind, words of the reason | None)
    ("releases-next-offsite", RELEASES, lambda s, e, r: f'<{e.url}/repos/meta-llama/llama3/releases?page=2>; '
                                                        'rel="next"', "gh_releases", "leaves the endpoint"),
    ("releases-next-other-host", RELEASES, lambda s, e, r: '<http://evil.example/steal?page=2>; rel="next"',
     "gh_releases", "leaves the endpoint"),
    ("releases-next-protocol-relative", RELEASES, lambda s, e, r: '<//evil.example/steal>; rel="next"',
     "gh_releases", "leaves the endpoint"),
    ("releases-next-other-scheme", RELEASES, lambda s, e, r: f'<{s.url.replace("http:", "https:")}/repos/'
                                                             'meta-llama/llama3/releases?page=2>; rel="next"',
     "gh_releases", "leaves the endpoint"),
    ("releases-next-dotdot", RELEASES, lambda s, e, r: f'<{s.url}/repos/meta-llama/llama3/../../../api/models/evil/'
                                                       f'{INJECTED}>; rel="next"', "gh_releases", "a dot segment"),
    ("releases-next-escaped-dotdot", RELEASES, lambda s, e, r: f'<{s.url}/repos/meta-llama/llama3/%2E%2E/%2e%2e/'
                                                               f'{INJECTED}>; rel="next"', "gh_releases",
     "a dot segment"),
    ("releases-next-relative-dotdot", RELEASES, lambda s, e, r: f'<../../{INJECTED}>; rel="next"', "gh_releases",
     "is not a page of the resource"),  # resolved against the page: /repos/PWNED, on the endpoint, not releases
    ("releases-next-other-resource", RELEASES, lambda s, e, r: f'<{s.url}/api/models/evil/{INJECTED}?page=2>; '
                                                               'rel="next"', "gh_releases",
     "is not a page of the resource"),
    ("releases-next-other-repo", RELEASES, lambda s, e, r: f'<{s.url}/repos/evil/{INJECTED}/releases?page=2>; '
                                                           'rel="next"', "gh_releases",
     "is not a page of the resource"),
    ("releases-next-credentials", RELEASES, lambda s, e, r: f'<{s.url.replace("//", "//user:pw@")}/repos/'
                                                            'meta-llama/llama3/releases?page=2>; rel="next"',
     "gh_releases", "carries credentials"),
    ("releases-next-self", RELEASES, lambda s, e, r: f'<{s.url}{r.target}>; rel="next"', "gh_releases",
     "a page read already in this crawl: a loop"),
    ("releases-next-back-to-first", RELEASES,
     lambda s, e, r: f'<{s.url}/repos/meta-llama/llama3/releases?per_page=100'
                     + (f'&page={_page_of(r.target) + 1}' if _page_of(r.target) < 3 else "") + '>; rel="next"',
     "gh_releases", "a page read already in this crawl: a loop"),
    ("hub-tree-next-offsite", HUB_TREE, lambda s, e, r: f'<{e.url}{r.target}&cursor=2>; rel="next"', "tree",
     "leaves the endpoint"),
    ("hub-tree-next-self", HUB_TREE, lambda s, e, r: f'<{s.url}{r.target}>; rel="next"', "tree",
     "a page read already in this crawl: a loop"),
]


@pytest.mark.parametrize("case, pattern, link, kind, reason", LINK_CASES, ids=[c[0] for c in LINK_CASES])
def test_a_next_page_is_followed_only_on_the_endpoint_and_never_back(case, pattern, link, kind, reason, server,
                                                                     elsewhere, store, clean_store):
    before = state(clean_store)
    server.override(pattern, with_link(lambda request: link(server, elsewhere, request)))
    result = crawl(server, store, MODEL, "--depth", "1", "--full")
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    ((_, url, status, why, _),) = errors(store, kind)
    assert status == 200 and url.startswith(server.url) and f"{kind} unreadable: " in why and reason in why, why
    pages = server.requests_to(pattern)
    assert len(pages) == (3 if case == "releases-next-back-to-first" else 1)  # a page pointing to itself: once
    assert url == server.url + pages[-1].target
    assert_held(server, elsewhere, result, before, store)


def test_releases_that_never_end_are_read_up_to_the_page_cap(server, elsewhere, store, clean_store):
    before = state(clean_store)
    server.override(RELEASES, with_link(
        lambda r: f'<{server.url}/repos/meta-llama/llama3/releases?per_page=100&page={_page_of(r.target) + 1}>; '
                  'rel="next"'))
    result = crawl(server, store, MODEL, "--depth", "1", "--full")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    cap = PAGES_PER_RESOURCE["gh_releases"]
    assert len(server.requests_to(RELEASES)) == cap
    ((_, url, _, why, subject),) = errors(store, "bound")
    assert url == f"{server.url}/repos/meta-llama/llama3/releases?per_page=100&page={cap}"
    assert subject == "gh:meta-llama/llama3"
    assert why == (f"gh_releases: {cap} pages read: the bound PAGES_PER_RESOURCE['gh_releases'] = {cap} was "
                   "reached; the rest is not followed")
    assert run_stats(store)["openness/bounds/pages_per_resource/gh_releases"] == 1
    assert_held(server, elsewhere, result, before, store)


# -- the listing ------------------------------------------------------------------------------------------------------

DISCOVER = ("--discover", "--search", "Meta-Llama-3-8B", "--depth", "0", "--no-github", "--full")


@pytest.mark.parametrize("case, link, reason", [
    ("listing-next-offsite", lambda s, e, r: f'<{e.url}/api/models?cursor=x>; rel="next"', "leaves the endpoint"),
    ("listing-next-self", lambda s, e, r: f'<{s.url}{r.target}>; rel="next"', "a loop"),
    ("listing-next-outside-path", lambda s, e, r: '<file:///etc/passwd>; rel="next"', "leaves the endpoint"),
], ids=["listing-next-offsite", "listing-next-self", "listing-next-outside-path"])
def test_a_listing_page_is_followed_only_on_the_endpoint(case, link, reason, server, elsewhere, store,
                                                        clean_store):
    before = state(clean_store)
    server.override(LISTING, with_link(lambda request: link(server, elsewhere, request)))
    result = crawl(server, store, *DISCOVER)
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    ((_, url, status, why, subject),) = errors(store, "listing")
    assert url == server.url + server.requests_to(LISTING)[-1].target and status == 200 and subject is None
    assert why.startswith("listing unreadable: ") and reason in why
    assert len(server.requests_to(LISTING)) == 1
    con = sqlite3.connect(store)
    assert con.execute("select watermark from crawl_runs where id = 2").fetchone()[0] is None  # the walk is not whole
    assert_held(server, elsewhere, result, before, store)


@pytest.mark.parametrize("case, row, reason", [
    ("listing-row-id-311-chars", {"id": LONG_ID, "sha": "0" * 40}, "the Hub allows at most 96"),
    ("listing-row-id-cyrillic", {"id": CYRILLIC_ID, "sha": "0" * 40}, "Cyrillic"),
    ("listing-row-sha-dotdot", {"id": "evil/model", "sha": EVIL_PATH}, "not 40 lower-case hex digits"),
    ("listing-row-siblings-dotdot", {"id": "evil/model", "sha": "0" * 40,
                                     "siblings": [{"rfilename": f"../{INJECTED}"}]}, "siblings that are not repo"),
], ids=["listing-row-id-311-chars", "listing-row-id-cyrillic", "listing-row-sha-dotdot",
        "listing-row-siblings-dotdot"])
def test_a_listing_row_against_the_rules_is_refused_and_the_others_crawled(case, row, reason, server, elsewhere,
                                                                          store, clean_store):
    before = state(clean_store)
    server.rewrite_json(LISTING, lambda rows: [row, *rows])
    result = crawl(server, store, *DISCOVER)
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    ((_, url, _, why, _),) = errors(store, "model_json")
    assert url == server.url + server.requests_to(LISTING)[0].target
    assert why.startswith("listing row unreadable: ") and reason in why
    assert server.requests_to(r"^/meta-llama/Meta-Llama-3-8B/resolve/")  # the good row was crawled
    assert not server.requests_to(r"^/(evil|a)/")
    assert_held(server, elsewhere, result, before, store)


# -- ids users give: the same rules, refused with a clear message -------------------------------------------------

@pytest.mark.parametrize("case, model_id, message", [
    ("cli-id-311-chars", LONG_ID, "a part of 309 characters, the Hub allows at most 96"),
    ("cli-id-cyrillic", CYRILLIC_ID, "holds a Cyrillic character U+0430 CYRILLIC SMALL LETTER A among Latin letters"),
    ("cli-id-bidi-override", "meta-llama/\u202eB8-3-amalL", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("cli-id-zero-width", "meta-llama/Meta\u200b-Llama-3-8B", "U+200B ZERO WIDTH SPACE"),
    ("cli-github-url-long-owner", "https://github.com/" + "o" * 60 + "/x", "at most 39"),
], ids=["cli-id-311-chars", "cli-id-cyrillic", "cli-id-bidi-override", "cli-id-zero-width",
        "cli-github-url-long-owner"])
def test_an_id_given_on_the_command_line_is_refused_by_the_same_rules(case, model_id, message, tmp_path):
    result = run_openness("crawl", model_id, "--db", str(tmp_path / "x.db"), "--hf-endpoint", "http://127.0.0.1:9")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert message in " ".join(result.stderr.split()), result.stderr
    assert not (tmp_path / "x.db").exists()


def test_an_id_in_a_seeds_file_is_refused_by_the_same_rules(tmp_path):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(f"{MODEL}\n{LONG_ID}  # pasted twice over\n", encoding="utf-8")
    result = run_openness("crawl", "--seeds", str(seeds), "--db", str(tmp_path / "x.db"))
    assert result.returncode == 2 and "the Hub allows at most 96" in " ".join(result.stderr.split())


def test_ids_labels_link_against_the_rules_are_refused_and_recorded(server, elsewhere, tmp_path):
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "model.yaml").write_text(
        f"links:\n- https://huggingface.co/{MODEL}\n- https://huggingface.co/{CYRILLIC_ID}\n"
        f"- https://github.com/meta-llam\u0430/llama3\n- https://huggingface.co/a/{'b' * 120}\n", encoding="utf-8")
    db = tmp_path / "labels.db"
    result = crawl(server, db, "--from-labels", str(labels), "--depth", "0")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    con = sqlite3.connect(db)
    ((url, status, why),) = con.execute("select url, http_status, reason from errors where kind = 'refused_id'")
    assert url == "huggingface: start" and status is None
    assert why.startswith("3 id(s) named here refused") and why.count("Cyrillic") == 2 and "at most 96" in why
    crawled = {r for (r,) in con.execute("select id from subjects")}
    assert f"hf:model:{MODEL}" in crawled and not [s for s in crawled if not s.isascii() or "b" * 97 in s]
    assert [r.target for r in server.seen if not r.target.isascii() or "%D0" in r.target] == []
    assert elsewhere.seen == []


# -- the rules themselves ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("rule, value, ok", [
    ("hub", "meta-llama/Meta-Llama-3-8B", True), ("hub", "gpt2", True), ("hub", "a/" + "b" * 96, True),
    ("hub", "a/" + "b" * 97, False), ("hub", "a/b/c", False), ("hub", "../x", False), ("hub", "a/b?c", False),
    ("hub", "a--b/c", False), ("hub", "a/b.git", False), ("hub", "", False), ("hub", 5, False),
    ("hub", CYRILLIC_ID, False), ("hub", "a/\u00e9t\u00e9", False),
    ("github", "meta-llama/llama3", True), ("github", "user_corp/x.y-z", True), ("github", "o" * 39 + "/r", True),
    ("github", "o" * 40 + "/r", False), ("github", "-o/r", False), ("github", "o/" + "r" * 101, False),
    ("github", "o/..", False), ("github", "o", False), ("github", "o/r/x", False), ("github", "o/r?x", False),
    ("sha", "a" * 40, True), ("sha", "a" * 39, False), ("sha", "A" * 40, False), ("sha", "g" * 40, False),
    ("sha", "a" * 64, False), ("sha", None, False),
    ("ref", "main", True), ("ref", "release/v1.2", True), ("ref", "feature/caf\u00e9", True),
    ("ref", "a..b", False), ("ref", "a b", False), ("ref", "a~1", False), ("ref", "a^", False), ("ref", "a:b", False),
    ("ref", "a?", False), ("ref", "a*", False), ("ref", "a[", False), ("ref", "a\\b", False), ("ref", "/a", False),
    ("ref", "a/", False), ("ref", "a//b", False), ("ref", "a.lock", False), ("ref", "a/.b", False),
    ("ref", "a.", False), ("ref", "@", False), ("ref", "a@{1}", False), ("ref", "-a", False), ("ref", "", False),
    ("ref", "a\x7f", False), ("ref", "a\u202eb", False), ("ref", "x" * 256, False), ("ref", ["main"], False),
], ids=lambda v: v if isinstance(v, str) and len(v) < 30 and v.isprintable() else None)
def test_the_id_rules(rule, value, ok):
    from crawler import ids

    check = {"hub": ids.hub_repo_id, "github": ids.github_repo, "sha": ids.git_sha, "ref": ids.git_ref}[rule]
    if ok:
        assert check(value) == value
    else:
        with pytest.raises(ids.BadId) as refused:
            check(value)
        assert len(str(refused.value)) < 400  # quoted short, however long the value


@pytest.mark.parametrize("link, verdict", [
    ('<http://127.0.0.1:5/repos/a/b/releases?page=2>; rel="next"', "http://127.0.0.1:5/repos/a/b/releases?page=2"),
    ("<?page=2>; rel=next", "http://127.0.0.1:5/repos/a/b/releases?page=2"),
    ('<http://127.0.0.1:5/repos/a/b/releases?page=9>; rel="last", <http://127.0.0.1:5/repos/a/b/releases?page=2>; '
     'rel="next"', "http://127.0.0.1:5/repos/a/b/releases?page=2"),
    ('<http://127.0.0.1:5/repos/a/b/releases?page=2>; rel="prev"', None), ("", None), ("garbage, ;;<<>>", None),
    ('<http://127.0.0.1:5/repositories/123/releases?page=2>; rel="next"',
     "http://127.0.0.1:5/repositories/123/releases?page=2"),  # GitHub names the repo by its id in its links
    ('<http://127.0.0.1:5/repos/c/d/releases?page=2>; rel="next"', "not a page of the resource"),
    ('<http://127.0.0.1:5/repos/a/b/tags?page=2>; rel="next"', "not a page of the resource"),
    ('<../../x>; rel="next"', "not a page of the resource"),
    ('<http://127.0.0.1:6/repos/a/b/releases?page=2>; rel="next"', "leaves the endpoint"),
    ('<http://LOCALHOST:5/repos/a/b/releases?page=2>; rel="next"', "leaves the endpoint"),
    ('<http://127.0.0.1:99999/repos/a/b/releases?page=2>; rel="next"', "leaves the endpoint"),
    ('<http://127.0.0.1:5/repos/a/b/%2e%2e/z>; rel="next"', "dot segment"),
    ('<http://127.0.0.1:5/repos/a/b/a%2Fb>; rel="next"', "escaped slash"),
    ('<http://127.0.0.1:5/y z>; rel="next"', "a space"),
    ('<http://127.0.0.1:5/y\\..\\z>; rel="next"', "backslash"),
])
def test_a_pagination_link_is_taken_only_on_the_endpoint(link, verdict):
    from crawler.urls import UnsafeUrl, next_page

    page = "http://127.0.0.1:5/repos/a/b/releases?per_page=100"
    if verdict is None or verdict.startswith("http"):
        assert next_page(link, page, "http://127.0.0.1:5") == verdict
    else:
        with pytest.raises(UnsafeUrl, match=verdict):
            next_page(link, page, "http://127.0.0.1:5")


def test_a_pagination_link_stays_under_the_endpoints_path():
    from crawler.urls import UnsafeUrl, next_page

    base = "http://127.0.0.1:5/hub"
    assert next_page('<http://127.0.0.1:5/hub/api/models?c=2>; rel="next"', base + "/api/models?c=1", base) == \
        "http://127.0.0.1:5/hub/api/models?c=2"
    with pytest.raises(UnsafeUrl, match="outside the endpoint's path /hub/"):
        next_page('<http://127.0.0.1:5/hubx/api/models?c=2>; rel="next"', base + "/api/models", base)


@pytest.mark.parametrize("parts", [("a/../b",), ("..",), (".",), ("a//b",), ("",), ("a\x00b",), (5,)],
                         ids=["dotdot-inside", "dotdot", "dot", "empty-segment", "empty", "nul", "not-a-string"])
def test_a_url_part_that_would_leave_its_path_is_refused(parts):
    from crawler.urls import UnsafeUrl, endpoint_url

    with pytest.raises(UnsafeUrl):
        endpoint_url("http://127.0.0.1:5", "repos", *parts)


def test_url_parts_are_quoted_whole():
    from crawler.urls import endpoint_url

    assert endpoint_url("http://h:1/", "repos", "o/r", "contents", "a b/c?d#e%f", query={"ref": "x&y"}) == \
        "http://h:1/repos/o/r/contents/a%20b/c%3Fd%23e%25f?ref=x%26y"


def test_every_spider_url_is_built_in_the_one_shared_place():
    """No URL is pasted together in a spider: every one comes from crawler.urls.endpoint_url (or next_page)."""
    for path in (ROOT / "spiders").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert not re.search(r"""f["'][^"']*(\{self\.(api|hf_endpoint)|https?://)""", source), path
        assert "quote(" not in source and "urlencode(" not in source, path


def test_a_renamed_repo_whose_new_id_breaks_the_rules_is_not_followed():
    from crawler.items import ErrorItem, LinkItem
    from test_hf_spider import make_spider, spider_response

    spider = make_spider()
    response, repo = spider_response(spider, "http://hub/api/models/new-org/model", 200,
                                     {"id": f"../../{INJECTED}", "sha": "a" * 40},
                                     redirected_from="http://hub/api/models/old-org/model")
    items = list(spider.parse_repo_json(response, repo))
    assert not [i for i in items if isinstance(i, LinkItem)]
    ((error),) = [i for i in items if isinstance(i, ErrorItem)]
    assert error.kind == "model_json" and error.url == "http://hub/api/models/new-org/model"
    assert "not a Hugging Face repo id" in error.reason


def test_a_truncated_tree_whose_levels_never_end_is_walked_up_to_the_cap():
    """A hostile tree naming sub-trees without end (each level a new sha): at most PAGES_PER_RESOURCE['gh_tree']
    level requests for the repo, the bound recorded once."""
    from scrapy import Request
    from scrapy.utils.test import get_crawler

    from crawler.items import ErrorItem
    from spiders.base import Repo
    from spiders.github import GithubSpider
    from test_reliability import fake_response

    crawler = get_crawler(GithubSpider, settings_dict={"PAGES_PER_RESOURCE": {"gh_tree": 5}})
    crawler.stats.open_spider()
    spider = GithubSpider.from_crawler(crawler, github_endpoint="http://api")
    repo = Repo("github", "a/b", revision="0" * 40)
    spider.ledger.opened(repo.subject)
    body = {"sha": "1" * 40, "truncated": True, "tree": []}
    items = list(spider.parse_tree(fake_response("http://api/repos/a/b/git/trees/x", json.dumps(body).encode()),
                                   repo, prefix=""))
    queue = [i for i in items if isinstance(i, Request)]
    asked, bounds, shas = list(queue), [], iter(range(2, 10**6))
    while queue:  # every level answers three new sub-trees
        request = queue.pop(0)
        body = {"sha": "2" * 40, "tree": [{"path": f"d{n}", "type": "tree", "sha": f"{next(shas):040x}"}
                                          for n in range(3)]}
        items = list(spider.parse_level(fake_response(request.url, json.dumps(body).encode()), repo,
                                        prefix=request.cb_kwargs["prefix"]))
        queue += [i for i in items if isinstance(i, Request)]
        asked += [i for i in items if isinstance(i, Request)]
        bounds += [i for i in items if isinstance(i, ErrorItem) and i.kind == "bound"]
    assert len(asked) == 5 and all("/git/trees/" in r.url for r in asked)
    assert len(bounds) == 1 and "PAGES_PER_RESOURCE['gh_tree'] = 5" in bounds[0].reason
    assert crawler.stats.get_value("openness/bounds/pages_per_resource/gh_tree") == 1


# -- the house: the spiders import nothing of the distributed mode ------------------------------------------------

def test_the_spiders_import_nothing_of_the_distributed_mode():
    code = ("import sys, spiders.base, spiders.huggingface, spiders.github; "
            "print(sorted(m for m in sys.modules if m.startswith('crawler.ops')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr[-2000:]
    for path in (ROOT / "spiders").glob("*.py"):
        assert "crawler.ops" not in path.read_text(encoding="utf-8").replace("crawler.ops.distributed.RedisLedger",
                                                                            "").replace(
            "crawler.ops.distributed.spider_context", ""), path


def test_a_distributed_crawl_hands_its_spiders_the_shared_ledger_through_a_setting():
    from scrapy.utils.misc import load_object

    from crawler.ops.distributed import RedisLedger, crawler_settings, spider_context
    from spiders.base import Ledger, LocalLedger

    settings = crawler_settings("redis://127.0.0.1:9/0")
    assert load_object(settings["OPENNESS_SPIDER_CONTEXT"]) is spider_context
    members = {name for name in vars(Ledger) if not name.startswith("_")}
    assert members == {"claim", "opened", "closed", "mark_failed", "has_failed", "tally", "open_count"}
    for ledger in (LocalLedger, RedisLedger):
        assert members <= set(vars(ledger)), ledger
