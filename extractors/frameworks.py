"""Framework verdicts from the 14 judgements: the Model Openness Framework class, the OSI Open Source AI Definition
checklist, the EU AI Act open-source exemption. Rules are data (data/rules/frameworks.yaml); each verdict names the
criteria that fail it, with their level."""

from __future__ import annotations

from functools import lru_cache

from extractors.rules import RuleFileError, _load_yaml

RANK = {"closed": 0, "partial": 1, "open": 2, "unknown": -1}


@lru_cache(maxsize=1)
def framework_rules() -> dict:
    rules = _load_yaml("frameworks.yaml")
    for key, framework in rules.items():
        if not isinstance(framework, dict) or not framework.get("levels") or "otherwise" not in framework:
            raise RuleFileError(f"frameworks.yaml: {key} needs `levels` and `otherwise`")
        for level in framework["levels"]:
            for criterion, minimum in level["requires"].items():
                if minimum not in RANK or minimum == "unknown":
                    raise RuleFileError(f"frameworks.yaml: {key}/{level['name']}: {criterion}: {minimum!r} is no level")
    return rules


def verdicts(levels: dict[str, str]) -> dict[str, dict]:
    """framework -> {title, verdict, failing: [{criterion, level, required}]}: the first level whose requirements
    all hold, else `otherwise` with what the last (least demanding) level lacks. `unknown` never satisfies."""
    found = {}
    for key, framework in framework_rules().items():
        verdict, failing = framework["otherwise"], []
        for level in framework["levels"]:
            failing = [{"criterion": c, "level": levels.get(c, "unknown"), "required": minimum}
                       for c, minimum in level["requires"].items()
                       if RANK[levels.get(c, "unknown")] < RANK[minimum]]
            if not failing:
                verdict = level["name"]
                break
        found[key] = {"title": framework["title"], "verdict": verdict, "failing": failing}
    return found
