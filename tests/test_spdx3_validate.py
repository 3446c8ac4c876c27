"""SPDX 3.0.1 documents validated offline against the bundled official schema and SHACL model (data/spdx-3.0.1)."""

from __future__ import annotations

import hashlib
import json
import re
import socket

import pytest

from click.testing import CliRunner

from crawler.export import spdx3, spdx3_validate
from crawler.export.spdx3_validate import FILES, validate
from conftest import run_openness

MODEL = "HuggingFaceH4/zephyr-7b-beta"  # in the demo: a licence, training datasets and a base model
RECORD = {"model": "a/b", "revision": "0" * 40, "public_url": "https://huggingface.co/a/b/tree/" + "0" * 40,
          "judgements": [], "datasets": [{"id": "c/d", "status": "ok"}], "base_models": ["e/f"],
          "declared_licence": {"license": "apache-2.0"}, "licence_class": None}
HEADER = {"tool_version": "0", "extractor_version": "0", "crawl_run_id": 1}


def _document() -> dict:
    return json.loads(spdx3.document(RECORD, HEADER))


def _element(data: dict, kind: str) -> tuple[int, dict]:
    return next((n, e) for n, e in enumerate(data["@graph"]) if e["type"] == kind)


def test_the_bundled_files_are_the_official_ones_their_provenance_names():
    provenance = (FILES / "PROVENANCE.md").read_text(encoding="utf-8")
    sums = dict(re.findall(r"^\| `([^`]+)` \|[^\n]*\| `([0-9a-f]{64})` \|$", provenance, re.M))
    assert set(sums) == {"spdx-model.ttl", "spdx-context.jsonld", "spdx-json-schema.json",
                         "spdx-json-serialize-annotations.ttl", "LICENSE.spdx-spec.txt"}
    for name, digest in sums.items():
        assert hashlib.sha256((FILES / name).read_bytes()).hexdigest() == digest, name
    assert "Community Specification License 1.0" in (FILES / "LICENSE.spdx-spec.txt").read_text(encoding="utf-8")


def test_a_document_of_the_export_passes_schema_and_shacl():
    report = validate(spdx3.document(RECORD, HEADER), "a/b")
    assert report.valid, str(report)
    assert str(report) == "a/b: valid SPDX 3.0.1"


def test_a_missing_creation_info_fails_with_its_findings():
    data = _document()
    number, owner = _element(data, "Agent")
    del owner["creationInfo"]
    report = validate(json.dumps(data), "a/b")
    assert not report.valid and report.model == "a/b"
    found = {(f.check, f.where, f.message.split(":")[0]) for f in report.findings}
    assert ("schema", f"$['@graph'][{number}]", "'creationInfo' is a required property") in found
    assert ("shacl", f"{owner['spdxId']} Core/creationInfo", "MinCountConstraintComponent") in found


def test_a_value_outside_an_enumeration_fails_with_its_findings():
    data = _document()
    number, model = _element(data, "ai_AIPackage")
    model["software_primaryPurpose"] = "toy"
    report = validate(json.dumps(data), "a/b")
    where = f"$['@graph'][{number}].software_primaryPurpose"
    assert [f.message for f in report.findings if f.check == "schema"] == [
        f.message for f in report.findings if f.where == where]
    assert any(f.where == where and f.message.startswith("'toy' is not one of") for f in report.findings)
    shacl = {(f.where, f.message.split(":")[0]) for f in report.findings if f.check == "shacl"}
    assert (f"{model['spdxId']} Software/primaryPurpose", "InConstraintComponent") in shacl


def test_a_dangling_reference_fails_with_its_finding():
    data = _document()
    _, model = _element(data, "ai_AIPackage")
    model["suppliedBy"] = "https://example.org/nobody"
    report = validate(json.dumps(data), "a/b")
    # The schema sees an IRI where an IRI is due; only SHACL knows nothing of that id is an Agent.
    assert [(f.check, f.where) for f in report.findings] == [("shacl", f"{model['spdxId']} Core/suppliedBy")]
    assert "ClassConstraintComponent" in report.findings[0].message
    assert "https://example.org/nobody" in report.findings[0].message
    assert "a/b: not valid SPDX 3.0.1 (1 findings)" in str(report)


def test_validation_makes_no_network_request(monkeypatch):
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise AssertionError(f"network attempt: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    for loaded in (spdx3_validate._schema_validator, spdx3_validate._shapes, spdx3_validate._context,
                   spdx3_validate._element_validator):
        loaded.cache_clear()  # the bundled files are read again under the guard
    assert validate(spdx3.document(RECORD, HEADER), "a/b").valid
    data = _document()
    del data["@graph"][0]["created"]
    assert not validate(json.dumps(data), "a/b").valid
    # A context the bundle does not hold is refused, not fetched: another version's, or one imported by an object.
    for context in ("https://spdx.org/rdf/3.0.0/spdx-context.jsonld",
                    [spdx3_validate.CONTEXT_URL, {"@import": "https://example.org/context.jsonld"}]):
        report = validate(json.dumps({**_document(), "@context": context}), "a/b")
        assert any(f.check == "json-ld" and "refused, not fetched" in f.message for f in report.findings)
    assert attempts == []


def test_export_validate_writes_every_valid_document(demo_db, tmp_path):
    folder = tmp_path / "spdx3"
    result = run_openness("export", MODEL, "--format", "spdx3", "--validate", "--db", str(demo_db),
                          "--out", str(folder))
    assert result.returncode == 0, result.stderr
    (path,) = folder.glob("*.spdx3.json")
    text = path.read_text(encoding="utf-8")
    assert '"trainedOn"' in text and '"descendantOf"' in text and '"hasDeclaredLicense"' in text
    assert validate(text, MODEL).valid
    cyclonedx = run_openness("export", MODEL, "--format", "cyclonedx", "--validate", "--db", str(demo_db),
                             "--out", str(tmp_path / "cdx"))
    assert cyclonedx.returncode == 0, cyclonedx.stderr
    refused = run_openness("export", MODEL, "--format", "jsonl", "--validate", "--db", str(demo_db))
    assert refused.returncode != 0 and "--validate checks spdx3 and cyclonedx documents, not jsonl" in refused.stderr


def test_export_validate_stops_at_a_failing_document_and_writes_nothing(demo_db, tmp_path, monkeypatch):
    from crawler.cli import cli

    built = spdx3.document

    def broken(*args, **kwargs):  # the model's owner loses its creation info
        data = json.loads(built(*args, **kwargs))
        _, owner = _element(data, "Agent")
        del owner["creationInfo"]
        return json.dumps(data)

    monkeypatch.setattr(spdx3, "document", broken)
    folder = tmp_path / "spdx3"
    folder.mkdir()
    (folder / "kept.txt").write_text("before", encoding="utf-8")
    result = CliRunner().invoke(cli, ["export", MODEL, "--format", "spdx3", "--validate", "--db", str(demo_db),
                                      "--out", str(folder)])
    assert result.exit_code == 1
    assert f"{MODEL}: not valid SPDX 3.0.1" in result.output
    assert "'creationInfo' is a required property" in result.output and "MinCountConstraintComponent" in result.output
    assert "nothing was written" in result.output
    assert sorted(p.name for p in folder.iterdir()) == ["kept.txt"]


def _annotation(data: dict, **extra) -> dict:
    creation = _element(data, "CreationInfo")[1]["@id"]
    return {"type": "Annotation", "spdxId": "https://example.org/annotation", "creationInfo": creation,
            "annotationType": "review", "statement": "fine", **extra}


def _defects():
    """(name, change to the document, the findings it must give as (check, where, start of message)): one of each
    kind of check, so that a faster validator cannot silently drop one."""
    def unknown_type(data):
        number, owner = _element(data, "Agent")
        owner["type"] = "Nonesuch"
        return [("schema", f"$['@graph'][{number}]", "unknown type 'Nonesuch'")]

    def type_not_a_string(data):
        number, owner = _element(data, "Agent")
        owner["type"] = 7
        return [("schema", f"$['@graph'][{number}]", "unknown type 7")]

    def not_an_object(data):
        data["@graph"].append("an element")
        return [("schema", f"$['@graph'][{len(data['@graph']) - 1}]", "unknown type None")]

    def to_not_an_element(data):  # a relationship to the creation info, which is no Element
        number, relationship = _element(data, "Relationship")
        relationship["to"] = [_element(data, "CreationInfo")[1]["@id"]]
        return [("shacl", f"{relationship['spdxId']} Core/to", "ClassConstraintComponent")]

    def supplied_by_a_licence(data):  # an Element, of the wrong class (an Agent is due)
        _, model = _element(data, "ai_AIPackage")
        model["suppliedBy"] = _element(data, "simplelicensing_LicenseExpression")[1]["spdxId"]
        return [("shacl", f"{model['spdxId']} Core/suppliedBy", "ClassConstraintComponent")]

    def value_of_another_enumeration(data):
        number, model = _element(data, "ai_AIPackage")
        model["software_primaryPurpose"] = "https://spdx.org/rdf/3.0.1/terms/Core/RelationshipType/describes"
        return [("schema", f"$['@graph'][{number}].software_primaryPurpose", "'https://spdx.org/"),
                ("shacl", f"{model['spdxId']} Software/primaryPurpose", "ClassConstraintComponent"),
                ("shacl", f"{model['spdxId']} Software/primaryPurpose", "InConstraintComponent")]

    def relationship_type_of_another_enumeration(data):
        number, relationship = _element(data, "Relationship")
        relationship["relationshipType"] = "model"
        return [("schema", f"$['@graph'][{number}].relationshipType", "'model' is not one of"),
                ("shacl", f"{relationship['spdxId']} Core/relationshipType", "InConstraintComponent")]

    def release_time_not_a_date(data):
        number, model = _element(data, "ai_AIPackage")
        model["releaseTime"] = "yesterday"
        return [("schema", f"$['@graph'][{number}].releaseTime", "'yesterday' does not match"),
                ("shacl", f"{model['spdxId']} Core/releaseTime", "PatternConstraintComponent")]

    def annotation_without_subject(data):
        data["@graph"].append(_annotation(data))
        return [("schema", f"$['@graph'][{len(data['@graph']) - 1}]", "'subject' is a required property"),
                ("shacl", "https://example.org/annotation Core/subject", "MinCountConstraintComponent")]

    def external_ref_without_type(data):
        number, model = _element(data, "ai_AIPackage")
        model["externalRef"] = [{"externalRefType": "documentation", "locator": ["https://example.org/doc"]}]
        return [("schema", f"$['@graph'][{number}].externalRef", "'type' is a required property"),
                ("shacl", f"{model['spdxId']} Core/externalRef", "ClassConstraintComponent")]

    def property_of_no_class(data):
        number, model = _element(data, "ai_AIPackage")
        model["colour"] = "red"
        return [("schema", f"$['@graph'][{number}]", "Unevaluated properties are not allowed ('colour' was")]

    def property_of_another_class(data):
        number, owner = _element(data, "Agent")
        owner["software_primaryPurpose"] = "model"
        return [("schema", f"$['@graph'][{number}]", "Unevaluated properties are not allowed")]

    return [(f.__name__, f) for f in (unknown_type, type_not_a_string, not_an_object, to_not_an_element,
                                      supplied_by_a_licence, value_of_another_enumeration,
                                      relationship_type_of_another_enumeration, release_time_not_a_date,
                                      annotation_without_subject, external_ref_without_type, property_of_no_class,
                                      property_of_another_class)]


@pytest.mark.parametrize("name, defect", _defects(), ids=[name for name, _ in _defects()])
def test_each_kind_of_defect_fails_with_its_finding(name, defect):
    data = _document()
    expected = defect(data)
    report = validate(json.dumps(data), "a/b")
    assert not report.valid, name
    for check, where, start in expected:
        assert any(f.check == check and f.where == where and f.message.startswith(start) for f in report.findings), (
            name, (check, where, start), str(report))


def test_what_the_defects_change_is_valid_when_right():
    data = _document()
    _, model = _element(data, "ai_AIPackage")
    model["externalRef"] = [{"type": "ExternalRef", "externalRefType": "documentation",
                             "locator": ["https://example.org/doc"]}]
    data["@graph"].append(_annotation(data, subject=model["spdxId"]))
    report = validate(json.dumps(data), "a/b")
    assert report.valid, str(report)


def test_the_quick_schema_verdict_is_the_whole_schemas():
    """The verdict checks each element against its own class (see `_schema_valid`); the whole schema agrees, on a
    valid document and on documents wrong in ways the shortcut treats apart."""
    whole = spdx3_validate._schema_validator()
    documents = [_document()]
    for change in (lambda d: d["@graph"][1].pop("type"), lambda d: d["@graph"].append([]),
                   lambda d: d["@graph"][1].update(type="https://example.org/Extension"),
                   lambda d: d["@graph"][1].update(colour="red"), lambda d: d.update(extra=1),
                   lambda d: d.pop("@graph"), lambda d: d.update({"@graph": d["@graph"][0]})):
        data = _document()
        change(data)
        documents.append(data)
    assert [spdx3_validate._schema_valid(d) for d in documents] == [whole.is_valid(d) for d in documents] == [
        True, *[False] * 7]


def test_the_shared_ontology_graph_holds_no_document_after_and_says_each_documents_blank_nodes():
    graph = spdx3_validate._ontology_graph()
    before = len(graph)
    for comment in ("the first", "the second"):  # every document's creation info is the blank node _:CreationInfo0
        data = _document()
        _, creation = _element(data, "CreationInfo")
        del creation["created"]
        creation["comment"] = comment
        (finding,) = [f for f in validate(json.dumps(data), "a/b").findings if f.check == "shacl"]
        assert finding.where == "CreationInfo0 Core/created" and "MinCountConstraintComponent" in finding.message
        assert comment in finding.message, finding.message
        assert len(graph) == before
