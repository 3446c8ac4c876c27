"""Label files split into a study half and a check half by model family, so a rule read off one half is measured on
the other (scikit-learn's GroupKFold habit: a group on one side only).

A family is the set of label files joined by anything they share: the organisation that publishes the system
(`org: name`), the Hub organisation or GitHub owner of its end model, or the file's name (the same system in two
label sets). Files joined directly or through others are one family, so a system, its other versions and its
publisher's other systems never sit on both sides. A family's half is read off a hash of its smallest key: the same
labels give the same split on every machine, and adding a label file moves only the family it joins.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

HALVES = ("study", "check")
# Part of the hash, so the split can be told apart from any other hash of the same keys; never tuned.
SALT = "openness-label-split-v1"


def family_keys(org: str, end_models: Iterable[str], end_repos: Iterable[str], stem: str) -> set[str]:
    """The keys that join a label file to its family."""
    def norm(text: str) -> str:
        return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()

    keys = {f"file:{norm(stem)}"}
    if norm(org):
        keys.add(f"org:{norm(org)}")
    keys |= {f"owner:{norm(m.split('/')[0])}" for m in end_models if "/" in m}
    keys |= {f"owner:{norm(r.split('/')[0])}" for r in end_repos if "/" in r}
    return keys


def families(keys_by_file: dict[str, set[str]]) -> dict[str, str]:
    """Each file's family, named by the smallest key of its connected component (union-find over shared keys)."""
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for keys in keys_by_file.values():
        first, *rest = sorted(keys)
        for key in rest:
            a, b = find(first), find(key)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return {name: find(min(keys)) for name, keys in keys_by_file.items()}


def half_of(family: str) -> str:
    """`study` or `check`, from the family's name alone."""
    return HALVES[hashlib.sha256(f"{SALT}\0{family}".encode()).digest()[0] % 2]
