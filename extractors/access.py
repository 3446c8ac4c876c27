"""Access criteria: how the model can be used. A package on an index, an API."""

from __future__ import annotations

import re
from functools import lru_cache

from extractors.packaging import package_metadata
from extractors.rules import package_rules
from extractors.text import TEXT_MEMO_SIZE, front_matter, key_line, lines_of, load_json, quote, squash
from extractors.types import Artifact, Evidence, Judgement, ModelArtifacts

API_MENTION = re.compile(r"\b(API|inference endpoints?|playground|platform)\b.{0,80}https?://", re.IGNORECASE)


PACKAGING_FILES = ("pyproject.toml", "setup.cfg", "setup.py")


def declared_packages(model: ModelArtifacts) -> list[tuple[Artifact, dict]]:
    """(file, {"file", "name", "version"}) of each package the model's own repos declare (extractors.packaging)."""
    found = []
    for artifact in model.code_files:
        if artifact.kind == "file" and (artifact.path or "").rsplit("/", 1)[-1].lower() in PACKAGING_FILES:
            facts = package_metadata(artifact.path, artifact.text)
            if facts:
                found.append((artifact, facts))
    return found


def _own_names(model: ModelArtifacts, declared: list[tuple[Artifact, dict]]) -> set[str]:
    """Names a package of the model's own would carry: its declared packages, its repos, its org, the first word
    of its name."""
    org, _, name = model.repo_id.partition("/")
    words = [w for w in re.split(r"[-_.]", name) if len(squash(w)) >= 3]
    names = {squash(org), *(squash(w) for w in words[:1]), *(squash(f["name"]) for _, f in declared)}
    names |= {squash(t.repo_id.partition("/")[2]) for t in model.code_trees if t.repo_id}
    return {n for n in names if len(n) >= 3}


@lru_cache(maxsize=TEXT_MEMO_SIZE)
def _install_matches(text: str) -> tuple[tuple[int, str, str, str], ...]:
    """(line number, line, rule id, package) of every install rule matching a line of `text`, rules in order.
    Memoised by text: the READMEs of an organisation's repos are read for each of its models."""
    found, rules = [], package_rules().install
    for number, line in enumerate(lines_of(text), start=1):
        for rule in rules:
            if match := rule.pattern.search(line):
                package = next(v for v in match.groups() if v) if any(match.groups()) else ""
                found.append((number, line, rule.rule_id, package))
    return tuple(found)


def install_lines(model: ModelArtifacts, declared: list[tuple[Artifact, dict]]) -> list[Evidence]:
    """Lines of the card and the model's own READMEs that install or run a package of the model's own: `pip
    install` of it, its PyPI page, a model runner's `ollama run` (data/rules/packages.yaml)."""
    rules, own = package_rules(), _own_names(model, declared)
    declared_names = {f["name"].lower() for _, f in declared}
    found = []
    for artifact in [a for a in (model.card, *model.code_files) if a is not None and a.kind in ("card", "readme")]:
        done = None  # a line gives one piece of evidence, from the first rule naming an own package
        for number, line, rule_id, package in _install_matches(artifact.text):
            lowered = package.lower().split("==")[0].split("[")[0]
            if number == done or lowered in rules.common_dependencies - declared_names:
                continue
            if any(n in squash(lowered) or squash(lowered) in n for n in own if len(squash(lowered)) >= 3):
                found.append(Evidence(rule_id, artifact.url, artifact.revision, artifact.path or "README.md",
                                      quote(line, 200), number, number, artifact.artifact_id, 0.6))
                done = number
    return found


def judge_package(model: ModelArtifacts) -> Judgement:
    """Open when the model installs from an index: a package of its own (a versioned package in its own repo, a
    `pip install` or PyPI page of it, a model runner's line), or, with no code of its own, a library its card declares
    (`library_name`: the model is a release on the Hub that a versioned library from an index loads); partial for
    a declared package without a version, or a library only the Hub infers; closed for a code repo with no
    package, or nothing at all."""
    declared = declared_packages(model)
    versioned = [(a, f) for a, f in declared if f["version"]]
    if versioned:
        artifact, facts = versioned[0]
        return Judgement("package", "open", 0.6, f"package {facts['name']} {facts['version']}", (
            Evidence("package.versioned", artifact.url, artifact.revision, facts["file"],
                     quote(f"name {facts['name']}, version {facts['version']}"), artifact_id=artifact.artifact_id),))
    installs = install_lines(model, declared)
    if installs:
        return Judgement("package", "open", 0.6, "the model's own package installs from an index", tuple(installs[:3]))
    if declared:
        artifact, facts = declared[0]
        return Judgement("package", "partial", 0.5, f"package {facts['name']} declared without a version", (
            Evidence("package.unversioned", artifact.url, artifact.revision, facts["file"],
                     quote(f"name {facts['name']}, no literal version"), artifact_id=artifact.artifact_id),))
    if model.code_trees:
        tree = model.code_trees[0]
        return Judgement("package", "closed", 0.5, "code of its own, no package", (
            Evidence("package.code-only", tree.url, tree.revision, None, "the model's own repos declare no package "
                     "and no install line names one", artifact_id=tree.artifact_id),))
    meta, span, _ = front_matter(model.card.text) if model.card else (None, None, None)
    declared_library = meta.get("library_name") if isinstance(meta, dict) else None
    if isinstance(declared_library, str) and declared_library.strip():
        line, text = key_line(model.card.text, "library_name", span) or (None, f"library_name: {declared_library}")
        return Judgement("package", "open", 0.3, f"the card declares the {declared_library} library that loads it",
                         (Evidence("package.card-library", model.card.url, model.card.revision, "README.md",
                                   quote(text), line, line, model.card.artifact_id),))
    info = load_json(model.model_json.text) if model.model_json else None
    library = info.get("library_name") if isinstance(info, dict) else None
    if library:  # the Hub's own guess from the files, not the publisher's declaration
        return Judgement("package", "partial", 0.3, f"runs with the {library} library", (
            Evidence("package.library", model.model_json.url, model.revision, None,
                     quote(f'"library_name": "{library}"'), artifact_id=model.model_json.artifact_id),))
    where = model.card or model.model_json
    if where is None:
        return Judgement("package", "unknown", 0.0, "nothing could be read",
                         model.unavailable_evidence("model_json", "package.unavailable", None))
    return Judgement("package", "closed", 0.5, "no package found", (
        Evidence("package.none-found", where.url, where.revision, None,
                 "searched the model's own repos' packaging metadata, install lines and the Hub's library name",
                 artifact_id=where.artifact_id),), basis="absence")


BADGE = re.compile(r"img\.shields\.io|badge|star-history\.com|api\.star-history", re.IGNORECASE)
# An API the data came from is not one serving the model: "The fine-tuning data was generated by OpenAI API calls".
DATA_FROM_AN_API = re.compile(r"\b(generated|produced|collected|created|distilled)\b[^.\n]{0,40}\bapi\b|\bapi calls?\b",
                              re.IGNORECASE)


def hosted_inference(model: ModelArtifacts) -> Evidence | None:
    """The card's `inference: true`: the publisher turned on the Hub's hosted inference API for the model, which
    anyone may call (rate limits aside): an unrestricted API, the index's open level."""
    meta, span, _ = front_matter(model.card.text)
    if not isinstance(meta, dict) or meta.get("inference") is not True:
        return None
    line, text = key_line(model.card.text, "inference", span) or (None, "inference: true")
    return Evidence("api.hub-inference", model.card.url, model.card.revision, "README.md", quote(text), line, line,
                    model.card.artifact_id, 0.5)


@lru_cache(maxsize=TEXT_MEMO_SIZE)
def _api_mention(text: str) -> tuple[int, str] | None:
    """(number, line) of the first line pointing to an API, a platform or a playground (badges and data made with
    an API are not)."""
    for number, line in enumerate(lines_of(text), start=1):
        if API_MENTION.search(line) and not BADGE.search(line) and not DATA_FROM_AN_API.search(line):
            return number, line
    return None


def judge_api(model: ModelArtifacts) -> Judgement:
    """Open when the card turns on the Hub's hosted inference API (`inference: true`); partial when the card or the
    model's own README points to an API, a platform or a playground serving the model (badges are not); closed
    otherwise. Whether another API is open or restricted is not visible from the Hub, so it is partial."""
    if model.card is None:
        if model.model_json is None:
            return Judgement("api", "unknown", 0.0, "nothing could be read",
                             model.unavailable_evidence("card", "api.unavailable", "README.md"))
        return Judgement("api", "unknown", 0.0, "the card could not be read",
                         model.unavailable_evidence("card", "api.unavailable", "README.md"))
    if (hosted := hosted_inference(model)) is not None:
        return Judgement("api", "open", 0.5, "the card turns on the Hub's hosted inference API", (hosted,))
    readmes = [a for a in model.code_files if a.kind == "readme"]
    for artifact in (model.card, *readmes):
        if (mention := _api_mention(artifact.text)) is not None:
            number, line = mention
            return Judgement("api", "partial", 0.3, "the card or the model's own README points to an API or "
                             "platform", (Evidence("api.mention", artifact.url, artifact.revision,
                                                   artifact.path or "README.md", quote(line, 200), number, number,
                                                   artifact.artifact_id),))
    return Judgement("api", "closed", 0.4, "no API named", (
        Evidence("api.none-found", model.card.url, model.card.revision, "README.md",
                 "searched the card and the model's own READMEs for an API, platform or playground link",
                 artifact_id=model.card.artifact_id),), basis="absence")
