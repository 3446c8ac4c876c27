"""A CycloneDX 1.6 ML-BOM per model, built with cyclonedx-python-lib and checked with its schema validator."""

from __future__ import annotations

import json
from urllib.parse import quote

from cyclonedx.model import ExternalReference, ExternalReferenceType, Property, XsUri
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.license import DisjunctiveLicense, LicenseExpression
from cyclonedx.output.json import JsonV1Dot6
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from license_expression import ExpressionError
from spdx_tools.common.spdx_licensing import spdx_licensing  # spdx-tools' SPDX licence index

from crawler.public import HUB


class InvalidBom(ValueError):
    """The BOM does not validate against the CycloneDX 1.6 schema; the message names the model."""


def _licences(declared: dict) -> list:
    ids = declared.get("license")
    ids = ids if isinstance(ids, list) else [ids] if ids else []
    licences = []
    for licence_id in (str(i) for i in ids):
        try:
            expression = spdx_licensing.parse(licence_id, validate=True, strict=True)
            licences.append(LicenseExpression(str(expression)))
        except ExpressionError:
            licences.append(DisjunctiveLicense(name=licence_id))  # a Hub id with no SPDX id (llama3, openrail …)
    return licences


def uri(url: str) -> XsUri:
    """A URL as the schema's `iri-reference`: characters no URL holds as such (controls, spaces, an id stored before
    ids were checked may carry them) percent-encoded, what is already encoded kept."""
    return XsUri(quote(url, safe=":/?#[]@!$&'()*+,;=%~"))


def bom(record: dict, header: dict) -> str:
    """The ML-BOM as JSON text: the model (`machine-learning-model`, with our judgements and framework verdicts as
    properties and a `modelCard` naming its datasets), its datasets (`data`) and base models, validated."""
    model = Component(type=ComponentType.MACHINE_LEARNING_MODEL, name=record["model"], version=record["revision"],
                      bom_ref="model", licenses=_licences(record["declared_licence"]))
    model.external_references.add(ExternalReference(type=ExternalReferenceType.WEBSITE, url=uri(record["public_url"])))
    for j in record["judgements"]:
        model.properties.add(Property(name=f"openness:{j['criterion']}", value=j["level"]))
    for key, verdict in record["frameworks"].items():
        model.properties.add(Property(name=f"openness:framework:{key}", value=verdict["verdict"]))
    document = Bom(components=[model])
    datasets = []
    for number, dataset in enumerate(record["datasets"]):
        ref = f"dataset-{number}"
        component = Component(type=ComponentType.DATA, name=dataset["id"], bom_ref=ref)
        component.external_references.add(ExternalReference(type=ExternalReferenceType.WEBSITE,
                                                            url=uri(f"{HUB}/datasets/{dataset['id']}")))
        component.properties.add(Property(name="openness:crawl_status", value=dataset["status"]))
        document.components.add(component)
        datasets.append({"ref": ref})
    for number, base in enumerate(record["base_models"]):
        component = Component(type=ComponentType.MACHINE_LEARNING_MODEL, name=base, bom_ref=f"base-{number}")
        component.properties.add(Property(name="openness:relation", value="base model of " + record["model"]))
        document.components.add(component)
    document.properties.add(Property(name="openness:export", value=json.dumps(header, sort_keys=True)))
    data = json.loads(JsonV1Dot6(document).output_as_string())
    # cyclonedx-python-lib 11 has no model card type yet (its Component.model_card is a TODO): the 1.6 schema's
    # `modelCard` is added to the serialized component, and the whole BOM is validated after.
    card = {"modelParameters": {"datasets": datasets}} if datasets else {"modelParameters": {}}
    card["considerations"] = {"technicalLimitations": [f"{j['criterion']}: {j['level']} — {j['summary']}"
                                                       for j in record["judgements"] if j["level"] != "open"]}
    next(c for c in data["components"] if c["bom-ref"] == "model")["modelCard"] = card
    text = json.dumps(data, indent=2, ensure_ascii=False)
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    if error is not None:
        raise InvalidBom(f"{record['model']}: CycloneDX 1.6 BOM does not validate: {error}")
    return text
