"""Tier 0: a model judged from its Hub listing row alone (what `GET /api/models?expand=...` gives per model), with
the deep judge's own pieces so both agree on the facts they share: weight-file globs and the gate rule
(extractors.availability), the licence indexes and the gated prompt's clauses (extractors.licences,
extractors.licence_index), the tuned-base rule (data/rules/card_content.yaml). What the row cannot decide is
`unknown`, its `searched` naming the source that would (`card`, `tree`, `github:*`, `base:<id>`) as not crawled.

Pure and total: a row of any shape (hostile input) gives 14 judgements; what cannot be read is `unknown` with the
reason. Rule ids and bounds: data/rules/listing.yaml.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache
from urllib.parse import quote as url_quote

from extractors import CRITERIA
from extractors.availability import ASKING_GATE_KEYS
from extractors.licences import DECLARING_KEYS, _as_ids, _licence_text_clauses, combine, declared_level
from extractors.rules import _load_yaml, card_content_rules, weight_rules
from extractors.text import quote
from extractors.types import Evidence, Judgement, Source

HUB = "https://huggingface.co"
SHA = re.compile(r"[0-9a-f]{7,64}")
REPO_ID = re.compile(r"[\w.-]{1,96}(?:/[\w.-]{1,96})?")
# Sources whose reading would decide a criterion the listing leaves unknown (extractors.searched.DECIDING_SOURCES,
# with the files the licence and hardware judges read).
NEEDS = {
    "datasources_endmodel": ("card",),
    "datasources_basemodel": ("card",),
    "weights_endmodel": ("tree",),
    "weights_basemodel": ("tree",),
    "trainingcode": ("card", "github:*"),
    "code": ("card", "github:*"),
    "hardware_architecture": ("card", "files", "github:*"),
    "preprint": ("card", "github:*"),
    "paper": ("card", "github:*"),
    "modelcard": ("card",),
    "datasheet": ("card", "dataset:*"),
    "package": ("card", "github:*"),
    "api": ("card",),
    "licenses": ("card", "files", "github:*"),
}
SOURCE_DETAIL = {
    "card": "the model card (README.md) the listing holds only the front matter of",
    "tree": "the repo's whole file tree",
    "files": "the repo's own licence, policy and config files",
    "github:*": "the model's own GitHub repos, linked from its card",
    "dataset:*": "the named datasets' cards",
}

SOURCE_NAMES = {"card": "the card", "tree": "the file tree", "files": "the repo's licence files",
                "github:*": "the model's GitHub repos", "dataset:*": "the datasets' cards"}


@dataclass(frozen=True)
class ListingJudgement:
    """What extractors/listing.py returns."""

    judgements: tuple[Judgement, ...]  # all 14 CRITERIA (extractors/__init__.py), same Judgement/Evidence types
    licence: str | None  # the declared licence id (cardData.license / `license:` tag), lower-case
    base_chain: tuple[str, ...]  # base model ids, nearest first (baseModels, cardData.base_model, tags)
    datasets: tuple[str, ...]  # dataset ids named (cardData.datasets, `dataset:` tags)


@dataclass(frozen=True)
class ListingRules:
    rule_ids: frozenset[str]
    max_list_items: int
    max_base_depth: int
    files_quoted: int
    hosted_inference_values: frozenset[str]
    live_provider_statuses: frozenset[str]


@cache
def listing_rules() -> ListingRules:
    data = _load_yaml("listing.yaml")
    return ListingRules(frozenset(str(r["id"]) for r in data.get("rules") or []), int(data["max_list_items"]),
                        int(data["max_base_depth"]), int(data["files_quoted"]),
                        frozenset(str(v) for v in data.get("hosted_inference_values") or ()),
                        frozenset(str(v) for v in data.get("live_provider_statuses") or ()))


def _rule(rule_id: str) -> str:
    """A rule id of data/rules/listing.yaml (a typo fails loudly at the first row, in the tests)."""
    if rule_id not in listing_rules().rule_ids:
        raise KeyError(f"{rule_id} is not a rule of data/rules/listing.yaml")
    return rule_id


# --- reading a row: every field checked for its type, each problem kept as the reason of what it would decide ---

def _short(value, limit: int = 5) -> str:
    """A bounded rendering of a value: never str() of an unbounded or nested object."""
    if isinstance(value, str):
        return value[:200]
    if isinstance(value, bool) or value is None or isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        shown = ", ".join(_short(v, 0) if isinstance(v, (str, int, float, bool)) else type(v).__name__
                          for v in value[:limit])
        return f"[{shown}{', …' if len(value) > limit else ''}] ({len(value)})" if limit else "list"
    if isinstance(value, dict):
        return "{" + ", ".join(str(k)[:40] for k in list(value)[:limit]) + ("…" if len(value) > limit else "") + "}"
    return type(value).__name__


def _strings(value, cap: int) -> tuple[list[str], bool]:
    """The non-empty strings of a string or a list (at most `cap`), and whether the value had the right type."""
    if value is None:
        return [], True
    if isinstance(value, str):
        return ([value.strip()] if value.strip() else []), True
    if isinstance(value, list):
        return [v.strip() for v in value[:cap] if isinstance(v, str) and v.strip()], True
    return [], False


def _repo_id(value) -> str | None:
    return value.strip() if isinstance(value, str) and REPO_ID.fullmatch(value.strip()) else None


@dataclass
class Row:
    """The facts of one listing row, each field read once, with the problems found."""

    repo_id: str
    sha: str | None
    url: str  # its public page, at the sha when known
    api_url: str
    problems: dict[str, str]  # field -> why it could not be read
    card: dict | None  # cardData
    gated: object
    tags: list[str]
    siblings: list[str] | None
    siblings_cut: bool
    replica: dict
    safetensors_total: int | None = None  # parameters in the repo's safetensors files, as the Hub counted them
    memo: dict = field(default_factory=dict)  # the Sources of this row, built once


def _read(row, cap: int) -> Row:
    problems: dict[str, str] = {}
    if not isinstance(row, dict):
        problems["row"] = f"the listing row is a {type(row).__name__}, not an object"
        row = {}
    repo_id = _repo_id(row.get("id")) or _repo_id(row.get("modelId"))
    if repo_id is None:
        problems["id"] = f"no readable model id ({_short(row.get('id'))[:80]})"
    sha = row.get("sha") if isinstance(row.get("sha"), str) and SHA.fullmatch(row.get("sha")) else None
    if "sha" in row and sha is None and row.get("sha") is not None:
        problems["sha"] = f"sha is not a commit id: {_short(row.get('sha'))[:80]}"
    shown_id = url_quote(repo_id or "", safe="/")
    url = f"{HUB}/{shown_id}/tree/{sha}" if sha and repo_id else f"{HUB}/{shown_id}"
    card = row.get("cardData")
    if card is not None and not isinstance(card, dict):
        problems["cardData"] = f"cardData is a {type(card).__name__}, not an object"
        card = None
    tags, ok = _strings(row.get("tags"), cap)
    if not ok:
        problems["tags"] = f"tags is a {type(row.get('tags')).__name__}, not a list"
    siblings, cut = None, False
    raw = row.get("siblings")
    if isinstance(raw, list):
        siblings = [s["rfilename"] for s in raw[:cap] if isinstance(s, dict) and isinstance(s.get("rfilename"), str)]
        cut = len(raw) > cap
        if raw and not siblings:
            problems["siblings"] = "no sibling names a file (rfilename)"
    elif raw is not None:
        problems["siblings"] = f"siblings is a {type(raw).__name__}, not a list"
    replica = row.get("_replica") if isinstance(row.get("_replica"), dict) else {}
    safetensors = row.get("safetensors")
    total = safetensors.get("total") if isinstance(safetensors, dict) else None
    total = total if isinstance(total, int) and not isinstance(total, bool) and total > 0 else None
    return Row(repo_id or "(unreadable id)", sha, url, f"{HUB}/api/models/{shown_id}", problems, card,
               row.get("gated"), tags, siblings, cut, replica, total)


def _listed(replica: dict, key: str) -> list:
    value = replica.get(key)
    return value if isinstance(value, list) else []


def _evidence(row: Row, rule_id: str, field: str, value: str, confidence: float = 1.0) -> Evidence:
    return Evidence(_rule(rule_id), row.url, row.sha, f"listing:{field}", quote(f"{field}: {value}", 200),
                    confidence=confidence)


def _read_source(row: Row) -> Source:
    if "listing" not in row.memo:
        row.memo["listing"] = Source("listing", "read", row.api_url, "the Hub's listing row")
    return row.memo["listing"]


def _not_crawled(row: Row, names: tuple[str, ...]) -> tuple[Source, ...]:
    if names not in row.memo:
        card = row.api_url.replace("/api/models/", "/", 1) + f"/blob/{row.sha or 'main'}/README.md"
        row.memo[names] = tuple(Source(n, "not crawled", card if n == "card" else row.url, SOURCE_DETAIL.get(n, ""))
                                for n in names)
    return row.memo[names]


def _unknown(row: Row, criterion: str, why: str, evidence: tuple[Evidence, ...] = (),
             needs: tuple[str, ...] | None = None) -> Judgement:
    needs = NEEDS[criterion] if needs is None else needs
    named = ", ".join(SOURCE_NAMES.get(n, n) for n in needs)
    lead = _evidence(row, "listing.undecided", "listing", f"decides nothing here: {why}; needs {named}", 0.0)
    return Judgement(criterion, "unknown", 0.0, f"{why}; needs {named}", (lead, *evidence),
                     searched=(_read_source(row), *_not_crawled(row, needs)))


def _unreadable(row: Row, criterion: str, field: str) -> Judgement:
    reason = row.problems[field]
    return Judgement(criterion, "unknown", 0.0, f"the listing's {field} could not be read: {reason}",
                     (_evidence(row, "listing.unreadable", field, reason, 0.0),),
                     searched=(_read_source(row), *_not_crawled(row, NEEDS[criterion])))


# --- weights ---

@lru_cache(maxsize=65536)
def _weight_rule(name: str) -> str | None:
    """The weight rule of a file path (its name, lower case), memoised: `model.safetensors`, `config.json` and
    their kin stand in most repos."""
    rule = weight_rules().rule_of(name.rsplit("/", 1)[-1].lower())
    return rule.rule_id if rule else None


def _gate(row: Row) -> tuple[Evidence, ...] | None:
    """Evidence of a gate that restricts downloads, as extractors.availability.gating_evidence reads it (a gate that
    asks nothing and that the Hub approves automatically, or whose `gated` a replica derived, is none); None when
    `gated` cannot be read."""
    gated = row.gated
    if gated not in (None, False, True, "auto", "manual"):
        return None
    keys = sorted(str(k) for k in (row.card or {}) if str(k).startswith("extra_gated"))
    derived = "gated" in _listed(row.replica, "derived_fields")
    if keys and not any(k in ASKING_GATE_KEYS for k in keys) and (gated == "auto" or derived):
        return ()
    evidence = []
    if gated:
        evidence.append(_evidence(row, "listing.gated", "gated", str(gated)))
    if keys:
        evidence.append(_evidence(row, "listing.gated", f"cardData.{keys[0]}", _short(row.card[keys[0]])[:100]))
    return tuple(evidence)


def _weights(row: Row, criterion: str = "weights_endmodel") -> Judgement:
    gate = _gate(row)
    if gate is None:
        return Judgement(criterion, "unknown", 0.0, f"the listing's gated could not be read: {_short(row.gated)}",
                         (_evidence(row, "listing.unreadable", "gated", _short(row.gated)[:100], 0.0),),
                         searched=(_read_source(row), *_not_crawled(row, ("tree",))))
    weights = [(path, rule) for path in row.siblings or () if (rule := _weight_rule(path))]
    if weights:
        quoted = listing_rules().files_quoted
        shown = "; ".join(f"{p} ({r})" for p, r in weights[:quoted]) + \
            (f" and {len(weights) - quoted} more" if len(weights) > quoted else "")
        found, what = _evidence(row, "listing.siblings.weights", "siblings", shown, 0.9), f"{len(weights)} weight files"
    elif row.safetensors_total is not None:
        # The Hub counts the parameters of the repo's safetensors files: there are some, whatever the file list says.
        found, what = _evidence(row, "listing.safetensors", "safetensors.total", f"{row.safetensors_total:,} "
                                "parameters in safetensors files", 0.8), "safetensors weights"
    elif not row.siblings:
        if gate:
            return Judgement(criterion, "partial", 0.5, "gated repo; the listing holds no file list", gate,
                             searched=(_read_source(row), *_not_crawled(row, ("tree",))))
        if "siblings" in row.problems:
            return _unreadable(row, criterion, "siblings")
        return _unknown(row, criterion, "the listing holds no file list", (
            _evidence(row, "listing.siblings.unread", "siblings", "absent or empty", 0.0),))
    else:
        mirror = bool({"siblings", "tree"} & set(_listed(row.replica, "not_exhaustive")))
        if mirror or row.siblings_cut:
            why = "a third-party mirror's, proves presence never absence" if mirror else \
                f"cut at {len(row.siblings):,} files"
            return _unknown(row, criterion, f"no weight file in a file list that is not whole ({why})", (
                _evidence(row, "listing.siblings.unread", "siblings", f"{len(row.siblings)} files, {why}", 0.0),
                *gate))
        return Judgement(criterion, "closed", 0.7, "no weight file among the listing's files", (
            _evidence(row, "listing.siblings.no-weights", "siblings",
                      f"searched {len(row.siblings)} files for weight files: none found", 0.8), *gate),
            basis="absence", searched=(_read_source(row),))
    # The card may say the repo holds only delta weights (partial): the deep judge reads it.
    unread = _not_crawled(row, ("card",))
    if gate:
        return Judgement(criterion, "partial", 0.8, f"{what}, behind a gated download", (found, *gate),
                         searched=(_read_source(row), *unread))
    return Judgement(criterion, "open", 0.8, f"{what}, downloadable without approval", (found,),
                     searched=(_read_source(row), *unread))


# --- datasets ---

def _dataset_ids(row: Row, cap: int) -> list[str]:
    named, _ = _strings((row.card or {}).get("datasets"), cap)
    named += [t.split(":", 1)[1] for t in row.tags if t.startswith("dataset:")]
    return list(dict.fromkeys(n for n in named if _repo_id(n)))[:cap]


def _dataset_status(value) -> str:
    if value is None:
        return "missing"  # looked up: the listing has no such dataset
    if not isinstance(value, dict):
        return "failed"
    if value.get("disabled") is True:
        return "disabled"
    if value.get("private") is True:
        return "private"
    if value.get("gated") not in (None, False, "false"):
        return "gated"
    return "ok"


UNAVAILABLE = ("missing", "gated", "private", "disabled")


def _lookup(rows: Mapping, key: str):
    """A row by id as named, else by the id in lower case (the Hub ignores case; a caller holding a million rows
    keys them either way, and nothing is scanned); a sentinel when not given."""
    for candidate in (key, key.lower()):
        try:
            if candidate in rows:
                return rows[candidate]
        except Exception:  # noqa: BLE001 -- a hostile mapping: its row is not given
            return _NOT_GIVEN
    return _NOT_GIVEN


_NOT_GIVEN = object()


def _data(row: Row, datasets: Mapping, chain: tuple[str, ...], bases: Mapping,
          criterion: str = "datasources_endmodel") -> Judgement:
    if "cardData" in row.problems and "tags" in row.problems:
        return _unreadable(row, criterion, "cardData")
    named = _dataset_ids(row, listing_rules().max_list_items)
    if not named:
        if "cardData" in row.problems:
            return _unreadable(row, criterion, "cardData")
        return _unknown(row, criterion, "no dataset named in the listing (the card's text may link or describe "
                        "its data)")
    statuses = []
    for dataset in named:
        found = _lookup(datasets, dataset)
        statuses.append((dataset, "not crawled" if found is _NOT_GIVEN else _dataset_status(found)))
    evidence = tuple(_evidence(row, "listing.datasets.named", "datasets", f"{d}: {s}", 0.6)
                     for d, s in statuses[:20])
    available = [d for d, s in statuses if s not in UNAVAILABLE]
    read = sum(s == "ok" for _, s in statuses)
    searched = (_read_source(row), *(Source(f"dataset:{d}", {"ok": "read", "not crawled": "not crawled",
                                                              "missing": "missing", "gated": "gated"}.get(s, "failed"),
                                            f"{HUB}/datasets/{url_quote(d, safe='/')}", s) for d, s in statuses[:20]),
                *_not_crawled(row, ("card",)))
    if len(available) < len(named):
        return Judgement(criterion, "partial", 0.5, f"{len(available)} of {len(named)} named datasets can be had",
                         evidence, searched=searched)
    if (tuned := _tuned_base(row, chain, bases)) is not None:
        return Judgement(criterion, "partial", 0.4, f"all {len(named)} named datasets are public, but the model is "
                         "tuned from an intermediate tuned model whose data is not among them", (tuned, *evidence),
                         searched=searched)
    return Judgement(criterion, "open", 0.5, f"all {len(named)} named datasets are public ({read} read, "
                     f"{len(named) - read} named but not read)", evidence, searched=searched)


def _tuned_base(row: Row, chain: tuple[str, ...], bases: Mapping) -> Evidence | None:
    """The base is an intermediate tuned model (its name says a tuning stage, or its own row names a base):
    extractors.availability.tuned_base on the listing."""
    if not chain:
        return None
    base_row = _lookup(bases, chain[0])
    has_base = len(chain) > 1 or (isinstance(base_row, dict) and bool(_bases_of(_read(base_row, 50), 50)))
    if card_content_rules().named["tuned_base_model"].pattern.search(chain[0].rsplit("/", 1)[-1]) or has_base:
        return _evidence(row, "listing.datasets.tuned-base", "base_model", chain[0], 0.5)
    return None


# --- base models ---

RELATIONS = re.compile(r"(adapter|finetune|merge|quantized|distillation):", re.IGNORECASE)


def _bases_of(row: Row, cap: int, raw_base_models=None) -> list[str]:
    """Base ids a row names: cardData.base_model first (what the deep crawl follows), baseModels, then tags."""
    named, _ = _strings((row.card or {}).get("base_model"), cap)
    if isinstance(raw_base_models, dict):
        raw_base_models = raw_base_models.get("models")
    if isinstance(raw_base_models, list):
        for entry in raw_base_models[:cap]:
            named.append(entry.get("id") if isinstance(entry, dict) else entry)
    for tag in row.tags:
        if tag.startswith("base_model:"):
            rest = tag[len("base_model:"):]
            relation = RELATIONS.match(rest)
            named.append(rest[relation.end():] if relation else rest)
    own = row.repo_id.lower()
    return list(dict.fromkeys(b for b in (_repo_id(n) for n in named) if b and b.lower() != own))[:cap]


def _chain(row: Row, raw_base_models, bases: Mapping) -> tuple[tuple[str, ...], Row | None]:
    """The base chain, nearest first, following each base's own row when given; and the root's row (None when the
    chain ends at a base whose row was not given, or runs deeper than max_base_depth)."""
    rules = listing_rules()
    first = _bases_of(row, rules.max_list_items, raw_base_models)
    if not first:
        return (), row
    chain, seen, current = [first[0]], {row.repo_id.lower(), first[0].lower()}, None
    for _ in range(rules.max_base_depth):
        found = _lookup(bases, chain[-1])
        if not isinstance(found, dict):
            return tuple(chain), None
        current = _read(found, rules.max_list_items)
        nxt = [b for b in _bases_of(current, 50, found.get("baseModels")) if b.lower() not in seen]
        if not nxt:
            return tuple(chain), current
        chain.append(nxt[0])
        seen.add(nxt[0].lower())
    return tuple(chain), None


def _on_base(row: Row, criterion: str, chain: tuple[str, ...], root: Row | None, judge) -> Judgement:
    if not chain:
        judged = judge(row, criterion)
        return replace(judged, summary=f"no base model named in the listing; mirrors the model itself: "
                                       f"{judged.summary}",
                       evidence=(*judged.evidence, _evidence(row, "listing.base.none", "base_model", "none named",
                                                             0.5)),
                       searched=(*judged.searched, *(s for s in _not_crawled(row, ("card",))
                                                     if s not in judged.searched)))
    if root is None:
        last = chain[-1]
        return Judgement(criterion, "unknown", 0.0, f"base model {last} not judged: its listing row was not given", (
            _evidence(row, "listing.base.unread", "base_model", " -> ".join(chain), 0.0),),
            searched=(_read_source(row), Source(f"base:{last}", "not crawled", f"{HUB}/{url_quote(last, safe='/')}",
                                                "the base model's own listing row")))
    judged = judge(root, criterion)
    return replace(judged, summary=f"base model {' -> '.join(chain)}: {judged.summary}")


# --- licence ---

@lru_cache(maxsize=4096)
def _licence_class(licence: tuple[str, ...], names: tuple[str, ...], keys: tuple[str, ...]):
    """(level, deciding rule, detail) of declared licence ids, as extractors.licences.declared_level reads them;
    memoised: a few hundred ids stand for millions of models."""
    declared = {k: list(licence) if k == "license" else list(names) if k == "license_name" else "" for k in keys}
    anchor = Evidence("licence.card.license", HUB, None, None, "")
    level, evidence = declared_level(declared, [anchor])
    return level, (evidence[0].rule_id if evidence else ""), (evidence[0].snippet if evidence else "")


# Licence ids and gated prompts longer than these are no licence's (a hostile row): an id is replaced by a marker
# that no index knows, and a long prompt is read without being memoised, so the memos stay small.
MAX_ID_CHARS = 200
MAX_MEMO_PROMPT_CHARS = 20_000


@lru_cache(maxsize=1024)
def _memo_clauses(text: str):
    return _licence_text_clauses(text)


def _prompt_clauses(text: str):
    return _memo_clauses(text) if len(text) <= MAX_MEMO_PROMPT_CHARS else _licence_text_clauses(text)


def _bounded_ids(ids: list[str], cap: int) -> tuple[str, ...]:
    return tuple(i if len(i) <= MAX_ID_CHARS else f"(an id of {len(i):,} characters)" for i in ids[:cap])


def _declared(row: Row, cap: int) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], str]:
    """(licence ids, licence names, declaring keys present, field read) from cardData, else `license:` tags."""
    card = row.card or {}
    keys = tuple(k for k in DECLARING_KEYS if k in card)
    if keys:
        return (_bounded_ids(_as_ids(card.get("license")), cap), _bounded_ids(_as_ids(card.get("license_name")), cap),
                keys, "cardData.license")
    tagged = _bounded_ids([t.split(":", 1)[1].strip().lower() for t in row.tags if t.startswith("license:")], cap)
    return tagged, (), ("license",) if tagged else (), "tags"


def _licence(row: Row) -> tuple[Judgement, str | None]:
    criterion = "licenses"
    licence, names, keys, field = _declared(row, 20)
    declared_id = next((i for i in (*licence, *names, None) if i != "other" and not (i or "").startswith("(an id")),
                       None) or ("other" if "other" in licence else None)
    prompt = (row.card or {}).get("extra_gated_prompt")
    prompt_level, clauses = _prompt_clauses(prompt[:200_000]) if isinstance(prompt, str) and prompt.strip() \
        else (None, ())
    if not keys and prompt_level is None:
        if "cardData" in row.problems:
            return _unreadable(row, criterion, "cardData"), None
        if "cardData" in _listed(row.replica, "not_captured") and row.card is None:
            return _unknown(row, criterion, "the card's metadata was not captured by the source"), None
        return _unknown(row, criterion, "no licence declared in the listing"), declared_id
    evidence, tag_level = [], None
    if keys:
        tag_level, index_rule, detail = _licence_class(licence, names, keys)
        value = ", ".join((*licence, *names)) or "(no id)"
        evidence.append(_evidence(row, "listing.license", field, value))
        evidence.append(Evidence(index_rule, row.url, row.sha, f"listing:{field}", detail, confidence=0.9))
    for rule_id, _, text in clauses:
        evidence.append(Evidence(rule_id, row.url, row.sha, "listing:cardData.extra_gated_prompt", text))
    if clauses:
        evidence.insert(0, _evidence(row, "listing.cardData.extra_gated_prompt", "cardData.extra_gated_prompt",
                                     clauses[0][2][:150]))
    weights = min((lv for lv in (tag_level, prompt_level) if lv), key={"closed": 0, "partial": 1, "open": 2}.get)
    level, why = combine(weights, None)
    # The deep judge reads the licence texts too (the card's licence section, LICENSE files, the GitHub repos'):
    # a restrictive text there turns an open id closed, and a code licence can make it partial.
    return Judgement(criterion, level, 0.7 if level == "open" else 0.8,
                     f"{why} (declared: {', '.join((*licence, *names)) or 'none'}; gated prompt: "
                     f"{prompt_level or 'none'})", tuple(evidence),
                     searched=(_read_source(row), *_not_crawled(row, NEEDS[criterion]))), declared_id


# --- access ---

def _api(row: Row, raw: dict) -> Judgement:
    criterion, rules = "api", listing_rules()
    if (row.card or {}).get("inference") is True:
        return Judgement(criterion, "open", 0.5, "the card turns on the Hub's hosted inference API", (
            _evidence(row, "listing.cardData.inference", "cardData.inference", "true"),),
            searched=(_read_source(row),))
    inference = raw.get("inference")
    if isinstance(inference, str) and inference in rules.hosted_inference_values:
        return Judgement(criterion, "open", 0.5, "the Hub's hosted inference API serves the model", (
            _evidence(row, "listing.inference", "inference", inference),), searched=(_read_source(row),))
    mapping = raw.get("inferenceProviderMapping")
    entries = []
    if isinstance(mapping, dict):
        entries = [(str(p)[:60], v) for p, v in list(mapping.items())[:rules.max_list_items]]
    elif isinstance(mapping, list):
        entries = [(str(v.get("provider"))[:60], v) for v in mapping[:rules.max_list_items] if isinstance(v, dict)]
    live = [p for p, v in entries if isinstance(v, dict) and (v.get("status") in rules.live_provider_statuses
                                                               or "status" not in v)]
    if live:
        return Judgement(criterion, "partial", 0.4, f"served by {len(live)} inference providers (their terms are not "
                         "on the Hub)", (_evidence(row, "listing.inferenceProviderMapping",
                                                   "inferenceProviderMapping", ", ".join(live[:5])),),
                         searched=(_read_source(row),))
    return _unknown(row, criterion, "the listing names no hosted API (the card may point to one)")


def _package(row: Row, raw: dict) -> Judgement:
    criterion = "package"
    library = (row.card or {}).get("library_name")
    if isinstance(library, str) and library.strip():
        return Judgement(criterion, "open", 0.3, f"the card declares the {library.strip()[:60]} library that loads it",
                         (_evidence(row, "listing.cardData.library_name", "cardData.library_name", library),),
                         searched=(_read_source(row), *_not_crawled(row, ("github:*",))))
    library = raw.get("library_name")
    if isinstance(library, str) and library.strip():
        return Judgement(criterion, "partial", 0.3, f"runs with the {library.strip()[:60]} library (the Hub's guess)",
                         (_evidence(row, "listing.library_name", "library_name", library),),
                         searched=(_read_source(row), *_not_crawled(row, NEEDS[criterion])))
    return _unknown(row, criterion, "the listing names no library or package")


# --- the rest: unknown, with what the listing says about them ---

def _architecture(row: Row, raw: dict) -> tuple[Evidence, ...]:
    config = raw.get("config")
    found = []
    if isinstance(config, dict):
        architectures, _ = _strings(config.get("architectures"), 5)
        model_type = config.get("model_type")
        said = ", ".join(architectures) + (f" ({model_type[:60]})" if isinstance(model_type, str) else "")
        if said.strip():
            found.append(_evidence(row, "listing.config", "config.architectures", said, 0.5))
    return tuple(found)


def _arxiv(row: Row) -> tuple[Evidence, ...]:
    ids = [t.split(":", 1)[1] for t in row.tags if t.startswith("arxiv:")]
    if not ids:
        return ()
    return (_evidence(row, "listing.tags.arxiv", "tags", ", ".join(f"arxiv:{i}" for i in ids[:5]) +
                      (f" and {len(ids) - 5} more" if len(ids) > 5 else ""), 0.3),)


def judge_listing(row: dict, bases: Mapping[str, dict] = {}, datasets: Mapping[str, dict] = {}) -> ListingJudgement:
    """The 14 judgements of a model from its listing row; `bases` and `datasets`: the listing rows of the bases and
    datasets it names, when known, keyed by id as named or in lower case (a dataset id mapped to None: the listing
    was asked and has no such dataset).
    Never raises on a row of any shape: what cannot be read is `unknown` with the reason. (A broken rule file
    does raise: that is ours to fix, not the row's.)"""
    listing_rules()
    try:
        return _judge(row, bases if isinstance(bases, Mapping) else {},
                      datasets if isinstance(datasets, Mapping) else {})
    except Exception as exc:  # noqa: BLE001 -- the last guard of a total function over hostile rows
        reason = f"the listing row could not be read ({type(exc).__name__})"
        try:
            repo_id = _repo_id(row.get("id")) if isinstance(row, dict) else None
        except Exception:  # noqa: BLE001
            repo_id = None
        fallback = Row(repo_id or "(unreadable id)", None, f"{HUB}/{url_quote(repo_id or '', safe='/')}",
                       f"{HUB}/api/models/{url_quote(repo_id or '', safe='/')}", {"row": reason}, None, None, [],
                       None, False, {})
        return ListingJudgement(tuple(_unreadable(fallback, c, "row") for c in CRITERIA), None, (), ())


def declared_licence(raw) -> str | None:
    """The licence id a listing row declares (as the licence judgement reads it), lower-case; None when it declares
    none or the row cannot be read. For the licence lineage of a chain of rows."""
    try:
        return _licence(_read(raw, listing_rules().max_list_items))[1]
    except Exception:  # noqa: BLE001 -- a base's row is as hostile as any
        return None


def _judge(raw, bases: Mapping, datasets: Mapping) -> ListingJudgement:
    rules = listing_rules()
    row = _read(raw, rules.max_list_items)
    raw = raw if isinstance(raw, dict) else {}
    if "row" in row.problems or "id" in row.problems:
        field = "row" if "row" in row.problems else "id"
        return ListingJudgement(tuple(_unreadable(row, c, field) for c in CRITERIA), None, (), ())
    chain, root = _chain(row, raw.get("baseModels"), bases)
    licence, declared_id = _licence(row)
    judged = {
        "weights_endmodel": _weights(row),
        "datasources_endmodel": _data(row, datasets, chain, bases),
        "licenses": licence,
        "api": _api(row, raw),
        "package": _package(row, raw),
        "hardware_architecture": _unknown(row, "hardware_architecture", "the listing does not say how the model was "
                                          "trained (its config gives the architecture only)", _architecture(row, raw)),
        "preprint": _unknown(row, "preprint", "whether a paper is the model's own is read in the card" if
                             _arxiv(row) else "the listing names no paper", _arxiv(row)),
    }
    judged["weights_basemodel"] = _on_base(row, "weights_basemodel", chain, root,
                                           lambda r, c: _weights(r, c))
    # The root of a chain names no base of its own; a model naming none is mirrored: no tuned base either way.
    judged["datasources_basemodel"] = _on_base(row, "datasources_basemodel", chain, root,
                                               lambda r, c: _data(r, datasets, (), bases, c))
    whys = {"trainingcode": "training code is found in the model's own repos",
            "code": "code documentation is found in the model's own repos",
            "paper": "a peer-reviewed paper is named in the card",
            "modelcard": "the card's text is not in the listing",
            "datasheet": "the data's documentation is in the card and the datasets' cards"}
    for criterion, why in whys.items():
        judged[criterion] = _unknown(row, criterion, why)
    return ListingJudgement(tuple(judged[c] for c in CRITERIA), declared_id, chain,
                            tuple(_dataset_ids(row, rules.max_list_items)))
