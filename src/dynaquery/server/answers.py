"""Errors as JSON answers: the body, the status (each error class's `http_status`, see
errors.py), and the handlers that turn what a route raises into them."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import DynaqueryError, ValidationError
from ..results import to_json


def error_body(error: DynaqueryError, text: str | None = None) -> dict:
    """The error as JSON; validation problems carry the line they point at in `text`."""
    from ..parsing import locate

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


class ExactJSON(JSONResponse):
    """JSON with exact numbers (Decimal) and binary as base64: results are never rounded."""

    def render(self, content: Any) -> bytes:
        return to_json(content, pretty=False).encode("utf-8")


class ApiError(Exception):
    """An error whose problems point into a request's text (`text`: the parameter text)."""

    def __init__(self, error: DynaqueryError, text: str | None = None):
        self.error = error
        self.text = text


class ConfirmationRequired(Exception):
    """A destructive operation sent without `"confirm": true`: answered 428."""

    def __init__(self, operation: str, question: str):
        self.operation = operation
        self.question = question
        self.message = (
            f"{question} {operation} deletes data or changes a table: send "
            '"confirm": true to run it.'
        )


def too_large_answer(limit: int) -> JSONResponse:
    return JSONResponse(
        {
            "error": "ContentTooLarge",
            "message": f"The request body is larger than the server takes ({limit} bytes).",
        },
        status_code=413,
    )


def unauthorized_answer(message: str | None = None) -> JSONResponse:
    return JSONResponse(
        {
            "error": "Unauthorized",
            "message": message
            or "Sign in: with a user name and password (POST /api/session), or send a token "
            "(the server's, or a user's API token) as 'Authorization: Bearer TOKEN'.",
        },
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


def csrf_refused_answer() -> JSONResponse:
    return JSONResponse(
        {
            "error": "CsrfRefused",
            "message": "A change through a signed-in page needs its X-CSRF-Token header (the "
            "csrf of GET /api/session): refused, nothing was done.",
        },
        status_code=403,
    )


def too_many_answer(seconds: int) -> JSONResponse:
    return JSONResponse(
        {
            "error": "TooManyRequests",
            "message": f"Too many failed sign-ins from this address: try again in {seconds} s.",
        },
        status_code=429,
        headers={"Retry-After": str(seconds)},
    )


class TooManySignIns(Exception):
    def __init__(self, seconds: int):
        self.seconds = seconds


def add_handlers(app: FastAPI) -> None:
    """What each exception a route raises is answered with."""
    for kind, handler in (
        (TooManySignIns, _too_many),
        (ConfirmationRequired, _confirmation_required),
        (ApiError, _api_error),
        (DynaqueryError, _dynaquery_error),
        (StarletteHTTPException, _http_error),
        (RequestValidationError, _bad_request),
    ):
        app.add_exception_handler(kind, handler)


async def _too_many(_request: Request, exc: TooManySignIns) -> JSONResponse:
    return too_many_answer(exc.seconds)


async def _confirmation_required(_request: Request, exc: ConfirmationRequired) -> JSONResponse:
    return JSONResponse(
        {
            "error": "ConfirmationRequired",
            "message": exc.message,
            "operation": exc.operation,
            "question": exc.question,
        },
        status_code=428,
    )


async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
    return ExactJSON(error_body(exc.error, exc.text), status_code=exc.error.http_status)


async def _dynaquery_error(_request: Request, exc: DynaqueryError) -> JSONResponse:
    return ExactJSON(error_body(exc), status_code=exc.http_status)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 413:
        return too_large_answer(request.app.state.max_body)
    return JSONResponse(
        {
            "error": "NotFound" if exc.status_code == 404 else "HTTPError",
            "message": str(exc.detail),
        },
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def _bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = [
        {
            "path": ".".join(str(p) for p in e["loc"] if p != "body"),
            "message": e["msg"].removeprefix("Value error, "),
        }
        for e in exc.errors()
    ]
    message = "Invalid request: " + "; ".join(
        f"{p['path']}: {p['message']}" if p["path"] else p["message"] for p in problems
    )
    if any(e["type"] in ("model_attributes_type", "json_invalid") for e in exc.errors()):
        message += " (send a JSON object with Content-Type: application/json)"
    return JSONResponse(
        {"error": "InputError", "message": message, "problems": problems}, status_code=400
    )
