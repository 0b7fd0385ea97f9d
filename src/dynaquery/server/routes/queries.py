"""Saved queries, and running one with values for its {{ placeholders }}. Editors write them;
every role lists, reads and runs those on the data sources granted to it."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ...errors import InputError
from ..answers import ApiError, ExactJSON
from ..deps import EDIT, AccessDep, WorkspaceDep, confirmation
from ..models import QueryIn, QueryOut, QueryUpdate, ResultOut, RunOptions
from .runs import result_answer

router = APIRouter()


@router.get("/api/queries", response_model=list[QueryOut])
def list_queries(
    workspace: WorkspaceDep, access: AccessDep, datasource: str | None = None
) -> Response:
    if datasource is not None:
        datasource = access.datasource(datasource).id
    return ExactJSON([q.to_dict() for q in access.visible(workspace.queries(datasource))])


@router.post("/api/queries", status_code=201, response_model=QueryOut, dependencies=EDIT)
def save_query(body: QueryIn, workspace: WorkspaceDep, access: AccessDep) -> Response:
    access.datasource(body.datasource)
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
def get_query(query_id: str, access: AccessDep) -> Response:
    return ExactJSON(access.query(query_id).to_dict())


@router.put("/api/queries/{query_id}", response_model=QueryOut, dependencies=EDIT)
def update_query(
    query_id: str, body: QueryUpdate, workspace: WorkspaceDep, access: AccessDep
) -> Response:
    query_id = access.query(query_id).id
    if body.datasource is not None:
        access.datasource(body.datasource)
    try:
        saved = workspace.update_query(query_id, **body.model_dump(exclude_unset=True))
    except InputError as error:
        raise ApiError(error, body.params) from None
    return ExactJSON(saved.to_dict())


@router.delete("/api/queries/{query_id}", status_code=204, dependencies=EDIT)
def remove_query(query_id: str, workspace: WorkspaceDep, access: AccessDep) -> Response:
    workspace.remove_query(access.query(query_id).id)
    return Response(status_code=204)


@router.post("/api/queries/{query_id}/run", response_model=ResultOut)
def run_query(
    query_id: str, workspace: WorkspaceDep, access: AccessDep, body: RunOptions | None = None
) -> Response:
    body = body or RunOptions()
    saved = access.query(query_id)
    ds = access.connectable(saved.datasource_id)
    options = body.model_dump(exclude={"values", "confirm"})
    result = workspace.run_query(
        saved,
        body.values,
        origin="api",
        confirm=confirmation(body.confirm),
        overrides=access.overrides(ds),
        **options,
    )
    return result_answer(result)
