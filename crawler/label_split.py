"""Label files split into a study half and a check half by model family, so a rule read off one half is measured on
the other (scikit-learn's GroupKFold habit: a group on one side only).

A family is the set of label files joined by anything they share: the organisation that publishes the system
(`org: name`), the Hub organisation or GitHub owner of its end model, or the file's name (the same system in two
label sets). Files joined directly or through others are one family, so a system, its other versions and its
publisher's other systems never sit on both sides. A new family's half is read off a hash of its smallest key, so the
same labels give the same split on every machine. Once drawn, the split of the bundled files is kept as data
(data/label-halves.csv, derived): a family with a settled file keeps that half when files join it, even when a new
file changes its smallest key, so no label ever moves from the check half into the study half.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

HALVES = ("study", "check")
SETTLED_FILE = Path(__file__).resolve().parent.parent / "data" / "label-halves.csv"
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


def settled_halves(path: Path = SETTLED_FILE) -> dict[str, str]:
    """label file (`<label set>/<file name>`) -> half, as the split was first drawn; empty when there is none."""
    if not path.exists():
        return {}
    rows = (line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#"))
    return {row["label_file"]: row["half"] for row in csv.DictReader(rows) if row.get("half") in HALVES}


def split(keys_by_file: Mapping[str, set[str]], settled: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """Each file's (family, half): a family takes the settled half of its first settled file, else its hash."""
    family_of = families(dict(keys_by_file))
    half_of_family: dict[str, str] = {}
    for name in sorted(keys_by_file):
        if name in settled:
            half_of_family.setdefault(family_of[name], settled[name])
    return {name: (family, half_of_family.get(family) or half_of(family)) for name, family in family_of.items()}


def settled_csv(halves: Mapping[str, tuple[str, str]]) -> str:
    lines = ["# Derived data: each bundled label file's half of the study / check split as first drawn",
             "# (crawler.label_split: families of files sharing an organisation, end-model owner or file name,",
             "# their half a hash of the family's smallest key). Kept so a family never changes sides.",
             "label_file,half"]
    return "\n".join([*lines, *(f'"{name}",{half}' for name, (_, half) in sorted(halves.items()))]) + "\n"
