"""The loopback replica's HTTP server: one base URL answering both the Hub's and GitHub's API paths.

Built on the standard library's ThreadingHTTPServer rather than a web framework: the replica must later shape
answers at the byte level (truncated bodies, slow writes, dropped connections) for fault injection, which
frameworks hide, and it adds no dependency to the product.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import socket
import struct
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from crawler.corpus import Corpus
from crawler.replica.github import GithubApi, RateBudget, github_error, rate_limit_exceeded
from crawler.replica.http import Answer, hub_error, json_answer
from crawler.replica.hub import HubApi
from crawler.replica.limits import FaultInjector, HubQuota

log = logging.getLogger(__name__)


class ReplicaApp:
    """Everything but the socket: takes a request, gives an Answer. Tests may call it directly."""

    def __init__(self, corpus: Corpus, page_size: int = 1000, hub_quota: HubQuota | None = None,
                 faults: FaultInjector | None = None, github_budget: RateBudget | None = None,
                 truncate_trees: int = 0):
        self.hub = HubApi(corpus, page_size=page_size)
        self.github = GithubApi(corpus, truncate_trees=truncate_trees)
        self.github_budget = github_budget or RateBudget()
        self.hub_quota = hub_quota
        self.faults = faults
        self.answered: dict[str, int] = {}  # answers by status, served at /_replica/stats for tests
        self.lock = threading.Lock()

    def handle(self, method: str, target: str, headers: dict[str, str], base_url: str,
               inject: bool = True) -> Answer:
        answer = self._answer(method, target, headers, base_url, inject)
        with self.lock:
            self.answered[str(answer.status)] = self.answered.get(str(answer.status), 0) + 1
        return answer

    def _answer(self, method: str, target: str, headers: dict[str, str], base_url: str, inject: bool) -> Answer:
        url = urlsplit(target)
        parts = [p for p in url.path.split("/") if p]
        query = parse_qsl(url.query, keep_blank_values=True)
        if parts == ["_replica", "stats"]:
            with self.lock:
                return json_answer({"answered": dict(self.answered)})
        if inject and self.faults and (fault := self.faults.draw()):
            return fault
        if parts[:1] == ["repos"]:
            authenticated = "authorization" in headers
            _, budget_now = self.github_budget.take(authenticated, spend=False)
            if budget_now["x-ratelimit-remaining"] == "0":
                answer = rate_limit_exceeded()
                answer.headers.update(budget_now)
                return answer
            answer = self.github.route(method, parts, query, base_url, url.path, headers.get("accept", "")) \
                or github_error(404, "Not Found")
            return self._conditional(answer, headers, base_url, github=True)
        rate_headers = {}
        if self.hub_quota:
            bucket = "resolvers" if "resolve" in parts or "raw" in parts else "api"
            allowed, rate_headers = self.hub_quota.take(bucket)
            if not allowed:
                answer = hub_error(429, "RateLimited", f"You have exceeded the rate limit for the {bucket} bucket")
                answer.headers.update(rate_headers)
                return answer
        answer = self.hub.route(method, parts, query, base_url, url.path)
        if answer is None:
            answer = hub_error(404, "NotFound", f"no such API path: {url.path}")
        answer.headers.update(rate_headers)
        return self._conditional(answer, headers, base_url, github=False)

    def _conditional(self, answer: Answer, headers: dict[str, str], base_url: str, github: bool) -> Answer:
        if answer.etag and answer.etag.startswith('W/"') and base_url.encode() in answer.body:
            # JSON answers embed the replica's own URL; a restart on another port must not look like a change.
            answer.etag = 'W/"%s"' % hashlib.sha1(answer.body.replace(base_url.encode(), b"")).hexdigest()
        if answer.etag:
            answer.headers["ETag"] = answer.etag
            wanted = {tag.strip() for tag in headers.get("if-none-match", "").split(",") if tag.strip()}
            if answer.etag in wanted or answer.etag.removeprefix("W/") in wanted:
                answer = Answer(304, b"", {"ETag": answer.etag, **{k: v for k, v in answer.headers.items() if k.startswith("X-")}})
                answer.counts_against_limit = False
        if github:
            authenticated = "authorization" in headers
            answer.headers.update(self.github_budget.take(authenticated, spend=answer.counts_against_limit)[1])
        return answer


class ReplicaHandler(BaseHTTPRequestHandler):
    server_version = "openness-replica/0.1"
    protocol_version = "HTTP/1.1"

    def _serve(self, send_body: bool) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        if self.server.delay:
            time.sleep(self.server.delay)
        try:
            answer = self.server.app.handle(self.command, self.path, headers, self.server.base_url)
        except Exception as exc:  # a bug must answer 500 and be logged, not kill the connection silently
            log.exception("replica failed on %s %s", self.command, self.path)
            answer = hub_error(500, "InternalError", f"replica error: {exc}")
        if answer.transport is not None:
            self._transport_fault(answer.transport)
            return
        self.send_response(answer.status)
        if answer.status != 304:
            self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for key, value in answer.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if send_body and answer.status != 304:
            self.wfile.write(answer.body)

    def _transport_fault(self, fault) -> None:
        """Go wrong the way a network, a proxy or an overloaded server does (crawler.replica.limits)."""
        kind = fault.kind
        if kind == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        if kind == "timeout":
            time.sleep(float(fault.params.get("seconds", 120)))
            self.close_connection = True
            return
        bodies = {"badjson": (b'{"id": "truncated", "sha": ', "application/json; charset=utf-8"),
                  "html": (b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway"
                           b"</h1><p>The proxy could not reach the server.</p></body></html>", "text/html")}
        if kind in bodies:
            body, content_type = bodies[kind]
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        # truncate / slow: a real answer, cut short or trickled
        answer = self.server.app.handle(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                                        self.server.base_url, inject=False)
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for key, value in answer.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if kind == "truncate":
            self.wfile.write(answer.body[: len(answer.body) // 2])
            self.close_connection = True
            return
        pause = float(fault.params.get("seconds", 0.05))
        for start in range(0, len(answer.body), 4096):
            self.wfile.write(answer.body[start:start + 4096])
            self.wfile.flush()
            time.sleep(pause)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._serve(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(send_body=False)

    def log_message(self, format: str, *args) -> None:  # route access logs to logging, not stderr
        log.debug("%s - %s", self.address_string(), format % args)


class ReplicaServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, corpus: Corpus, host: str = "127.0.0.1", port: int = 0, page_size: int = 1000,
                 delay: float = 0.0, **app_options):
        super().__init__((host, port), ReplicaHandler)
        self.delay = delay  # seconds before each answer: a slow Hub, to watch progress or interrupt a crawl
        self.app = ReplicaApp(corpus, page_size=page_size, **app_options)
        bound_host, bound_port = self.server_address[:2]
        self.base_url = f"http://{bound_host}:{bound_port}"

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="replica", daemon=True)
        thread.start()
        return thread
