"""Signing in: the server's token (kept as a SHA-256 digest), users' API tokens and the page's
session cookie (users.py), who a request comes from (`identify`), and the limit on wrong tokens
and passwords per client address. The gate (gate.py) applies them to every /api request."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time

import sqlalchemy as sa
from fastapi import Depends, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import Headers
from starlette.requests import cookie_parser

from .. import store
from ..errors import ConfigurationError
from ..users import SERVER_TOKEN, Principal
from ..workspace import Workspace
from .answers import TooManySignIns, csrf_refused_answer, too_many_answer, unauthorized_answer

TOKEN_ENV = "DYNAQUERY_TOKEN"  # read by the command, which passes it on
TOKEN_SETTING = "server_token_sha256"
SESSION_COOKIE = "dynaquery_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def server_token(
    workspace: Workspace, given: str | None = None, *, allow_new: bool = True
) -> tuple[str, str | None]:
    """(SHA-256 of the token, the token itself when it was just generated, else None).
    `given`: the operator's token (DYNAQUERY_TOKEN), else the stored one, else a new one."""
    if given:
        return _digest(given), None
    stored = workspace.get_setting(TOKEN_SETTING)
    if stored:
        return stored, None
    if not allow_new:
        raise ConfigurationError(
            f"No token configured: set {TOKEN_ENV} before listening on a non-loopback address."
        )
    return _digest(token := new_token(workspace)), token


def new_token(workspace: Workspace) -> str:
    token = secrets.token_urlsafe(32)
    workspace.set_setting(TOKEN_SETTING, _digest(token))
    return token


def token_matches(given: str, token_sha256: str) -> bool:
    # Digests of equal length, compared in constant time: the token's length leaks nothing.
    return hmac.compare_digest(_digest(given), token_sha256)


class SignInLimiter:
    """Failed sign-ins per client address: after `failures` wrong tokens within `window` seconds,
    every request from that address is answered 429 (with Retry-After) until the oldest of them
    is older than the window. Thread-safe; a success resets nothing (failures expire by time
    alone), and one address's failures never block another.

    With an `engine` (the workspace's database), failures are shared by every server and worker
    on that workspace: each one is written at once, and each process reads the others' every
    `refresh` seconds, so a request never waits for the database to be let in."""

    def __init__(
        self,
        failures: int = 10,
        window: float = 60,
        max_addresses: int = 100_000,
        engine: sa.Engine | None = None,
        refresh: float = 1.0,
    ):
        self.failures = failures
        self.window = window
        self.max_addresses = max_addresses
        self.engine = engine
        self.refresh = refresh
        self._seen: dict[str, list[float]] = {}
        self._read_at = float("-inf")  # when the shared failures were last read
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> list[float]:
        times = [t for t in self._seen.get(address, ()) if now - t < self.window]
        if times:
            self._seen[address] = times
        else:
            self._seen.pop(address, None)
        return times

    def retry_after(self, address: str) -> int:
        """Seconds until `address` may try again; 0 when it may now."""
        now = time.time()
        self._read_shared(now)
        with self._lock:
            times = self._recent(address, now)
            if len(times) < self.failures:
                return 0
            return max(1, math.ceil(times[-self.failures] + self.window - now))

    def failed(self, address: str) -> None:
        now = time.time()
        if self.engine is not None:
            _share_failure(self.engine, address, now, self.window)
        with self._lock:
            if address not in self._seen and len(self._seen) >= self.max_addresses:
                for other in list(self._seen):  # forget the expired; if none, the oldest entry
                    self._recent(other, now)
                if len(self._seen) >= self.max_addresses:
                    self._seen.pop(next(iter(self._seen)))
            self._seen.setdefault(address, []).append(now)
            del self._seen[address][: -self.failures]

    def _read_shared(self, now: float) -> None:
        if self.engine is None or now - self._read_at < self.refresh:
            return
        self._read_at = now
        shared = _shared_failures(self.engine, now - self.window, self.max_addresses)
        with self._lock:
            self._seen = {a: sorted(times)[-self.failures :] for a, times in shared.items()}


def _share_failure(engine: sa.Engine, address: str, now: float, window: float) -> None:
    failures = store.sign_in_failures
    with store.transaction(engine, write=True, append_only=True) as db:
        db.execute(failures.delete().where(failures.c.at < now - window))
        db.execute(failures.insert().values(address=address[:64], at=now))


def _shared_failures(engine: sa.Engine, since: float, limit: int) -> dict[str, list[float]]:
    failures = store.sign_in_failures
    statement = (
        sa.select(failures.c.address, failures.c.at)
        .where(failures.c.at >= since)
        .order_by(failures.c.at.desc())
        .limit(limit)
    )
    seen: dict[str, list[float]] = {}
    with store.transaction(engine) as db:
        for address, at in db.execute(statement):
            seen.setdefault(address, []).append(at)
    return seen


def not_blocked(request: Request) -> str:
    """The client's address, unless too many wrong tokens came from it lately."""
    address = request.client.host if request.client else ""
    wait = request.app.state.sign_ins.retry_after(address)
    if wait:
        raise TooManySignIns(wait)
    return address


_bearer = HTTPBearer(auto_error=False)


def authorized(_credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> None:
    """Names the bearer scheme in /openapi.json for every /api route but a download link. The
    token itself is checked once, by the gate (gate.py), before any route or body is touched."""


def bearer_of(headers: Headers) -> str:
    scheme, _, given = headers.get("authorization", "").partition(" ")
    return given.strip() if scheme.lower() == "bearer" else ""


def session_of(headers: Headers) -> str:
    return cookie_parser(headers.get("cookie", "")).get(SESSION_COOKIE, "")


def identify(
    state, headers: Headers, method: str, address: str
) -> tuple[Principal, str | None] | Response:
    """Who sends a request, and their session's CSRF token (None for a bearer token); or the
    answer refusing it: 429 after too many wrong tokens, 401 without a sign-in, 403 for a change
    through the page's session without its CSRF token."""
    limiter = state.sign_ins
    wait = limiter.retry_after(address)
    if wait:
        return too_many_answer(wait)
    given = bearer_of(headers)
    if given:
        if token_matches(given, state.token_sha256):
            return SERVER_TOKEN, None
        principal = state.workspace.users.by_token(given)
        if principal is not None:
            return principal, None
        limiter.failed(address)  # a wrong token is a guess; no token at all is not
        return unauthorized_answer()
    cookie = session_of(headers)
    found = state.workspace.users.session(cookie) if cookie else None
    if found is None:
        return unauthorized_answer()
    principal, csrf = found
    if method not in SAFE_METHODS and not hmac.compare_digest(
        headers.get(CSRF_HEADER, "").encode("utf-8"), csrf.encode("utf-8")
    ):
        return csrf_refused_answer()
    return principal, csrf
