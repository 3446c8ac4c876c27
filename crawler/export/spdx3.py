"""An SPDX 3.0.1 JSON-LD document per model with the AI profile: the model as `ai_AIPackage`, its training data as
`dataset_DatasetPackage` elements, licences as SPDX expressions (`LicenseRef-` with the class for others), and
relationships (trainedOn, hasDeclaredLicense, descendantOf for the base model).

Why the SPDX project's generated bindings (spdx-python-model) and not spdx-tools: spdx-tools 0.8.5's SPDX 3 writer
is experimental and writes draft namespaces; the bindings are generated from the official 3.0.1 model and enforce
its classes, property types, enumerations and cardinalities as the document is built and serialized (an invalid
document raises). `export --validate` also checks each document against the official JSON schema and SHACL model,
offline, with the files bundled in data/spdx-3.0.1 (crawler/export/spdx3_validate.py). Licence expressions are checked with spdx-tools' SPDX licence
index, as the CycloneDX export does."""

from __future__ import annotations

import datetime as dt
import io
import re

from license_expression import ExpressionError
from spdx_tools.common.spdx_licensing import spdx_licensing  # spdx-tools' SPDX licence index
from spdx_python_model import v3_0_1 as spdx

from crawler.public import HUB

NAMESPACE = "https://openness-crawler.invalid/spdx/"  # document-local ids; the public URLs are in the elements


class InvalidSpdx(ValueError):
    """The bindings refused the document; the message names the model."""


def _expression(licence_id: str, licence_class: str | None) -> str:
    try:
        return str(spdx_licensing.parse(licence_id, validate=True, strict=True))
    except ExpressionError:
        ref = re.sub(r"[^A-Za-z0-9.-]", "-", licence_id)
        return f"LicenseRef-{ref}" + (f"-{re.sub(r'[^A-Za-z0-9.-]', '-', licence_class)}" if licence_class else "")


def document(record: dict, header: dict) -> str:
    """The SPDX 3.0.1 JSON-LD text of one model."""
    base = f"{NAMESPACE}{record['model'].replace('/', '__')}/{record['revision']}#"
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    try:
        objects = spdx.SHACLObjectSet()
        agent = spdx.SoftwareAgent(spdxId=base + "tool")
        info = spdx.CreationInfo(specVersion="3.0.1", created=now, createdBy=[agent],
                                 comment=f"openness-crawler {header['tool_version']}, extractors "
                                         f"{header['extractor_version']}, crawl run {header['crawl_run_id']}")
        agent.creationInfo = info
        agent.name = "openness evidence crawler"
        owner = objects.add(spdx.Organization(spdxId=base + "owner", name=record["model"].split("/", 1)[0],
                                              creationInfo=info))
        levels = {j["criterion"]: j for j in record["judgements"]}
        model = objects.add(spdx.ai_AIPackage(
            spdxId=base + "model", name=record["model"], creationInfo=info, suppliedBy=owner,
            software_packageVersion=record["revision"], software_downloadLocation=record["public_url"],
            software_primaryPurpose=spdx.software_SoftwarePurpose.model, releaseTime=now,
            ai_informationAboutTraining=levels["datasources_endmodel"]["summary"] if "datasources_endmodel" in levels
            else "not judged",
            comment="; ".join(f"{c}: {j['level']}" for c, j in levels.items())))
        elements = [model, owner, agent]
        relationships = []
        for number, dataset in enumerate(record["datasets"]):
            data = objects.add(spdx.dataset_DatasetPackage(
                spdxId=f"{base}dataset-{number}", name=dataset["id"], creationInfo=info, releaseTime=now,
                builtTime=now, software_primaryPurpose=spdx.software_SoftwarePurpose.data,
                software_downloadLocation=f"{HUB}/datasets/{dataset['id']}", originatedBy=[owner],
                dataset_datasetType=[spdx.dataset_DatasetType.other], comment=f"crawl status: {dataset['status']}"))
            elements.append(data)
            relationships.append((data, spdx.RelationshipType.trainedOn, "trained"))
        for number, parent in enumerate(record["base_models"]):
            ancestor = objects.add(spdx.ai_AIPackage(
                spdxId=f"{base}base-{number}", name=parent, creationInfo=info, releaseTime=now, suppliedBy=owner,
                software_downloadLocation=f"{HUB}/{parent}", software_primaryPurpose=spdx.software_SoftwarePurpose.model))
            elements.append(ancestor)
            relationships.append((ancestor, spdx.RelationshipType.descendantOf, "base"))
        ids = record["declared_licence"].get("license")
        for number, licence_id in enumerate(ids if isinstance(ids, list) else [ids] if ids else []):
            licence = objects.add(spdx.simplelicensing_LicenseExpression(
                spdxId=f"{base}licence-{number}", creationInfo=info,
                simplelicensing_licenseExpression=_expression(str(licence_id), record.get("licence_class"))))
            elements.append(licence)
            relationships.append((licence, spdx.RelationshipType.hasDeclaredLicense, "licence"))
        for number, (target, kind, _) in enumerate(relationships):
            # SPDX 3 reads a relationship from its subject: the model trainedOn / descendantOf / hasDeclaredLicense.
            elements.append(objects.add(spdx.Relationship(spdxId=f"{base}relationship-{number}", creationInfo=info,
                                                          from_=model, to=[target], relationshipType=kind)))
        objects.add(spdx.SpdxDocument(
            spdxId=base + "document", creationInfo=info, rootElement=[model], element=elements,
            name=f"AI-BOM of {record['model']} at {record['revision']}",
            profileConformance=[spdx.ProfileIdentifierType.core, spdx.ProfileIdentifierType.software,
                                spdx.ProfileIdentifierType.ai, spdx.ProfileIdentifierType.dataset,
                                spdx.ProfileIdentifierType.simpleLicensing]))
        objects.add(agent)
        out = io.BytesIO()
        spdx.JSONLDSerializer().write(objects, out, indent=2)
    except (TypeError, ValueError) as exc:
        raise InvalidSpdx(f"{record['model']}: not a valid SPDX 3.0.1 document: {exc}") from exc
    return out.getvalue().decode("utf-8")
