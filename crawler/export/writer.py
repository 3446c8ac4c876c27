"""Write an export: stream the records of the store into one file (jsonl, csv; `-` for standard output) or one
file per model in a folder (index-yaml, cyclonedx, badges), with the header as a line, a sidecar or a folder
`_export.json`."""

from __future__ import annotations

import json
import sys

import sqlite_utils

from crawler.export import aibom, formats, spdx3, spdx3_validate
from crawler.export.cyclonedx import bom
from crawler.export.records import header, records
from crawler.files import OutputFolder, check_file_target, output_file, write_text

STREAMS = ("jsonl", "csv")
FOLDERS = ("index-yaml", "cyclonedx", "spdx3", "badges")
VALIDATED = ("spdx3", "cyclonedx")  # the formats `validate` checks against their official schemas


class ExportError(ValueError):
    """An export that cannot be written as asked; the message says why."""


def export(db: sqlite_utils.Database, export_format: str, out: str, model_ids: list[str] | None = None,
           effective: bool = False, criteria: int = 12, validate: bool = False,
           spdx_namespace: str = spdx3.DEFAULT_NAMESPACE) -> int:
    """Write the export; returns how many models it holds. Files are written whole or not at all (crawler.files):
    a failure leaves what was at `out` before. `validate`: each SPDX 3 document is checked against the bundled
    official schema and SHACL model before it is written (crawler.export.spdx3_validate), and the first that fails
    stops the export with its findings and its model; CycloneDX BOMs are always checked against the 1.6 schema as
    they are built (cyclonedx.bom), so `validate` adds nothing to them. `spdx_namespace`: where SPDX element ids
    are minted (crawler.export.spdx3)."""
    if validate and export_format not in VALIDATED:
        raise ExportError(f"--validate checks {' and '.join(VALIDATED)} documents, not {export_format}")
    head = header(db, export_format, effective)
    # Tier-0 models (crawler.tier0) in the jsonl export; the other formats hold crawled models only (their
    # builders read a crawled model's artifacts).
    models = records(db, model_ids, effective, listing=export_format == "jsonl")
    if export_format in STREAMS:
        return _stream(export_format, out, head, models)
    if out == "-":
        raise ExportError(f"--format {export_format} writes one file per model: give --out a folder")
    count = 0
    with OutputFolder(out) as folder:
        for record in models:
            name = formats.file_name(record["model"])
            if export_format == "index-yaml":
                folder.write_text(f"{name}.yaml", formats.index_yaml(record, criteria))
            elif export_format == "cyclonedx":
                folder.write_text(f"{name}.cdx.json", bom(record, head))
            elif export_format == "spdx3":
                text = spdx3.document(record, head, aibom.facts(db, record), spdx_namespace)
                if validate:
                    _check(spdx3_validate.validate(text, record["model"]))
                folder.write_text(f"{name}.spdx3.json", text)
            else:
                for badge, payload in formats.badges(record).items():
                    folder.write_text(f"{name}.{badge}.json", json.dumps(payload))
            count += 1
        folder.write_text("_export.json", json.dumps({**head, "models": count}, indent=2))
    return count


def _check(report: spdx3_validate.Report) -> None:
    if not report.valid:
        raise ExportError(f"{report}\nnothing was written")


def _stream(export_format: str, out: str, head: dict, models) -> int:
    if out == "-":
        return _write_stream(export_format, sys.stdout, head, models)
    if export_format == "csv":
        check_file_target(f"{out}.meta.json")  # refused before the CSV is written, not after
    with output_file(out, newline="") as handle:
        count = _write_stream(export_format, handle, head, models)
    if export_format == "csv":
        write_text(f"{out}.meta.json", json.dumps({**head, "models": count}, indent=2))
    return count


def _write_stream(export_format: str, handle, head: dict, models) -> int:
    count = 0
    if export_format == "jsonl":  # the header is the first line; every line is one JSON object
        for number, line in enumerate(formats.jsonl_lines(head, models)):
            handle.write(line + "\n")
            count = number
    else:
        counted = _counting(models)
        for chunk in formats.csv_rows(counted):
            handle.write(chunk)
        count = counted.count
    return count


class _counting:
    def __init__(self, items):
        self.items, self.count = items, 0

    def __iter__(self):
        for item in self.items:
            self.count += 1
            yield item
