"""The session (does the token sign in?) and the API's own description."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ... import __version__
from ..models import SessionOut

router = APIRouter()


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request) -> JSONResponse:
    """It holds no data, but every route but the page needs the token."""
    return JSONResponse(request.app.openapi())


@router.get("/api/session", response_model=SessionOut)
def session(request: Request) -> dict:
    return {"ok": True, "version": __version__, "demo": request.app.state.demo}
