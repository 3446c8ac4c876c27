"""The facts the change history versions besides judgements: of a model, its revision, card, declared licence,
gating and weights present; of a GitHub repo, its head commit and licence files. Pure: read from the stored
artifacts, each with the URL it was read from."""

from __future__ import annotations

import hashlib
import json

from extractors.availability import tree_files, weight_file_matches
from extractors.licence_index import classify
from extractors.licences import LicenceText, declared_licence, read_licence_text
from extractors.rules import hub_licences
from extractors.text import front_matter, is_text
from extractors.types import Artifact, ModelArtifacts


def model_facts(model: ModelArtifacts, gated: str | None) -> dict[str, tuple[str, str]]:
    """aspect -> (value, URL it was read from). An aspect whose source was not read is left out, so a failed fetch
    is never recorded as a change."""
    facts = {"revision": (model.revision or "", model.page_url)}
    if model.card is not None:
        digest = hashlib.sha256(model.card.text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        facts["card"] = (f"sha256:{digest} at {model.card.revision}", model.card.url)
    if model.card is not None or model.model_json is not None:
        declared, evidence, _ = declared_licence(model)
        value = json.dumps(declared, sort_keys=True, default=str) if declared else "none declared"
        where = evidence[0].url if evidence else (model.card or model.model_json).url
        facts["licence"] = (value, where)
        facts["licence_class"] = (licence_classes(declared), where)
    if gated is not None:
        facts["gated"] = (gated, model.model_json.url if model.model_json else model.page_url)
    files = tree_files(model)
    if files is not None:
        weights = sorted(path for path, _ in weight_file_matches(p for p, _ in files))
        where = model.tree_pages[0].url if model.tree_pages else model.model_json.url
        facts["weights"] = (f"{len(weights)} weight files" + (f" ({weights[0]} …)" if weights else ""), where)
    return facts



def unreadable(model: ModelArtifacts) -> list[tuple[Artifact, str]]:
    """The stored documents of a model that could not be read as what they should be, with why: a card whose
    front matter is refused or invalid, a card or licence file that is not text. Each becomes a recorded error."""
    found = []
    if model.card is not None:
        if not is_text(model.card.text):
            found.append((model.card, "README.md is not text (binary, or an encoding other than UTF-8/16)"))
        elif (error := front_matter(model.card.text)[2]) is not None:
            found.append((model.card, error))
    for artifact in model.files:
        if not is_text(artifact.text):
            found.append((artifact, f"{artifact.path} is not text (binary, an image or a PDF?): not read as a "
                                    f"licence"))
    return found


def licence_classes(declared: dict) -> str:
    """The class of each declared licence id: the Hub table's (permissive, copyleft, non-commercial, …), else the
    level the SPDX index gives, else `custom`."""
    ids = declared.get("license")
    ids = ids if isinstance(ids, list) else [ids] if ids else []
    classes = []
    for licence_id in (str(i).strip().lower() for i in ids if isinstance(i, (str, int, float))):
        entry = hub_licences().get(licence_id)
        known = classify(licence_id) if entry is None else None
        classes.append(entry.licence_class if entry else f"{known.level} (SPDX)" if known else "custom")
    return ", ".join(dict.fromkeys(classes)) or "none declared"


LICENCE_FILE_PREFIXES = ("licen", "copying", "model_licen", "data_licen", "use_policy", "notice")


def code_repo_facts(head: str, page_url: str, files: list[Artifact]) -> dict[str, tuple[str, str]]:
    """A GitHub repo's versioned facts: its head commit, and its licence files (path, content digest, and whether
    the text reads as open or restricted)."""
    facts = {"revision": (head, page_url)}
    licences = sorted((a for a in files if (a.path or "").rsplit("/", 1)[-1].lower().startswith(LICENCE_FILE_PREFIXES)),
                      key=lambda a: a.path or "")
    if licences:
        parts = []
        for artifact in licences:
            verdict = read_licence_text(LicenceText(artifact, "code", artifact.text))
            digest = hashlib.sha256(artifact.text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
            parts.append(f"{artifact.path} sha256:{digest} ({verdict.level or 'not recognised'})")
        facts["licence"] = ("; ".join(parts), licences[0].url)
    else:
        facts["licence"] = ("no licence file", page_url)
    return facts
