"""The league table: models x the 14 criteria, from the store, as text (readable at 80 columns), Markdown, JSON or one
self-contained HTML page. Scored the way the index ranks systems: open 1, partial ½, closed 0 per criterion. A model
none of whose criteria is decided (the store's `model_capture`: not captured, undecided) is not ranked: a score of 0
would put "we could not see it" beside "closed on every criterion"; it is listed after the ranked models, marked."""

from __future__ import annotations

import html
import json
import textwrap
from dataclasses import dataclass
from typing import Iterable

import sqlite_utils
from rich.markup import escape as escape_markup

from crawler.store import is_confident

# The criteria in the index's order and groups, each with a two-letter code for narrow screens.
GROUPS = {
    "availability": [("datasources_basemodel", "BD", "Base Model Data"),
                     ("datasources_endmodel", "ED", "End User Model Data"),
                     ("weights_basemodel", "BW", "Base Model Weights"),
                     ("weights_endmodel", "EW", "End User Model Weights"),
                     ("trainingcode", "TC", "Training Code")],
    "documentation": [("code", "CD", "Code Documentation"), ("hardware_architecture", "HA", "Hardware Architecture"),
                      ("preprint", "PP", "Preprint"), ("paper", "PR", "Paper (peer reviewed)"),
                      ("modelcard", "MC", "Model Card"), ("datasheet", "DS", "Datasheet")],
    "access": [("package", "PK", "Package"), ("api", "AP", "API"), ("licenses", "LI", "Licenses")],
}
COLUMNS = [c for group in GROUPS.values() for c in group]
GLYPH = {"open": "✓", "partial": "~", "closed": "✗", "unknown": "?"}
POINTS = {"open": 1.0, "partial": 0.5, "closed": 0.0, "unknown": 0.0}
STYLE = {"open": "bold green", "partial": "bold dark_orange", "closed": "bold red", "unknown": "dim"}
COLOUR = {"open": "#2e7d32", "partial": "#ef8f00", "closed": "#c62828", "unknown": "#9e9e9e"}

# How a Hub gate reads wherever gating is shown (the Hub's `gated`: false, "auto" or "manual"): a gate the Hub
# approves automatically only asks for a click (or contact details), not a publisher's decision.
GATING = {"auto": "gated, approved automatically", "manual": "gated, approved by the publisher"}


def gating_label(gated: str | bool | None) -> str:
    """`not gated`, `gated, approved automatically`, `gated, approved by the publisher`, or `gating unknown`."""
    if gated is None or gated == "":
        return "gating unknown"
    value = str(gated).lower()
    if value in ("false", "0", "no"):
        return "not gated"
    return GATING.get(value, "gated")


# What a not-ranked model is marked with, in place of its score: `model_capture`'s states of a judged model that
# decide nothing (a model never judged, `not judged`, is not in the table).
CAPTURE = {"not captured": "the endpoint holds no copy of a source it needed (its JSON, card or file list)",
           "undecided": "its sources were read, failed or gated, and decide no criterion"}


@dataclass
class Row:
    model: str
    revision: str | None
    cells: dict[str, dict]  # criterion -> {level, summary, url}
    capture: str = "judged"  # model_capture: judged | not captured | undecided | not judged
    gated: str | None = None  # the Hub's `gated` as stored (see gating_label)

    @property
    def ranked(self) -> bool:
        return self.capture == "judged"

    @property
    def score(self) -> float:
        return sum(POINTS[c["level"]] for c in self.cells.values())

    @property
    def unknown(self) -> int:
        return sum(c["level"] == "unknown" for c in self.cells.values())


def _selection(model_ids: list[str] | None, run_id: int | None) -> tuple[list[str], list]:
    where, args = ["s.kind = 'model'"], []
    if model_ids:
        where.append(f"lower(s.repo_id) in ({', '.join('?' for _ in model_ids)})")
        args += [m.lower() for m in model_ids]
    if run_id is not None:
        where.append("s.run_id = ?")
        args.append(run_id)
    return where, args


def row_count(db: sqlite_utils.Database, model_ids: list[str] | None = None, run_id: int | None = None) -> int:
    """How many judged models `rows` would list."""
    where, args = _selection(model_ids, run_id)
    return next(db.query(f"""select count(distinct j.subject_id) as n from judgements j
                             join subjects s on s.id = j.subject_id where {' and '.join(where)}""", args))["n"]


def rows(db: sqlite_utils.Database, model_ids: list[str] | None = None, sort: str = "openness",
         run_id: int | None = None, limit: int | None = None) -> list[Row]:
    """The judged models (those named, or those crawled in `run_id`, or all), each criterion with its level,
    summary and main evidence's public URL; sorted by score (ties by name) or by name; the first `limit` only
    (chosen in SQL, so a run of a million models costs the rows shown, not a million)."""
    where, args = _selection(model_ids, run_id)
    if limit is not None:
        # Ranked models first, then the not-ranked ones by name (the order `_ordered` gives).
        order = ("c.capture != 'judged', case when c.capture = 'judged' then -score end, lower(s.repo_id)"
                 if sort == "openness" else "c.capture != 'judged', lower(s.repo_id)")
        points = " ".join(f"when '{level}' then {value}" for level, value in POINTS.items())
        top = [r["id"] for r in db.query(f"""
                select s.id, c.capture, sum(case j.level {points} else 0 end) as score
                from judgements j join subjects s on s.id = j.subject_id join model_capture c on c.subject_id = s.id
                where {' and '.join(where)} group by s.id order by {order} limit ?""", [*args, limit])]
        where, args = ["s.kind = 'model'", f"s.id in ({', '.join('?' for _ in top)})"], top
    found: dict[str, Row] = {}
    for r in db.query(f"""
            select s.repo_id, s.revision, s.gated, c.capture, j.criterion, j.level, j.confidence, j.summary,
                   e.public_url
            from judgements j join subjects s on s.id = j.subject_id join model_capture c on c.subject_id = s.id
            left join evidence e on e.subject_id = j.subject_id and e.criterion = j.criterion and e.ordinal = 0
            where {' and '.join(where)}""", args):
        row = found.setdefault(r["repo_id"], Row(r["repo_id"], r["revision"], {}, r["capture"], r["gated"]))
        row.cells[r["criterion"]] = {"level": r["level"], "confidence": r["confidence"],
                                     "confident": is_confident(r["level"], r["confidence"]), "summary": r["summary"],
                                     "url": r["public_url"]}
    return _ordered(found.values(), sort)


def _ordered(table_rows: Iterable[Row], sort: str) -> list[Row]:
    """Ranked models by score (ties by name) or by name, then the not-ranked ones by name."""
    ordered = sorted(table_rows, key=lambda row: row.model.lower())
    if sort == "openness":
        ordered.sort(key=lambda row: -row.score if row.ranked else 0)
    ordered.sort(key=lambda row: not row.ranked)  # stable: each group keeps its order
    return ordered


def capture_lacking(db: sqlite_utils.Database, source: str = "the endpoint") -> str:
    """One line: how many models `source` lacks (not captured or undecided: no criterion decided), how many of them
    the table lists not ranked, how many are only named by other models (never judged, so not in the table)."""
    lacking = list(db.query("""
        select c.capture, exists (select 1 from judgements j where j.subject_id = c.subject_id) as judged
        from model_capture c where c.capture in ('not captured', 'undecided')"""))
    if not lacking:
        return f"{source} lacks no model: every model judged has at least one criterion decided"
    states = ", ".join(f"{n} {state}" for state in CAPTURE if (n := sum(r["capture"] == state for r in lacking)))
    listed = sum(r["judged"] for r in lacking)
    named = f"; {len(lacking) - listed} only named by other models" if len(lacking) > listed else ""
    models = "model" if len(lacking) == 1 else "models"
    return (f"{source} lacks {len(lacking)} {models} ({states}): {listed} listed in the table after the ranked ones, "
            f"not ranked{named}")


def score_text(row: Row) -> str:
    """The score, or for a model not ranked its capture state in its place."""
    return f"{row.score:g}" if row.ranked else row.capture


def _model_lines(model: str, width: int) -> list[str]:
    """A model id on as many lines as it needs, broken only after the `/` (never inside a word)."""
    if len(model) <= width or "/" not in model:
        return [model]
    owner, name = model.split("/", 1)
    return [owner + "/", name]


def text(table_rows: list[Row], width: int = 80, colour: bool = False) -> list[str]:
    """Plain lines no wider than `width` (ids longer than the model column take two lines, split at `/`), with
    a legend. With `colour`, glyphs carry Rich styles (the caller prints with markup)."""
    cells_width = 3 * len(COLUMNS) + 2 * (len(GROUPS) - 1)  # " X " per criterion, a gap between groups
    score_width = 6
    model_width = max(12, min(max((len(r.model) for r in table_rows), default=5), width - cells_width - score_width))
    header_groups = " " * model_width + " " * score_width + "  ".join(
        name[: 3 * len(group)].center(3 * len(group)) for name, group in GROUPS.items())
    header_codes = "model".ljust(model_width) + "score".rjust(score_width - 1) + " " + "  ".join(
        "".join(f" {code} "[:3] for _, code, _ in group) for group in GROUPS.values())
    lines = [header_groups.rstrip(), header_codes.rstrip()]
    for row in ranked(table_rows):
        glyphs = []
        for group in GROUPS.values():
            part = ""
            for criterion, _, _ in group:
                cell = row.cells.get(criterion, {})
                level, glyph = cell.get("level", "unknown"), GLYPH[cell.get("level", "unknown")]
                style = STYLE[level] + (" underline" if cell.get("confident") else "")
                part += f" [{style}]{glyph}[/] " if colour else f" {glyph} "
            glyphs.append(part)
        names = [escape_markup(n) if colour else n for n in _model_lines(row.model, model_width)]
        score = f"{score_text(row)}".rjust(score_width - 1) + " "
        lines.append((names[0].ljust(model_width) + score + "  ".join(glyphs)).rstrip())
        lines += [name for name in names[1:]]
    if unranked_rows := not_ranked(table_rows):
        lines += ["", f"not ranked, no criterion decided ({len(unranked_rows)}):"]
        state_width = max(len(row.capture) for row in unranked_rows)
        name_width = min(max(len(row.model) for row in unranked_rows), width - state_width - 2)  # no glyphs here
        for row in unranked_rows:
            names = [escape_markup(n) if colour else n for n in _model_lines(row.model, name_width)]
            lines += [f"{names[0].ljust(name_width)}  {row.capture}", *names[1:]]
    lines.append("")
    lines += legend(width, capture={row.capture for row in unranked_rows})
    return lines


def ranked(table_rows: list[Row]) -> list[Row]:
    return [row for row in table_rows if row.ranked]


def not_ranked(table_rows: list[Row]) -> list[Row]:
    return [row for row in table_rows if not row.ranked]


def legend(width: int = 80, capture: set[str] = frozenset()) -> list[str]:
    """The codes, glyphs and score, and what each capture state among `capture` (of models not ranked) means."""
    entries = [f"{code} {title}" for _, code, title in COLUMNS]
    lines, line = [], "legend:"
    for entry in entries:
        if len(line) + 2 + len(entry) > width - 1:  # room for the comma that ends the line
            lines.append(line + ",")
            line = "  " + entry
        else:
            line += (" " if line == "legend:" else ", ") + entry
    lines.append(line)
    lines.append("✓ open  ~ partial  ✗ closed  ? unknown")
    lines.append("score: open 1, partial ½, closed and unknown 0, summed over the 14 criteria")
    if capture:
        lines += textwrap.wrap("not ranked: no criterion decided, so no score; " + "; ".join(
            f"{state}: {CAPTURE[state]}" for state in CAPTURE if state in capture), width - 1,
            subsequent_indent="  ")
    return lines


def markdown(table_rows: list[Row]) -> str:
    head = "| model | score | " + " | ".join(code for _, code, _ in COLUMNS) + " |"
    rule = "|---|---|" + "---|" * len(COLUMNS)
    body = [f"| {row.model} | {score_text(row)} | " + " | ".join(
        GLYPH[row.cells.get(c, {}).get("level", "unknown")] for c, _, _ in COLUMNS) + " |"
        for row in ranked(table_rows)]
    lines = [head, rule, *body]
    if unranked_rows := not_ranked(table_rows):
        lines += ["", f"Not ranked, no criterion decided ({len(unranked_rows)}):", "", "| model | capture |",
                  "|---|---|", *(f"| {row.model} | {row.capture} |" for row in unranked_rows)]
    capture = {row.capture for row in unranked_rows}
    return "\n".join([*lines, "", *legend(120, capture)]) + "\n"


def as_json(table_rows: list[Row]) -> str:
    """Each model with its rank (none when not ranked), score (none when not ranked), capture state, gating and
    the 14 criteria; the ranked models first."""
    rank = {id(row): n for n, row in enumerate(ranked(table_rows), start=1)}
    return json.dumps([{"model": r.model, "revision": r.revision, "rank": rank.get(id(r)),
                        "score": r.score if r.ranked else None, "capture": r.capture, "unknown": r.unknown,
                        "gated": r.gated, "gating": gating_label(r.gated), "criteria": r.cells}
                       for r in [*ranked(table_rows), *not_ranked(table_rows)]], indent=2, ensure_ascii=False)


def html_page(table_rows: list[Row], title: str = "Openness league table") -> str:
    """One page, no external assets: the league table, each cell linked to its evidence with the summary on hover.
    Every text from the store is escaped."""
    esc = html.escape
    group_head = "".join(f'<th colspan="{len(g)}" class="group">{esc(name)}</th>' for name, g in GROUPS.items())
    code_head = "".join(f'<th title="{esc(t)}">{esc(code)}</th>' for _, code, t in COLUMNS)
    body = []
    for rank, row in enumerate(ranked(table_rows), start=1):
        cells = []
        for criterion, code, title_ in COLUMNS:
            cell = row.cells.get(criterion, {"level": "unknown", "summary": "not judged", "url": None})
            sure = (f" (confident, {cell['confidence']:.2f})" if cell.get("confident") else
                    f" (confidence {cell['confidence']:.2f})" if cell.get("confidence") is not None else "")
            hover = esc(f"{title_}: {cell['level']}{sure} — {cell['summary']}")
            glyph = esc(GLYPH[cell["level"]])
            inner = f'<a href="{esc(cell["url"])}">{glyph}</a>' if cell.get("url") else glyph
            classes = cell["level"] + (" confident" if cell.get("confident") else "")
            cells.append(f'<td class="{esc(classes)}" title="{hover}">{inner}</td>')
        body.append(f'<tr><td class="rank">{rank}</td><td class="model" title="{esc(gating_label(row.gated))}">'
                    f'{esc(row.model)}</td><td class="score">{esc(score_text(row))}</td>{"".join(cells)}</tr>')
    unranked_rows = not_ranked(table_rows)
    unranked = "".join(
        f'<tr><td class="rank"></td><td class="model" title="{esc(gating_label(row.gated))}">{esc(row.model)}</td>'
        f'<td class="capture" colspan="{1 + len(COLUMNS)}" title="{esc(CAPTURE.get(row.capture, ""))}">'
        f'{esc(row.capture)}</td></tr>\n' for row in unranked_rows)
    if unranked:
        unranked = (f'<tbody class="not-ranked"><tr><th colspan="{3 + len(COLUMNS)}" class="not-ranked">Not ranked, no '
                    f'criterion decided ({len(unranked_rows)})</th></tr>\n{unranked}</tbody>')
        unranked_note = "; ".join(f"{esc(state)}: {esc(CAPTURE[state])}" for state in CAPTURE
                                  if state in {row.capture for row in unranked_rows})
        unranked_note = (f" Models none of whose criteria is decided are not ranked (a score of 0 would read as "
                         f"closed on every criterion); they are listed last: {unranked_note}.")
    else:
        unranked_note = ""
    styles = "".join(f"td.{level}{{background:{colour};color:white}}" for level, colour in COLOUR.items())
    legend_html = "; ".join(f"{esc(code)} {esc(t)}" for _, code, t in COLUMNS)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:1.5em;color:#222}}
table{{border-collapse:collapse}} th,td{{padding:.25em .45em;text-align:center;border:1px solid #ddd}}
th.not-ranked{{background:#f3f3f3;text-align:left}} td.model{{text-align:left;white-space:nowrap}}
td.capture{{text-align:left;color:#555;font-style:italic}} th.group{{text-transform:capitalize;background:#f3f3f3}}
td a{{color:inherit;text-decoration:none;display:block}} {styles}
td.confident{{font-weight:bold;outline:2px solid #222;outline-offset:-3px}}
p.legend{{font-size:.85em;color:#555;max-width:60em}}
</style></head><body>
<h1>{esc(title)}</h1>
<p>{len(table_rows) - len(unranked_rows)} models ranked by openness: open 1 point, partial ½, closed and unknown 0,
over the 14 criteria of the openness index. Each cell links to its evidence at its revision; hover for the reason,
and on a model for its gating.{unranked_note}</p>
<table><thead><tr><th></th><th></th><th></th>{group_head}</tr>
<tr><th>#</th><th>model</th><th>score</th>{code_head}</tr></thead>
<tbody>
{chr(10).join(body)}
</tbody>{unranked}</table>
<p class="legend">✓ open, ~ partial, ✗ closed, ? unknown; a framed cell is confident (its rule agrees with the
experts 90% of the time or more on the labels it was measured on). {legend_html}.</p>
</body></html>
"""
