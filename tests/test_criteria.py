"""The criteria beyond weights, card and licence: each rule file's entries and each judge on real snippets."""

from __future__ import annotations

import json
from dataclasses import replace
from fnmatch import fnmatch

import pytest

from extractors import CRITERIA, assess_model
from extractors.access import judge_api, judge_package
from extractors.availability import judge_base_model_weights, judge_end_model_data, judge_training_code
from extractors.documentation import judge_datasheet, judge_paper, judge_preprint
from extractors.rules import code_file_rules, venue_rules
from extractors.types import Artifact, LinkedDataset, ModelArtifacts
from conftest import ROOT
from test_extractors import MODELS, artifacts, model_json

GROUPS = code_file_rules()


@pytest.mark.parametrize("group", ["pretraining", "finetuning", "inference", "docs", "training_docs"])
def test_every_code_file_example_matches_its_group(group):
    for example in GROUPS[group].examples:
        assert any(fnmatch(example.lower(), g) for g in GROUPS[group].globs), (group, example)


def test_inference_examples_are_not_taken_for_training_code():
    for example in [*GROUPS["inference"].examples, "llama/tokenizer.py", "llama/model.py"]:
        for group in ("pretraining", "finetuning"):
            assert not any(fnmatch(example.lower(), g) for g in GROUPS[group].globs), example


@pytest.mark.parametrize("group", ["venues", "preprints", "reports", "own_paper", "component_paper",
                                   "citation_headings", "accepted"])
def test_every_venue_and_preprint_rule_matches_its_example(group):
    for rule in venue_rules()[group]:
        assert rule.pattern.search(rule.example), rule.example


def tree(paths: list[str]) -> Artifact:
    body = json.dumps({"tree": [{"path": p, "type": "blob"} for p in paths]})
    return Artifact("t", "tree", "http://api/repos/o/r/git/trees/h?recursive=1", "h", "tree:", body, "o/r")


def test_training_code_graded_by_scope():
    base = artifacts("Qwen/Qwen2.5-32B")

    def level(paths):
        return judge_training_code(ModelArtifacts(**{**base.__dict__, "code_trees": (tree(paths),)})).level

    # Real paths of the captured GitHub trees (data/snapshot/github/*/tree.txt).
    assert level(["README.md", "configs/instella-3b-pretrain-stage1.yaml", "scripts/dpo_tune.py"]) == "open"
    assert level(["README.md", "finetune/scripts/run_sft_Yi_6b.sh", "finetune/utils/module/lora.py",
                  "finetune/README.md"]) == "partial"
    assert level(["VL/single_inference.py", "demo/web_demo.py"]) == "closed"
    assert level(["README.md", "finetune/README.md", "figures/train_loss.png"]) == "closed"  # no code at all
    assert level(["tests/test_train.py", "src/model.py"]) == "closed"  # a test of training is not training code
    judgement = judge_training_code(base)
    assert judgement.level == "closed" and judgement.evidence[0].snippet.startswith("searched")


def test_data_open_when_all_named_datasets_are_on_the_hub_partial_when_some_are():
    base = artifacts("Qwen/Qwen2.5-32B")
    ok = LinkedDataset("a/ok", "ok", "http://hub/datasets/a/ok")
    gone = LinkedDataset("a/gone", "missing", "http://hub/datasets/a/gone")
    assert judge_end_model_data(ModelArtifacts(**{**base.__dict__, "datasets": (ok,)})).level == "open"
    assert judge_end_model_data(ModelArtifacts(**{**base.__dict__, "datasets": (ok, gone)})).level == "partial"


def test_data_only_described_is_closed_with_the_section_quoted():
    judgement = judge_end_model_data(artifacts("meta-llama/Meta-Llama-3-8B"))
    assert judgement.level == "closed" and judgement.evidence[0].rule_id == "data.described-only"


def test_base_model_criteria_mirror_a_model_without_base_and_follow_a_named_one():
    lone = artifacts("Qwen/Qwen2.5-32B")
    assert judge_base_model_weights(lone).summary.startswith("no separate base model")
    base = artifacts("Qwen/Qwen2.5-32B", gated="manual")
    child = ModelArtifacts(**{**artifacts("meta-llama/Meta-Llama-3-8B").__dict__, "base_model": "Qwen/Qwen2.5-32B",
                              "base": base})
    judgement = judge_base_model_weights(child)
    assert judgement.level == "partial" and judgement.summary.startswith("base model Qwen/Qwen2.5-32B")
    missing = ModelArtifacts(**{**child.__dict__, "base": None})
    assert judge_base_model_weights(missing).level == "unknown"


def test_a_preprint_is_the_models_own_only_when_presented_so():
    # Real cards: a technical report claimed in words; a method paper linked as related work.
    own = judge_preprint(artifacts("HuggingFaceH4/zephyr-7b-beta", tree=False))
    assert own.level == "open" and own.evidence[0].rule_id == "preprint.own"
    related = judge_preprint(artifacts("mosaicml/mpt-7b-instruct", tree=False))
    assert related.level == "closed" and "related work" in related.summary
    field = judge_preprint(artifacts("stabilityai/stable-audio-open-1.0", tree=False))  # "**Research Paper**: url"
    assert field.level == "open" and field.evidence[0].line_start == 139


def test_a_report_of_the_models_own_on_no_preprint_server_is_a_partial_preprint():
    # The real card links "[Phi-3 Technical Report](https://aka.ms/phi3-tech-report)", on no archive.
    report = judge_preprint(artifacts("microsoft/Phi-3-mini-128k-instruct", tree=False))
    assert report.level == "partial" and report.evidence[0].rule_id == "preprint.unarchived-report"
    assert "aka.ms/phi3-tech-report" in report.evidence[0].snippet
    # A code repo named for a report is not one.
    text = ("---\nlicense: mit\n---\n# Model\n\nA [fixed snapshot of the code used for the technical report]"
            "(https://github.com/NVIDIA/Megatron-LM/tree/ssm/examples/mamba).\n")
    card = Artifact("c", "card", "http://hub/x/resolve/abc/README.md", "abc", "README.md", text)
    assert judge_preprint(ModelArtifacts("x/y", "abc", "http://hub/x/y", model_json("x/y"), card)).level == "closed"


def test_acceptance_at_a_venue_in_the_citation_makes_a_peer_reviewed_paper():
    from extractors.documentation import paper_mentions

    text = ("---\nlicense: mit\n---\n# Model\n\nIt uses [FlashAttention](https://proceedings.mlr.press/v1/x.html)."
            "\n\n## Citation\n\n```bibtex\n@inproceedings{x,\n  booktitle = {Proceedings of the IEEE/CVF Conference"
            " on Computer Vision},\n}\n```\n")
    card = Artifact("c", "card", "http://hub/x/resolve/abc/README.md", "abc", "README.md", text)
    model = ModelArtifacts("x/y", "abc", "http://hub/x/y", model_json("x/y"), card)
    assert [m.presented for m in paper_mentions(model, "venues")] == ["related", "own"]
    judged = judge_paper(model)
    assert judged.level == "open" and judged.evidence[0].line_start == 12  # the booktitle line


def test_preprint_and_paper_from_the_card():
    mistral = artifacts("mistralai/Mistral-7B-v0.1")  # links arxiv.org/abs/2310.06825
    preprint = judge_preprint(mistral)
    assert preprint.level == "open" and "2310.06825" in preprint.evidence[0].snippet
    assert judge_paper(mistral).level == "closed"


def test_datasheet_from_the_named_datasets_cards():
    from conftest import SNAPSHOT

    text = (SNAPSHOT / "huggingface/datasets/bigscience/xP3/README.md").read_text(encoding="utf-8")
    card = Artifact("d", "card", "http://hub/datasets/bigscience/xP3/resolve/r/README.md", "r", "README.md", text)
    base = artifacts("Qwen/Qwen2.5-32B")
    named = ModelArtifacts(**{**base.__dict__, "datasets": (
        LinkedDataset("bigscience/xP3", "ok", "http://hub/datasets/bigscience/xP3", card),)})
    judgement = judge_datasheet(named)
    assert judgement.level == "open" and judgement.evidence[0].rule_id == "datasheet.dataset-card"
    assert judge_datasheet(base).level == "closed"
    bare = Artifact("d2", "card", "http://hub/datasets/o/d/resolve/r/README.md", "r", "README.md", "# Data\n\nRows.\n")
    undocumented = ModelArtifacts(**{**base.__dict__, "datasets": (
        LinkedDataset("o/d", "ok", "http://hub/datasets/o/d", bare),)})
    assert judge_datasheet(undocumented).level == "closed"  # a dataset card that documents no collection
    # A dataset id the Hub does not hold (a legacy name, `mc4`) has no card to judge: it is not counted.
    legacy = ModelArtifacts(**{**named.__dict__, "datasets": (
        *named.datasets, LinkedDataset("mc4", "missing", "http://hub/datasets/mc4"))})
    assert judge_datasheet(legacy).level == "open"


def test_a_public_training_data_summary_is_an_open_datasheet():
    from extractors.rules import card_content_rules

    rules = card_content_rules()
    assert rules.training_data_summary.search(rules.training_data_summary_example)
    judged = judge_datasheet(artifacts("HuggingFaceTB/SmolLM3-3B", tree=False))
    # The index's datasheet question accepts the EU AI Act's summary (Art. 53(1)(d)) in place of datasheets.
    assert judged.level == "open" and judged.evidence[-1].rule_id == "datasheet.training-data-summary"


def test_package_and_api():
    from conftest import SNAPSHOT

    pyproject = (SNAPSHOT / "github/meta-llama/llama-models/files/pyproject.toml").read_text(encoding="utf-8")
    facts = Artifact("p", "file", "http://api/contents/pyproject.toml", "h", "pyproject.toml", pyproject, "o/r")
    base = artifacts("Qwen/Qwen2.5-32B")
    judged = judge_package(ModelArtifacts(**{**base.__dict__, "code_files": (facts,)}))
    assert judged.level == "open" and judged.evidence[0].rule_id == "package.versioned"
    assert judge_package(base).level in ("partial", "closed")
    assert judge_api(base).level in ("partial", "closed")


def test_every_package_rule_matches_its_real_example():
    from extractors.rules import package_rules

    for rule in package_rules().install:
        assert rule.pattern.search(rule.example), rule.rule_id


def test_an_install_line_counts_for_the_models_own_package_never_for_a_dependency():
    from extractors.access import install_lines

    card = ("---\nlicense: mit\n---\n# Use\n\n```\npip install transformers accelerate\n```\n\n"
            "```\npip install deepfloyd_if==1.0.2rc0\n```\n")
    model = ModelArtifacts("DeepFloyd/IF-I-XL-v1.0", "abc", "http://hub", model_json("DeepFloyd/IF-I-XL-v1.0"),
                           Artifact("c", "card", "http://hub/c", "abc", "README.md", card))
    assert [e.snippet for e in install_lines(model, [])] == ["pip install deepfloyd_if==1.0.2rc0"]
    assert judge_package(model).level == "open"


def test_a_quoted_install_line_with_extras_counts_for_the_models_own_package():
    from extractors.access import install_lines

    card = '---\nlicense: cc-by-sa-4.0\n---\n# Use\n\n`pip install "sqlcoder[transformers]"`\n'
    model = ModelArtifacts("defog/sqlcoder-7b-2", "abc", "http://hub", model_json("defog/sqlcoder-7b-2"),
                           Artifact("c", "card", "http://hub/c", "abc", "README.md", card))
    assert [e.rule_id for e in install_lines(model, [])] == ["package.pip-install"]
    assert judge_package(model).level == "open"


def test_a_hub_model_whose_card_declares_its_library_is_a_package_unless_it_has_code_of_its_own():
    repo = "google/gemma-7b"  # its card's front matter: library_name: transformers, on line 2
    judged = judge_package(artifacts(repo, tree=False, library_name="transformers"))
    assert judged.level == "open" and judged.evidence[0].rule_id == "package.card-library"
    assert (judged.evidence[0].snippet, judged.evidence[0].line_start) == ("library_name: transformers", 2)
    inferred = judge_package(artifacts(repo, card=False, tree=False, library_name="transformers"))
    assert inferred.level == "partial" and inferred.evidence[0].rule_id == "package.library"  # the Hub's guess
    readme = Artifact("r", "readme", "http://api/readme", "h", "README.md", "# Code\n\nTraining scripts.\n", "o/r")
    tree = Artifact("t", "tree", "http://api/tree", "h", None, "[]", "o/r")
    with_code = ModelArtifacts(**{**artifacts(repo, tree=False, library_name="transformers").__dict__,
                                  "code_files": (readme,), "code_trees": (tree,)})
    assert judge_package(with_code).level == "closed"  # its own code, and no package of it


def test_every_criterion_is_judged_with_evidence_and_deterministically():
    model = artifacts("meta-llama/Meta-Llama-3-8B", gated="manual")
    first, second = assess_model(model), assess_model(model)
    assert [j.criterion for j in first] == list(CRITERIA) and len(CRITERIA) == 14
    assert all(j.evidence for j in first)
    assert first == second


def test_a_card_that_only_points_to_a_blog_post_is_a_closed_model_card():
    from extractors.documentation import judge_model_card

    text = "---\nlicense: apache-2.0\n---\nRead about this model in our blog post: https://example.org/blog/model\n"
    card = Artifact("c", "card", "http://hub/x/y/resolve/r/README.md", "r", "README.md", text)
    assert judge_model_card(ModelArtifacts("x/y", "r", "http://hub/x/y", model_json("x/y"), card)).level == "closed"


def test_datasets_linked_in_the_card_text_are_named_training_data_benchmarks_are_not():
    from extractors.cards import text_datasets

    model = artifacts("Intel/neural-chat-7b-v3-3", tree=False)  # no `datasets:` metadata; the text links two
    named = [d.repo_id for d, _, _, _ in text_datasets(model)]
    assert named[:2] == ["meta-math/MetaMathQA", "Intel/orca_dpo_pairs"]
    # Tuned from neural-chat-7b-v3-1, an intermediate tuned model whose own data (Open-Orca/SlimOrca) is linked too.
    intermediate = replace(artifacts("Intel/neural-chat-7b-v3-1", tree=False), base_model="mistralai/Mistral-7B-v0.1")
    judged = judge_end_model_data(replace(model, base_model="Intel/neural-chat-7b-v3-1", base=intermediate))
    assert judged.level == "open" and judged.evidence[0].rule_id == "data.card-text-link"
    assert judged.evidence[0].line_start == 147
    text = ("---\nlicense: mit\n---\n# Evaluation\n\nScores on [MMLU](https://huggingface.co/datasets/cais/mmlu).\n")
    card = Artifact("c", "card", "http://hub/x/resolve/abc/README.md", "abc", "README.md", text)
    assert text_datasets(ModelArtifacts("x/y", "abc", "http://hub/x/y", model_json("x/y"), card)) == []


def test_base_model_criteria_follow_the_chain_to_the_root_and_never_mirror_a_fine_tune():
    from extractors.availability import judge_base_model_data
    from extractors.cards import base_named_in_text
    from extractors.rules import card_content_rules

    rules = card_content_rules()
    assert rules.base_model_sentence.search(rules.base_model_example)
    # Real sentences that name a base (SDXL-Lightning, mpt-7b-instruct, Orca 2, WizardLM 13B, Stable Beluga 2) and
    # ones that name data or nothing.
    for sentence in ("Our models are distilled from [stabilityai/stable-diffusion-xl-base-1.0](https://huggingface.co/",
                     "It is built by finetuning [MPT-7B](https://huggingface.co/spaces/mosaicml/mpt-7b)",
                     "Orca 2 is a finetuned version of LLAMA-2.",
                     "This is the **Full-Weight** of WizardLM-13B V1.2 model, this model is trained from "
                     "**Llama-2 13b**.",
                     "Stable Beluga 2 is a Llama2 70B model finetuned on an Orca style Dataset"):
        assert rules.base_model_sentence.search(sentence), sentence
    for sentence in ("And supervised finetuned on 1.1M samples(2:1 ratio between music scores",
                     "trained from scratch by [01.AI](https://01.ai/)."):
        assert not rules.base_model_sentence.search(sentence), sentence
    root = artifacts("mistralai/Mistral-7B-v0.1", tree=False)
    middle = ModelArtifacts(**{**artifacts("Intel/neural-chat-7b-v3-1", tree=False).__dict__,
                               "base_model": "mistralai/Mistral-7B-v0.1", "base": root})
    top = ModelArtifacts(**{**artifacts("Intel/neural-chat-7b-v3-3", tree=False).__dict__,
                            "base_model": "Intel/neural-chat-7b-v3-1", "base": middle})
    judged = judge_base_model_data(top)
    assert judged.summary.startswith("base model Intel/neural-chat-7b-v3-1 -> mistralai/Mistral-7B-v0.1:")
    assert judged.evidence == judge_base_model_data(root).evidence  # judged on the root, not the middle
    # A card that says it was fine-tuned from a Hub model, without `base_model` metadata: not its own base.
    text = ("---\nlicense: mit\n---\n# Model\n\nA fine-tuned version of [mistralai/Mistral-7B-v0.1]"
            "(https://huggingface.co/mistralai/Mistral-7B-v0.1) on chat data.\n")
    card = Artifact("c", "card", "http://hub/x/resolve/abc/README.md", "abc", "README.md", text)
    model = ModelArtifacts("x/y", "abc", "http://hub/x/y", model_json("x/y"), card)
    assert base_named_in_text(model).line_start == 6
    assert judge_base_model_data(model).level == "unknown"
    # "The WizardLM delta weights." (the real card): a delta to weights it does not name is not its own base.
    delta = judge_base_model_weights(artifacts("WizardLM/WizardLM-7B-V1.0", tree=False))
    assert delta.level == "unknown" and delta.evidence[0].rule_id == "weights.delta-only"


def test_a_dataset_page_elsewhere_linked_as_training_data_is_named_data():
    from extractors.cards import text_datasets
    from extractors.rules import card_content_rules

    rules = card_content_rules()
    assert rules.dataset_page.search(rules.dataset_page_example)
    model = artifacts("togethercomputer/Pythia-Chat-Base-7B", tree=False)  # the OIG dataset, on laion.ai
    named = [(d.repo_id, line) for d, _, line, _ in text_datasets(model)]
    assert ("https://laion.ai/blog/oig-dataset/", 13) in named
    assert judge_end_model_data(model).level == "open"


def test_an_api_in_the_models_own_readme_counts_a_badge_does_not():
    from conftest import SNAPSHOT

    text = (SNAPSHOT / "github/01-ai/Yi/files/README.md").read_text(encoding="utf-8")
    readme = Artifact("r", "readme", "http://api/repos/01-ai/Yi/readme", "h", "README.md", text, "01-ai/Yi")
    base = artifacts("01-ai/Yi-34B", tree=False)
    judged = judge_api(ModelArtifacts(**{**base.__dict__, "code_files": (readme,)}))
    assert judged.level == "partial" and "star-history" not in judged.evidence[0].snippet
    assert "api" in judged.evidence[0].snippet.lower() or "playground" in judged.evidence[0].snippet.lower()


def test_data_the_card_says_is_internal_is_not_open():
    from extractors.rules import card_content_rules

    rules = card_content_rules()
    assert rules.withheld_data.search(rules.withheld_data_example)
    judged = judge_end_model_data(artifacts("stabilityai/StableBeluga2", tree=False))
    assert judged.level in ("partial", "closed") and judged.evidence[0].rule_id == "data.withheld"


def test_short_fine_tuning_terms_count_only_as_words_of_a_path():
    from extractors.code import training_scope

    base = artifacts("Qwen/Qwen2.5-32B")
    model = ModelArtifacts(**{**base.__dict__, "code_trees": (tree(["server/endpoint.py", "utils/support.py",
                                                                     "microsoft_utils.py", "generate.py"]),)})
    assert training_scope(model)["finetuning"] == [] and judge_training_code(model).level == "closed"
    tuned = ModelArtifacts(**{**base.__dict__, "code_trees": (tree(["scripts/run_sft.sh", "ppo_trainer.py"]),)})
    assert len(training_scope(tuned)["finetuning"]) == 2


def test_code_documentation_follows_the_training_code_it_documents():
    from extractors.documentation import judge_code_documentation

    base = artifacts("Qwen/Qwen2.5-32B")
    readme = Artifact("r", "readme", "http://api/repos/o/r/readme", "h", "README.md",
                      "# Project\n\n## Pretraining\n\nRun the launcher.\n", "o/r")

    def level(paths):
        model = ModelArtifacts(**{**base.__dict__, "code_trees": (tree(paths),), "code_files": (readme,)})
        return judge_code_documentation(model).level

    assert level(["configs/instella-3b-pretrain-stage1.yaml", "scripts/train.py"]) == "open"
    assert level(["finetune/scripts/run_sft_Yi_6b.sh"]) == "partial"  # fine-tuning code only
    assert level(["demo/web_demo.py"]) == "closed"  # no training code to document


def test_the_readme_of_a_training_folder_documents_the_training_steps():
    """LLM Foundry's root README has no section on training; its scripts/train/README.md is that documentation."""
    from extractors.documentation import judge_code_documentation

    files = ROOT / "data" / "snapshot" / "github" / "mosaicml" / "llm-foundry" / "files"
    readme = Artifact("r", "readme", "http://gh/repos/mosaicml/llm-foundry/readme", "def", "README.md",
                      (files / "README.md").read_text(encoding="utf-8"), "mosaicml/llm-foundry")
    train = Artifact("t", "file", "http://gh/repos/mosaicml/llm-foundry/contents/scripts/train/README.md", "def",
                     "scripts/train/README.md", (files / "scripts/train/README.md").read_text(encoding="utf-8"),
                     "mosaicml/llm-foundry")
    base = artifacts("mosaicml/mpt-7b-instruct", tree=False)
    code = tree(["scripts/train/train.py", "scripts/data_prep/convert_dataset_hf.py"])

    def judged(*code_files):
        return judge_code_documentation(replace(base, code_trees=(code,), code_files=code_files))

    assert judged(readme).level == "partial"
    with_folder = judged(readme, train)
    assert with_folder.level == "open"
    assert any(e.rule_id == "codedocs.training-folder-readme" and e.file == "scripts/train/README.md"
               for e in with_folder.evidence)


def test_training_code_whose_documentation_covers_tuning_only_is_partial():
    """Training folder READMEs on LoRA and fine-tuning document some steps, not the training of the base model."""
    from extractors.documentation import judge_code_documentation

    files = ROOT / "data" / "snapshot" / "github" / "Snowflake-Labs" / "snowflake-arctic" / "files"
    readme = Artifact("r", "readme", "http://gh/repos/Snowflake-Labs/snowflake-arctic/readme", "def", "README.md",
                      (files / "README.md").read_text(encoding="utf-8"), "Snowflake-Labs/snowflake-arctic")

    def folder_readme(path: str) -> Artifact:
        return Artifact(path, "file", f"http://gh/contents/{path}", "def", path,
                        (files / path).read_text(encoding="utf-8"), "Snowflake-Labs/snowflake-arctic")

    base = artifacts("Snowflake/snowflake-arctic-instruct", tree=False)
    code = tree(["training/arctic/ds_to_hf_converter.py", "training/llama3.1/run-llama.sh"])
    judged = judge_code_documentation(replace(base, code_trees=(code,), code_files=(
        readme, folder_readme("training/arctic/README.md"), folder_readme("training/llama3.1/README.md"))))
    assert judged.level == "partial" and "tuning only" in judged.summary
    assert any(e.rule_id == "codedocs.training-folder-readme" for e in judged.evidence)
    # A README on pretraining beside fine-tuning ("LLM Pretraining and Finetuning") documents the base's training.
    pretraining = Artifact("t", "file", "http://gh/contents/scripts/train/README.md", "def", "scripts/train/README.md",
                           "# LLM Pretraining and Finetuning\n", "o/r")
    assert judge_code_documentation(replace(base, code_trees=(code,), code_files=(readme, pretraining))).level == "open"


def github_readme(full_name: str) -> Artifact:
    path = ROOT / "data" / "snapshot" / "github" / full_name / "files" / "README.md"
    return Artifact(f"readme-{full_name}", "readme", f"http://gh/repos/{full_name}/readme", "def", "README.md",
                    path.read_text(encoding="utf-8"))


def test_training_hardware_read_as_experts_read_it():
    from extractors.cards import is_training_hardware
    from extractors.documentation import judge_hardware_architecture

    # A TPU pod slice as a field, a training time as setup, and "required for training" is the training's own need.
    assert judge_hardware_architecture(artifacts("bigscience/mt0-large", tree=False)).level in ("partial", "open")
    assert judge_hardware_architecture(artifacts("microsoft/Phi-4-reasoning", tree=False)).level == "open"
    llama = (MODELS / "meta-llama/Llama-3.3-70B-Instruct/README.md").read_text(encoding="utf-8")
    line = next(t for t in llama.splitlines() if "required for training" in t)
    assert is_training_hardware(line)
    assert not is_training_hardware("Running the model requires 2 x A100 GPUs with 80GB of memory")


def test_the_training_sections_of_the_models_own_readme_state_its_training_setup():
    from extractors.cards import repo_training_lines
    from extractors.documentation import judge_hardware_architecture

    readme = github_readme("databrickslabs/dolly")
    hardware, setup = repo_training_lines(readme)
    assert any("8 A100 GPUs" in text for _, text in hardware)
    assert not any("machine with A100 GPUs" in text for _, text in hardware)  # the usage section's is not training
    assert setup
    model = replace(artifacts("databricks/dolly-v2-7b", tree=False), code_files=(readme,))
    judged = judge_hardware_architecture(model)
    assert judged.level in ("partial", "open") and judged.evidence[0].url == readme.url


def test_a_training_pipeline_of_its_own_documents_the_training_setup_in_part_without_the_hardware():
    from extractors.documentation import judge_hardware_architecture

    base = artifacts("WizardLM/WizardLM-7B-V1.0", tree=False)  # its card states no training hardware

    def judged(paths):
        return judge_hardware_architecture(replace(base, code_trees=(tree(paths),)))

    # Real paths of captured GitHub trees: a whole training pipeline is partial, its evidence the pipeline's files.
    pipeline = judged(["README.md", "WizardCoder/src/train_wizardcoder.py", "WizardLM/src/infer_wizardlm13b.py"])
    assert pipeline.level == "partial" and pipeline.evidence[0].rule_id == "architecture.training-pipeline-code"
    assert pipeline.evidence[0].file == "WizardCoder/src/train_wizardcoder.py"
    # Fine-tuning scripts alone, or code that only runs the model, do not document the system's training setup.
    assert judged(["finetune/scripts/run_sft_Yi_6b.sh", "finetune/utils/module/lora.py"]).level == "closed"
    assert judged(["VL/single_inference.py", "demo/web_demo.py"]).level == "closed"


def test_a_long_card_one_topic_short_is_open_and_a_thin_card_pointing_to_another_card_is_partial():
    from extractors.documentation import judge_model_card

    assert judge_model_card(artifacts("DeepFloyd/IF-I-XL-v1.0", tree=False)).level == "open"
    pointed = judge_model_card(artifacts("jondurbin/airoboros-l2-70b-gpt4-1.4.1", tree=False))
    assert pointed.level == "partial" and pointed.evidence[0].rule_id == "modelcard.defers-to-card"


def test_a_card_of_usage_and_input_formats_is_closed():
    from extractors.documentation import judge_model_card

    # Its "Instruction format" section tells how to prompt the model, not how it was tuned.
    judged = judge_model_card(artifacts("mistralai/Mistral-7B-Instruct-v0.1", tree=False))
    assert judged.level == "closed" and "finetuning" not in judged.evidence[0].snippet


def test_an_open_card_gives_its_training_a_section_of_its_own():
    from extractors.documentation import judge_model_card

    # Broad, but its training only in passing ("trained on the Databricks machine learning platform"): partial.
    passing = judge_model_card(artifacts("databricks/dolly-v2-7b", tree=False))
    assert passing.level == "partial" and "no section on its training" in passing.summary
    sectioned = judge_model_card(artifacts("HuggingFaceH4/zephyr-7b-beta", tree=False))
    assert sectioned.level == "open"
    assert any(e.rule_id == "modelcard.training-section" and "Training" in e.snippet for e in sectioned.evidence)


def test_internal_data_beside_other_data_is_partial_and_internal_data_alone_is_closed():
    beside = judge_end_model_data(artifacts("DeepFloyd/IF-I-XL-v1.0", tree=False))
    assert beside.level == "partial" and "additional internal" in beside.evidence[0].snippet
    # Metadata datasets beside "trained on our internal ... dataset" name what went into the internal set.
    internal = replace(artifacts("stabilityai/StableBeluga2", tree=False), datasets=(
        LinkedDataset("conceptofmind/flan2021_submix_original", "not captured", "https://huggingface.co/datasets/x"),))
    assert judge_end_model_data(internal).level == "closed"
    sheet = judge_datasheet(internal)
    assert sheet.level == "closed" and sheet.basis == "evidence" and sheet.evidence[0].rule_id == "data.withheld"


def test_a_card_pointing_to_documentation_of_its_data_is_a_partial_datasheet():
    judged = judge_datasheet(artifacts("Intel/neural-chat-7b-v3-3", tree=False))
    assert judged.level == "partial" and "datasheet.card-points-to-docs" in judged.rule_ids


def test_a_dataset_searched_against_is_not_training_data():
    from extractors.rules import card_content_rules

    line = ("we conducted an in-depth analysis to ensure no unauthorized copyrighted music was present, performing a "
            "metadata search against a large database of copyrighted music (https://www.kaggle.com/datasets/x)")
    assert card_content_rules().not_training_data.search(line)


def test_a_base_named_as_name_and_size_fine_tune_is_a_named_base():
    judged = judge_base_model_weights(artifacts("jondurbin/airoboros-l2-70b-gpt4-1.4.1", tree=False))
    assert judged.level == "unknown" and judged.evidence[0].rule_id == "base.named-in-text"


def test_hosted_inference_turned_on_is_an_open_api():
    judged = judge_api(artifacts("prompthero/openjourney", tree=False))
    assert judged.level == "open" and judged.evidence[0].snippet == "inference: true"
    assert judge_api(artifacts("Qwen/Qwen2.5-32B", tree=False)).level != "open"


def test_code_documentation_of_a_fine_tune_of_another_organisations_base_is_partial():
    from extractors.documentation import foreign_base

    assert foreign_base(replace(artifacts("openchat/openchat_3.5", card=False, tree=False), base_model="mistralai/Mistral-7B-v0.1"))
    assert foreign_base(replace(artifacts("HuggingFaceTB/SmolLM3-3B", card=False, tree=False),
                                base_model="HuggingFaceTB/SmolLM3-3B-Base")) is None
    assert foreign_base(artifacts("openchat/openchat_3.5", card=False, tree=False)) is None
    # No `base_model` metadata, but the card's sentence names the base: "... finetuning LLaMA2 on a text-compatible
    # music representation" (the real card) names another's; one naming the model's own name does not.
    assert "LLaMA2" in foreign_base(artifacts("m-a-p/ChatMusician", tree=False))
    own = ("---\nlicense: mit\n---\n# ChatMusician\n\nFine-tuned from [m-a-p/ChatMusician-Base]"
           "(https://huggingface.co/m-a-p/ChatMusician-Base) on music scores.\n")
    card = Artifact("c", "card", "http://hub/m-a-p/ChatMusician/resolve/abc/README.md", "abc", "README.md", own)
    model = ModelArtifacts("m-a-p/ChatMusician", "abc", "http://hub/m-a-p/ChatMusician",
                           model_json("m-a-p/ChatMusician"), card)
    assert foreign_base(model) is None


def test_an_open_model_card_covers_training_and_evaluation():
    from extractors.cards import read_card
    from extractors.documentation import judge_model_card

    model = artifacts("togethercomputer/Pythia-Chat-Base-7B", tree=False)
    topics = set(read_card(model.card).topics)
    assert len(topics) >= 5 and not {"training", "evaluation"} <= topics
    assert judge_model_card(model).level == "partial"


def test_an_api_the_data_came_from_is_not_an_api_serving_the_model():
    from extractors.access import API_MENTION, DATA_FROM_AN_API

    line = "The fine-tuning data was generated by OpenAI API calls to gpt-4, via https://github.com/jondurbin/airoboros"
    assert API_MENTION.search(line) and DATA_FROM_AN_API.search(line)
    assert judge_api(artifacts("jondurbin/airoboros-l2-70b-gpt4-1.4.1", tree=False)).level != "partial"


def test_a_fine_tune_tagged_with_another_family_is_never_its_own_base():
    """openchat/openchat_3.5's real card: "... language models, fine-tuned with [C-RLFT](...)" and the tag `mistral`,
    no `base_model`. Its base criteria are unknown, naming the family, never mirrored from the fine-tune."""
    from extractors.availability import judge_base_model_data
    from extractors.cards import base_of_another_family, other_family_tag
    from extractors.rules import family_rules

    rule = family_rules().fine_tuned_statement
    assert rule.pattern.search(rule.example)
    model = artifacts("openchat/openchat_3.5", tree=False)
    assert other_family_tag(model) == "mistral"
    statement, tag = base_of_another_family(model)
    assert "fine-tuned with [C-RLFT]" in statement.snippet and statement.line_start == 45
    for judged in (judge_base_model_data(model), judge_base_model_weights(model)):
        assert judged.level == "unknown" and judged.evidence[0].rule_id == "base.fine-tuned-other-family"
        assert "`mistral`" in judged.summary and judged.searched[0].status == "not crawled"
    # The family's own models (its organisation or the start of their name) and language codes name no other family.
    assert other_family_tag(artifacts("mistralai/Mistral-7B-v0.1", tree=False, tags=["mistral"])) is None
    assert other_family_tag(artifacts("microsoft/Phi-3-mini-128k-instruct", tree=False, tags=["phi3"])) is None
    assert other_family_tag(artifacts("bigscience/mt0-large", tree=False, tags=["yi", "zh"])) is None
    from extractors.cards import family_named

    assert [family_named(t) for t in ("t5", "llama-3", "qwen2", "stable-diffusion-xl", "gpt_neox", "optimum",
                                      "gptq")] == ["t5", "llama", "qwen", "stablediffusion", "gptneox", None, None]
    # A family's own card says its variants are fine-tuned; without another family's tag it stays its own base.
    own = judge_base_model_data(artifacts("meta-llama/Meta-Llama-3-8B", tree=False))
    assert own.summary.startswith("no separate base model; mirrors the model itself")


def test_the_own_paper_rule_reads_a_chinese_card_too():
    """One rule for "our paper / technical report", in English or Chinese (a real line of a captured card)."""
    (rule,) = venue_rules()["own_paper"]
    assert rule.pattern.search("我们的技术报告：")
    assert rule.pattern.search("Please cite our paper if you find it helpful")


def test_data_of_a_model_tuned_from_an_intermediate_tuned_model_is_partial():
    # base_model: HuggingFaceH4/starchat2-15b-sft-v0.1 -- the sft stage's data is a source the card does not name.
    tuned = judge_end_model_data(replace(artifacts("HuggingFaceH4/starchat2-15b-v0.1", tree=False),
                                         base_model="HuggingFaceH4/starchat2-15b-sft-v0.1"))
    assert tuned.level == "partial" and tuned.evidence[0].rule_id == "data.tuned-base"
    assert "starchat2-15b-sft" in tuned.evidence[0].snippet and tuned.evidence[0].line_start is not None
    # "Finetuned from model: [Openchat-3.5-0106](https://huggingface.co/openchat/openchat-3.5-0106)" in the text.
    named = judge_end_model_data(replace(artifacts("Nexusflow/Starling-LM-7B-beta", tree=False), datasets=(
        LinkedDataset("berkeley-nest/Nectar", "not captured", "https://huggingface.co/datasets/berkeley-nest/Nectar"),)))
    assert named.level == "partial" and "openchat" in named.evidence[0].snippet
    # Tuned from a pretrained base (base_model: mistralai/Mistral-7B-v0.1): its own data is all there is.
    pretrained = replace(artifacts("HuggingFaceH4/zephyr-7b-beta", tree=False), base_model="mistralai/Mistral-7B-v0.1")
    assert judge_end_model_data(pretrained).level == "open"
