"""Text read as a person sees it: a claim spelt with look-alike letters (a Cyrillic `о` in "open source"), fullwidth
or mathematical letters, zero-width characters inside its words, or written backwards under a right-to-left
override (shown forwards) is read as the words it shows, and what was changed to read it is kept, so the evidence
can quote the original text and say how it was read.

No library for this is installed (the Unicode confusables table is in none of the project's dependencies), and
the reading needs only a small part of it, so the steps are written here: Unicode's NFKC normalisation
(`unicodedata`), the common Latin look-alikes of Unicode's confusables.txt (Cyrillic, Greek, Armenian, Cherokee and
a few Latin letters that are shapes of others), format characters removed (Unicode category Cf: zero-width
spaces and joiners, bidi controls, soft hyphens, tags) and right-to-left overrides undone (their text reversed
into the order it is shown in).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass

# Letters of other scripts drawn like a Latin letter (confusables.txt, the common ones), to that letter.
LOOKALIKES = str.maketrans({
    # Cyrillic
    "а": "a", "с": "c", "е": "e", "ҽ": "e", "һ": "h", "і": "i", "ӏ": "l", "ј": "j", "к": "k",
    "м": "m", "о": "o", "р": "p", "ԛ": "q", "г": "r", "ѕ": "s", "т": "t", "у": "y", "ԝ": "w", "х": "x",
    "ԁ": "d", "ь": "b", "ո": "n", "ѵ": "v", "А": "A", "В": "B", "С": "C", "Е": "E", "Н": "H", "І": "I", "Ј": "J",
    "К": "K", "М": "M", "О": "O", "Р": "P", "Ѕ": "S", "Т": "T", "Х": "X", "У": "Y", "Ԝ": "W", "Ԁ": "D", "Ү": "Y",
    # Greek
    "α": "a", "ο": "o", "ρ": "p", "ν": "v", "ε": "e", "ι": "i", "κ": "k", "τ": "t", "υ": "u", "χ": "x", "ϲ": "c",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P",
    "Τ": "T", "Υ": "Y", "Χ": "X", "Ϲ": "C",
    # Armenian, Cherokee
    "օ": "o", "ս": "u", "հ": "h", "ց": "g", "ք": "q", "Ꭺ": "A", "Ᏼ": "B", "Ꮯ": "C", "Ꭼ": "E", "Ꮋ": "H", "Ꮶ": "K",
    "Ꮇ": "M", "Ꮲ": "P", "Ꮪ": "S", "Ꭲ": "T", "Ꮃ": "W",
    # Latin letters that are shapes of others
    "ı": "i", "ȷ": "j", "ɑ": "a", "ɡ": "g", "ɩ": "i", "ʏ": "y", "ᴏ": "o", "ᴄ": "c", "ꜱ": "s", "ᴠ": "v", "ᴡ": "w",
    "ᴢ": "z", "ɴ": "n", "ʀ": "r", "ᴜ": "u", "ᴇ": "e", "ᴘ": "p",
})
RIGHT_TO_LEFT_OVERRIDE, POP_DIRECTIONAL = "\u202e", "\u202c"
SHOWN_AS_IS = re.compile(r"[\x00-\x7f]*")  # ASCII only: nothing to fold (the common case, checked at C speed)


@dataclass(frozen=True)
class Reading:
    """A text as read: `text` in the order it is shown, NFKC-normalised, look-alikes folded, format characters
    removed; `origin[i]` is the index in the original text of `text[i]` (None when nothing changed); `notes`, by
    index in the original, says what was done there."""

    original: str
    text: str
    origin: tuple[int, ...] | None = None
    noted_at: tuple[int, ...] = ()  # sorted
    notes: tuple[str, ...] = ()

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that `text[start:end]` was read from."""
        if self.origin is None or start >= end:
            return start, end
        part = self.origin[start:end]
        return min(part), max(part) + 1

    def changes(self, start: int, end: int) -> tuple[str, ...]:
        """What was done to read the original text's span [start, end), in words, each once."""
        return tuple(dict.fromkeys(self.notes[bisect_left(self.noted_at, start):bisect_left(self.noted_at, end)]))


def _display_order(text: str) -> tuple[list[int], list[tuple[int, str]]]:
    """The indices of the text in the order they are shown: each right-to-left override's span, up to its pop or
    the end of the line, reversed (an override shows even Latin letters right to left)."""
    order, notes, index = list(range(len(text))), [], 0
    while (start := text.find(RIGHT_TO_LEFT_OVERRIDE, index)) >= 0:
        line_end = text.find("\n", start)
        line_end = len(text) if line_end < 0 else line_end
        end = text.find(POP_DIRECTIONAL, start, line_end)
        end = line_end if end < 0 else end
        order[start + 1:end] = reversed(order[start + 1:end])
        # Noted on the text reversed, so a sentence read from it carries the note.
        notes.append((min(start + 1, end), "text under a right-to-left override read in the order it is shown"))
        index = end
    return order, notes


def _describe(char: str, read: str) -> str:
    name = unicodedata.name(char, "unnamed").lower()
    return f"{char} (U+{ord(char):04X} {name}) read as {read}"


def read_as_shown(text: str) -> Reading:
    """The text as a person reads it (see the module docstring). Linear in the text; ASCII text is its own
    reading."""
    if SHOWN_AS_IS.fullmatch(text):
        return Reading(text, text)
    order, notes = _display_order(text)
    chars, origin = [], []
    for index in order:
        char = text[index]
        if unicodedata.category(char) == "Cf":  # zero-width, bidi and other format characters: not shown
            notes.append((index, f"invisible U+{ord(char):04X} ({unicodedata.name(char, 'format character').lower()})"
                                 " removed"))
            continue
        read = char if char.isascii() else unicodedata.normalize("NFKC", char).translate(LOOKALIKES)
        if read != char and any(c.isascii() and c.isalnum() for c in read):
            notes.append((index, _describe(char, read)))
        chars.append(read)
        origin += [index] * len(read)
    notes.sort()
    return Reading(text, "".join(chars), tuple(origin), tuple(at for at, _ in notes), tuple(note for _, note in notes))
