"""Every judgement records what it searched; `closed` from an absence stands only where the deciding sources were
read whole, otherwise `unknown` naming the missing source."""

from __future__ import annotations

import json

from conftest import run_openness
from test_extractors import artifacts, card_of, model_json, tree_of
from extractors import assess_model
from extractors.types import Artifact, ModelArtifacts, Source

NOT_CAPTURED = Source("card", "not captured", "http://hub/x/resolve/abc/README.md", "HTTP 501 NotCaptured")


def test_closed_from_nothing_found_becomes_unknown_when_the_card_was_not_read():
    repo = "Qwen/Qwen2.5-32B"
    model = ModelArtifacts(repo, "abc", f"http://hub/{repo}", model_json(repo), None, (tree_of(repo),),
                           sources=(NOT_CAPTURED, Source("tree", "read", "http://hub/tree")))
    judged = {j.criterion: j for j in assess_model(model)}
    for criterion in ("datasources_endmodel", "trainingcode", "hardware_architecture", "package"):
        assert judged[criterion].level == "unknown", criterion
        assert "card not captured" in judged[criterion].summary
        assert judged[criterion].evidence[0].rule_id == "searched.unread"
    assert judged["weights_endmodel"].level == "open"  # what the tree shows is evidence, not an absence
    assert all(j.searched for j in judged.values())


def test_closed_from_nothing_found_stands_when_the_card_was_read():
    repo = "Qwen/Qwen2.5-32B"
    model = ModelArtifacts(repo, "abc", f"http://hub/{repo}", model_json(repo), card_of(repo), (tree_of(repo),),
                           sources=(Source("card", "read", "http://hub/card"), Source("tree", "read", "http://t")))
    judged = {j.criterion: j for j in assess_model(model)}
    assert judged["trainingcode"].level == "closed" and judged["trainingcode"].basis == "absence"
    assert [s.name for s in judged["trainingcode"].searched] == ["card"]


def test_a_mirror_file_list_proves_presence_never_absence():
    repo = "Qwen/Qwen2.5-32B"
    entries = [{"type": "file", "path": "README.md", "size": 10}, {"type": "file", "path": "config.json"}]
    tree = Artifact("t", "tree", "http://hub/tree", "abc", "page-0", json.dumps(entries))
    replica = {"_replica": {"not_exhaustive": ["siblings", "tree"]}}
    sources = (Source("card", "read", "http://hub/card"), Source("tree", "read", "http://hub/tree"))
    mirror = ModelArtifacts(repo, "abc", "http://hub", model_json(repo, **replica), card_of(repo), (tree,),
                            sources=sources)
    judged = {j.criterion: j for j in assess_model(mirror)}
    assert judged["weights_endmodel"].level == "unknown"
    assert "tree not exhaustive" in judged["weights_endmodel"].summary
    whole = ModelArtifacts(repo, "abc", "http://hub", model_json(repo), card_of(repo), (tree,), sources=sources)
    assert {j.criterion: j for j in assess_model(whole)}["weights_endmodel"].level == "closed"
    with_weights = artifacts(repo)  # the mirror list names weight files: presence is proven
    with_weights = ModelArtifacts(repo, "abc", "http://hub", model_json(repo, **replica), with_weights.card,
                                  with_weights.tree_pages, sources=sources)
    assert {j.criterion: j for j in assess_model(with_weights)}["weights_endmodel"].level == "open"


def test_replica_marks_a_tree_from_a_mirror_list_as_not_exhaustive(replica_url):
    import urllib.request

    with urllib.request.urlopen(f"{replica_url}/api/models/meta-llama/Meta-Llama-3.1-405B") as answer:
        info = json.load(answer)
    assert info["_replica"]["capture"]["files"] == "third-party-mirror"
    assert info["_replica"]["not_exhaustive"] == ["siblings", "tree"]


def test_show_names_the_missing_source_of_a_model_whose_card_was_not_captured(demo_db):
    result = run_openness("show", "allenai/OLMo-7B-Instruct", "--db", str(demo_db), "--json")
    assert result.returncode == 0, result.stderr
    judged = {j["criterion"]: j for j in json.loads(result.stdout)["judgements"]}
    for criterion in ("datasources_endmodel", "trainingcode", "modelcard", "licenses"):
        assert judged[criterion]["level"] == "unknown", criterion
        card = [s for s in judged[criterion]["searched"] if s["source"] == "card"]
        assert card and card[0]["status"] == "not captured", criterion
    text = run_openness("show", "allenai/OLMo-7B-Instruct", "--db", str(demo_db)).stdout
    assert "searched: card not captured" in text


def test_replica_answers_not_captured_for_a_repo_a_captured_card_names(replica_url):
    import urllib.error
    import urllib.request

    # zephyr-7b-beta's card names this dataset in its metadata; the corpus holds no copy of it.
    try:
        urllib.request.urlopen(f"{replica_url}/api/datasets/HuggingFaceH4/ultrachat_200k")
        raise AssertionError("expected an error")
    except urllib.error.HTTPError as exc:
        assert exc.code == 501 and exc.headers["X-Error-Code"] == "NotCaptured"
        assert "zephyr-7b-beta" in exc.headers["X-Error-Message"]
    try:
        urllib.request.urlopen(f"{replica_url}/api/datasets/nobody/absent-dataset")
        raise AssertionError("expected an error")
    except urllib.error.HTTPError as exc:
        assert exc.code == 404


def test_a_named_dataset_that_was_not_captured_is_no_evidence_of_closure(demo_db):
    result = run_openness("show", "HuggingFaceH4/zephyr-7b-beta", "--db", str(demo_db), "--json")
    judged = {j["criterion"]: j for j in json.loads(result.stdout)["judgements"]}
    data = judged["datasources_endmodel"]
    statuses = {s["source"]: s["status"] for s in data["searched"]}
    assert statuses["dataset:HuggingFaceH4/ultrachat_200k"] == "not captured"
    assert data["level"] == "open"  # named and shared on the Hub; none answered missing or gated
