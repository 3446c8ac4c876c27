"""Failed logins to the review throttled per client and per account: after `max_failures` failures from one client
address, or for one account from anywhere, further attempts from it or for it are refused (429, with Retry-After)
for `lockout_seconds`, before any password is checked, the right one included.

datasette-auth-passwords checks passwords (its login form, and HTTP Basic credentials on any request) but counts
no failures, and Datasette has no login throttle: this plugin wraps the app (Datasette's `asgi_wrapper` hook) and
watches both ways in. Written by hand for want of a library: the rate-limit plugins limit requests per address,
not failed logins per account."""

from __future__ import annotations

import base64
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from datasette import hookimpl
from datasette_auth_passwords.utils import scope_has_valid_authorization

PLUGIN = "openness-review"
DEFAULTS = {"max_failures": 5, "max_account_failures": 10, "lockout_seconds": 900}
MAX_TRACKED = 10_000  # clients and accounts remembered at most (the oldest forgotten first): memory stays bounded
MAX_LOGIN_BODY = 16_384  # a login form is a user name and a password


@dataclass
class Counter:
    failures: list[float] = field(default_factory=list)
    locked_until: float = 0.0


class LoginThrottle:
    """Failures per key (`client:ADDRESS`, `account:NAME`) within the last `lockout_seconds`; a key that reaches
    its limit is locked for `lockout_seconds`. An attempt counts as a failure when it starts (so a burst of
    parallel guesses is counted before the slow password checks end) and is forgiven when it succeeds."""

    def __init__(self, max_failures: int, max_account_failures: int, lockout_seconds: float, clock=time.monotonic):
        self.limits = {"client": max_failures, "account": max_account_failures}
        self.lockout = lockout_seconds
        self.clock = clock
        self.counters: OrderedDict[str, Counter] = OrderedDict()

    @classmethod
    def from_config(cls, config: dict, clock=time.monotonic) -> "LoginThrottle":
        settings = {**DEFAULTS, **(config or {})}
        return cls(int(settings["max_failures"]), int(settings["max_account_failures"]),
                   float(settings["lockout_seconds"]), clock)

    def _keys(self, client: str, account: str | None) -> list[str]:
        return [f"client:{client}"] + ([f"account:{account[:200]}"] if account else [])

    def _counter(self, key: str) -> Counter:
        counter = self.counters.setdefault(key, Counter())
        self.counters.move_to_end(key)
        if len(self.counters) > MAX_TRACKED:
            # The oldest key not locked makes room: a flood of new names must not evict (and so unlock) a locked
            # account or address.
            now = self.clock()
            oldest = next((k for k, c in self.counters.items() if c.locked_until <= now), next(iter(self.counters)))
            del self.counters[oldest]
        return counter

    def attempt(self, client: str, account: str | None) -> float:
        """Start an attempt: the seconds to wait if the client or the account is locked, or this attempt is one past
        a limit (nothing is checked then), else 0 and the attempt counted as a failure until `succeeded`. A locked
        client's attempts are refused before they count anything (they add no key)."""
        now = self.clock()
        keys = self._keys(client, account)
        wait = max(self.counters[key].locked_until - now if key in self.counters else 0.0 for key in keys)
        if wait > 0:
            return wait
        counters = [(key, self._counter(key)) for key in keys]
        locked = False
        for key, counter in counters:
            counter.failures = [t for t in counter.failures if now - t < self.lockout] + [now]
            if len(counter.failures) > self.limits[key.split(":", 1)[0]]:  # past its limit: locked from now on
                counter.locked_until, counter.failures, locked = now + self.lockout, [], True
        return self.lockout if locked else 0.0

    def succeeded(self, client: str, account: str | None) -> None:
        for key in self._keys(client, account):
            self.counters.pop(key, None)


def _basic_user(scope: dict) -> str | None:
    """The user name of HTTP Basic credentials, if the request carries them."""
    header = dict(scope.get("headers") or []).get(b"authorization", b"")
    if not header.startswith(b"Basic "):
        return None
    try:
        # ASCII, as datasette-auth-passwords decodes them: other bytes are credentials no account can match.
        return base64.b64decode(header[6:], validate=True).decode("ascii").partition(":")[0]
    except ValueError:
        return ""


async def _refuse(send, status: int, text: str, wait: float = 0) -> None:
    headers = [(b"content-type", b"text/plain; charset=utf-8")]
    if wait:
        headers.append((b"retry-after", str(int(wait) + 1).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": text.encode()})


def _locked_text(wait: float) -> str:
    return (f"Too many failed logins from this address or for this account: try again in {int(wait) + 1} "
            f"seconds.\n")


@hookimpl
def asgi_wrapper(datasette):
    throttle = LoginThrottle.from_config((datasette.plugin_config(PLUGIN) or {}).get("login_throttle") or {})
    login_path = datasette.urls.path("/-/login")

    def wrap(app):
        async def throttled(scope, receive, send):
            if scope["type"] != "http":
                return await app(scope, receive, send)
            client = (scope.get("client") or ("unknown",))[0]
            basic = _basic_user(scope)
            if basic is not None:
                if wait := throttle.attempt(client, basic):
                    return await _refuse(send, 429, _locked_text(wait), wait)
                if not basic or scope_has_valid_authorization(scope, datasette) is None:
                    return await _refuse(send, 401, "Wrong user name or password.\n")
                throttle.succeeded(client, basic)
            if scope["path"] != login_path or scope["method"] != "POST":
                return await app(scope, receive, send)
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if len(body) > MAX_LOGIN_BODY:
                    return await _refuse(send, 413, "A login form is not that long.\n")
                if not message.get("more_body"):
                    break
            account = (parse_qs(body.decode("utf-8", "replace")).get("username") or [""])[0]
            if wait := throttle.attempt(client, account):
                return await _refuse(send, 429, _locked_text(wait), wait)
            replayed = False

            async def replay():
                nonlocal replayed
                if replayed:
                    return await receive()
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}

            async def watch(message):
                # datasette-auth-passwords answers a right password with a redirect that sets the signed actor
                # cookie, and a wrong one with the form again.
                if message["type"] == "http.response.start" and message["status"] in (301, 302, 303) and any(
                        name.lower() == b"set-cookie" and value.startswith(b"ds_actor=")
                        for name, value in message.get("headers", [])):
                    throttle.succeeded(client, account)
                await send(message)

            await app(scope, replay, watch)

        return throttled

    return wrap
