"""The replica's Hub rate limits and injected faults, so politeness and reliability can be tested for real.

Quota: the Hub counts API and resolver calls in fixed 5-minute windows and answers 429 with the IETF draft headers
`RateLimit: "api";r=0;t=<seconds>` and `RateLimit-Policy: "fixed window";"api";q=<quota>;w=<window>`.
Faults: a seeded spec (`429:0.2:retry-after=1`, `503:0.1`) makes chosen answers fail, the same way every run.
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


@dataclass(frozen=True)
class Fault:
    kind: str  # an HTTP status ("503") or a TRANSPORT_FAULTS key
    rate: float
    params: dict

    @classmethod
    def parse(cls, spec: str) -> "Fault":
        """`KIND:RATE[:key=value...]`: KIND is 429 or a 5xx status (`429:0.3:retry-after=1`,
        `429:0.2:ratelimit-reset=2`, `503:0.1`) or one of reset, timeout, truncate, badjson, html, slow
        (`timeout:0.01:seconds=3`)."""
        parts = spec.split(":")
        try:
            kind, rate = parts[0].strip().lower(), float(parts[1])
            params = dict(p.split("=", 1) for p in parts[2:])
        except (ValueError, IndexError) as exc:
            raise FaultSpecError(f"--fault {spec!r}: expected KIND:RATE[:key=value...]") from exc
        if not (kind in TRANSPORT_FAULTS or (kind.isdigit() and int(kind) in STATUS_FAULTS)) or not 0 <= rate <= 1:
            raise FaultSpecError(f"--fault {spec!r}: KIND must be 429, a 5xx status or one of "
                                 f"{', '.join(TRANSPORT_FAULTS)}, and RATE within 0..1")
        return cls(kind, rate, params)

    def answer(self) -> Answer:
        if self.kind in TRANSPORT_FAULTS:
            answer = hub_error(500, "InjectedFault", f"injected fault {self.kind}")
            answer.transport = self  # the server carries it out on the wire (crawler.replica.server)
            return answer
        status = int(self.kind)
        answer = hub_error(status, "InjectedFault", f"injected fault {status}")
        if "retry-after" in self.params:
            answer.headers["Retry-After"] = self.params["retry-after"]
        if "ratelimit-reset" in self.params:
            answer.headers["RateLimit"] = f'"api";r=0;t={self.params["ratelimit-reset"]}'
        return answer


class FaultInjector:
    """Draws, request by request, from a seeded generator: the same seed gives the same sequence of faults."""

    def __init__(self, faults: list[Fault], seed: int):
        self.faults = faults
        self.random = random.Random(seed)
        self.lock = threading.Lock()

    def draw(self) -> Answer | None:
        with self.lock:
            for fault in self.faults:
                if self.random.random() < fault.rate:
                    return fault.answer()
        return None
