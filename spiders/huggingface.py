"""The Hugging Face spider: for each model, its JSON, its card at the model's sha, and its whole file tree.

It only fetches and yields items; judging happens later over what was stored.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import scrapy

from crawler.items import ArtifactItem, ErrorItem, LinkItem, SubjectItem
from crawler.signals import model_step
from crawler.store import model_subject_id

# Each model takes three steps (JSON, card, tree); the progress display counts them.
STEPS_PER_MODEL = 3


def error_reason(response) -> str:
    """A failed answer in words: status, the Hub's error code and message where it sent them."""
    code = response.headers.get(b"X-Error-Code", b"").decode("latin-1")
    message = response.headers.get(b"X-Error-Message", b"").decode("latin-1")
    return " ".join(part for part in (f"HTTP {response.status}", code, message) if part)


def _strings(value) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [v.strip() for v in values if isinstance(v, str) and v.strip()]


def links_in_model_json(subject: str, info: dict, url: str):
    """Edges the model JSON names: base models (with the card's relation), datasets, and arXiv papers (tags)."""
    card_data = info.get("cardData") if isinstance(info.get("cardData"), dict) else {}
    relation = "base_model"
    if _strings(card_data.get("base_model_relation")):
        relation += ":" + _strings(card_data.get("base_model_relation"))[0]
    for base in _strings(card_data.get("base_model")):
        yield LinkItem(subject, model_subject_id(base), relation, url, info.get("sha"))
    for dataset in _strings(card_data.get("datasets")):
        yield LinkItem(subject, f"hf:dataset:{dataset}", "dataset", url, info.get("sha"))
    for tag in _strings(info.get("tags")):
        if tag.startswith("arxiv:"):
            yield LinkItem(subject, tag, "paper", url, info.get("sha"))


class HuggingFaceSpider(scrapy.Spider):
    name = "huggingface"

    def __init__(self, model_ids: list[str], hf_endpoint: str, **kwargs):
        super().__init__(**kwargs)
        self.model_ids = list(dict.fromkeys(model_ids))
        self.hf_endpoint = hf_endpoint.rstrip("/")

    async def start(self):
        for model_id in self.model_ids:
            yield scrapy.Request(f"{self.hf_endpoint}/api/models/{model_id}", callback=self.parse_model,
                                 errback=self.on_failure, cb_kwargs={"model_id": model_id},
                                 meta={"kind": "model_json", "model_id": model_id, "steps": STEPS_PER_MODEL})

    # -- callbacks -----------------------------------------------------------------------------------------------
    def parse_model(self, response, model_id: str):
        subject = model_subject_id(model_id)
        if response.status != 200:
            yield from self._failed(response, subject, "model_json")
            yield SubjectItem(subject, "model", "huggingface", model_id, self._page_url(model_id),
                              status="missing" if response.status == 404 else "error", note=error_reason(response))
            self._step(STEPS_PER_MODEL)
            return
        try:
            info = json.loads(response.body)
            sha = info["sha"]
        except (ValueError, KeyError, TypeError) as exc:
            yield ErrorItem("huggingface", subject, response.url, "parse", response.status,
                            f"model JSON unreadable: {type(exc).__name__}: {exc}")
            yield SubjectItem(subject, "model", "huggingface", model_id, self._page_url(model_id), status="error",
                              note="model JSON unreadable")
            self._step(STEPS_PER_MODEL)
            return
        yield self._artifact(response, model_id, "model_json", sha)
        gated = info.get("gated") or False
        yield SubjectItem(subject, "model", "huggingface", model_id, self._page_url(model_id), revision=sha,
                          status="gated" if gated else "ok", gated=str(gated))
        yield from links_in_model_json(subject, info, response.url)
        self._step(1)
        meta = {"model_id": model_id, "revision": sha}
        yield response.follow(f"{self.hf_endpoint}/{model_id}/resolve/{sha}/README.md", callback=self.parse_card,
                              errback=self.on_failure, cb_kwargs=meta, meta={"kind": "card", "steps": 1, **meta})
        yield response.follow(self._tree_url(model_id, sha), callback=self.parse_tree, errback=self.on_failure,
                              cb_kwargs={**meta, "page": 0}, meta={"kind": "tree", "steps": 1, **meta})

    def parse_card(self, response, model_id: str, revision: str):
        self._step(1)
        if response.status == 200:
            yield self._artifact(response, model_id, "card", revision, path="README.md")
        else:
            yield from self._failed(response, model_subject_id(model_id), "card")

    def parse_tree(self, response, model_id: str, revision: str, page: int):
        if response.status != 200:
            self._step(1)
            yield from self._failed(response, model_subject_id(model_id), "tree")
            return
        yield self._artifact(response, model_id, "tree", revision, path=f"page-{page}")
        next_url = response.headers.get(b"Link", b"").decode("latin-1")
        if 'rel="next"' in next_url:
            url = next_url.split(";")[0].strip().strip("<>")
            yield response.follow(url, callback=self.parse_tree, errback=self.on_failure,
                                  cb_kwargs={"model_id": model_id, "revision": revision, "page": page + 1},
                                  meta={"kind": "tree", "steps": 0, "model_id": model_id, "revision": revision})
        else:
            self._step(1)

    def on_failure(self, failure):
        """Network-level failure (refused, timeout, truncated body): recorded with its URL, never silent."""
        request = failure.request
        model_id = request.meta.get("model_id") or request.cb_kwargs.get("model_id")
        self._step(request.meta.get("steps", 0))
        yield ErrorItem("huggingface", model_subject_id(model_id) if model_id else None, request.url,
                        request.meta.get("kind", "fetch"), None, f"{failure.type.__name__}: {failure.getErrorMessage()}")

    # -- helpers -------------------------------------------------------------------------------------------------
    def _artifact(self, response, model_id: str, kind: str, revision: str, path: str | None = None) -> ArtifactItem:
        return ArtifactItem(
            source="huggingface", repo_type="model", repo_id=model_id, kind=kind, url=response.url,
            revision=revision, http_status=response.status,
            etag=(response.headers.get(b"ETag") or b"").decode("latin-1") or None,
            content_type=(response.headers.get(b"Content-Type") or b"").decode("latin-1") or None,
            body=response.body, path=path)

    def _failed(self, response, subject_id: str, kind: str):
        yield ErrorItem("huggingface", subject_id, response.url, kind, response.status, error_reason(response))

    def _tree_url(self, model_id: str, revision: str) -> str:
        return f"{self.hf_endpoint}/api/models/{model_id}/tree/{quote(revision, safe='')}?recursive=true"

    def _page_url(self, model_id: str) -> str:
        return f"{self.hf_endpoint}/{model_id}"

    def _step(self, units: int) -> None:
        if units:
            self.crawler.signals.send_catch_log(model_step, units=units)
