"""The application: the gate around it, its shared state, its error handlers, and the routers;
and `serve`, which runs it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from .. import __version__
from ..workspace import Workspace
from . import routes
from .answers import add_handlers
from .auth import TOKEN_ENV, SignInLimiter, authorized, server_token
from .downloads import DownloadLinks
from .endpoints import Endpoints, endpoint_policy
from .gate import MAX_BODY_BYTES, GatedFastAPI, allowed_hosts_for, is_loopback
from .netguard import NetworkPolicy
from .routes.page import WEB_DIR

WORKER_SETTINGS_ENV = "DYNAQUERY_SERVE_WORKER_SETTINGS"
DESCRIPTION = (
    "The DynamoDB query manager's API: data sources, queries, runs, the operations "
    "catalog, a table browser and the run history. Every route needs a sign-in: "
    "`Authorization: Bearer TOKEN` (the server's token, or a user's API token), or the "
    "session cookie of `POST /api/session` with an `X-CSRF-Token` header on changes. What "
    "each role (admin, editor, runner) may do is in the README."
)


def create_app(
    workspace: Workspace,
    token_sha256: str,
    *,
    demo: bool = False,
    allowed_hosts: Iterable[str] | None = None,
    max_body: int = MAX_BODY_BYTES,
    allow_endpoint_network: Iterable[str] = (),
    network_policy: NetworkPolicy | None = None,
) -> FastAPI:
    """The API and the page. `allowed_hosts`: the Host headers answered (None: any; `serve`
    passes allowed_hosts_for()); `max_body`: a request body's limit in bytes (413 above);
    `allow_endpoint_network`: the networks endpoints may reach after all ("link-local");
    `network_policy`: the addresses endpoints may not reach (default: endpoint_policy())."""
    app = GatedFastAPI(
        title="dynaquery",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        max_body_size=max_body,
    )
    endpoints = Endpoints(
        network_policy if network_policy is not None else endpoint_policy(allow_endpoint_network)
    )
    workspace.network_guard = endpoints.guard_session
    workspace.record_in_background()  # a request never waits to write its run in the history
    state = app.state
    state.workspace, state.endpoints, state.demo = workspace, endpoints, demo
    state.token_sha256, state.max_body = token_sha256, max_body
    state.allowed_hosts = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}
    # shared through the workspace's database by every server and worker on it
    state.sign_ins = SignInLimiter(engine=workspace.engine)
    state.download_links = DownloadLinks(engine=workspace.engine)
    add_handlers(app)
    for router in routes.ROUTERS:
        app.include_router(router, dependencies=[Depends(authorized)], responses=routes.ERRORS)
    for router in routes.PUBLIC_ROUTERS:
        app.include_router(router, responses=routes.ERRORS)
    if WEB_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
    return app


def serve(
    workspace: Workspace,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    demo: bool = False,
    echo=print,
    allowed_hosts: Iterable[str] = (),
    forwarded_allow_ips: str | None = None,
    token: str | None = None,
    allow_endpoint_network: Iterable[str] = (),
    workers: int = 1,
) -> None:
    """Run the server until interrupted. Prints the address (with the token when it is new).
    `allowed_hosts`: Host headers answered besides the defaults (allowed_hosts_for);
    `forwarded_allow_ips`: the proxies whose X-Forwarded-For is believed (None: none, the client
    address is the peer's, so a client cannot pick its own address for the sign-in limiter);
    `token`: the operator's token (DYNAQUERY_TOKEN; else the stored one, else a new one);
    `allow_endpoint_network`: as create_app's (--allow-endpoint-network); `workers`: processes
    answering requests (each a create_app over the same workspace, which holds what they share:
    the download links and the wrong sign-ins)."""
    import uvicorn

    digest, fresh = server_token(workspace, token, allow_new=is_loopback(host))
    settings = {
        "database_url": workspace.engine.url.render_as_string(hide_password=False),
        "home": str(workspace.key_file.parent),
        "token_sha256": digest,
        "demo": demo,
        "allow_endpoint_network": list(allow_endpoint_network),
        "allowed_hosts": sorted(allowed_hosts_for(host, port, allowed_hosts) or ()) or None,
    }
    if workers > 1:
        # the workers are new processes: they build the app from these settings (no token in
        # them, only its digest)
        os.environ[WORKER_SETTINGS_ENV] = json.dumps(settings)
        app = "dynaquery.server.app:app_for_worker"
    else:
        app = _app_from(settings, workspace)
    _say_where(echo, host, port, fresh, given=bool(token))
    uvicorn.run(
        app,
        factory=workers > 1,
        workers=workers if workers > 1 else None,
        host=host,
        port=port,
        log_level="warning",
        server_header=False,
        proxy_headers=bool(forwarded_allow_ips),
        forwarded_allow_ips=forwarded_allow_ips or None,
    )


def _app_from(settings: dict, workspace: Workspace) -> FastAPI:
    return create_app(
        workspace,
        settings["token_sha256"],
        demo=settings["demo"],
        allow_endpoint_network=settings["allow_endpoint_network"],
        allowed_hosts=settings["allowed_hosts"],
    )


def app_for_worker() -> FastAPI:
    """The application of one of `serve --workers N`'s processes (uvicorn calls it in each)."""
    settings = json.loads(os.environ[WORKER_SETTINGS_ENV])
    workspace = Workspace.open(settings["database_url"], home=settings["home"])
    return _app_from(settings, workspace)


def _say_where(echo, host: str, port: int, fresh: str | None, *, given: bool) -> None:
    """The address to open, with the token when it was just made."""
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{port}/"
    if fresh:
        echo(f"dynaquery: open {url}#token={fresh}")
        echo(
            "dynaquery: the token is shown this once (it is kept hashed); "
            "`dynaquery serve --new-token` makes another."
        )
        return
    echo(
        f"dynaquery: open {url} and sign in with the server's token"
        f"{f' ({TOKEN_ENV})' if given else ''}."
    )
    if not given:
        echo(
            "dynaquery: lost it? Stop the server, run `dynaquery serve --new-token` "
            "(it prints a new one) and start it again."
        )
