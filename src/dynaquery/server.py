"""`dynaquery serve`: the JSON API over the workspace, and the web page.

Every /api route needs `Authorization: Bearer TOKEN`. The token is DYNAQUERY_TOKEN, or one
generated on first start and kept in the workspace as a SHA-256 hash (it is printed once). The
page and its static files are public; they hold nothing but code. /openapi.json needs the token
too. Wrong tokens are rate-limited per client address (SignInLimiter: 429 with Retry-After). Secrets never leave the server:
data sources come back with secrets masked, and a secret field sent back masked or left out keeps
the stored value.

The routes are thin: each calls the same library functions the CLI calls.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
from pathlib import Path
from typing import Any, Iterable, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, model_validator

from . import __version__
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException

from .connection import SECRET_FIELDS, Connection, ConnectionConfig, Diagnosis
from .inputs import lone_surrogate
from .netguard import NetworkPolicy, guard_session, parse_address
from .errors import (ConfigurationError, ConnectionFailed, DynaqueryError, InputError,
                     ReadOnlyError, ServiceError, ValidationError)
from .results import to_json
from .workspace import MASK, Conflict, NotFound, Workspace, check_query

TOKEN_ENV = "DYNAQUERY_TOKEN"
TOKEN_SETTING = "server_token_sha256"
WEB_DIR = Path(__file__).with_name("web")


# ---------------------------------------------------------------------------------------------
# the token


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def server_token(workspace: Workspace, *, allow_new: bool = True) -> tuple[str, str | None]:
    """(SHA-256 of the token, the token itself when it was just generated, else None)."""
    given = os.environ.get(TOKEN_ENV)
    if given:
        return _digest(given), None
    stored = workspace.get_setting(TOKEN_SETTING)
    if stored:
        return stored, None
    if not allow_new:
        raise ConfigurationError(
            f"No token configured: set {TOKEN_ENV} before listening on a non-loopback address.")
    token = secrets.token_urlsafe(32)
    workspace.set_setting(TOKEN_SETTING, _digest(token))
    return _digest(token), token


def new_token(workspace: Workspace) -> str:
    token = secrets.token_urlsafe(32)
    workspace.set_setting(TOKEN_SETTING, _digest(token))
    return token


ALLOW_NETWORK_ENV = "DYNAQUERY_ALLOW_ENDPOINT_NETWORK"
# Where a cloud's instance metadata (and its credentials) answer: no endpoint given through the API
# may point there unless the operator allows it (--allow-endpoint-network link-local).
LINK_LOCAL_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "169.254.0.0/16",   # IPv4 link-local: AWS, GCP, Azure, ... metadata at 169.254.169.254
    "fe80::/10",        # IPv6 link-local
    "fd00:ec2::254/128",  # AWS's IPv6 metadata address
))


def link_local_allowed() -> bool:
    return os.environ.get(ALLOW_NETWORK_ENV, "").strip().lower() == "link-local"


def endpoint_policy() -> NetworkPolicy | None:
    """The server's policy for endpoints: link-local and metadata addresses are refused, unless
    the operator allows them (then None: no policy)."""
    if link_local_allowed():
        return None
    return NetworkPolicy(LINK_LOCAL_NETWORKS, "a link-local or cloud metadata address")


def check_endpoint(url: str | None, setting: str = "endpoint_url",
                   policy: NetworkPolicy | None = None) -> None:
    """Refuse an endpoint URL whose host is, or resolves to, an address the policy forbids (its
    IPv4 address inside an IPv6 one included). A name that does not resolve now passes: every
    connection is checked again where it lands (netguard.guard_session)."""
    import socket
    from urllib.parse import urlsplit

    policy = policy or endpoint_policy()
    if not url or policy is None:
        return
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return  # not a URL: the connection's own check says so
    if not host:
        return
    try:
        addresses = {parse_address(host)}
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None)
        except (OSError, UnicodeError):
            infos = []  # does not resolve: the connection will say it is unreachable
        addresses = {parse_address(str(info[4][0])) for info in infos}
    for address in addresses:
        bad = policy.forbidden_address(address)
        if bad is not None:
            raise InputError(
                f"The {setting} {url!r} points at {bad}, {policy.why}, which the server does not "
                "reach: start it with `dynaquery serve --allow-endpoint-network link-local` (or "
                f"{ALLOW_NETWORK_ENV}=link-local) to allow it.")


def check_endpoints(settings: Any, policy: NetworkPolicy | None = None) -> None:
    """Both endpoint settings of a request's body or a stored configuration."""
    for name in ("endpoint_url", "sts_endpoint_url"):
        value = settings.get(name) if isinstance(settings, dict) else getattr(settings, name, None)
        check_endpoint(value, name, policy)


class SignInLimiter:
    """Failed sign-ins per client address: after `failures` wrong tokens within `window` seconds,
    every request from that address is answered 429 (with Retry-After) until the oldest of them
    is older than the window. In memory, thread-safe; a success resets nothing (failures expire
    by time alone), and one address's failures never block another."""

    def __init__(self, failures: int = 10, window: float = 60, max_addresses: int = 100_000):
        import threading

        self.failures = failures
        self.window = window
        self.max_addresses = max_addresses
        self._seen: dict[str, list[float]] = {}
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
        import math
        import time

        now = time.monotonic()
        with self._lock:
            times = self._recent(address, now)
            if len(times) < self.failures:
                return 0
            return max(1, math.ceil(times[-self.failures] + self.window - now))

    def failed(self, address: str) -> None:
        import time

        now = time.monotonic()
        with self._lock:
            if address not in self._seen and len(self._seen) >= self.max_addresses:
                for other in list(self._seen):  # forget the expired; if none, the oldest entry
                    self._recent(other, now)
                if len(self._seen) >= self.max_addresses:
                    self._seen.pop(next(iter(self._seen)))
            self._seen.setdefault(address, []).append(now)
            del self._seen[address][:-self.failures]


class DownloadLinks:
    """One-use links to a table's export, valid for a minute.

    A link the browser follows cannot carry the Authorization header, and fetching the export
    with it would hold the whole file in the page's memory; so the page asks (with its token)
    for a link, and the browser's own download saves the stream to disk. A link holds a random
    256-bit ticket; only its digest is kept, in memory."""

    def __init__(self, seconds: float = 60, max_links: int = 1000):
        import threading

        self.seconds = seconds
        self.max_links = max_links
        self._links: dict[str, tuple[float, dict]] = {}
        self._lock = threading.Lock()

    def new(self, export: dict) -> str:
        import time

        ticket = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            for key in [k for k, (expires, _) in self._links.items() if expires <= now]:
                del self._links[key]
            if len(self._links) >= self.max_links:
                self._links.pop(next(iter(self._links)))
            self._links[_digest(ticket)] = (now + self.seconds, export)
        return ticket

    def take(self, ticket: str) -> dict | None:
        """The export a ticket stands for, once; None when it is unknown, used or expired."""
        import time

        with self._lock:
            expires, export = self._links.pop(_digest(ticket), (0.0, None))
        return export if expires > time.monotonic() else None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# ---------------------------------------------------------------------------------------------
# the API's shapes (they make /openapi.json)


class _Input(BaseModel):
    """A request body: its text must be Unicode, everywhere in it (a 400 naming the field)."""

    @model_validator(mode="before")
    @classmethod
    def _unicode_only(cls, data: Any) -> Any:
        found = lone_surrogate(data)
        if found:
            raise ValueError(found)
        return data


class ErrorOut(BaseModel):
    error: str
    message: str
    line: int | None = None
    column: int | None = None
    problems: list[dict[str, Any]] | None = None


class Settings(_Input):
    """A data source's settings; every field optional."""

    model_config = ConfigDict(extra="forbid")

    auth: Literal["iam_credentials", "instance_profile", "role_arn"] | None = None
    region: str | None = None
    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = Field(None, description='"********" or absent keeps the stored one; "" clears it')
    session_token: str | None = Field(None, description='"********" or absent keeps the stored one; "" clears it')
    profile: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    role_session_name: str | None = None
    role_duration_seconds: int | None = None
    sts_endpoint_url: str | None = None
    connect_timeout: float | None = None
    read_timeout: float | None = None
    max_attempts: int | None = Field(None, ge=1, le=10)
    retry_mode: Literal["standard", "adaptive", "legacy"] | None = None


class DataSourceIn(Settings):
    name: str
    read_only: bool = False
    description: str | None = None


class DataSourceUpdate(Settings):
    name: str | None = None
    read_only: bool | None = None
    description: str | None = None


class DataSourceTest(Settings):
    id: str | None = Field(None, description="a saved data source whose stored secrets fill the "
                                             "secret fields left out or masked")


class DataSourceOut(BaseModel):
    id: str
    name: str
    description: str | None
    read_only: bool
    auth: str
    region: str | None
    endpoint_url: str | None
    access_key_id: str | None
    secret_access_key: str | None = Field(description='"********" when stored, else null')
    session_token: str | None = Field(description='"********" when stored, else null')
    profile: str | None
    role_arn: str | None
    external_id: str | None
    role_session_name: str | None
    role_duration_seconds: int | None
    sts_endpoint_url: str | None
    connect_timeout: float | None
    read_timeout: float | None
    max_attempts: int | None
    retry_mode: str | None
    created_at: str
    updated_at: str


class DiagnosisOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    ok: bool
    message: str


class QueryIn(_Input):
    model_config = ConfigDict(extra="forbid")

    name: str
    datasource: str = Field(description="data source id or name")
    operation: str
    params: str = Field("", description="the parameter text, kept verbatim")
    transform: str | None = None
    description: str | None = None
    defaults: dict[str, Any] | None = None


class QueryUpdate(_Input):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    datasource: str | None = None
    operation: str | None = None
    params: str | None = None
    transform: str | None = None
    description: str | None = None
    defaults: dict[str, Any] | None = None


class QueryOut(BaseModel):
    id: str
    name: str
    datasource: str
    datasource_id: str
    operation: str
    params: str
    transform: str | None
    description: str | None
    defaults: dict[str, Any]
    placeholders: list[str]
    created_at: str
    updated_at: str


class RunOptions(_Input):
    model_config = ConfigDict(extra="forbid")

    values: dict[str, Any] | None = Field(None, description="values of {{ }} placeholders")
    transform: str | None = None
    all_pages: bool = False
    max_items: int | None = Field(None, ge=1)
    starting_token: str | None = None
    batch_timeout: float = Field(60, ge=0)
    confirm: bool = Field(False, description="required (true) to run an operation that deletes "
                                             "data or changes a table; else the answer is 428")


class RunIn(RunOptions):
    datasource: str
    operation: str
    params: str | dict[str, Any] | None = None


class ResultOut(BaseModel):
    data: Any
    meta: dict[str, Any] = Field(description="duration, count, pages, next_token, summary, ...")
    raw: dict[str, Any]
    complete: bool = Field(description="false only when a batch left requests unprocessed; "
                                       "more pages are told by meta.next_token")


class CheckIn(_Input):
    operation: str
    params: str = ""
    transform: str | None = None


class CheckOut(BaseModel):
    ok: bool
    operation: str | None = None
    placeholders: list[str] = []
    error: ErrorOut | None = None


class OperationOut(BaseModel):
    name: str
    python_name: str
    summary: str
    access: str
    paginated: bool


class ParameterOut(BaseModel):
    name: str
    type: str
    required: bool
    documentation: str


class OperationDetail(OperationOut):
    documentation: str
    parameters: list[ParameterOut]
    example: str


class TablesOut(BaseModel):
    tables: list[str]


class DownloadLinkOut(BaseModel):
    url: str = Field(description="where the export downloads, once, without the token")
    expires_in: float = Field(description="seconds the link stays valid")


class KeyOut(BaseModel):
    name: str
    type: str


class IndexOut(BaseModel):
    name: str
    kind: Literal["global", "local"]
    partition_key: KeyOut
    sort_key: KeyOut | None
    projection: str


class TableOut(BaseModel):
    name: str
    status: str | None
    item_count: int | None
    size_bytes: int | None
    partition_key: KeyOut
    sort_key: KeyOut | None
    indexes: list[IndexOut]
    query_template: str
    scan_template: str


class RunRecordOut(BaseModel):
    id: int
    started_at: str
    duration_ms: float | None
    operation: str
    outcome: str
    query: str | None
    datasource: str | None
    item_count: int | None
    error: str | None
    origin: str | None


class SessionOut(BaseModel):
    ok: bool
    version: str
    demo: bool


# ---------------------------------------------------------------------------------------------
# errors


def _status(error: DynaqueryError) -> int:
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, Conflict):
        return 409
    if isinstance(error, ReadOnlyError):
        return 403
    if isinstance(error, InputError):
        return 400
    if isinstance(error, (ServiceError, ConnectionFailed)):
        return 502
    return 500


def error_body(error: DynaqueryError, text: str | None = None) -> dict:
    """The error as JSON; validation problems carry the line they point at in `text`."""
    from .parsing import locate

    body = error.to_dict()
    if isinstance(error, ValidationError) and text:
        for problem in body["problems"]:
            where = locate(text, problem["path"])
            if where:
                problem["line"], problem["column"] = where
        first = next((p for p in body["problems"] if "line" in p), None)
        if first:
            body["line"], body["column"] = first["line"], first["column"]
    return body


class _ExactJSON(JSONResponse):
    """JSON with exact numbers (Decimal) and binary as base64: results are never rounded."""

    def render(self, content: Any) -> bytes:
        return to_json(content, pretty=False).encode("utf-8")


class _ApiError(Exception):
    def __init__(self, error: DynaqueryError, text: str | None = None):
        self.error = error
        self.text = text


# ---------------------------------------------------------------------------------------------
# the gate: what every request passes before any route (or its body) is touched


MAX_BODY_BYTES = 4 * 1024 * 1024  # a request body's limit: queries and settings are small JSON
SECURITY_HEADERS = (
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; "
     b"img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
     b"form-action 'self'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


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
    return tail if head and tail.isdigit() and (not head.startswith("[") or head.endswith("]")) \
        else None


class _Gate:
    """An ASGI middleware around the whole application: the Host header, the security headers
    of every answer, and the token of every /api route, checked before the body is read (so a
    client without the token cannot make the server take in a large body)."""

    PUBLIC = ("/api/downloads/",)  # a download link is its own key

    def __init__(self, app, *, token_sha256: str, limiter: SignInLimiter,
                 allowed_hosts: list[str] | None, max_body: int):
        self.app = app
        self.max_body = max_body
        self.token_sha256 = token_sha256
        self.limiter = limiter
        self.allowed_hosts = {h.lower() for h in allowed_hosts} if allowed_hosts is not None \
            else None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", ())}
                message["headers"] = [*message.get("headers", ()),
                                      *((k, v) for k, v in SECURITY_HEADERS if k not in names)]
            await send(message)

        headers = Headers(scope=scope)
        if self.allowed_hosts is not None and headers.get("host", "").lower() not in self.allowed_hosts:
            answer = JSONResponse({"error": "InvalidHost", "message": "This server does not "
                                   "answer to that Host header (see `dynaquery serve "
                                   "--allowed-host`)."}, status_code=400)
            return await answer(scope, receive, send_with_headers)
        path = scope.get("path", "")
        if (path.startswith("/api/") and not path.startswith(self.PUBLIC)) or path == "/openapi.json":
            refusal = self._refusal(scope, headers)
            if refusal is not None:
                return await refusal(scope, receive, send_with_headers)
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body:
            # Told now, unread; a body without a length is cut off as it passes the limit
            # (FastAPI's max_body_size).
            return await _too_large_answer(self.max_body)(scope, receive, send_with_headers)
        await self.app(scope, receive, send_with_headers)

    def _refusal(self, scope, headers) -> Response | None:
        """The 429 or 401 for a request without the right token; None when it has it."""
        address = scope["client"][0] if scope.get("client") else ""
        wait = self.limiter.retry_after(address)
        if wait:
            return _too_many_answer(wait)
        scheme, _, given = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            given = ""
        # Digests of equal length, compared in constant time: the token's length leaks nothing.
        if hmac.compare_digest(_digest(given), self.token_sha256):
            return None
        if given:  # a wrong token is a guess; no token at all is not
            self.limiter.failed(address)
        return _unauthorized_answer()


def _too_large_answer(limit: int) -> JSONResponse:
    return JSONResponse({"error": "ContentTooLarge", "message": "The request body is larger "
                         f"than the server takes ({limit} bytes)."}, status_code=413)


def _unauthorized_answer() -> JSONResponse:
    return JSONResponse({"error": "Unauthorized", "message": "Sign in: send the server's token "
                         "as 'Authorization: Bearer TOKEN'."}, status_code=401,
                        headers={"WWW-Authenticate": "Bearer"})


def _too_many_answer(seconds: int) -> JSONResponse:
    return JSONResponse({"error": "TooManyRequests", "message": "Too many failed sign-ins from "
                         f"this address: try again in {seconds} s."}, status_code=429,
                        headers={"Retry-After": str(seconds)})


class _App(FastAPI):
    """FastAPI with the gate outside everything, its 500s included."""

    gate_options: dict = {}

    def build_middleware_stack(self):
        return _Gate(super().build_middleware_stack(), **self.gate_options)


# ---------------------------------------------------------------------------------------------
# the application


def create_app(workspace: Workspace, token_sha256: str, *, demo: bool = False,
               allowed_hosts: Iterable[str] | None = None, max_body: int = MAX_BODY_BYTES,
               network_policy: NetworkPolicy | None = None) -> FastAPI:
    """The API and the page. `allowed_hosts`: the Host headers answered (None: any; `serve`
    passes allowed_hosts_for()); `max_body`: a request body's limit in bytes (413 above);
    `network_policy`: the addresses endpoints may not reach (default: endpoint_policy())."""
    app = _App(title="dynaquery", version=__version__,
               description="The DynamoDB query manager's API: data sources, queries, runs, "
                           "the operations catalog, a table browser and the run history. "
                           "Every route needs `Authorization: Bearer TOKEN`.",
               docs_url=None, redoc_url=None, openapi_url=None, max_body_size=max_body)
    bearer = HTTPBearer(auto_error=False)
    limiter = app.state.sign_ins = SignInLimiter()
    links = app.state.download_links = DownloadLinks()
    app.gate_options = {"token_sha256": token_sha256, "limiter": limiter, "max_body": max_body,
                        "allowed_hosts": None if allowed_hosts is None else list(allowed_hosts)}

    def policy() -> NetworkPolicy | None:
        return network_policy if network_policy is not None else endpoint_policy()

    def guard_network(session) -> None:
        """Installed on every botocore session the server's connections build: each new
        connection's peer address is checked against the policy."""
        current = policy()
        if current is not None:
            guard_session(session, current)

    workspace.network_guard = guard_network

    def not_blocked(request: Request) -> str:
        """The client's address, unless too many wrong tokens came from it lately."""
        address = request.client.host if request.client else ""
        wait = limiter.retry_after(address)
        if wait:
            raise _TooManySignIns(wait)
        return address

    def authorized(request: Request,
                   credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        address = not_blocked(request)
        given = credentials.credentials if credentials else ""
        # Digests of equal length, compared in constant time: the token's length leaks nothing.
        if not hmac.compare_digest(_digest(given), token_sha256):
            if given:  # a wrong token is a guess; no token at all is not
                limiter.failed(address)
            raise _Unauthorized()

    responses = {400: {"model": ErrorOut}, 401: {"model": ErrorOut}, 403: {"model": ErrorOut},
                 404: {"model": ErrorOut},
                 409: {"model": ErrorOut}, 428: {"model": ErrorOut}, 429: {"model": ErrorOut},
                 502: {"model": ErrorOut}}
    api = dict(dependencies=[Depends(authorized)], responses=responses)

    @app.exception_handler(_Unauthorized)
    async def _unauthorized(_request: Request, _exc: Exception) -> JSONResponse:
        return _unauthorized_answer()

    @app.exception_handler(_TooManySignIns)
    async def _too_many(_request: Request, exc: _TooManySignIns) -> JSONResponse:
        return _too_many_answer(exc.seconds)

    @app.exception_handler(_ConfirmationRequired)
    async def _confirmation_required(_request: Request, exc: _ConfirmationRequired) -> JSONResponse:
        return JSONResponse({"error": "ConfirmationRequired", "message": exc.message,
                             "operation": exc.operation, "question": exc.question},
                            status_code=428)

    def confirm_destructive(request) -> None:
        """The workspace asks before a destructive call (catalog.Operation.is_destructive): the
        answer is 428 unless the request said `"confirm": true`."""
        raise _ConfirmationRequired(request.operation.name,
                                    request.operation.confirmation(request.params))

    @app.exception_handler(_ApiError)
    async def _api_error(_request: Request, exc: _ApiError) -> JSONResponse:
        return _ExactJSON(error_body(exc.error, exc.text), status_code=_status(exc.error))

    @app.exception_handler(DynaqueryError)
    async def _dynaquery_error(_request: Request, exc: DynaqueryError) -> JSONResponse:
        return _ExactJSON(error_body(exc), status_code=_status(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 413:
            return _too_large_answer(max_body)
        return JSONResponse({"error": "NotFound" if exc.status_code == 404 else "HTTPError",
                             "message": str(exc.detail)}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [{"path": ".".join(str(p) for p in e["loc"] if p != "body"),
                     "message": e["msg"].removeprefix("Value error, ")} for e in exc.errors()]
        message = "Invalid request: " + "; ".join(
            f"{p['path']}: {p['message']}" if p["path"] else p["message"] for p in problems)
        if any(e["type"] in ("model_attributes_type", "json_invalid") for e in exc.errors()):
            message += " (send a JSON object with Content-Type: application/json)"
        return JSONResponse({"error": "InputError", "message": message, "problems": problems},
                            status_code=400)

    # -- the API's description (it holds no data, but every route but the page needs the token)

    @app.get("/openapi.json", include_in_schema=False, dependencies=api["dependencies"])
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    # -- session, catalog ----------------------------------------------------------------------

    @app.get("/api/session", response_model=SessionOut, **api)
    def session() -> dict:
        return {"ok": True, "version": __version__, "demo": demo}

    @app.get("/api/operations", response_model=list[OperationOut], **api)
    def operations() -> list[dict]:
        from .catalog import catalog

        return [op.to_dict() for op in catalog()]

    @app.get("/api/operations/{name}", response_model=OperationDetail, **api)
    def operation(name: str) -> dict:
        from .catalog import catalog

        return catalog().get(name).to_dict(detail=True)

    @app.post("/api/check", response_model=CheckOut, **api)
    def check(body: CheckIn) -> Response:
        try:
            name, names = check_query(body.operation, body.params, body.transform, None)
        except InputError as error:
            return _ExactJSON({"ok": False, "error": error_body(error, body.params),
                               "placeholders": []})
        return _ExactJSON({"ok": True, "operation": name, "placeholders": names})

    # -- data sources --------------------------------------------------------------------------

    @app.get("/api/datasources", response_model=list[DataSourceOut], **api)
    def list_datasources() -> list[dict]:
        return [ds.to_dict() for ds in workspace.datasources()]

    def guard(datasource: str) -> None:
        """A stored data source's endpoints, checked before the server connects with it."""
        check_endpoints(workspace.datasource(datasource).config, policy())

    @app.post("/api/datasources", status_code=201, response_model=DataSourceOut, **api)
    def add_datasource(body: DataSourceIn) -> dict:
        check_endpoints(body, policy())
        settings = _settings(body, exclude={"name", "read_only", "description"})
        return workspace.add_datasource(body.name, read_only=body.read_only,
                                        description=body.description, **settings).to_dict()

    @app.get("/api/datasources/{ds_id}", response_model=DataSourceOut, **api)
    def get_datasource(ds_id: str) -> dict:
        return workspace.datasource(ds_id).to_dict()

    @app.put("/api/datasources/{ds_id}", response_model=DataSourceOut, **api)
    def update_datasource(ds_id: str, body: DataSourceUpdate) -> dict:
        check_endpoints(body, policy())
        given = body.model_dump(exclude_unset=True)
        clear = [k for k, v in given.items() if k in SECRET_FIELDS and v == ""]
        clear += [k for k, v in given.items() if k not in SECRET_FIELDS and v is None
                  and k in Settings.model_fields]
        settings = {k: v for k, v in _settings(body, exclude={"name", "read_only", "description"}).items()
                    if k not in clear}
        return workspace.update_datasource(ds_id, name=body.name, read_only=body.read_only,
                                           description=body.description, clear=clear,
                                           **settings).to_dict()

    @app.delete("/api/datasources/{ds_id}", status_code=204, **api)
    def remove_datasource(ds_id: str, with_queries: bool = False) -> Response:
        workspace.remove_datasource(ds_id, with_queries=with_queries)
        return Response(status_code=204)

    @app.post("/api/datasources/test", response_model=DiagnosisOut, **api)
    def test_unsaved(body: DataSourceTest) -> dict:
        settings = _settings(body, exclude={"id"})
        check_endpoints(settings, policy())
        given = body.model_dump(exclude_unset=True)
        if body.id:
            stored = workspace.connection_config(body.id)
            for name in SECRET_FIELDS:  # left out or masked: the stored one; "" clears it
                if name not in settings and given.get(name) != "" and getattr(stored, name):
                    settings[name] = getattr(stored, name)
        try:
            connection = Connection(ConnectionConfig(**settings))
        except ConfigurationError as error:  # an incomplete form is a failed test, not an error
            return Diagnosis(False, error.message).to_dict()
        connection.network_guard = guard_network
        return connection.test().to_dict()

    @app.post("/api/datasources/{ds_id}/test", response_model=DiagnosisOut, **api)
    def test_saved(ds_id: str) -> dict:
        guard(ds_id)
        return workspace.test_datasource(ds_id).to_dict()

    # -- queries -------------------------------------------------------------------------------

    @app.get("/api/queries", response_model=list[QueryOut], **api)
    def list_queries(datasource: str | None = None) -> Response:
        return _ExactJSON([q.to_dict() for q in workspace.queries(datasource)])

    @app.post("/api/queries", status_code=201, response_model=QueryOut, **api)
    def save_query(body: QueryIn) -> Response:
        try:
            saved = workspace.save_query(body.name, body.datasource, body.operation, body.params,
                                         transform=body.transform, description=body.description,
                                         defaults=body.defaults)
        except InputError as error:
            raise _ApiError(error, body.params) from None
        return _ExactJSON(saved.to_dict(), status_code=201)

    @app.get("/api/queries/{query_id}", response_model=QueryOut, **api)
    def get_query(query_id: str) -> Response:
        return _ExactJSON(workspace.query(query_id).to_dict())

    @app.put("/api/queries/{query_id}", response_model=QueryOut, **api)
    def update_query(query_id: str, body: QueryUpdate) -> Response:
        try:
            saved = workspace.update_query(query_id, **body.model_dump(exclude_unset=True))
        except InputError as error:
            raise _ApiError(error, body.params) from None
        return _ExactJSON(saved.to_dict())

    @app.delete("/api/queries/{query_id}", status_code=204, **api)
    def remove_query(query_id: str) -> Response:
        workspace.remove_query(query_id)
        return Response(status_code=204)

    @app.post("/api/queries/{query_id}/run", response_model=ResultOut, **api)
    def run_query(query_id: str, body: RunOptions | None = None) -> Response:
        body = body or RunOptions()
        guard(workspace.query(query_id).datasource_id)
        options = body.model_dump(exclude={"values", "confirm"})
        result = workspace.run_query(query_id, body.values, origin="api",
                                     confirm=None if body.confirm else confirm_destructive,
                                     **options)
        return _result(result)

    @app.post("/api/run", response_model=ResultOut, **api)
    def run(body: RunIn) -> Response:
        guard(body.datasource)
        try:
            options = body.model_dump(exclude={"values", "datasource", "operation", "params",
                                               "transform", "confirm"})
            result = workspace.run(body.datasource, body.operation, body.params,
                                   values=body.values, origin="api", transform=body.transform,
                                   confirm=None if body.confirm else confirm_destructive,
                                   **options)
        except InputError as error:
            raise _ApiError(error, body.params if isinstance(body.params, str) else None) from None
        return _result(result)

    # -- tables --------------------------------------------------------------------------------

    @app.get("/api/tables", response_model=TablesOut, **api)
    def tables(datasource: str = Query(description="data source id or name")) -> dict:
        guard(datasource)
        result = workspace.connect(datasource).run("ListTables", {}, all_pages=True)
        return {"tables": result.data.get("TableNames", [])}

    @app.get("/api/tables/{name}", response_model=TableOut, **api)
    def table(name: str, datasource: str = Query(description="data source id or name")) -> dict:
        guard(datasource)
        result = workspace.connect(datasource).run("DescribeTable", {"TableName": name})
        return describe_table(result.data["Table"])

    export_responses = {**responses, 200: {
        "description": "the table's items, streamed as they are read",
        "content": {"application/x-ndjson": {}, "application/json": {}, "text/csv": {}}}}

    def stream_export(name: str, datasource: str, format: str, segments: int) -> Response:
        """The whole table, streamed (a parallel scan, memory flat whatever its size)."""
        import itertools

        from fastapi.responses import StreamingResponse

        from .transfer import iter_export

        guard(datasource)
        chunks = iter_export(workspace.connect(datasource), name, format=format, segments=segments)
        first = next(chunks, b"")  # errors (no such table...) are answered before streaming
        media = {"jsonl": "application/x-ndjson", "json": "application/json", "csv": "text/csv"}
        filename = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        return StreamingResponse(itertools.chain([first], chunks), media_type=media[format],
                                 headers={"Content-Disposition":
                                          f'attachment; filename="{filename}.{format}"'})

    @app.get("/api/tables/{name}/export", dependencies=api["dependencies"],
             response_class=Response, responses=export_responses)
    def export(name: str, datasource: str = Query(description="data source id or name"),
               format: Literal["jsonl", "json", "csv"] = "jsonl",
               segments: int = Query(4, ge=1, le=64)) -> Response:
        """The whole table, streamed (a parallel scan, memory flat whatever its size)."""
        return stream_export(name, datasource, format, segments)

    @app.post("/api/tables/{name}/export/link", response_model=DownloadLinkOut, **api)
    def export_link(name: str, datasource: str = Query(description="data source id or name"),
                    format: Literal["jsonl", "json", "csv"] = "jsonl",
                    segments: int = Query(4, ge=1, le=64)) -> dict:
        """A one-use link to the table's export, for a browser to download it straight to disk."""
        guard(datasource)
        # A missing table or a refused read is told now, to the page, not in a failed download.
        workspace.connect(datasource).run("DescribeTable", {"TableName": name})
        ticket = links.new({"name": name, "datasource": datasource, "format": format,
                            "segments": segments})
        return {"url": f"/api/downloads/{ticket}", "expires_in": links.seconds}

    @app.get("/api/downloads/{ticket}", response_class=Response, responses=export_responses)
    def download(request: Request, ticket: str) -> Response:
        """A table's export through a link from `/api/tables/{name}/export/link`: no token
        needed, the link is one; it works once, within its time."""
        not_blocked(request)
        # Not counted as a guess when wrong: 256 random bits are not found by trying.
        export = links.take(ticket)
        if export is None:
            raise NotFound("This download link is unknown, used already or expired: export the "
                           "table again.")
        return stream_export(**export)

    # -- history -------------------------------------------------------------------------------

    @app.get("/api/history", response_model=list[RunRecordOut], **api)
    def history(limit: int = Query(50, ge=1, le=1000), query: str | None = None,
                datasource: str | None = None, operation: str | None = None,
                outcome: Literal["ok", "incomplete", "error"] | None = None,
                since: str | None = None) -> list[dict]:
        runs = workspace.history(limit=limit, query=query, datasource=datasource,
                                 operation=operation, outcome=outcome, since=since)
        return [r.to_dict() for r in runs]

    # -- the page --------------------------------------------------------------------------

    if WEB_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> Response:
        index = WEB_DIR / "index.html"
        if not index.is_file():
            return Response("The web page is not installed.", media_type="text/plain",
                            status_code=404)
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    return app


class _Unauthorized(Exception):
    pass


class _TooManySignIns(Exception):
    def __init__(self, seconds: int):
        self.seconds = seconds


class _ConfirmationRequired(Exception):
    def __init__(self, operation: str, question: str):
        self.operation = operation
        self.question = question
        self.message = (f"{question} {operation} deletes data or changes a table: send "
                        '"confirm": true to run it.')


def _settings(body: BaseModel, exclude: set[str]) -> dict[str, Any]:
    """The settings a request gave, without masked secrets (those keep the stored value)."""
    given = body.model_dump(exclude_unset=True, exclude=exclude)
    return {k: v for k, v in given.items()
            if v is not None and not (k in SECRET_FIELDS and v in (MASK, ""))}


def _result(result) -> Response:
    return _ExactJSON({"data": result.data, "meta": result.meta, "raw": _without_metadata(result.raw),
                       "complete": result.complete})


def _without_metadata(raw: dict) -> dict:
    return {k: v for k, v in raw.items() if k != "ResponseMetadata"}


def describe_table(table: dict) -> dict:
    """A table's keys and indexes, and a Query and a Scan to start from."""
    types = {a["AttributeName"]: a["AttributeType"] for a in table.get("AttributeDefinitions", [])}

    def keys(schema: list[dict]) -> tuple[dict, dict | None]:
        by_role = {k["KeyType"]: k["AttributeName"] for k in schema}
        hash_key = {"name": by_role["HASH"], "type": types.get(by_role["HASH"], "S")}
        range_name = by_role.get("RANGE")
        return hash_key, ({"name": range_name, "type": types.get(range_name, "S")}
                          if range_name else None)

    partition, sort = keys(table["KeySchema"])
    indexes = []
    for kind, entries in (("global", table.get("GlobalSecondaryIndexes", [])),
                          ("local", table.get("LocalSecondaryIndexes", []))):
        for index in entries:
            pk, sk = keys(index["KeySchema"])
            indexes.append({"name": index["IndexName"], "kind": kind, "partition_key": pk,
                            "sort_key": sk,
                            "projection": index.get("Projection", {}).get("ProjectionType", "ALL")})
    return {"name": table["TableName"], "status": table.get("TableStatus"),
            "item_count": table.get("ItemCount"), "size_bytes": table.get("TableSizeBytes"),
            "partition_key": partition, "sort_key": sort, "indexes": indexes,
            "query_template": query_template(table["TableName"], partition),
            "scan_template": to_json({"TableName": table["TableName"], "Limit": 25}) + "\n"}


def query_template(table: str, partition: dict) -> str:
    """A Query on the partition key, its value a {{ placeholder }} named after the key."""
    placeholder = "".join(c if c.isalnum() or c == "_" else "_" for c in partition["name"])
    if not placeholder or placeholder[0].isdigit():
        placeholder = "key_" + placeholder
    value = f'"{{{{ {placeholder} }}}}"' if partition["type"] != "N" else f"{{{{ {placeholder} }}}}"
    name = to_json(partition["name"], pretty=False)
    return (f'{{\n    "TableName": {to_json(table, pretty=False)},\n'
            f'    "KeyConditionExpression": "#pk = :pk",\n'
            f'    "ExpressionAttributeNames": {{"#pk": {name}}},\n'
            f'    "ExpressionAttributeValues": {{":pk": {value}}}'
            f'{"  // a number" if partition["type"] == "N" else ""}\n}}\n')


# ---------------------------------------------------------------------------------------------
# serving


def serve(workspace: Workspace, host: str = "127.0.0.1", port: int = 8000, *,
          demo: bool = False, echo=print, allowed_hosts: Iterable[str] = (),
          forwarded_allow_ips: str | None = None) -> None:
    """Run the server until interrupted. Prints the address (with the token when it is new).
    `allowed_hosts`: Host headers answered besides the defaults (allowed_hosts_for);
    `forwarded_allow_ips`: the proxies whose X-Forwarded-For is believed (None: none, the client
    address is the peer's, so a client cannot pick its own address for the sign-in limiter)."""
    import uvicorn

    digest, fresh = server_token(workspace, allow_new=is_loopback(host))
    app = create_app(workspace, digest, demo=demo,
                     allowed_hosts=allowed_hosts_for(host, port, allowed_hosts))
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{port}/"
    if fresh:
        echo(f"dynaquery: open {url}#token={fresh}")
        echo("dynaquery: the token is shown this once (it is kept hashed); "
             "`dynaquery serve --new-token` makes another.")
    else:
        echo(f"dynaquery: open {url} and sign in with the server's token"
             f"{' (DYNAQUERY_TOKEN)' if os.environ.get(TOKEN_ENV) else ''}.")
        if not os.environ.get(TOKEN_ENV):
            echo("dynaquery: lost it? Stop the server, run `dynaquery serve --new-token` "
                 "(it prints a new one) and start it again.")
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False,
                proxy_headers=bool(forwarded_allow_ips),
                forwarded_allow_ips=forwarded_allow_ips or None)
