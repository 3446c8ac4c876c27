"""Terminal output that reads at 80 columns: `show`, `flags`, `evaluate`, `errors` and `changes` as plain text blocks,
words wrapped at their boundaries, every URL whole on a line of its own; and commands printed so that a new shell in
the same folder runs them as printed (the CLI's path, not a bare `openness` a new shell may not find)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from collections import Counter
from pathlib import Path

import click
from rich.cells import cell_len

from crawler.store import CONFIDENT
from crawler.table import CAPTURE, COLUMNS, GROUPS, gating_label
from extractors.text import CONTROL

URL = re.compile(r"https?://\S+")
CODE = {key: code for key, code, _ in COLUMNS}
NAME = {key: name for key, _, name in COLUMNS}
LEVEL_COLOUR = {"open": "green", "partial": "yellow", "closed": "red", "unknown": "bright_black"}
INDENT = "    "


def width() -> int:
    """The terminal's width (COLUMNS when set), 80 when piped; never narrower than 40."""
    return max(40, shutil.get_terminal_size((80, 24)).columns)


def clean(text) -> str:
    """Untrusted text (cards, licences, URLs): control characters (escape sequences) dropped, so it prints as
    written and never acts on the screen."""
    return CONTROL.sub("", "" if text is None else str(text))


def wrap(text, columns: int, indent: str = "", first: str | None = None) -> list[str]:
    """Words wrapped at their boundaries within `columns` cells, every line after `indent` (the first after `first`,
    if given). A URL is never broken: one that does not fit the line starts the next, and one longer than the width
    stands whole, unindented, on a line of its own. Any other word too long for a line is cut (a run of characters
    no reader parses as one word)."""
    lines: list[str] = []
    line, lead = "", indent if first is None else first

    def flush():
        nonlocal line, lead
        if line:
            lines.append(line)
        line, lead = "", indent

    for word in clean(text).split():
        if URL.search(word) and cell_len(lead + word) > columns:  # a URL, maybe quoted: never cut
            flush()
            lines.append(word)  # whole, unindented: selectable and clickable as one
            continue
        while cell_len(lead + word) > columns:
            flush()
            head = _head(word, columns - cell_len(lead))
            lines.append(lead + head)
            word = word[len(head):]
        if line and cell_len(line) + 1 + cell_len(word) > columns:
            flush()
        line = f"{line} {word}" if line else lead + word
    flush()
    return lines


def _head(word: str, room: int) -> str:
    """The longest start of `word` within `room` cells (at least one character)."""
    end = 1
    while end < len(word) and cell_len(word[:end + 1]) <= room:
        end += 1
    return word[:end]


def url_line(url: str, columns: int, indent: str = INDENT) -> str:
    """A URL on a line of its own: indented when it fits, else whole from the first column."""
    url = clean(url)
    return indent + url if cell_len(indent + url) <= columns else url


def shorten(text, room: int) -> str:
    """One line of at most `room` cells, cut at a word boundary with an ellipsis (never mid-word)."""
    text = " ".join(clean(text).split())
    if cell_len(text) <= room:
        return text
    cut = ""
    for word in text.split():
        if cell_len(f"{cut} {word}".strip()) + 1 > room:
            break
        cut = f"{cut} {word}".strip()
    if not cut and not URL.search(text.split()[0]):  # one word too long: cut it, unless it holds a URL
        cut = text[:room - 1]
    return cut + "…"


def level(name: str) -> str:
    return click.style(name, fg=LEVEL_COLOUR.get(name), bold=name != "unknown")


def criterion_title(key: str) -> str:
    return f"{CODE.get(key, '??')}  {NAME.get(key, key)} ({key})"


def where(evidence: dict) -> str:
    """`README.md, lines 28-31, rule licence.text.user-cap`."""
    lines = ""
    if evidence.get("line_start"):
        start, end = evidence["line_start"], evidence.get("line_end") or evidence["line_start"]
        lines = f", line {start}" if start == end else f", lines {start}-{end}"
    file = clean(evidence.get("file") or "")
    return ", ".join(p for p in (file + lines if file else "", f"rule {evidence.get('rule_id')}") if p)


def public(item: dict) -> str | None:
    """The link a person can open: the public URL (huggingface.co, github.com), never the fetched one."""
    return item.get("public_url") or None


def evidence_lines(evidence: dict, columns: int) -> list[str]:
    lines = wrap(f"“{' '.join(clean(evidence.get('snippet')).split())}”", columns, INDENT) if evidence.get(
        "snippet") else []
    lines += wrap(where(evidence), columns, INDENT)
    if url := public(evidence):
        lines.append(url_line(url, columns))
    return lines


def searched_line(searched: list[dict], columns: int) -> list[str]:
    """What was searched, compact: `searched: model_json, card read; github:a/b not captured`."""
    by_status: dict[str, list[str]] = {}
    for item in searched:
        by_status.setdefault(item.get("status") or "?", []).append(clean(item.get("source")))
    if not by_status:
        return []
    text = "; ".join(f"{', '.join(sources)} {status}" for status, sources in by_status.items())
    return wrap(f"searched: {text}", columns, INDENT)


def judgement_block(judgement: dict, columns: int, all_evidence: bool) -> list[str]:
    """One criterion: display name and key, level and confidence, summary, the deciding evidence (the first item,
    as calibration reads it) or every item, what was searched."""
    sure = "confident" if judgement["confident"] else "not confident"
    lines = [criterion_title(judgement["criterion"]),
             f"{INDENT}{level(judgement['level'])} · confidence {judgement['confidence']:.2f} ({sure})"]
    lines += wrap(judgement["summary"], columns, INDENT)
    items = judgement["evidence"] if all_evidence else judgement["evidence"][:1]
    for number, evidence in enumerate(items):
        if all_evidence and len(judgement["evidence"]) > 1:
            lines.append(f"{INDENT}evidence {number + 1} of {len(judgement['evidence'])}:")
        lines += evidence_lines(evidence, columns)
    if not all_evidence and (more := len(judgement["evidence"]) - 1) > 0:
        lines.append(f"{INDENT}+ {more} more evidence item{'s' * (more != 1)} (--evidence all)")
    return lines + searched_line(judgement["searched"], columns)


def show_lines(report: dict, columns: int, all_evidence: bool = False) -> list[str]:
    """`openness show`: the header (public URL, revision, status, gating, capture), then a block per criterion in
    the index's order under its group, the framework verdicts and the fetches that failed."""
    lines = [click.style(clean(report["model"]), bold=True), url_line(report["public_url"], columns, "  ")]
    lines += wrap(f"revision {report['revision'] or 'unknown'}", columns, "  ")
    lines += wrap(f"status: {report['status']}; {report.get('gating') or 'gating unknown'}", columns, "  ")
    if report.get("tier") == "listing":
        lines += wrap(f"tier: listing (tier 0, from the Hub listing row alone; `openness crawl {report['model']}` "
                      f"gives the deep judgement, which replaces it)", columns, "  ")
    if report.get("capture") and report["capture"] != "judged":
        why = CAPTURE.get(report["capture"], "not judged yet: openness assess")
        lines += wrap(f"capture: {report['capture']} ({why})", columns, "  ")
    judged = {j["criterion"]: j for j in report["judgements"]}
    if not judged:
        lines.append("  no judgements: nothing of it was read (a base model or dataset the crawl could not fetch)")
    for group, criteria in GROUPS.items():
        blocks = [judgement_block(judged[key], columns, all_evidence) for key, _, _ in criteria if key in judged]
        if blocks:
            lines += ["", click.style(group.capitalize(), bold=True, underline=True)]
            for block in blocks:
                lines += ["", *block]
    known = {key for key, _, _ in COLUMNS}
    for key in sorted(set(judged) - known):  # a criterion the index does not list: shown last, not dropped
        lines += ["", *judgement_block(judged[key], columns, all_evidence)]
    if report["frameworks"]:
        lines += ["", click.style("Frameworks", bold=True, underline=True)]
    for verdict in report["frameworks"].values():
        failing = ", ".join(f"{CODE.get(f['criterion'], f['criterion'])} {f['level']} (needs {f['required']})"
                            for f in verdict["failing"])
        lines += wrap(f"{verdict['title']}: {verdict['verdict']}" + (f"; failing: {failing}" if failing else ""),
                      columns)
    if report["errors"]:
        lines += ["", click.style(f"Fetches that failed ({len(report['errors'])}), each with the URL fetched",
                                  bold=True, underline=True)]
    for error in report["errors"]:
        lines += wrap(f"{error['kind']} {error['http_status'] or ''}: {error['reason']}", columns, "  ")
        lines.append(url_line(error["fetched_url"], columns, INDENT))
    return lines


REVIEW = {"open": "not reviewed"}  # a flag's status `open` means no analyst has ruled on it yet


def flag_lines(rows: list[dict], columns: int) -> list[str]:
    """`openness flags`: a block per flag (severity, model, review status; the claim quoted, its kind and public
    link; each promised criterion with its level and first quote)."""
    lines = [click.style(f"Openwashing flags ({len(rows)})", bold=True)]
    for row in rows:
        status = REVIEW.get(row["status"], row["status"])
        lines += ["", *wrap(f"{row['severity']} · {clean(row['model'])}", columns),
                  f"  review: {status} · flag {row['id']}"]
        lines += wrap(f"claim ({row['kind']}): “{' '.join(clean(row['claim']).split())}”", columns, "  ")
        if row.get("claim_location"):
            lines.append(url_line(row["claim_location"], columns, "  "))
        lineage = row.get("evidence")
        if lineage:  # a relicensed flag: both licences and the base chain
            lines += wrap(f"declares {clean(lineage['licence'])} over {clean(lineage['base'])}, under "
                          f"{clean(lineage['base_licence'])} (chain: {' → '.join(map(clean, lineage['chain']))}; "
                          f"rule {lineage['rule_id']})", columns, "  ")
        for promise in row["promised"]:
            text = f"{CODE.get(promise['criterion'], '??')} {NAME.get(promise['criterion'], promise['criterion'])}: "
            head = f"{INDENT}{text}{promise['level']}"
            quote = (promise.get("evidence") or {}).get("snippet")
            room = columns - cell_len(head) - 5
            tail = f" — “{shorten(quote, room)}”" if quote and room > 10 else ""
            lines.append(f"{INDENT}{text}{level(promise['level'])}{tail}")
        if row["undecided"]:
            lines += wrap(f"still to check: {', '.join(row['undecided'])}", columns, "  ")
    return lines


def _pct(value) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _num(value) -> str:
    return "–" if value is None else f"{value:.3f}"


def evaluation_lines(result: dict, columns: int) -> list[str]:
    """`openness evaluate`: the agreement table with two-letter criterion codes and their legend, the halves and the
    reliability of our confidence, each within 80 columns."""
    cov = result["coverage"]
    lines = wrap(f"label files: {cov['label_files']}, matched to a crawled model: {cov['matched']}, unmatched: "
                 f"{cov['unmatched']}, unreadable: {len(cov['unreadable'])}", columns)
    head = ("", "cells", "decided", "exact", "strict", "±1", "kappa", "lin.k", "base")
    rows = [head]
    for name, s in [*result["per_criterion"].items(), ("overall", result["overall"])]:
        rows.append((CODE.get(name, name), str(s["cells"]), str(s["decided"]), _pct(s["exact_agreement"]),
                     _pct(s["exact_agreement_strict"]), _pct(s["within_one"]), _num(s["kappa"]),
                     _num(s["kappa_linear"]), _pct(s["majority_baseline"])))
    lines += ["", click.style("Agreement with the expert labels", bold=True), *_aligned(rows)]
    legend = ", ".join(f"{CODE[key]} {NAME[key]}" for key in result["per_criterion"] if key in CODE)
    lines += wrap(f"{legend}. strict: unknown counted wrong; ±1: within one level; lin.k: linearly weighted "
                  f"kappa; base: the majority baseline.", columns)
    disagreements = sum(len(v) for v in result["per_model"].values())
    lines += wrap(f"{disagreements} disagreements in {len(result['per_model'])} models (--json or --report for "
                  f"each)", columns)
    lines += ["", click.style("Study and check halves (by model family)", bold=True)]
    halves = result["halves"]
    rows = [("half", "files", "cells", "decided", "exact", "lin.k", "base", "above base")]
    below_lines = []
    for name, half in halves.items():
        o = half["overall"]
        rows.append((name, str(half["files"]), str(o["cells"]), str(o["decided"]), _pct(o["exact_agreement"]),
                     _num(o["kappa_linear"]), _pct(o["majority_baseline"]),
                     f"{o['criteria_above_baseline']} of {o['criteria']}"))
        below = [CODE.get(c, c) for c, s in half["per_criterion"].items()
                 if s["exact_agreement"] is None or s["exact_agreement"] <= s["majority_baseline"]]
        below_lines += wrap(f"{name}: at or below the baseline: {', '.join(below) or 'none'}", columns, "  ")
    lines += [*_aligned(rows), *below_lines]
    study, check = (halves[name]["overall"]["exact_agreement"] for name in ("study", "check"))
    if study is not None and check is not None:
        lines.append(f"gap (check minus study): {100 * (check - study):+.1f} points exact")
    lines += ["", click.style("Confidence against the experts (reliability per bin)", bold=True)]
    for name, half in halves.items():
        cal = half["calibration"]
        lines += wrap(f"{name}: expected calibration error {_num(cal['ece'])}; confident (>= {CONFIDENT}): "
                      f"{cal['confident']} of {cal['decided']} decided cells ({_pct(cal['confident_share'])}), "
                      f"agreeing {_pct(cal['confident_agreement'])}", columns)
        bins = [("  confidence", "cells", "mean", "agreement")] + [
            (f"  {b['bin']}", str(b["cells"]), f"{b['mean_confidence']:.3f}", _pct(b["agreement"]))
            for b in cal["bins"]]
        lines += _aligned(bins)
    return lines


def _aligned(rows: list[tuple[str, ...]]) -> list[str]:
    """Columns of plain text: the first left-aligned, the others right-aligned, two spaces apart."""
    widths = [max(cell_len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
            .rstrip() for row in rows]


def error_summary_lines(rows: list[dict], run_id: int, columns: int, causes: dict, top: int = 10) -> list[str]:
    """`openness errors`: the run's errors counted by cause (expected, then failures) and the models with most."""
    lines = [click.style(f"Errors of run {run_id}: {len(rows)}", bold=True)]
    counted = Counter(row["cause"] for row in rows)
    for expected, title in ((True, "expected in a working crawl"), (False, "failures")):
        found = [(cause, n) for cause, n in counted.most_common() if causes[cause][0] == expected]
        lines += ["", f"{title}: {sum(n for _, n in found) or 'none'}"]
        for cause, n in found:
            lines += wrap(f"{cause}: {causes[cause][1]}", columns, " " * 8, first=f"{n:>6}  ")
    by_model = Counter(row["model"] or "(no model)" for row in rows)
    if by_model:
        lines += ["", f"models and repos with most errors (of {len(by_model)}):"]
        lines += [f"{n:>6}  {shorten(model, columns - 8)}" for model, n in by_model.most_common(top)]
    return lines


def error_row_lines(rows: list[dict], columns: int) -> list[str]:
    """`openness errors --all`: every row, with its model: cause, kind, status; the URL; the reason."""
    lines = []
    for row in rows:
        failure = "" if row["expected"] else " (failure)"
        lines += ["", *wrap(f"{row['cause']}{failure} · {row['kind']} · {row['http_status'] or '-'}", columns),
                  *wrap(f"of: {row['model'] or '(no model or repo)'}", columns, "  ")]
        if row["fetched_url"]:
            lines.append(url_line(row["fetched_url"], columns, "  "))
        lines += wrap(row["reason"], columns, "  ")
    return lines


def change_lines(rows: list[dict], columns: int) -> list[str]:
    """What changed, a block per change: run, model, aspect; the old value and the new, each with its quote and the
    public link of its evidence."""
    lines = []
    for row in rows:
        lines += ["", *wrap(f"run {row['run_id'] or 'assess'} · {clean(row['repo_id'])} · {row['aspect']}", columns)]
        for name, side in (("old", row["old"]), ("new", row["new"])):
            if side is None:
                lines.append(f"  {name}: (first recorded)")
                continue
            shown = gating_label(side["value"]) if row["aspect"] == "gated" else side["value"]
            value = level(shown) if shown in LEVEL_COLOUR else clean(shown)
            lines.append(f"  {name}: {value}" if cell_len(f"  {name}: {shown}") <= columns else f"  {name}:")
            if cell_len(f"  {name}: {shown}") > columns:
                lines += wrap(shown, columns, INDENT)
            evidence = side.get("evidence") or {}
            quote = evidence.get("snippet") or side.get("summary")
            if quote:
                lines.append(INDENT + f"“{shorten(quote, columns - 6)}”")
            if url := evidence.get("public_url"):
                lines.append(url_line(url, columns))
    return lines


# Commands printed for a person to run next: the way this CLI was started, as a new shell in the same folder runs it.
def runnable(*args) -> str:
    """`.venv/bin/openness review --db demo.db`: the program as this process was started (its console script, or
    `python -m crawler` with this interpreter), relative to the working folder when inside it, else absolute."""
    script = sys.argv[0] if sys.argv else ""
    if not script or script.endswith(".py") or script == "-m" or script == "-c":
        program = [_from_here(sys.executable), "-m", "crawler"]
    else:
        program = [_from_here(script if os.sep in script else shutil.which(script) or script)]
    return shlex.join([*program, *(str(a) for a in args)])


def _from_here(path: str) -> str:
    """A path a shell runs from the working folder: `.venv/bin/openness` inside it, absolute outside. Symbolic links
    are kept (a venv's python is one: resolved, it would leave the venv)."""
    absolute = Path(os.path.abspath(path))
    try:
        relative = absolute.relative_to(Path.cwd())
    except ValueError:
        return str(absolute)
    return str(relative) if len(relative.parts) > 1 else f"./{relative}"


def next_commands(db_path: Path, flagged_model: str | None) -> list[str]:
    """What to run after the demo, each command as a new shell in this folder runs it."""
    steps = [("the judgements of the worst flagged model, with evidence", ("show", flagged_model))] \
        if flagged_model else []
    steps += [("the openwashing flags, worst first", ("flags",)), ("the league table", ("table",)),
              ("review it in the browser", ("review",))]
    return ["next:", *(line for label, args in steps
                       for line in (f"  {label}:", "    " + runnable(*args, "--db", db_path)))]


def echo_lines(lines: list[str]) -> None:
    """Plain text, no Rich wrapping: lines are already within the width and URLs must stay whole."""
    click.echo("\n".join(lines))
