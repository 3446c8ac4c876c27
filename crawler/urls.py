"""Every URL the spiders ask for, built in one place from the configured endpoint and parts, each part quoted; and
the pagination links a server answers, followed only when they stay on that endpoint.

A part is a value already checked by its own rule (an id by `crawler.ids`, a path by `safe_path`); building still
refuses what would leave the path it names (`..`, `.`, an empty segment), so a value that slipped past a check can
never steer a request elsewhere.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote, urlencode, urljoin, urlsplit

import httpx
from w3lib.url import canonicalize_url

from crawler.endpoints import origin_and_path

# GitHub's pagination links name a repo by its numeric id (`/repositories/1296269/releases?page=2`) where the first
# page named it `/repos/<owner>/<repo>/releases`: the same resource.
GITHUB_REPO_PATH = re.compile(r"^/(?:repos/[^/]+/[^/]+|repositories/\d+)(?=/|$)")


class UnsafeUrl(ValueError):
    """A part or a link that would take a request off the path or the endpoint it belongs to; says why."""


def safe_path(path: object) -> bool:
    """A repo path that can become part of a URL: relative, no `..`, `.` or empty segment, no NUL. Other control
    characters are quoted like any character (git allows them: macOS writes `Icon\r` files)."""
    return isinstance(path, str) and bool(path) and not path.startswith("/") and "\x00" not in path and \
        all(part not in ("", ".", "..") for part in path.split("/"))


def endpoint_url(base: str, *parts: str, query=None) -> str:
    """`base` (a configured endpoint, trusted) followed by `parts`, each one or more `/`-separated path segments,
    every segment quoted whole (`?`, `#`, `%` and `\\` cannot end the path or start a query); `query` (pairs or a
    mapping) url-encoded."""
    segments = []
    for part in parts:
        if not isinstance(part, str):
            raise UnsafeUrl(f"a URL part must be a string, not {type(part).__name__}")
        for segment in part.split("/"):
            if segment in ("", ".", "..") or "\x00" in segment:
                raise UnsafeUrl(f"the URL part {part[:120]!r} has an empty, '.' or '..' segment or a NUL")
            segments.append(quote(segment, safe=""))
    url = "/".join([base.rstrip("/"), *segments])
    return f"{url}?{urlencode(query)}" if query else url


def page_key(url: str) -> str:
    """The same page however its URL is spelt (query order, escapes): the key a page is claimed by once read."""
    return canonicalize_url(url)


def next_page(link_header: str, page_url: str, base: str) -> str | None:
    """The `rel="next"` target of a `Link` header (resolved against the page it came with), or None when there is
    none. UnsafeUrl when it would leave the endpoint (another scheme, host or port, a path outside the endpoint's
    path, credentials, dot segments such as `..` or `%2e%2e`, control characters) or the resource: the next page of
    a tree, a list of releases or the listing is the same path with another query."""
    if not link_header:
        return None
    # The header parsed as huggingface_hub's own pagination reads it (httpx, which huggingface_hub depends on):
    # quoted parameters, several links, `rel` among other parameters.
    links = httpx.Response(200, headers={"Link": link_header}).links
    target = (links.get("next") or {}).get("url")
    if target is None:
        return None
    if any(ord(c) <= 32 or c in "\x7f\\" for c in target):
        raise UnsafeUrl(f'the Link rel="next" {target[:200]!r} holds a space, a control character or a backslash')
    url = urljoin(page_url, target)
    found, endpoint = urlsplit(url), urlsplit(base)
    if origin_and_path(url)[0] != origin_and_path(base)[0]:  # scheme, host and port, as tokens are matched
        raise UnsafeUrl(f'the Link rel="next" {url[:200]!r} leaves the endpoint {base}')
    if found.username is not None or found.password is not None:
        raise UnsafeUrl(f'the Link rel="next" {url[:200]!r} carries credentials')
    segments = found.path.split("/")
    if any(unquote(s) in (".", "..") or "/" in unquote(s) for s in segments):
        raise UnsafeUrl(f'the Link rel="next" {url[:200]!r} has a dot segment or an escaped slash')
    prefix = endpoint.path.rstrip("/") + "/"
    if not found.path.startswith(prefix):
        raise UnsafeUrl(f'the Link rel="next" {url[:200]!r} is outside the endpoint\'s path {prefix}')
    if not _same_resource(found.path, urlsplit(page_url).path, prefix):
        raise UnsafeUrl(f'the Link rel="next" {url[:200]!r} is not a page of the resource {page_url[:200]!r}')
    return url.split("#", 1)[0]


def _same_resource(path: str, page_path: str, prefix: str) -> bool:
    """Whether two paths below the endpoint name one resource: the same path, or the same path under the same
    GitHub repo, named by owner/repo or by its numeric id (GITHUB_REPO_PATH)."""
    one, other = "/" + path[len(prefix):], "/" + page_path[len(prefix):]
    if one == other:
        return True
    repo, page_repo = GITHUB_REPO_PATH.match(one), GITHUB_REPO_PATH.match(other)
    if not (repo and page_repo) or one[repo.end():] != other[page_repo.end():]:
        return False
    named = repo.group(0), page_repo.group(0)
    return any(n.startswith("/repositories/") for n in named) or named[0].lower() == named[1].lower()
