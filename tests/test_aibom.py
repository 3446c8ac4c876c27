"""SPDX 3.0.1 AI-BOMs hold what the store knows of each model (licences, datasets, lineage, judgements, dates), and
every document of the demo's crawl of the bundled snapshot is valid against the official schema and SHACL model."""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3

import pytest
from conftest import ROOT, run_openness

from crawler.export import aibom, spdx3
from crawler.export.spdx3_validate import validate
from crawler.store import open_db

HEADER = {"tool_version": "0", "extractor_version": "0", "crawl_run_id": 1}


def graph(text: str) -> dict:
    """The document's elements by id, and its relationships as (from, type) -> targets."""
    elements = {e["spdxId"]: e for e in json.loads(text)["@graph"] if "spdxId" in e}
    return elements


def related(elements: dict, source: str, kind: str) -> list[dict]:
    return [elements[t] for e in elements.values() if e["type"] == "Relationship" and e["from"] == source
            and e["relationshipType"] == kind for t in e["to"]]


def model_of(elements: dict) -> dict:
    (document,) = [e for e in elements.values() if e["type"] == "SpdxDocument"]
    return elements[document["rootElement"][0]]


@pytest.fixture(scope="module")
def demo_documents(demo_db, tmp_path_factory):
    """Every model of the demo store exported as SPDX 3.0.1 with validation on, in process, with every socket
    connection refused: a validator that reached for the network would fail the export."""
    from crawler.export.writer import export

    out = tmp_path_factory.mktemp("aibom") / "spdx3"
    real_connect = socket.socket.connect

    def refuse(self, address):
        raise AssertionError(f"the export tried to connect to {address}")

    socket.socket.connect = refuse
    try:
        count = export(open_db(demo_db), "spdx3", str(out), validate=True)
    finally:
        socket.socket.connect = real_connect
    documents = {p.name: p.read_text() for p in out.glob("*.spdx3.json")}
    assert count == len(documents) > 100
    return documents


def store_facts(demo_db) -> dict:
    """What the store holds per model, read with SQL of its own (not through the export's code)."""
    db = sqlite3.connect(demo_db)
    facts = {}
    for subject_id, repo_id in db.execute("select id, repo_id from subjects where kind = 'model' and revision is not "
                                          "null"):
        declared = db.execute("select declared from model_licences where subject_id = ?", [subject_id]).fetchone()
        ids = json.loads(declared[0]).get("license") if declared and declared[0].startswith("{") else None
        links = db.execute("select relation, to_subject from links where from_subject = ?", [subject_id]).fetchall()
        levels = dict(db.execute("select criterion, level from judgements where subject_id = ?", [subject_id]))
        searched = db.execute("select searched from judgements where subject_id = ? and criterion = "
                              "'datasources_endmodel'", [subject_id]).fetchone()
        named = {s["source"].partition(":")[2] for s in json.loads(searched[0] if searched and searched[0] else "[]")
                 if s["source"].startswith(("dataset:", "linked-dataset:"))}
        declared_row = json.loads(declared[0]) if declared and declared[0].startswith("{") else {}
        info = db.execute("select b.content from artifacts a join subjects s on s.repo_id = a.repo_id and "
                          "s.revision = a.revision join blobs b on b.sha256 = a.content_sha256 where s.id = ? and "
                          "a.kind = 'model_json' and a.repo_type = 'model'", [subject_id]).fetchone()
        facts[repo_id] = {
            "declared": [] if ids is None else ids if isinstance(ids, list) else [ids],
            "datasets": {t.split(":", 2)[2] for r, t in links if r == "dataset"} | named,
            "licence_name": declared_row.get("license_name"),
            "bases": {t.split(":", 2)[2] for r, t in links if r.startswith("base_model") and t != subject_id},
            "levels": levels, "created": json.loads(info[0]).get("createdAt") if info else None}
    return facts


def test_every_demo_model_exports_valid_spdx_carrying_what_the_store_holds(demo_db, demo_documents):
    facts = store_facts(demo_db)
    seen = set()
    for name, text in demo_documents.items():
        elements = graph(text)
        model = model_of(elements)
        held = facts[model["name"]]
        seen.add(model["name"])
        declared = related(elements, model["spdxId"], "hasDeclaredLicense")
        assert len(declared) == len(held["declared"]), name
        for element, licence_id in zip(declared, held["declared"]):
            expression = element["simplelicensing_licenseExpression"]
            named = held["licence_name"] if str(licence_id).lower() == "other" and held["licence_name"] else licence_id
            if spdx3.licence_expression(str(licence_id)) and named == licence_id:
                assert expression.lower() == str(licence_id).lower(), name  # an SPDX id, as declared
            else:  # a licence SPDX does not list, by the name the card gives it
                assert expression == "LicenseRef-" + re.sub(r"[^A-Za-z0-9.-]+", "-", str(named)).strip("-"), name
        datasets = related(elements, model["spdxId"], "trainedOn")
        assert {d["name"] for d in datasets} == {d for d in held["datasets"]} and all(
            d["type"] == "dataset_DatasetPackage" for d in datasets), name
        bases = related(elements, model["spdxId"], "descendantOf")
        assert {b["name"] for b in bases} == held["bases"] and all(b["type"] == "ai_AIPackage" for b in bases), name
        reviews = [e for e in elements.values() if e["type"] == "Annotation"]
        assert {json.loads(r["statement"])["criterion"]: json.loads(r["statement"])["level"]
                for r in reviews} == held["levels"], name
        assert ("releaseTime" in model) == bool(held["created"]), name  # the Hub's date, or none: never the export's
        for licence in related(elements, model["spdxId"], "hasConcludedLicense"):
            if licence["type"] == "expandedlicensing_CustomLicense":
                assert licence["simplelicensing_licenseText"].strip()
                assert all(u.startswith("https://") for u in licence["expandedlicensing_seeAlso"])
            else:
                assert spdx3.licence_expression(licence["simplelicensing_licenseExpression"])
    assert seen == set(facts)


def test_the_demo_documents_hold_every_kind_of_element_the_issue_names(demo_documents):
    """Across the demo: declared and concluded licences (custom ones with their text), datasets with availability,
    base models and the judgements, each linked to the model."""
    kinds = set()
    for text in demo_documents.values():
        elements = graph(text)
        model = model_of(elements)
        for kind in ("hasDeclaredLicense", "hasConcludedLicense", "trainedOn", "descendantOf"):
            kinds |= {(kind, e["type"]) for e in related(elements, model["spdxId"], kind)}
        kinds |= {("availability", e.get("dataset_datasetAvailability")) for e in elements.values()
                  if e["type"] == "dataset_DatasetPackage"}
    assert {("hasDeclaredLicense", "simplelicensing_LicenseExpression"),
            ("hasConcludedLicense", "expandedlicensing_CustomLicense"), ("trainedOn", "dataset_DatasetPackage"),
            ("descendantOf", "ai_AIPackage"), ("availability", "directDownload")} <= kinds


def test_a_judgement_annotation_names_level_confidence_and_the_public_evidence(demo_db, demo_documents):
    db = sqlite3.connect(demo_db)
    elements = graph(demo_documents["meta-llama__Meta-Llama-3-8B.spdx3.json"])
    (licences,) = [json.loads(e["statement"]) for e in elements.values()
                   if e["type"] == "Annotation" and json.loads(e["statement"])["criterion"] == "licenses"]
    level, confidence = db.execute("select level, confidence from judgements where subject_id = ? and criterion = "
                                   "'licenses'", ["hf:model:meta-llama/Meta-Llama-3-8B"]).fetchone()
    urls = {u for (u,) in db.execute("select public_url from evidence where subject_id = ? and criterion = 'licenses'",
                                     ["hf:model:meta-llama/Meta-Llama-3-8B"])}
    assert (licences["level"], licences["confidence"]) == (level, confidence)
    assert licences["evidence"] and set(licences["evidence"]) == urls
    assert all(u.startswith("https://") for u in licences["evidence"])


def test_a_custom_licence_carries_the_text_and_its_public_url(demo_documents):
    elements = graph(demo_documents["meta-llama__Meta-Llama-3-8B.spdx3.json"])
    model = model_of(elements)
    (declared,) = related(elements, model["spdxId"], "hasDeclaredLicense")
    assert declared["simplelicensing_licenseExpression"] == "LicenseRef-llama3"  # `license: other`, `license_name`
    (reference,) = declared["externalRef"]  # not customIdToUri: that maps a LicenseRef to a CustomLicense element
    (link,) = reference["locator"]
    assert reference["externalRefType"] == "license"
    assert link.startswith("https://huggingface.co/meta-llama/Meta-Llama-3-8B/blob/")
    assert link.endswith("/LICENSE")  # the card's `license_link: LICENSE`, at the crawled revision
    custom = [e for e in related(elements, model["spdxId"], "hasConcludedLicense")
              if e["type"] == "expandedlicensing_CustomLicense"]
    assert any("700 million monthly active users" in c["simplelicensing_licenseText"] for c in custom)


def test_facts_the_store_lacks_in_the_demo_come_out_as_the_spdx_model_names_them():
    """releaseTime from the Hub's createdAt, availability from gating, type from the modality tags, an SPDX text's id
    as the concluded licence: built from facts the demo's captures do not hold (no createdAt, no gated dataset)."""
    record = {"model": "org/model", "revision": "1" * 40, "public_url": "https://huggingface.co/org/model/tree/" +
              "1" * 40, "judgements": [], "datasets": [], "base_models": [], "declared_licence": {"license": "mit"},
              "licence_class": "permissive"}
    facts = aibom.Facts(
        released="2024-04-17T09:35:12.000Z",
        concluded=[aibom.LicenceText("LICENSE of org/code", "https://github.com/org/code/blob/2/LICENSE", "MIT text",
                                     "MIT")],
        datasets=[aibom.Dataset("org/gated", "ok", "https://huggingface.co/datasets/org/gated/tree/3", None,
                                ("text",), ("cc-by-4.0",)),
                  aibom.Dataset("org/click", "ok", "https://huggingface.co/datasets/org/click/tree/4", "clickthrough",
                                (), ())],
        bases=[aibom.Base("org/base", "missing", None)])
    text = spdx3.document(record, HEADER, facts)
    assert validate(text, "org/model").valid, str(validate(text, "org/model"))
    elements = graph(text)
    model = model_of(elements)
    assert model["releaseTime"] == "2024-04-17T09:35:12Z"
    (concluded,) = related(elements, model["spdxId"], "hasConcludedLicense")
    assert concluded["simplelicensing_licenseExpression"] == "MIT"
    gated, click = related(elements, model["spdxId"], "trainedOn")
    assert ("dataset_datasetAvailability" not in gated, gated["dataset_datasetType"]) == (True, ["text"])
    assert (click["dataset_datasetAvailability"], click["dataset_datasetType"]) == ("clickthrough", ["noAssertion"])
    (licence,) = related(elements, gated["spdxId"], "hasDeclaredLicense")
    assert licence["simplelicensing_licenseExpression"] == "CC-BY-4.0"
    (base,) = related(elements, model["spdxId"], "descendantOf")
    assert "software_downloadLocation" not in base  # a base the Hub does not hold has no download location


@pytest.mark.parametrize("gated, availability", [("False", "directDownload"), ("auto", "clickthrough"),
                                                 ("manual", None), (None, None)])
def test_a_datasets_availability_follows_its_gating_in_the_store(demo_copy, gated, availability):
    """A crawled dataset's gating, as the store holds it, gives SPDX's availability: open files download directly, an
    automatic approval is a click-through, a manual one (terms, then the owner's decision) is none of SPDX's kinds."""
    db = sqlite3.connect(demo_copy)
    model, dataset = db.execute("select l.from_subject, l.to_subject from links l join subjects s on s.id = "
                                "l.to_subject where l.relation = 'dataset' and s.revision is not null "
                                "order by 1, 2 limit 1").fetchone()
    with db:
        db.execute("update subjects set gated = ? where id = ?", [gated, dataset])
    found = {d.id: d for d in aibom.datasets(open_db(demo_copy), model)}
    assert found[dataset.split(":", 2)[2]].availability == availability


@pytest.mark.parametrize("link, public", [
    ("LICENSE", "https://huggingface.co/o/m/blob/r/LICENSE"),
    ("./LICENSE.md", "https://huggingface.co/o/m/blob/r/LICENSE.md"),
    (".github/LICENSE", "https://huggingface.co/o/m/blob/r/.github/LICENSE"), ("../../other/LICENSE", None),
    ("/etc/passwd", None), ("javascript:alert(1)", None), ("mailto:a@b.c", None), ("http://127.0.0.1:8000/L", None),
    ("http://localhost/L", None), ("http://10.1.2.3/L", None), ("https://allenai.org/impact-license",
                                                                "https://allenai.org/impact-license"), (7, None)])
def test_a_cards_licence_link_becomes_a_public_url_or_nothing(link, public):
    assert aibom.licence_link({"declared_licence": {"license_link": link}, "model": "o/m", "revision": "r"}) == public


def test_the_concluded_licence_of_an_spdx_licences_text_is_its_id_and_two_licences_name_none():
    """A real Apache-2.0 text (mistral-inference's LICENSE) as the model repo's own licence file concludes Apache-2.0;
    the same text with MIT's grant added names two licences, which concludes no SPDX id."""
    from extractors.licences import text_licence_id
    from extractors.types import Artifact, ModelArtifacts

    apache = (ROOT / "data/snapshot/github/mistralai/mistral-inference/files/LICENSE").read_text()
    mit_too = apache + "\nPermission is hereby granted, free of charge, to any person obtaining a copy\n"
    assert (text_licence_id(apache), text_licence_id(mit_too)) == ("Apache-2.0", None)
    model = ModelArtifacts("o/m", "r", "https://huggingface.co/o/m", files=(
        Artifact("a1", "file", "https://huggingface.co/o/m/resolve/r/LICENSE", "r", "LICENSE", apache, "o/m"),))
    (licence,) = aibom.weights_licence_texts(open_db(":memory:"), model)
    # Not in this (empty) store: its public URL falls back to the model's page at the revision, never the fetched one.
    assert (licence.spdx, licence.url) == ("Apache-2.0", "https://huggingface.co/o/m/tree/r")
    text = spdx3.document({"model": "o/m", "revision": "r", "public_url": "https://huggingface.co/o/m/tree/r",
                           "judgements": [], "datasets": [], "base_models": [], "declared_licence": {}},
                          HEADER, aibom.Facts(concluded=[licence]))
    elements = graph(text)
    (concluded,) = related(elements, model_of(elements)["spdxId"], "hasConcludedLicense")
    assert concluded["simplelicensing_licenseExpression"] == "Apache-2.0"


@pytest.mark.parametrize("declared, expressions", [
    ({"license": " "}, []), ({"license": True}, []), ({"license": ["mit", None, ""]}, ["MIT"]),
    ({"license": "other", "license_name": ["a", "b"]}, ["LicenseRef-other"]),
    ({"license_name": "yi-license"}, ["LicenseRef-yi-license"]),
    ({"license": "Apache-2.0 OR MIT"}, ["Apache-2.0 OR MIT"])])
def test_odd_declared_licences_never_read_as_a_licence_they_are_not(declared, expressions):
    record = {"model": "o/m", "revision": "r", "public_url": "https://huggingface.co/o/m/tree/r", "judgements": [],
              "datasets": [], "base_models": [], "declared_licence": declared}
    text = spdx3.document(record, HEADER)
    assert validate(text, "o/m").valid
    elements = graph(text)
    found = related(elements, model_of(elements)["spdxId"], "hasDeclaredLicense")
    assert [e["simplelicensing_licenseExpression"] for e in found] == expressions


@pytest.mark.parametrize("created", ["0001-01-01T00:00:00+01:00", "2024-04-17", "2024-04-17T09:35:12", "yesterday",
                                     None, 17])
def test_a_release_time_the_hub_did_not_give_whole_is_left_out(created):
    record = {"model": "o/m", "revision": "r", "public_url": "https://huggingface.co/o/m/tree/r", "judgements": [],
              "datasets": [], "base_models": [], "declared_licence": {}}
    text = spdx3.document(record, HEADER, aibom.Facts(released=created))
    assert "releaseTime" not in model_of(graph(text))


def test_the_id_namespace_is_a_setting(demo_db, tmp_path):
    out = tmp_path / "spdx3"
    result = run_openness("export", "--format", "spdx3", "--db", str(demo_db), "--out", str(out),
                          "meta-llama/Meta-Llama-3-8B", env={**os.environ,
                                                             "OPENNESS_SPDX_NAMESPACE": "https://example.org/aibom"})
    assert result.returncode == 0, result.stderr
    ids = list(graph((out / "meta-llama__Meta-Llama-3-8B.spdx3.json").read_text()))
    assert ids and all(i.startswith("https://example.org/aibom/meta-llama/Meta-Llama-3-8B/tree/") for i in ids)
    refused = run_openness("export", "--format", "spdx3", "--db", str(demo_db), "--out", str(tmp_path / "x"),
                           "--spdx-namespace", "urn:x?y")
    assert refused.returncode == 2 and "--spdx-namespace" in refused.stderr and not (tmp_path / "x").exists()
    for bad in ("https://example.org/a b/", "https://user@example.org/", "https://example.org/#x", "ftp://e.org/"):
        with pytest.raises(ValueError):
            spdx3.check_namespace(bad)


def test_export_validate_exits_0_on_the_demo_store(demo_db, tmp_path):
    out = tmp_path / "spdx3"
    result = run_openness("export", "--format", "spdx3", "--validate", "--db", str(demo_db), "--out", str(out),
                          "meta-llama/Meta-Llama-3-8B", "mistralai/Mistral-7B-v0.1")
    assert result.returncode == 0, result.stderr
    assert len(list(out.glob("*.spdx3.json"))) == 2


def test_each_open_text_rule_names_a_listed_spdx_licence_or_none():
    """The rules' data names the SPDX id an export concludes from an open text: each must be a listed licence."""
    from extractors.licences import text_licence_id
    from extractors.rules import licence_phrases

    named = [rule for rule in licence_phrases().open_texts if rule.spdx]
    assert named
    for rule in named:
        assert spdx3.licence_expression(rule.spdx) == rule.spdx, rule.rule_id
    assert text_licence_id("Apache License, Version 2.0. You will not use the Llama Materials to improve any other "
                           "large language model") is None  # restrictions outweigh an open licence's phrase
