"""Which rules earn their place: each rule of data/rules removed in turn, the judge run again, both halves measured.

A rule here is an entry of a list in a rule file (a pattern, a glob, a claim or venue rule), not an example or a
data list. For each, a scratch copy of the extractors and rules with that entry removed judges the store's models
again (`openness assess` in the copy, on a copy of the store), and `evaluate` measures the study and the check half.
`changed` counts the store's judgements (labelled or not) whose level the removal changes: 0 means the rule
decides nothing the other rules do not. A rule whose removal does not lower check agreement (and does not lower the
decided share) is a candidate for removal or merging. Run from the project's root:

    python -m crawler.ablation --db demo.db --labels data/labels [--only FILE] > ablation.tsv

Slow by design (a full judging per rule, some seconds each): a measurement for rule reviews, not a test.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
NOT_RULES = {"examples", "not_examples", "families"}  # lists of data, not rules
# Rule files that decide no level: claims make flags, frameworks read levels already decided.
NOT_JUDGING = {"calibration.yaml", "openness_claims.yaml", "frameworks.yaml"}


def rule_entries(data, path: tuple = ()) -> Iterator[tuple]:
    """The path of every removable rule entry in a rule file's data."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key not in NOT_RULES:
                yield from rule_entries(value, (*path, key))
    elif isinstance(data, list) and len(data) > 1:
        for index, item in enumerate(data):
            if isinstance(item, (str, dict)):
                yield (*path, index)
            if isinstance(item, dict):
                yield from rule_entries(item, (*path, index))


def without(data, path: tuple):
    """A deep copy of `data` with the entry at `path` removed."""
    copy = json.loads(json.dumps(data))
    node = copy
    for step in path[:-1]:
        node = node[step]
    del node[path[-1]]
    return copy


def label_of(data, path: tuple) -> str:
    node = data
    for step in path:
        node = node[step]
    text = node.get("id") or node.get("pattern") or node.get("glob") if isinstance(node, dict) else node
    return f"{'/'.join(map(str, path))}: {str(text)[:80]}"


def levels(db: Path) -> dict[tuple[str, str], str]:
    with sqlite3.connect(db) as con:
        return {(s, c): level for s, c, level in con.execute("select subject_id, criterion, level from judgements")}


def measure(workdir: Path, db: Path, labels: Path) -> dict:
    """Judge the store again in `workdir` and measure both halves; `levels` are the whole store's (labelled or not)."""
    python = [sys.executable, "-m", "crawler"]
    subprocess.run([*python, "assess", "--db", str(db)], cwd=workdir, check=True, capture_output=True)
    out = subprocess.run([*python, "evaluate", "--labels", str(labels), "--db", str(db), "--json"], cwd=workdir,
                         check=True, capture_output=True, text=True).stdout
    halves = json.loads(out)["halves"]
    return {"levels": levels(db),
            **{name: (halves[name]["overall"]["exact_agreement"], halves[name]["overall"]["decided"])
               for name in ("study", "check")}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="a store holding the labelled models (demo.db)")
    parser.add_argument("--labels", type=Path, default=ROOT / "data" / "labels")
    parser.add_argument("--only", help="only the rules of these files of data/rules, comma-separated (venues.yaml)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ablation-") as scratch:
        work = Path(scratch) / "tree"
        for part in ("crawler", "extractors", "spiders"):
            shutil.copytree(ROOT / part, work / part)
        shutil.copytree(ROOT / "data" / "rules", work / "data" / "rules")
        shutil.copy(ROOT / "data" / "hub_licences.csv", work / "data" / "hub_licences.csv")
        db = Path(scratch) / "store.db"
        shutil.copy(args.db, db)
        base = measure(work, db, args.labels.resolve())
        print("file\trule\tstudy\tcheck\tstudy_decided\tcheck_decided\tstudy_delta\tcheck_delta\tchanged",
              flush=True)
        for rule_file in sorted((ROOT / "data" / "rules").glob("*.yaml")):
            if rule_file.name in NOT_JUDGING or (args.only and rule_file.name not in args.only.split(",")):
                continue
            data = yaml.safe_load(rule_file.read_text(encoding="utf-8"))
            target = work / "data" / "rules" / rule_file.name
            for path in rule_entries(data):
                target.write_text(yaml.safe_dump(without(data, path), allow_unicode=True), encoding="utf-8")
                try:
                    figures = measure(work, db, args.labels.resolve())
                except subprocess.CalledProcessError as exc:  # a rule file the loader refuses without this entry
                    print(f"{rule_file.name}\t{label_of(data, path)}\trefused: {exc.stderr[-200:]!r}", flush=True)
                    continue
                finally:
                    shutil.copy(rule_file, target)
                (study, study_n), (check, check_n) = figures["study"], figures["check"]
                print(f"{rule_file.name}\t{label_of(data, path)}\t{study:.4f}\t{check:.4f}\t{study_n}\t{check_n}\t"
                      f"{study - base['study'][0]:+.4f}\t{check - base['check'][0]:+.4f}\t"
                      f"{sum(figures['levels'].get(k) != v for k, v in base['levels'].items())}",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
