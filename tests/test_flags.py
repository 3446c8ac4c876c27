"""Openwashing flags: a claim of openness in the model's own words beside judgements that contradict it."""

from __future__ import annotations

import json
import sqlite3

import pytest

from conftest import run_openness
from extractors import assess_model
from extractors.flags import claim_rules, openwashing_flag
from test_extractors import artifacts


@pytest.mark.parametrize("rule", claim_rules()["claims"], ids=lambda r: r[0])
def test_every_claim_rule_matches_its_example_and_not_its_counter_example(rule):
    _, pattern, _, example, not_example = rule
    assert pattern.search(example) and not pattern.search(not_example)


def test_llama_2_calls_itself_open_source_while_data_code_and_licence_fail():
    model = artifacts("meta-llama/Llama-2-7b", tree=False, gated="manual")
    flag = openwashing_flag(model, assess_model(model))
    assert flag is not None and flag.severity == "high"
    failing = dict(flag.failing)
    assert failing["licenses"] == "closed" and "trainingcode" in failing
    line = int(flag.claim.location.rsplit("#L", 1)[1])
    assert flag.claim.quote[:30] in " ".join(model.card.text.splitlines()[line - 1].split())


def test_no_flag_without_a_claim():
    model = artifacts("meta-llama/Llama-2-7b", tree=False, gated="manual")
    judgements = assess_model(model)
    passing = [j for j in judgements if j.criterion not in ("datasources_basemodel", "datasources_endmodel",
                                                            "trainingcode", "licenses")]
    assert openwashing_flag(model, passing) is None  # nothing contradicts the claim


def test_flags_command_lists_worst_first(demo_db):
    result = run_openness("flags", "--db", str(demo_db), "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert rows, "the snapshot holds models that call themselves open while judged closed"
    order = {"high": 0, "medium": 1, "low": 2}
    assert [order[r["severity"]] for r in rows] == sorted(order[r["severity"]] for r in rows)
    con = sqlite3.connect(demo_db)
    for row in rows:
        for item in row["failing_criteria"].split(","):
            criterion, level = item.split("=")
            assert con.execute("select level from judgements where subject_id = ? and criterion = ?",
                               [f"hf:model:{row['model']}", criterion]).fetchone()[0] == level
