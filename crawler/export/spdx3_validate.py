"""SPDX 3.0.1 documents checked offline against the official JSON schema and SHACL model (data/spdx-3.0.1/, bundled
with their provenance and licence).

Why not the SPDX project's spdx3-validate: it downloads the context, schema and model from spdx.org at run time and
has no offline option. Here the same two checks run on the bundled files: the JSON schema (draft 2020-12, with
jsonschema) and the SHACL shapes of the model (pyshacl over rdflib). rdflib's JSON-LD parser would fetch a
document's `@context` URL; the document's context is replaced by the bundled one before parsing, and any other
context (another URL, an `@import`) is refused, never fetched."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

FILES = Path(__file__).resolve().parents[2] / "data" / "spdx-3.0.1"
CONTEXT_URL = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"
# The four URLs the bundled files stand for (data/spdx-3.0.1/PROVENANCE.md); nothing else is ever resolved.
BUNDLED = {
    CONTEXT_URL: "spdx-context.jsonld",
    "https://spdx.org/rdf/3.0.1/spdx-model.ttl": "spdx-model.ttl",
    "https://spdx.org/schema/3.0.1/spdx-json-schema.json": "spdx-json-schema.json",
    "https://spdx.org/rdf/3.0.1/spdx-json-serialize-annotations.ttl": "spdx-json-serialize-annotations.ttl",
}
BASE = "https://openness-crawler.invalid/spdx-validate/"  # resolves relative ids; never fetched


@dataclass(frozen=True)
class Finding:
    check: str  # "schema", "shacl" or "json-ld" (the document could not be read as SPDX 3.0.1 JSON-LD at all)
    where: str  # the JSON path (schema) or the element and property (shacl)
    message: str

    def __str__(self) -> str:
        return f"{self.check}: {self.where}: {self.message}"


@dataclass
class Report:
    """The findings of one document, with the model it describes."""
    model: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.findings

    def __str__(self) -> str:
        if self.valid:
            return f"{self.model}: valid SPDX 3.0.1"
        lines = [f"{self.model}: not valid SPDX 3.0.1 ({len(self.findings)} findings)"]
        return "\n".join([*lines, *(f"  {f}" for f in self.findings)])


def bundled(url: str) -> Path:
    """The bundled file standing for `url`; any other URL is refused (ValueError), never fetched."""
    if url not in BUNDLED:
        raise ValueError(f"{url}: not one of the bundled SPDX 3.0.1 files; refused, not fetched")
    return FILES / BUNDLED[url]


def validate(text: str, model: str) -> Report:
    """Schema and SHACL findings of one SPDX 3.0.1 JSON-LD document (`model`: the model it describes, for the
    report). No network: the context, schema and model are the bundled files."""
    report = Report(model)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        report.findings.append(Finding("json-ld", "$", f"not JSON: {exc}"))
        return report
    report.findings += schema_findings(data)
    try:
        report.findings += shacl_findings(data)
    except ValueError as exc:  # a context refused, or JSON-LD rdflib cannot read
        report.findings.append(Finding("json-ld", "@context", str(exc)))
    return report


@cache
def _schema_validator():
    import jsonschema

    schema = json.loads(bundled("https://spdx.org/schema/3.0.1/spdx-json-schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def schema_findings(data) -> list[Finding]:
    """The JSON schema's findings. The schema's top level is a `oneOf` over every class, whose raw error lists
    hundreds of branches; a document that fails is checked again element by element against its own `type`'s
    definition, which names the property at fault."""
    validator = _schema_validator()
    errors = list(validator.iter_errors(data))
    if not errors:
        return []
    findings = []
    graph = data.get("@graph") if isinstance(data, dict) else None
    definitions = validator.schema["$defs"]
    for number, element in enumerate(graph if isinstance(graph, list) else []):
        kind = element.get("type") if isinstance(element, dict) else None
        where = f"$['@graph'][{number}]"
        if not isinstance(kind, str) or kind not in definitions:
            findings.append(Finding("schema", where, f"unknown type {kind!r}"))
            continue
        errors_here = list(_element_validator(kind).iter_errors(element))
        # A failed branch evaluates none of its properties, so the element's other properties then read as
        # "unevaluated": said only when nothing else is wrong with the element.
        real = [e for e in errors_here if e.validator != "unevaluatedProperties"] or errors_here
        findings += [Finding("schema", where + e.json_path[1:], _short(e)) for e in real]
    # What the elements do not explain (the context, the document's shape) is said as the schema says it.
    return findings or [Finding("schema", e.json_path, _short(e)) for e in errors]


@cache
def _element_validator(kind: str):
    """The schema of one element of `@graph`, as the document's schema holds it, for the class `kind`."""
    schema = _schema_validator().schema
    return _schema_validator().evolve(schema={"$schema": schema["$schema"], "$defs": schema["$defs"],
                                              "$ref": f"#/$defs/{kind}", "unevaluatedProperties": False})


def _short(error) -> str:
    """The deepest error of a branch-heavy schema: an `anyOf` of an enumeration's IRIs says only "not valid"."""
    from jsonschema.exceptions import best_match

    while error.context:
        error = best_match(error.context)
    return error.message if len(error.message) <= 300 else error.message[:297] + "..."


@cache
def _shapes():
    from rdflib import Graph

    return Graph().parse(bundled("https://spdx.org/rdf/3.0.1/spdx-model.ttl"), format="turtle")


@cache
def _context() -> dict:
    return json.loads(bundled(CONTEXT_URL).read_text(encoding="utf-8"))["@context"]


def local_context(data):
    """The document with every `@context` replaced by the bundled context: a context naming anything else (another
    URL, an `@import`, an inline object) is refused, so rdflib's JSON-LD parser has nothing to fetch."""
    if isinstance(data, list):
        return [local_context(item) for item in data]
    if not isinstance(data, dict):
        return data
    out = {}
    for key, value in data.items():
        if key == "@context":
            for item in value if isinstance(value, list) else [value]:
                if item != CONTEXT_URL:
                    raise ValueError(f"@context {json.dumps(item)[:200]}: refused, not fetched (only {CONTEXT_URL}, "
                                     "bundled, is read)")
            out[key] = copy.deepcopy(_context())
        else:
            out[key] = local_context(value)
    return out


def shacl_findings(data) -> list[Finding]:
    """The SHACL model's findings (the model is both the shapes and the ontology, as spdx3-validate runs it, so that
    a subclass satisfies its parent's `sh:class`)."""
    import pyshacl
    from rdflib import Graph, Namespace
    from rdflib.namespace import RDF

    document = Graph()
    try:
        document.parse(data=json.dumps(local_context(data)), format="json-ld", base=BASE)
    except ValueError:
        raise
    except Exception as exc:  # rdflib's JSON-LD parser raises what its input makes it raise
        raise ValueError(f"not readable as JSON-LD: {exc}") from exc
    shapes = _shapes()
    conforms, results, _ = pyshacl.validate(document, shacl_graph=shapes, ont_graph=shapes, inference="none",
                                            abort_on_first=False, allow_warnings=False, meta_shacl=False,
                                            do_owl_imports=False)
    if conforms:
        return []
    sh = Namespace("http://www.w3.org/ns/shacl#")
    findings = []
    for result in results.subjects(RDF.type, sh.ValidationResult):
        focus, path = results.value(result, sh.focusNode), results.value(result, sh.resultPath)
        component = results.value(result, sh.sourceConstraintComponent)
        value, message = results.value(result, sh.value), results.value(result, sh.resultMessage)
        text = f"{_name(component)}: {message}" + (f" (value {value})" if value is not None else "")
        findings.append(Finding("shacl", f"{focus} {_name(path)}" if path is not None else str(focus), text))
    return sorted(findings, key=lambda f: (f.where, f.message))


def _name(term) -> str:
    """An SPDX or SHACL IRI by its short name (Core/creationInfo, MinCountConstraintComponent)."""
    text = str(term)
    for prefix in ("https://spdx.org/rdf/3.0.1/terms/", "http://www.w3.org/ns/shacl#"):
        if text.startswith(prefix):
            return text[len(prefix):]
    return text
