"""Read a corpus directory of captured evidence (the format of ``../shared/corpus``, documented in docs/corpus.md).

The corpus holds real documents only. This module reads them as they are and says, for every repo, what was
captured and what was not, so the replica can answer "not captured" instead of pretending something is absent.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath

import yaml

from crawler import safe_yaml
from crawler.labels import GITHUB_LINK, normalise_github

# Files in a Hub repo folder that describe the capture rather than being files of the repo.
CAPTURE_METADATA = {"capture.json", "PROVENANCE.md", "files.tsv", "facts.json"}
# Prefixes of files that are related documents but NOT the repo's own files (a sibling repo's card,
# another revision, a GitHub copy); the replica never serves them as the repo's files.
NOT_REPO_FILE_PREFIXES = ("SIBLING_", "ALT_", "GITHUB_")
NOT_REPO_DIRS = {"other-revisions"}


# The head commit a GitHub capture's PROVENANCE.md names: `head commit `<sha>` (<ISO date>, "<subject>")`.
PROVENANCE_HEAD = re.compile(r"head commit `([0-9a-f]{40})` \((\d{4}-\d\d-\d\dT[^,)]+)")


def modified_at(paths) -> str:
    """The newest modification time of these files, ISO 8601 UTC as the Hub writes it: when the capture on this disk
    last changed. A replica has no other clock; it is marked derived wherever it is served."""
    newest = max((p.stat().st_mtime for p in paths), default=0.0)
    return dt.datetime.fromtimestamp(newest, dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class CorpusError(Exception):
    """A corpus directory is missing or malformed; the message names the path."""


from crawler.gitblob import git_blob_sha1  # noqa: E402,F401 (the replica takes it from here)


@dataclass(frozen=True)
class HubFile:
    path: str
    size: int | None


@dataclass
class HubRepoCapture:
    """One Hugging Face repo (model or dataset) as the corpus captured it."""

    repo_type: str  # "model" | "dataset"
    repo_id: str
    folder: Path
    corpus_path: str

    @cached_property
    def capture(self) -> dict:
        path = self.folder / "capture.json"
        if path.exists():
            return json.loads(path.read_text(encoding="utf-8"))
        # Dataset folders carry no capture.json: infer the same facts from what is there.
        card = self.folder / "README.md"
        if not card.exists():
            card_state = "none"
        else:
            card_state = "full" if safe_yaml.front_matter_text(card.read_text(encoding="utf-8", errors="replace")) \
                is not None else "partial"
        return {"card": card_state, "files": "none", "licence_files": [], "facts": False, "source": "inferred"}

    @property
    def card_bytes(self) -> bytes | None:
        card = self.folder / "README.md"
        return card.read_bytes() if card.exists() else None

    def file_bytes(self, path: str) -> bytes:
        """The bytes of a captured file of the repo (one of `captured_files`)."""
        return self.card_bytes if path == "README.md" else self.captured_files[path].read_bytes()

    @cached_property
    def front_matter(self) -> dict | None:
        """The card's YAML front matter, or None when not captured; raises CorpusError when it does not parse."""
        if self.card_bytes is None:
            return None
        yaml_text = safe_yaml.front_matter_text(self.card_bytes.decode("utf-8", errors="replace"))
        if yaml_text is None:
            return None
        try:
            data = safe_yaml.load(yaml_text)  # a card is written by anyone: bounded, every scalar JSON can hold
        except (yaml.YAMLError, safe_yaml.YamlRefused) as exc:
            raise CorpusError(f"{self.corpus_path}/README.md: front matter is not valid YAML: {exc}") from exc
        if data is not None and not isinstance(data, dict):
            raise CorpusError(f"{self.corpus_path}/README.md: front matter is not a mapping")
        return data or {}

    @cached_property
    def captured_files(self) -> dict[str, Path]:
        """Files of the repo itself that the corpus holds verbatim (card, licence files...), by repo path."""
        found: dict[str, Path] = {}
        for path in sorted(self.folder.rglob("*")):
            rel = path.relative_to(self.folder)
            if not path.is_file() or rel.parts[0] in NOT_REPO_DIRS:
                continue
            if rel.as_posix() in CAPTURE_METADATA or rel.name.startswith(NOT_REPO_FILE_PREFIXES):
                continue
            found[rel.as_posix()] = path
        return found

    @cached_property
    def file_list(self) -> list[HubFile] | None:
        """The repo's file list from files.tsv (a third-party mirror's list), or None when none was captured."""
        tsv = self.folder / "files.tsv"
        if not tsv.exists():
            return None
        files = []
        for number, line in enumerate(tsv.read_text(encoding="utf-8").splitlines()[1:], start=2):
            if not line.strip():
                continue
            cols = line.split("\t")
            if len(cols) < 2:
                raise CorpusError(f"{self.corpus_path}/files.tsv:{number}: expected path<TAB>size<TAB>source")
            size = int(cols[1]) if cols[1].strip().isdigit() else None
            files.append(HubFile(cols[0], size))
        return files

    @cached_property
    def facts(self) -> list[dict]:
        path = self.folder / "facts.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []

    @cached_property
    def revision_sha(self) -> str:
        """A stable 40-hex revision derived from the captured content: it changes exactly when the capture does."""
        digest = hashlib.sha1(self.repo_id.encode())
        for name in ("files.tsv", "facts.json"):
            if (self.folder / name).exists():
                digest.update((self.folder / name).read_bytes())
        for rel, path in self.captured_files.items():
            digest.update(rel.encode() + b"\0" + path.read_bytes())
        return digest.hexdigest()

    @cached_property
    def last_modified(self) -> str:
        """Derived: when this capture last changed on disk (the Hub's `lastModified` is in no capture)."""
        return modified_at([*self.captured_files.values(),
                            *(self.folder / n for n in ("files.tsv", "facts.json") if (self.folder / n).exists())])


class SyntheticModel(HubRepoCapture):
    """A model of a synthetic hub: id, author, date, downloads and task from a real Hub listing row; card, file list
    and every other capture fact borrowed from a real captured model (the template), never invented."""

    def __init__(self, listing_row: dict, template: HubRepoCapture, mutation: str | None = None, round_: int = 1):
        super().__init__("model", self.id_for(listing_row, round_), template.folder, template.corpus_path)
        self.listing_row = listing_row
        self.round = round_
        self.template = template
        # Set for a model `--mutate` changed since the first crawl: a new commit whose card gains a line (marked
        # synthetic), modified when the replica started.
        self.mutation = mutation

    @staticmethod
    def id_for(listing_row: dict, round_: int) -> str:
        """A hub larger than the listing reads it again: from the second round on, a row's id gets `-synthetic-N`."""
        return listing_row["id"] if round_ == 1 else f"{listing_row['id']}-synthetic-{round_}"

    capture = property(lambda self: self.template.capture)
    front_matter = property(lambda self: self.template.front_matter)
    captured_files = property(lambda self: self.template.captured_files)
    file_list = property(lambda self: self.template.file_list)
    facts = property(lambda self: self.template.facts)

    @property
    def card_bytes(self) -> bytes | None:
        card = self.template.card_bytes
        if card is None or self.mutation is None:
            return card
        return card + f"\n<!-- synthetic change: {self.mutation} -->\n".encode()

    @cached_property
    def last_modified(self) -> str:
        """Derived: a changed model's change is the replica's start; an unchanged one was last modified when its
        listing row says it was created (the listing has no lastModified). The template's capture time would give
        thousands of models one instant, which no Hub listing shows."""
        if self.mutation is not None:
            return MUTATED_AT
        try:
            created = dt.datetime.fromisoformat(self.listing_row.get("createdAt") or "")
        except ValueError:
            return self.template.last_modified
        created = created if created.tzinfo else created.replace(tzinfo=dt.timezone.utc)
        return created.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    @cached_property
    def revision_sha(self) -> str:
        return hashlib.sha1(f"{self.repo_id}\n{self.template.revision_sha}\n{self.mutation or ''}".encode()).hexdigest()


# When the models `--mutate` changes were modified: the replica's start (later than any capture on disk).
MUTATED_AT = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass(frozen=True)
class TreeEntry:
    path: str
    mode: str
    type: str  # blob | commit (submodule)
    sha: str | None  # None where the capture lacked the blob ("BAD")
    size: int | None


@dataclass
class GithubRepoCapture:
    """One GitHub repo as the corpus captured it: the whole tree, and verbatim copies of its non-code files."""

    full_name: str
    folder: Path
    corpus_path: str
    _tree: list[TreeEntry] = field(default=None, repr=False)

    @property
    def tree(self) -> list[TreeEntry]:
        if self._tree is None:
            self._tree = list(self._read_tree())
        return self._tree

    def _read_tree(self):
        tree_file = self.folder / "tree.txt"
        if not tree_file.exists():
            raise CorpusError(f"{self.corpus_path}: tree.txt is missing")
        for number, line in enumerate(tree_file.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            meta, _, path = line.partition("\t")
            parts = meta.split()
            if len(parts) != 4 or not path:
                raise CorpusError(f"{self.corpus_path}/tree.txt:{number}: not a `git ls-tree -r --long` line")
            mode, kind, sha, size = parts
            yield TreeEntry(path, mode, kind, None if sha == "BAD" else sha, int(size) if size.isdigit() else None)

    @cached_property
    def provenance_head(self) -> tuple[str, str] | None:
        """(commit, ISO date) of the head commit PROVENANCE.md names, when the captured files are still that
        commit's blobs (each file's git blob id is the tree's); None for an unverified or changed capture."""
        provenance = self.folder / "PROVENANCE.md"
        match = PROVENANCE_HEAD.search(provenance.read_text(encoding="utf-8")) if provenance.exists() else None
        if match is None:
            return None
        blobs = {e.path: e.sha for e in self.tree}
        if any(blobs.get(rel) != git_blob_sha1(path.read_bytes()) for rel, path in self.captured_files.items()):
            return None
        return match.group(1), match.group(2)

    @cached_property
    def head_sha(self) -> str:
        """The head commit PROVENANCE.md names; else (a capture without one, or changed since) a stable id derived
        from the tree and the files, so it changes exactly when the capture does."""
        if self.provenance_head:
            return self.provenance_head[0]
        digest = hashlib.sha1((self.folder / "tree.txt").read_bytes())
        for rel, path in self.captured_files.items():
            digest.update(rel.encode() + b"\0" + path.read_bytes())
        return digest.hexdigest()

    @cached_property
    def pushed_at(self) -> str:
        """The head commit's date from PROVENANCE.md; else derived: when the capture last changed on disk."""
        if self.provenance_head:
            return self.provenance_head[1]
        return modified_at([self.folder / "tree.txt", *self.captured_files.values()])

    @cached_property
    def captured_files(self) -> dict[str, Path]:
        root = self.folder / "files"
        if not root.exists():
            return {}
        return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}


def _listing_rows(listing: Path):
    """The rows of a Hub listing CSV (gzipped or not) whose id has an owner (legacy ids without one are not
    served); an unreadable listing is a CorpusError naming it."""
    opener = gzip.open if listing.suffix == ".gz" else open
    try:
        with opener(listing, "rt", encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                if (row.get("id") or "").count("/") == 1:
                    yield row
    except (OSError, csv.Error, KeyError) as exc:
        raise CorpusError(f"{listing}: not a readable Hub listing CSV: {exc}") from exc


class Corpus:
    """A corpus directory: huggingface/models, huggingface/datasets, github. Lookups ignore case, as both Hubs do."""

    def __init__(self, root: Path | str):
        self.root = Path(root)
        if not self.root.is_dir():
            raise CorpusError(f"{self.root}: corpus directory not found")
        self.models = self._hub_repos("model", self.root / "huggingface" / "models")
        self.datasets = self._hub_repos("dataset", self.root / "huggingface" / "datasets")
        self.github = self._github_repos(self.root / "github")
        if not (self.models or self.datasets or self.github):
            raise CorpusError(f"{self.root}: holds no huggingface/models, huggingface/datasets or github repos")
        # A synthetic hub at listing scale (crawler.replica.synthetic.SyntheticHub): its models are built when asked.
        self.synthetic = None

    def _hub_repos(self, repo_type: str, base: Path) -> dict[str, HubRepoCapture]:
        repos = {}
        for folder in sorted(base.glob("*/*")) if base.is_dir() else []:
            if folder.is_dir():
                repo_id = f"{folder.parent.name}/{folder.name}"
                rel = folder.relative_to(self.root).as_posix()
                repos[repo_id.lower()] = HubRepoCapture(repo_type, repo_id, folder, rel)
        return repos

    def _github_repos(self, base: Path) -> dict[str, GithubRepoCapture]:
        repos = {}
        for folder in sorted(base.glob("*/*")) if base.is_dir() else []:
            if folder.is_dir():
                full_name = f"{folder.parent.name}/{folder.name}"
                repos[full_name.lower()] = GithubRepoCapture(full_name, folder, folder.relative_to(self.root).as_posix())
        return repos

    def add_synthetic_models(self, count: int, listing: Path, mutate: float = 0.0, mutate_seed: int = 0) -> int:
        """Add up to `count` synthetic models from a Hub listing (CSV, gzipped or not), for scale tests and
        benchmarks. Each borrows a real captured model's card and file list, round-robin; past the listing's end
        the listing is read again, ids suffixed `-synthetic-2`, `-synthetic-3`... A share `mutate` of
        them, drawn with `mutate_seed`, is changed (a new sha, a card with one line more): serve the same corpus
        again with a mutation to see what a recrawl of a changed Hub costs. Returns how many."""
        templates = [r for r in self.models.values() if r.capture.get("card") == "full" and r.file_list]
        if not templates:
            raise CorpusError(f"{self.root}: no model with a full card and a file list to build synthetic models from")
        added = 0
        for round_ in itertools.count(1):
            before = added
            for row in _listing_rows(listing):
                if added >= count:
                    return added
                repo_id = SyntheticModel.id_for(row, round_)
                if repo_id.lower() in self.models:
                    continue
                drawn = int(hashlib.sha1(f"{mutate_seed}\n{repo_id}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
                mutation = f"mutate seed {mutate_seed}" if drawn < mutate else None
                self.models[repo_id.lower()] = SyntheticModel(row, templates[added % len(templates)], mutation, round_)
                added += 1
            if added in (before, count):
                return added  # served, or the listing has no row to serve

    @cached_property
    def _named_repos(self) -> dict[tuple[str, str], str]:
        """(type, id) of every Hub repo a captured card's metadata names (`base_model`, `datasets`) -> the corpus
        path of the first card naming it."""
        named: dict[tuple[str, str], str] = {}
        for repo in self.models.values():
            if isinstance(repo, SyntheticModel):
                continue
            try:
                meta = repo.front_matter or {}
            except CorpusError:
                continue
            for key, repo_type in (("base_model", "model"), ("datasets", "dataset")):
                values = meta.get(key)
                for value in values if isinstance(values, list) else [values]:
                    if isinstance(value, str) and value.count("/") == 1:
                        named.setdefault((repo_type, value.lower()), repo.corpus_path)
        return named

    @cached_property
    def _named_github(self) -> dict[str, str]:
        """owner/repo (lower case) of every GitHub repo a captured document links (Hub cards, captured GitHub files
        such as READMEs) -> the corpus path of the first document linking it."""
        documents = [(repo.corpus_path, lambda repo=repo: repo.card_bytes) for table in (self.models, self.datasets)
                     for repo in table.values() if not isinstance(repo, SyntheticModel)]
        documents += [(f"{repo.corpus_path}/files/{rel}", path.read_bytes) for repo in self.github.values()
                      for rel, path in repo.captured_files.items() if PurePosixPath(rel).suffix.lower() in
                      ("", ".md", ".rst", ".txt", ".cff")]
        named: dict[str, str] = {}
        for source, read in documents:
            text = (read() or b"")[:4_000_000].decode("utf-8", "replace")
            for match in GITHUB_LINK.finditer(text):
                named.setdefault(normalise_github(match.group(1), match.group(2)).lower(), source)
        return named

    def github_named_by(self, full_name: str) -> str | None:
        """The captured document that links a GitHub repo the corpus did not capture: it existed when linked, its
        content is unknown (the replica answers "not captured", never 404)."""
        return self._named_github.get(full_name.lower())

    def named_by(self, repo_type: str, repo_id: str) -> str | None:
        """The captured card that names a repo the corpus did not capture: it existed, its content is unknown."""
        return self._named_repos.get((repo_type, repo_id.lower()))

    def hub_repo(self, repo_type: str, repo_id: str) -> HubRepoCapture | None:
        table = self.models if repo_type == "model" else self.datasets
        found = table.get(repo_id.lower())
        if found is None and repo_type == "model" and self.synthetic is not None:
            found = self.synthetic.model_by_id(repo_id)
        return found

    def github_repo(self, full_name: str) -> GithubRepoCapture | None:
        return self.github.get(full_name.lower())


def tree_directories(paths) -> set[str]:
    """Every directory implied by a list of file paths."""
    dirs = set()
    for path in paths:
        for parent in PurePosixPath(path).parents:
            if str(parent) != ".":
                dirs.add(str(parent))
    return dirs
