"""The page and its static files: public, they hold nothing but code."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

WEB_DIR = Path(__file__).parents[2] / "web"

router = APIRouter()


@router.get("/", include_in_schema=False)
def page() -> Response:
    index = WEB_DIR / "index.html"
    if not index.is_file():
        return Response("The web page is not installed.", media_type="text/plain", status_code=404)
    return FileResponse(index, headers={"Cache-Control": "no-cache"})
