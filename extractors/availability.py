"""Availability criteria: what of the model can be had: its weights, its training data (end and base model, the
base judged down the base-model chain) and its training code."""

from __future__ import annotations

import re

from extractors.cards import (HeadingPaths, base_named_in_text, base_of_another_family, card_line, card_topics,
                              text_datasets, withheld_data)
from extractors.code import code_paths, training_scope
from extractors.rules import card_content_rules, weight_rules
from extractors.searched import settle, tree_exhaustive
from extractors.text import document, front_matter, key_line, lines_of, load_json, quote
from extractors.types import Evidence, Judgement, ModelArtifacts, Source

CRITERION = "weights_endmodel"


def tree_files(model: ModelArtifacts) -> list[tuple[str, int | None]] | None:
    """(path, size) of every file in the stored tree pages, else in the model JSON's `siblings` (names only);
    None when neither was stored."""
    if not model.tree_pages:
        info = load_json(model.model_json.text) if model.model_json else None
        siblings = info.get("siblings") if isinstance(info, dict) else None
        if not isinstance(siblings, list) or not siblings:
            return None
        return [(s["rfilename"], None) for s in siblings if isinstance(s, dict) and isinstance(s.get("rfilename"), str)]
    files = []
    for page in model.tree_pages:
        entries = load_json(page.text)
        if not isinstance(entries, list):
            return None
        files += [(e["path"], e.get("size")) for e in entries
                  if isinstance(e, dict) and e.get("type") == "file" and isinstance(e.get("path"), str)]
    return files


def weight_file_matches(paths) -> list[tuple[str, str]]:
    """(path, rule id) of each weight file, by the rules in data/rules/weight_files.yaml."""
    rules = weight_rules()
    found = []
    for path in paths:
        rule = rules.rule_of(path.rsplit("/", 1)[-1].lower())
        if rule:
            found.append((path, rule.rule_id))
    return found


# Gate keys that ask the user for something (terms to accept, fields to fill): a gate with none of them only shows
# a notice (a privacy policy) and grants access on a click.
ASKING_GATE_KEYS = ("extra_gated_prompt", "extra_gated_fields")


def gating_evidence(model: ModelArtifacts) -> list[Evidence]:
    """Evidence that downloads are gated behind a request: the model JSON's `gated` field, and the card's
    `extra_gated_*` keys. A gate that asks nothing (no terms, no fields; only a notice) and that the Hub approves
    automatically, or whose `gated` value is not the Hub's own (a replica derived it), is not a restriction."""
    info = load_json(model.model_json.text) if model.model_json else None
    gated = info.get("gated") if isinstance(info, dict) else None
    meta = front_matter(model.card.text)[0] if model.card else None
    gate_keys = sorted(k for k in (meta or {}) if str(k).startswith("extra_gated"))
    replica = info.get("_replica") if isinstance(info, dict) else None
    derived = isinstance(replica, dict) and "gated" in (replica.get("derived_fields") or [])
    if gate_keys and not any(k in ASKING_GATE_KEYS for k in gate_keys) and (gated == "auto" or derived):
        return []
    evidence = []
    if gated:
        evidence.append(Evidence("weights.gated", model.model_json.url, model.revision, None,
                                 f'"gated": "{gated}"', artifact_id=model.model_json.artifact_id))
    span = front_matter(model.card.text)[1] if model.card else 0
    for key in gate_keys:
        line = key_line(model.card.text, key, span)
        if line:
            evidence.append(Evidence("weights.gated", model.card.url, model.card.revision, "README.md",
                                     quote(line[1], 120), line[0], line[0], model.card.artifact_id))
            break
    return evidence


def loading_snippet(model: ModelArtifacts) -> Evidence | None:
    """A fenced code block of the card that loads weights (data/rules/weight_files.yaml `loaders`) and names this
    very repo: the weights are in it. Another repo's id (a sibling, a base model) proves nothing about this one."""
    if model.card is None:
        return None
    _, span, _ = front_matter(model.card.text)
    # The repo's own id as a token, or at the end of a huggingface.co URL (`git clone https://huggingface.co/<id>`).
    own_id = re.compile(rf"(?:(?<=huggingface\.co/)|(?<![\w./-])){re.escape(model.repo_id)}(?![\w.-])",
                        re.IGNORECASE)
    for block in document(model.card.text, span).code():
        rule = next((r for r in weight_rules().loaders if r.pattern.search(block.text)), None)
        mention = own_id.search(block.text) if rule else None
        if mention:
            offset = block.text.count("\n", 0, mention.start())
            line = lines_of(block.text)[offset]
            number = block.body_line + offset
            return Evidence(rule.rule_id, model.card.url, model.card.revision, "README.md", quote(line, 200),
                            number, number, model.card.artifact_id, 0.6)
    return None


def download_link(model: ModelArtifacts) -> Evidence | None:
    """A link to this very repo on a line, or under a heading, that offers downloads (a card's "Model Downloads"
    table): the weights are downloaded from it."""
    if model.card is None:
        return None
    rule = weight_rules().download_link[0]
    _, span, _ = front_matter(model.card.text)
    doc = document(model.card.text, span)
    paths = HeadingPaths(doc)
    lines = lines_of(model.card.text)
    own = re.compile(rf"huggingface\.co/{re.escape(model.repo_id)}(?:/tree/[^/\s]+)?/?$", re.IGNORECASE)
    for line, url, _, _ in doc.links:
        if not own.search(url.split("#")[0]) or line > len(lines):
            continue
        heading = (paths.at(line) or ("",))[-1]  # the last heading at or above the line
        if rule.pattern.search(lines[line - 1]) or rule.pattern.search(heading):
            return Evidence(rule.rule_id, model.card.url, model.card.revision, "README.md", quote(lines[line - 1], 200),
                            line, line, model.card.artifact_id, 0.5)
    return None


def _from_snippet(model: ModelArtifacts, gated: list[Evidence], why: str) -> Judgement | None:
    snippet = loading_snippet(model) or download_link(model)
    if snippet is None:
        return None
    if gated:
        return Judgement(CRITERION, "partial", 0.6, f"the card loads or offers this repo's weights, behind a gated "
                         f"download ({why})", (snippet, *gated))
    return Judgement(CRITERION, "open", 0.6, f"the card loads or offers this repo's weights, no approval asked ({why})",
                     (snippet,))


def delta_weights(model: ModelArtifacts) -> Evidence | None:
    """A line of the card (outside code) saying the repo holds only a delta to another model's weights."""
    rules = weight_rules().delta_weights
    return card_line(model, [r.pattern for r in rules], rules[0].rule_id, 0.7)


def judge_end_model_weights(model: ModelArtifacts) -> Judgement:
    if (delta := delta_weights(model)) is not None:
        return Judgement(CRITERION, "partial", 0.7, "only delta weights, to apply to another model's weights",
                         (delta,))
    gated = gating_evidence(model)
    files = tree_files(model)
    if files is None:
        if (judged := _from_snippet(model, gated, "its file list could not be fetched")) is not None:
            return judged
        if gated:
            return Judgement(CRITERION, "partial", 0.5, "gated repo; its file list could not be fetched", tuple(gated))
        reason = model.failure_reason("tree", "model_json")
        return Judgement(CRITERION, "unknown", 0.0, f"file list not available: {reason}",
                         model.unavailable_evidence("tree", "weights.tree-unavailable", None))
    tree = model.tree_pages[0] if model.tree_pages else model.model_json
    weights = weight_file_matches(path for path, _ in files)
    if not weights and not tree_exhaustive(model):
        if (judged := _from_snippet(model, gated, "the file list is a partial mirror's")) is not None:
            return judged
    if not weights:
        searched = ", ".join(r.glob for r in weight_rules().rules)
        return Judgement(CRITERION, "closed", 0.8, "no weight file in the repo's tree", (
            Evidence("weights.none-found", tree.url, tree.revision, None,
                     quote(f"searched {len(files)} files for {searched}: none found"), artifact_id=tree.artifact_id),
            *gated), basis="absence")
    sizes = dict(files)
    listed = "; ".join(f"{path} ({sizes.get(path) or '?'} bytes)" for path, _ in weights[:5])
    more = f" and {len(weights) - 5} more" if len(weights) > 5 else ""
    found = Evidence(weights[0][1], tree.url, tree.revision, weights[0][0], quote(listed + more),
                     artifact_id=tree.artifact_id, confidence=0.9)
    if gated:
        return Judgement(CRITERION, "partial", 0.9, f"{len(weights)} weight files, behind a gated download",
                         (found, *gated))
    return Judgement(CRITERION, "open", 0.9, f"{len(weights)} weight files, downloadable without approval", (found,))


def _relabel(judgement: Judgement, criterion: str, prefix: str) -> Judgement:
    return Judgement(criterion, judgement.level, judgement.confidence, f"{prefix}{judgement.summary}",
                     judgement.evidence, judgement.basis, judgement.searched)


def root_model(model: ModelArtifacts) -> tuple[ModelArtifacts, list[str]]:
    """The root pretrained model down the base-model chain as far as it was crawled, and the chain of ids."""
    chain, current = [model.repo_id], model
    while current.base is not None:
        current = current.base
        chain.append(current.repo_id)
    return current, chain


def _base_unavailable(model: ModelArtifacts, criterion: str, base_id: str, why: Evidence | None) -> Judgement:
    card = model.card or model.model_json
    if card is None:
        return Judgement(criterion, "unknown", 0.0, "neither card nor model JSON could be read",
                         model.unavailable_evidence("card", "base.unavailable", "README.md"))
    evidence = why or Evidence("base.unavailable", card.url, card.revision, "README.md" if model.card else None,
                               quote(f"base_model: {base_id}"), artifact_id=card.artifact_id)
    return Judgement(criterion, "unknown", 0.0, f"base model {base_id} was not crawled or is unavailable",
                     (evidence,), searched=(Source(f"base:{base_id}", "not crawled", card.url),))


def on_base_model(model: ModelArtifacts, criterion: str, judge) -> Judgement:
    """A base-model criterion: judged on the root pretrained model down the base-model chain (card `base_model`,
    the Hub's `base_model:` tags); mirrored from the model itself when it names no base, in metadata or text, and
    is not a delta to another model's weights (which proves a base it does not name)."""
    if model.base_model is None:
        if (named := base_named_in_text(model)) is not None:
            return _base_unavailable(model, criterion, "(named in the card's text)", named)
        if (delta := delta_weights(model)) is not None:
            return _base_unavailable(model, criterion, "(unnamed: the one its delta weights apply to)", delta)
        if (other := base_of_another_family(model)) is not None:
            statement, tag = other
            return _base_unavailable(model, criterion, f"(unnamed: fine-tuned from a model of the family its tag "
                                                       f"`{tag}` names)", statement)
        return _relabel(settle(judge(model), model), criterion, "no separate base model; mirrors the model itself: ")
    root, chain = root_model(model)
    if root is model or root.base_model is not None:
        return _base_unavailable(model, criterion, root.base_model or model.base_model, None)
    return _relabel(settle(judge(root), root), criterion, f"base model {' -> '.join(chain[1:])}: ")


def judge_base_model_weights(model: ModelArtifacts) -> Judgement:
    return on_base_model(model, "weights_basemodel", judge_end_model_weights)


HUB_MODEL = re.compile(r"huggingface\.co/([\w.-]+/[\w.-]+)")


def tuned_base(model: ModelArtifacts) -> Evidence | None:
    """Evidence that the model is tuned from an intermediate tuned model (its base names a tuning stage, in the
    metadata or in the card's sentence naming it; or the crawled base has a base of its own) whose own data is not
    judged open: that data is a training source of the end model too."""
    rule = card_content_rules().named["tuned_base_model"]
    if model.base is not None and (model.base.base_model is not None or rule.pattern.search(model.base.repo_id)):
        if judge_end_model_data(model.base).level == "open":
            return None
    card = model.card or model.model_json
    if model.base_model is not None:
        if rule.pattern.search(model.base_model.rsplit("/", 1)[-1]) or (
                model.base is not None and model.base.base_model is not None):
            line = key_line(model.card.text, "base_model", front_matter(model.card.text)[1]) if model.card else None
            return Evidence("data.tuned-base", card.url, card.revision, "README.md" if model.card else None,
                            quote(line[1] if line else f"base_model: {model.base_model}", 200),
                            *((line[0], line[0]) if line else (None, None)), card.artifact_id, 0.5)
        return None
    named = base_named_in_text(model)
    first = HUB_MODEL.search(named.snippet) if named is not None else None
    if first is not None and rule.pattern.search(first.group(1).rsplit("/", 1)[-1]):
        return Evidence("data.tuned-base", named.url, named.revision, named.file, named.snippet, named.line_start,
                        named.line_end, named.artifact_id, 0.5)
    return None


def judge_end_model_data(model: ModelArtifacts, criterion: str = "datasources_endmodel") -> Judgement:
    """Training data: open when every dataset the card names (in its metadata or linked in its text as training
    data) is public; partial when some are gated, missing, private or withheld (internal data); closed when the
    data is only described or not disclosed at all (what was searched is recorded). A dataset named but not read
    (not crawled, not captured, a failed fetch) is no evidence of closure; the summary counts those apart."""
    if model.card is None and model.model_json is None:
        return Judgement(criterion, "unknown", 0.0, "neither card nor model JSON could be read",
                         model.unavailable_evidence("card", "data.unavailable", "README.md"))
    evidence = []
    body = text_datasets(model)
    named = [*model.datasets, *(d for d, _, _, _ in body)]
    # Named but never read (not crawled, not captured, a failed fetch) is no evidence of closure: only a dataset
    # the Hub answered missing, gated, private or disabled counts against the data being shared.
    available = [d for d in named if d.status not in ("missing", "gated", "private", "disabled")]
    read = sum(d.status == "ok" for d in named)
    for dataset, artifact, line, text in body:
        evidence.append(Evidence("data.card-text-link" if artifact is model.card else "data.readme-link", artifact.url,
                                 artifact.revision, artifact.path or "README.md", quote(text, 200), line, line,
                                 artifact.artifact_id, 0.6))
    for dataset in model.datasets:
        # The dataset's own card when it was read; else the model's card (or JSON) that names it.
        where = dataset.card or model.card or model.model_json
        evidence.append(Evidence(f"data.dataset.{dataset.status.replace(' ', '-')}", where.url, where.revision,
                                 "README.md" if where.kind == "card" else None,
                                 quote(f"dataset {dataset.repo_id}: {dataset.status} {dataset.page_url}"),
                                 artifact_id=where.artifact_id))
    withheld, beside = withheld_data(model)
    if withheld is not None:
        evidence.insert(0, withheld)
        # Metadata `datasets` beside a statement that the data is internal name what went into that internal
        # derivative; only datasets linked in the text as training data, or a statement that the internal data
        # is some beside other data, make it partly shared.
        shared = beside or any(d.status not in ("missing", "gated", "private", "disabled") for d, _, _, _ in body)
        level = "partial" if shared else "closed"
        return Judgement(criterion, level, 0.6, "the card says " + (
            "some of the training data is internal, beside other data" if beside else "the training data is "
            "internal") + f"; {len(available)} of {len(named)} named datasets can be had", tuple(evidence))
    if named:
        if len(available) == len(named) and (tuned := tuned_base(model)) is not None:
            return Judgement(criterion, "partial", 0.5, f"all {len(named)} named datasets are public, but the model "
                             "is tuned from an intermediate tuned model whose data is not among them",
                             (tuned, *evidence))
        if len(available) == len(named):
            return Judgement(criterion, "open", 0.6, f"all {len(named)} named datasets are public ({read} read, "
                             f"{len(named) - read} named but not read)", tuple(evidence))
        return Judgement(criterion, "partial", 0.6, f"{len(available)} of {len(named)} named datasets can be had",
                         tuple(evidence))
    if model.card:
        _, span, _ = front_matter(model.card.text)
        sections = card_topics(model.card.text, span).get("data", [])
        if sections:
            # Described is not shared: the criterion asks for data open for inspection.
            line, heading = sections[0]
            return Judgement(criterion, "closed", 0.5, "training data described, none shared or linked", (
                Evidence("data.described-only", model.card.url, model.card.revision, "README.md", quote(heading),
                         line, line, model.card.artifact_id),), basis="absence")
        where = model.card
    else:
        where = model.model_json
    return Judgement(criterion, "closed", 0.6, "no training data named or described", (
        Evidence("data.none-found", where.url, where.revision, "README.md" if model.card else None,
                 "searched the card's `datasets` metadata and its data sections: nothing disclosed",
                 artifact_id=where.artifact_id),), basis="absence")


def judge_base_model_data(model: ModelArtifacts) -> Judgement:
    return on_base_model(model, "datasources_basemodel",
                         lambda m: judge_end_model_data(m, "datasources_basemodel"))


# Scope -> (level, summary). The index: "sparse source code" is partial; only a full pipeline is open.
TRAINING_LEVELS = {
    "pretraining": ("open", "training pipeline in the model's own repos"),
    "finetuning": ("partial", "fine-tuning code only in the model's own repos, no pre-training pipeline"),
    "inference": ("closed", "the model's own repos hold code to run the model, no training code"),
    "other": ("closed", "the model's own repos hold no training code"),
}


def judge_training_code(model: ModelArtifacts) -> Judgement:
    """Graded by scope: a pre-training or whole training pipeline is open, fine-tuning scripts only partial,
    inference or serving code only closed, and so is having no code repo of its own."""
    if not code_paths(model):
        where = model.card or model.model_json
        if where is None:
            return Judgement("trainingcode", "unknown", 0.0, "neither card nor model JSON could be read",
                             model.unavailable_evidence("card", "code.unavailable", "README.md"))
        return Judgement("trainingcode", "closed", 0.6, "no code repository of the model's own found", (
            Evidence("code.no-repo", where.url, where.revision, "README.md" if model.card else None,
                     "searched the card for GitHub repos of the model's organisation or licence link: none crawled",
                     artifact_id=where.artifact_id),), basis="absence")
    scope = training_scope(model)
    group = next((g for g in ("pretraining", "finetuning", "inference", "other") if scope[g]), None)
    if group is None:
        tree = model.code_trees[0]
        return Judgement("trainingcode", "closed", 0.6, "the model's own repos hold no source code", (
            Evidence("code.no-source", tree.url, tree.revision, None, "searched the trees of the model's own repos: "
                     "documents and assets only", artifact_id=tree.artifact_id),), basis="absence")
    level, summary = TRAINING_LEVELS[group]
    files = scope[group]
    tree = files[0][0]
    return Judgement("trainingcode", level, 0.6, f"{summary} ({len(files)} files)", (
        Evidence(f"code.{group}", tree.url, tree.revision, files[0][1], quote("; ".join(p for _, p in files[:6])),
                 artifact_id=tree.artifact_id),))
