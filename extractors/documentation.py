"""Documentation criteria: what is written down about the model: code documentation, hardware and training setup,
preprint, peer-reviewed paper, model card, datasheet."""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, replace
from functools import lru_cache

from extractors.cards import (base_named_in_text, card_line, card_passage, card_topics, read_card, repo_training_lines,
                              withheld_data)
from extractors.code import code_paths, training_scope
from extractors.ownership import names_own_model, same_organisation
from extractors.rules import card_content_rules, code_file_rules, venue_rules
from extractors.text import TEXT_MEMO_SIZE, document, front_matter, is_text, lines_of, quote, squash
from extractors.types import Artifact, Evidence, Judgement, ModelArtifacts

CRITERION = "modelcard"


def judge_model_card(model: ModelArtifacts) -> Judgement:
    """By substance, as the experts read a card: words of prose and the topics it documents (architecture,
    training, fine-tuning, evaluation, data, limitations, hardware), usage and paperwork sections discounted."""
    if model.card is None:
        reason = model.failure_reason("card", "model_json")
        if reason.startswith("HTTP 404 EntryNotFound"):
            return Judgement(CRITERION, "closed", 0.9, "the repo has no model card (README.md)",
                             model.unavailable_evidence("card", "modelcard.none", "README.md"))
        return Judgement(CRITERION, "unknown", 0.0, f"model card not available: {reason}",
                         model.unavailable_evidence("card", "modelcard.unavailable", "README.md"))
    card, rules = model.card, card_content_rules()
    if not is_text(card.text):
        return Judgement(CRITERION, "closed", 0.8, "the README is not text: no readable model card", (
            Evidence("modelcard.not-text", card.url, card.revision, "README.md",
                     "README.md is binary or in an unreadable encoding", artifact_id=card.artifact_id),))
    reading = read_card(card)
    topics = sorted(reading.topics)
    length = Evidence("modelcard.substance", card.url, card.revision, "README.md",
                      quote(f"{reading.words} words of substance outside usage and paperwork sections; topics "
                            f"documented: {', '.join(topics) or 'none'}"), artifact_id=card.artifact_id)
    topic_evidence = tuple(
        Evidence(f"modelcard.topic.{topic}", card.url, card.revision, "README.md", quote(text, 200), line, line,
                 card.artifact_id) for topic in topics for line, text in reading.topics[topic][:1])
    broad = (len(topics) >= rules.open_min_topics and reading.words >= rules.open_min_words) or \
        (len(topics) >= rules.open_long_min_topics and reading.words >= rules.open_long_min_words)
    # An open card also gives its training a section of its own, not lines in passing: a card that mentions its
    # training and evaluation beside usage notes and limitations gives partial insight at most.
    sections = card_topics(card.text, front_matter(card.text)[1])
    trained = sorted(found for topic in rules.open_section_topics for found in sections.get(topic, ()))
    if broad and set(rules.open_required_topics) <= set(topics) and trained:
        line, heading = trained[0]
        section = Evidence("modelcard.training-section", card.url, card.revision, "README.md", quote(heading, 200),
                           line, line, card.artifact_id)
        return Judgement(CRITERION, "open", 0.7, f"card documents {', '.join(topics)} in {reading.words} words, "
                         f"its training in a section of its own", (length, section, *topic_evidence))
    if reading.words < rules.closed_max_words and len(topics) < rules.closed_max_topics:
        pointer = card_passage(model, rules.named["defers_to_model_card"].pattern, "modelcard.defers-to-card", 0.5)
        if pointer is not None:
            return Judgement(CRITERION, "partial", 0.5, f"a short card ({reading.words} words of substance) that "
                             "sends the reader to another model's card on the Hub", (pointer, length))
        first = next((line for line in lines_of(card.text)[front_matter(card.text)[1]:] if line.strip()), "")
        return Judgement(CRITERION, "closed", 0.7, f"card has {reading.words} words of substance and documents "
                         f"{len(topics)} topics", (length, Evidence("modelcard.thin", card.url, card.revision,
                                                                    "README.md", quote(first or "(empty card)"),
                                                                    artifact_id=card.artifact_id), *topic_evidence))
    return Judgement(CRITERION, "partial", 0.6, f"card documents {len(topics)} of {len(rules.topics)} topics in "
                     f"{reading.words} words" + ("" if trained else ", no section on its training"),
                     (length, *topic_evidence))


SENTENCE_END = re.compile(r"[.!?](\s|$)")


def foreign_base(model: ModelArtifacts) -> str | None:
    """The base model another organisation published (not the model's org nor an alias of it): its id from the
    metadata, else the card's sentence naming it ("finetuning LLaMA2 on ..."), when that sentence names neither the
    model's org nor a word of its name."""
    if model.base_model is None:
        named = base_named_in_text(model)
        if named is None:
            return None
        # What the sentence says from its verb on, to the sentence's end: the name and its link, if any
        # ("finetuning [MPT-7B](https://huggingface.co/spaces/mosaicml/mpt-7b) on ...").
        verb = card_content_rules().base_model_sentence.search(named.snippet)
        said = named.snippet[verb.start():] if verb else named.snippet
        said = said[:end.start()] if (end := SENTENCE_END.search(said)) else said
        return None if names_own_model(model.repo_id, said) else quote(said, 80)
    if "/" not in model.base_model:
        return None
    base_org, org = model.base_model.split("/", 1)[0], model.repo_id.split("/", 1)[0]
    return None if squash(base_org) == squash(org) or same_organisation(org, base_org) else model.base_model


def _nothing(model: ModelArtifacts, criterion: str, rule_id: str, searched: str) -> Judgement:
    where = model.card or model.model_json
    if where is None:
        return Judgement(criterion, "unknown", 0.0, "neither card nor model JSON could be read",
                         model.unavailable_evidence("card", f"{criterion}.unavailable", "README.md"))
    return Judgement(criterion, "closed", 0.6, f"nothing found ({searched})", (
        Evidence(rule_id, where.url, where.revision, "README.md" if model.card else None, f"searched {searched}",
                 artifact_id=where.artifact_id),), basis="absence")


TRAINING_HEADING = re.compile(r"\b(train|fine-?tun|pre-?train|sft|reproduc)", re.IGNORECASE)


def judge_code_documentation(model: ModelArtifacts) -> Judgement:
    """Documentation of the training and tuning steps, as the index defines it: closed without training code of
    the model's own to document; partial when its repos hold training code; open when they hold a whole training
    pipeline that their README documents in sections on training (a docs folder is evidence beside them)."""
    readmes = [a for a in model.code_files if a.kind == "readme"]
    if not readmes:
        return _nothing(model, "code", "codedocs.no-repo", "the model's own GitHub repos for a README and docs")
    readme = max(readmes, key=lambda a: len(a.text))
    scope = training_scope(model)
    trains = scope["pretraining"] or scope["finetuning"]
    if not trains:
        return Judgement("code", "closed", 0.5, "the model's own repos hold no training code to document", (
            Evidence("codedocs.no-training-code", readme.url, readme.revision, readme.path or "README",
                     "searched the trees of the model's own repos for training or fine-tuning code: none",
                     artifact_id=readme.artifact_id),), basis="absence")
    sections = [h for h in document(readme.text).headings() if TRAINING_HEADING.search(h.text)]
    training_readmes = [a for a in model.code_files if a.kind == "file" and is_text(a.text)
                        and code_file_rules()["training_docs"].matches((a.path or "").lower())]
    docs = [p for _, p in code_paths(model) if code_file_rules()["docs"].matches(p.lower())]
    tree, first = trains[0]
    evidence = [Evidence("codedocs.training-code", tree.url, tree.revision, first,
                         quote("; ".join(p for _, p in trains[:5])), artifact_id=tree.artifact_id)]
    evidence += [Evidence("codedocs.readme-training-section", readme.url, readme.revision, readme.path or "README",
                          quote(h.text, 120), h.line_start, h.line_start, readme.artifact_id) for h in sections[:2]]
    evidence += [Evidence("codedocs.training-folder-readme", a.url, a.revision, a.path,
                          quote(_first_line(a.text), 120), artifact_id=a.artifact_id) for a in training_readmes[:2]]
    if docs:
        evidence.append(Evidence("codedocs.docs-folder", tree.url, tree.revision, docs[0], quote("; ".join(docs[:5])),
                                 artifact_id=tree.artifact_id))
    written = f"{_training_docs(sections, training_readmes)}, {len(docs)} docs files"
    named = card_content_rules().named
    base_training = [text for text in [h.text for h in sections] + [f"{a.path} {_first_line(a.text)}"
                                                                       for a in training_readmes]
                     if TRAINING_HEADING.search(text) and (named["pretraining_docs"].pattern.search(text)
                                                          or not named["tuning_only_docs"].pattern.search(text))]
    if scope["pretraining"] and (sections or training_readmes) and not base_training:
        return Judgement("code", "partial", 0.5, f"training code with {written}, documenting its tuning only, "
                         "not the training of the base model", tuple(evidence))
    if scope["pretraining"] and base_training:
        if (foreign := foreign_base(model)) is not None:
            # The index's partial: not every step of base and end model training is documented when the base
            # was trained by someone else, whose steps these repos do not document.
            named = base_named_in_text(model) if model.base_model is None else None
            return Judgement("code", "partial", 0.5, f"training pipeline documented: {written}, but the base model "
                             f"({foreign}) is another organisation's, its training not documented here",
                             (*evidence, *([named] if named else [])))
        return Judgement("code", "open", 0.5, f"training pipeline documented: {written}", tuple(evidence))
    return Judgement("code", "partial", 0.5, f"training code with {written}", tuple(evidence))


def _training_docs(sections: list, training_readmes: list[Artifact]) -> str:
    return f"{len(sections)} README training sections" + (
        f", {len(training_readmes)} READMEs of training folders" if training_readmes else "")


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "(empty README)")


def judge_hardware_architecture(model: ModelArtifacts) -> Judgement:
    """The training setup as the index reads it: open when the card, or the training sections of the model's own
    GitHub READMEs, state the training hardware and the setup (hyper-parameters, tokens or steps, parallelism);
    partial with the hardware alone, or without it when the model's own repos hold its whole training pipeline
    (the system and its training setup open for inspection in code, not written out); closed when neither
    (architecture prose, hyper-parameters, fine-tuning scripts or what it takes to run the model are not enough)."""
    if model.card is None:
        return _nothing(model, "hardware_architecture", "architecture.none-found", "the card")
    rules = card_content_rules()
    reading = read_card(model.card)
    hardware = [(model.card, line, text) for line, text in reading.hardware]
    setup = [(model.card, line, text) for line, text in reading.setup]
    for readme in (a for a in model.code_files if a.kind == "readme"):
        repo_hardware, repo_setup = repo_training_lines(readme)
        hardware += [(readme, line, text) for line, text in repo_hardware]
        setup += [(readme, line, text) for line, text in repo_setup]
    if not hardware:
        pipeline = training_scope(model)["pretraining"]
        if pipeline:
            tree, first = pipeline[0]
            return Judgement("hardware_architecture", "partial", 0.5, "no training hardware stated, but the model's "
                             f"own repos hold its training pipeline ({len(pipeline)} files)", (
                                 Evidence("architecture.training-pipeline-code", tree.url, tree.revision, first,
                                          quote("; ".join(p for _, p in pipeline[:5])),
                                          artifact_id=tree.artifact_id),))
        return _nothing(model, "hardware_architecture", "architecture.no-training-hardware",
                        "the card's documentation sections and the training sections of the model's own GitHub "
                        "READMEs for the training hardware (accelerators and counts, GPU-hours, energy), and the "
                        "model's own repos for a training pipeline")

    def cite(rule_id: str, where: Artifact, line: int, text: str) -> Evidence:
        return Evidence(rule_id, where.url, where.revision, where.path or "README.md", quote(text, 200), line, line,
                        where.artifact_id)

    evidence = [cite("architecture.training-hardware", *found) for found in hardware[:2]]
    evidence += [cite("architecture.training-setup", *found) for found in setup[:3]]
    where = "card" if hardware[0][0] is model.card else "model's own README"
    if len(setup) >= rules.open_min_setup_lines:
        return Judgement("hardware_architecture", "open", 0.6, f"the {where} states the training hardware, and "
                         f"{len(setup)} lines of training setup are stated", tuple(evidence))
    return Judgement("hardware_architecture", "partial", 0.5, f"the {where} states the training hardware, little "
                     "of the training setup", tuple(evidence))


@dataclass(frozen=True)
class PaperMention:
    """A preprint or venue named in the card or the model's own repo, and how the text presents it."""

    artifact: Artifact
    line: int
    text: str
    presented: str  # own | component | related


def _paper_documents(model: ModelArtifacts) -> list[tuple[Artifact, int]]:
    """(artifact, first body line) of the card, the model's own READMEs and CITATION files."""
    found = [(model.card, front_matter(model.card.text)[1])] if model.card else []
    for artifact in model.code_files:
        if artifact.kind == "readme" or _is_citation_file(artifact):
            found.append((artifact, 0))
    return found


def _is_citation_file(artifact: Artifact) -> bool:
    return (artifact.path or "").rsplit("/", 1)[-1].lower().startswith("citation")


def _citation_lines(text: str, start: int, citation_file: bool) -> set[int]:
    """Lines inside citation sections, and of bibtex blocks that a 'please cite' line introduces."""
    rules = venue_rules()
    if citation_file:
        return set(range(1, text.count("\n") + 2))
    lines: set[int] = set()
    doc = document(text, start)
    for section in doc.sections():
        if section.heading and any(r.pattern.search(section.title) for r in rules["citation_headings"]):
            for block in section.blocks:
                lines.update(range(block.line_start, block.line_end + 1))
    previous = None
    for block in doc.blocks:
        if block.kind == "code" and "@" in block.text and previous is not None and \
                any(r.pattern.search(previous.text) for r in rules["own_paper"]):
            lines.update(range(block.line_start, block.line_end + 1))
        previous = block
    return lines


BIBTEX_START = re.compile(r"^\s*@\w+\s*[{(]")


def model_stem(repo_id: str) -> str | None:
    """The family name a citation of the model's own paper carries: the repo name's first word without its
    version or size (`StableBeluga2` -> `stablebeluga`, `OpenELM-3B` -> `openelm`); None when too short to tell."""
    first = re.split(r"[-_.\s]", repo_id.rpartition("/")[2])[0]
    stem = squash(re.sub(r"\d+(\.\d+)?[a-z]?$", "", first) or first)
    return stem if len(stem) >= 4 else None


def bibtex_entries(lines: list[str], cited: set[int]) -> list[tuple[int, int]]:
    """(first, last) line of each bibtex entry among the cited lines: from an `@type{` line to the next one or
    the end of the cited run."""
    starts = [n for n in sorted(cited) if n <= len(lines) and BIBTEX_START.match(lines[n - 1])]
    entries = []
    for index, first in enumerate(starts):
        last = first
        while last + 1 in cited and (index + 1 == len(starts) or last + 1 < starts[index + 1]):
            last += 1
        entries.append((first, last))
    return entries


@lru_cache(maxsize=TEXT_MEMO_SIZE)
def _papers_in_text(text: str, start: int, citation_file: bool, group: str) -> tuple:
    """(line number, line, the bibtex entry it stands in when among several, how the text presents it) of every
    line past `start` naming a paper of `group`. Memoised by text: the READMEs of an organisation's repos are read
    for each of its models."""
    rules = venue_rules()
    patterns = [*rules[group], *(rules["accepted"] if group == "venues" else ())]
    cited = _citation_lines(text, start, citation_file)
    lines = lines_of(text)
    entries = bibtex_entries(lines, cited)
    firsts = [first for first, _ in entries]
    squashed: dict[tuple[int, int], str] = {}  # each entry's text, squashed once (an entry may hold many lines)
    found = []
    for number, line in enumerate(lines[start:], start=start + 1):
        match = next((m for r in patterns if (m := r.pattern.search(line))), None)
        if match is None:
            continue
        before = line[max(0, match.start() - 120):match.end()]
        index = bisect_right(firsts, number) - 1  # entries are in order and apart: the one starting last before
        entry = entries[index] if index >= 0 and number <= entries[index][1] else None
        if entry and len(entries) > 1 and entry not in squashed:
            squashed[entry] = squash(" ".join(lines[entry[0] - 1:entry[1]]))
        among_several = squashed[entry] if entry and len(entries) > 1 else None
        if number in cited or any(r.pattern.search(before) for r in rules["own_paper"]):
            presented = "own"
        elif any(r.pattern.search(before) for r in rules["component_paper"]):
            presented = "component"
        else:
            presented = "related"
        found.append((number, line, among_several, presented))
    return tuple(found)


def paper_mentions(model: ModelArtifacts, group: str) -> list[PaperMention]:
    """Every line naming a preprint (group `preprints`) or a venue (`venues`, and acceptance in words or bibtex),
    with how it is presented: in a citation or with words that claim it (own), as the source of a component, or
    otherwise (related work)."""
    stem = model_stem(model.repo_id)
    found = []
    for artifact, start in _paper_documents(model):
        for number, line, among_several, presented in _papers_in_text(artifact.text, start,
                                                                      _is_citation_file(artifact), group):
            if among_several is not None and stem and stem not in among_several:
                # One of several citations, not naming the model: a paper it builds on (its base model's, a
                # method's, a library's), cited beside its own or in its place.
                presented = "component"
            found.append(PaperMention(artifact, number, line, presented))
    return found


def _judge_papers(model: ModelArtifacts, criterion: str, group: str, what: str) -> Judgement:
    """Open when the model's own paper is named (cited or claimed); partial when only a component's paper is;
    related work does not count."""
    documents = _paper_documents(model)
    if not documents:
        return Judgement(criterion, "unknown", 0.0, "the card could not be read",
                         model.unavailable_evidence("card", f"{criterion}.unavailable", "README.md"))
    mentions = paper_mentions(model, group)
    own = [m for m in mentions if m.presented == "own"]
    component = [m for m in mentions if m.presented == "component"]
    chosen = own or component
    if not chosen and criterion == "preprint":
        reports = [m for m in paper_mentions(model, "reports") if m.presented == "own"]
        if reports:
            return Judgement(criterion, "partial", 0.4, "a report presented as the model's own, on no preprint "
                             "archive", (_mention_evidence("preprint.unarchived-report", reports[0]),))
    if not chosen:
        related = "; ".join(quote(m.text, 80) for m in mentions[:2])
        searched = f"the card and the model's own READMEs and CITATION files for {what} presented as the model's own"
        judged = _nothing(model, criterion, f"{criterion}.none-found", searched)
        if related:
            judged = replace(judged, summary=f"{judged.summary}; only related work: {related}")
        return judged
    evidence = tuple(_mention_evidence(f"{criterion}.{m.presented}", m) for m in chosen[:3])
    if own:
        return Judgement(criterion, "open", 0.6, f"{what} presented as the model's own ({len(own)} mentions)", evidence)
    return Judgement(criterion, "partial", 0.5, f"only the {what} of a component is named", evidence)


def _mention_evidence(rule_id: str, mention: PaperMention) -> Evidence:
    where = mention.artifact
    return Evidence(rule_id, where.url, where.revision, where.path or "README.md", quote(mention.text, 200),
                    mention.line, mention.line, where.artifact_id)


def judge_preprint(model: ModelArtifacts) -> Judgement:
    return _judge_papers(model, "preprint", "preprints", "archived preprint")


def judge_paper(model: ModelArtifacts) -> Judgement:
    return _judge_papers(model, "paper", "venues", "peer-reviewed paper")


def _training_data_summary(model: ModelArtifacts) -> Evidence | None:
    """A public summary of the training content (the EU AI Act's template for general-purpose models), which the
    index's datasheet question accepts: a line of the card that states one."""
    return card_line(model, [card_content_rules().training_data_summary], "datasheet.training-data-summary", 0.5)


def judge_datasheet(model: ModelArtifacts) -> Judgement:
    """Datasheets of the training data: the cards of the datasets the model names, by their data-creation
    sections, datasheet files of its own repos, a public training-data summary. Open when every named dataset
    has a card documenting collection and curation, or a training-data summary is given; partial when some do;
    closed when the dataset cards read document neither."""
    cards = [d.card for d in model.datasets if d.card is not None]
    sheets = [a for a in model.code_files if (a.path or "").lower().rsplit("/", 1)[-1].startswith("datasheet")]
    summary = _training_data_summary(model)
    pointer = card_line(model, [card_content_rules().named["data_documentation_pointer"].pattern],
                        "datasheet.card-points-to-docs", 0.4)
    if not cards and not sheets and summary is None and pointer is None:
        withheld, beside = withheld_data(model)
        if withheld is not None and not beside:
            # Data the card says is internal has no datasheet to be had, whatever the metadata names.
            return Judgement("datasheet", "closed", 0.5, "the card says the training data is internal: no "
                             "datasheet of it can be had", (withheld,))
        return _nothing(model, "datasheet", "datasheet.none-found",
                        "the cards of the named datasets, the model's own repos for a datasheet and the card for a "
                        "training-data summary")
    evidence, documented = [], 0
    for card in cards:
        _, start, _ = front_matter(card.text)
        sections = card_topics(card.text, start).get("data_creation", [])
        documented += bool(sections)
        line, heading = sections[0] if sections else (None, "dataset card without data-creation sections")
        evidence.append(Evidence("datasheet.dataset-card", card.url, card.revision, "README.md", quote(heading),
                                 line, line, card.artifact_id))
    for sheet in sheets:
        documented += 1
        evidence.append(Evidence("datasheet.file", sheet.url, sheet.revision, sheet.path, quote(sheet.text[:200]),
                                 artifact_id=sheet.artifact_id))
    if summary is not None:
        evidence.append(summary)
    if pointer is not None:
        evidence.append(pointer)
    # A dataset the Hub does not hold under the name given (a legacy or renamed id) has no card to judge.
    named = [d for d in model.datasets if d.status != "missing"]
    absent = len(model.datasets) - len(named)
    if summary is not None or (named and documented >= len(named)):
        # The index's question accepts the public training-data summary in place of datasheets.
        level = "open"
    elif documented or pointer is not None:
        level = "partial"
    else:
        level = "closed"
    # Closed rests on what the cards read lack: it stands only if every named dataset's card was read.
    return Judgement("datasheet", level, 0.5, f"{documented} datasheet(s) for {len(named)} named datasets"
                     f"{f' ({absent} not on the Hub)' if absent else ''}"
                     f"{', a training-data summary' if summary else ''}"
                     f"{', the card points to documentation of its data' if pointer else ''}", tuple(evidence),
                     basis="absence" if level == "closed" else "evidence")