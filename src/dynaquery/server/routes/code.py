"""Code and cost before running: an unsaved query as a program (`/api/code`, codegen.py) and
what it would do (`/api/explain`, explain.py), over the workspace calls the command uses too.
Nothing but DescribeTable (for an explanation) is sent, and nothing is recorded in the history."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ...errors import InputError
from ..answers import ApiError, ExactJSON
from ..deps import EDIT, AccessDep, WorkspaceDep
from ..models import CodeIn, CodeOut, ExplainIn, ExplainOut

router = APIRouter()


def _text(params) -> str | None:
    return params if isinstance(params, str) else None


@router.post("/api/code", response_model=CodeOut, dependencies=EDIT)
def code(body: CodeIn, workspace: WorkspaceDep, access: AccessDep) -> Response:
    """The program; it connects to nothing, so the endpoint policy has nothing to check."""
    access.datasource(body.datasource)
    try:  # the endpoint and region are settings: an admin's to see
        program = workspace.code(
            body.datasource,
            body.operation,
            body.params,
            body.language,
            body.values,
            with_connection=access.principal.grants is None,
        )
    except InputError as error:
        raise ApiError(error, _text(body.params)) from None
    return ExactJSON({"language": body.language, "code": program})


@router.post("/api/explain", response_model=ExplainOut, dependencies=EDIT)
def explain(body: ExplainIn, workspace: WorkspaceDep, access: AccessDep) -> Response:
    access.connectable(body.datasource)
    try:
        explanation = workspace.explain(body.datasource, body.operation, body.params, body.values)
    except InputError as error:
        raise ApiError(error, _text(body.params)) from None
    return ExactJSON(explanation)
