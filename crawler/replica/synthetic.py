"""A synthetic Hub at listing scale: N models (N up to several million) served lazily, row i computed from i.

The listing's shape comes from a real Hub listing (data/hub-listing: ids, authors, createdAt, downloads, pipeline
tags; read again with ids suffixed `-synthetic-R` past its end); each model's card, file list and capture facts are
borrowed from a real captured model (the template, round-robin, as `Corpus.add_synthetic_models` does). A share of the
models are derivatives: their card names a base model (another model of this listing, or a real snapshot model) and a
licence borrowed from a real captured card, either the base's own or another, so licence lineage can be tested at
scale. Every borrowed or drawn field is marked in the row's `_replica` note, and each page says once, in its
`X-Replica-Note` header, what the rows' short notes mean.

Memory: the listing's rows (a constant, about 75k) and the templates are held; nothing per synthetic model is,
except the sorted indices of the `--mutate` share (8 bytes each, only when --mutate > 0). A model is built when asked
for and dropped after its answer.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import json
import re
from array import array
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from crawler.ids import BadId, hub_repo_id
from crawler.corpus import MUTATED_AT, Corpus, CorpusError, HubRepoCapture, SyntheticModel, _listing_rows

# Synthetic models' lastModified: this instant minus one second per listing position, so that the listing order is
# the `sort=lastModified` order (a crawl with --discover --incremental stops at its watermark). Derived, marked.
LAST_MODIFIED_BASE = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
DERIVATIVE_PERMILLE = 300  # a share of 0.3 of the synthetic models name a base model
GATED_DATASET_PERMILLE = 250  # a share of the synthetic datasets is drawn gated
ARXIV = re.compile(r"arxiv\.org/(?:abs|pdf)/(\d{4}\.\d{4,5})", re.IGNORECASE)
FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n.*?\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
LICENCE_KEYS = ("license", "license_name", "license_link")
REPLACED_KEYS = (*LICENCE_KEYS, "base_model", "base_model_relation")  # a derivative's card: set by the replica
ROW_NOTE = ("synthetic rows: id, author, createdAt, downloads and pipeline_tag from a real Hub listing row "
            "(_replica.synthetic.listing_row: its position among the listing's rows with an owner; round > 1: ids "
            "suffixed, the listing read again); card, file list and capture facts borrowed from the real captured "
            "model at card_and_files_from; lastModified derived (decreasing along the listing); sha derived; "
            "derivative: base_model and licence set by the replica (licence borrowed from a real captured card)")


def draw(seed: int, *parts) -> int:
    """A 64-bit number drawn from the seed and the parts: the same arguments, the same number."""
    return int.from_bytes(hashlib.blake2b(repr((seed, *parts)).encode(), digest_size=8).digest(), "big")


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass(frozen=True)
class Derivation:
    base: str  # the base model's id
    base_index: int | None  # its index when it is a synthetic model of this hub
    licence: dict  # license / license_name / license_link as a card writes them
    kept: bool  # True: the base's own licence; False: another one declared


class DerivedCard(dict):
    """A derivative's card data: its template's (`kept`, shared) followed by the keys the replica set."""

    kept: dict


class ScaledSyntheticModel(SyntheticModel):
    """A synthetic model of a SyntheticHub: index-based lastModified; a derivative's card names its base and licence."""

    def __init__(self, hub: "SyntheticHub", index: int, listing_row: dict, template: HubRepoCapture,
                 mutation: str | None, round_: int, derivation: Derivation | None):
        super().__init__(listing_row, template, mutation, round_)
        self.hub = hub
        self.index = index
        self.derivation = derivation

    @property
    def front_matter(self):
        card = self.template.front_matter
        if self.derivation is None or card is None:
            return card
        kept = _shared(("card kept", self.template.corpus_path),
                       lambda: {k: v for k, v in card.items() if k not in REPLACED_KEYS})
        derived = DerivedCard(kept)
        derived.kept = kept
        derived.update(self.derivation.licence)
        derived["base_model"] = self.derivation.base
        return derived

    @property
    def card_bytes(self) -> bytes | None:
        card = self.template.card_bytes
        if card is None:
            return None
        if self.derivation is not None and self.template.front_matter is not None:
            body = FRONT_MATTER.sub("", card.decode("utf-8", "replace"), count=1)
            meta = yaml.safe_dump(dict(self.front_matter), sort_keys=False, allow_unicode=True)
            card = (f"---\n{meta}---\n<!-- synthetic derivative: base_model and licence set by the replica, the "
                    f"licence borrowed from a real captured card -->\n{body}").encode()
        if self.mutation is not None:
            card += f"\n<!-- synthetic change: {self.mutation} -->\n".encode()
        return card

    @property
    def last_modified(self) -> str:
        if self.mutation is not None:
            return MUTATED_AT
        return iso(LAST_MODIFIED_BASE - dt.timedelta(seconds=self.index))

    @property
    def revision_sha(self) -> str:
        extra = f"{self.derivation}" if self.derivation else ""
        return hashlib.sha1(f"{self.repo_id}\n{self.template.revision_sha}\n{self.mutation or ''}\n{extra}"
                            .encode()).hexdigest()


class SyntheticDataset(HubRepoCapture):
    """A dataset a captured model card names that the corpus did not capture: its card borrowed from a real captured
    dataset, its gating drawn; served in the dataset listing so a model's named datasets can be joined."""

    def __init__(self, repo_id: str, template: HubRepoCapture, gated: bool, named_by: str):
        super().__init__("dataset", repo_id, template.folder, template.corpus_path)
        self.template, self.gated, self.named_by = template, gated, named_by

    capture = property(lambda self: self.template.capture)
    front_matter = property(lambda self: self.template.front_matter)
    captured_files = property(lambda self: self.template.captured_files)
    file_list = property(lambda self: self.template.file_list)
    card_bytes = property(lambda self: self.template.card_bytes)

    @property
    def facts(self) -> list[dict]:
        # The gating drawn for this dataset, where the replica looks for a capture's gating notice.
        return [{"facts": {"gated": "synthetic: drawn gated by the replica"}}] if self.gated else []

    @property
    def revision_sha(self) -> str:
        return hashlib.sha1(f"{self.repo_id}\n{self.template.revision_sha}".encode()).hexdigest()

    @property
    def last_modified(self) -> str:
        return iso(LAST_MODIFIED_BASE)


class SyntheticHub:
    """N synthetic models over a corpus, served lazily by the replica (`openness replica --synthetic N`)."""

    def __init__(self, corpus: Corpus, count: int, listing, mutate: float = 0.0, mutate_seed: int = 0,
                 seed: int = 0, derivative_permille: int = DERIVATIVE_PERMILLE):
        self.corpus, self.count, self.seed = corpus, count, seed
        self.mutate, self.mutate_seed = mutate, mutate_seed
        self.derivative_permille = derivative_permille
        real = set(corpus.models)
        self.rows, seen = [], set(real)  # an id once, whatever its case, as the Hub's lookups ignore case
        for r in _listing_rows(Path(listing)):
            if r["id"].lower() not in seen:
                seen.add(r["id"].lower())
                self.rows.append((r["id"], r.get("author") or "", r.get("createdAt") or "", r.get("downloads") or "",
                                  r.get("pipeline_tag") or ""))
        self.fields = ("id", "author", "createdAt", "downloads", "pipeline_tag")
        if not self.rows:
            raise CorpusError(f"{listing}: no listing row to build synthetic models from")
        self.row_of = {row[0].lower(): j for j, row in enumerate(self.rows)}
        self.templates = [r for r in corpus.models.values() if r.capture.get("card") == "full" and r.file_list]
        if not self.templates:
            raise CorpusError(f"{corpus.root}: no model with a full card and a file list to build synthetic "
                              "models from")
        self.licences = self._borrowed_licences()
        self.real_bases = [r.repo_id for r in self.templates]
        self.mutated = array("q", (i for i in range(count) if self._mutation(self.id_of(i)))) if mutate > 0 \
            else array("q")
        self.datasets = self._synthetic_datasets()
        self._sorted_rows: dict[str, tuple[list[int], array]] = {}
        # Served from here on: the models through Corpus.hub_repo, the datasets as the corpus's own (a few dozen).
        for dataset in self.datasets:
            corpus.datasets.setdefault(dataset.repo_id.lower(), dataset)
        corpus.synthetic = self

    # -- models ------------------------------------------------------------------------------------------------
    def id_of(self, index: int) -> str:
        row = self.rows[index % len(self.rows)]
        round_ = index // len(self.rows) + 1
        return row[0] if round_ == 1 else f"{row[0]}-synthetic-{round_}"

    def index_of(self, repo_id: str) -> int | None:
        base, round_ = repo_id, 1
        match = re.fullmatch(r"(.+)-synthetic-([2-9]|[1-9]\d+)", repo_id, re.IGNORECASE)
        if match and match.group(1).lower() in self.row_of:
            base, round_ = match.group(1), int(match.group(2))
        j = self.row_of.get(base.lower())
        if j is None:
            return None
        index = (round_ - 1) * len(self.rows) + j
        return index if index < self.count else None

    def _mutation(self, repo_id: str) -> str | None:
        drawn = int(hashlib.sha1(f"{self.mutate_seed}\n{repo_id}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        return f"mutate seed {self.mutate_seed}" if drawn < self.mutate else None

    def _borrowed_licences(self) -> list[dict]:
        licences = {}
        for repo in self.corpus.models.values():
            try:
                card = repo.front_matter or {}
            except CorpusError:
                continue
            licence = {k: card[k] for k in LICENCE_KEYS if isinstance(card.get(k), str)}
            if "license" in licence:
                licences.setdefault(tuple(sorted(licence.items())), licence)
        return [licences[k] for k in sorted(licences)]

    def _licence_of_real(self, repo_id: str) -> dict | None:
        repo = self.corpus.hub_repo("model", repo_id)
        try:
            card = (repo.front_matter or {}) if repo is not None else {}
        except CorpusError:
            card = {}
        licence = {k: card[k] for k in LICENCE_KEYS if isinstance(card.get(k), str)}
        return licence if "license" in licence else None

    def derivation(self, index: int) -> Derivation | None:
        """Whether model `index` is a derivative, of which base, under which licence (row i computed from i)."""
        h = draw(self.seed, "derivative", index)
        if h % 1000 >= self.derivative_permille or not self.licences:
            return None
        h >>= 10
        if index == 0 or h % 4 == 0:  # a real captured model as base
            base, base_index = self.real_bases[(h >> 2) % len(self.real_bases)], None
            base_licence = self._licence_of_real(base)
        else:  # an earlier model of this listing
            base_index = index - 1 - (h >> 2) % min(index, 5000)
            base = self.id_of(base_index)
            base_licence = self.licence_of(base_index)
        h >>= 20
        kept = base_licence is not None and h % 3 != 0  # two in three keep their base's licence
        licence = base_licence if kept else self.licences[(h >> 2) % len(self.licences)]
        return Derivation(base, base_index, dict(licence), kept)

    def licence_of(self, index: int) -> dict | None:
        """The licence model `index` declares (its template's, or its derivation's)."""
        derivation = self.derivation(index)
        if derivation is not None:
            return derivation.licence
        card = self.templates[index % len(self.templates)].front_matter or {}
        licence = {k: card[k] for k in LICENCE_KEYS if isinstance(card.get(k), str)}
        return licence if "license" in licence else None

    def model(self, index: int) -> ScaledSyntheticModel:
        j, round_ = index % len(self.rows), index // len(self.rows) + 1
        row = dict(zip(self.fields, self.rows[j]))
        repo_id = self.id_of(index)
        return ScaledSyntheticModel(self, index, row, self.templates[index % len(self.templates)],
                                    self._mutation(repo_id), round_, self.derivation(index))

    def model_by_id(self, repo_id: str) -> ScaledSyntheticModel | None:
        index = self.index_of(repo_id)
        return None if index is None else self.model(index)

    # -- orders --------------------------------------------------------------------------------------------------
    def nonmutated(self, q: int) -> int:
        """The index of the q-th (0-based) model not in the mutated share."""
        x = q
        while True:
            nxt = q + bisect.bisect_right(self.mutated, x)
            if nxt == x:
                return x
            x = nxt

    def _row_order(self, key: str) -> tuple[list[int], array]:
        """Listing rows sorted by a field of theirs (descending), and where each row's copies start in that order."""
        if key not in self._sorted_rows:
            q, rem = divmod(self.count, len(self.rows))

            def value(j):
                text = self.rows[j][self.fields.index(key)]
                if key == "downloads":
                    return float(text) if text.replace(".", "", 1).isdigit() else -1.0
                return text

            order = sorted(range(len(self.rows)), key=lambda j: self.rows[j][0].lower())
            order.sort(key=value, reverse=True)
            order = [j for j in order if q + (j < rem) > 0]
            starts, total = array("q"), 0
            for j in order:
                starts.append(total)
                total += q + (j < rem)
            self._sorted_rows[key] = (order, starts)
        return self._sorted_rows[key]

    def index_at(self, sort: str | None, position: int) -> int:
        """The synthetic model at a position of the listing sorted by `sort` (None: the listing's own order)."""
        if sort == "lastModified":
            k = len(self.mutated)
            return self.mutated[position] if position < k else self.nonmutated(position - k)
        if sort in ("downloads", "createdAt"):
            order, starts = self._row_order(sort)
            slot = bisect.bisect_right(starts, position) - 1
            return (position - starts[slot]) * len(self.rows) + order[slot]
        return position

    def sort_key(self, sort: str, index: int):
        if sort == "lastModified":
            return MUTATED_AT if self._mutation(self.id_of(index)) else \
                iso(LAST_MODIFIED_BASE - dt.timedelta(seconds=index))
        value = self.rows[index % len(self.rows)][self.fields.index(sort)]
        if sort == "downloads":
            return float(value) if value.replace(".", "", 1).isdigit() else -1.0
        return value

    # -- datasets ------------------------------------------------------------------------------------------------
    def _synthetic_datasets(self) -> list[SyntheticDataset]:
        """Every dataset a captured model card names that the corpus did not capture, as a synthetic dataset."""
        templates = [d for d in self.corpus.datasets.values() if d.card_bytes is not None]
        named: dict[str, str] = {}
        for repo in self.corpus.models.values():
            try:
                card = repo.front_matter or {}
            except CorpusError:
                continue
            values = card.get("datasets")
            for value in values if isinstance(values, list) else [values]:
                if isinstance(value, str) and _is_repo_id(value.strip()):
                    named.setdefault(value.strip(), repo.corpus_path)
        if not templates:
            return []
        found = []
        for n, (name, named_by) in enumerate(sorted(named.items())):
            if self.corpus.hub_repo("dataset", name) is None:
                gated = draw(self.seed, "gated dataset", name.lower()) % 1000 < GATED_DATASET_PERMILLE
                found.append(SyntheticDataset(name, templates[n % len(templates)], gated, named_by))
        return found

    def dataset_by_id(self, repo_id: str) -> SyntheticDataset | None:
        return next((d for d in self.datasets if d.repo_id.lower() == repo_id.lower()), None)


@lru_cache(maxsize=256)
def arxiv_tags(card: bytes | None) -> tuple[str, ...]:
    """`arxiv:` tags as the Hub derives them from the arXiv links of a card."""
    text = (card or b"")[:2_000_000].decode("utf-8", "replace")
    return tuple(dict.fromkeys(f"arxiv:{m.group(1)}" for m in ARXIV.finditer(text)))


# -- rows and pages ------------------------------------------------------------------------------------------------
NOT_GIVEN = ["likes", "safetensors", "config", "inference"]  # in no capture and not in the listing: never served
LISTING_SCAN_LIMIT = 100_000  # positions a filtered page may scan before it answers short, with a next link


def scaled_json(model: ScaledSyntheticModel, compact: bool) -> dict:
    """The JSON of a synthetic model: as the replica derives any repo's, plus the `arxiv:` tags of its card and the
    baseModels its card names; `compact` (listing rows): a short `_replica` note, the page's header says the rest."""
    from crawler.replica.hub import derive_repo_json

    info = derive_repo_json(model)
    if "siblings" in info:  # one list per template, encoded once (the bulk of a row with the card data)
        info["siblings"] = _shared(("siblings", model.template.corpus_path), lambda: info["siblings"])
    if info.get("cardData") is not None and info["cardData"] is model.template.front_matter:
        _shared(("cardData", model.template.corpus_path), lambda: info["cardData"])
    card = info.get("cardData") or {}
    if "tags" in info:
        info["tags"] = list(dict.fromkeys([*info["tags"], *_template_arxiv(model.template)]))
    bases = [b for b in (card.get("base_model") if isinstance(card.get("base_model"), list)
                         else [card.get("base_model")]) if isinstance(b, str) and b]
    replica = info["_replica"]
    if bases:
        siblings = {s["rfilename"] for s in info.get("siblings") or []}
        relation = card.get("base_model_relation") if isinstance(card.get("base_model_relation"), str) else \
            "adapter" if "adapter_config.json" in siblings else \
            "quantized" if any(s.endswith(".gguf") for s in siblings) else \
            "merge" if len(bases) > 1 else "finetune"
        info["baseModels"] = {"relation": relation, "models": [{"id": b} for b in bases]}
        replica["derived_fields"] = [*replica["derived_fields"], "baseModels"]
    given = {"createdAt", "downloads"} & set(info)
    replica["not_captured"] = [f for f in dict.fromkeys([*replica["not_captured"], *NOT_GIVEN]) if f not in given]
    derivation = model.derivation
    synthetic = {"round": model.round, "listing_row": model.index % len(model.hub.rows),
                 "card_and_files_from": model.corpus_path,
                 **({"mutation": model.mutation} if model.mutation else {}),
                 **({"derivative": {"base_model": derivation.base, "licence": "the base's" if derivation.kept else
                                    "another, borrowed from a real captured card"}} if derivation else {})}
    if compact:
        info["_replica"] = {"derived": True, "synthetic": synthetic, "derived_fields": replica["derived_fields"],
                            "not_captured": replica["not_captured"], "not_exhaustive": replica["not_exhaustive"]}
    else:
        replica["synthetic"] = {**replica["synthetic"], **synthetic,
                                "note": replica["synthetic"]["note"] + "; " + ROW_NOTE}
    return info


_arxiv_by_template: dict[str, tuple[str, ...]] = {}
# Values shared by the rows of one template (its card data, its siblings), kept alive with their JSON text so a page
# encodes each once: {key: value}, {id(value): text}. A few per template, however many models.
_shared_values: dict[tuple, object] = {}
_shared_json: dict[int, str] = {}


def _shared(key: tuple, make):
    if key not in _shared_values:
        value = make()
        _shared_values[key] = value
        _shared_json[id(value)] = json.dumps(value, ensure_ascii=False)
    return _shared_values[key]


def _encode(value) -> str:
    text = _shared_json.get(id(value))
    if text is not None:
        return text
    if isinstance(value, DerivedCard) and (kept := _shared_json.get(id(value.kept))) is not None:
        added = ", ".join(f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in value.items()
                          if k not in value.kept)
        return added.join(("{", "}")) if kept == "{}" else f"{kept[:-1]}, {added}}}"
    return json.dumps(value, ensure_ascii=False)


def encode_rows(rows: list[dict]) -> bytes:
    """The JSON of a list of rows, as json.dumps writes it, the templates' shared values taken from their cache."""
    dumps = json.dumps
    return ("[" + ", ".join("{" + ", ".join(f"{dumps(k)}: {_encode(v)}" for k, v in row.items()) + "}"
                            for row in rows) + "]").encode("utf-8")


def _template_arxiv(template: HubRepoCapture) -> tuple[str, ...]:
    if template.corpus_path not in _arxiv_by_template:
        _arxiv_by_template[template.corpus_path] = arxiv_tags(template.card_bytes)
    return _arxiv_by_template[template.corpus_path]


class ScaledListing:
    """The model listing of a corpus with a SyntheticHub: its real models and N synthetic ones, merged in the order
    asked, a page of rows built from its cursor (a position in that order) without holding the others."""

    SORTS = (None, "lastModified", "downloads", "createdAt")

    def __init__(self, hub: SyntheticHub, real_rows: list[dict]):
        self.hub, self.real_rows = hub, real_rows
        self._merged: dict[str | None, tuple[list[dict], list[int]]] = {}

    def merged(self, sort: str | None) -> tuple[list[dict], list[int]]:
        """The real rows in `sort` order and their positions in the merged listing."""
        if sort not in self._merged:
            rows = list(self.real_rows)
            if sort is None:
                self._merged[sort] = (rows, list(range(len(rows))))
                return self._merged[sort]
            rows.sort(key=lambda row: row["id"].lower())
            rows.sort(key=lambda row: (row.get(sort) is not None, row.get(sort) or 0), reverse=True)
            positions = []
            for k, row in enumerate(rows):
                value = row.get(sort)
                if value is None:
                    before = self.hub.count
                else:  # synthetic rows whose value is at least this one come first
                    lo, hi = 0, self.hub.count
                    while lo < hi:
                        mid = (lo + hi) // 2
                        if self.hub.sort_key(sort, self.hub.index_at(sort, mid)) >= value:
                            lo = mid + 1
                        else:
                            hi = mid
                    before = lo
                positions.append(before + k)
            self._merged[sort] = (rows, positions)
        return self._merged[sort]

    def page(self, sort: str | None, start: int, limit: int, match) -> tuple[list[dict], int, int]:
        """(rows, the position after the last one looked at, the listing's length) from position `start`;
        `match(row)` filters, `match.cheap(id)` may refuse a synthetic id before its row is built."""
        reals, positions = self.merged(sort)
        total = len(reals) + self.hub.count
        r = bisect.bisect_left(positions, start)
        s = start - r
        found, position = [], start
        while position < total and len(found) < limit and position - start < LISTING_SCAN_LIMIT:
            if r < len(reals) and positions[r] == position:
                row, r = reals[r], r + 1
            else:
                index, s = self.hub.index_at(sort, s), s + 1
                if not match.cheap(self.hub.id_of(index)):
                    position += 1
                    continue
                row = scaled_json(self.hub.model(index), compact=True)
            position += 1
            if match(row):
                found.append(row)
        return found, position, total


def _is_repo_id(name: str) -> bool:
    """A name the Hub could hold as a dataset (a card may name a config, `tau/scrolls/qasper`, or a URL): only those
    become synthetic datasets, as the Hub's listing holds repo ids only."""
    try:
        hub_repo_id(name, "dataset id")
    except BadId:
        return False
    return True
