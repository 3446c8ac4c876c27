"""Access criteria: how the model can be used. A package on an index, an API."""

from __future__ import annotations

import re

from extractors.text import load_json, quote
from extractors.types import Evidence, Judgement, ModelArtifacts

API_MENTION = re.compile(r"\b(API|inference endpoints?|playground|platform)\b.{0,80}https?://", re.IGNORECASE)


def judge_package(model: ModelArtifacts) -> Judgement:
    """Open when the model's own repo publishes a versioned package; partial when user-oriented code exists
    without one (a code repo of its own, or a library the Hub names); closed otherwise."""
    facts = [a for a in model.code_files if a.kind == "package_facts"]
    for artifact in facts:
        data = load_json(artifact.text) or {}
        if data.get("version"):
            return Judgement("package", "open", 0.5, f"package {data.get('name')} {data['version']}", (
                Evidence("package.versioned", artifact.url, artifact.revision, data.get("file"),
                         quote(f"name {data.get('name')}, version {data['version']}"), artifact_id=artifact.artifact_id),))
    if facts or model.code_trees:
        artifact = (facts or list(model.code_trees))[0]
        return Judgement("package", "partial", 0.4, "code of its own, no versioned package found", (
            Evidence("package.code-only", artifact.url, artifact.revision, artifact.path, "code repo without a "
                     "versioned package", artifact_id=artifact.artifact_id),))
    info = load_json(model.model_json.text) if model.model_json else None
    library = info.get("library_name") if isinstance(info, dict) else None
    if library:
        return Judgement("package", "partial", 0.3, f"runs with the {library} library", (
            Evidence("package.library", model.model_json.url, model.revision, None, quote(f'"library_name": "{library}"'),
                     artifact_id=model.model_json.artifact_id),))
    where = model.card or model.model_json
    if where is None:
        return Judgement("package", "unknown", 0.0, "nothing could be read",
                         model.unavailable_evidence("model_json", "package.unavailable", None))
    return Judgement("package", "closed", 0.5, "no package found", (
        Evidence("package.none-found", where.url, where.revision, None,
                 "searched the model's own repos' packaging metadata and the Hub's library name",
                 artifact_id=where.artifact_id),), basis="absence")


def judge_api(model: ModelArtifacts) -> Judgement:
    """Partial when the card points to an API, a platform or a playground serving the model; closed otherwise.
    Whether an API is open or restricted is not visible from the Hub, so `open` is never given."""
    if model.card is None:
        if model.model_json is None:
            return Judgement("api", "unknown", 0.0, "nothing could be read",
                             model.unavailable_evidence("card", "api.unavailable", "README.md"))
        return Judgement("api", "unknown", 0.0, "the card could not be read",
                         model.unavailable_evidence("card", "api.unavailable", "README.md"))
    for number, line in enumerate(model.card.text.splitlines(), start=1):
        if API_MENTION.search(line):
            return Judgement("api", "partial", 0.3, "the card points to an API or platform", (
                Evidence("api.mention", model.card.url, model.card.revision, "README.md", quote(line, 200), number,
                         number, model.card.artifact_id),))
    return Judgement("api", "closed", 0.4, "no API named", (
        Evidence("api.none-found", model.card.url, model.card.revision, "README.md",
                 "searched the card for an API, platform or playground link", artifact_id=model.card.artifact_id),), basis="absence")
