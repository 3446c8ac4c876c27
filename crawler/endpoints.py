"""The two endpoints a crawl talks to (the Hub's and GitHub's base URLs): what a base URL may be, and which endpoint,
so which token, a request is for.

A token belongs to an endpoint (scheme, host, port and path), not to a host: a replica, a mirror or a proxy may serve
both APIs on one host, under one base URL or two.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# The Scrapy setting of each endpoint, and the environment variable of its token.
TOKEN_VARIABLES = {"HF_ENDPOINT": "HF_TOKEN", "GITHUB_API_URL": "GITHUB_TOKEN"}
DEFAULT_PORTS = {"http": 80, "https": 443}


class EndpointError(ValueError):
    """An endpoint that is refused; the message never repeats a user name or password it carried."""


def redacted(value: str) -> str:
    """The URL with any `user:password@` part replaced, fit for a message or a log."""
    return re.sub(r"(?<=//)[^/?#]*@", "***@", value)


def check_endpoint(value: str) -> str:
    """The base URL, without a trailing slash, of an http(s) endpoint with a host and a valid port. Refused: anything
    else, and a URL with credentials in it (`user:password@host`): it would be stored with the run, shown by
    `openness errors` and the review, and sent to every host a redirect leads to. Tokens come from HF_TOKEN and
    GITHUB_TOKEN, which are never stored."""
    value = value.strip()
    parts = urlsplit(value)
    if "@" in parts.netloc:
        raise EndpointError(f"{redacted(value)!r} carries a user name or password (user:password@host): refused, as "
                            f"it would be stored with the run and shown with its errors; give the endpoint without "
                            f"them and the token in HF_TOKEN or GITHUB_TOKEN")
    try:
        parts.port  # raises ValueError for a port out of range or not a number
    except ValueError as exc:
        raise EndpointError(f"{value!r} is not a URL: {exc}") from exc
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise EndpointError(f"{value!r} is not an http(s) URL with a host (e.g. https://huggingface.co)")
    return value.rstrip("/")


def origin_and_path(url: str) -> tuple[tuple[str, str, int | None], str]:
    parts = urlsplit(url)
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        port = None
    return (parts.scheme, (parts.hostname or "").lower(), port), parts.path.rstrip("/")


def under(url: str, base: str) -> bool:
    """Whether `url` is at or below the endpoint `base`: same scheme, host and port, and a path that is the base's
    path or goes on below it (by whole path segments: `/api2` is not below `/api`)."""
    origin, path = origin_and_path(url)
    base_origin, base_path = origin_and_path(base)
    return origin == base_origin and (path == base_path or path.startswith(base_path + "/"))


def endpoint_of(url: str, endpoints: dict[str, str], prefer: str = "") -> str | None:
    """The name of the endpoint `url` is for: the one with the longest base path that holds it; where two endpoints
    have the same base URL (a replica serving both APIs), `prefer` (the endpoint of the spider that asks)."""
    holding = [(len(origin_and_path(base)[1]), name == prefer, name) for name, base in endpoints.items()
               if base and under(url, base)]
    return max(holding)[2] if holding else None
