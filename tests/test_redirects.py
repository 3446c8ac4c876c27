"""Redirects and secrets: a redirect is followed only to allow-listed hosts and never carries a token off its host; a
redirect loop ends as a recorded error; the tokens appear nowhere a crawl's results go (DB, logs, error messages,
`show`, `errors`, every export, the table page, the review pages)."""

from __future__ import annotations

import json
import sqlite3
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bad_inputs import REDIRECT_CASES
from conftest import run_openness, start_review_server

HF_SECRET = "hf_redirect_secret_0123456789"
GH_SECRET = "ghp_redirect_secret_0123456789"


class Recorder(BaseHTTPRequestHandler):
    """A loopback server that answers from `routes` (path -> (status, headers, body)) and records every request."""

    routes: dict = {}
    seen: list = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.seen.append({"path": self.path, "authorization": self.headers.get("Authorization")})
        status, headers, body = self.routes.get(self.path.split("?", 1)[0], (404, {}, b'{"error": "not here"}'))
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve(host: str) -> tuple[ThreadingHTTPServer, type[Recorder]]:
    handler = type("Handler", (Recorder,), {"routes": {}, "seen": []})
    server = ThreadingHTTPServer((host, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, handler


@pytest.fixture
def hostile_hub():
    """A Hub on 127.0.0.1 whose answers redirect: off to 127.0.0.2 (not allowed), to a CDN on 127.0.0.3 (allowed on
    the command line), and round in a loop."""
    servers = {name: serve(host) for name, host in (("hub", "127.0.0.1"), ("elsewhere", "127.0.0.2"),
                                                     ("cdn", "127.0.0.3"))}
    url = {name: f"http://{s.server_address[0]}:{s.server_address[1]}" for name, (s, _) in servers.items()}
    hub = servers["hub"][1]
    hub.routes.update({
        "/api/models/redir/offsite": (302, {"Location": f"{url['elsewhere']}/api/models/redir/offsite"}, b""),
        "/api/models/redir/cdn": (302, {"Location": f"{url['cdn']}/blob/redir-cdn"}, b""),
        "/api/models/redir/loop": (302, {"Location": "/loop/a"}, b""),
        "/loop/a": (302, {"Location": "/loop/b"}, b""),
        "/loop/b": (302, {"Location": "/loop/a"}, b""),
    })
    yield url, {name: handler.seen for name, (_, handler) in servers.items()}
    for server, _ in servers.values():
        server.shutdown()


def test_redirects_are_followed_only_to_allowed_hosts_without_the_token_and_loops_are_recorded(hostile_hub, db_path):
    url, seen = hostile_hub
    env = {**__import__("os").environ, "HF_TOKEN": HF_SECRET, "GITHUB_TOKEN": GH_SECRET}
    result = run_openness("crawl", *(model for model, _, _ in REDIRECT_CASES), "--db", str(db_path), "--no-github",
                          "--hf-endpoint", url["hub"], "--github-endpoint", "http://127.0.0.1:9",
                          "--allow-redirect-host", "127.0.0.3", env=env)
    assert result.returncode == 1, result.stdout + result.stderr  # finished, failures recorded
    assert seen["elsewhere"] == []  # never sent
    assert seen["cdn"] and all(r["authorization"] is None for r in seen["cdn"])  # followed, without the token
    assert {r["authorization"] for r in seen["hub"]} == {f"Bearer {HF_SECRET}"}  # the Hub's own token, on its host
    errors = {row[0]: row[1:] for row in sqlite3.connect(db_path).execute(
        "select subject_id, url, reason from errors where kind = 'model_json'")}
    offsite_url, offsite_reason = errors["hf:model:redir/offsite"]
    assert "127.0.0.2 is not allowed" in offsite_reason and f"{url['hub']}/api/models/redir/offsite" in offsite_reason
    assert offsite_url.startswith(url["elsewhere"])
    assert "redirect" in errors["hf:model:redir/loop"][1]
    assert errors["hf:model:redir/cdn"][0].startswith(url["cdn"]) and "404" in errors["hf:model:redir/cdn"][1]
    assert len([r for r in seen["hub"] if r["path"].startswith("/loop/")]) <= 6  # the loop is cut short
    for secret in (HF_SECRET, GH_SECRET):
        assert secret not in result.stdout + result.stderr
        for path in db_path.parent.glob(db_path.name + "*"):
            assert secret.encode() not in path.read_bytes()


def test_tokens_appear_in_no_output_of_a_crawl(replica_url, db_path, tmp_path):
    """Crawled with both tokens set (and a failing endpoint, so error messages are written): neither token is in
    the DB, the crawl's output, `show`, `errors`, `table`, any export, or the review pages."""
    env = {**__import__("os").environ, "HF_TOKEN": HF_SECRET, "GITHUB_TOKEN": GH_SECRET}
    crawl = run_openness("crawl", "Qwen/Qwen2.5-32B", "nobody/no-such-model", "--db", str(db_path),
                         "--hf-endpoint", replica_url, "--github-endpoint", replica_url, "-v", env=env)
    assert crawl.returncode == 0, crawl.stderr
    outputs = [crawl.stdout + crawl.stderr]
    exports = tmp_path / "exports"
    folders = {fmt: ["--out", str(exports / fmt)] for fmt in ("index-yaml", "spdx3", "cyclonedx", "badges")}
    for command in (["show", "Qwen/Qwen2.5-32B", "--json"], ["errors", "--json"], ["table", "--format", "html"],
                    *(["export", "--format", fmt, *folders.get(fmt, [])] for fmt in ("jsonl", "csv", *folders))):
        run = run_openness(*command, "--db", str(db_path), env=env)
        assert run.returncode == 0, (command, run.stderr)
        outputs.append(run.stdout + run.stderr)
    written = [p for p in exports.rglob("*") if p.is_file()]
    assert len(written) >= len(folders)
    outputs += [p.read_text(encoding="utf-8", errors="replace") for p in written]
    with start_review_server(db_path, env=env) as base:
        site = base.rsplit("/", 1)[0]
        for page in (f"{site}/", f"{site}/-/model/Qwen/Qwen2.5-32B", base, f"{base}/flagged_models.json",
                     f"{base}/review_queue.json", f"{base}/errors.json?_shape=array",
                     f"{base}/history.json?_shape=array"):  # crawl_runs: analysts only
            with urllib.request.urlopen(page, timeout=30) as answer:
                outputs.append(answer.read().decode("utf-8", "replace"))
        assert "license: apache-2.0" in outputs[-6]  # the model page shows its evidence
    stored = b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*"))
    for secret in (HF_SECRET, GH_SECRET):
        assert secret.encode() not in stored
        assert not [text[:200] for text in outputs if secret in text]
    assert json.loads(outputs[2])  # the errors listing was read, not empty
