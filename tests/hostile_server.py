"""A hostile Hub and GitHub on loopback: the replica over the bundled snapshot, with answers a test rewrites.

A test registers overrides (a regular expression on the request target, and a function that takes the request and
the replica's own answer and returns the answer to send); everything else is the replica's real answer. Every
request is recorded (method, target, headers, the Host it was sent to), so a test can assert what the crawler asked
for, where, and with which credentials. The crawler is run against `server.url` as users run it (`openness crawl
--hf-endpoint URL --github-endpoint URL`), in a subprocess, while the server answers from a thread of the test.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from crawler.corpus import Corpus
from crawler.replica.http import Answer, json_answer
from crawler.replica.server import ReplicaApp, ReplicaServer


@dataclass
class Seen:
    """A request as the server received it."""
    method: str
    target: str
    headers: dict[str, str]


# An override: (request, the replica's answer computed lazily) -> the answer to send.
Override = Callable[[Seen, Callable[[], Answer]], Answer]


@dataclass
class HostileApp:
    """The replica's app, with overrides tried first (the last registered wins) and every request recorded."""
    replica: ReplicaApp
    overrides: list[tuple[re.Pattern, Override]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, method: str, target: str, headers: dict[str, str], base_url: str, inject: bool = True) -> Answer:
        request = Seen(method, target, dict(headers))
        with self.lock:
            self.seen.append(request)
            overrides = list(reversed(self.overrides))
        real = lambda: self.replica.handle(method, target, headers, base_url, inject)  # noqa: E731
        for pattern, override in overrides:
            if pattern.search(target):
                return override(request, real)
        return real()


class HostileServer(ReplicaServer):
    """`with HostileServer(corpus) as server:` a hostile Hub and GitHub at `server.url` until the block ends."""

    def __init__(self, corpus: Corpus, **options):
        super().__init__(corpus, **options)
        self.app = HostileApp(self.app)
        self.url = self.base_url

    def override(self, pattern: str, override: Override) -> None:
        with self.app.lock:
            self.app.overrides.append((re.compile(pattern), override))

    def answer(self, pattern: str, answer: Answer) -> None:
        """Always send `answer` to requests matching `pattern`."""
        self.override(pattern, lambda request, real: answer)

    def rewrite_json(self, pattern: str, change: Callable[[object], object]) -> None:
        """Send the replica's JSON answer changed by `change` (which may change it in place and return None)."""
        def rewritten(request: Seen, real: Callable[[], Answer]) -> Answer:
            original = real()
            if original.status != 200:
                return original
            payload = json.loads(original.body)
            changed = change(payload)
            return json_answer(payload if changed is None else changed, headers=original.headers)
        self.override(pattern, rewritten)

    def requests_to(self, pattern: str) -> list[Seen]:
        with self.app.lock:
            return [r for r in self.app.seen if re.search(pattern, r.target)]

    @property
    def seen(self) -> list[Seen]:
        with self.app.lock:
            return list(self.app.seen)

    def __enter__(self) -> HostileServer:
        self.start_in_thread()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()
