"""What each criterion searched, and the rule that an absence decides only when the sources that would show the
opposite were read: `closed` for "nothing found" in a card that was never captured is our blind spot, not the
model's closure, so it becomes `unknown` naming the source that was missing."""

from __future__ import annotations

from dataclasses import replace

from extractors.cards import text_datasets
from extractors.rules import glob_matcher
from extractors.text import load_json, quote
from extractors.types import Evidence, Judgement, ModelArtifacts, Source

# The sources whose reading could show the opposite of "nothing found", per criterion (globs over source names).
DECIDING_SOURCES = {
    "datasources_endmodel": ("card",),
    "datasources_basemodel": ("card",),
    "weights_endmodel": ("tree",),
    "weights_basemodel": ("tree",),
    "trainingcode": ("card", "github:*"),
    "code": ("card", "github:*"),
    "hardware_architecture": ("card",),
    "preprint": ("card",),
    "paper": ("card",),
    "modelcard": ("card",),
    "datasheet": ("card", "dataset:*"),
    "package": ("card", "github:*"),
    "api": ("card",),
    "licenses": ("card",),
}
# The sources each criterion reads, deciding or not: recorded with every judgement as what was searched.
READ_SOURCES = {
    "datasources_endmodel": ("card", "model_json", "dataset:*", "linked-dataset:*"),
    "datasources_basemodel": ("card", "model_json", "dataset:*", "linked-dataset:*"),
    "weights_endmodel": ("tree", "model_json", "card"),
    "weights_basemodel": ("tree", "model_json", "card"),
    "trainingcode": ("card", "github:*"),
    "code": ("card", "github:*"),
    "hardware_architecture": ("card", "files", "github:*"),
    "preprint": ("card", "github:*"),
    "paper": ("card", "github:*"),
    "modelcard": ("card",),
    "datasheet": ("card", "dataset:*", "linked-dataset:*", "github:*"),
    "package": ("card", "model_json", "github:*"),
    "api": ("card",),
    "licenses": ("card", "model_json", "files", "github:*"),
}


def tree_exhaustive(model: ModelArtifacts) -> bool:
    """Whether the stored file list is the repo's whole tree. A source that built it from a third-party mirror's
    list (which omits Git LFS files such as weights) says so in the model JSON (the loopback replica's
    `_replica.not_exhaustive`); the real Hub's tree is always whole."""
    info = load_json(model.model_json.text) if model.model_json else None
    replica = info.get("_replica") if isinstance(info, dict) else None
    return not (isinstance(replica, dict) and "tree" in (replica.get("not_exhaustive") or []))


def model_sources(model: ModelArtifacts) -> tuple[Source, ...]:
    """The model's sources as the crawl left them, the tree marked `not exhaustive` when its source says so."""
    sources = []
    for source in model.sources:
        if source.name == "tree" and source.status == "read" and not tree_exhaustive(model):
            source = replace(source, status="not exhaustive",
                             detail="built from a third-party mirror's file list: proves presence, never absence")
        sources.append(source)
    for dataset, _, line, _ in text_datasets(model):  # recorded; not deciding: the spider does not follow them
        sources.append(Source(f"linked-dataset:{dataset.repo_id}", "not crawled", dataset.page_url,
                              f"linked in the card's text, line {line}"))
    for dataset in model.datasets:
        status = {"ok": "read", "gated": "gated", "missing": "missing", "not crawled": "not crawled",
                  "not captured": "not captured"}.get(dataset.status, "failed")
        sources.append(Source(f"dataset:{dataset.repo_id}", status, dataset.page_url, dataset.status))
    return tuple(sources)


def _matching(sources: tuple[Source, ...], globs: tuple[str, ...]) -> list[Source]:
    matcher = glob_matcher(globs)
    return [s for s in sources if matcher.match(s.name)]


def settle(judgement: Judgement, model: ModelArtifacts, sources: tuple[Source, ...] | None = None) -> Judgement:
    """Attach what was searched; a `closed` that rests on an absence becomes `unknown` when a deciding source was
    not read whole, with the unread sources as its evidence. `sources`: the model's (`model_sources`), when the
    caller settles several judgements of one model."""
    sources = model_sources(model) if sources is None else sources
    searched = tuple(_matching(sources, READ_SOURCES.get(judgement.criterion, ("card",))))
    if judgement.basis != "absence" or judgement.level != "closed":
        return replace(judgement, searched=searched)
    unread = [s for s in _matching(sources, DECIDING_SOURCES.get(judgement.criterion, ("card",)))
              if not s.proves_absence]
    if not unread:
        return replace(judgement, searched=searched)
    named = "; ".join(f"{s.name} {s.status}" for s in unread[:3])
    evidence = tuple(Evidence("searched.unread", s.url, model.revision, None,
                              quote(f"{s.name}: {s.status}{' (' + s.detail + ')' if s.detail not in ('', s.status) else ''}"),
                              confidence=0.0) for s in unread[:5])
    return Judgement(judgement.criterion, "unknown", 0.0,
                     f"{judgement.summary}, but not every source that could show otherwise was read: {named}",
                     evidence + judgement.evidence, judgement.basis, searched)
