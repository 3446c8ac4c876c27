"""The licence criterion: the licences of the weights, the code and the data, read from the declared ids AND the
licence texts themselves, combined as the criterion defines.

Sources: the card's `license` / `license_name` / `license_link`, the card's gated prompt (where the Hub shows the
licence to accept), the card's licence section, the repo's own LICENSE / USE_POLICY / NOTICE files, and the licence
files of the model's own GitHub repos (MODEL_LICENSE and LICENSE-MODEL count for the weights, LICENSE-CODE and a
root LICENSE for the code, DATA_LICENSE for the data). When a tag and a text disagree, the more restrictive wins
and both are evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from extractors.licence_index import classify
from extractors.ownership import carries_model_name
from extractors.rules import licence_phrases
from extractors.text import (LINE_BREAK, TEXT_MEMO_SIZE, document, front_matter, headings, key_line, lines_of,
                             load_json, quote)
from extractors.types import Artifact, Evidence, Judgement, ModelArtifacts

CRITERION = "licenses"
DECLARING_KEYS = ("license", "license_name", "license_link")
ORDER = {"closed": 0, "partial": 1, "open": 2}
LICENCE_SECTION = ("licen", "terms of use", "terms and conditions")


def _as_ids(value) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [str(v).strip().lower() for v in values if isinstance(v, (str, int, float)) and str(v).strip()]


@dataclass(frozen=True)
class LicenceText:
    """A licence text to read: where it stands, which component it governs, and its text."""

    artifact: Artifact
    component: str  # weights | code | data
    text: str
    first_line: int = 1  # line of the artifact where `text` starts


@dataclass(frozen=True)
class TextVerdict:
    level: str | None  # closed | partial | open | None (not recognised)
    evidence: tuple[Evidence, ...]


def _line_of(text: str, offset: int) -> int:
    """The 0-based line of an offset, counting line breaks the way `lines_of` splits (CR, LF, CRLF)."""
    return len(LINE_BREAK.findall(text, 0, offset))


@lru_cache(maxsize=TEXT_MEMO_SIZE)
def _licence_text_clauses(text: str) -> tuple[str | None, tuple[tuple[str, int, str], ...]]:
    """(level, (rule id, 0-based line, quote) of each deciding clause) of a licence text. Memoised by text: the same
    licence file (Apache's, a model family's) stands in thousands of repos."""
    phrases = licence_phrases()
    lines = lines_of(text)
    found = []
    for rule in phrases.restrictions:
        match = rule.pattern.search(text)
        if match:
            index = _line_of(text, match.start())
            line = lines[index] if index < len(lines) else match.group(0)
            start = max(line.lower().find(match.group(0).lower()[:20]) - 120, 0)
            found.append((rule.rule_id, index, quote(line[start:start + 300])))
    if found:
        # Any of these clauses makes the licence not open (use restrictions included: the index's current
        # definition asks for an open licence); `kind` only says what sort of restriction it is.
        return "closed", tuple(found[:4])
    for rule in phrases.open_texts:
        match = rule.pattern.search(text)
        if match:
            return "open", ((rule.rule_id, _line_of(text, match.start()), quote(match.group(0))),)
    return None, ()


def read_licence_text(doc: LicenceText) -> TextVerdict:
    """Restrictions found (the deciding clauses quoted), else a recognised open licence text, else nothing."""
    level, clauses = _licence_text_clauses(doc.text)
    artifact = doc.artifact
    return TextVerdict(level, tuple(Evidence(rule_id, artifact.url, artifact.revision, artifact.path, text,
                                             doc.first_line + index, doc.first_line + index, artifact.artifact_id)
                                    for rule_id, index, text in clauses))


def text_licence_id(text: str) -> str | None:
    """The SPDX id of a licence text the rules read as open, when exactly one licence's phrase is in it (Apache-2.0's,
    MIT's) and no restriction; None for a text with restrictions, a family's text (BSD, GPL), a text naming two
    licences (dual licensing, a notice of a part under another) and a text not recognised."""
    level, _ = _licence_text_clauses(text)
    if level != "open":
        return None
    named = {rule.spdx or rule.rule_id for rule in licence_phrases().open_texts if rule.pattern.search(text)}
    return next(iter(named)) if len(named) == 1 and named <= {r.spdx for r in licence_phrases().open_texts} else None


def _component_of(path: str) -> str:
    name = path.lower()
    if "data" in name.rsplit("/", 1)[-1]:
        return "data"
    if "code" in name.rsplit("/", 1)[-1]:
        return "code"
    if "model" in name or "use_policy" in name:
        return "weights"
    return "code"


def is_licence_name(name: str) -> bool:
    """A licence file's name, a component's too (`CODE_LICENSE`, `MODEL_WEIGHTS_LICENSE`, `USE_POLICY.md`)."""
    return "licen" in name or name.startswith(("copying", "notice", "use_policy"))


def is_models_licence_file(model_id: str, path: str) -> bool:
    """A licence file of the model's own repo that is about this model: at the root, in a licences folder, or in
    a folder carrying the model's name in a repo holding several projects (`WizardLM/CODE_LICENSE` for WizardLM,
    `models/llama3_1/LICENSE` for Llama-3.1; never the sibling project's `WizardMath/LICENSE`)."""
    folders, _, name = path.lower().rpartition("/")
    top = folders.split("/", 1)[0]
    if top.startswith("licen"):  # LICENSES/<SPDX id>.txt
        return True
    if not is_licence_name(name):
        return False
    name_of_model = model_id.rpartition("/")[2]
    return not folders or any(carries_model_name(name_of_model, folder) for folder in folders.split("/"))


def licence_texts(model: ModelArtifacts) -> list[LicenceText]:
    """Every licence text the stored artifacts hold for this model."""
    texts = []
    if model.card:
        meta, span, _ = front_matter(model.card.text)
        prompt = (meta or {}).get("extra_gated_prompt")
        if isinstance(prompt, str) and prompt.strip():
            line = key_line(model.card.text, "extra_gated_prompt", span)
            texts.append(LicenceText(model.card, "weights", prompt, line[0] if line else 1))
        card_lines = lines_of(model.card.text)
        marks = headings(model.card.text, span)
        for index, (line_no, heading) in enumerate(marks):
            if any(word in heading.lower() for word in LICENCE_SECTION):
                end = marks[index + 1][0] - 1 if index + 1 < len(marks) else len(card_lines)
                texts.append(LicenceText(model.card, "weights", "\n".join(card_lines[line_no - 1:end]), line_no))
    for artifact in model.files:
        texts.append(LicenceText(artifact, "weights", artifact.text))
    for artifact in model.code_files:
        if artifact.kind == "file" and is_models_licence_file(model.repo_id, artifact.path or ""):
            texts.append(LicenceText(artifact, _component_of(artifact.path), artifact.text))
    return texts


def declared_licence(model: ModelArtifacts) -> tuple[dict, list[Evidence], str | None]:
    """The licence keys the model declares, with evidence of where; from the card, else from the model JSON."""
    if model.card:
        meta, span, error = front_matter(model.card.text)
        if meta:
            evidence = []
            for key in (k for k in DECLARING_KEYS if k in meta):
                line = key_line(model.card.text, key, span) or (None, f"{key}: {meta[key]}")
                evidence.append(Evidence(f"licence.card.{key}", model.card.url, model.card.revision, "README.md",
                                         quote(line[1], 200), line[0], line[0], model.card.artifact_id))
            return {k: meta[k] for k in DECLARING_KEYS if k in meta}, evidence, None
        if error:
            return {}, [Evidence("licence.card.unreadable", model.card.url, model.card.revision, "README.md",
                                 quote(error), artifact_id=model.card.artifact_id, confidence=0.5)], error
    info = load_json(model.model_json.text) if model.model_json else None
    card_data = info.get("cardData") if isinstance(info, dict) else None
    if isinstance(card_data, dict):
        declared = {k: card_data[k] for k in DECLARING_KEYS if k in card_data}
        evidence = [Evidence(f"licence.model-json.{k}", model.model_json.url, model.revision, None,
                             quote(f'"{k}": {card_data[k]!r}', 200), artifact_id=model.model_json.artifact_id)
                    for k in declared]
        return declared, evidence, None
    return {}, [], None


def declared_level(declared: dict, evidence: list[Evidence]) -> tuple[str | None, list[Evidence]]:
    """The level the declared licence id(s) give (extractors.licence_index); None when no id is declared."""
    ids = _as_ids(declared.get("license"))
    if "other" in ids or not ids:
        ids = [i for i in ids if i != "other"] + _as_ids(declared.get("license_name"))
    if not ids and not declared:
        return None, []
    anchor = evidence[0] if evidence else None
    known = [c for c in (classify(i) for i in ids) if c is not None]
    if not known:
        named = ", ".join(ids) or "other"
        return "closed", [Evidence("licence.custom-unclassified", anchor.url, anchor.revision, anchor.file,
                                   quote(f"licence {named}: not an open licence any index knows"), anchor.line_start,
                                   anchor.line_end, anchor.artifact_id, 0.5)] if anchor else []
    deciding = min(known, key=lambda c: ORDER[c.level])
    rule = f"licence.index.{deciding.source}.{deciding.level}"
    return deciding.level, [Evidence(rule, anchor.url, anchor.revision, anchor.file, quote(deciding.detail),
                                     anchor.line_start, anchor.line_end, anchor.artifact_id)] if anchor else []


def _most_restrictive(levels) -> str | None:
    present = [level for level in levels if level]
    return min(present, key=ORDER.get) if present else None


def combine(weights: str | None, code: str | None) -> tuple[str, str]:
    """The criterion from the weights' and the code's licences: open when every part found is openly licensed
    (a release with no separate code licence is covered by its weights' licence); partial when only some parts
    are (open weights beside restricted code, or open code beside weights that declare no licence); closed when the
    weights are not openly licensed."""
    if weights == "open":
        return ("open", "every licence found is open") if code in ("open", None) else \
            ("partial", "weights openly licensed, code not")
    if weights in ("closed", "partial"):
        return "closed", "weights not under an open licence"
    if code == "open":
        return "partial", "only the code carries an open licence"
    return "closed", "no open licence found"


def card_metadata_not_captured(model: ModelArtifacts) -> bool:
    """A source that could not capture the card's metadata says so in the repo JSON (the loopback replica's
    `_replica.not_captured`); the real Hub never does, so this changes nothing there."""
    info = load_json(model.model_json.text) if model.model_json else None
    replica = info.get("_replica") if isinstance(info, dict) else None
    return isinstance(replica, dict) and "cardData" in (replica.get("not_captured") or [])


LICENCE_FIELD = re.compile(r"^\W*(?:model\s+)?licen[cs]e\W*[:：]\W*(?P<value>[^()\[\],;]+)", re.IGNORECASE)


def card_licence_lines(model: ModelArtifacts) -> list[tuple[int, str, str]]:
    """(line, text, licence id) of each `License: X` field in the card's text (outside code), the way the Hub
    template states a licence in its Model Details; the id as the licence indexes spell it (`Apache 2.0` ->
    `apache-2.0`)."""
    if model.card is None:
        return []
    _, span, _ = front_matter(model.card.text)
    found = []
    for block in document(model.card.text, span).blocks:
        if block.kind not in ("prose", "html"):
            continue
        for offset, line in enumerate(lines_of(block.text)):
            match = LICENCE_FIELD.match(line)
            if match:
                licence_id = re.sub(r"\s+", "-", match.group("value").strip().rstrip(".").lower())
                found.append((block.line_start + offset, line, licence_id))
    return found


def _body_declared(model: ModelArtifacts) -> tuple[dict, list[Evidence], list[LicenceText]]:
    """A licence the card states only in its text: its id as a declaration, its line as a licence text."""
    declared, evidence, texts = {}, [], []
    for line, text, licence_id in card_licence_lines(model)[:1]:
        texts.append(LicenceText(model.card, "weights", text, line))
        if classify(licence_id) is None and licence_id.count("-") > 3:
            continue  # a sentence, not a licence's name: read as licence text only
        declared["license"] = licence_id
        evidence.append(Evidence("licence.card.text-field", model.card.url, model.card.revision, "README.md",
                                 quote(text, 200), line, line, model.card.artifact_id, 0.7))
    return declared, evidence, texts


def judge_licences(model: ModelArtifacts) -> Judgement:
    """The licences of the weights and of the code, each read from its declared ids and its texts; combined as the
    index combines components (see `combine`)."""
    declared, declared_evidence, metadata_error = declared_licence(model)
    texts = licence_texts(model)
    if not _as_ids(declared.get("license")) and not _as_ids(declared.get("license_name")):
        body_declared, body_evidence, body_texts = _body_declared(model)
        declared, declared_evidence, texts = ({**declared, **body_declared}, [*declared_evidence, *body_evidence],
                                              [*texts, *body_texts])
    if not declared and not declared_evidence and not texts and model.card is None:
        reason = model.failure_reason("card", "model_json")
        return Judgement(CRITERION, "unknown", 0.0, f"no card metadata to read the licence from: {reason}",
                         model.unavailable_evidence("card", "licence.unavailable", "README.md"))
    if not declared_evidence and not texts and not model.code_files and card_metadata_not_captured(model):
        # The source said the card's metadata was not captured: its absence decides nothing.
        return Judgement(CRITERION, "unknown", 0.0, "the card's metadata was not captured by the source", (
            Evidence("licence.metadata-not-captured", model.model_json.url, model.model_json.revision, None,
                     '"_replica": {"not_captured": ["cardData", ...]}', artifact_id=model.model_json.artifact_id),))
    tag_level, tag_evidence = declared_level(declared, declared_evidence)
    by_component: dict[str, list[str | None]] = {"weights": [tag_level], "code": [], "data": []}
    text_evidence = []
    for doc in texts:
        verdict = read_licence_text(doc)
        by_component[doc.component].append(verdict.level)
        text_evidence += verdict.evidence
    weights = _most_restrictive(by_component["weights"])
    code = _most_restrictive(by_component["code"])
    evidence = [*declared_evidence, *tag_evidence, *text_evidence]
    if not evidence:
        where = model.card or model.model_json
        evidence = [Evidence("licence.none-declared", where.url, where.revision, "README.md" if model.card else None,
                             "searched card front matter, gated prompt, licence section, licence files and linked "
                             "repos' licence files: no licence found", artifact_id=where.artifact_id,
                             confidence=0.7)]
        return Judgement(CRITERION, "closed", 0.6, "no licence declared", tuple(evidence), basis="absence")
    if metadata_error and weights is None and code is None:
        # The metadata that would declare the licence could not be read: nothing decides, not even an absence.
        return Judgement(CRITERION, "unknown", 0.0, f"the card's metadata could not be read: {metadata_error}",
                         tuple(evidence))
    level, why = combine(weights, code)
    if tag_level == "open" and weights != "open":
        why += "; the declared licence id is open but a licence text restricts the weights"
    return Judgement(CRITERION, level, 0.8, f"{why} (weights: {weights or 'none'}, code: {code or 'none'})",
                     tuple(evidence))
