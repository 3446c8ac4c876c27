"""Extractors on real snippets from the bundled snapshot: each rule fires on its own evidence."""

from __future__ import annotations

import json

import pytest

from conftest import SNAPSHOT
from crawler.store import inflate
from extractors import assess_model
from extractors.availability import judge_end_model_weights, weight_file_matches
from extractors.documentation import judge_model_card
from extractors.licences import judge_licences
from extractors.rules import card_section_rules, hub_licences, licence_class_levels, weight_rules
from extractors.text import lines_of
from extractors.types import Artifact, Failure, ModelArtifacts

MODELS = SNAPSHOT / "huggingface" / "models"


def card_of(repo_id: str) -> Artifact:
    text = (MODELS / repo_id / "README.md").read_text(encoding="utf-8")
    return Artifact(f"card-{repo_id}", "card", f"http://hub/{repo_id}/resolve/abc/README.md", "abc", "README.md", text)


def tree_of(repo_id: str) -> Artifact:
    rows = (MODELS / repo_id / "files.tsv").read_text(encoding="utf-8").splitlines()[1:]
    entries = [{"type": "file", "path": r.split("\t")[0], "size": int(r.split("\t")[1])} for r in rows]
    return Artifact(f"tree-{repo_id}", "tree", f"http://hub/api/models/{repo_id}/tree/abc", "abc", "page-0",
                    json.dumps(entries))


def model_json(repo_id: str, **fields) -> Artifact:
    return Artifact(f"json-{repo_id}", "model_json", f"http://hub/api/models/{repo_id}", "abc", None,
                    json.dumps({"id": repo_id, "sha": "abc", **fields}))


def artifacts(repo_id: str, card=True, tree=True, failures=None, **json_fields) -> ModelArtifacts:
    return ModelArtifacts(repo_id, "abc", f"http://hub/{repo_id}", model_json(repo_id, **json_fields),
                          card_of(repo_id) if card else None, (tree_of(repo_id),) if tree else (),
                          failures=failures or {})


def test_weights_open_when_files_listed_and_not_gated():
    judgement = judge_end_model_weights(artifacts("Qwen/Qwen2.5-32B", gated=False))
    assert judgement.level == "open"
    assert judgement.evidence[0].file.endswith(".safetensors")
    assert judgement.evidence[0].revision == "abc"


def test_gated_weights_are_partial_with_the_gating_quoted():
    judgement = judge_end_model_weights(artifacts("meta-llama/Meta-Llama-3-8B", gated="manual"))
    assert judgement.level == "partial"
    quotes = [e.snippet for e in judgement.evidence if e.rule_id == "weights.gated"]
    assert '"gated": "manual"' in quotes and any(q.startswith("extra_gated") for q in quotes)


def test_no_weight_files_is_closed_and_says_what_was_searched():
    repo = "Qwen/Qwen2.5-32B"
    entries = [{"type": "file", "path": "README.md", "size": 10}, {"type": "file", "path": "training_args.bin"}]
    tree = Artifact("t", "tree", "http://hub/tree", "abc", "page-0", json.dumps(entries))
    model = ModelArtifacts(repo, "abc", "http://hub/x", model_json(repo), card_of(repo), (tree,))
    judgement = judge_end_model_weights(model)
    assert judgement.level == "closed"
    assert "searched 2 files" in judgement.evidence[0].snippet


def test_unfetched_tree_is_unknown_and_names_the_failed_url():
    failure = Failure("http://hub/api/models/x/tree/abc", "HTTP 501 NotCaptured")
    judgement = judge_end_model_weights(artifacts("Qwen/Qwen2.5-32B", tree=False, failures={"tree": failure}))
    assert judgement.level == "unknown"
    assert judgement.evidence[0].url == failure.url and "501" in judgement.evidence[0].snippet
    assert judgement.evidence[1].artifact_id == "json-Qwen/Qwen2.5-32B"


@pytest.mark.parametrize("name, is_weight", [
    ("model-00001-of-00004.safetensors", True), ("pytorch_model.bin", True), ("llama-2-7b.Q4_K_M.gguf", True),
    ("consolidated.00.pth", True), ("flax_model.msgpack", True), ("tf_model.h5", True), ("model.onnx", True),
    ("sd-v1-4.ckpt", True), ("training_args.bin", False), ("tokenizer.model", False), ("config.json", False),
    ("optimizer.pt", False),
])
def test_weight_file_rules(name, is_weight):
    assert bool(weight_file_matches([f"sub/{name}"])) is is_weight


def test_every_weight_rule_matches_its_own_glob():
    for rule in weight_rules().rules:
        example = rule.glob.replace("*", "example")
        assert weight_file_matches([example])[0][1] == rule.rule_id


def test_rich_card_is_open_with_topic_lines_as_evidence():
    judgement = judge_model_card(artifacts("bigscience/bloom", tree=False))
    assert judgement.level == "open"
    topics = {e.rule_id for e in judgement.evidence}
    assert {"modelcard.topic.training", "modelcard.topic.evaluation"} <= topics
    line = next(e for e in judgement.evidence if e.rule_id == "modelcard.topic.training")
    lines = lines_of(card_of("bigscience/bloom").text)
    assert line.snippet[:40] in " ".join(lines[line.line_start - 1].split()).replace("*", "")


def test_thin_card_is_closed():
    text = "---\nlicense: mit\n---\nSee our blog post: https://example.org/blog\n"
    card = Artifact("c", "card", "http://hub/x/resolve/abc/README.md", "abc", "README.md", text)
    model = ModelArtifacts("x/y", "abc", "http://hub/x/y", model_json("x/y"), card)
    judgement = judge_model_card(model)
    assert judgement.level == "closed" and judgement.evidence[-1].snippet.startswith("See our blog post")


def test_every_card_topic_pattern_matches_a_heading_of_its_topic():
    from extractors.cards import card_topics

    for topic, patterns in card_section_rules().topics.items():
        heading = {"architecture": "Model Details", "training": "Training Details", "finetuning": "Fine-tuning",
                   "data": "Training Data", "evaluation": "Evaluation", "uses": "Intended Use",
                   "limitations": "Bias, Risks, and Limitations", "hardware": "Compute Infrastructure",
                   "citation": "Citation", "data_creation": "Dataset Creation"}[topic]
        assert topic in card_topics(f"# {heading}\n", 0)


def test_open_licence_id_is_open_with_the_line_quoted():
    judgement = judge_licences(artifacts("Qwen/Qwen2.5-32B"))
    assert judgement.level == "open"
    first = judgement.evidence[0]
    assert first.snippet == "license: apache-2.0"
    assert lines_of(card_of("Qwen/Qwen2.5-32B").text)[first.line_start - 1].startswith("license: apache-2.0")


def test_custom_llama_licence_is_closed():
    judgement = judge_licences(artifacts("meta-llama/Meta-Llama-3-8B"))
    assert judgement.level == "closed"
    deciding = next(e for e in judgement.evidence if e.rule_id == "licence.index.hub-table.closed")
    assert "proprietary-community" in deciding.snippet


def test_rail_licence_is_not_open():
    assert judge_licences(artifacts("bigscience/bloom")).level == "closed"


def test_hostile_yaml_front_matter_is_recorded_not_raised():
    text = "---\nlicense: &a [*a, *a\n  bad: : :\n---\n# Model\n"
    card = Artifact("c", "card", "http://hub/x/resolve/abc/README.md", "abc", "README.md", text)
    model = ModelArtifacts("x/y", "abc", "http://hub/x/y", model_json("x/y"), card)
    judgements = assess_model(model)
    licence = next(j for j in judgements if j.criterion == "licenses")
    # The metadata that declares the licence could not be read: undecided, with the reason, never `closed`.
    assert licence.level == "unknown" and "licence.card.unreadable" in licence.rule_ids
    assert "could not be read" in licence.summary


def test_every_licence_class_has_a_level():
    levels = licence_class_levels()
    assert {lic.licence_class for lic in hub_licences().values()} <= set(levels)
    assert levels["permissive"] == "open" and levels["proprietary-community"] == "closed"
    assert levels["rail-use-restricted"] == "closed"


def test_same_artifacts_same_judgements():
    model = artifacts("meta-llama/Meta-Llama-3-8B", gated="manual")
    assert assess_model(model) == assess_model(model)


@pytest.fixture
def rules_dir(tmp_path, monkeypatch):
    """A writable copy of data/rules, with the loaders' caches cleared around the test."""
    import shutil

    from extractors import rules

    target = tmp_path / "rules"
    shutil.copytree(rules.RULES_DIR, target)
    monkeypatch.setattr(rules, "RULES_DIR", target)
    for loader in (rules.weight_rules, rules.card_section_rules, rules.licence_class_levels):
        loader.cache_clear()
    yield target
    for loader in (rules.weight_rules, rules.card_section_rules, rules.licence_class_levels):
        loader.cache_clear()


def test_broken_rule_file_names_the_file_and_line(rules_dir):
    from extractors.rules import RuleFileError

    (rules_dir / "weight_files.yaml").write_text("rules:\n  - id: x\n    glob: [unclosed\n")
    with pytest.raises(RuleFileError, match=r"weight_files\.yaml:\d+: not valid YAML"):
        weight_rules()


def test_rule_missing_a_field_is_refused(rules_dir):
    from extractors.rules import RuleFileError

    (rules_dir / "weight_files.yaml").write_text("rules:\n  - id: weights.x\n    glob: '*.x'\n")
    with pytest.raises(RuleFileError, match=r"weight_files\.yaml: rule #1 needs id, glob and what"):
        weight_rules()


def test_bad_card_pattern_is_refused(rules_dir):
    from extractors.rules import RuleFileError

    text = (rules_dir / "card_sections.yaml").read_text().replace('"architecture"', '"architecture("', 1)
    (rules_dir / "card_sections.yaml").write_text(text)
    with pytest.raises(RuleFileError, match=r"card_sections\.yaml: topic 'architecture': bad pattern"):
        card_section_rules()


def test_unmapped_licence_class_is_refused(rules_dir):
    from extractors.rules import RuleFileError

    text = (rules_dir / "licence_classes.yaml").read_text().replace("  research-only: closed\n", "")
    (rules_dir / "licence_classes.yaml").write_text(text)
    with pytest.raises(RuleFileError, match="research-only"):
        licence_class_levels()


def test_every_loader_rule_matches_its_real_example():
    for rule in weight_rules().loaders:
        assert rule.pattern.search(rule.example), rule.rule_id


def test_a_card_loading_this_repo_shows_its_weights_where_no_file_list_was_captured():
    from extractors.types import Source

    repo = "HuggingFaceH4/zephyr-7b-beta"  # card captured, file list not: the card's pipeline names the repo
    model = ModelArtifacts(repo, "abc", f"http://hub/{repo}", model_json(repo), card_of(repo), (),
                           sources=(Source("card", "read", "http://hub/card"), Source("tree", "not captured", "t")))
    judgement = judge_end_model_weights(model)
    assert judgement.level == "open" and judgement.evidence[0].rule_id.startswith("weights.loader.")
    line = lines_of(card_of(repo).text)[judgement.evidence[0].line_start - 1]
    assert repo in line and judgement.evidence[0].snippet == " ".join(line.split())


def test_a_snippet_naming_another_repo_proves_nothing_about_this_one():
    card = card_of("HuggingFaceH4/zephyr-7b-beta")
    other = "HuggingFaceH4/zephyr-7b-alpha"  # a sibling the card does not load
    model = ModelArtifacts(other, "abc", f"http://hub/{other}", model_json(other), card, ())
    assert judge_end_model_weights(model).level == "unknown"


def test_every_card_content_rule_matches_its_real_example():
    from extractors.rules import card_content_rules

    for rule in card_content_rules().all_rules():
        assert rule.pattern.search(rule.example), rule.rule_id


def test_card_read_by_substance_usage_sections_and_fenced_code_do_not_count():
    from extractors.cards import read_card

    usage = "---\nlicense: mit\n---\n# Quick start\n\n" + "We train with a batch size of 8 on 64 GPUs. " * 40 + \
        "\n\n```python\n# Training details\nmodel.train()\n```\n"
    card = Artifact("c", "card", "http://hub/x/resolve/abc/README.md", "abc", "README.md", usage)
    reading = read_card(card)
    assert reading.words == 0 and not reading.topics and not reading.hardware
    rich = read_card(card_of("HuggingFaceH4/zephyr-7b-beta"))
    assert {"architecture", "training", "finetuning", "evaluation"} <= set(rich.topics)
    assert judge_model_card(artifacts("HuggingFaceH4/zephyr-7b-beta", tree=False)).level in ("partial", "open")


def test_hardware_architecture_needs_the_training_hardware():
    from extractors.documentation import judge_hardware_architecture

    judged = judge_hardware_architecture(artifacts("togethercomputer/Pythia-Chat-Base-7B", tree=False))
    assert judged.level in ("partial", "open") and judged.evidence[0].rule_id == "architecture.training-hardware"
    assert "A100" in judged.evidence[0].snippet
    text = "---\nlicense: mit\n---\n# Model\n\nA decoder with 32 layers. We recommend 2 x A100 GPUs to run it.\n"
    card = Artifact("c", "card", "http://hub/x/resolve/abc/README.md", "abc", "README.md", text)
    model = ModelArtifacts("x/y", "abc", "http://hub/x/y", model_json("x/y"), card)
    assert judge_hardware_architecture(model).level == "closed"  # hardware to run it is not the training setup


def test_a_gate_that_only_shows_a_notice_is_not_a_restriction_one_that_asks_is():
    derived = {"gated": "manual", "_replica": {"derived_fields": ["gated"]}}
    notice = artifacts("mistralai/Mistral-7B-v0.1", **derived)  # extra_gated_description only
    assert judge_end_model_weights(notice).level == "open"
    asks = artifacts("meta-llama/Meta-Llama-3.1-405B", **derived)  # extra_gated_prompt and fields
    assert judge_end_model_weights(asks).level == "partial"
    manual = artifacts("mistralai/Mistral-7B-v0.1", gated="manual")  # the Hub's own word: approval by hand
    assert judge_end_model_weights(manual).level == "partial"


def test_delta_weights_are_partial():
    from extractors.rules import weight_rules

    for rule in weight_rules().delta_weights:
        assert rule.pattern.search(rule.example)
    judged = judge_end_model_weights(artifacts("WizardLM/WizardLM-7B-V1.0", tree=False))
    assert judged.level == "partial" and judged.evidence[0].rule_id == "weights.delta-only"


def test_a_download_table_linking_this_repo_shows_its_weights():
    from extractors.availability import download_link

    repo = "deepseek-ai/DeepSeek-Coder-V2-Instruct-0724"  # "## 2. Model Downloads" table, no file list captured
    model = ModelArtifacts(repo, "abc", f"http://hub/{repo}", model_json(repo), card_of(repo), ())
    evidence = download_link(model)
    assert evidence is not None and repo in lines_of(card_of(repo).text)[evidence.line_start - 1]
    assert judge_end_model_weights(model).level == "open"
    other = ModelArtifacts("deepseek-ai/DeepSeek-V3", "abc", "http://hub", model_json("x/y"), card_of(repo), ())
    assert download_link(other) is None  # the table links another repo's page: nothing about this one


def test_a_line_separator_inside_a_line_does_not_shift_cited_lines():
    from extractors.claims import text_claims

    text = "---\nlicense: mit\n---\n# Model\n\nSome text\u2028with a separator.\n\nWe release an open-source model.\n"
    card = Artifact("c", "card", "http://hub/x/resolve/abc/README.md", "abc", "README.md", text)
    claim = text_claims(ModelArtifacts("x/y", "abc", "http://hub/x/y", model_json("x/y"), card))[0]
    assert text.split("\n")[claim.line - 1] == "We release an open-source model."


def test_inline_html_is_read_for_its_links_and_text_without_parsing_every_tag():
    """A table row of a real card with an inline `<a href>`: the link is found with its row's line, the row's text
    keeps the link text and loses the tags; and on every inline HTML token of the snapshot's cards, the shortcut
    reads what a full HTML parse reads."""
    from markdown_it import MarkdownIt

    from extractors.markdown import _html_text, _inline_html, parse

    text = (MODELS / "WizardLM" / "WizardLM-7B-V1.0" / "README.md").read_text(encoding="utf-8")
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "WizardCoder-Python-34B-V1.0" in row)
    doc = parse(text)
    row = next(b for b in doc.blocks if b.kind == "table" and b.line_start == line)
    assert "HF Link" in row.text and "<a" not in row.text and "target=" not in row.text
    assert (line, "https://huggingface.co/WizardLM/WizardCoder-Python-34B-V1.0", "", line) in doc.links
    tags = {child.content for card in MODELS.glob("*/*/README.md")
            for token in MarkdownIt("commonmark").enable("table").parse(card.read_text(encoding="utf-8"))
            for child in token.children or [] if child.type == "html_inline"}
    assert len(tags) > 50 and any(t.lower().startswith("<a ") for t in tags)
    assert {t: _inline_html(t) for t in tags} == {t: _html_text(t) for t in tags}


def test_weight_file_rules_match_each_name_as_fnmatch_does_glob_by_glob(demo_db):
    """`WeightRules.rule_of` tests a name against all globs at once; it must give what fnmatch gives taking the
    globs one at a time: no rule for a name a `not_weights` glob matches, else the first rule in order."""
    import sqlite3
    from fnmatch import fnmatch

    rules = weight_rules()
    names = {"", "model.safetensors\nx", "ggml-model-q4_0.bin", "optimizer.pt", "rng_state_7.pth", "tokenizer.bin",
             "weights.mlpackage", "a.bin.json", "model-00001-of-00002.safetensors"}
    con = sqlite3.connect(demo_db)
    for content, encoding in con.execute("select b.content, b.encoding from artifacts a join blobs b on "
                                         "b.sha256 = a.content_sha256 where a.kind = 'tree'"):
        entries = json.loads(inflate(content, encoding))  # texts are stored compressed (m018)
        names |= {e["path"].rsplit("/", 1)[-1].lower() for e in entries if isinstance(e, dict) and "path" in e}
    assert len(names) > 300
    for name in names:
        skipped = any(fnmatch(name, glob) for glob in rules.not_weights)
        expected = None if skipped else next((r for r in rules.rules if fnmatch(name, r.glob)), None)
        assert rules.rule_of(name) == expected, name
