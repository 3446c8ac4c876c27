"""Confidence measured, not promised: data/rules/calibration.yaml regenerated from the expert labels' study half.

A judgement's confidence is the agreement with the experts of the rule that decided it (its first evidence) at the
level it gave, on the study half of the label files (crawler.label_split), shrunk step by step toward what is known
more broadly: the rule's record toward its criterion-and-level's, that toward its criterion's, that toward the
whole half's, each with a prior worth `prior_cells` cells. A rule seen five times and right five times is then not
100% sure, and a rule the labels never saw decide takes its criterion-and-level's agreement.

How much to shrink is chosen on the study half alone (scikit-learn's habit: hyper-parameters chosen on one split,
reported on the other): families are held out in turn (grouped k-fold), each held-out family's cells are predicted
from the others, and the prior with the lowest Brier score wins. The check half is never read here, so it can say
whether the confidence holds on families it was not measured on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import sqlite_utils
import yaml

from crawler.evaluate import CRITERIA, ORDER, Cell, compare, halves_of, read_label_dir
from extractors.rules import RULES_DIR

CALIBRATION_FILE = RULES_DIR / "calibration.yaml"
HALF = "study"
PRIOR_GRID = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)  # the priors tried, in cells
FOLDS = 5


def deciding_rule(cell: Cell) -> str:
    return (cell.our_evidence or [{}])[0].get("rule_id") or "?"


def _keys(cell: Cell) -> tuple[tuple, ...]:
    """From the broadest to the narrowest: the half, the criterion, the criterion at a level, the deciding rule."""
    return ((), (cell.criterion,), (cell.criterion, cell.ours), (cell.criterion, cell.ours, deciding_rule(cell)))


class Shrunk:
    """Agreement counts by key, and the confidence of any key shrunk toward its broader keys."""

    def __init__(self, cells: list[Cell], prior: float):
        self.prior, self.seen, self.agreed = prior, Counter(), Counter()
        for cell in cells:
            for key in _keys(cell):
                self.seen[key] += 1
                self.agreed[key] += cell.ours == cell.expert

    def confidence(self, key: tuple) -> float:
        if not key:
            return self.agreed[()] / self.seen[()] if self.seen[()] else 0.5
        broader = self.confidence(key[:-1])
        return (self.agreed[key] + self.prior * broader) / (self.seen[key] + self.prior)


def family_folds(cells: list[Cell], family_of: Callable[[Cell], str], folds: int = FOLDS) -> list[set[str]]:
    families = sorted({family_of(c) for c in cells})
    return [set(families[i::folds]) for i in range(folds)]


def held_out_brier(cells: list[Cell], family_of: Callable[[Cell], str], prior: float) -> float:
    """The Brier score of confidences predicted for each fold of families from the others."""
    total = 0.0
    for fold in family_folds(cells, family_of):
        model = Shrunk([c for c in cells if family_of(c) not in fold], prior)
        total += sum((model.confidence(_keys(c)[-1]) - (c.ours == c.expert)) ** 2
                     for c in cells if family_of(c) in fold)
    return total / len(cells)


def held_out_brier_overall(cells: list[Cell], family_of: Callable[[Cell], str]) -> float:
    """The Brier score of one rate for everything (the other folds' agreement), on the same held-out folds: what
    a breakdown by criterion, level and rule must beat to carry information across families."""
    total = 0.0
    for fold in family_folds(cells, family_of):
        rest = [c.ours == c.expert for c in cells if family_of(c) not in fold]
        rate = sum(rest) / len(rest) if rest else 0.5
        total += sum((rate - (c.ours == c.expert)) ** 2 for c in cells if family_of(c) in fold)
    return total / len(cells)


def calibration_table(cells: list[Cell], family_of: Callable[[Cell], str]) -> dict:
    """The calibration data from decided cells: the prior chosen by held-out families, the agreement of the half,
    of each criterion and of each criterion at a level, and per deciding rule its cells, agreeing cells and
    confidence."""
    decided = [c for c in cells if c.ours in ORDER]
    if not decided:
        raise ValueError("no decided cells to calibrate on: crawl the labelled models first (openness demo)")
    scores = {prior: round(held_out_brier(decided, family_of, prior), 4) for prior in PRIOR_GRID}
    prior = min(PRIOR_GRID, key=lambda p: (scores[p], p))
    overall_rate = round(held_out_brier_overall(decided, family_of), 4)
    model = Shrunk(decided, prior)
    criteria, decisions = {}, {}
    for criterion in (c for c in CRITERIA if model.seen[(c,)]):
        levels = {}
        for level in (lv for lv in ORDER if model.seen[(criterion, lv)]):
            rules = sorted(k[2] for k in model.seen if len(k) == 3 and k[:2] == (criterion, level))
            levels[level] = {
                "cells": model.seen[(criterion, level)], "confidence": round(model.confidence((criterion, level)), 3),
                "rules": {rule: {"cells": model.seen[(criterion, level, rule)],
                                 "agree": model.agreed[(criterion, level, rule)],
                                 "confidence": round(model.confidence((criterion, level, rule)), 3)}
                          for rule in rules}}
        criteria[criterion] = {"cells": model.seen[(criterion,)],
                               "agreement": round(model.confidence((criterion,)), 3)}
        decisions[criterion] = levels
    return {"half": HALF, "prior_cells": prior, "held_out_brier_by_prior": scores,
            "held_out_brier_one_rate": overall_rate, "beats_one_rate": scores[prior] < overall_rate,
            "decided_cells": len(decided),
            "overall": round(model.confidence(()), 3), "criteria": criteria, "decisions": decisions}


def calibrate(db: sqlite_utils.Database, labels_dir: Path) -> dict:
    """The calibration table of the stored judgements against the study half of the label files."""
    files, _ = read_label_dir(labels_dir)
    halves = halves_of(files)
    family = {label.path.relative_to(labels_dir).as_posix(): halves[label.path][0] for label in files}
    _, cells, _ = compare(db, [f for f in files if halves[f.path][1] == HALF], labels_dir, halves)
    return calibration_table(cells, lambda cell: family[cell.label_file])


def calibration_yaml(table: dict, labels_dir: str) -> str:
    header = (f"# Derived data, generated by `openness calibrate --labels {labels_dir}` over the demo's crawl of the "
              "bundled snapshot:\n# do not edit by hand. A judgement's confidence is the `confidence` of the rule "
              "that decided it at its level\n# (else of its criterion at that level, else of its criterion): its "
              "agreement with the experts on the\n# study half, shrunk toward the broader agreement with a prior of "
              "`prior_cells` cells, chosen by the Brier\n# score on held-out families of the study half. Expert "
              "labels: CC-BY 4.0, https://osai-index.eu;\n# Liesenfeld & Dingemanse, FAccT '24.\n")
    return header + yaml.safe_dump(table, sort_keys=False, allow_unicode=True, width=120)
