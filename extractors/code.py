"""The model's own code repos read once for every criterion: every file of their trees, and its code files by
the scope of training they show. Shared by the training-code and code-documentation judges."""

from __future__ import annotations

from extractors.rules import code_file_rules
from extractors.text import load_json
from extractors.types import Artifact, ModelArtifacts


def code_paths(model: ModelArtifacts) -> list[tuple[Artifact, str]]:
    """(tree artifact, path) of every file in the model's own GitHub repos."""
    found = []
    for tree in model.code_trees:
        data = load_json(tree.text)
        prefix = (tree.path or "").split(":", 1)[1] if ":" in (tree.path or "") else ""
        entries = data.get("tree") if isinstance(data, dict) else None
        for entry in entries if isinstance(entries, list) else []:  # a stored answer of any shape: skip the junk
            if isinstance(entry, dict) and entry.get("type") == "blob" and isinstance(entry.get("path"), str):
                found.append((tree, prefix + entry["path"]))
    return found


def training_scope(model: ModelArtifacts) -> dict[str, list[tuple[Artifact, str]]]:
    """The code files of the model's own repos by the scope of training they show: pretraining (a whole pipeline),
    finetuning (only fine-tuning, alignment or adapters), inference (running the model), other code."""
    rules = code_file_rules()
    scope: dict[str, list[tuple[Artifact, str]]] = {"pretraining": [], "finetuning": [], "inference": [], "other": []}
    for tree, path in code_paths(model):
        if not rules.is_code(path):
            continue
        lowered = path.lower()
        group = next((g for g in ("finetuning", "pretraining", "inference") if rules[g].matches(lowered)), "other")
        scope[group].append((tree, path))
    return scope
