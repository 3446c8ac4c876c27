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


@dataclass(frozen=True)
class Fault:
    status: int
    rate: float
    params: dict

    @classmethod
    def parse(cls, spec: str) -> "Fault":
        """`STATUS:RATE[:key=value...]`, e.g. `429:0.3:retry-after=1` or `503:0.1`."""
        parts = spec.split(":")
        try:
            status, rate = int(parts[0]), float(parts[1])
            params = dict(p.split("=", 1) for p in parts[2:])
        except (ValueError, IndexError) as exc:
            raise FaultSpecError(f"--fault {spec!r}: expected STATUS:RATE[:key=value...]") from exc
        if status not in (429, 500, 502, 503, 504) or not 0 <= rate <= 1:
            raise FaultSpecError(f"--fault {spec!r}: status must be 429 or 5xx and rate within 0..1")
        return cls(status, rate, params)

    def answer(self) -> Answer:
        answer = hub_error(self.status, "InjectedFault", f"injected fault {self.status}")
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
