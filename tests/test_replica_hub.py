"""The replica answers huggingface_hub's own client as the real Hub would, for what the corpus holds."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

from conftest import SNAPSHOT

OPEN_MODEL = "Qwen/Qwen2.5-32B"  # not gated, card and file list captured
GATED_MODEL = "meta-llama/Meta-Llama-3-8B"  # extra_gated_* keys in its card
NO_CARD_MODEL = "openchat/openchat_v3.2"  # capture.json: card none


def fetch(url: str, headers: dict | None = None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_model_info_is_derived_from_card_and_file_list(replica_url, snapshot_corpus):
    info = HfApi(endpoint=replica_url).model_info(OPEN_MODEL)
    capture = snapshot_corpus.hub_repo("model", OPEN_MODEL)
    assert info.id == OPEN_MODEL
    assert info.sha == capture.revision_sha
    assert info.card_data["license"] == capture.front_matter["license"]
    assert [s.rfilename for s in info.siblings] == [f.path for f in capture.file_list]
    assert f"license:{capture.front_matter['license']}" in info.tags
    assert not info.gated


def test_model_json_says_what_it_derived(replica_url):
    status, _, body = fetch(f"{replica_url}/api/models/{OPEN_MODEL}")
    replica_note = json.loads(body)["_replica"]
    assert status == 200 and replica_note["derived"] is True
    assert "sha" in replica_note["derived_fields"] and "lastModified" in replica_note["derived_fields"]
    assert "downloads" in replica_note["not_captured"]


def test_gated_model_hides_files_but_not_card(replica_url, tmp_path):
    api = HfApi(endpoint=replica_url)
    assert api.model_info(GATED_MODEL).gated == "manual"
    card = hf_hub_download(GATED_MODEL, "README.md", endpoint=replica_url, cache_dir=tmp_path)
    assert open(card, "rb").read() == (SNAPSHOT / "huggingface/models" / GATED_MODEL / "README.md").read_bytes()
    with pytest.raises(GatedRepoError):
        hf_hub_download(GATED_MODEL, "config.json", endpoint=replica_url, cache_dir=tmp_path)
    status, headers, _ = fetch(f"{replica_url}/{GATED_MODEL}/resolve/main/config.json")
    assert status == 401 and headers["X-Error-Code"] == "GatedRepo"


def test_unknown_repo_is_repo_not_found(replica_url):
    with pytest.raises(RepositoryNotFoundError):
        HfApi(endpoint=replica_url).model_info("nobody/no-such-model")
    status, headers, _ = fetch(f"{replica_url}/api/models/nobody/no-such-model")
    assert status == 404 and headers["X-Error-Code"] == "RepoNotFound"


def test_uncaptured_card_is_a_failed_fetch_not_an_absence(replica_url, tmp_path):
    status, headers, _ = fetch(f"{replica_url}/{NO_CARD_MODEL}/resolve/main/README.md")
    assert status == 501 and headers["X-Error-Code"] == "NotCaptured"
    with pytest.raises(Exception) as raised:
        hf_hub_download(NO_CARD_MODEL, "README.md", endpoint=replica_url, cache_dir=tmp_path)
    assert not isinstance(raised.value, RepositoryNotFoundError)


def test_uncaptured_file_list_is_a_failed_fetch(replica_url, snapshot_corpus):
    model = next(r for r in snapshot_corpus.models.values() if r.file_list is None)
    status, headers, _ = fetch(f"{replica_url}/api/models/{model.repo_id}/tree/main?recursive=true")
    assert status == 501 and headers["X-Error-Code"] == "NotCaptured"
    assert "siblings" not in json.loads(fetch(f"{replica_url}/api/models/{model.repo_id}")[2])


def test_list_repo_tree_returns_the_captured_file_list(replica_url, snapshot_corpus):
    files = [f for f in HfApi(endpoint=replica_url).list_repo_tree(OPEN_MODEL, recursive=True)
             if f.__class__.__name__ == "RepoFile"]
    capture = snapshot_corpus.hub_repo("model", OPEN_MODEL)
    assert sorted(f.path for f in files) == sorted(f.path for f in capture.file_list)


def test_tree_and_listing_paginate_through_link_headers(small_pages_replica, snapshot_corpus):
    api = HfApi(endpoint=small_pages_replica)
    capture = snapshot_corpus.hub_repo("model", OPEN_MODEL)
    files = [f.path for f in api.list_repo_tree(OPEN_MODEL, recursive=True) if hasattr(f, "blob_id")]
    assert sorted(files) == sorted(f.path for f in capture.file_list)
    status, headers, body = fetch(f"{small_pages_replica}/api/models?author=meta-llama")
    assert status == 200 and len(json.loads(body)) == 3 and 'rel="next"' in headers["Link"]
    listed = [m.id for m in api.list_models(author="meta-llama")]
    expected = sorted(r.repo_id for r in snapshot_corpus.models.values() if r.repo_id.startswith("meta-llama/"))
    assert sorted(listed) == expected and len(listed) > 3


def test_listing_expand_in_both_forms(replica_url):
    plain = json.loads(fetch(f"{replica_url}/api/models?author=meta-llama&expand=gated&expand=sha")[2])
    brackets = json.loads(fetch(f"{replica_url}/api/models?author=meta-llama&expand[]=gated&expand[]=sha")[2])
    assert plain == brackets
    assert all(set(row) - {"_id", "_replica"} == {"id", "gated", "sha"} for row in plain)  # and our own marks
    via_client = list(HfApi(endpoint=replica_url).list_models(author="meta-llama", expand=["gated", "sha"]))
    assert {m.id: m.sha for m in via_client} == {row["id"]: row["sha"] for row in plain}


def test_listing_search_and_filter(replica_url):
    found = [m.id for m in HfApi(endpoint=replica_url).list_models(search="mixtral")]
    assert found and all("mixtral" in m.lower() for m in found)
    tagged = [m.id for m in HfApi(endpoint=replica_url).list_models(filter="license:apache-2.0")]
    assert OPEN_MODEL in tagged and GATED_MODEL not in tagged


def test_etag_and_conditional_requests(replica_url):
    url = f"{replica_url}/{OPEN_MODEL}/resolve/main/README.md"
    status, headers, _ = fetch(url)
    assert status == 200 and headers["ETag"]
    status, _, body = fetch(url, {"If-None-Match": headers["ETag"]})
    assert status == 304 and body == b""
    status, headers, _ = fetch(f"{replica_url}/api/models/{OPEN_MODEL}")
    assert fetch(f"{replica_url}/api/models/{OPEN_MODEL}", {"If-None-Match": headers["ETag"]})[0] == 304


def test_revision_pinning(replica_url, snapshot_corpus):
    sha = snapshot_corpus.hub_repo("model", OPEN_MODEL).revision_sha
    assert HfApi(endpoint=replica_url).model_info(OPEN_MODEL, revision=sha).sha == sha
    status, headers, _ = fetch(f"{replica_url}/api/models/{OPEN_MODEL}/revision/{'0' * 40}")
    assert status == 404 and headers["X-Error-Code"] == "RevisionNotFound"


def test_datasets_are_served_too(replica_url, snapshot_corpus, tmp_path):
    dataset = next(d for d in snapshot_corpus.datasets.values() if d.card_bytes)
    info = HfApi(endpoint=replica_url).dataset_info(dataset.repo_id)
    assert info.id == dataset.repo_id
    path = hf_hub_download(dataset.repo_id, "README.md", repo_type="dataset", endpoint=replica_url, cache_dir=tmp_path)
    assert open(path, "rb").read() == dataset.card_bytes


def test_a_listing_row_says_what_the_replica_derived_and_holds_only_partly(replica_url):
    status, _, body = fetch(f"{replica_url}/api/models?author=Qwen&expand=siblings&expand=sha")
    rows = json.loads(body)
    assert status == 200 and rows
    for row in rows:
        assert row["_replica"]["derived"] is True
        if row.get("siblings") and row["_replica"]["capture"].get("files") == "third-party-mirror":
            assert "siblings" in row["_replica"]["not_exhaustive"]  # so no one takes a mirror's list for the repo


def test_a_synthetic_hub_larger_than_its_listing_reads_the_listing_again_with_suffixed_ids(tmp_path):
    """`--synthetic N` serves N models also past the listing's end: the rows again, ids suffixed per round, the same
    models for the same arguments, and every one marked synthetic."""
    import csv
    import gzip

    from crawler.corpus import Corpus
    from crawler.replica.hub import derive_repo_json
    bundled = next((SNAPSHOT.parent / "hub-listing").glob("*.csv.gz"))
    with gzip.open(bundled, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = [row for row in reader if (row.get("id") or "").count("/") == 1][:3]
        fields = reader.fieldnames
    listing = tmp_path / "listing.csv"
    with listing.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)

    def synthetic_ids():
        corpus = Corpus(SNAPSHOT)
        real = set(corpus.models)
        assert corpus.add_synthetic_models(7, listing) == 7
        return corpus, [m.repo_id for key, m in corpus.models.items() if key not in real]

    corpus, ids = synthetic_ids()
    first = [r["id"] for r in rows]
    assert ids == [*first, *(f"{i}-synthetic-2" for i in first), f"{first[0]}-synthetic-3"]
    assert synthetic_ids()[1] == ids
    note = derive_repo_json(corpus.models[ids[-1].lower()])["_replica"]["synthetic"]["note"]
    assert "synthetic model" in note and "round 3" in note
