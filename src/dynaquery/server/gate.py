"""The gate: what every request passes before any route (or its body) is touched. The Host
header (DNS rebinding), who sends every /api request (a token or the page's session: auth.py),
known before the body is read (so a client without it cannot make the server take in a large
body), the body's size, and the security headers of every answer. Who it is goes to the routes
as `request.state.principal`, and to the history as the acting user (users.acting_as)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

import anyio
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import Headers, State

from .. import store
from ..users import SERVER_TOKEN, acting_as
from .answers import too_large_answer
from .auth import bearer_of, identify, token_matches

MAX_BODY_BYTES = 4 * 1024 * 1024  # a request body's limit: queries and settings are small JSON
SECURITY_HEADERS = (
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; "
        b"img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        b"form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
PUBLIC = ("/api/downloads/",)  # a download link is its own key
SIGN_IN = ("POST", "/api/session")  # signing in needs no sign-in (the limiter still applies)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_hosts_for(host: str, port: int, extra: Iterable[str] = ()) -> list[str] | None:
    """The Host headers the server answers. On loopback: the loopback names (a page elsewhere
    cannot reach it through a name of its own: DNS rebinding) and `extra`; on another address:
    `extra` and the address itself, or any Host when `extra` is empty."""
    extra = [h.strip().lower() for h in extra if h.strip()]
    if is_loopback(host):
        names = [*LOOPBACK_NAMES, *extra]
    elif extra:
        names = [f"[{host}]" if ":" in host else host, *extra]
    else:
        return None
    allowed = []
    for name in names:
        allowed.append(name if _port_of(name) is not None else f"{name}:{port}")
        if port == 80 and _port_of(name) is None:
            allowed.append(name)  # a browser leaves the default port out
    return allowed


def _port_of(host: str) -> str | None:
    head, _, tail = host.rpartition(":")
    return (
        tail
        if head and tail.isdigit() and (not head.startswith("[") or head.endswith("]"))
        else None
    )


class Gate:
    """An ASGI middleware around the whole application, its 500s included. Its settings are
    the application's state: `allowed_hosts` (None: any), `token_sha256`, `sign_ins` (the
    SignInLimiter) and `max_body`."""

    def __init__(self, app, state: State):
        self.app = app
        self.state = state

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", ())}
                message["headers"] = [
                    *message.get("headers", ()),
                    *((k, v) for k, v in SECURITY_HEADERS if k not in names),
                ]
            await send(message)

        headers = Headers(scope=scope)
        refusal = self._wrong_host(headers)
        if refusal is None and _needs_sign_in(scope):
            found = await self._identify(scope, headers)
            if isinstance(found, Response):
                refusal = found
            else:
                principal, csrf = found
                scope.setdefault("state", {}).update(principal=principal, csrf=csrf)
        refusal = refusal or self._too_large(headers)
        if refusal is not None:
            return await refusal(scope, receive, send_with_headers)
        principal = scope.get("state", {}).get("principal")
        with store.request_scope():  # the workspace's generation read once (store.py)
            if principal is None or principal.user_id is None:
                return await self.app(scope, receive, send_with_headers)
            with acting_as(principal.name):  # the history records who
                await self.app(scope, receive, send_with_headers)

    async def _identify(self, scope, headers: Headers):
        address = scope["client"][0] if scope.get("client") else ""
        method = scope.get("method", "GET")
        given = bearer_of(headers)
        if (
            given
            and token_matches(given, self.state.token_sha256)
            and not self.state.sign_ins.retry_after(address)
        ):
            return SERVER_TOKEN, None  # the single user's token: nothing to look up
        # a user's token or session is looked up in the workspace: not on the event loop
        return await anyio.to_thread.run_sync(identify, self.state, headers, method, address)

    def _wrong_host(self, headers: Headers) -> Response | None:
        """The answer for a request from a Host the server does not answer; None otherwise."""
        allowed = self.state.allowed_hosts
        if allowed is not None and headers.get("host", "").lower() not in allowed:
            return JSONResponse(
                {
                    "error": "InvalidHost",
                    "message": "This server does not "
                    "answer to that Host header (see `dynaquery serve "
                    "--allowed-host`).",
                },
                status_code=400,
            )
        return None

    def _too_large(self, headers: Headers) -> Response | None:
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.state.max_body:
            # Told now, unread; a body without a length is cut off as it passes the limit
            # (FastAPI's max_body_size).
            return too_large_answer(self.state.max_body)
        return None


def _needs_sign_in(scope) -> bool:
    path = scope.get("path", "")
    if (scope.get("method"), path) == SIGN_IN:
        return False
    return (path.startswith("/api/") and not path.startswith(PUBLIC)) or path == "/openapi.json"


class GatedFastAPI(FastAPI):
    """FastAPI with the gate outside everything, its 500s included."""

    def build_middleware_stack(self):
        return Gate(super().build_middleware_stack(), self.state)
