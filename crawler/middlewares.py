"""Downloader middlewares: each token goes to its own host only."""

from __future__ import annotations

import os
from urllib.parse import urlsplit


class TokenMiddleware:
    """Adds `Authorization: Bearer` for HF_TOKEN / GITHUB_TOKEN, only on requests to that token's own host.

    Tokens are read from the environment at start and never put in settings, items, logs or the DB.
    """

    def __init__(self, tokens_by_host: dict[str, str]):
        self.tokens_by_host = tokens_by_host

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        tokens = {}
        for endpoint_setting, variable in (("HF_ENDPOINT", "HF_TOKEN"), ("GITHUB_API_URL", "GITHUB_TOKEN")):
            token = os.environ.get(variable)
            endpoint = settings.get(endpoint_setting)
            if token and endpoint:
                tokens[urlsplit(endpoint).netloc.lower()] = token
        return cls(tokens)

    def process_request(self, request, spider=None):
        token = self.tokens_by_host.get(urlsplit(request.url).netloc.lower())
        if token and b"Authorization" not in request.headers:
            request.headers[b"Authorization"] = f"Bearer {token}".encode()
        elif not token:
            # A redirect to another host must not carry a token that belongs elsewhere.
            request.headers.pop(b"Authorization", None)
        return None
