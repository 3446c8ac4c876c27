"""The tier-0 judge (extractors/listing.py): a model judged from its Hub listing row alone. Rows are built from real
captured models the way the loopback replica derives its /api/models JSON (crawler.replica.hub.derive_repo_json:
the card's front matter is cardData, files.tsv the siblings)."""

from __future__ import annotations

import sqlite3
from functools import cache
from pathlib import Path

import pytest

from conftest import SNAPSHOT
from crawler.corpus import Corpus
from crawler.replica.hub import derive_repo_json
from extractors import CRITERIA
from extractors import listing
from extractors.listing import ListingJudgement, judge_listing, listing_rules
from extractors.rules import _load_yaml
from extractors.types import LEVELS

FULL_CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"


@cache
def corpus(root: Path = SNAPSHOT) -> Corpus:
    return Corpus(root)


@cache
def model_rows(root: Path = SNAPSHOT) -> dict[str, dict]:
    return {repo.repo_id: derive_repo_json(repo) for repo in corpus(root).models.values()}


def dataset_listing(root: Path = SNAPSHOT) -> dict[str, dict | None]:
    """What the datasets listing answers for every dataset the corpus's models name: the row of a captured one,
    None for one the Hub does not have (the replica's 404), nothing for one captured cards name but the corpus
    did not capture (existed; content unknown)."""
    found: dict[str, dict | None] = {r.repo_id: derive_repo_json(r) for r in corpus(root).datasets.values()}
    for row in model_rows(root).values():
        named = (row.get("cardData") or {}).get("datasets")
        for dataset in named if isinstance(named, list) else [named]:
            if isinstance(dataset, str) and corpus(root).hub_repo("dataset", dataset) is None and \
                    corpus(root).named_by("dataset", dataset) is None:
                found[dataset] = None
    return found


def row_of(repo_id: str, root: Path = SNAPSHOT, **fields) -> dict:
    return {**model_rows(root)[corpus(root).hub_repo("model", repo_id).repo_id], **fields}


def by_criterion(judged: ListingJudgement) -> dict:
    return {j.criterion: j for j in judged.judgements}


# --- the rules of data/rules/listing.yaml, each on its real row ---

RULES = _load_yaml("listing.yaml")["rules"]


@pytest.mark.parametrize("rule", RULES, ids=[r["id"] for r in RULES])
def test_each_listing_rule_fires_on_its_real_row(rule):
    judged = by_criterion(judge_listing(row_of(rule["from"], **(rule.get("with") or {}))))
    assert rule["id"] in judged[rule["criterion"]].rule_ids, judged[rule["criterion"]]


def test_listing_rules_are_unique_and_bounds_are_sane():
    ids = [r["id"] for r in RULES]
    assert len(ids) == len(set(ids))
    assert all(r["id"].startswith("listing.") and r["criterion"] in CRITERIA for r in RULES)
    rules = listing_rules()
    assert rules.max_list_items >= 1000 and 1 <= rules.max_base_depth <= 10 and rules.files_quoted >= 1


# --- agreement with the deep judge ---

def test_tier0_agrees_with_the_deep_judge_on_what_both_decide(demo_db):
    """Over every snapshot model, the cells both judges decide. The listing reads the same fields the deep judge
    reads for weights, gating and the declared licence; it cannot read what only the card's text or the model's
    GitHub repos show (data said to be internal, a tuned base named in prose, own code with no package), so those
    cells may differ. Measured 207 of 217 (95%) when written; the floor, 90%, leaves room for a rule change in
    the deep judge without letting tier 0 drift from it."""
    rows, datasets = model_rows(), dataset_listing()
    deep = {}
    with sqlite3.connect(demo_db) as db:
        for subject, criterion, level in db.execute("SELECT subject_id, criterion, level FROM judgements "
                                                    "WHERE subject_id LIKE 'hf:model:%'"):
            deep[(subject.split(":", 2)[2].lower(), criterion)] = level
    both, agreed, weights = 0, 0, []
    for repo_id, row in rows.items():
        for judgement in judge_listing(row, rows, datasets).judgements:
            theirs = deep.get((repo_id.lower(), judgement.criterion))
            if theirs in (None, "unknown") or judgement.level == "unknown":
                continue
            both += 1
            agreed += theirs == judgement.level
            if judgement.criterion == "weights_endmodel":
                weights.append((repo_id, judgement.level, theirs))
    print(f"tier 0 agrees with the deep judge on {agreed} of {both} cells both decide ({agreed / both:.1%})")
    assert both >= 150  # most of the snapshot's licences, weights and named data are decided by both
    assert agreed / both >= 0.9
    # The same siblings, the same weight globs, the same gate rule: the end model's weights agree on every model.
    assert weights and all(ours == theirs for _, ours, theirs in weights), weights


# --- gating ---

def test_gated_models_with_weights_are_partial_and_say_why():
    rows = model_rows()
    gated = [r for r in rows.values() if r["gated"] and {"extra_gated_prompt", "extra_gated_fields"} &
             set(r.get("cardData") or {}) and any(s["rfilename"].endswith(".safetensors") for s in r.get("siblings", []))]
    assert len(gated) >= 5
    for row in gated:
        judged = by_criterion(judge_listing(row))
        weights = judged["weights_endmodel"]
        assert weights.level == "partial", row["id"]
        assert "listing.gated" in weights.rule_ids


def test_a_gate_that_only_shows_a_notice_is_not_a_restriction():
    # mistralai/Mistral-7B-v0.1: its card has extra_gated_description only (a privacy notice), no terms or fields.
    row = row_of("mistralai/Mistral-7B-v0.1")
    assert set(k for k in row["cardData"] if k.startswith("extra_gated")) == {"extra_gated_description"}
    assert by_criterion(judge_listing({**row, "gated": "auto"}))["weights_endmodel"].level == "open"
    # The same notice behind a publisher's approval is a gate.
    assert by_criterion(judge_listing({**row, "gated": "manual", "_replica": {}}))["weights_endmodel"].level == \
        "partial"


def test_a_gate_asking_terms_is_partial_even_when_approved_automatically():
    row = row_of("meta-llama/Meta-Llama-3-8B", gated="auto")
    assert by_criterion(judge_listing(row))["weights_endmodel"].level == "partial"


def test_a_gated_model_without_a_file_list_is_partial():
    row = {k: v for k, v in row_of("meta-llama/Meta-Llama-3-8B").items() if k != "siblings"}
    weights = by_criterion(judge_listing(row))["weights_endmodel"]
    assert weights.level == "partial" and "tree" in [s.name for s in weights.searched]


# --- base chain and datasets ---

def test_the_base_chain_follows_the_rows_given_nearest_first():
    rows = model_rows()
    judged = judge_listing(row_of("Intel/neural-chat-7b-v3-3"), rows)
    assert judged.base_chain == ("Intel/neural-chat-7b-v3-1", "mistralai/Mistral-7B-v0.1")
    base = by_criterion(judged)["weights_basemodel"]
    mistral = by_criterion(judge_listing(row_of("mistralai/Mistral-7B-v0.1")))["weights_endmodel"]
    assert base.level == mistral.level and "mistralai/Mistral-7B-v0.1" in base.summary


def test_a_base_whose_row_is_not_given_is_unknown_naming_it():
    judged = judge_listing(row_of("HuggingFaceH4/zephyr-7b-beta"))
    assert judged.base_chain == ("mistralai/Mistral-7B-v0.1",)
    for criterion in ("weights_basemodel", "datasources_basemodel"):
        judgement = by_criterion(judged)[criterion]
        assert judgement.level == "unknown"
        assert ("base:mistralai/Mistral-7B-v0.1", "not crawled") in [(s.name, s.status) for s in judgement.searched]


def test_the_hubs_base_models_field_and_relation_tags_name_the_base():
    row = {k: v for k, v in row_of("HuggingFaceH4/zephyr-7b-beta").items() if k not in ("cardData", "tags")}
    via_field = judge_listing({**row, "baseModels": {"relation": "finetune",
                                                     "models": [{"id": "mistralai/Mistral-7B-v0.1"}]}})
    via_tag = judge_listing({**row, "tags": ["base_model:finetune:mistralai/Mistral-7B-v0.1"]})
    assert via_field.base_chain == via_tag.base_chain == ("mistralai/Mistral-7B-v0.1",)


def test_named_datasets_join_their_rows():
    rows, datasets = model_rows(), dataset_listing()
    dolly = judge_listing(row_of("databricks/dolly-v2-12b"), rows, datasets)
    assert dolly.datasets == ("databricks/databricks-dolly-15k",)
    data = by_criterion(dolly)["datasources_endmodel"]
    assert data.level == "open"
    assert ("dataset:databricks/databricks-dolly-15k", "read") in [(s.name, s.status) for s in data.searched]
    # A dataset the Hub does not have (cerebras/Cerebras-GPT-111M names `the_pile`): the data cannot all be had.
    assert datasets["the_pile"] is None
    cerebras = by_criterion(judge_listing(row_of("cerebras/Cerebras-GPT-111M"), rows, datasets))
    assert cerebras["datasources_endmodel"].level == "partial"


def test_a_gated_dataset_makes_the_data_partial():
    if not FULL_CORPUS.is_dir():
        pytest.skip("../shared/corpus is not here")
    # TinyLlama names bigcode/starcoderdata, whose card asks terms before download.
    dataset = corpus(FULL_CORPUS).hub_repo("dataset", "bigcode/starcoderdata")
    row = derive_repo_json(dataset)
    assert row["gated"]
    judged = judge_listing(row_of("TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T", FULL_CORPUS), {},
                           {"bigcode/starcoderdata": row})
    data = by_criterion(judged)["datasources_endmodel"]
    assert "bigcode/starcoderdata" in judged.datasets
    assert data.level == "partial"
    assert ("dataset:bigcode/starcoderdata", "gated") in [(s.name, s.status) for s in data.searched]


# --- licence ---

def test_the_declared_licence_is_classed_like_the_deep_judge_does():
    judged = judge_listing(row_of("01-ai/Yi-34B"))  # license: other, license_name: yi-license
    assert judged.licence == "yi-license"
    assert by_criterion(judged)["licenses"].level == "closed"
    judged = judge_listing(row_of("EleutherAI/pythia-6.9b"))
    assert judged.licence == "apache-2.0" and by_criterion(judged)["licenses"].level == "open"
    # The Hub's `license:` tag stands in for card data the listing lacks.
    row = {k: v for k, v in row_of("EleutherAI/pythia-6.9b").items() if k != "cardData"}
    judged = judge_listing(row)
    assert judged.licence == "apache-2.0" and by_criterion(judged)["licenses"].level == "open"


# --- unknowns name their source; evidence is shaped like the deep judge's ---

def test_every_unknown_names_a_source_that_would_decide_it():
    rows, datasets = model_rows(), dataset_listing()
    for row in rows.values():
        for judgement in judge_listing(row, rows, datasets).judgements:
            if judgement.level == "unknown":
                unread = [s for s in judgement.searched if s.status == "not crawled"]
                assert unread, (row["id"], judgement.criterion)
                assert judgement.confidence == 0.0


def test_evidence_points_at_the_public_page_at_the_revision():
    row = row_of("Qwen/Qwen2.5-32B")
    for judgement in judge_listing(row).judgements:
        assert judgement.criterion in CRITERIA and judgement.level in LEVELS and judgement.evidence
        for evidence in judgement.evidence:
            assert evidence.url == f"https://huggingface.co/Qwen/Qwen2.5-32B/tree/{row['sha']}"
            assert evidence.revision == row["sha"]
            assert evidence.file.startswith("listing:")


# --- hostile rows ---

WRONG = [None, 0, -1, 3.5, True, "", "x" * 100_000, [], [None], {}, {"a": {"b": []}}, ["x"] * 50, object()]
FIELDS = ["id", "modelId", "sha", "siblings", "cardData", "gated", "tags", "baseModels", "safetensors", "config",
          "library_name", "inference", "inferenceProviderMapping", "downloads", "likes", "lastModified", "createdAt",
          "pipeline_tag", "author", "_replica"]


def assert_whole(judged):
    assert isinstance(judged, ListingJudgement)
    assert tuple(j.criterion for j in judged.judgements) == CRITERIA
    for judgement in judged.judgements:
        assert judgement.level in LEVELS and judgement.evidence
        if judgement.level == "unknown":
            assert judgement.summary and judgement.searched


@pytest.mark.parametrize("field", FIELDS)
def test_a_field_of_any_wrong_type_never_raises(field):
    base = row_of("meta-llama/Meta-Llama-3-8B")
    for value in WRONG:
        assert_whole(judge_listing({**base, field: value}))
        # Read field by field, not saved by judge_listing's last guard (which would make every criterion unknown).
        assert_whole(listing._judge({**base, field: value}, {}, {}))
    for key in ("license", "license_name", "base_model", "datasets", "library_name", "inference",
                "extra_gated_prompt", "extra_gated_fields"):
        for value in WRONG:
            assert_whole(judge_listing({**base, "cardData": {**base["cardData"], key: value}}))


def test_rows_that_are_not_objects_are_unknown_with_the_reason():
    for row in (None, [], "meta-llama/Meta-Llama-3-8B", 42, [{"id": "x"}]):
        judged = judge_listing(row)
        assert_whole(judged)
        assert all(j.level == "unknown" and "not an object" in j.summary for j in judged.judgements)


def test_a_wrong_typed_field_is_unknown_with_its_reason():
    row = row_of("EleutherAI/pythia-6.9b", cardData=["license", "apache-2.0"], tags=7)
    licence = by_criterion(judge_listing(row))["licenses"]
    assert licence.level == "unknown" and "cardData" in licence.summary


def test_huge_lists_are_read_to_their_bound():
    cap = listing_rules().max_list_items
    huge = [{"rfilename": f"shard-{i}.txt"} for i in range(cap * 5)]
    row = row_of("Qwen/Qwen2.5-32B", siblings=huge, _replica={}, tags=[f"dataset:org/d{i}" for i in range(cap * 5)],
                 cardData={"base_model": [f"org/m{i}" for i in range(cap * 5)], "datasets": "x" * 1_000_000})
    judged = judge_listing(row, {f"org/m{i}": {"id": f"org/m{i}"} for i in range(100)},
                           {f"org/d{i}": {"id": f"org/d{i}", "gated": "auto"} for i in range(100)})
    assert_whole(judged)
    assert len(judged.datasets) <= cap
    # No weight file among the files read, and the list was cut: that proves no absence.
    assert by_criterion(judged)["weights_endmodel"].level == "unknown"


def test_bases_and_datasets_of_the_wrong_shape_never_raise():
    row = row_of("Intel/neural-chat-7b-v3-3")
    for bases in (None, [], "x", {"Intel/neural-chat-7b-v3-1": "not a row"}, {1: 2},
                  {"Intel/neural-chat-7b-v3-1": {"id": "Intel/neural-chat-7b-v3-1", "cardData": {
                      "base_model": "Intel/neural-chat-7b-v3-3"}}}):  # a cycle
        assert_whole(judge_listing(row, bases, bases))


def test_a_licence_id_no_licence_has_is_not_passed_on():
    row = row_of("EleutherAI/pythia-6.9b")
    judged = judge_listing({**row, "cardData": {**row["cardData"], "license": "x" * 100_000}})
    assert judged.licence is None
    assert by_criterion(judged)["licenses"].level == "closed"  # declared, and no index knows it: as the deep judge
