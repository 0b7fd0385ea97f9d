"""The session: signing in (a user's name and password, or a token) sets the page's cookie,
HttpOnly and SameSite; who is signed in and what their role may do; signing out. And the API's
own description."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from ... import __version__
from ...errors import InputError
from ...users import SERVER_TOKEN, SESSION_SECONDS, Principal
from ..answers import unauthorized_answer
from ..auth import SESSION_COOKIE, not_blocked, session_of, token_matches
from ..deps import PrincipalDep, WorkspaceDep
from ..models import SessionOut, SignInIn

router = APIRouter()


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request) -> JSONResponse:
    """It holds no data, but every route but the page needs the token."""
    return JSONResponse(request.app.openapi())


def _session(request: Request, principal: Principal, csrf: str | None) -> dict:
    return {
        "ok": True,
        "version": __version__,
        "demo": request.app.state.demo,
        "user": principal.name,
        "role": principal.role,
        "can": principal.can(),
        "csrf": csrf,
    }


@router.get("/api/session", response_model=SessionOut)
def session(request: Request, principal: PrincipalDep) -> dict:
    return _session(request, principal, request.state.csrf)


@router.post("/api/session", response_model=SessionOut, responses={401: {}})
def sign_in(request: Request, body: SignInIn, workspace: WorkspaceDep) -> Response:
    """Sign in with a user's name and password, or a token: the answer sets the session's
    cookie (HttpOnly, SameSite=Strict) and gives its CSRF token."""
    address = not_blocked(request)
    if body.name is not None and body.token is not None:
        raise InputError("Sign in with a name and a password, or with a token: not both.")
    if body.token is not None:
        principal = _token_principal(request, workspace, body.token)
    else:
        principal = workspace.users.sign_in(body.name or "", body.password or "")
    if principal is None:
        request.app.state.sign_ins.failed(address)
        return unauthorized_answer("Wrong user name, password or token.")
    cookie, csrf = workspace.users.start_session(principal)
    answer = JSONResponse(_session(request, principal, csrf))
    answer.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return answer


def _token_principal(request: Request, workspace, token: str) -> Principal | None:
    if token_matches(token, request.app.state.token_sha256):
        return SERVER_TOKEN
    return workspace.users.by_token(token) if token else None


@router.delete("/api/session", status_code=204)
def sign_out(request: Request, workspace: WorkspaceDep) -> Response:
    """End the page's session (a bearer token has none: it stays valid)."""
    cookie = session_of(request.headers)
    if cookie:
        workspace.users.end_session(cookie)
    answer = Response(status_code=204)
    answer.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return answer
