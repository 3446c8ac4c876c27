"""`openness export` over the demo's store: each format checked by its own validator or round trip, framework
verdicts by their rules, analysts' overrides with --effective."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3

import pytest

from conftest import ROOT, run_openness
from extractors import CRITERIA
from extractors.frameworks import framework_rules, verdicts


def demo_models(db) -> int:
    return sqlite3.connect(db).execute("select count(*) from subjects where kind = 'model' and revision is not null"
                                       ).fetchone()[0]


def test_jsonl_every_line_validates_against_the_published_schema(demo_db, tmp_path):
    import jsonschema

    out = tmp_path / "all.jsonl"
    assert run_openness("export", "--format", "jsonl", "--db", str(demo_db), "--out", str(out)).returncode == 0
    validator = jsonschema.Draft202012Validator(json.loads((ROOT / "docs" / "export-jsonl.schema.json").read_text()))
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    for line in lines:
        validator.validate(line)
    head, models = lines[0], lines[1:]
    assert head["record"] == "header" and head["crawl_run_id"] and head["extractor_version"]
    assert len(models) == demo_models(demo_db)
    assert all(e["public_url"].startswith(("https://huggingface.co/", "https://github.com/"))
               for m in models for j in m["judgements"] for e in j["evidence"])
    with pytest.raises(jsonschema.ValidationError):  # the schema is not a formality
        validator.validate({**models[0], "judgements": models[0]["judgements"][:3]})


def test_csv_is_a_row_per_model_and_criterion_with_a_sidecar(demo_db, tmp_path):
    out = tmp_path / "all.csv"
    assert run_openness("export", "--format", "csv", "--db", str(demo_db), "--out", str(out)).returncode == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert len(rows) == 14 * demo_models(demo_db)
    assert {r["criterion"] for r in rows} == set(CRITERIA) and {r["reviewed"] for r in rows} <= {"yes", "no"}
    meta = json.loads((tmp_path / "all.csv.meta.json").read_text())
    assert meta["format"] == "csv" and meta["models"] == demo_models(demo_db)


def test_csv_text_is_never_a_spreadsheet_formula():
    from crawler.export.formats import csv_rows

    hostile = '=HYPERLINK("http://evil.example/","open")'
    record = {"model": "a/b", "revision": "0" * 40, "public_url": "https://huggingface.co/a/b", "judgements": [
        {"criterion": "licenses", "level": "open", "machine_level": "open", "confidence": 0.9, "confident": True,
         "summary": hostile,
         "evidence": [], "review": None},
        {"criterion": "code", "level": "closed", "machine_level": "closed", "confidence": 0.5,
         "confident": False, "summary": "nothing found = closed", "evidence": [], "review": None}]}
    rows = list(csv.DictReader(io.StringIO("".join(csv_rows(iter([record]))))))
    assert rows[0]["summary"] == "'" + hostile  # shown as text, not run
    assert rows[1]["summary"] == "nothing found = closed"  # text that does not start a formula stays verbatim


@pytest.mark.parametrize("criteria", ["12", "14"])
def test_index_yaml_round_trips_through_evaluate_at_100_percent(criteria, demo_db, tmp_path):
    folder = tmp_path / "index"
    result = run_openness("export", "--format", "index-yaml", "--criteria", criteria, "--db", str(demo_db),
                          "--out", str(folder))
    assert result.returncode == 0, result.stderr
    report = json.loads(run_openness("evaluate", "--labels", str(folder), "--db", str(demo_db), "--json").stdout)
    assert report["coverage"]["matched"] == report["coverage"]["label_files"] == demo_models(demo_db)
    assert report["overall"]["exact_agreement"] == 1.0 and report["overall"]["unknown"] == 0
    judged = {c for m in report["per_criterion"] for c in [m]}
    assert ("api" in judged) == (criteria == "14")
    assert "CC-BY 4.0" in next(folder.glob("*.yaml")).read_text()


def test_cyclonedx_boms_validate_against_the_1_6_schema(demo_db, tmp_path):
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    folder = tmp_path / "cdx"
    assert run_openness("export", "--format", "cyclonedx", "--db", str(demo_db), "--out", str(folder)).returncode == 0
    files = sorted(folder.glob("*.cdx.json"))
    assert len(files) == demo_models(demo_db)
    validator = JsonStrictValidator(SchemaVersion.V1_6)
    for path in files[::10]:
        text = path.read_text(encoding="utf-8")
        assert validator.validate_str(text) is None, path
        model = next(c for c in json.loads(text)["components"] if c["bom-ref"] == "model")
        assert model["type"] == "machine-learning-model" and "modelCard" in model
        assert {p["name"] for p in model["properties"]} >= {f"openness:{c}" for c in CRITERIA}
    assert validator.validate_str('{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": 3}') is not None


def test_badges_are_shields_endpoint_json_per_model_and_group(demo_db, tmp_path):
    folder = tmp_path / "badges"
    assert run_openness("export", "--format", "badges", "--db", str(demo_db), "--out", str(folder)).returncode == 0
    badge = json.loads(next(folder.glob("*.openness.json")).read_text())
    assert badge["schemaVersion"] == 1 and badge["label"] == "openness" and badge["message"].endswith("/14")
    groups = {p.name.rsplit(".", 2)[1] for p in folder.glob("*.json") if p.name != "_export.json"}
    assert groups == {"openness", "availability", "documentation", "access"}


ALL_OPEN = {c: "open" for c in CRITERIA}


@pytest.mark.parametrize("levels, expected", [
    (ALL_OPEN, "Class I (Open Science)"),
    ({**ALL_OPEN, "paper": "closed", "datasources_basemodel": "partial"}, "Class II (Open Tooling)"),
    ({**ALL_OPEN, "trainingcode": "partial"}, "Class III (Open Model)"),
    ({**ALL_OPEN, "licenses": "partial"}, "not classed"),
    ({**ALL_OPEN, "weights_endmodel": "unknown"}, "not classed"),
])
def test_mof_class_by_its_component_lists(levels, expected):
    assert verdicts(levels)["mof"]["verdict"] == expected


def test_osaid_and_eu_ai_act_name_the_failing_criteria():
    found = verdicts({**ALL_OPEN, "trainingcode": "closed", "modelcard": "partial"})
    assert found["osaid"]["verdict"] == "does not meet the checklist"
    assert found["osaid"]["failing"] == [{"criterion": "trainingcode", "level": "closed", "required": "open"}]
    assert found["eu_ai_act"]["verdict"] == "exemption candidate"  # a usable card and open licence suffice there
    closed_licence = verdicts({**ALL_OPEN, "licenses": "closed"})["eu_ai_act"]
    assert closed_licence["verdict"] == "not a candidate" and closed_licence["failing"][0]["criterion"] == "licenses"


def test_effective_exports_the_analysts_overrides_and_says_so(demo_db, tmp_path):
    db = tmp_path / "reviewed.db"
    shutil.copy(demo_db, db)
    con = sqlite3.connect(db)
    subject, machine = con.execute("select subject_id, level from judgements where criterion = 'licenses' and "
                                   "level = 'open' limit 1").fetchone()
    con.execute("insert into reviews (subject_id, criterion, verdict, level_override, level_seen, note, reviewer, "
                "created_at) values (?, 'licenses', 'override', 'partial', 'open', 'the weights licence restricts "
                "use', 'alice', '2026-12-01T00:00:00+00:00')", [subject])
    con.commit()
    model = subject.split(":", 2)[2]

    def licence_of(*extra):
        out = run_openness("export", "--format", "jsonl", model, "--db", str(db), *extra).stdout.splitlines()
        head, record = json.loads(out[0]), json.loads(out[1])
        return head, next(j for j in record["judgements"] if j["criterion"] == "licenses")

    head, licence = licence_of("--effective")
    assert "overrides" in head["levels"] and licence["level"] == "partial" and licence["machine_level"] == machine
    assert licence["review"] == {"reviewer": "alice", "note": "the weights licence restricts use"}
    head, licence = licence_of()
    assert "machine" in head["levels"] and licence["level"] == machine and licence["review"] is None


def test_show_names_each_framework_verdict_and_what_fails_it(demo_db):
    report = json.loads(run_openness("show", "Qwen/Qwen2.5-32B", "--db", str(demo_db), "--json").stdout)
    assert set(report["frameworks"]) == set(framework_rules())  # every framework of the rules, G7 included
    levels = {j["criterion"]: j["level"] for j in report["judgements"]}
    for verdict in report["frameworks"].values():
        assert all(levels[f["criterion"]] == f["level"] for f in verdict["failing"])


def test_spdx3_documents_read_back_with_the_ai_profile_and_relationships(demo_db, tmp_path):
    from spdx_python_model import v3_0_1 as spdx

    folder = tmp_path / "spdx3"
    result = run_openness("export", "--format", "spdx3", "--db", str(demo_db), "--out", str(folder))
    assert result.returncode == 0, result.stderr
    files = sorted(folder.glob("*.spdx3.json"))
    assert len(files) == demo_models(demo_db)
    kinds = set()
    for path in files[::8]:
        objects = spdx.SHACLObjectSet()
        with path.open("rb") as handle:
            spdx.JSONLDDeserializer().read(handle, objects)  # the bindings read back what they wrote
        (document,) = list(objects.foreach_type(spdx.SpdxDocument))
        (model,) = [e for e in document.rootElement]
        assert isinstance(model, spdx.ai_AIPackage) and model.software_downloadLocation.startswith("https://")
        kinds |= {r.relationshipType for r in objects.foreach_type(spdx.Relationship)}
    assert spdx.RelationshipType.hasDeclaredLicense in kinds and spdx.RelationshipType.descendantOf in kinds


def test_spdx3_refuses_what_the_model_does_not_allow():
    from crawler.export.spdx3 import InvalidSpdx, document

    record = {"model": "a/b", "revision": "0" * 40, "public_url": "https://huggingface.co/a/b/tree/" + "0" * 40,
              "judgements": [], "datasets": [], "base_models": [], "declared_licence": {}, "licence_class": None}
    header = {"tool_version": "0", "extractor_version": "0", "crawl_run_id": 1}
    assert "ai_AIPackage" in document(record, header)
    with pytest.raises(InvalidSpdx, match="a/b"):
        document({**record, "datasets": [{"id": 7, "status": "ok"}]}, header)  # a dataset name must be a string
