"""The replica's Hub rate limits and injected faults, so politeness and reliability can be tested for real.

Quota: the Hub counts API and resolver calls in fixed 5-minute windows and answers 429 with the IETF draft headers
`RateLimit: "api";r=0;t=<seconds>` and `RateLimit-Policy: "fixed window";"api";q=<quota>;w=<window>`.
Faults: a seeded spec (`429:0.2:retry-after=1`, `503:0.1`) makes chosen answers fail, the same way every run; an
outage (`outage:1:after=200:requests=300`) fails every answer of a stretch of the crawl.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

from crawler.replica.http import Answer, hub_error


class FaultSpecError(ValueError):
    """A --fault or --hub-quota value that does not parse; the message quotes it."""


@dataclass
class HubQuota:
    quotas: dict[str, int]
    window: float = 300.0
    started: float = field(default_factory=time.monotonic)
    used: dict[str, int] = field(default_factory=dict)
    window_index: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def parse(cls, spec: str, window: float) -> "HubQuota":
        """`api=500,resolvers=3000`."""
        quotas = {}
        for part in filter(None, spec.split(",")):
            name, _, number = part.partition("=")
            if name.strip() not in ("api", "resolvers") or not number.strip().isdigit():
                raise FaultSpecError(f"--hub-quota {spec!r}: expected api=N,resolvers=N")
            quotas[name.strip()] = int(number)
        return cls(quotas, window)

    def take(self, bucket: str) -> tuple[bool, dict[str, str]]:
        """Count one call; (allowed, the RateLimit headers to send)."""
        quota = self.quotas.get(bucket)
        if quota is None:
            return True, {}
        with self.lock:
            elapsed = time.monotonic() - self.started
            index = int(elapsed // self.window)
            if index != self.window_index:
                self.window_index, self.used = index, {}
            reset = max(int(self.window - elapsed % self.window + 0.999), 1)
            allowed = self.used.get(bucket, 0) < quota
            if allowed:
                self.used[bucket] = self.used.get(bucket, 0) + 1
            remaining = quota - self.used.get(bucket, 0)
        return allowed, {"RateLimit": f'"{bucket}";r={remaining};t={reset}',
                         "RateLimit-Policy": f'"fixed window";"{bucket}";q={quota};w={int(self.window)}'}


# Faults that are not an HTTP status: how the answer goes wrong on the wire or in its body.
TRANSPORT_FAULTS = {
    "reset": "the connection is reset before any answer",
    "timeout": "no answer for `seconds` (default 120) — longer than the client waits",
    "truncate": "the body is cut short of its Content-Length, then the connection closes",
    "badjson": "status 200 with a body that is not JSON",
    "html": "status 200 with an HTML error page (a proxy's or a captive portal's)",
    "slow": "the body trickles in small pieces (`seconds` between them, default 0.05)",
}
STATUS_FAULTS = (429, 500, 502, 503, 504)
# A stretch of the crawl when the server is down: from the request after the first `after` ones, for `requests` more
# requests or `seconds`, answers fail with `status` (503 by default) at the fault's rate (1: every one).
OUTAGE = "outage"


def outage_params_ok(params: dict) -> bool:
    """`after=N` and `requests=M` or `seconds=S`, and a `status` (if given) that is a 5xx or 429."""
    status = params.get("status", "503")
    length = params.get("requests") or params.get("seconds", "")
    return params.get("after", "").isdigit() and status.isdigit() and int(status) in STATUS_FAULTS and \
        length.replace(".", "", 1).isdigit() and ("requests" not in params or length.isdigit())


@dataclass(frozen=True)
class Fault:
    kind: str  # an HTTP status ("503") or a TRANSPORT_FAULTS key
    rate: float
    params: dict

    @classmethod
    def parse(cls, spec: str) -> "Fault":
        """`KIND:RATE[:key=value...]`: KIND is 429 or a 5xx status (`429:0.3:retry-after=1`,
        `429:0.2:ratelimit-reset=2`, `503:0.1`) or one of reset, timeout, truncate, badjson, html, slow
        (`timeout:0.01:seconds=3`), or an outage (`outage:1:after=100:requests=200`, `outage:1:after=0:seconds=5`)."""
        parts = spec.split(":")
        try:
            kind, rate = parts[0].strip().lower(), float(parts[1])
            params = dict(p.split("=", 1) for p in parts[2:])
        except (ValueError, IndexError) as exc:
            raise FaultSpecError(f"--fault {spec!r}: expected KIND:RATE[:key=value...]") from exc
        if not (kind in TRANSPORT_FAULTS or kind == OUTAGE or (kind.isdigit() and int(kind) in STATUS_FAULTS)) \
                or not 0 <= rate <= 1:
            raise FaultSpecError(f"--fault {spec!r}: KIND must be 429, a 5xx status, {OUTAGE} or one of "
                                 f"{', '.join(TRANSPORT_FAULTS)}, and RATE within 0..1")
        if kind == OUTAGE and not outage_params_ok(params):
            raise FaultSpecError(f"--fault {spec!r}: an outage is outage:RATE:after=N:requests=M (or seconds=S)"
                                 f"[:status=5xx]")
        return cls(kind, rate, params)

    def in_outage(self, count: int, began: float | None) -> bool:
        """Whether the request numbered `count` (from 1) falls in this outage, which `began` (monotonic) at its
        first request, if it has."""
        after = int(self.params["after"])
        if count <= after:
            return False
        if "requests" in self.params:
            return count <= after + int(self.params["requests"])
        return began is None or time.monotonic() - began < float(self.params["seconds"])

    def answer(self) -> Answer:
        if self.kind in TRANSPORT_FAULTS:
            answer = hub_error(500, "InjectedFault", f"injected fault {self.kind}")
            answer.transport = self  # the server carries it out on the wire (crawler.replica.server)
            return answer
        status = int(self.params.get("status", "503")) if self.kind == OUTAGE else int(self.kind)
        answer = hub_error(status, "InjectedFault", f"injected fault {self.kind}")
        if "retry-after" in self.params:
            answer.headers["Retry-After"] = self.params["retry-after"]
        if "ratelimit-reset" in self.params:
            answer.headers["RateLimit"] = f'"api";r=0;t={self.params["ratelimit-reset"]}'
        return answer


class FaultInjector:
    """Draws, request by request, from a seeded generator: the same seed gives the same sequence of faults."""

    def __init__(self, faults: list[Fault], seed: int):
        self.faults = [f for f in faults if f.kind != OUTAGE]
        self.outages = [f for f in faults if f.kind == OUTAGE]
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.count = 0  # requests drawn for
        self.began: dict[int, float] = {}  # outage index -> when its first request came

    def draw(self) -> Answer | None:
        with self.lock:
            self.count += 1
            for index, outage in enumerate(self.outages):
                if outage.in_outage(self.count, self.began.get(index)):
                    self.began.setdefault(index, time.monotonic())
                    if self.random.random() < outage.rate:
                        return outage.answer()
            for fault in self.faults:
                if self.random.random() < fault.rate:
                    return fault.answer()
        return None
