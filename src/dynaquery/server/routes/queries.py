"""Saved queries, and running one with values for its {{ placeholders }}."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ...errors import InputError
from ..answers import ApiError, ExactJSON
from ..deps import GuardDep, WorkspaceDep, confirmation
from ..models import QueryIn, QueryOut, QueryUpdate, ResultOut, RunOptions
from .runs import result_answer

router = APIRouter()


@router.get("/api/queries", response_model=list[QueryOut])
def list_queries(workspace: WorkspaceDep, datasource: str | None = None) -> Response:
    return ExactJSON([q.to_dict() for q in workspace.queries(datasource)])


@router.post("/api/queries", status_code=201, response_model=QueryOut)
def save_query(body: QueryIn, workspace: WorkspaceDep) -> Response:
    try:
        saved = workspace.save_query(
            body.name,
            body.datasource,
            body.operation,
            body.params,
            transform=body.transform,
            description=body.description,
            defaults=body.defaults,
        )
    except InputError as error:
        raise ApiError(error, body.params) from None
    return ExactJSON(saved.to_dict(), status_code=201)


@router.get("/api/queries/{query_id}", response_model=QueryOut)
def get_query(query_id: str, workspace: WorkspaceDep) -> Response:
    return ExactJSON(workspace.query(query_id).to_dict())


@router.put("/api/queries/{query_id}", response_model=QueryOut)
def update_query(query_id: str, body: QueryUpdate, workspace: WorkspaceDep) -> Response:
    try:
        saved = workspace.update_query(query_id, **body.model_dump(exclude_unset=True))
    except InputError as error:
        raise ApiError(error, body.params) from None
    return ExactJSON(saved.to_dict())


@router.delete("/api/queries/{query_id}", status_code=204)
def remove_query(query_id: str, workspace: WorkspaceDep) -> Response:
    workspace.remove_query(query_id)
    return Response(status_code=204)


@router.post("/api/queries/{query_id}/run", response_model=ResultOut)
def run_query(
    query_id: str, workspace: WorkspaceDep, guard: GuardDep, body: RunOptions | None = None
) -> Response:
    body = body or RunOptions()
    guard(workspace.query(query_id).datasource_id)
    options = body.model_dump(exclude={"values", "confirm"})
    result = workspace.run_query(
        query_id, body.values, origin="api", confirm=confirmation(body.confirm), **options
    )
    return result_answer(result)
