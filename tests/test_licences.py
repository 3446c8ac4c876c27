"""The licence engine on the real licence texts of the snapshot: restrictions found and quoted, open texts known."""

from __future__ import annotations

import pytest

from conftest import SNAPSHOT
from extractors.licences import LicenceText, judge_licences, read_licence_text
from extractors.rules import licence_phrases
from extractors.text import lines_of
from extractors.types import Artifact, ModelArtifacts
from test_extractors import card_of, model_json

GITHUB = SNAPSHOT / "github"


def text_of(relative: str, path_in_repo: str | None = None) -> LicenceText:
    text = (SNAPSHOT / relative).read_text(encoding="utf-8", errors="replace")
    artifact = Artifact(f"a:{relative}", "file", f"http://api/{relative}", "rev", path_in_repo or relative, text)
    return LicenceText(artifact, "weights", text)


@pytest.mark.parametrize("rule", licence_phrases().restrictions + licence_phrases().open_texts,
                         ids=lambda r: r.rule_id)
def test_every_phrase_rule_finds_its_clause_where_it_stands(rule):
    assert rule.pattern.search((SNAPSHOT / rule.found_in).read_text(encoding="utf-8", errors="replace")), \
        f"{rule.rule_id} does not fire on {rule.found_in}"


@pytest.mark.parametrize("relative, deciding", [
    ("github/meta-llama/llama-models/files/models/llama2/LICENSE", "licence.text.user-cap"),
    ("github/meta-llama/llama-models/files/models/llama3/LICENSE", "licence.text.no-improving-other-models"),
    ("github/meta-llama/llama-models/files/models/llama3_1/LICENSE", "licence.text.naming-obligation"),
    ("github/meta-llama/llama-models/files/models/llama3_3/USE_POLICY.md", "licence.text.regional-exclusion"),
    ("github/meta-llama/llama3/files/LICENSE", "licence.text.use-policy-by-reference"),
    ("github/deepseek-ai/DeepSeek-V3/files/LICENSE-MODEL", "licence.text.remote-restriction"),
    ("github/THUDM/ChatGLM-6B/files/MODEL_LICENSE", "licence.text.revocable-grant"),
])
def test_restrictive_model_licences_are_not_open_and_the_clause_is_quoted(relative, deciding):
    doc = text_of(relative)
    verdict = read_licence_text(doc)
    assert verdict.level in ("closed", "partial")
    evidence = next(e for e in verdict.evidence if e.rule_id == deciding)
    line = lines_of(doc.text)[evidence.line_start - 1]  # lines as the judges count them
    assert evidence.snippet.replace("…", "").strip()[:40] in " ".join(line.split())


@pytest.mark.parametrize("relative", ["github/mistralai/mistral-inference/files/LICENSE",
                                      "github/AMD-AGI/Nitro-E/files/LICENSE"])
def test_apache_and_mit_texts_are_open(relative):
    assert read_licence_text(text_of(relative)).level == "open"


def test_gemma_terms_are_judged_not_open_with_the_deciding_lines():
    repo = "google/gemma-7b-it"
    model = ModelArtifacts(repo, "abc", f"http://hub/{repo}", model_json(repo), card_of(repo))
    judgement = judge_licences(model)
    assert judgement.level == "closed"
    quoted = {e.rule_id: e.snippet for e in judgement.evidence}
    assert quoted["licence.card.license"] == "license: gemma"
    assert "Hub licence class proprietary-community" in quoted["licence.index.hub-table.closed"]


def test_rail_licence_of_bloom_is_not_open_with_its_use_restrictions_quoted():
    repo = "bigscience/bloom"
    model = ModelArtifacts(repo, "abc", f"http://hub/{repo}", model_json(repo), card_of(repo))
    judgement = judge_licences(model)
    assert judgement.level == "closed"
    deciding = next(e for e in judgement.evidence if e.rule_id == "licence.index.hub-table.closed")
    assert "rail-use-restricted" in deciding.snippet


def test_a_card_tagged_apache_whose_licence_file_is_restrictive_is_caught():
    repo = "Qwen/Qwen2.5-32B"  # a real card declaring apache-2.0
    restrictive = text_of("github/deepseek-ai/DeepSeek-V3/files/LICENSE-MODEL", "LICENSE")
    model = ModelArtifacts(repo, "abc", f"http://hub/{repo}", model_json(repo), card_of(repo),
                           files=(restrictive.artifact,))
    judgement = judge_licences(model)
    assert judgement.level != "open"
    assert "declared licence id is open but a licence text restricts" in judgement.summary
    rules = judgement.rule_ids
    assert "licence.card.license" in rules and "licence.text.remote-restriction" in rules  # both are evidence


def test_open_weights_with_restricted_code_are_partial():
    repo = "Qwen/Qwen2.5-32B"
    apache = text_of("github/mistralai/mistral-inference/files/LICENSE", "LICENSE")
    agpl_code = text_of("github/oobabooga/text-generation-webui/files/LICENSE", "LICENSE")
    chatglm = text_of("github/THUDM/ChatGLM-6B/files/MODEL_LICENSE", "LICENSE")
    open_model = ModelArtifacts(repo, "abc", "http://hub/x", model_json(repo), card_of(repo),
                                code_files=(apache.artifact, agpl_code.artifact))
    assert judge_licences(open_model).level == "open"
    restricted_code = ModelArtifacts(repo, "abc", "http://hub/x", model_json(repo), card_of(repo),
                                     code_files=(chatglm.artifact,))
    assert judge_licences(restricted_code).level == "partial"
    weights_only = ModelArtifacts(repo, "abc", "http://hub/x", model_json(repo), card_of(repo))
    assert judge_licences(weights_only).level == "open"  # no separate code licence: the weights' licence covers it


@pytest.mark.parametrize("licence_id, level, source", [
    ("apache-2.0", "open", "spdx"), ("MIT", "open", "spdx"), ("cc-by-4.0", "open", "spdx"),
    ("cc-by-nc-4.0", "closed", "spdx"), ("llama3", "closed", "hub-table"), ("openrail", "closed", "hub-table"),
    ("gemma", "closed", "hub-table"), ("MIT OR Apache-2.0", "open", "spdx"),
])
def test_licence_ids_are_classified_by_the_indexes_first(licence_id, level, source):
    from extractors.licence_index import classify

    found = classify(licence_id)
    assert (found.level, found.source) == (level, source)


def test_an_unknown_custom_licence_id_is_unclassified():
    from extractors.licence_index import classify

    assert classify("acme-model-licence-v7") is None


def test_a_licence_stated_only_in_the_cards_text_is_read():
    from extractors.licences import card_licence_lines, judge_licences
    from test_extractors import artifacts

    model = artifacts("togethercomputer/Pythia-Chat-Base-7B", tree=False)
    [(line, text, licence_id)] = card_licence_lines(model)[:1]
    assert licence_id == "apache-2.0" and "Apache 2.0" in text
    judged = judge_licences(model)
    assert judged.level == "open" and any(e.rule_id == "licence.card.text-field" and e.line_start == line
                                          for e in judged.evidence)


def test_a_repo_of_several_projects_gives_the_model_only_its_own_projects_licences():
    from extractors.licences import is_models_licence_file
    from spiders.github import wanted_paths

    tree = ["LICENSE", "WizardLM/CODE_LICENSE", "WizardLM/MODEL_DIFF_LICENSE", "WizardLM/DATA_LICENSE",
            "WizardMath/LICENSE", "WizardCoder/MODEL_WEIGHTS_LICENSE", "src/train.py", "LICENSES/Apache-2.0.txt"]
    fetched = wanted_paths(tree)
    assert set(fetched) == set(tree) - {"src/train.py"}  # every licence file, a component's too
    own = [p for p in fetched if is_models_licence_file("WizardLM/WizardLM-7B-V1.0", p)]
    assert set(own) == {"LICENSE", "WizardLM/CODE_LICENSE", "WizardLM/MODEL_DIFF_LICENSE", "WizardLM/DATA_LICENSE",
                        "LICENSES/Apache-2.0.txt"}
    assert is_models_licence_file("meta-llama/Llama-3.1-8B", "models/llama3_1/LICENSE")
    assert not is_models_licence_file("meta-llama/Llama-3.1-8B", "models/llama2/LICENSE")
