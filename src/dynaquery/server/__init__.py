"""`dynaquery serve`: the JSON API over the workspace, and the web page.

Every /api route needs `Authorization: Bearer TOKEN`. The token is the operator's
(DYNAQUERY_TOKEN, which the command reads and passes on), or one generated on first start and
kept in the workspace as a SHA-256 hash (it is printed once). The page and its static files are
public; they hold nothing but code. /openapi.json needs the token too. Wrong tokens are
rate-limited per client address (429 with Retry-After). Secrets never leave the server: data
sources come back with secrets masked, and a secret field sent back masked or left out keeps
the stored value.

The routes are thin: each calls the same workspace and library functions the CLI calls.

    app.py        create_app (the gate, the state, the handlers, the routers) and serve
    gate.py       Host check, token before body, body limit, security headers
    auth.py       the token and the sign-in limiter, which the gate applies
    endpoints.py  the endpoint policy (no link-local or metadata addresses), over netguard.py
    netguard.py   which addresses a connection may reach, checked on each connection
    answers.py    errors as JSON, with each error class's http_status
    models.py     the API's shapes; a data source's settings made from settings.SETTINGS
    deps.py       what routes share (workspace, policy, confirmation), as dependencies
    downloads.py  one-use export links
    routes/       one APIRouter per resource
"""

from __future__ import annotations

from .answers import error_body
from .app import create_app, serve
from .auth import TOKEN_ENV, TOKEN_SETTING, SignInLimiter, _digest, new_token, server_token
from .downloads import DownloadLinks
from .endpoints import ALLOW_NETWORK_ENV, check_endpoint, endpoint_policy
from .gate import MAX_BODY_BYTES, allowed_hosts_for, is_loopback
from .routes.page import WEB_DIR

__all__ = [
    "ALLOW_NETWORK_ENV",
    "DownloadLinks",
    "MAX_BODY_BYTES",
    "SignInLimiter",
    "TOKEN_ENV",
    "TOKEN_SETTING",
    "WEB_DIR",
    "_digest",
    "allowed_hosts_for",
    "check_endpoint",
    "create_app",
    "endpoint_policy",
    "error_body",
    "is_loopback",
    "new_token",
    "serve",
    "server_token",
]
