"""Licence lineage: a derivative declaring a licence its base chain's licences do not allow is `relicensed`
(extractors/lineage.py, data/rules/licence_lineage.yaml); the flag is stored beside the openwashing flag
(crawler/relicensing.py). The cards are real captured ones, from ../shared/corpus and data/snapshot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import ROOT, SNAPSHOT
from extractors.licence_index import classify
from extractors.licences import declared_licence
from extractors.lineage import (declared_ids, lineage_rules, model_chain, model_relicensing, relicensed,
                                relicensed_flag)
from extractors.types import Artifact, ModelArtifacts

# ../shared/corpus beside the checkout (a worktree sits one level deeper, at ../wt/<name>)
CORPUS = next((p / "shared" / "corpus" / "huggingface" / "models" for p in (ROOT.parent, ROOT.parent.parent)
               if (p / "shared" / "corpus").is_dir()), ROOT.parent / "shared" / "corpus" / "huggingface" / "models")
SNAPSHOT_MODELS = SNAPSHOT / "huggingface" / "models"


def card(root: Path, repo_id: str) -> Artifact:
    text = (root / repo_id / "README.md").read_text(encoding="utf-8")
    return Artifact(f"card-{repo_id}", "card", f"http://hub/{repo_id}/resolve/abc/README.md", "abc", "README.md", text)


def model(root: Path, repo_id: str, base_model: str | None = None, base: ModelArtifacts | None = None):
    return ModelArtifacts(repo_id, "abc", f"http://hub/{repo_id}", None, card(root, repo_id), base_model=base_model,
                          base=base)


def declared(root: Path, repo_id: str) -> list[str]:
    return declared_ids(declared_licence(model(root, repo_id))[0])


LLAMA2_HF = "meta-llama/Llama-2-13b-chat-hf"


def flagalpha_over_llama2() -> ModelArtifacts:
    """FlagAlpha/Llama2-Chinese-13b-Chat's real card over the base its text names (meta-llama/Llama-2-13b-chat-hf),
    that base's licence read from the captured card of the same weights in Meta's format, meta-llama/Llama-2-13b-chat
    (the -hf repo's card is not captured)."""
    return model(CORPUS, "FlagAlpha/Llama2-Chinese-13b-Chat", LLAMA2_HF, model(CORPUS, "meta-llama/Llama-2-13b-chat"))


needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not beside this checkout")


# -- real cards ---------------------------------------------------------------------------------------------------

@needs_corpus
def test_an_apache_licensed_llama_2_fine_tune_is_relicensed():
    """../shared/corpus/huggingface/models/FlagAlpha/Llama2-Chinese-13b-Chat/README.md declares `license:
    apache-2.0` and says in its text it is a LoRA fine-tune of meta-llama/Llama-2-13b-chat-hf merged into it. That
    repo's card is not captured; the same weights in Meta's format, meta-llama/Llama-2-13b-chat (its README.md
    beside), declare `license: llama2`: the base licence is read from that card."""
    derivative = card(CORPUS, "FlagAlpha/Llama2-Chinese-13b-Chat").text
    assert "meta-llama/Llama-2-13b-chat-hf" in derivative  # the base, as the card names it
    [licence] = declared(CORPUS, "FlagAlpha/Llama2-Chinese-13b-Chat")
    [base_licence] = declared(CORPUS, "meta-llama/Llama-2-13b-chat")
    found = relicensed(licence, [("meta-llama/Llama-2-13b-chat-hf", base_licence)])
    assert found is not None
    assert (found.licence, found.base_licence) == (licence, base_licence)
    assert found.base == "meta-llama/Llama-2-13b-chat-hf" and found.chain == ("meta-llama/Llama-2-13b-chat-hf",)
    assert "Agreement" in found.why  # the Llama agreement's redistribution clause
    assert classify(licence).level == "open" and classify(base_licence).level == "closed"


@needs_corpus
def test_a_base_card_that_declares_no_licence_id_flags_nothing():
    """../shared/corpus/huggingface/models/meta-llama/Llama-2-7b-chat-hf/README.md has no `license:` (its text says
    the Meta licence governs it): FlagAlpha/Llama2-Chinese-7b-Chat (apache-2.0) over it is not flagged, an unknown
    base licence says nothing."""
    [licence] = declared(CORPUS, "FlagAlpha/Llama2-Chinese-7b-Chat")
    assert declared(CORPUS, "meta-llama/Llama-2-7b-chat-hf") == []
    assert relicensed(licence, [("meta-llama/Llama-2-7b-chat-hf", None)]) is None
    base = model(CORPUS, "meta-llama/Llama-2-7b-chat-hf")
    derivative = model(CORPUS, "FlagAlpha/Llama2-Chinese-7b-Chat", "meta-llama/Llama-2-7b-chat-hf", base)
    assert model_chain(derivative) == [("meta-llama/Llama-2-7b-chat-hf", None)]
    assert model_relicensing(derivative) is None


def test_a_fine_tune_keeping_its_base_licence_is_not_flagged():
    """data/snapshot/huggingface/models/openchat/openchat-3.6-8b-20240522/README.md: `license: llama3`,
    `base_model: meta-llama/Meta-Llama-3-8B`, whose card (beside) declares `license: other`, `license_name:
    llama3`. And google/gemma-7b-it (`license: gemma`, `base_model: google/gemma-7b`, `license: gemma`)."""
    for repo_id, base_id in [("openchat/openchat-3.6-8b-20240522", "meta-llama/Meta-Llama-3-8B"),
                             ("google/gemma-7b-it", "google/gemma-7b")]:
        base = model(SNAPSHOT_MODELS, base_id)
        derivative = model(SNAPSHOT_MODELS, repo_id, base_id, base)
        assert base_id in derivative.card.text
        [(named, base_licence)] = model_chain(derivative)
        assert named == base_id and base_licence in declared(SNAPSHOT_MODELS, repo_id)  # the same licence
        assert model_relicensing(derivative) is None and relicensed_flag(derivative) is None


@needs_corpus
def test_a_stricter_licence_over_a_permissive_base_is_not_flagged():
    """../shared/corpus/huggingface/models/OpenLLM-France/Claire-7B-0.1/README.md: `license: cc-by-nc-sa-4.0`,
    `base_model: tiiuae/falcon-7b` (its card beside: `license: apache-2.0`)."""
    base = model(CORPUS, "tiiuae/falcon-7b")
    derivative = model(CORPUS, "OpenLLM-France/Claire-7B-0.1", "tiiuae/falcon-7b", base)
    assert "tiiuae/falcon-7b" in derivative.card.text
    [licence] = declared(CORPUS, "OpenLLM-France/Claire-7B-0.1")
    [(_, base_licence)] = model_chain(derivative)
    assert classify(base_licence).level == "open" and classify(licence).level == "closed"
    assert relicensed(licence, [("tiiuae/falcon-7b", base_licence)]) is None and model_relicensing(derivative) is None


@needs_corpus
def test_the_flag_names_both_licences_the_chain_and_the_line_of_the_declaration():
    """The deep assessment's path: the derivative loaded with its base chain (FlagAlpha/Llama2-Chinese-13b-Chat over
    the Llama 2 13B chat card, as in the first test); the flag quotes the card's own `license:` line."""
    derivative = flagalpha_over_llama2()
    flag = relicensed_flag(derivative)
    assert flag is not None and flag.severity == lineage_rules().severity_open  # an open id over a Llama base
    assert flag.relicensing.evidence["chain"] == [LLAMA2_HF]
    assert (flag.relicensing.licence, flag.relicensing.base_licence) == ("apache-2.0", "llama2")
    lines = derivative.card.text.splitlines()
    assert lines[flag.declaration.line_start - 1] == flag.claim == "license: apache-2.0"
    assert flag.base_level == "closed"


# -- the rules ----------------------------------------------------------------------------------------------------

RULES = lineage_rules().rules


@pytest.mark.parametrize("rule", RULES, ids=[r.rule_id for r in RULES])
def test_each_rule_flags_its_examples_and_keeps_the_allowed_ones(rule):
    for licence, base_licence in rule.flagged:
        found = relicensed(licence, [("org/base", base_licence)])
        assert found is not None and found.rule_id == rule.rule_id, (licence, base_licence)
        assert found.why == rule.found_in
    for licence, base_licence in rule.kept:
        assert relicensed(licence, [("org/base", base_licence)]) is None, (licence, base_licence)


@pytest.mark.parametrize("rule", RULES, ids=[r.rule_id for r in RULES])
def test_each_rule_keeps_its_base_licence_and_names_a_clause(rule):
    for _, base_licence in rule.flagged:
        assert relicensed(base_licence, [("org/base", base_licence)]) is None
    assert len(rule.found_in) > 40


def test_a_licence_carries_over_down_the_chain_past_an_unknown_or_relicensed_middle():
    chain = [("org/middle", None), ("org/merged", "apache-2.0"), ("meta-llama/root", "llama3.1")]
    found = relicensed("mit", chain)
    assert found is not None and found.base == "meta-llama/root" and found.chain == tuple(b for b, _ in chain)


def test_permissive_or_unknown_bases_and_unknown_derivative_licences_flag_nothing():
    assert relicensed("mit", [("org/base", "apache-2.0")]) is None
    assert relicensed("mit", [("org/base", "other")]) is None
    assert relicensed("mit", [("org/base", "some-custom-licence")]) is None
    assert relicensed(None, [("org/base", "llama3")]) is None
    assert relicensed("other", [("org/base", "llama3")]) is None
    assert relicensed("apache-2.0", []) is None


def test_declared_ids_read_a_list_and_the_licence_name_and_each_is_judged_against_the_chain():
    """(A model declaring several ids is flagged only when every one is disallowed: model_relicensing here, the
    tier-0 test of a dual licence in tests/test_tier0.py.)"""
    assert declared_ids({"license": ["apache-2.0", "Gemma"]}) == ["apache-2.0", "gemma"]
    assert declared_ids({"license": "other", "license_name": "llama3"}) == ["llama3"]
    chain = [("google/gemma-7b", "gemma")]
    assert relicensed("apache-2.0", chain) is not None and relicensed("gemma", chain) is None


# -- OpenMDW ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("licence_id", ["openmdw-1.0", "openmdw-1.1"])
def test_openmdw_is_a_permissive_open_licence_with_its_provenance(licence_id):
    from extractors.rules import hub_licences

    entry = hub_licences()[licence_id]
    assert entry.licence_class == "permissive"
    assert classify(licence_id).level == "open"
    reference = ROOT.parent.parent / "shared" / "reference" / "licences.csv"
    if reference.is_file():  # data/hub_licences.csv is derived from the reference table, provenance kept
        import csv

        rows = {r["id"]: r for r in csv.DictReader(reference.open(encoding="utf-8"))}
        ours = {r["id"]: r for r in csv.DictReader((ROOT / "data" / "hub_licences.csv").open(encoding="utf-8"))}
        assert ours[licence_id] == rows[licence_id] and ours[licence_id]["source"]


def test_a_derivative_under_openmdw_over_a_llama_base_is_relicensed():
    found = relicensed("openmdw-1.1", [("meta-llama/base", "llama3.2")])
    assert found is not None and found.rule_id == "lineage.llama-community"


# -- the store ------------------------------------------------------------------------------------------------------

@needs_corpus
def test_the_relicensed_flag_is_stored_beside_the_openwashing_flag_and_kept_while_unchanged(tmp_path):
    from crawler.assess import save_flag
    from crawler.relicensing import save_relicensed
    from crawler.store import open_db

    db = open_db(tmp_path / "store.db")
    subject = "hf:model:FlagAlpha/Llama2-Chinese-13b-Chat"
    db["subjects"].insert({"id": subject, "kind": "model", "repo_id": "FlagAlpha/Llama2-Chinese-13b-Chat"},
                          alter=True)
    flag = relicensed_flag(flagalpha_over_llama2())
    with db.conn:
        save_relicensed(db, subject, flag, [], "abc")
        save_flag(db, subject, None)  # the openwashing flag's bookkeeping leaves the relicensed one alone
    [row] = db.query("select * from flags where subject_id = ?", [subject])
    assert row["kind"] == "relicensed" and row["severity"] == flag.severity and row["claim"] == flag.claim
    evidence = json.loads(row["evidence"])
    assert (evidence["licence"], evidence["base_licence"]) == ("apache-2.0", "llama2")
    assert evidence["chain"] == [LLAMA2_HF] and evidence["rule_id"] == row["rule_ids"]
    assert row["failing_criteria"] == "licenses=closed"
    with db.conn:
        save_relicensed(db, subject, flag, [], "abc")  # judged again, the same: the same row
    assert [r["id"] for r in db.query("select id from flags where subject_id = ?", [subject])] == [row["id"]]
    with db.conn:
        save_relicensed(db, subject, None)
    assert db.execute("select count(*) from flags where subject_id = ?", [subject]).fetchone()[0] == 0


@needs_corpus
def test_the_judge_returns_the_relicensed_flag_of_a_deep_assessed_model():
    from crawler.assess import Judged, judge

    judged = judge((flagalpha_over_llama2(), None))
    assert isinstance(judged, Judged)
    assert judged.relicensed is not None and judged.relicensed.relicensing.base_licence == "llama2"


@needs_corpus
def test_the_flags_command_lists_a_relicensed_flag_with_both_licences_and_the_chain(demo_copy):
    from conftest import run_openness
    from crawler.relicensing import save_relicensed
    from crawler.store import open_db

    db = open_db(demo_copy)
    subject = "hf:model:FlagAlpha/Llama2-Chinese-13b-Chat"  # the real card's flag, stored as the assessment does
    db["subjects"].insert({"id": subject, "kind": "model", "repo_id": "FlagAlpha/Llama2-Chinese-13b-Chat"},
                          alter=True)
    with db.conn:
        save_relicensed(db, subject, relicensed_flag(flagalpha_over_llama2()), [], None)
    db.conn.close()
    [row] = json.loads(run_openness("flags", "--db", str(demo_copy), "--kind", "relicensed", "--json").stdout)
    assert row["model"] == "FlagAlpha/Llama2-Chinese-13b-Chat" and row["kind"] == "relicensed"
    assert row["evidence"]["chain"] == [LLAMA2_HF] and row["failing_criteria"] == "licenses=closed"
    text = " ".join(run_openness("flags", "--db", str(demo_copy), "--kind", "relicensed").stdout.split())
    assert f"declares apache-2.0 over {LLAMA2_HF}, under llama2" in text and "lineage.llama-community" in text
