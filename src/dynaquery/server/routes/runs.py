"""Unsaved queries: run one (`/api/run`), or parse and validate it without sending
(`/api/check`). A saved query's run is in queries.py."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ...errors import InputError
from ...workspace import check_query
from ..answers import ApiError, ExactJSON, error_body
from ..deps import EDIT, AccessDep, WorkspaceDep, confirmation
from ..models import CheckIn, CheckOut, ResultOut, RunIn

router = APIRouter()


def result_answer(result) -> Response:
    """A run's result: the data, meta, the raw response (without its metadata), complete."""
    raw = {k: v for k, v in result.raw.items() if k != "ResponseMetadata"}
    return ExactJSON(
        {"data": result.data, "meta": result.meta, "raw": raw, "complete": result.complete}
    )


@router.post("/api/run", response_model=ResultOut, dependencies=EDIT)
def run(body: RunIn, workspace: WorkspaceDep, access: AccessDep) -> Response:
    ds = access.connectable(body.datasource)
    options = body.model_dump(
        exclude={"values", "datasource", "operation", "params", "transform", "confirm"}
    )
    try:
        result = workspace.run(
            body.datasource,
            body.operation,
            body.params,
            values=body.values,
            overrides=access.overrides(ds),
            origin="api",
            transform=body.transform,
            confirm=confirmation(body.confirm),
            **options,
        )
    except InputError as error:
        raise ApiError(error, body.params if isinstance(body.params, str) else None) from None
    return result_answer(result)


@router.post("/api/check", response_model=CheckOut, dependencies=EDIT)
def check(body: CheckIn) -> Response:
    try:
        name, names = check_query(body.operation, body.params, body.transform, None)
    except InputError as error:
        return ExactJSON({"ok": False, "error": error_body(error, body.params), "placeholders": []})
    return ExactJSON({"ok": True, "operation": name, "placeholders": names})
