"""Claims of openness in a model's own words: sentences, headings and titles of its card and of its own GitHub
README, and its Hub tags, that present this model, its family or its release as open. Markdown and HTML structure
is parsed (extractors.markdown), code and tables are skipped, sentences are split by spaCy's rule-based
sentencizer; what a sentence claims, and whether it is about this model, are rules as data
(data/rules/openness_claims.yaml)."""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from functools import cache, lru_cache

from extractors.lookalikes import read_as_shown
from extractors.rules import _load_yaml, _require, compile_pattern
from extractors.text import TEXT_MEMO_SIZE, document, front_matter, load_json, quote
from extractors.types import Artifact, ModelArtifacts

RULES = "openness_claims.yaml"
MAX_PARAGRAPH = 100_000  # characters of one paragraph read for claims


@dataclass(frozen=True)
class ClaimRule:
    rule_id: str
    kind: str
    pattern: re.Pattern
    examples: tuple[str, ...]
    not_examples: tuple[str, ...]


@dataclass(frozen=True)
class ClaimKind:
    name: str
    strength: int
    promises: tuple[str, ...]


@dataclass(frozen=True)
class ClaimRules:
    kinds: dict[str, ClaimKind]
    breaking_levels: tuple[str, ...]
    claims: tuple[ClaimRule, ...]
    not_about: tuple[ClaimRule, ...]
    self_reference: re.Pattern
    name_word_min_length: int
    name_words: int
    name_stop_words: frozenset[str]
    tags: dict[str, str]


def _rule_list(data: dict, group: str, kinds: dict) -> tuple[ClaimRule, ...]:
    rules = []
    for number, entry in enumerate(data.get(group) or [], start=1):
        _require(isinstance(entry, dict) and {"id", "pattern", "examples"} <= set(entry), RULES,
                 f"{group} #{number} needs id, pattern and examples")
        kind = entry.get("kind", "")
        _require(group != "claims" or kind in kinds, RULES, f"{entry['id']}: unknown kind {kind!r}")
        rules.append(ClaimRule(str(entry["id"]), kind, compile_pattern(RULES, entry["id"], entry["pattern"]),
                               tuple(entry["examples"]), tuple(entry.get("not_examples") or ())))
    _require(bool(rules), RULES, f"no {group}")
    return tuple(rules)


@cache
def claim_rules() -> ClaimRules:
    data = _load_yaml(RULES)
    kinds = {}
    for name, entry in (data.get("kinds") or {}).items():
        _require(isinstance(entry, dict) and isinstance(entry.get("strength"), int) and entry.get("promises"),
                 RULES, f"kind {name!r} needs a strength and the criteria it promises")
        kinds[str(name)] = ClaimKind(str(name), entry["strength"], tuple(entry["promises"]))
    _require("licence tag only" in kinds, RULES, "the kind 'licence tag only' must be defined")
    tags = {str(t).lower(): str(k) for t, k in (data.get("tags") or {}).items()}
    _require(set(tags.values()) <= set(kinds), RULES, "every tag needs a defined kind")
    return ClaimRules(kinds, tuple(data.get("breaking_levels") or ("closed",)), _rule_list(data, "claims", kinds),
                      _rule_list(data, "not_about_this_model", kinds),
                      compile_pattern(RULES, "self_reference", data.get("self_reference") or "(?!)"),
                      int(data.get("name_word_min_length") or 3), int(data.get("name_words") or 2),
                      frozenset(str(w).lower() for w in data.get("name_stop_words") or ()), tags)


# Paragraphs one spaCy pipeline splits before it is replaced by a fresh one. The pipeline keeps every token string
# it has read in its vocabulary, which grows without bound over the cards of the whole Hub; the splitter is
# rule-based, so a fresh pipeline splits every text the same way.
SENTENCIZER_TEXTS = 2000


class _Sentencizer:
    """spaCy's rule-based sentence splitter on a blank English pipeline (no model to download), renewed every
    SENTENCIZER_TEXTS texts."""

    def __init__(self):
        self.nlp, self.texts = None, 0

    def __call__(self, text: str):
        if self.nlp is None or self.texts >= SENTENCIZER_TEXTS:
            # Imported when first needed: 0.9 s a process, and a process that judges nothing (an assessment of
            # unchanged models) splits no sentence.
            import spacy

            self.nlp, self.texts = spacy.blank("en"), 0
            self.nlp.add_pipe("sentencizer")
        self.texts += 1
        return self.nlp(text).sents


split_sentences = _Sentencizer()


@dataclass(frozen=True)
class Claim:
    """A claim of openness: the rule that found it, its kind, the words quoted, and where they stand."""

    rule_id: str
    kind: str
    quote: str
    artifact: Artifact | None
    line: int | None
    location: str  # the URL it was fetched from, with `#L<line>` where a line is quoted (the store adds the public one)


def name_words(repo_id: str) -> set[str]:
    """Words that name the model in a sentence: its org, and the first words of its repo name (`Yi`, `Llama`,
    `DeepSeek`); later words often name another model it derives from."""
    rules = claim_rules()
    org, _, name = repo_id.lower().partition("/")
    words = [w for w in re.split(r"[-_./\s]+", name) if len(w) >= rules.name_word_min_length and not w.isdigit()
             and not re.fullmatch(r"v?\d[\w.]*", w) and w not in rules.name_stop_words][:rules.name_words]
    return {w for w in [org, *words] if len(w) >= rules.name_word_min_length and w not in rules.name_stop_words}


def _spelled(word: str) -> str:
    """A name word as a pattern that also matches it spelled apart: `baichuan2` as "Baichuan 2" or "Baichuan-2"."""
    return r"[\s-]?".join(re.escape(part) for part in re.findall(r"[a-z]+|\d+|[^a-z\d]+", word))


# E-mail addresses and URLs (opensource@...) are not words. An address starts where a word does (after a space or
# an `@`): `\S+@` tried at every character of a long word without `@` would cost its length squared.
NOT_PROSE = re.compile(r"(?<![^\s@])[^\s@]+@\S+|https?://\S+")


def classify_sentence(sentence: str, names: set[str], first_heading: bool = False) -> ClaimRule | None:
    """The rule of the strongest claim a sentence makes about this model; None when it makes none: no open phrase,
    or each one is about something else (a comparison, another model, a tool, benchmark, dataset, community,
    leaderboard or component, thanks: a `not_about_this_model` match overlapping the phrase)."""
    rules = claim_rules()
    text = NOT_PROSE.sub(" ", sentence)
    vetoes = [m.span() for r in rules.not_about for m in r.pattern.finditer(text)]
    matched = [r for r in rules.claims for m in r.pattern.finditer(text)
               if not any(start < m.end() and m.start() < end for start, end in vetoes)]
    if not matched:
        return None
    lowered = text.lower()
    about_this = first_heading or rules.self_reference.search(text) or any(
        re.search(rf"\b{_spelled(word)}(?![a-z])", lowered) for word in names)
    if not about_this:
        return None
    return max(matched, key=lambda r: rules.kinds[r.kind].strength)


def could_claim(text: str) -> bool:
    """Whether any claim phrase occurs in a paragraph at all: one that holds none has no sentence that makes a
    claim, and is not split into sentences (the costliest step of reading a card)."""
    prose = NOT_PROSE.sub(" ", text)
    return any(r.pattern.search(prose) for r in claim_rules().claims)


@dataclass(frozen=True)
class Sentence:
    """A sentence or heading of a document: its line, its text as written, as read (extractors.lookalikes), what
    was done to read it, and whether it is the document's title."""

    line: int
    text: str
    read: str
    changes: tuple[str, ...]
    title: bool


@lru_cache(maxsize=TEXT_MEMO_SIZE)
def _sentences(text: str, start: int, titled: bool) -> tuple[Sentence, ...]:
    """The document's headings and the sentences of its prose, code and tables skipped, each read as shown
    (look-alike letters, invisible characters and right-to-left overrides undone). The first heading is the title
    only where `titled` (the model's card; a code repo's README is titled by the codebase). Memoised by text: the
    READMEs of an organisation's repos are read for each of its models."""
    found, first = [], titled
    for block in document(text, start).blocks:
        if block.kind == "heading":
            reading = read_as_shown(block.text)
            found.append(Sentence(block.line_start, block.text, reading.text,
                                  reading.changes(0, len(block.text)), first))
            first = False
        elif block.kind in ("prose", "html"):
            # spaCy refuses a text over its max_length (a hostile card may be one huge paragraph): a claim about
            # the model stands early in a paragraph, so the paragraph is read up to a bound.
            found += _paragraph_sentences(block, read_as_shown(block.text[:MAX_PARAGRAPH]))
    return tuple(found)


LINE_BREAKS = re.compile("\n")


def _paragraph_sentences(block, reading) -> list[Sentence]:
    """The sentences of a paragraph that could make a claim, split as read, each quoted from the original text."""
    read_text = reading.text[:MAX_PARAGRAPH]  # NFKC can lengthen a text (one ligature reads as 18 letters)
    if not could_claim(read_text):
        return []
    breaks = [m.start() for m in LINE_BREAKS.finditer(reading.original)] if block.kind == "prose" else []
    found = []
    for sentence in split_sentences(read_text):
        read = sentence.text.strip()
        if not read:
            continue
        begins = sentence.start_char + len(sentence.text) - len(sentence.text.lstrip())  # past spaCy's whitespace
        start, end = reading.span(begins, begins + len(read))
        line = block.line_start + bisect_left(breaks, start)  # the line breaks before the sentence
        found.append(Sentence(line, reading.original[start:end], read, reading.changes(start, end), False))
    return found


def text_claims(model: ModelArtifacts) -> list[Claim]:
    """Claims in the card's text and the model's own READMEs, in document order."""
    names = name_words(model.repo_id)
    documents = [(model.card, front_matter(model.card.text)[1], True)] if model.card else []
    documents += [(a, 0, False) for a in model.code_files if a.kind == "readme"]
    found = []
    for artifact, start, titled in documents:
        for sentence in _sentences(artifact.text, start, titled):
            rule = classify_sentence(sentence.read, names, sentence.title)
            if rule is not None:
                found.append(Claim(rule.rule_id, rule.kind, claim_quote(sentence), artifact, sentence.line,
                                   f"{artifact.url}#L{sentence.line}"))
    return found


def claim_quote(sentence: Sentence) -> str:
    """The sentence as written; where it was read otherwise (look-alikes, invisible characters, an override), also
    how it was read and why, so review sees both the text and the trick."""
    if not sentence.changes:
        return quote(sentence.text, 240)
    return quote(f"{quote(sentence.text, 200)} [read as: {quote(sentence.read, 200)}; "
                 f"{'; '.join(sentence.changes[:4])}{'; …' if len(sentence.changes) > 4 else ''}]", 600)


def tag_claims(model: ModelArtifacts) -> list[Claim]:
    rules = claim_rules()
    info = load_json(model.model_json.text) if model.model_json else None
    tags = info.get("tags") if isinstance(info, dict) else None
    return [Claim("claim.tag", rules.tags[t.lower()], f"tag: {t}", model.model_json, None, model.model_json.url)
            for t in (tags if isinstance(tags, list) else []) if isinstance(t, str) and t.lower() in rules.tags]
