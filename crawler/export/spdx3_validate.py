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
import threading
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
    if _schema_valid(data):
        return []
    validator = _schema_validator()
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
    return findings or [Finding("schema", e.json_path, _short(e)) for e in validator.iter_errors(data)]


def _schema_valid(data) -> bool:
    """Whether the whole schema holds for `data`: the same verdict as `_schema_validator().is_valid(data)`, in a
    fraction of its time. Checked the whole-schema way, each element of `@graph` is tried against all 78 branches of
    `AnyClass`; here a document with a `@graph` list is checked against the schema's top level with the items of
    `@graph` only required to be objects (`_verdict_schema`), and each element against its own class
    (`_item_valid`). Equivalent because
    - when every element holds against the items' schema, the two top levels are the same schema;
    - when an element does not, the whole schema fails too: its first `oneOf` branch (`@graph`) fails, so only the
      second (the document as one element, `$ref AnyClass`) can hold, and it never evaluates `@graph` (no class
      has such a property, the schema has no patternProperties nor additionalProperties), which the top level's
      `unevaluatedProperties: false` then refuses.
    Anything else (no `@graph`, or not a list) is checked by the whole schema."""
    graph = data.get("@graph") if isinstance(data, dict) else None
    if not isinstance(graph, list):
        return _schema_validator().is_valid(data)
    return _verdict_validator().is_valid(data) and all(_item_valid(element) for element in graph)


def _item_valid(element) -> bool:
    """Whether one element of `@graph` holds against the items' schema (`type: object`, `$ref AnyClass`,
    `unevaluatedProperties: false`). Each of the 78 branches of `AnyClass` pins `type` to its own class name
    (`allOf[0].properties.type` is `oneOf: [{const: <name>}]`, checked by `_classes`), so an element whose `type` is
    one of those names can only hold in that branch, and the properties it evaluates are that branch's: its own
    class (`$ref`, `unevaluatedProperties: false`, as `_element_validator`) gives the same verdict. An element
    without a `type`, or of another type (an IRI, a name that is not a class, not a string), is checked against all
    the branches."""
    kind = element.get("type") if isinstance(element, dict) else None
    if isinstance(kind, str) and kind in _classes():
        # `unevaluatedProperties: false` after a class that holds refuses exactly the keys outside its properties
        # (`_class_properties`); jsonschema finds them by validating the class again at each level of its chain.
        return element.keys() <= _class_properties(kind) and _verdict_validator(f"#/$defs/{kind}").is_valid(element)
    return _verdict_validator("#/$defs/AnyClass", unevaluated=True).is_valid(element)


@cache
def _classes() -> frozenset[str]:
    """The 78 classes of `AnyClass`, each checked to pin `type` to its name (else the shortcut would not hold)."""
    definitions = _schema_validator().schema["$defs"]
    names = [branch["$ref"].removeprefix("#/$defs/") for branch in definitions["AnyClass"]["anyOf"]]
    for name in names:
        if definitions[name]["allOf"][0]["properties"]["type"] != {"oneOf": [{"const": name}]}:
            raise RuntimeError(f"the SPDX schema's {name} does not pin its type; the element shortcut does not hold")
    return frozenset(names)


@cache
def _verdict_schema() -> dict:
    """The schema as the verdicts read it: the same schema with, in every `anyOf`, the branch of a reference (an
    IRI or blank node, `$ref BlankNodeOrIRI`) tried first. An `anyOf` holds when any branch holds, whatever their
    order, and the properties it evaluates are those of every branch that holds; but jsonschema stops at the first
    branch that holds, and most values are references, which the other branch (an inline object of any of dozens
    of classes) spends its time refusing. Findings are said from the schema as written (`_element_validator`)."""
    reference = {"$ref": "#/$defs/BlankNodeOrIRI"}

    def reorder(node):
        if isinstance(node, list):
            return [reorder(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {key: reorder(value) for key, value in node.items()}
        if isinstance(out.get("anyOf"), list) and reference in out["anyOf"]:
            out["anyOf"] = [reference] + [branch for branch in out["anyOf"] if branch != reference]
        return out

    schema = reorder(_schema_validator().schema)
    # The top level, with the elements of `@graph` only required to be objects (`_item_valid` checks each).
    graph = schema["oneOf"][0]["properties"]["@graph"]
    if graph["items"] != {"type": "object", "$ref": "#/$defs/AnyClass", "unevaluatedProperties": False}:
        raise RuntimeError("the SPDX schema's @graph items are not what the element shortcut reads")
    graph["items"] = {"type": "object"}
    return schema


@cache
def _verdict_validator(ref: str | None = None, unevaluated: bool = False):
    """The verdict of the top level (`ref` None, see `_verdict_schema`) or of `type: object` and `ref`, with
    `unevaluatedProperties: false` if `unevaluated` (the items of `@graph` are checked with it)."""
    import jsonschema

    if ref is None:
        return jsonschema.Draft202012Validator(_verdict_schema())
    # evolve() keeps the validator's resolver: `ref` is looked up in the verdict schema, not in the schema as written
    return _verdict_validator().evolve(schema={"$schema": _verdict_schema()["$schema"], "type": "object", "$ref": ref,
                                               **({"unevaluatedProperties": False} if unevaluated else {})})


@cache
def _class_properties(kind: str) -> frozenset[str]:
    """The properties a class evaluates when it holds: its definition is a chain of `allOf` and `$ref` whose every
    level holds (nothing conditional: no `anyOf`, `oneOf`, `if`, `not`, pattern or additional properties, checked
    here), so every key of the element named by a `properties` of the chain, and no other, is evaluated."""
    definitions = _schema_validator().schema["$defs"]
    found: set[str] = set()

    def walk(schema: dict) -> None:
        if not set(schema) <= {"allOf", "$ref", "properties", "required", "type", "description"}:
            raise RuntimeError(f"the SPDX schema's {kind} is not a plain chain; the element shortcut does not hold")
        found.update(schema.get("properties", {}))
        for part in schema.get("allOf", []):
            walk(part)
        if "$ref" in schema:
            walk(definitions[schema["$ref"].removeprefix("#/$defs/")])

    walk(definitions[kind])
    return frozenset(found)


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
    from rdflib import Graph, Namespace
    from rdflib.namespace import RDF

    document = Graph()
    try:
        document.parse(data=json.dumps(local_context(data)), format="json-ld", base=BASE)
    except ValueError:
        raise
    except Exception as exc:  # rdflib's JSON-LD parser raises what its input makes it raise
        raise ValueError(f"not readable as JSON-LD: {exc}") from exc
    conforms, results, _ = _validate_with_ontology(document)
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


_ONTOLOGY_LOCK = threading.Lock()  # one document at a time in the shared graph of the ontology


def _validate_with_ontology(document):
    """pyshacl's verdict on `document` as `pyshacl.validate(document, shacl_graph=model, ont_graph=model)` gives it,
    without its cost. Given `ont_graph=`, pyshacl clones the document (`clone_graph`) and copies the model's RDFS and
    OWL axioms and named individuals into the clone (`inoculate`), re-cloning each RDF list of the model triple by
    triple: 1.8 s a document, for 12 302 triples that do not depend on the document (fresh blank nodes, triples
    added to a set). Here they are copied once (`_ontology_graph`); the document's triples that graph lacks are
    added to it for the validation and removed after, and the graph reads its namespaces (which pyshacl's messages
    use) from a clone of the document bound as `inoculate` binds it. pyshacl validates that graph in place (no
    inference, no SHACL rules: nothing is written to it)."""
    import pyshacl
    from pyshacl.rdfutil.clone import clone_graph

    names = clone_graph(document, identifier=document.identifier)
    bound = {prefix for prefix, _ in names.namespace_manager.namespaces()}
    for prefix, namespace in _shapes().namespace_manager.namespaces():
        if prefix not in bound:
            names.namespace_manager.bind(prefix, namespace)
    graph = _ontology_graph()
    with _ONTOLOGY_LOCK:
        added = [triple for triple in document if triple not in graph]
        namespaces = graph.namespace_manager
        try:
            graph.addN((*triple, graph) for triple in added)
            graph.namespace_manager = names.namespace_manager
            _forget_blank_nodes(graph)
            return pyshacl.validate(graph, shacl_graph=_shapes(), inference="none", inplace=True,
                                    abort_on_first=False, allow_warnings=False, meta_shacl=False,
                                    do_owl_imports=False)
        finally:
            for triple in added:
                graph.remove(triple)
            graph.namespace_manager = namespaces
            _forget_blank_nodes(graph)


def _forget_blank_nodes(graph) -> None:
    """pyshacl keeps, for the life of the process, each blank node it has written into a message, keyed by the id()
    of the graph and the node's label; the shared graph holds another document's blank nodes each time, under the
    same labels (every document has a `_:CreationInfo0`), so what it kept of the last one is dropped."""
    from pyshacl.rdfutil.stringify import stringify_blank_node

    kept = stringify_blank_node.dict_cache
    for key in [key for key in kept if key[0] == id(graph)]:
        del kept[key]


@cache
def _ontology_graph():
    """What pyshacl's `inoculate` copies of the model into a data graph, copied once into an empty graph."""
    from pyshacl.graph_abstraction import DataGraph
    from pyshacl.rdfutil.inoculate import inoculate
    from rdflib import Graph

    return inoculate(DataGraph.from_rdflib(Graph(bind_namespaces="core")), _shapes()).impl


def _name(term) -> str:
    """An SPDX or SHACL IRI by its short name (Core/creationInfo, MinCountConstraintComponent)."""
    text = str(term)
    for prefix in ("https://spdx.org/rdf/3.0.1/terms/", "http://www.w3.org/ns/shacl#"):
        if text.startswith(prefix):
            return text[len(prefix):]
    return text
