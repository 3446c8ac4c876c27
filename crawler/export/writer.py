"""Write an export: stream the records of the store into one file (jsonl, csv; `-` for standard output) or one
file per model in a folder (index-yaml, cyclonedx, badges), with the header as a line, a sidecar or a folder
`_export.json`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import sqlite_utils

from crawler.export import formats, spdx3
from crawler.export.cyclonedx import bom
from crawler.export.records import header, records

STREAMS = ("jsonl", "csv")
FOLDERS = ("index-yaml", "cyclonedx", "spdx3", "badges")


class ExportError(ValueError):
    """An export that cannot be written as asked; the message says why."""


def export(db: sqlite_utils.Database, export_format: str, out: str, model_ids: list[str] | None = None,
           effective: bool = False, criteria: int = 12) -> int:
    """Write the export; returns how many models it holds."""
    head = header(db, export_format, effective)
    models = records(db, model_ids, effective)
    if export_format in STREAMS:
        return _stream(export_format, out, head, models)
    if out == "-":
        raise ExportError(f"--format {export_format} writes one file per model: give --out a folder")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for record in models:
        name = formats.file_name(record["model"])
        if export_format == "index-yaml":
            (folder / f"{name}.yaml").write_text(formats.index_yaml(record, criteria), encoding="utf-8")
        elif export_format == "cyclonedx":
            (folder / f"{name}.cdx.json").write_text(bom(record, head), encoding="utf-8")
        elif export_format == "spdx3":
            (folder / f"{name}.spdx3.json").write_text(spdx3.document(record, head), encoding="utf-8")
        else:
            for badge, payload in formats.badges(record).items():
                (folder / f"{name}.{badge}.json").write_text(json.dumps(payload), encoding="utf-8")
        count += 1
    (folder / "_export.json").write_text(json.dumps({**head, "models": count}, indent=2), encoding="utf-8")
    return count


def _stream(export_format: str, out: str, head: dict, models) -> int:
    handle = sys.stdout if out == "-" else open(out, "w", encoding="utf-8", newline="")
    count = 0
    try:
        if export_format == "jsonl":  # the header is the first line; every line is one JSON object
            for number, line in enumerate(formats.jsonl_lines(head, models)):
                handle.write(line + "\n")
                count = number
        else:
            counted = _counting(models)
            for chunk in formats.csv_rows(counted):
                handle.write(chunk)
            count = counted.count
    finally:
        if handle is not sys.stdout:
            handle.close()
    if out != "-" and export_format == "csv":
        Path(f"{out}.meta.json").write_text(json.dumps({**head, "models": count}, indent=2), encoding="utf-8")
    return count


class _counting:
    def __init__(self, items):
        self.items, self.count = items, 0

    def __iter__(self):
        for item in self.items:
            self.count += 1
            yield item
