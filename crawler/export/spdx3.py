"""An SPDX 3.0.1 JSON-LD AI-BOM per model, filled from what the store knows and nothing invented:
- the model as `ai_AIPackage` (its revision, public page, the Hub's `createdAt` as `releaseTime`, its supplier);
- the declared licence (the card's `license`, `license_name`, `license_link`) as SPDX licence expressions, a licence
  SPDX does not list as `LicenseRef-<name>` with its text's URL as an external reference of type license (or, when
  the store holds that text, its CustomLicense element), by `hasDeclaredLicense`;
- the concluded licence, from the licence texts of the weights the store holds (crawler.export.aibom): an SPDX
  licence's text as its id, terms of their own as an `expandedlicensing_CustomLicense` with the text and its URL,
  by `hasConcludedLicense` (no relationship when no text is held: NOASSERTION, as SPDX reads an absent one);
- each named training dataset as `dataset_DatasetPackage` (availability from its gating, type from its `modality:`
  tags, its declared licences), by `trainedOn`;
- each base model as its own `ai_AIPackage`, by `descendantOf`, the lineage relationship SPDX 3 defines;
- the 14 judgements as `Annotation`s of the model (a JSON statement: level, machine level, confidence, summary,
  rules, evidence URLs, reviewer), ids naming the crawl run.
- suppliers as `Agent`s (a Hub account's namespace: the store does not know a person from an organisation).

Element ids live under a namespace (`--spdx-namespace`, OPENNESS_SPDX_NAMESPACE; by default the public Hub, so an id
is the model's page at its revision with a fragment): `{namespace}{model}/tree/{revision}#spdx-{element}`.

Why the SPDX project's generated bindings (spdx-python-model) and not spdx-tools: spdx-tools 0.8.5's SPDX 3 writer
is experimental and writes draft namespaces; the bindings are generated from the official 3.0.1 model and enforce
its classes, property types, enumerations and cardinalities as the document is built and serialized (an invalid
document raises). `export --validate` also checks each document against the official JSON schema and SHACL model,
offline, with the files bundled in data/spdx-3.0.1 (crawler/export/spdx3_validate.py). Licence ids are checked with
spdx-tools' SPDX licence index, as the CycloneDX export does."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from urllib.parse import quote, urlsplit

from license_expression import ExpressionError
from spdx_tools.common.spdx_licensing import spdx_licensing  # spdx-tools' SPDX licence index
from spdx_python_model import v3_0_1 as spdx

from crawler.export.aibom import Facts
from crawler.public import HUB

DEFAULT_NAMESPACE = f"{HUB}/"
IRI_SAFE = ":/%-._~!$&'()*+,;="  # what a namespace may hold unescaped (RFC 3986 path characters)


class InvalidSpdx(ValueError):
    """The bindings refused the document; the message names the model."""


def check_namespace(value: str) -> str:
    """The namespace element ids are minted under: an http(s) URL without query or fragment, ending in `/`."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment \
            or "@" in parts.netloc or quote(value, safe=IRI_SAFE) != value:
        raise ValueError(f"{value!r}: an SPDX id namespace is an http(s) URL without user, query, fragment or "
                         "characters an IRI must escape (e.g. https://example.org/aibom/)")
    return value if value.endswith("/") else value + "/"


def licence_expression(licence_id: str) -> str | None:
    """The SPDX expression of a licence id, or None when SPDX does not list it."""
    try:
        parsed = spdx_licensing.parse(licence_id.strip(), validate=True, strict=True)
    except ExpressionError:
        return None
    return str(parsed) if parsed is not None else None  # a blank id parses to nothing


def licence_ref(name: str) -> str:
    return "LicenseRef-" + (re.sub(r"[^A-Za-z0-9.-]+", "-", name).strip("-") or "unnamed")


def _time(value: str | None) -> dt.datetime | None:
    """A date-time with its zone, in UTC; None for anything else (a date alone, no zone: not guessed)."""
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else None
        if moment is None or moment.tzinfo is None or "T" not in value:
            return None
        return moment.astimezone(dt.timezone.utc).replace(microsecond=0)
    except (ValueError, OverflowError):  # a year out of range once in UTC
        return None


class _Builder:
    """One document's elements, minted under the model's id prefix."""

    def __init__(self, record: dict, header: dict, namespace: str):
        self.base = f"{namespace}{quote(record['model'], safe='/')}/tree/{quote(record['revision'], safe='')}#spdx-"
        self.objects = spdx.SHACLObjectSet()
        self.elements: list = []
        self.agent = spdx.SoftwareAgent(spdxId=self.base + "tool", name="openness evidence crawler")
        self.info = spdx.CreationInfo(
            specVersion="3.0.1", created=dt.datetime.now(dt.timezone.utc).replace(microsecond=0),
            createdBy=[self.agent], comment=f"openness-crawler {header['tool_version']}, extractors "
                                            f"{header['extractor_version']}, crawl run {header['crawl_run_id']}")
        self.agent.creationInfo = self.info
        self.add(self.agent)
        self.suppliers: dict[str, object] = {}

    def add(self, element):
        self.objects.add(element)
        self.elements.append(element)
        return element

    def supplier(self, repo_id: str):
        """The Hub account publishing a repo (the id's namespace); None for a repo without one."""
        owner = repo_id.split("/", 1)[0] if "/" in repo_id else None
        if owner and owner not in self.suppliers:  # an Agent: the store does not know a person from an organisation
            self.suppliers[owner] = self.add(spdx.Agent(spdxId=f"{self.base}supplier-{quote(owner, safe='')}",
                                                        name=owner, creationInfo=self.info))
        return self.suppliers.get(owner)

    def relate(self, source, kind, targets: list) -> None:
        """One relationship of a kind from an element, named by both (the same id means the same statement in every
        document of the model)."""
        if targets:
            name = source._id.rpartition("#spdx-")[2]
            self.add(spdx.Relationship(spdxId=f"{self.base}{name}-{kind.rpartition('/')[2]}", creationInfo=self.info,
                                       from_=source, to=targets, relationshipType=kind))

    def expression(self, key: str, text: str, link: str | None = None):
        """A licence expression; `link`: where a licence SPDX does not list is told (an external reference of type
        license, not customIdToUri, which maps a LicenseRef to a CustomLicense element)."""
        expression = self.add(spdx.simplelicensing_LicenseExpression(
            spdxId=self.base + key, creationInfo=self.info, simplelicensing_licenseExpression=text))
        if link:
            expression.externalRef = [spdx.ExternalRef(externalRefType=spdx.ExternalRefType.license, locator=[link])]
        return expression


def document(record: dict, header: dict, facts: Facts | None = None, namespace: str = DEFAULT_NAMESPACE) -> str:
    """The SPDX 3.0.1 JSON-LD text of one model."""
    facts = facts or Facts.of_record(record)
    try:
        doc = _Builder(record, header, namespace)
        model = _model(doc, record, facts)
        _annotations(doc, model, record, header)
        concluded = _concluded(doc, facts)
        doc.relate(model, spdx.RelationshipType.hasDeclaredLicense, _declared(doc, record, facts, concluded))
        doc.relate(model, spdx.RelationshipType.hasConcludedLicense, [element for _, element in concluded])
        doc.relate(model, spdx.RelationshipType.trainedOn, _datasets(doc, facts))
        doc.relate(model, spdx.RelationshipType.descendantOf, _bases(doc, facts))
        doc.objects.add(spdx.SpdxDocument(
            spdxId=doc.base + "document", creationInfo=doc.info, rootElement=[model], element=doc.elements,
            name=f"AI-BOM of {record['model']} at {record['revision']}",
            profileConformance=[spdx.ProfileIdentifierType.core, spdx.ProfileIdentifierType.software,
                                spdx.ProfileIdentifierType.ai, spdx.ProfileIdentifierType.dataset,
                                spdx.ProfileIdentifierType.simpleLicensing,
                                spdx.ProfileIdentifierType.expandedLicensing]))
        out = io.BytesIO()
        spdx.JSONLDSerializer().write(doc.objects, out, indent=2)
    except (TypeError, ValueError) as exc:
        raise InvalidSpdx(f"{record['model']}: not a valid SPDX 3.0.1 document: {exc}") from exc
    return out.getvalue().decode("utf-8")


def _model(doc: _Builder, record: dict, facts: Facts):
    model = doc.add(spdx.ai_AIPackage(
        spdxId=doc.base + "model", name=record["model"], creationInfo=doc.info,
        software_packageVersion=record["revision"], software_downloadLocation=record["public_url"],
        software_primaryPurpose=spdx.software_SoftwarePurpose.model))
    if supplier := doc.supplier(record["model"]):
        model.suppliedBy = supplier
    if released := _time(facts.released):
        model.releaseTime = released
    return model


def _annotations(doc: _Builder, model, record: dict, header: dict) -> None:
    """Each judgement as a review of the model, its statement JSON a tool can read back. Its id names the crawl run
    (a later run's judgement is another statement) and whether an analyst's level replaced the machine's."""
    for judgement in record["judgements"]:
        urls = list(dict.fromkeys(e["public_url"] for e in judgement["evidence"] if e.get("public_url")))
        review = judgement.get("review")
        statement = {"criterion": judgement["criterion"], "level": judgement["level"],
                     "machine_level": judgement.get("machine_level", judgement["level"]),
                     "confidence": judgement["confidence"], "summary": judgement["summary"],
                     "rules": judgement["rule_ids"], "evidence": urls,
                     "reviewer": review["reviewer"] if review else None}
        key = f"judgement-{judgement['criterion']}-run-{header.get('crawl_run_id')}" + ("-reviewed" if review else "")
        doc.add(spdx.Annotation(spdxId=doc.base + key, creationInfo=doc.info, subject=model,
                                annotationType=spdx.AnnotationType.review, contentType="application/json",
                                statement=json.dumps(statement, sort_keys=True)))


def _declared_ids(declared: dict) -> list[str]:
    """The card's licence ids (`license`, a string or a list), `license_name` standing for `other` (and for a
    missing `license`, as the licence lineage reads it); anything but a non-blank string or number is no id."""
    name = declared.get("license_name")
    name = name.strip() if isinstance(name, str) and name.strip() else None
    ids = declared.get("license")
    ids = [str(i).strip() for i in (ids if isinstance(ids, list) else [ids])
           if isinstance(i, (str, int, float)) and not isinstance(i, bool) and str(i).strip()]
    ids = [name if i.lower() == "other" and name else i for i in ids]
    return ids or ([name] if name else [])


def _declared(doc: _Builder, record: dict, facts: Facts, concluded: list) -> list:
    """The declared licences: an SPDX licence as its expression; another as `LicenseRef-<name>`, or, when the card's
    `license_link` is a text the store holds, that text's CustomLicense element."""
    found = []
    for number, licence_id in enumerate(_declared_ids(record["declared_licence"])):
        text = licence_expression(licence_id)
        held = next((e for url, e in concluded if url == facts.licence_link), None) if text is None else None
        if held is not None:
            found.append(held)
        else:
            found.append(doc.expression(f"declared-licence-{number}", text or licence_ref(licence_id),
                                        facts.licence_link if text is None else None))
    return found


def _concluded(doc: _Builder, facts: Facts) -> list:
    """The concluded licences, each with the public URL of its text (without its line anchor)."""
    found = []
    for number, licence in enumerate(facts.concluded):
        key = f"concluded-licence-{number}"
        if licence.spdx:
            element = doc.expression(key, licence.spdx)
        else:
            element = doc.add(spdx.expandedlicensing_CustomLicense(
                spdxId=doc.base + key, creationInfo=doc.info, name=licence.name,
                simplelicensing_licenseText=licence.text, expandedlicensing_seeAlso=[licence.url]))
        found.append((licence.url.partition("#")[0], element))
    return found


def _datasets(doc: _Builder, facts: Facts) -> list:
    found = []
    for number, dataset in enumerate(facts.datasets):
        package = doc.add(spdx.dataset_DatasetPackage(
            spdxId=f"{doc.base}dataset-{number}", name=dataset.id, creationInfo=doc.info,
            software_primaryPurpose=spdx.software_SoftwarePurpose.data, comment=f"crawl status: {dataset.status}",
            dataset_datasetType=[getattr(spdx.dataset_DatasetType, t) for t in dataset.types]
            or [spdx.dataset_DatasetType.noAssertion]))
        if dataset.page:
            package.software_downloadLocation = dataset.page
        if dataset.availability:
            package.dataset_datasetAvailability = getattr(spdx.dataset_DatasetAvailabilityType, dataset.availability)
        if supplier := doc.supplier(dataset.id):
            package.suppliedBy = supplier
        licences = [doc.expression(f"dataset-{number}-licence-{n}", licence_expression(i) or licence_ref(i))
                    for n, i in enumerate(dataset.licences) if i.strip()]
        doc.relate(package, spdx.RelationshipType.hasDeclaredLicense, licences)
        found.append(package)
    return found


def _bases(doc: _Builder, facts: Facts) -> list:
    found = []
    for number, parent in enumerate(facts.bases):
        package = doc.add(spdx.ai_AIPackage(
            spdxId=f"{doc.base}base-{number}", name=parent.id, creationInfo=doc.info,
            software_primaryPurpose=spdx.software_SoftwarePurpose.model, comment=f"crawl status: {parent.status}"))
        if parent.page:
            package.software_downloadLocation = parent.page
        if supplier := doc.supplier(parent.id):
            package.suppliedBy = supplier
        found.append(package)
    return found
