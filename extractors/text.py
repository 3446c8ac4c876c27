"""Small text helpers shared by extractors: front matter, headings, line lookup, short quotes."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from itertools import islice

import yaml
from huggingface_hub.repocard import REGEX_YAML_BLOCK

from extractors.markdown import parse

MAX_SNIPPET = 300


# Control characters, and the bidi embeddings, overrides and isolates that reorder how a terminal or a page shows
# the text around them (a quote must read as its characters run, never flip what follows it).
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


LINE_BREAK = re.compile(r"\r\n|\r|\n")


@lru_cache(maxsize=512)
def lines_of(text: str) -> tuple[str, ...]:
    """A text's lines as the Markdown parser and the front-matter regex count them (CR, LF or CRLF): unlike
    `str.splitlines`, a U+2028 or a form feed inside a line does not shift the line numbers evidence cites.

    Cached, and a tuple so no caller can change it: each judge reads the lines of the same documents again."""
    return tuple(LINE_BREAK.split(text))


def squash(name: str) -> str:
    """A name reduced to lower-case letters and digits, to compare spellings (`deep-floyd` / `DeepFloyd`)."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


# How much of a text a quote reads, per character quoted: enough for the whitespace and control characters that
# folding drops, and a bound, so quoting a line of megabytes costs what quoting a short one does.
QUOTE_READS = 20


def quote(text: str, limit: int = MAX_SNIPPET) -> str:
    """A short quote: control characters (terminal escapes among them) dropped, whitespace folded, cut at `limit`
    characters. Quotes are shown in terminals and pages: they must print as the text, never act on the screen."""
    folded = " ".join(CONTROL.sub("", text[:limit * QUOTE_READS]).split())
    return folded if len(folded) <= limit else folded[: limit - 1] + "…"


# How much of a document is judged: its first MAX_JUDGED_LINES lines, at most MAX_JUDGED_CHARS characters. A card
# or README of the Hub runs to a few thousand lines (the largest bundled, 88 kB); the bounds keep what one document
# costs to judge small whatever its owner writes (a card of megabytes, of a million lines). A document cut is judged
# on its head, and each judgement citing it says so (extractors.within_bounds, extractors.bound_notes).
MAX_JUDGED_CHARS = 500_000
MAX_JUDGED_LINES = 20_000


def judged_part(text: str) -> str:
    """The head of a text that is judged (the text itself when within the bounds)."""
    if len(text) <= MAX_JUDGED_CHARS and text.count("\n") + text.count("\r") < MAX_JUDGED_LINES:
        return text
    head = text[:MAX_JUDGED_CHARS]
    breaks = LINE_BREAK.finditer(head)
    last = next(islice(breaks, MAX_JUDGED_LINES - 1, None), None)  # the break that ends the last line judged
    return head[:last.start()] if last is not None else head


def split_front_matter(text: str) -> tuple[str | None, int]:
    """Return (yaml text, number of lines it spans including fences), using huggingface_hub's own regex."""
    match = REGEX_YAML_BLOCK.search(text.lstrip("\ufeff"))  # a byte-order mark is not part of the card
    if not match:
        return None, 0
    return match.group(2), match.group(0).count("\n")


NOT_TEXT = re.compile(r"[\ufffd\x00-\x08\x0e-\x1f]")


def is_text(text: str) -> bool:
    """Whether a stored document reads as text: almost no replacement or control characters (a binary file, an
    image or a PDF saved as LICENSE or README.md does not)."""
    return not text or len(NOT_TEXT.findall(text[:20000])) <= max(2, len(text[:20000]) // 100)


# libyaml's composer where it is installed (much faster); the checks and the safe constructor are the same.
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Bounds for YAML written by anyone: deeper nesting or a larger expansion of aliases (a "billion laughs" bomb) is
# refused as unreadable, before anything is built from it.
YAML_MAX_DEPTH = 64
YAML_MAX_NODES = 100_000
# An integer written with more characters than this stays its text: no card means a number of thousands of digits,
# and Python refuses to turn one back into text (`int_max_str_digits`), in a judge or in JSON.
YAML_MAX_INT_CHARS = 100


class UnsafeYaml(ValueError):
    """YAML refused: beyond the bounds (too deep, aliases expanding too far), or holding a value that cannot be
    built (the message says which)."""


def _text_of(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return loader.construct_scalar(node)


def _or_text(construct, max_chars: int | None = None):
    """A scalar constructor that keeps the scalar's text where `construct` cannot build it (`!!float abc`,
    `!!bool maybe`, `!!int 0x`) or where it is longer than `max_chars`."""
    def build(loader: yaml.SafeLoader, node: yaml.Node):
        if isinstance(node, yaml.ScalarNode) and max_chars is not None and len(node.value) > max_chars:
            return loader.construct_scalar(node)
        try:
            return construct(loader, node)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError):
            return loader.construct_scalar(node)
    return build


class CardYamlLoader(yaml.SafeLoader):
    """The safe constructor, with no scalar that can fail to build: a date or time stays the text it is written as
    (`release_date: 2024-02-30` is a date that does not exist, and cards quote dates, never compute with them); an
    integer of more than YAML_MAX_INT_CHARS characters, and a number, boolean or binary that does not build, stay
    their text. Tags outside the safe schema are refused as before (a ConstructorError)."""


CardYamlLoader.add_constructor("tag:yaml.org,2002:timestamp", _text_of)
CardYamlLoader.add_constructor("tag:yaml.org,2002:int",
                               _or_text(yaml.SafeLoader.construct_yaml_int, YAML_MAX_INT_CHARS))
for _tag, _construct in (("float", yaml.SafeLoader.construct_yaml_float), ("bool", yaml.SafeLoader.construct_yaml_bool),
                         ("binary", yaml.SafeLoader.construct_yaml_binary)):
    CardYamlLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _or_text(_construct))


def load_yaml_bounded(text: str):
    """`yaml.safe_load` within bounds: the node graph is composed (aliases are not expanded by composing), walked
    counting every node as construction would expand it, and built only when within YAML_MAX_DEPTH and
    YAML_MAX_NODES, by CardYamlLoader (no scalar fails to build). Raises yaml.YAMLError for invalid YAML and
    UnsafeYaml beyond the bounds or for anything else the libraries raise on it: text written by anyone must never
    stop the judge (a lone surrogate makes libyaml raise UnicodeEncodeError)."""
    try:
        root = yaml.compose(text, Loader=SafeLoader)
    except yaml.YAMLError:
        raise
    except RecursionError as exc:
        raise UnsafeYaml(f"nested deeper than the parser can follow (limit {YAML_MAX_DEPTH})") from exc
    except Exception as exc:  # noqa: BLE001 (any failure on this text is the text's: see the docstring)
        raise UnsafeYaml(f"unreadable ({type(exc).__name__}: {quote(str(exc), 120)})") from exc
    if root is None:
        return None
    stack, visited = [(root, 1)], 0
    while stack:
        node, depth = stack.pop()
        visited += 1
        if depth > YAML_MAX_DEPTH:
            raise UnsafeYaml(f"nested more than {YAML_MAX_DEPTH} levels deep")
        if visited > YAML_MAX_NODES:
            raise UnsafeYaml(f"expands to more than {YAML_MAX_NODES} nodes (aliases)")
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            stack.extend((part, depth + 1) for pair in node.value for part in pair)
    try:
        return CardYamlLoader("").construct_document(root)  # the safe constructor, on the graph already checked
    except yaml.YAMLError:
        raise
    except Exception as exc:  # noqa: BLE001 (any failure on this text is the text's: see the docstring)
        raise UnsafeYaml(f"a value cannot be built ({type(exc).__name__}: {quote(str(exc), 120)})") from exc


@lru_cache(maxsize=128)
def front_matter(card_text: str) -> tuple[dict | None, int, str | None]:
    """(metadata, number of lines the front matter spans, error). Hostile or broken YAML gives an error, not a crash.

    Every criterion reads the same card's metadata: parsed once per text (cached); callers must not mutate it."""
    yaml_text, span = split_front_matter(card_text)
    if yaml_text is None:
        return None, 0, None
    try:
        data = load_yaml_bounded(yaml_text)
    except yaml.YAMLError as exc:
        return None, span, f"front matter is not valid YAML: {quote(str(exc), 200)}"
    except UnsafeYaml as exc:
        return None, span, f"front matter refused: {exc}"
    if data is None:
        return {}, span, None
    if not isinstance(data, dict):
        return None, span, "front matter is not a mapping"
    return data, span, None


def key_line(card_text: str, key: str, within: int) -> tuple[int, str] | None:
    """The 1-based line of a top-level front-matter key, and its text."""
    pattern = re.compile(rf"^[\"']?{re.escape(key)}[\"']?\s*:")
    for number, line in enumerate(lines_of(card_text)[:within], start=1):
        if pattern.match(line):
            return number, line
    return None


# How many texts each memo keyed by text keeps (the parsed documents and what is read from them): every entry keeps
# its text alive, so the bound is what keeps memory flat however many models a process judges.
TEXT_MEMO_SIZE = 256


@lru_cache(maxsize=TEXT_MEMO_SIZE)
def document(text: str, start_line: int = 0):
    """The Markdown document after the first `start_line` lines (the front matter), lines counted in `text`.
    Cached, the one memo of the parse: every judge asks for the same documents."""
    body = "\n".join(lines_of(text)[start_line:])
    return parse(body, start_line + 1)


def headings(text: str, start_line: int = 0) -> list[tuple[int, str]]:
    """Markdown headings (ATX and setext, never a `#` comment inside fenced code), as (1-based line, text)."""
    return [(b.line_start, b.text) for b in document(text, start_line).headings()]


# A JSON escape of a UTF-16 surrogate (`\ud800`): alone, it decodes to a character no UTF-8 can encode, which the
# store cannot hold and a page cannot show. (A pair, as JSON writes an emoji, decodes to the emoji.)
ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_lone_surrogates(value):
    """The value with each lone surrogate of its strings written as its escape (`\\ud800`), as text."""
    if isinstance(value, str):
        return LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", value)
    if isinstance(value, list):
        return [_without_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in value.items()}
    return value


@lru_cache(maxsize=32)
def load_json(text: str):
    """The JSON value of a text, None when it is not JSON; a lone surrogate escaped in it stays an escape, as text.
    Memoised by text (a model's JSON and tree pages are read by several judges; 32, as a tree page parsed can weigh
    megabytes): callers read it and never change it."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser follows
        return None
    return _without_lone_surrogates(value) if ESCAPED_SURROGATE.search(text) else value
