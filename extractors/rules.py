"""Rules are data (data/rules/*.yaml, data/hub_licences.csv); this module loads and validates them.

A rule file that is malformed stops the program with an error naming the file and what is wrong in it.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

import yaml

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
RULES_DIR = DATA_DIR / "rules"


class RuleFileError(Exception):
    """A rule file does not have the expected shape. The message names the file (and line where known)."""


def _load_yaml(name: str) -> dict:
    path = RULES_DIR / name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise RuleFileError(f"{path}:{line}: not valid YAML: {exc.problem}") from exc
    except OSError as exc:
        raise RuleFileError(f"{path}: cannot read: {exc}") from exc
    if not isinstance(data, dict):
        raise RuleFileError(f"{path}: expected a mapping at the top level")
    return data


def compile_pattern(name: str, label: str, pattern) -> re.Pattern:
    """A rule's case-insensitive regular expression; a bad one stops loading with the file and the rule named."""
    try:
        return re.compile(str(pattern), re.IGNORECASE)
    except re.error as exc:
        raise RuleFileError(f"{RULES_DIR / name}: {label}: bad pattern {pattern!r}: {exc}") from exc


def _require(condition: bool, path: str, message: str) -> None:
    if not condition:
        raise RuleFileError(f"{RULES_DIR / path}: {message}")


def name_set(name: str, data: dict, key: str, what: str) -> frozenset[str]:
    """A rule file's non-empty list of names, in lower case."""
    names = data.get(key)
    _require(isinstance(names, list) and names, name, f"{key} needs a list of {what}")
    return frozenset(str(n).lower() for n in names)


@dataclass(frozen=True)
class WeightRule:
    rule_id: str
    glob: str
    what: str


@dataclass(frozen=True)
class PatternRule:
    """A rule that is one regular expression, with a real example it must match (tested)."""

    rule_id: str
    pattern: re.Pattern
    example: str


def pattern_rules(name: str, entries, group: str) -> tuple[PatternRule, ...]:
    rules = []
    for number, entry in enumerate(entries or [], start=1):
        _require(isinstance(entry, dict) and {"id", "pattern", "example"} <= set(entry), name,
                 f"{group} #{number} needs id, pattern and example")
        rules.append(PatternRule(str(entry["id"]), compile_pattern(name, entry["id"], entry["pattern"]),
                                 str(entry["example"])))
    _require(bool(rules), name, f"no {group}")
    return tuple(rules)


@dataclass(frozen=True)
class WeightRules:
    rules: tuple[WeightRule, ...]
    not_weights: tuple[str, ...]
    loaders: tuple[PatternRule, ...]
    delta_weights: tuple[PatternRule, ...]
    download_link: tuple[PatternRule, ...]

    @cached_property
    def _matchers(self) -> tuple[re.Pattern, re.Pattern]:
        return glob_matcher(self.not_weights), glob_matcher(tuple(rule.glob for rule in self.rules))

    def rule_of(self, name: str) -> WeightRule | None:
        """The first rule whose glob matches a file name (lower case), as fnmatch would; None for no rule or a name
        `not_weights` excludes. Two expressions a name, not a glob at a time (a tree holds thousands of names)."""
        not_weights, rules = self._matchers
        if not_weights.match(name):
            return None
        match = rules.match(name)
        return self.rules[int(match.lastgroup[1:])] if match else None


@cache
def weight_rules() -> WeightRules:
    name = "weight_files.yaml"
    data = _load_yaml(name)
    rules = []
    for number, rule in enumerate(data.get("rules") or [], start=1):
        _require(isinstance(rule, dict) and {"id", "glob", "what"} <= set(rule), name,
                 f"rule #{number} needs id, glob and what")
        rules.append(WeightRule(str(rule["id"]), str(rule["glob"]).lower(), str(rule["what"])))
    _require(bool(rules), name, "no rules")
    _require(len({r.rule_id for r in rules}) == len(rules), name, "duplicate rule ids")
    return WeightRules(tuple(rules), tuple(str(n).lower() for n in data.get("not_weights") or []),
                       pattern_rules(name, data.get("loaders"), "loaders"),
                       pattern_rules(name, data.get("delta_weights"), "delta_weights"),
                       pattern_rules(name, data.get("download_link"), "download_link"))


@dataclass(frozen=True)
class CardSectionRules:
    topics: dict[str, tuple[re.Pattern, ...]]


@cache
def card_section_rules() -> CardSectionRules:
    name = "card_sections.yaml"
    data = _load_yaml(name)
    topics = {}
    for topic, patterns in (data.get("topics") or {}).items():
        _require(isinstance(patterns, list) and patterns, name, f"topic {topic!r} needs a list of patterns")
        topics[str(topic)] = tuple(compile_pattern(name, f"topic {topic!r}", p) for p in patterns)
    _require(bool(topics), name, "no topics")
    return CardSectionRules(topics)


@dataclass(frozen=True)
class CardContentRules:
    skip_sections: tuple[PatternRule, ...]
    topics: dict[str, PatternRule]
    min_lines_per_topic: int
    closed_max_words: int
    closed_max_topics: int
    open_min_topics: int
    open_min_words: int
    training_hardware: tuple[PatternRule, ...]
    not_training_hardware: re.Pattern
    training_setup: tuple[PatternRule, ...]
    open_min_setup_lines: int
    not_training_data: re.Pattern
    base_model_sentence: re.Pattern
    base_model_example: str
    training_data_summary: re.Pattern
    training_data_summary_example: str
    dataset_page: re.Pattern
    dataset_page_example: str
    withheld_data: re.Pattern
    withheld_data_example: str
    training_clause: re.Pattern
    open_long_min_topics: int
    open_long_min_words: int
    # Pattern rules with one example each, by name: the repo training sections, data and card pointers.
    named: dict[str, PatternRule]
    open_required_topics: tuple[str, ...] = ()
    open_section_topics: tuple[str, ...] = ()

    def all_rules(self) -> list[PatternRule]:
        return [*self.skip_sections, *self.topics.values(), *self.training_hardware, *self.training_setup,
                *self.named.values()]


@cache
def card_content_rules() -> CardContentRules:
    name = "card_content.yaml"
    data = _load_yaml(name)
    topics = data.get("topics") or {}
    _require(isinstance(topics, dict) and topics, name, "topics needs a mapping of topic -> pattern and example")
    numbers = ("min_lines_per_topic", "closed_max_words", "closed_max_topics", "open_min_topics", "open_min_words",
               "open_min_setup_lines", "open_long_min_topics", "open_long_min_words")
    for key in numbers:
        _require(isinstance(data.get(key), int), name, f"{key} must be a whole number")
    _require(set(data.get("open_required_topics") or ()) <= set(topics), name,
             "open_required_topics must name topics")
    for key in NAMED_CARD_RULES:
        _require(isinstance(data.get(key), str) and isinstance(data.get(f"{key}_example"), str), name,
                 f"{key} needs a pattern and a {key}_example")
    skip = [{"id": f"skip-{n}", **e} for n, e in enumerate(data.get("skip_sections") or [], start=1)]
    return CardContentRules(
        pattern_rules(name, skip, "skip_sections"),
        {t: pattern_rules(name, [{"id": f"modelcard.topic.{t}", **e}], f"topic {t}")[0] for t, e in topics.items()},
        data["min_lines_per_topic"], data["closed_max_words"], data["closed_max_topics"], data["open_min_topics"],
        data["open_min_words"],
        pattern_rules(name, [{"id": f"architecture.hardware-{n}", **e}
                             for n, e in enumerate(data.get("training_hardware") or [], start=1)], "training_hardware"),
        compile_pattern(name, "not_training_hardware", data.get("not_training_hardware") or "(?!)"),
        pattern_rules(name, [{"id": f"architecture.setup-{n}", **e}
                             for n, e in enumerate(data.get("training_setup") or [], start=1)], "training_setup"),
        data["open_min_setup_lines"],
        compile_pattern(name, "not_training_data", data.get("not_training_data") or "(?!)"),
        compile_pattern(name, "base_model_sentence", data.get("base_model_sentence") or "(?!)"),
        str(data.get("base_model_example") or ""),
        compile_pattern(name, "training_data_summary", data.get("training_data_summary") or "(?!)"),
        str(data.get("training_data_summary_example") or ""),
        compile_pattern(name, "dataset_page", data.get("dataset_page") or "(?!)"),
        str(data.get("dataset_page_example") or ""),
        compile_pattern(name, "withheld_data", data.get("withheld_data") or "(?!)"),
        str(data.get("withheld_data_example") or ""),
        compile_pattern(name, "training_clause", data.get("training_clause") or "(?!)"),
        data["open_long_min_topics"], data["open_long_min_words"],
        {key: pattern_rules(name, [{"id": key, "pattern": data.get(key), "example": data.get(f"{key}_example")}],
                            key)[0] for key in NAMED_CARD_RULES},
        tuple(data.get("open_required_topics") or ()),
        tuple(data.get("open_section_topics") or ()))


# The single-pattern rules of card_content.yaml, each with its `<name>_example`.
NAMED_CARD_RULES = ("repo_training_sections", "repo_not_training_sections", "withheld_data_beside",
                    "data_documentation_pointer", "defers_to_model_card", "tuned_base_model", "tuning_only_docs",
                    "pretraining_docs")


@dataclass(frozen=True)
class PackageRules:
    install: tuple[PatternRule, ...]
    common_dependencies: frozenset[str]


@cache
def package_rules() -> PackageRules:
    name = "packages.yaml"
    data = _load_yaml(name)
    return PackageRules(pattern_rules(name, data.get("install"), "install"),
                        name_set(name, data, "common_dependencies", "package names"))


@dataclass(frozen=True)
class HubLicence:
    licence_id: str
    spdx: str
    osi_approved: str
    licence_class: str
    notes: str


@cache
def hub_licences() -> dict[str, HubLicence]:
    path = DATA_DIR / "hub_licences.csv"
    licences = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=2):
            if not row.get("id") or not row.get("class"):
                raise RuleFileError(f"{path}:{number}: needs an id and a class")
            licences[row["id"].lower()] = HubLicence(row["id"].lower(), row["spdx"], row["osi_approved"],
                                                     row["class"], row["notes"])
    return licences


@cache
def licence_class_levels() -> dict[str, str]:
    name = "licence_classes.yaml"
    levels = _load_yaml(name).get("levels") or {}
    _require(all(v in ("open", "partial", "closed") for v in levels.values()), name,
             "every class maps to open, partial or closed")
    missing = {lic.licence_class for lic in hub_licences().values()} - set(levels)
    _require(not missing, name, f"classes used in hub_licences.csv but not mapped: {sorted(missing)}")
    return dict(levels)


@dataclass(frozen=True)
class PhraseRule:
    rule_id: str
    pattern: re.Pattern
    kind: str  # restrictive | use-restriction | open
    what: str
    found_in: str
    spdx: str = ""  # an open text's SPDX licence id, when the phrase names exactly one


@dataclass(frozen=True)
class LicencePhrases:
    restrictions: tuple[PhraseRule, ...]
    open_texts: tuple[PhraseRule, ...]


@cache
def licence_phrases() -> LicencePhrases:
    name = "licence_phrases.yaml"
    data = _load_yaml(name)
    groups = {}
    for group in ("restrictions", "open_texts"):
        rules = []
        for number, rule in enumerate(data.get(group) or [], start=1):
            _require(isinstance(rule, dict) and {"id", "pattern", "found_in"} <= set(rule), name,
                     f"{group} #{number} needs id, pattern and found_in")
            kind = rule.get("kind", "open") if group == "restrictions" else "open"
            _require(kind in ("restrictive", "use-restriction", "open"), name, f"{rule['id']}: unknown kind {kind!r}")
            pattern = compile_pattern(name, rule["id"], rule["pattern"])
            rules.append(PhraseRule(str(rule["id"]), pattern, kind, str(rule.get("what", "")), str(rule["found_in"]),
                                    str(rule.get("spdx") or "")))
        _require(bool(rules), name, f"no {group}")
        groups[group] = tuple(rules)
    return LicencePhrases(groups["restrictions"], groups["open_texts"])


@cache
def glob_matcher(globs: tuple[str, ...]) -> re.Pattern:
    """One expression matching what any of the globs matches (fnmatch's own translation), so a path is tested
    once per group rather than once per glob. Its match names (group `g<i>`) the first glob that matches: an
    alternation tries its branches in order, and each branch matches the whole path or nothing."""
    from fnmatch import translate

    # No glob matches nothing (an empty alternation would match everything).
    return re.compile("|".join(f"(?P<g{i}>{translate(g)})" for i, g in enumerate(globs)) or "(?!)")


@dataclass(frozen=True)
class GlobGroup:
    globs: tuple[str, ...]
    examples: tuple[str, ...]

    def matches(self, path: str) -> bool:
        """`path` (lower case) matches one of the globs, as fnmatch would."""
        return glob_matcher(self.globs).match(path) is not None


@dataclass(frozen=True)
class CodeFileRules:
    code_files: tuple[str, ...]
    not_code: tuple[str, ...]
    groups: dict[str, GlobGroup]  # pretraining | finetuning | inference | docs | training_docs

    def __getitem__(self, group: str) -> GlobGroup:
        return self.groups[group]

    def is_code(self, path: str) -> bool:
        path = path.lower()
        name = path.rsplit("/", 1)[-1]
        return glob_matcher(self.code_files).match(name) is not None and \
            glob_matcher(self.not_code).match(path) is None


@cache
def code_file_rules() -> CodeFileRules:
    name = "code_files.yaml"
    data = _load_yaml(name)
    groups = {}
    for group in ("pretraining", "finetuning", "inference", "docs", "training_docs"):
        entry = data.get(group)
        _require(isinstance(entry, dict) and entry.get("globs") and entry.get("examples"), name,
                 f"{group} needs globs and examples")
        groups[group] = GlobGroup(tuple(str(g).lower() for g in entry["globs"]), tuple(entry["examples"]))
    for key in ("code_files", "not_code"):
        _require(isinstance(data.get(key), list) and data[key], name, f"{key} needs a list of globs")
    return CodeFileRules(tuple(str(g).lower() for g in data["code_files"]),
                         tuple(str(g).lower() for g in data["not_code"]), groups)


@dataclass(frozen=True)
class LinkRule:
    pattern: re.Pattern
    example: str


@cache
def venue_rules() -> dict[str, tuple[LinkRule, ...]]:
    name = "venues.yaml"
    data = _load_yaml(name)
    groups = {}
    for group in ("venues", "preprints", "reports", "own_paper", "component_paper", "citation_headings", "accepted"):
        rules = []
        for number, entry in enumerate(data.get(group) or [], start=1):
            _require(isinstance(entry, dict) and {"pattern", "example"} <= set(entry), name,
                     f"{group} #{number} needs pattern and example")
            rules.append(LinkRule(compile_pattern(name, f"{group} #{number}", entry["pattern"]),
                                  str(entry["example"])))
        _require(bool(rules), name, f"no {group}")
        groups[group] = tuple(rules)
    return groups


@dataclass(frozen=True)
class Calibration:
    """Measured confidence (data/rules/calibration.yaml, written by `openness calibrate`, never by hand): the
    agreement with the experts of each deciding rule at each level, shrunk toward its criterion's at that level."""

    rules: dict[tuple[str, str, str], float]  # (criterion, level, rule id) -> confidence
    levels: dict[tuple[str, str], float]  # (criterion, level) -> confidence, for a rule the labels never saw decide
    criteria: dict[str, float]  # criterion -> agreement, for a level the labels never saw it give
    overall: float

    def confidence(self, criterion: str, level: str, rule_id: str) -> float:
        for found in (self.rules.get((criterion, level, rule_id)), self.levels.get((criterion, level)),
                      self.criteria.get(criterion)):
            if found is not None:
                return found
        return self.overall


@cache
def calibration() -> Calibration:
    name = "calibration.yaml"
    data = _load_yaml(name)

    def share(value, where: str) -> float:
        _require(isinstance(value, (int, float)) and 0 <= value <= 1, name, f"{where}: expected a share in [0, 1]")
        return float(value)

    criteria = data.get("criteria") or {}
    _require(isinstance(criteria, dict) and criteria, name, "no criteria")
    rules, levels = {}, {}
    for criterion, by_level in (data.get("decisions") or {}).items():
        for level, entry in (by_level or {}).items():
            _require(isinstance(entry, dict), name, f"{criterion}/{level}: expected a mapping")
            levels[(str(criterion), str(level))] = share(entry.get("confidence"), f"{criterion}/{level}")
            for rule_id, rule in (entry.get("rules") or {}).items():
                _require(isinstance(rule, dict), name, f"{criterion}/{level}/{rule_id}: expected a mapping")
                rules[(str(criterion), str(level), str(rule_id))] = share(
                    rule.get("confidence"), f"{criterion}/{level}/{rule_id}")
    return Calibration(rules, levels, {str(c): share((e or {}).get("agreement"), str(c)) for c, e in criteria.items()},
                       share(data.get("overall"), "overall"))


@dataclass(frozen=True)
class FamilyRules:
    families: frozenset[str]
    fine_tuned_statement: PatternRule


@cache
def family_rules() -> FamilyRules:
    name = "families.yaml"
    data = _load_yaml(name)
    statement = {"id": "base.fine-tuned-other-family", "pattern": data.get("fine_tuned_statement"),
                 "example": data.get("fine_tuned_statement_example")}
    return FamilyRules(name_set(name, data, "families", "names"),
                       pattern_rules(name, [statement], "fine_tuned_statement")[0])
