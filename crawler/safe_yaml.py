"""YAML that anyone wrote, read by the rooms around the judge (the replica's corpus reads cards' front matter with
it): yaml's safe loader, where no alias is followed, nesting is bounded, and every scalar builds.

- No alias: the replica serves card metadata as JSON, which has none, and a "billion laughs" bomb expands through
  them (no bundled card uses one).
- At most MAX_DEPTH levels of nesting, checked while composing, before Python's own recursion limit.
- A date stays its text, as JSON holds it (`release_date: 2024-02-30` is no date at all); an integer longer than
  MAX_INT_CHARS stays its text (Python refuses to print one of thousands of digits, and so JSON cannot hold it);
  a number, boolean or binary that does not build (`!!float abc`) stays its text.

The judge reads cards with its own loader (extractors.text.load_yaml_bounded): the replica must not depend on the
judge's modules, or a change in how the judge reads YAML would change the Hub that tests run the judge against.
"""

from __future__ import annotations

import yaml
from huggingface_hub.repocard import REGEX_YAML_BLOCK

MAX_DEPTH = 64
MAX_INT_CHARS = 100


class YamlRefused(ValueError):
    """YAML beyond the bounds (an alias, too deep) or that the parser cannot read; the message says which."""


class _Loader(yaml.SafeLoader):
    """The pure-Python safe loader (libyaml's composer cannot be watched), composing within the bounds."""

    def __init__(self, text: str):
        super().__init__(text)
        self.depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise YamlRefused(f"an alias (*{event.anchor}) on line {event.start_mark.line + 1}: aliases are not "
                              "followed")
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise YamlRefused(f"nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _or_text(construct, max_chars: int | None = None):
    """A scalar constructor keeping the scalar's text where `construct` cannot build it, or past `max_chars`."""
    def build(loader: yaml.SafeLoader, node: yaml.Node):
        if max_chars is not None and isinstance(node, yaml.ScalarNode) and len(node.value) > max_chars:
            return loader.construct_scalar(node)
        try:
            return construct(loader, node)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError):
            return loader.construct_scalar(node)
    return build


_Loader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))
_Loader.add_constructor("tag:yaml.org,2002:int", _or_text(yaml.SafeLoader.construct_yaml_int, MAX_INT_CHARS))
for _tag, _construct in (("float", yaml.SafeLoader.construct_yaml_float), ("bool", yaml.SafeLoader.construct_yaml_bool),
                         ("binary", yaml.SafeLoader.construct_yaml_binary)):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _or_text(_construct))


def load(text: str):
    """The YAML value of `text`. Raises yaml.YAMLError for what is not YAML (or uses a tag outside the safe
    schema), YamlRefused beyond the bounds or for anything else the parser raises on the text."""
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    except (yaml.YAMLError, YamlRefused):
        raise
    except Exception as exc:  # noqa: BLE001 (anything the parser raises on a text is the text's)
        raise YamlRefused(f"unreadable ({type(exc).__name__}: {str(exc)[:200]})") from exc
    finally:
        loader.dispose()


def front_matter_text(card: str) -> str | None:
    """The YAML text of a card's front matter by the Hub's own rule (huggingface_hub's regular expression), None
    when it has none. A byte-order mark is not part of the card."""
    match = REGEX_YAML_BLOCK.search(card.lstrip("\ufeff"))
    return match.group(2) if match else None
