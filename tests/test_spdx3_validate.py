"""SPDX 3.0.1 documents validated offline against the bundled official schema and SHACL model (data/spdx-3.0.1)."""

from __future__ import annotations

import hashlib
import json
import re
import socket

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
    number, owner = _element(data, "Organization")
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

    def broken(record, header):  # the model's owner loses its creation info
        data = json.loads(built(record, header))
        _, owner = _element(data, "Organization")
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
