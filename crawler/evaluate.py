"""Measure the crawler's judgements against expert label files (both schemas), level by level.

A label file names its system by links; it is compared with its end model only: the Hugging Face model its
end-model weights link names (old schema `rlweights`), else the one its `system` / `project` link names. Never a
base-model or other link: those describe another model, and judging that one instead measures the wrong thing.
Cohen's kappa is computed here rather than taken from scikit-learn: it is a few lines of arithmetic, and
scikit-learn would bring numpy and scipy into the product for them.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils
import yaml

from crawler.label_split import HALVES, family_keys, settled_halves, split
from crawler.labels import GITHUB_LINK, HF_LINK, normalise_github
from crawler.store import CONFIDENT
from extractors.claims import claim_rules
from extractors.text import load_yaml_bounded

# Old opening-up-chatgpt keys -> the index's current keys (reference/criteria.md).
OLD_KEYS = {"llmdata": "datasources_basemodel", "rldata": "datasources_endmodel", "llmweights": "weights_basemodel",
            "rlweights": "weights_endmodel", "opencode": "trainingcode", "code": "code",
            "architecture": "hardware_architecture", "preprint": "preprint", "paper": "paper",
            "modelcard": "modelcard", "datasheet": "datasheet", "package": "package", "api": "api",
            "license": "licenses"}
CRITERIA = ("datasources_basemodel", "datasources_endmodel", "weights_basemodel", "weights_endmodel",
            "trainingcode", "code", "hardware_architecture", "preprint", "paper", "modelcard", "datasheet",
            "package", "api", "licenses")
ORDER = {"closed": 0, "partial": 1, "open": 2}
LEVELS = ("closed", "partial", "open")
# The links that name the end model a file describes, best first (current key, old-schema key).
END_MODEL_LINKS = (("weights_endmodel", "rlweights"), ("system", "project"))
# The 12 criteria of the index since March 2026 (package and api retired); the paper has all 14.
CURRENT_CRITERIA = tuple(c for c in CRITERIA if c not in ("package", "api"))


class LabelError(ValueError):
    """A label file that cannot be read; the message names the file."""


@dataclass
class LabelFile:
    path: Path
    name: str
    labels: dict[str, dict]  # criterion -> {"class", "link", "notes"}
    end_models: list[str]  # Hugging Face model ids the end-model link names, in its order
    end_repos: list[str]  # GitHub repos the same link names (no Hub model to compare with)
    end_link_field: str | None  # the field the end model was read from
    org: str = ""  # the organisation that publishes the system (`org: name`)

    @property
    def label_set(self) -> str:
        """The folder of label files this one belongs to (eosai, eosai-14, opening-up-chatgpt ...)."""
        return self.path.parent.name


def _hf_models(text: str) -> list[str]:
    return list(dict.fromkeys(f"{m.group(1)}/{m.group(2)}" for m in HF_LINK.finditer(text or "")))


def _github_repos(text: str) -> list[str]:
    return list(dict.fromkeys(normalise_github(m.group(1), m.group(2)) for m in GITHUB_LINK.finditer(text or "")))


def read_label_file(path: Path) -> LabelFile:
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        data = load_yaml_bounded(text)  # label files come from elsewhere: bounded like cards
    except yaml.YAMLError as exc:
        raise LabelError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise LabelError(f"{path}: not a label file (no mapping at the top)")
    header = data.get("system") or data.get("project") or {}
    name = str(header.get("name") or path.stem) if isinstance(header, dict) else path.stem
    org = data.get("org")
    org_name = str(org.get("name") or "").strip() if isinstance(org, dict) else ""
    labels = {}
    for key, value in data.items():
        criterion = key if key in CRITERIA else OLD_KEYS.get(key) if "project" in data else None
        if criterion and isinstance(value, dict):
            level = str(value.get("class") or "").strip().lower()
            if level in ORDER:
                labels[criterion] = {"class": level, "link": str(value.get("link") or "").strip(),
                                     "notes": str(value.get("notes") or "").strip()}
    repos, repos_field = [], None
    for keys in END_MODEL_LINKS:
        field_name = next((k for k in keys if isinstance(data.get(k), dict)), None)
        link = str(data[field_name].get("link") or "") if field_name else ""
        models = _hf_models(link)
        if models:
            return LabelFile(path, name, labels, models, repos or _github_repos(link), field_name, org_name)
        if not repos and _github_repos(link):  # a GitHub repo: kept for the reason; the next field may name a model
            repos, repos_field = _github_repos(link), field_name
    return LabelFile(path, name, labels, [], repos, repos_field, org_name)


def read_label_dir(directory: Path) -> tuple[list[LabelFile], list[str]]:
    """Every label file under a directory (subfolders too), and the errors of those that could not be read."""
    files, errors = [], []
    for path in sorted([*directory.rglob("*.yaml"), *directory.rglob("*.yml")]):
        try:
            files.append(read_label_file(path))
        except LabelError as exc:
            errors.append(str(exc))
    return files, errors


@dataclass
class Cell:
    label_file: str
    label_set: str
    model: str
    criterion: str
    expert: str
    ours: str  # open | partial | closed | unknown
    expert_link: str
    expert_notes: str
    our_summary: str
    our_evidence: list[dict] = field(default_factory=list)
    half: str = "study"  # the label file's half of the study / check split (crawler.label_split)
    confidence: float | None = None  # our judgement's


def cohen_kappa(pairs: list[tuple[str, str]], weighted: bool) -> float | None:
    """Cohen's kappa over (expert, ours) pairs of the three levels; linearly weighted when `weighted`."""
    if not pairs:
        return None
    n = len(pairs)

    def disagreement(a: str, b: str) -> float:
        return abs(ORDER[a] - ORDER[b]) / 2 if weighted else float(a != b)

    observed = sum(disagreement(a, b) for a, b in pairs) / n
    expert, ours = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    expected = sum(expert[a] * ours[b] * disagreement(a, b) for a in LEVELS for b in LEVELS) / (n * n)
    return 1.0 if expected == 0 else 1 - observed / expected


def _scores(cells: list[Cell]) -> dict:
    decided = [c for c in cells if c.ours in ORDER]
    pairs = [(c.expert, c.ours) for c in decided]
    majority = Counter(c.expert for c in cells).most_common(1)
    exact = sum(a == b for a, b in pairs)
    return {
        "cells": len(cells),
        "decided": len(decided),
        "unknown": len(cells) - len(decided),
        "exact_agreement": exact / len(decided) if decided else None,
        "exact_agreement_strict": exact / len(cells) if cells else None,
        "within_one": sum(abs(ORDER[a] - ORDER[b]) <= 1 for a, b in pairs) / len(decided) if decided else None,
        "kappa": cohen_kappa(pairs, weighted=False),
        "kappa_linear": cohen_kappa(pairs, weighted=True),
        "majority_class": majority[0][0] if majority else None,
        "majority_baseline": majority[0][1] / len(cells) if majority else None,
    }


RELIABILITY_BINS = 10  # equal widths over [0, 1], as scikit-learn's calibration_curve


def reliability(cells: list[Cell]) -> dict:
    """The reliability table of our confidence over decided cells: per bin of confidence, the cells, their mean
    confidence and how often the experts agree; the expected calibration error (the bins' gaps weighted by their
    cells); and the cells at or above CONFIDENT, their share of decided cells and their agreement."""
    decided = [c for c in cells if c.ours in ORDER and c.confidence is not None]
    bins: dict[int, list[Cell]] = {}
    for cell in decided:
        bins.setdefault(min(int(cell.confidence * RELIABILITY_BINS), RELIABILITY_BINS - 1), []).append(cell)
    table = []
    for index in sorted(bins):
        members = bins[index]
        table.append({"bin": f"{index / RELIABILITY_BINS:.1f}-{(index + 1) / RELIABILITY_BINS:.1f}",
                      "cells": len(members), "mean_confidence": sum(c.confidence for c in members) / len(members),
                      "agreement": sum(c.ours == c.expert for c in members) / len(members)})
    ece = sum(row["cells"] * abs(row["agreement"] - row["mean_confidence"]) for row in table) / len(decided) \
        if decided else None
    sure = [c for c in decided if c.confidence >= CONFIDENT]
    return {"bins": table, "ece": ece, "decided": len(decided), "confident": len(sure),
            "confident_share": len(sure) / len(decided) if decided else None,
            "confident_agreement": sum(c.ours == c.expert for c in sure) / len(sure) if sure else None}


def _confusion(cells: list[Cell]) -> dict[str, dict[str, int]]:
    matrix = {expert: {ours: 0 for ours in (*LEVELS, "unknown")} for expert in LEVELS}
    for cell in cells:
        matrix[cell.expert][cell.ours] += 1
    return matrix


def _crawled_models(db: sqlite_utils.Database) -> dict[str, dict]:
    return {row["repo_id"].lower(): row for row in db.query("select * from subjects where kind = 'model'")}


def _captured_models(db: sqlite_utils.Database) -> set[str]:
    """Lower-case ids of the models whose card and file list were both read (HTTP 200): where an `unknown` is
    ours to answer for, not the corpus's."""
    return {row["key"] for row in db.query(
        "select lower(repo_id) as key from artifacts where source = 'huggingface' and repo_type = 'model' and "
        "kind in ('card', 'tree') and http_status = 200 group by lower(repo_id) having count(distinct kind) = 2")}


def matched_model(label: LabelFile, crawled: dict[str, dict]) -> dict | None:
    """The first Hub model the label file's end-model link names that was crawled and read (has a revision)."""
    return next((crawled[m.lower()] for m in label.end_models
                 if m.lower() in crawled and crawled[m.lower()]["revision"]), None)


def not_covered_reason(label: LabelFile, crawled: dict[str, dict]) -> str:
    """Why a label file is not compared: its end model is named by no link we can follow, is not a Hub model, or
    was not crawled (with the status the crawl found, when it tried)."""
    if label.end_models:
        statuses = [f"{m} ({crawled[m.lower()]['status']})" if m.lower() in crawled else f"{m} (not crawled)"
                    for m in label.end_models[:3]]
        return f"end model from `{label.end_link_field}` not read: " + ", ".join(statuses)
    if label.end_repos:
        return (f"end model from `{label.end_link_field}` is the GitHub repo {label.end_repos[0]}, not a Hugging Face "
                "model (only Hub models are judged)")
    return "no end-model or system link names a Hugging Face model or a GitHub repo"


def _view(cells: list[Cell]) -> dict:
    """Scores overall (each criterion's majority as the baseline) and per criterion, with confusion matrices."""
    per_criterion = {}
    for criterion in [c for c in CRITERIA if any(cell.criterion == c for cell in cells)]:
        mine = [c for c in cells if c.criterion == criterion]
        per_criterion[criterion] = {**_scores(mine), "confusion": _confusion(mine)}
    overall = _scores(cells)
    overall["majority_baseline"] = (sum(round(s["majority_baseline"] * s["cells"]) for s in per_criterion.values())
                                    / len(cells)) if cells else None
    overall["majority_class"] = None  # per criterion only: the overall baseline takes each criterion's majority
    overall["criteria_above_baseline"] = sum(
        s["exact_agreement"] is not None and s["exact_agreement"] > s["majority_baseline"]
        for s in per_criterion.values())
    overall["criteria"] = len(per_criterion)
    return {"overall": overall, "per_criterion": per_criterion}


def distinct_cells(cells: list[Cell]) -> list[Cell]:
    """One cell per (model, criterion, expert level): label sets that describe the same system twice (eosai and
    eosai-14) count once where they agree."""
    seen, kept = set(), []
    for cell in cells:
        key = (cell.model.lower(), cell.criterion, cell.expert)
        if key not in seen:
            seen.add(key)
            kept.append(cell)
    return kept


def halves_of(files: list[LabelFile]) -> dict[Path, tuple[str, str]]:
    """Each label file's (family, half): families are formed over every file given, so the split of a file never
    depends on which others are compared; a family with a file of the settled split keeps its half."""
    names = {f"{label.label_set}/{label.path.name}": label for label in files}
    keys = {name: family_keys(label.org, label.end_models, label.end_repos, label.path.stem)
            for name, label in names.items()}
    return {names[name].path: assigned for name, assigned in split(keys, settled_halves()).items()}


def compare(db: sqlite_utils.Database, files: list[LabelFile], labels_dir: Path,
            halves: dict[Path, tuple[str, str]], crawled: dict[str, dict] | None = None,
            criteria: list[str] | None = None) -> tuple[list[dict], list[Cell], Counter]:
    """Each label file's coverage entry, the cells of those compared with their end model (expert beside ours), and
    the label cells on criteria we do not judge, by criterion."""
    crawled = _crawled_models(db) if crawled is None else crawled
    judged: dict[tuple[str, str], dict] = {(r["subject_id"], r["criterion"]): r for r in db["judgements"].rows}
    wanted = set(criteria or CRITERIA)
    coverage, cells, not_judged = [], [], Counter()
    for label in files:
        rel = label.path.relative_to(labels_dir).as_posix()
        subject = matched_model(label, crawled)
        family, half = halves[label.path]
        entry = {"label_file": rel, "label_set": label.label_set, "system": label.name, "family": family,
                 "half": half, "end_model_field": label.end_link_field, "matched": None, "reason": None}
        coverage.append(entry)
        if subject is None:
            entry["reason"] = not_covered_reason(label, crawled)
            continue
        entry["matched"] = subject["repo_id"]
        for criterion, expert in label.labels.items():
            if criterion not in wanted:
                continue
            row = judged.get((subject["id"], criterion))
            if row is None:
                not_judged[criterion] += 1
                continue
            evidence = [dict(e) for e in db["evidence"].rows_where(
                "subject_id = ? and criterion = ?", [subject["id"], criterion], order_by="ordinal", limit=2,
                select="rule_id, url, file, line_start, snippet")]
            cells.append(Cell(rel, label.label_set, subject["repo_id"], criterion, expert["class"], row["level"],
                              expert["link"], expert["notes"], row["summary"], evidence, half, row["confidence"]))
    return coverage, cells, not_judged


def evaluate(db: sqlite_utils.Database, labels_dir: Path, criteria: list[str] | None = None,
             split: str = "all") -> dict:
    """Agreement of the stored judgements with the label files under `labels_dir`; `split` (study, check or all)
    chooses the half of the label files the main figures are measured on. The halves are always reported apart."""
    if split not in (*HALVES, "all"):
        raise ValueError(f"unknown split {split!r}: study, check or all")
    files, read_errors = read_label_dir(labels_dir)
    halves = halves_of(files)
    crawled = _crawled_models(db)
    coverage, cells, not_judged = compare(db, files, labels_dir, halves, crawled, criteria)
    by_half = {name: [c for c in cells if c.half == name] for name in HALVES}
    halves_view = {name: {**_view(part), "calibration": reliability(part),
                          "files": len({c.label_file for c in part})}
                   for name, part in (*by_half.items(), ("all", cells))}
    if split != "all":
        cells = by_half[split]
        coverage = [c for c in coverage if c["half"] == split]
        files = [label for label in files if halves[label.path][1] == split]
    per_model: dict[str, list] = {}
    for cell in cells:
        if cell.ours != cell.expert:
            per_model.setdefault(cell.model, []).append({
                "label_file": cell.label_file, "criterion": cell.criterion, "expert": cell.expert, "ours": cell.ours,
                "expert_link": cell.expert_link, "expert_notes": cell.expert_notes, "our_summary": cell.our_summary,
                "our_evidence": cell.our_evidence})
    together = _view(cells)
    matched = [c for c in coverage if c["matched"]]
    captured = _captured_models(db)
    read_whole = [c for c in cells if c.model.lower() in captured]
    flag_check = flag_precision(db, files, labels_dir, crawled)
    sets = sorted({c["label_set"] for c in coverage})
    return {
        **together,
        "split": split,
        "halves": halves_view,
        "views": {
            "current_12_criteria": _view([c for c in cells if c.criterion in CURRENT_CRITERIA])["overall"],
            "distinct_cells": _view(distinct_cells(cells))["overall"],
            "by_label_set": {name: _view([c for c in cells if c.label_set == name]) for name in sets},
        },
        "per_model": dict(sorted(per_model.items())),
        "flags": flag_check,
        "coverage": {"label_files": len(files), "matched": len(matched), "unmatched": len(files) - len(matched),
                     "distinct_systems": len({c["matched"].lower() for c in matched}),
                     "by_label_set": {name: {"label_files": sum(c["label_set"] == name for c in coverage),
                                             "matched": sum(c["label_set"] == name for c in matched)}
                                      for name in sets},
                     "unreadable": read_errors, "files": coverage,
                     "card_and_tree_read": {"cells": len(read_whole),
                                            "unknown": sum(c.ours == "unknown" for c in read_whole)},
                     "cells_not_judged_by_criterion": dict(sorted(not_judged.items()))},
    }


def flag_precision(db: sqlite_utils.Database, files: list[LabelFile], labels_dir: Path,
                   crawled: dict[str, dict]) -> dict:
    """Openwashing flags against the experts, over the label files compared with their end model.

    Precision: a high or medium flag is confirmed when the experts label not open (closed or partial) at least one
    promised criterion the flag says is broken (the claim is broken, as the flag says); it is confirmed in full when
    they label every one of them so. Recall: of the models whose own words claim they are open source
    (our claim reading: the experts' files record no claims) and whose experts label not open at least one of what
    that claim promises (training code, data, licence), the share flagged high or medium."""
    from crawler.assess import load_model
    from extractors.flags import strongest_claim

    counts = Counter((r["kind"] or "?", r["severity"]) for r in db.query(
        "select kind, severity from flags where status != 'superseded'"))
    promises = claim_rules().kinds["open source"].promises
    checked, claimed = [], []
    for label in files:
        subject = matched_model(label, crawled)
        if subject is None:
            continue
        rel = label.path.relative_to(labels_dir).as_posix()
        flags = list(db.query("select severity, kind, claim, promised, failing_criteria from flags where "
                              "subject_id = ? and status != 'superseded'", [subject["id"]]))
        for flag in flags:
            failing = [item.split("=")[0] for item in (flag["failing_criteria"] or "").split(",") if item]
            experts = {c: label.labels[c]["class"] for c in failing if c in label.labels}
            checked.append({"label_file": rel, "model": subject["repo_id"], "severity": flag["severity"],
                            "kind": flag["kind"], "claim": flag["claim"], "experts": experts,
                            "confirmed": any(level != "open" for level in experts.values()),
                            "confirmed_in_full": bool(experts) and len(experts) == len(failing)
                            and "open" not in experts.values()})
        claim = strongest_claim(load_model(db, subject))
        broken = {c: label.labels[c]["class"] for c in promises if label.labels.get(c, {}).get("class") in
                  ("closed", "partial")}
        if claim is not None and claim.kind == "open source" and broken:
            claimed.append({"label_file": rel, "model": subject["repo_id"], "claim": claim.quote, "experts": broken,
                            "flagged": next((f["severity"] for f in flags if f["severity"] in ("high", "medium")),
                                            None)})
    serious = [c for c in checked if c["severity"] in ("high", "medium")]
    models = {c["model"] for c in serious}
    confirmed_models = {m for m in models if all(c["confirmed"] for c in serious if c["model"] == m)}
    recalled = [c for c in claimed if c["flagged"]]
    return {"by_kind_and_severity": {f"{k} / {s}": n for (k, s), n in sorted(counts.items())},
            "checked": checked, "high_medium": len(serious),
            "high_medium_confirmed": sum(c["confirmed"] for c in serious),
            "precision_high_medium": sum(c["confirmed"] for c in serious) / len(serious) if serious else None,
            "high_medium_confirmed_in_full": sum(c["confirmed_in_full"] for c in serious),
            "high_medium_models": len(models), "high_medium_models_confirmed": len(confirmed_models),
            "open_source_claims_broken": claimed, "recalled": len(recalled),
            "recall_high_medium": len(recalled) / len(claimed) if claimed else None}


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _views(result: dict) -> list[tuple[str, dict]]:
    views = result["views"]
    return [("all cells, 14 criteria", result["overall"]), ("all cells, the 12 current criteria",
                                                          views["current_12_criteria"]),
            ("distinct cells (duplicates across label sets once)", views["distinct_cells"]),
            *[(f"label set {name}", view["overall"]) for name, view in views["by_label_set"].items()]]


def _overall_row(name: str, o: dict) -> str:
    return (f"| {name} | {o['cells']} | {o['decided']} | {o['unknown']} | {_pct(o['exact_agreement'])} | "
            f"{_pct(o['exact_agreement_strict'])} | {_pct(o['within_one'])} | {_num(o['kappa'])} | "
            f"{_num(o['kappa_linear'])} | {_pct(o['majority_baseline'])} | "
            f"{o['criteria_above_baseline']} of {o['criteria']} |")


def halves_lines(result: dict) -> list[str]:
    """The study half, the check half and all label files side by side, and the gap between the halves."""
    halves = result["halves"]
    lines = ["| half | label files compared | cells | decided | decided share | exact (decided) | linear kappa | "
             "majority baseline | criteria above baseline | criteria at or below |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name in (*HALVES, "all"):
        o, per = halves[name]["overall"], halves[name]["per_criterion"]
        below = [c for c, s in per.items() if s["exact_agreement"] is None or
                 s["exact_agreement"] <= s["majority_baseline"]]
        lines.append(f"| {name} | {halves[name]['files']} | {o['cells']} | {o['decided']} | "
                     f"{_pct(o['decided'] / o['cells'] if o['cells'] else None)} | {_pct(o['exact_agreement'])} | "
                     f"{_num(o['kappa_linear'])} | {_pct(o['majority_baseline'])} | "
                     f"{o['criteria_above_baseline']} of {o['criteria']} | {', '.join(below) or 'none'} |")
    study, check = (halves[name]["overall"]["exact_agreement"] for name in HALVES)
    if study is not None and check is not None:
        lines += ["", f"Gap (check minus study): {100 * (check - study):+.1f} points exact."]
    return lines


def calibration_note() -> list[str]:
    """What the calibration table says of itself: the prior chosen and whether any breakdown beat one rate."""
    from extractors.rules import RULES_DIR

    table = yaml.safe_load((RULES_DIR / "calibration.yaml").read_text(encoding="utf-8"))
    scores = table.get("held_out_brier_by_prior") or {}
    verdict = ("beats one overall rate: the rules' records carry over to families they were not measured on"
               if table.get("beats_one_rate") else
               "does not beat one overall rate: on families held out, a rule's record on the others says nothing "
               "more than the overall agreement, so every confidence sits near it and none reaches the confident mark")
    return [f"Prior chosen: {table.get('prior_cells')} cells (held-out Brier score "
            f"{scores.get(table.get('prior_cells'), '–')}; one overall rate: "
            f"{table.get('held_out_brier_one_rate')}); "
            f"the breakdown by criterion, level and rule {verdict}.", ""]


def reliability_lines(result: dict) -> list[str]:
    """Per half, the reliability table of our confidence, its expected calibration error and the confident cells."""
    lines = []
    for name in (*HALVES, "all"):
        cal = result["halves"][name]["calibration"]
        lines += [f"**{name}**: expected calibration error {_num(cal['ece'])}; confident (>= {CONFIDENT}): "
                  f"{cal['confident']} of {cal['decided']} decided cells ({_pct(cal['confident_share'])}), agreeing "
                  f"{_pct(cal['confident_agreement'])}", "",
                  "| confidence | cells | mean confidence | agreement |", "|---|---|---|---|"]
        lines += [f"| {row['bin']} | {row['cells']} | {row['mean_confidence']:.3f} | {_pct(row['agreement'])} |"
                  for row in cal["bins"]]
        lines.append("")
    return lines


def disagreement_causes(result: dict, limit: int = 15) -> list[tuple[str, str, str, int]]:
    """The commonest (criterion, expert level -> ours, rule of ours that decided it) among the cells decided
    differently from the experts: where to look next."""
    counts = Counter((row["criterion"], f"{row['expert']} -> {row['ours']}",
                      (row["our_evidence"] or [{}])[0].get("rule_id") or "?")
                     for rows in result["per_model"].values() for row in rows if row["ours"] != "unknown")
    return [(criterion, levels, rule, n) for (criterion, levels, rule), n in counts.most_common(limit)]


def _unread_source(evidence: dict) -> str:
    rule, snippet = evidence.get("rule_id") or "", evidence.get("snippet") or ""
    if rule.startswith("base."):
        return "the base model was not crawled"
    source, _, status = snippet.partition(":")
    if source.startswith("dataset"):
        source, status = "a named dataset", status.partition(":")[2] or status
    elif source.startswith("github"):
        source, status = "a GitHub repo of the model's own", status.partition(":")[2] or status
    if rule == "searched.unread":
        return f"{source}: {status.split('(')[0].strip()}"
    code = re.search(r"HTTP (\d{3}) (\w+)", status)
    status = "not captured" if code and code.group(1) == "501" else code.group(0) if code else status.strip()[:40]
    return f"{source.replace(' not available', '')}: {status}"


def undecided_causes(result: dict, limit: int = 10) -> list[tuple[str, int]]:
    """Why cells are `unknown`: the source each one names as not read (card not captured, tree not captured ...)."""
    return Counter(_unread_source((row["our_evidence"] or [{}])[0]) for rows in result["per_model"].values()
                   for row in rows if row["ours"] == "unknown").most_common(limit)


def markdown_report(result: dict, labels_dir: str, db_path: str) -> str:
    """docs/accuracy.md: generated, never edited by hand."""
    cov = result["coverage"]
    whole = cov["card_and_tree_read"]
    lines = [
        "# Accuracy against the expert labels (generated)",
        "",
        f"Generated by `openness evaluate --labels {labels_dir} --db {db_path} --report docs/accuracy.md` "
        "over the demo's crawl of the bundled snapshot. Do not edit by hand.",
        "",
        "Labels: European Open Source AI Index (https://osai-index.eu) and opening-up-chatgpt "
        "(http://opening-up-chatgpt.github.io), CC-BY 4.0; Liesenfeld & Dingemanse (2024), FAccT '24, "
        "doi:10.1145/3630106.3659005.",
        "",
        "## Coverage",
        "",
        "Each label file is compared with its end model only: the Hub model its end-model weights link names "
        "(`weights_endmodel`, old schema `rlweights`), else its `system` / `project` link.",
        "",
        f"- label files: {cov['label_files']}; compared with their end model: {cov['matched']} "
        f"({cov['distinct_systems']} distinct models); not covered: {cov['unmatched']}; "
        f"unreadable: {len(cov['unreadable'])}",
        *[f"- {name}: {c['matched']} of {c['label_files']} files compared" for name, c in cov["by_label_set"].items()],
        f"- cells of models whose card and file list were both read: {whole['cells']}, of them `unknown`: "
        f"{whole['unknown']} ({_pct(whole['unknown'] / whole['cells'] if whole['cells'] else None)})",
        "- label cells on criteria the extractors do not judge yet: "
        + (", ".join(f"{k} {v}" for k, v in cov["cells_not_judged_by_criterion"].items()) or "none"),
        "",
        "## Overall",
        "",
        "Exact agreement over decided cells; strict counts `unknown` as wrong. The baseline answers each criterion's "
        "commonest expert level everywhere.",
        "",
        "| view | cells | decided | unknown | exact (decided) | exact (strict) | within one | kappa | "
        "linear kappa | majority baseline | criteria above baseline |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *[_overall_row(name, view) for name, view in _views(result)],
        "",
        "Targets for the product: at least 85% exact, linear kappa at least 0.75, no criterion below its baseline.",
        "",
        "## Study and check halves",
        "",
        "The label files are split in two by model family (`openness evaluate --split study|check|all`): files that "
        "share an organisation (`org: name`), the owner of their end model on the Hub or GitHub, or a file name are "
        "one family, and a family's half is read off a hash of its name, so a family is never on both sides. Rules "
        "are read off the study half's disagreements; a change stays only when the check half does not get worse. "
        "Counted over the label files compared with their end model.",
        "",
        *halves_lines(result),
        "",
        "## Confidence against the experts",
        "",
        "A judgement's confidence is the agreement with the experts of the rule and level that decided it, measured "
        "on the study half and shrunk toward its criterion's agreement at that level, and that toward the "
        "criterion's, with a prior chosen by the Brier score on families of the study half held out in turn "
        "(`data/rules/calibration.yaml`, written by `openness calibrate`). Reliability per bin of confidence over "
        "decided cells; the expected calibration error weighs each bin's gap between mean confidence and agreement "
        "by its cells. The study half is where the "
        "confidence was measured, so the check half is the honest figure.",
        "",
        *calibration_note(),
        *reliability_lines(result),
        "## Per criterion (all label sets together)",
        "",
        "| criterion | cells | decided | exact (decided) | exact (strict) | within one | kappa | linear kappa | "
        "majority (baseline) | vs baseline |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for criterion, s in result["per_criterion"].items():
        versus = "–" if s["exact_agreement"] is None else (
            "above" if s["exact_agreement"] > s["majority_baseline"] else "below or equal")
        lines.append(f"| {criterion} | {s['cells']} | {s['decided']} | {_pct(s['exact_agreement'])} | "
                     f"{_pct(s['exact_agreement_strict'])} | {_pct(s['within_one'])} | {_num(s['kappa'])} | "
                     f"{_num(s['kappa_linear'])} | {s['majority_class']} ({_pct(s['majority_baseline'])}) | {versus} |")
    lines += ["", "## Confusion matrices (rows: expert, columns: ours)", ""]
    for criterion, s in result["per_criterion"].items():
        lines += [f"### {criterion}", "", "| expert \\ ours | closed | partial | open | unknown |", "|---|---|---|---|---|"]
        for expert, row in s["confusion"].items():
            lines.append(f"| {expert} | {row['closed']} | {row['partial']} | {row['open']} | {row['unknown']} |")
        lines.append("")
    lines += ["## Where the remaining disagreements come from", "",
              "Cells decided differently from the experts, by criterion, levels and the rule of ours that decided "
              "them (the commonest first):", "",
              "| criterion | expert -> ours | our deciding rule | cells |", "|---|---|---|---|"]
    lines += [f"| {c} | {levels} | `{rule}` | {n} |" for c, levels, rule, n in disagreement_causes(result)]
    lines += ["", "Cells left `unknown`, by the source that was not read:", "", "| unread source | cells |", "|---|---|"]
    lines += [f"| {why.replace('|', '/')} | {n} |" for why, n in undecided_causes(result)]
    flags = result["flags"]
    in_full = flags["high_medium_confirmed_in_full"] / flags["high_medium"] if flags["high_medium"] else None
    lines += ["", "## Openwashing flags against the experts", "",
              "Precision: a high or medium flag is confirmed when the experts label not open (closed or partial) at "
              "least one promised criterion the flag says is broken (the claim is broken, as the flag says), and "
              "confirmed in full when they label every one of them so. Recall: of the compared models whose own words "
              "claim they are open source (our claim reading; the label files record no claims) and whose experts "
              "label not open at least one of what that claim promises (training code, data, licence), the share "
              "flagged high or medium. Counted per label file.", "",
              f"- precision: {flags['high_medium_confirmed']} of {flags['high_medium']} high and medium flags "
              f"confirmed ({_pct(flags['precision_high_medium'])}), in full: "
              f"{flags['high_medium_confirmed_in_full']} ({_pct(in_full)}); distinct flagged models: "
              f"{flags['high_medium_models']}, confirmed by every label file: {flags['high_medium_models_confirmed']}",
              f"- recall: {flags['recalled']} of {len(flags['open_source_claims_broken'])} self-claimed open-source "
              f"models with a promise the experts judge broken are flagged high or medium "
              f"({_pct(flags['recall_high_medium'])})",
              "- every stored flag by kind and severity: " + (", ".join(
                  f"{k}: {n}" for k, n in flags["by_kind_and_severity"].items()) or "none"), "",
              "| label file | model | severity | kind | experts on the criteria the flag says are broken | confirmed |",
              "|---|---|---|---|---|---|"]
    lines += [f"| {c['label_file']} | {c['model']} | {c['severity']} | {c['kind']} | "
              f"{', '.join(f'{k}={v}' for k, v in c['experts'].items())} | "
              f"{'in full' if c['confirmed_in_full'] else 'yes' if c['confirmed'] else 'no'} |"
              for c in flags["checked"] if c["severity"] in ("high", "medium")]
    lines += ["", "Self-claimed open-source models whose experts judge a promise broken:", "",
              "| label file | model | experts on the broken promises | our flag |", "|---|---|---|---|"]
    lines += [f"| {c['label_file']} | {c['model']} | {', '.join(f'{k}={v}' for k, v in c['experts'].items())} | "
              f"{c['flagged'] or 'none or low'} |" for c in flags["open_source_claims_broken"]]
    lines += ["", "## Disagreements", "", "| model | label file | criterion | expert | ours | expert's note | our reason |",
              "|---|---|---|---|---|---|---|"]
    for model, rows in result["per_model"].items():
        for row in rows:
            note = re.sub(r"\s+", " ", row["expert_notes"])[:160].replace("|", "/")
            reason = re.sub(r"\s+", " ", row["our_summary"] or "")[:160].replace("|", "/")
            lines.append(f"| {model} | {row['label_file']} | {row['criterion']} | {row['expert']} | {row['ours']} | "
                         f"{note} | {reason} |")
    unmatched = [c for c in cov["files"] if not c["matched"]]
    lines += ["", "## Label files not covered", "", "| label file | system | reason |", "|---|---|---|"]
    lines += [f"| {c['label_file']} | {c['system']} | {c['reason']} |" for c in unmatched]
    return "\n".join(lines) + "\n"


def compare_seed_table(db: sqlite_utils.Database, seed_csv: Path, labels_dir: Path) -> list[dict]:
    """Each cell of the seed table (model x criterion, as Nature printed it) beside our judgement, and where we have
    none, why: the label file names no end model we crawled, the criterion is not judged, or the source that
    decides it was not read (the judgement's summary names it)."""
    import csv

    crawled = _crawled_models(db)
    cells = []
    with seed_csv.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            label = read_label_file(labels_dir / row["label_file"])
            subject = matched_model(label, crawled)
            for criterion in (k for k in row if k in CRITERIA):
                cell = {"model": row["model"], "criterion": criterion, "table": row[criterion].strip(), "ours": None,
                        "reason": None, "matched": subject["repo_id"] if subject else None}
                if subject is None:
                    cell["reason"] = not_covered_reason(label, crawled)
                else:
                    judged = db.execute("select level, summary from judgements where subject_id = ? and criterion = ?",
                                        [subject["id"], criterion]).fetchone()
                    if judged is None:
                        cell["reason"] = f"{criterion} is not judged by the extractors yet"
                    elif judged[0] == "unknown":
                        cell["ours"], cell["reason"] = "unknown", f"undecidable from what was read: {judged[1]}"
                    else:
                        cell["ours"] = judged[0]
                cells.append(cell)
    return cells
