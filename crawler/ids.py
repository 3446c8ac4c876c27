"""Ids, by the hosts' own rules: what people paste (`owner/name`, Hub URLs such as
`https://huggingface.co/owner/name`, `/tree/main`, `/blob/…`, `hf.co/…`, GitHub URLs, with surrounding whitespace),
and what the servers answer (repo ids, commit shas, branch names). One set of rules for both: an id a user types, a
card names or a server sends is refused the same way, with a message that quotes it (shortened) and says which rule
it breaks. Anything else is a `BadId`."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id

from crawler.labels import GITHUB_LINK, normalise_github

HUB_HOSTS = {"huggingface.co", "www.huggingface.co", "hf.co"}
# What may follow a repo on a Hub page: a file view, a revision, the files tab, discussions …
HUB_PAGE_PARTS = {"tree", "blob", "resolve", "raw", "commit", "commits", "discussions", "discussion", "files"}
REPO_PART = re.compile(r"^[A-Za-z0-9][\w.-]*$")
HUB_NAME_MAX = 96  # the Hub's repo names and namespaces (huggingface_hub.utils.validate_repo_id)
# GitHub logins: letters, digits and hyphens, not starting with a hyphen, at most 39 (Enterprise Managed Users add
# `_shortcode`, so `_` is taken too); repo names: at most 100 of letters, digits, `.`, `_`, `-`, never `.` or `..`.
GITHUB_OWNER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,38}")
GITHUB_REPO = re.compile(r"[A-Za-z0-9._-]{1,100}")
# A git commit (or tree, or blob) id as both APIs send it: 40 lower-case hex digits (SHA-1; neither host serves
# SHA-256 repositories).
GIT_SHA = re.compile(r"[0-9a-f]{40}")
# git check-ref-format's rules, as a pattern over one name (git has no library call we can use from Python without
# a git binary; the rules are short and stable): no ASCII control, space, `~ ^ : ? * [ \`, no `..`, no `@{`,
# no empty component, none starting with `.` or ending with `.lock`, not ending with `.` or `/`, not `@`.
REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//|(^|/)\.|\.lock(/|$)|[./]$|^/|^@$|^-")
REF_MAX = 255  # a ref is a file under .git/refs: a longer name fails on every common file system
# An arXiv identifier: `2307.09288` (v2 …) since 2007, `hep-th/9901001` before.
ARXIV_ID = re.compile(r"\d{4}\.\d{4,5}(v\d+)?|[a-z-]+(\.[A-Z]{2})?/\d{7}(v\d+)?")


class BadId(ValueError):
    """Not a model id nor a Hub or GitHub URL; the message quotes the input."""


def shown(value: object, limit: int = 80) -> str:
    """A value quoted for a message: repr, cut at `limit` characters with its length said (a 5,000-character id
    must not fill the errors table)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    length = f" ({len(value)} characters)" if isinstance(value, str) else ""
    return f"{text[:limit]}…{length}"


def foreign_characters(value: str) -> str | None:
    """Why an id holds characters no Hub or GitHub id does, in words, or None: an invisible character or a bidi
    control (`U+202E RIGHT-TO-LEFT OVERRIDE`), or a letter of another script among Latin ones (a Cyrillic `о` in
    `meta-llamа`: a look-alike of another id)."""
    for char in value:
        if char.isascii() and char.isprintable():
            continue
        name = unicodedata.name(char, "unnamed")
        code = f"U+{ord(char):04X} {name}"
        if unicodedata.category(char) in ("Cf", "Cc", "Zs", "Zl", "Zp", "Mn", "Me"):
            return f"holds an invisible or control character ({code}): refused as a possible look-alike"
        script = name.split(" ", 1)[0]
        latin = any(c.isascii() and c.isalpha() for c in value)
        mixed = " among Latin letters" if latin and script != "LATIN" else ""
        return f"holds a {script.title()} character {code}{mixed}: ids are ASCII, refused as a possible look-alike"
    return None


def hub_repo_id(value: object, what: str = "Hugging Face repo id") -> str:
    """`value` when it is a Hub repo id (`name` or `namespace/name`) by the Hub's rules, else BadId saying why:
    ASCII letters, digits, `-_.`, each part at most 96 characters, no `--` or `..`, not ending in `.git`."""
    if not isinstance(value, str):
        raise BadId(f"not a {what}: {shown(value)} is a {type(value).__name__}, not a string")
    if (foreign := foreign_characters(value)) is not None:
        raise BadId(f"not a {what}: {shown(value)} {foreign}")
    longest = max((len(part) for part in value.split("/")), default=0)
    if longest > HUB_NAME_MAX:
        raise BadId(f"not a {what}: {shown(value)}: a part of {longest} characters, the Hub allows at most "
                    f"{HUB_NAME_MAX}")
    try:
        validate_repo_id(value)
    except HFValidationError as exc:
        raise BadId(f"not a {what}: {shown(value)}: {str(exc).split(':', 1)[0]}") from None
    return value


def github_repo(value: object) -> str:
    """`value` when it is a GitHub `owner/repo` by GitHub's rules, else BadId saying why."""
    if not isinstance(value, str):
        raise BadId(f"not a GitHub owner/repo: {shown(value)} is a {type(value).__name__}, not a string")
    if (foreign := foreign_characters(value)) is not None:
        raise BadId(f"not a GitHub owner/repo: {shown(value)} {foreign}")
    owner, slash, name = value.partition("/")
    if not slash or not GITHUB_OWNER.fullmatch(owner) or not GITHUB_REPO.fullmatch(name) or name in (".", ".."):
        raise BadId(f"not a GitHub owner/repo: {shown(value)}: an owner is at most 39 letters, digits or hyphens, "
                    "a repo name at most 100 letters, digits, '.', '_' or '-'")
    return value


def git_sha(value: object, what: str = "commit sha") -> str:
    """`value` when it is a git object id as the Hub and GitHub send it (40 lower-case hex digits), else BadId."""
    if not isinstance(value, str) or not GIT_SHA.fullmatch(value):
        raise BadId(f"not a {what}: {shown(value)} is not 40 lower-case hex digits")
    return value


def git_ref(value: object, what: str = "branch name") -> str:
    """`value` when it is a branch or tag name by git's ref rules (git check-ref-format), else BadId."""
    if not isinstance(value, str):
        raise BadId(f"not a {what}: {shown(value)} is a {type(value).__name__}, not a string")
    if not value or len(value) > REF_MAX or REF_FORBIDDEN.search(value) or \
            any(unicodedata.category(c) in ("Cc", "Cf") for c in value):
        raise BadId(f"not a {what}: {shown(value)} breaks git's ref rules (git check-ref-format)")
    return value


def arxiv_id(value: object) -> str:
    """`value` when it is an arXiv identifier, else BadId."""
    if not isinstance(value, str) or not ARXIV_ID.fullmatch(value):
        raise BadId(f"not an arXiv id: {shown(value)}")
    return value


def repo_id_of(repo_type: str, value: object) -> str:
    """The id of a repo of `repo_type` (model, dataset: the Hub's rules; github: GitHub's), else BadId."""
    return github_repo(value) if repo_type == "github" else hub_repo_id(value, f"Hugging Face {repo_type} id")


def parse_ref(text: str) -> tuple[str, str]:
    """("model", "owner/name") for a Hub model id or URL; ("github", "owner/repo") for a GitHub URL."""
    value = text.strip()
    if not value:
        raise BadId("empty model id")
    if "github.com" in value.lower():
        match = GITHUB_LINK.search(value if "://" in value else f"https://{value}")
        if not match:
            raise BadId(f"not a GitHub repo URL: {shown(text)}")
        return "github", github_repo(normalise_github(match.group(1), match.group(2)))
    if "://" in value or value.lower().split("/", 1)[0] in HUB_HOSTS:
        parts = urlsplit(value if "://" in value else f"https://{value}")
        if parts.hostname not in HUB_HOSTS:
            raise BadId(f"not a Hugging Face URL: {shown(text)} (expected https://huggingface.co/owner/name)")
        path = [p for p in parts.path.split("/") if p]
        if path[:1] in (["datasets"], ["spaces"]):
            raise BadId(f"a {path[0][:-1]}, not a model: {shown(text)}")
        if len(path) < 2 or (len(path) > 2 and path[2] not in HUB_PAGE_PARTS):
            raise BadId(f"not a model page: {shown(text)} (expected https://huggingface.co/owner/name)")
        value = "/".join(path[:2])
    owner, _, name = value.partition("/")
    if foreign_characters(value) is None and not (REPO_PART.match(owner) and REPO_PART.match(name)) \
            or ".." in value:
        raise BadId(f"not a Hugging Face model id (owner/name) or URL: {shown(text)}")
    return "model", hub_repo_id(f"{owner}/{name}", "Hugging Face model id")


def model_id(text: str) -> str:
    """The Hub model id of `text`; BadId when it names something else."""
    kind, ref = parse_ref(text)
    if kind != "model":
        raise BadId(f"a GitHub repo, not a Hugging Face model: {shown(text)}")
    return ref
