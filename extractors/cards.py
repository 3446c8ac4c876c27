"""A model card read once for every criterion: which topics its headings and its lines of substance cover, the
training hardware and setup it states. Shared by the availability and documentation judges."""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

from extractors.markdown import URL
from extractors.rules import card_content_rules, card_section_rules, family_rules
from extractors.text import TEXT_MEMO_SIZE, document, front_matter, headings, lines_of, load_json, quote, squash
from extractors.types import Artifact, Evidence, LinkedDataset, ModelArtifacts


def card_topics(text: str, body_start: int) -> dict[str, list[tuple[int, str]]]:
    """Which topics the card's headings cover: topic -> [(line, heading)]."""
    rules = card_section_rules()
    covered: dict[str, list[tuple[int, str]]] = {}
    for line, heading in headings(text, body_start):
        for topic, patterns in rules.topics.items():
            if any(p.search(heading) for p in patterns):
                covered.setdefault(topic, []).append((line, heading))
    return covered


@dataclass(frozen=True)
class CardReading:
    """What a card documents, outside its usage and paperwork sections: words of prose, and the lines (number,
    text) of each topic, of training hardware and of training setup."""

    words: int
    topics: dict[str, list[tuple[int, str]]]
    hardware: list[tuple[int, str]]
    setup: list[tuple[int, str]]


class HeadingPaths:
    """The headings each line of a document stands under, outermost first, computed once per document: the one
    way the card readers tell which section (and parent sections) a line belongs to."""

    def __init__(self, doc):
        self._starts, self._paths, stack = [], [], []
        for heading in doc.headings():
            while stack and stack[-1].level >= heading.level:
                stack.pop()
            stack.append(heading)
            self._starts.append(heading.line_start)
            self._paths.append(tuple(h.text for h in stack))

    def at(self, line: int) -> tuple[str, ...]:
        index = bisect_right(self._starts, line) - 1
        return self._paths[index] if index >= 0 else ()


@lru_cache(maxsize=4096)
def in_skipped_section(path: tuple[str, ...]) -> bool:
    """Under a usage or paperwork heading (or one of its sub-headings): card_content.yaml `skip_sections`."""
    return any(r.pattern.search(heading) for heading in path for r in card_content_rules().skip_sections)


def _substance(text: str, start: int) -> tuple[list[tuple[int, str, str]], int]:
    """(line, text, block kind) of every heading and block outside the skipped sections, and the prose words."""
    doc = document(text, start)
    paths = HeadingPaths(doc)
    lines, words = [], 0
    for block in doc.blocks:
        if block.kind == "code" or in_skipped_section(paths.at(block.line_start)):
            continue
        if block.kind == "heading":
            lines.append((block.line_start, block.text, "heading"))
            continue
        if block.kind in ("prose", "html"):
            words += len(URL.sub("", block.text).split())
        for offset, line in enumerate(lines_of(block.text)):
            if line.strip():
                lines.append((block.line_start + offset if block.kind == "prose" else block.line_start, line,
                              block.kind))
    return lines, words


def read_card(card: Artifact) -> CardReading:
    return _read_card_text(card.text)


@lru_cache(maxsize=64)
def _read_card_text(text: str) -> CardReading:
    """Cached: the model card and the hardware judges both read the card (callers must not change the reading)."""
    rules = card_content_rules()
    _, start, _ = front_matter(text)
    lines, words = _substance(text, start)
    topics = {}
    for topic, rule in rules.topics.items():
        found = [(n, t) for n, t, _ in lines if rule.pattern.search(t)]
        if len(found) >= rules.min_lines_per_topic:
            topics[topic] = found
    hardware = [(n, t) for n, t, _ in lines if is_training_hardware(t)]
    setup = [(n, t) for n, t, _ in lines if any(r.pattern.search(t) for r in rules.training_setup)]
    return CardReading(words, topics, hardware, setup)


def is_training_hardware(line: str, in_training_section: bool = False) -> bool:
    """A line stating training hardware: an accelerator count, a hardware field, GPU-hours or energy; not what it
    takes to run the model, unless the line (or its section) is about training before it says so."""
    rules = card_content_rules()
    if not any(r.pattern.search(line) for r in rules.training_hardware):
        return False
    veto = rules.not_training_hardware.search(line)
    if veto is None or in_training_section:
        return True
    training = rules.training_clause.search(line)
    return training is not None and training.start() < veto.start()


def repo_training_lines(readme: Artifact) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(hardware lines, setup lines) of a GitHub README's training sections: prose and lists under a heading path
    naming training and none naming inference, serving, usage or evaluation."""
    rules = card_content_rules()
    training, not_training = rules.named["repo_training_sections"].pattern, \
        rules.named["repo_not_training_sections"].pattern
    doc = document(readme.text)
    paths = HeadingPaths(doc)
    hardware, setup = [], []
    for block in doc.blocks:
        path = paths.at(block.line_start)
        if block.kind in ("heading", "code") or not any(training.search(h) for h in path) or \
                any(not_training.search(h) for h in path):
            continue
        for offset, line in enumerate(lines_of(block.text)):
            number = block.line_start + offset if block.kind == "prose" else block.line_start
            if is_training_hardware(line, in_training_section=True):
                hardware.append((number, line))
            if any(r.pattern.search(line) for r in rules.training_setup):
                setup.append((number, line))
    return hardware, setup


HUB_DATASET = re.compile(r"huggingface\.co/datasets/([A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)")


FILE_URL = re.compile(r"/(resolve|blob|raw)/|\.(png|jpe?g|gif|svg|webp|mp4|pdf)(\?|#|$)", re.IGNORECASE)


@lru_cache(maxsize=TEXT_MEMO_SIZE)
def _linked_datasets(text: str, start: int, named: frozenset[str]) -> tuple[tuple[LinkedDataset, int, str], ...]:
    """(dataset, line number, line) of each dataset a document's text links as training data: Hub datasets,
    dataset pages elsewhere, Hub collections of datasets. Not a file or an image in a dataset repo; not on lines or
    in sections about evaluation, nor in usage or news sections (a dataset used to show how to fine-tune it
    further); not one of `named` (lower-cased ids) again. Memoised: several judges ask it of the same card."""
    rules = card_content_rules()
    doc = document(text, start)
    lines = lines_of(text)
    seen = set(named)
    paths = HeadingPaths(doc)
    found = []
    about_evaluation: dict[int, bool] = {}  # by line: a line holding thousands of links is read once
    for _, url, _, number in doc.links:
        match = HUB_DATASET.search(url)
        elsewhere = match is None and rules.dataset_page.search(url)
        key = match.group(1).rstrip(".").lower() if match else url
        if not (match or elsewhere) or key in seen or FILE_URL.search(url):
            continue
        line_text = lines[number - 1] if number <= len(lines) else url
        under = paths.at(number)
        if number not in about_evaluation:
            about_evaluation[number] = rules.not_training_data.search(line_text) is not None
        if about_evaluation[number] or any(rules.not_training_data.search(h) for h in under[-1:]) or \
                in_skipped_section(under):
            continue
        seen.add(key)
        if elsewhere:  # a dataset page on another host, or a Hub collection of datasets: named, not crawled
            found.append((LinkedDataset(url, "not crawled", url), number, line_text))
        else:
            repo_id = match.group(1).rstrip(".")
            found.append((LinkedDataset(repo_id, "not crawled", f"https://huggingface.co/datasets/{repo_id}"),
                          number, line_text))
    return tuple(found)


def text_datasets(model: ModelArtifacts) -> list[tuple[LinkedDataset, Artifact, int, str]]:
    """Datasets the card's text links as training data; those its metadata names already are not repeated. (The
    model's own READMEs are not read for this: they link the data of the whole family, measured worse.)"""
    if model.card is None:
        return []
    named = frozenset(d.repo_id.lower() for d in model.datasets)
    return [(dataset, model.card, number, text) for dataset, number, text in
            _linked_datasets(model.card.text, front_matter(model.card.text)[1], named)]


def withheld_data(model: ModelArtifacts) -> tuple[Evidence | None, bool]:
    """The line of the card's text saying training data is internal, proprietary or in-house (not shared), and
    whether it says so of some data beside other data ("few additional internal datasets")."""
    rules = card_content_rules()
    found = card_line(model, [rules.withheld_data], "data.withheld", 0.6)
    beside = found is not None and rules.named["withheld_data_beside"].pattern.search(found.snippet) is not None
    return found, beside


def base_named_in_text(model: ModelArtifacts) -> Evidence | None:
    """A card sentence that names a model this one was fine-tuned from or built on, where no metadata does: the
    model is then not its own base, and mirroring its own data and weights would judge the wrong model. Usage
    sections (how to fine-tune it further) are not read."""
    return card_line(model, [card_content_rules().base_model_sentence], "base.named-in-text", 0.5, skip_usage=True)


def _tags(model: ModelArtifacts) -> list[str]:
    """The model's tags, from the Hub's model JSON and the card's front matter."""
    found = []
    for data in (load_json(model.model_json.text) if model.model_json else None,
                 front_matter(model.card.text)[0] if model.card else None):
        tags = data.get("tags") if isinstance(data, dict) else None
        found += [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []
    return found


def other_family_tag(model: ModelArtifacts) -> str | None:
    """The first tag naming a model family (data/rules/families.yaml) that is neither the model's organisation nor
    the start of its name: `mistral` on a model of another organisation called otherwise."""
    org, _, name = model.repo_id.partition("/")
    for tag in _tags(model):
        family = family_named(tag)
        if family and family not in squash(org) and not squash(name).startswith(family):
            return tag
    return None


def family_named(tag: str) -> str | None:
    """The family a tag names: the tag itself reduced to letters and digits (`t5`, `gpt_neox`), else the longest
    family it begins with before a version or a separator (`llama-3`, `qwen2`, `stable-diffusion-xl`; not
    `optimum` or `gptq`, which only begin with a family's letters)."""
    squashed = squash(tag)
    if squashed in family_rules().families:
        return squashed
    match = _family_prefix().match(tag.lower())
    return squash(match.group(1)) if match else None


@lru_cache(maxsize=1)
def _family_prefix() -> re.Pattern:
    # Each family's letters, separators allowed between them, then a digit, a separator or the end; longest first.
    spelled = ("[-_ .]?".join(map(re.escape, family)) for family in sorted(family_rules().families, key=len,
                                                                           reverse=True))
    return re.compile(f"({'|'.join(spelled)})(?=$|[\\d\\-_ .])")


def base_of_another_family(model: ModelArtifacts) -> tuple[Evidence, str] | None:
    """A card that says the model was fine-tuned ("fine-tuned with C-RLFT"), outside usage sections, on a model
    whose tags name another organisation's family: the model is built on a base of that family it does not name,
    so it is not its own base. (The statement alone is no proof: a family's own card says its chat variants are
    fine-tuned; the tag alone neither: models trained from scratch share another family's architecture.)"""
    tag = other_family_tag(model)
    if tag is None:
        return None
    rule = family_rules().fine_tuned_statement
    found = card_line(model, [rule.pattern], rule.rule_id, 0.5, skip_usage=True)
    return (found, tag) if found is not None else None


def card_passage(model: ModelArtifacts, pattern: re.Pattern, rule_id: str, confidence: float) -> Evidence | None:
    """The first block of the card's text (a paragraph, a list; not code) whose raw lines `pattern` matches, for
    sentences that run over a line break ("See the previous model card for info:" then its link)."""
    if model.card is None:
        return None
    _, span, _ = front_matter(model.card.text)
    lines = lines_of(model.card.text)
    for block in document(model.card.text, span).blocks:
        if block.kind in ("code", "heading"):
            continue
        raw = "\n".join(lines[block.line_start - 1:block.line_end])
        if (match := pattern.search(raw)) is not None:
            first = block.line_start + raw.count("\n", 0, match.start())
            last = block.line_start + raw.count("\n", 0, match.end())
            return Evidence(rule_id, model.card.url, model.card.revision, "README.md", quote(match.group(0), 200),
                            first, last, model.card.artifact_id, confidence)
    return None


def card_line(model: ModelArtifacts, patterns, rule_id: str, confidence: float,
              skip_usage: bool = False) -> Evidence | None:
    """The first line of the card's text that one of `patterns` matches, outside code (and, with `skip_usage`,
    outside usage and paperwork sections), as evidence quoting that line where it stands."""
    if model.card is None:
        return None
    found = _first_matching_line(model.card.text, tuple(patterns), skip_usage)
    if found is None:
        return None
    number, line = found
    return Evidence(rule_id, model.card.url, model.card.revision, "README.md", quote(line, 200), number, number,
                    model.card.artifact_id, confidence)


@lru_cache(maxsize=1024)
def _first_matching_line(text: str, patterns: tuple, skip_usage: bool) -> tuple[int, str] | None:
    """(number, text) of the first line outside code that a pattern matches. Cached: several criteria ask the same
    question of the same card (the base-model sentence, for the base's data and for its weights)."""
    _, span, _ = front_matter(text)
    doc = document(text, span)
    paths = HeadingPaths(doc)
    lines = lines_of(text)
    for block in doc.blocks:
        if block.kind == "code" or (skip_usage and in_skipped_section(paths.at(block.line_start))):
            continue
        for number in range(block.line_start, min(block.line_end, len(lines)) + 1):
            if any(p.search(lines[number - 1]) for p in patterns):
                return number, lines[number - 1]
    return None
