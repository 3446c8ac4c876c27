"""`openness evaluate` against the expert labels, and the seed table as an acceptance test."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from conftest import ROOT, run_openness
from crawler.evaluate import CRITERIA, cohen_kappa, compare_seed_table, read_label_file
from crawler.store import open_db

LABELS = ROOT / "data" / "labels"


def test_old_schema_keys_are_read_as_the_index_keys():
    label = read_label_file(LABELS / "opening-up-chatgpt" / "llama-3-instruct.yaml")
    assert label.name == "Llama 3 Instruct"
    assert label.labels["trainingcode"]["class"] == "closed"  # opencode
    assert label.labels["weights_endmodel"]["class"] == "partial"  # rlweights
    assert label.labels["licenses"]["link"].startswith("https://huggingface.co/meta-llama/")  # license
    assert set(label.labels) <= set(CRITERIA)


def test_current_schema_and_the_end_model_comes_from_the_weights_link():
    label = read_label_file(LABELS / "eosai" / "Gemma.yaml")
    assert label.labels["weights_endmodel"] == {
        "class": "partial", "link": "https://huggingface.co/google/gemma-3-27b-it",
        "notes": "Gated model available through HuggingFace."}
    assert label.end_models[0] == "google/gemma-3-27b-it" and label.end_link_field == "weights_endmodel"
    assert "package" not in label.labels  # the 12-criteria schema has none


def test_kappa_is_one_for_full_agreement_and_zero_at_chance():
    same = [("open", "open"), ("closed", "closed"), ("partial", "partial")]
    assert cohen_kappa(same, weighted=False) == 1.0
    chance = [("open", "open"), ("open", "closed"), ("closed", "open"), ("closed", "closed")]
    assert cohen_kappa(chance, weighted=False) == 0.0
    near = [("open", "partial"), ("partial", "partial"), ("closed", "closed"), ("open", "open")]
    assert cohen_kappa(near, weighted=True) > cohen_kappa(near, weighted=False)  # a near miss costs less weighted


def test_evaluate_reports_coverage_agreement_baselines_and_disagreements(demo_db):
    result = run_openness("evaluate", "--labels", str(LABELS), "--db", str(demo_db), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"overall", "per_criterion", "views", "per_model", "flags", "coverage", "split", "halves"}
    flags = report["flags"]
    assert flags["high_medium"] == sum(c["severity"] in ("high", "medium") for c in flags["checked"])
    assert flags["high_medium_models_confirmed"] <= flags["high_medium_models"] <= flags["high_medium"]
    assert all(c["confirmed"] == any(level != "open" for level in c["experts"].values()) for c in flags["checked"])
    assert all(c["confirmed"] for c in flags["checked"] if c["confirmed_in_full"])
    # Recall: every self-claimed open-source model listed has a promise the experts judge broken; the recalled
    # ones carry a high or medium flag.
    claimed = flags["open_source_claims_broken"]
    assert claimed and all(set(c["experts"].values()) <= {"closed", "partial"} and c["experts"] for c in claimed)
    assert flags["recalled"] == sum(c["flagged"] in ("high", "medium") for c in claimed)
    coverage = report["coverage"]
    assert coverage["matched"] + coverage["unmatched"] == coverage["label_files"] == len(list(LABELS.rglob("*.yaml")))
    assert coverage["matched"] > 0 and all(f["reason"] for f in coverage["files"] if not f["matched"])
    assert 0 < coverage["distinct_systems"] <= coverage["matched"]
    sets = report["views"]["by_label_set"]
    assert set(sets) == {"eosai", "eosai-14", "opening-up-chatgpt"}
    assert sum(v["overall"]["cells"] for v in sets.values()) == report["overall"]["cells"]
    assert "package" not in sets["eosai"]["per_criterion"] and "package" in sets["eosai-14"]["per_criterion"]
    current = report["views"]["current_12_criteria"]
    assert current["criteria"] == 12 and current["cells"] < report["overall"]["cells"]
    per_criterion = report["per_criterion"]
    assert sum(s["cells"] for s in per_criterion.values()) == report["overall"]["cells"]
    for name, scores in per_criterion.items():
        assert sum(sum(row.values()) for row in scores["confusion"].values()) == scores["cells"], name
        assert scores["confusion"]["open"]["unknown"] + scores["confusion"]["partial"]["unknown"] + \
            scores["confusion"]["closed"]["unknown"] == scores["unknown"]
        assert scores["exact_agreement_strict"] <= scores["exact_agreement"]
        assert 0 < scores["majority_baseline"] <= 1
    disagreements = [d for rows in report["per_model"].values() for d in rows]
    assert len(disagreements) == report["overall"]["cells"] - round(
        report["overall"]["exact_agreement"] * report["overall"]["decided"])
    assert all(d["our_evidence"] and d["expert"] != d["ours"] for d in disagreements)
    # `unknown` where the card and the file list were both read: every such cell is a disagreement of a model
    # whose card and tree the store holds with HTTP 200.
    con = sqlite3.connect(demo_db)
    read = {m for (m,) in con.execute("select lower(repo_id) from artifacts where kind in ('card', 'tree') and "
                                      "http_status = 200 and repo_type = 'model' group by lower(repo_id) "
                                      "having count(distinct kind) = 2")}
    whole = coverage["card_and_tree_read"]
    assert 0 < whole["cells"] < report["overall"]["cells"]
    assert whole["unknown"] == sum(d["ours"] == "unknown" for model, rows in report["per_model"].items()
                                   if model.lower() in read for d in rows)


def test_a_label_file_is_compared_with_its_end_model_or_not_at_all(demo_db):
    """A file whose end model was not crawled is not covered, even when it links another crawled model (a base
    model, a sibling): judging that one would measure the wrong model."""
    from crawler.evaluate import evaluate
    from crawler.labels import repos_named

    db = open_db(demo_db)
    crawled = {r["repo_id"].lower() for r in db.query("select repo_id from subjects where kind = 'model' and "
                                                      "revision is not null")}
    files = evaluate(db, LABELS)["coverage"]["files"]
    elsewhere = []
    for entry in files:
        label = read_label_file(LABELS / entry["label_file"])
        if entry["matched"]:
            assert entry["matched"].lower() in {m.lower() for m in label.end_models}
            continue
        others = {m.lower() for m in repos_named((LABELS / entry["label_file"]).read_text())[0]} & crawled
        if others:
            elsewhere.append(entry)
            assert entry["reason"].startswith(("end model from", "no end-model")), entry
    assert elsewhere  # the bundled labels hold such files: each is reported, none compared with another model


def test_evaluate_works_on_any_directory_of_label_files(demo_db, tmp_path):
    labels = tmp_path / "unseen" / "nested"
    labels.mkdir(parents=True)
    for name in ("eosai/Mistral.yaml", "opening-up-chatgpt/bloomz.yaml"):
        shutil.copy(LABELS / name, labels / name.replace("/", "-"))
    (labels / "broken.yaml").write_text("system: [unclosed\n")
    result = run_openness("evaluate", "--labels", str(tmp_path / "unseen"), "--db", str(demo_db), "--json",
                          "--criteria", "licenses,modelcard")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["coverage"]["label_files"] == 2 and len(report["coverage"]["unreadable"]) == 1
    assert "broken.yaml" in report["coverage"]["unreadable"][0]
    assert set(report["per_criterion"]) <= {"licenses", "modelcard"}


def test_unknown_criterion_is_refused():
    result = run_openness("evaluate", "--labels", str(LABELS), "--criteria", "licences")
    assert result.returncode == 2 and "licences" in result.stderr


def seed_cells(demo_db):
    return compare_seed_table(open_db(demo_db), LABELS / "seed-table.csv", LABELS)


def test_seed_table_cells_are_each_reproduced_disputed_or_named_undecidable_with_the_reason(demo_db, capsys):
    cells = seed_cells(demo_db)
    assert len(cells) == 30  # six models x five criteria, as Nature printed them
    reproduced = [c for c in cells if c["ours"] == c["table"]]
    undecided = [c for c in cells if c["ours"] in (None, "unknown")]
    disputed = [c for c in cells if c not in reproduced and c not in undecided]
    with capsys.disabled():
        print(f"\nseed table: {len(reproduced)} cells reproduced, {len(disputed)} disputed, "
              f"{len(undecided)} not decidable from the bundled evidence:")
        for cell in disputed:
            print(f"  disputed {cell['model']} / {cell['criterion']}: table {cell['table']}, ours {cell['ours']}")
        for cell in undecided:
            print(f"  undecided {cell['model']} / {cell['criterion']} (table {cell['table']}): {cell['reason']}")
    assert all(c["reason"] for c in undecided)
    assert len(reproduced) + len(disputed) + len(undecided) == 30
    assert reproduced  # the engine decides some cells, and decides them as Nature printed them


@pytest.mark.xfail(strict=True, reason="five decidable cells of the seed table are still disputed (Mistral 7B-Instruct: "
                                       "training code, preprint, API; Orca 2: preprint, API); the test above lists "
                                       "them, and names the source each undecidable cell lacks")
def test_seed_table_every_decidable_cell_is_reproduced(demo_db):
    disputed = [c for c in seed_cells(demo_db) if c["ours"] not in (None, "unknown") and c["ours"] != c["table"]]
    assert disputed == []


def test_docs_accuracy_is_the_generated_report_of_the_current_code(demo_db):
    """docs/accuracy.md is generated (make accuracy), never edited: it must match what the code now produces."""
    from crawler.evaluate import evaluate, markdown_report

    expected = markdown_report(evaluate(open_db(demo_db), LABELS), "data/labels", "demo.db")
    assert (ROOT / "docs" / "accuracy.md").read_text(encoding="utf-8") == expected, \
        "docs/accuracy.md is stale: run `make accuracy`"


def test_the_split_keeps_each_family_on_one_side_and_is_the_same_every_time():
    """Files sharing an organisation, an end-model owner or a file name are one family, on one side only."""
    from crawler.evaluate import halves_of, read_label_dir

    files, _ = read_label_dir(LABELS)
    halves = halves_of(files)
    assert halves == halves_of(list(reversed(files)))  # the order files are read in changes nothing
    by_stem, by_org, by_owner = {}, {}, {}
    for label in files:
        family, half = halves[label.path]
        for index, key in ((by_stem, label.path.stem.lower()), (by_org, label.org.lower()),
                           *[(by_owner, m.split("/")[0].lower()) for m in label.end_models]):
            if key:
                index.setdefault(key, set()).add(half)
    for index in (by_stem, by_org, by_owner):
        assert all(len(sides) == 1 for sides in index.values())
    both = {name: sum(h == name for _, h in halves.values()) for name in ("study", "check")}
    assert min(both.values()) > 0.35 * len(files), both  # neither half a sliver
    # The same system in two label sets sits on one side.
    assert halves[LABELS / "eosai" / "mistral-nemo.yaml"] == halves[LABELS / "eosai-14" / "mistral-nemo.yaml"]


def test_evaluate_on_one_half_counts_only_its_files_and_reports_both(demo_db):
    from crawler.evaluate import evaluate

    db = open_db(demo_db)
    whole, check = evaluate(db, LABELS), evaluate(db, LABELS, split="check")
    assert {f["half"] for f in check["coverage"]["files"]} == {"check"}
    assert check["overall"] == whole["halves"]["check"]["overall"]
    assert whole["halves"]["study"]["overall"]["cells"] + check["overall"]["cells"] == whole["overall"]["cells"]
    result = run_openness("evaluate", "--labels", str(LABELS), "--db", str(demo_db), "--split", "half")
    assert result.returncode == 2 and "half" in result.stderr


def test_reliability_bins_cells_by_confidence_and_weighs_the_gaps():
    from crawler.evaluate import Cell, reliability

    def cell(expert, ours, confidence):
        return Cell("f", "s", "m", "licenses", expert, ours, "", "", "", [], "study", confidence)

    cells = [cell("open", "open", 0.95)] * 9 + [cell("open", "closed", 0.95)] + \
        [cell("open", "open", 0.45)] * 2 + [cell("closed", "open", 0.45)] * 2 + [cell("open", "unknown", 0.1)]
    table = reliability(cells)
    assert table["decided"] == 14 and table["confident"] == 10 and table["confident_agreement"] == 0.9
    assert [(b["bin"], b["cells"], b["agreement"]) for b in table["bins"]] == [("0.4-0.5", 4, 0.5),
                                                                               ("0.9-1.0", 10, 0.9)]
    assert table["ece"] == pytest.approx((4 * 0.05 + 10 * 0.05) / 14)


def test_calibration_shrinks_a_rule_toward_its_level_and_chooses_the_prior_on_held_out_families(demo_db):
    from crawler.calibrate import PRIOR_GRID, Shrunk, calibrate, calibration_table
    from crawler.evaluate import Cell, evaluate

    def cell(expert, ours, rule, family):
        return Cell(family, "s", "m", "licenses", expert, ours, "", "", "", [{"rule_id": rule}], "study", None)

    # Rule a is right in every family, rule b wrong in every family: what holds across families is learnt.
    cells = [cell("open", "open", "a", f"f{n}") for n in range(10) for _ in range(3)] + \
        [cell("closed", "open", "b", f"f{n}") for n in range(10)]
    table = calibration_table(cells, lambda c: c.label_file)
    assert table["prior_cells"] in PRIOR_GRID
    assert table["held_out_brier_by_prior"][table["prior_cells"]] == min(table["held_out_brier_by_prior"].values())
    level = table["decisions"]["licenses"]["open"]
    assert level["rules"]["a"]["confidence"] > level["confidence"] > level["rules"]["b"]["confidence"]
    assert level["rules"]["a"]["confidence"] < 1  # never sure from a count alone
    model = Shrunk(cells, 5)
    assert model.confidence(("licenses", "open", "a")) == pytest.approx(
        (30 + 5 * model.confidence(("licenses", "open"))) / (30 + 5))
    measured = calibrate(open_db(demo_db), LABELS)
    assert measured["half"] == "study"
    assert measured["decided_cells"] == evaluate(open_db(demo_db), LABELS, split="study")["overall"]["decided"]


def test_the_bundled_calibration_is_the_one_the_current_code_measures(demo_db):
    """data/rules/calibration.yaml is generated (make accuracy), never hand-set: it must match the current code."""
    from crawler.calibrate import CALIBRATION_FILE, calibrate, calibration_yaml

    assert CALIBRATION_FILE.read_text(encoding="utf-8") == calibration_yaml(calibrate(open_db(demo_db), LABELS),
                                                                            "data/labels"), \
        "data/rules/calibration.yaml is stale: run `make accuracy`"


def test_every_decided_judgement_carries_its_rules_measured_confidence(demo_db):
    from extractors.rules import calibration

    table = calibration()
    rows = list(open_db(demo_db).query(
        "select j.criterion, j.level, j.confidence, e.rule_id from judgements j join evidence e on "
        "e.subject_id = j.subject_id and e.criterion = j.criterion and e.ordinal = 0 where j.level != 'unknown'"))
    assert rows
    for row in rows:
        assert row["confidence"] == round(table.confidence(row["criterion"], row["level"], row["rule_id"]), 3), row


def test_a_family_keeps_its_settled_half_when_a_new_file_joins_it():
    """A new label file that joins a family (and changes its smallest key) never moves the family's files to the
    other half: the split of the bundled files is kept as data."""
    from crawler.label_split import half_of, settled_halves, split

    keys = {"eosai/Llama.yaml": {"org:meta", "file:llama"}, "eosai/Other.yaml": {"org:acme", "file:other"}}
    for half in ("study", "check"):
        joined = split({**keys, "eosai/Code Llama.yaml": {"org:meta", "file:code llama"}},
                       {"eosai/Llama.yaml": half})
        assert joined["eosai/Llama.yaml"][1] == joined["eosai/Code Llama.yaml"][1] == half
        assert joined["eosai/Other.yaml"][1] == half_of("file:other")  # unsettled: its hash
    bundled = {p.relative_to(LABELS).as_posix() for p in LABELS.rglob("*.yaml")}
    assert set(settled_halves()) == bundled
