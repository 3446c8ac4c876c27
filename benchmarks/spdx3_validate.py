"""Benchmark: the offline SPDX 3.0.1 validator (crawler/export/spdx3_validate.py; not a test, prints figures).

Times the once-per-process load (JSON schema, SHACL model, the model's axioms as pyshacl mixes them into a data
graph) and, per document, the schema and SHACL checks, over a folder of documents written by
`openness export --format spdx3` (every document is expected valid):

    .venv/bin/python -m crawler export --db demo.db --format spdx3 --out /tmp/spdx-docs
    .venv/bin/python benchmarks/spdx3_validate.py /tmp/spdx-docs
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawler.export import spdx3_validate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a folder of *.spdx3.json documents")
    args = parser.parse_args()
    paths = sorted(args.folder.glob("*.spdx3.json"))
    if not paths:
        sys.exit(f"{args.folder}: no *.spdx3.json documents")
    started = time.perf_counter()
    for load in (spdx3_validate._schema_validator, spdx3_validate._verdict_validator, spdx3_validate._classes,
                 spdx3_validate._shapes, spdx3_validate._context, spdx3_validate._ontology_graph):
        load()
    loaded = time.perf_counter() - started
    schema, shacl, invalid = [], [], 0
    for path in paths:
        data = json.loads(path.read_text(encoding="utf-8"))
        started = time.perf_counter()
        findings = spdx3_validate.schema_findings(data)
        schema.append(time.perf_counter() - started)
        started = time.perf_counter()
        findings += spdx3_validate.shacl_findings(data)
        shacl.append(time.perf_counter() - started)
        invalid += bool(findings)
    total = [a + b for a, b in zip(schema, shacl)]
    print(f"{len(paths)} documents, {invalid} not valid")
    print(f"load once per process: {loaded:.2f} s")
    for name, times in (("schema", schema), ("shacl", shacl), ("both", total)):
        mean, median, most = (1000 * f(times) for f in (statistics.mean, statistics.median, max))
        print(f"{name:>6}: mean {mean:.0f} ms, median {median:.0f} ms, max {most:.0f} ms per document")


if __name__ == "__main__":
    main()
