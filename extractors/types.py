"""The values extractors take and give. Frozen dataclasses, so a judgement is a value: same input, same output."""

from __future__ import annotations

from dataclasses import dataclass, field

LEVELS = ("open", "partial", "closed", "unknown")


@dataclass(frozen=True)
class Artifact:
    """A stored document as extractors see it: where it came from, and its text."""

    artifact_id: str
    kind: str
    url: str
    revision: str | None
    path: str | None
    # Left out of the repr: a stored artifact's id is computed from its content, so the id already stands for the
    # text, and a model's repr (the inputs fingerprint of crawler.assess) stays short.
    text: str = field(repr=False)
    repo_id: str = ""  # set for artifacts of linked subjects (a GitHub repo)
    # The length of the stored text when `text` holds only the head of it that is judged (extractors.within_bounds),
    # else 0. Left out of the repr: it follows from the text and the judge's code, which the fingerprint names.
    full_length: int = field(default=0, repr=False)


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence, shaped like a licence-scanner match: source at a revision, file, lines, quote, rule."""

    rule_id: str
    url: str
    revision: str | None
    file: str | None
    snippet: str
    line_start: int | None = None
    line_end: int | None = None
    artifact_id: str | None = None
    confidence: float = 1.0


# What became of a source an extractor reads. Only `read` sources (and exhaustive ones, for absence) can show
# that something is not there; every other status leaves an absence undecided.
SOURCE_STATUSES = ("read", "not exhaustive", "missing", "gated", "not captured", "failed", "not crawled")


@dataclass(frozen=True)
class Source:
    """A source a judgement searched: what it is (card, tree, model_json, github:owner/repo, dataset:id), what
    became of it, where it was fetched or asked (the store adds its public URL: crawler.public.PublicLinks), and
    why when it was not read."""

    name: str
    status: str
    url: str
    detail: str = ""

    def __post_init__(self):
        if self.status not in SOURCE_STATUSES:
            raise ValueError(f"unknown source status {self.status!r} for {self.name}")

    @property
    def proves_absence(self) -> bool:
        """A source read whole: what it does not hold is not there (a missing file is read as empty)."""
        return self.status in ("read", "missing")

    def as_dict(self) -> dict:
        return {"source": self.name, "status": self.status, "url": self.url, "detail": self.detail}


@dataclass(frozen=True)
class Judgement:
    criterion: str
    level: str
    confidence: float
    summary: str
    evidence: tuple[Evidence, ...]
    # "absence" when the level rests on something not being found: then it stands only if the sources that would
    # show the opposite were read (extractors.searched).
    basis: str = "evidence"
    searched: tuple[Source, ...] = ()

    def __post_init__(self):
        if self.level not in LEVELS:
            raise ValueError(f"unknown level {self.level!r} for {self.criterion}")
        if not self.evidence:
            raise ValueError(f"judgement of {self.criterion} has no evidence")

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(e.rule_id for e in self.evidence))


@dataclass(frozen=True)
class Failure:
    """A fetch that failed: the URL tried (at its revision), the HTTP status (None for a transport failure) and why."""

    url: str
    reason: str
    http_status: int | None = None


@dataclass(frozen=True)
class LinkedDataset:
    """A dataset a model's card names, and what the crawl found of it."""

    repo_id: str
    status: str  # ok | gated | missing | private | disabled | not captured | error | not crawled
    page_url: str  # its public page (quoted in evidence), "" when not crawled
    card: Artifact | None = None


@dataclass(frozen=True)
class ModelArtifacts:
    """Everything stored about one model that the extractors may read. `failures` names kinds that could not be
    fetched, with the reason, so an extractor can say `unknown` instead of judging from an absence."""

    repo_id: str
    revision: str | None
    page_url: str
    model_json: Artifact | None = None
    card: Artifact | None = None
    tree_pages: tuple[Artifact, ...] = ()
    files: tuple[Artifact, ...] = ()  # the repo's own licence, policy, notice and config files
    code_files: tuple[Artifact, ...] = ()  # files of the model's own GitHub repos (licences, README, docs)
    code_trees: tuple[Artifact, ...] = ()  # trees of the model's own GitHub repos
    datasets: tuple[LinkedDataset, ...] = ()
    base_model: str | None = None  # the base model the card names, if any
    base: "ModelArtifacts | None" = None  # its artifacts, when it was crawled
    failures: dict[str, Failure] = field(default_factory=dict)
    sources: tuple[Source, ...] = ()  # what became of each source the extractors may read

    def source(self, name: str) -> Source | None:
        return next((s for s in self.sources if s.name == name), None)

    def failure_reason(self, *kinds: str) -> str:
        return next((self.failures[k].reason for k in kinds if k in self.failures), "not fetched")

    def unavailable_evidence(self, kind: str, rule_id: str, file: str | None) -> tuple[Evidence, ...]:
        """Evidence for a criterion that a failed fetch left undecided: the URL that failed and why, and the
        model JSON at the revision that was looked at."""
        failure = self.failures.get(kind) or self.failures.get("model_json")
        url, reason = (failure.url, failure.reason) if failure else (self.page_url, "not fetched")
        evidence = [Evidence(rule_id, url, self.revision, file, f"{kind} not available: {reason}"[:300])]
        if self.model_json:
            evidence.append(Evidence(rule_id, self.model_json.url, self.model_json.revision, None,
                                     f"model JSON read at revision {self.model_json.revision}",
                                     artifact_id=self.model_json.artifact_id, confidence=0.5))
        return tuple(evidence)
