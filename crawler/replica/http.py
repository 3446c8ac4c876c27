"""The small HTTP vocabulary the replica's handlers share: answers, ETags, errors, pagination links."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from urllib.parse import urlencode


@dataclass
class Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"
    # Files carry their git blob sha as ETag (what the Hub does); JSON answers get a hash of the body.
    etag: str | None = None
    counts_against_limit: bool = True
    transport: object = None  # an injected transport fault (crawler.replica.limits.Fault) the server carries out


def json_answer(payload, status: int = 200, headers: dict | None = None) -> Answer:
    body = json.dumps(payload, ensure_ascii=False, sort_keys=False).encode("utf-8")
    return Answer(status, body, dict(headers or {}), etag='W/"%s"' % hashlib.sha1(body).hexdigest())


def hub_error(status: int, code: str, message: str) -> Answer:
    """An error as the Hub sends it: X-Error-Code / X-Error-Message headers and a JSON body."""
    answer = json_answer({"error": message}, status, {"X-Error-Code": code, "X-Error-Message": message})
    answer.etag = None
    return answer


def not_captured(what: str) -> Answer:
    """What the corpus did not capture is a failed fetch, never an empty answer (see docs/corpus.md)."""
    message = f"not captured: the corpus holds no {what}"
    answer = json_answer({"error": message, "message": message}, 501, {"X-Error-Code": "NotCaptured", "X-Error-Message": message})
    answer.etag = None
    return answer


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        offset = json.loads(base64.urlsafe_b64decode(padded))["offset"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"invalid cursor {cursor!r}") from exc
    if not isinstance(offset, int) or offset < 0:
        raise ValueError(f"invalid cursor {cursor!r}")
    return offset


def next_link(base_url: str, path: str, query: list[tuple[str, str]], offset: int) -> str:
    """A `Link: <...>; rel="next"` header value carrying the whole query, as the Hub and GitHub send it."""
    kept = [(k, v) for k, v in query if k != "cursor"] + [("cursor", encode_cursor(offset))]
    return f'<{base_url}{path}?{urlencode(kept)}>; rel="next"'
