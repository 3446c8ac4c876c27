"""The G7 tiers of AI openness beside MOF, OSAID and Art. 53(2) (data/rules/frameworks.yaml): the requirements are
our reading of the tier names, each tier demanding all the one below it does; every place that prints framework
verdicts iterates the frameworks, so the fourth shows wherever the three did."""

from __future__ import annotations

import json

import pytest

from conftest import run_openness
from extractors import CRITERIA
from extractors.frameworks import RANK, framework_rules, verdicts

ALL_OPEN = {c: "open" for c in CRITERIA}
TIERS = [level["name"] for level in framework_rules()["g7"]["levels"]]


def test_each_g7_tier_demands_everything_the_tier_below_it_does():
    levels = framework_rules()["g7"]["levels"]
    for higher, lower in zip(levels, levels[1:]):
        for criterion, minimum in lower["requires"].items():
            assert RANK[higher["requires"][criterion]] >= RANK[minimum], (higher["name"], criterion)
        assert set(higher["requires"]) > set(lower["requires"]) or higher["requires"] != lower["requires"]


def test_the_yaml_says_the_requirements_are_our_reading_not_the_g7_text():
    from extractors.rules import RULES_DIR

    text = (RULES_DIR / "frameworks.yaml").read_text(encoding="utf-8")
    assert "We do not have the G7 text" in text and "our reading" in framework_rules()["g7"]["title"]


@pytest.mark.parametrize("tier", range(4))
def test_a_model_meeting_a_tier_and_failing_the_next_gets_that_tier(tier):
    levels = framework_rules()["g7"]["levels"]
    meets = {c: m for c, m in levels[tier]["requires"].items()}
    if tier > 0:  # a requirement of the next tier up that this tier does not make, failed
        meets[next(c for c in levels[tier - 1]["requires"] if c not in meets)] = "closed"
    found = verdicts(meets)["g7"]
    assert found["verdict"] == TIERS[tier] and found["failing"] == []


def test_no_weights_is_no_tier_and_names_the_weights():
    found = verdicts({**ALL_OPEN, "weights_endmodel": "closed"})["g7"]
    assert found["verdict"] == framework_rules()["g7"]["otherwise"]
    assert found["failing"] == [{"criterion": "weights_endmodel", "level": "closed", "required": "partial"}]
    assert verdicts(ALL_OPEN)["g7"]["verdict"] == TIERS[0]


def test_show_prints_the_g7_tier_beside_the_other_frameworks(demo_db):
    report = json.loads(run_openness("show", "Qwen/Qwen2.5-32B", "--db", str(demo_db), "--json").stdout)
    assert set(report["frameworks"]) == set(framework_rules())
    assert report["frameworks"]["g7"]["verdict"] in [*TIERS, framework_rules()["g7"]["otherwise"]]
    text = run_openness("show", "Qwen/Qwen2.5-32B", "--db", str(demo_db)).stdout
    assert framework_rules()["g7"]["title"].split(" (")[0] in " ".join(text.split())
