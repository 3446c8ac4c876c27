"""The line and file formats: JSON Lines, CSV, the index's own YAML, shields.io badges."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from typing import Iterator

import yaml

from crawler.evaluate import CURRENT_CRITERIA
from crawler.public import HUB

CSV_COLUMNS = ["model", "revision", "criterion", "level", "machine_level", "confidence", "confident", "summary",
               "evidence_url", "reviewed"]
LABELS_NOTICE = """\
# Exported by the openness evidence crawler (machine judgements, each linked to its evidence), in the layout of the
# European Open Source AI Index's files, to propose to the index or compare with it.
# The criteria and their level definitions are the index's, CC-BY 4.0: https://osai-index.eu/ ; Liesenfeld, A. and
# Dingemanse, M., 2024. Rethinking open source generative AI: open-washing and the EU AI Act. FAccT '24, 1774-1787.
"""
BADGE_COLOUR = [(0.75, "brightgreen"), (0.5, "yellow"), (0.25, "orange"), (0.0, "red")]
GROUPS = {"availability": ["datasources_basemodel", "datasources_endmodel", "weights_basemodel", "weights_endmodel",
                           "trainingcode"],
          "documentation": ["code", "hardware_architecture", "preprint", "paper", "modelcard", "datasheet"],
          "access": ["package", "api", "licenses"]}
POINTS = {"open": 1.0, "partial": 0.5, "closed": 0.0, "unknown": 0.0}


def jsonl_lines(head: dict, records: Iterator[dict]) -> Iterator[str]:
    yield json.dumps(head, ensure_ascii=False, sort_keys=True)
    for record in records:
        yield json.dumps(record, ensure_ascii=False, sort_keys=True)


# A cell starting with one of these is run as a formula by spreadsheets (CSV injection): such a text gets a leading
# apostrophe, which spreadsheets show as text and do not display.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


def csv_rows(records: Iterator[dict]) -> Iterator[str]:
    """One row per model x criterion; text quoted by the csv module, and never read as a formula by a
    spreadsheet (a text starting with = + - @ gets a leading apostrophe)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield flush()
    for record in records:
        for j in record["judgements"]:
            main = j["evidence"][0]["public_url"] if j["evidence"] else record["public_url"]
            writer.writerow([spreadsheet_safe(value) for value in (
                record["model"], record["revision"], j["criterion"], j["level"], j["machine_level"], j["confidence"],
                j["confident"],
                j["summary"], main, "yes" if j["review"] else "no")])
        yield flush()


# A model's file stem: its id with `/` as `__` when that is plain and short (what people look for), else a bounded
# safe prefix of it and a hash of the whole id, so two ids never share a file (`a/b+c` and `a/b_c`), an odd id
# stored before ids were checked (311 characters, `..`, control characters) never makes a name the filesystem
# refuses (NAME_MAX is 255 bytes, and the longest suffix a format adds is `.documentation.json`).
FILE_STEM_MAX = 120
PLAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")


def file_name(model: str) -> str:
    """A file name stem for a model id: `owner__name`, nothing outside [A-Za-z0-9._-], at most FILE_STEM_MAX
    characters, distinct for distinct ids."""
    plain = model.replace("/", "__")
    if PLAIN_ID.fullmatch(model) and "__" not in model and len(plain) <= FILE_STEM_MAX:
        return plain
    digest = hashlib.sha256(model.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", plain).lstrip(".")[: FILE_STEM_MAX - len(digest) - 1]
    return f"{safe}-{digest}" if safe else digest


def index_yaml(record: dict, criteria: int = 12) -> str:
    """The model in the index's own file layout (data/labels/eosai): `system`, `org`, then each criterion's
    `class`, `link` (our evidence) and `notes` (why, generated). The end model's weights link names the model
    first, so the file is matched to it."""
    model, page = record["model"], f"{HUB}/{record['model']}"
    owner, _, name = model.rpartition("/")  # an odd id a store may hold has no owner: its org is left empty
    wanted = CURRENT_CRITERIA if criteria == 12 else [j["criterion"] for j in record["judgements"]]
    document = {
        "system": {"name": name, "link": page, "endmodelname": name,
                   "notes": f"judged by the openness evidence crawler at revision {record['revision']}"},
        "org": {"name": owner, "link": f"{HUB}/{owner}"},
    }
    for j in record["judgements"]:
        if j["criterion"] not in wanted or j["level"] not in ("open", "partial", "closed"):
            continue  # the index has no `unknown`: an undecided criterion is left out, not guessed
        links = [e["public_url"] for e in j["evidence"][:2] if e.get("public_url")]
        if j["criterion"] == "weights_endmodel":
            links = [page, *links]
        document[j["criterion"]] = {"class": j["level"], "link": links[0] if len(links) == 1 else links,
                                    "notes": f"{j['summary']} (rule {', '.join(j['rule_ids']) or 'none'})"}
    return "---\n" + LABELS_NOTICE + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=120)


def _badge(label: str, levels: list[str]) -> dict:
    score = sum(POINTS[level] for level in levels)
    share = score / len(levels) if levels else 0.0
    colour = next(c for threshold, c in BADGE_COLOUR if share >= threshold)
    return {"schemaVersion": 1, "label": label, "message": f"{score:g}/{len(levels)}", "color": colour}


def badges(record: dict) -> dict[str, dict]:
    """shields.io endpoint JSON: the whole score, and one per group of criteria."""
    levels = {j["criterion"]: j["level"] for j in record["judgements"]}
    found = {"openness": _badge("openness", list(levels.values()))}
    for group, criteria in GROUPS.items():
        found[group] = _badge(f"openness: {group}", [levels.get(c, "unknown") for c in criteria])
    return found
