"""Data sources: saved connections, with secrets masked in every answer (the mask rule:
settings.keep_stored_secrets), and Test connection, saved or from an unsaved form. Admins alone
change them and see their settings; another user sees the ones granted to them, names only."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel

from ...settings import NAMES
from ...users import Principal
from ...workspace import DataSource, settings_from_form
from ..deps import MANAGE, AccessDep, EndpointsDep, GuardDep, PrincipalDep, WorkspaceDep
from ..models import DataSourceIn, DataSourceOut, DataSourceTest, DataSourceUpdate, DiagnosisOut

router = APIRouter()


def _form(body: BaseModel) -> dict:
    """The connection settings a body gave, as it gave them."""
    return body.model_dump(exclude_unset=True, include=set(NAMES))


def _seen_by(principal: Principal, ds: DataSource) -> dict:
    """A data source as `principal` sees it: without its settings unless they are an admin;
    read-only when their grant is."""
    shown = ds.to_dict()
    if principal.grants is None:
        return shown
    return {
        **{name: None for name in NAMES},
        **{k: shown[k] for k in ("id", "name", "description", "journal", "created_at")},
        "updated_at": shown["updated_at"],
        "read_only": ds.read_only or principal.read_only_on(ds.id),
    }


@router.get("/api/datasources", response_model=list[DataSourceOut])
def list_datasources(workspace: WorkspaceDep, principal: PrincipalDep) -> list[dict]:
    return [_seen_by(principal, ds) for ds in workspace.datasources() if principal.may_use(ds.id)]


@router.post("/api/datasources", status_code=201, response_model=DataSourceOut, dependencies=MANAGE)
def add_datasource(body: DataSourceIn, workspace: WorkspaceDep, endpoints: EndpointsDep) -> dict:
    endpoints.check(_form(body))
    settings, _ = settings_from_form(_form(body))
    return workspace.add_datasource(
        body.name,
        read_only=body.read_only,
        journal=body.journal,
        description=body.description,
        **settings,
    ).to_dict()


@router.get("/api/datasources/{ds_id}", response_model=DataSourceOut)
def get_datasource(ds_id: str, access: AccessDep) -> dict:
    return _seen_by(access.principal, access.datasource(ds_id))


@router.put("/api/datasources/{ds_id}", response_model=DataSourceOut, dependencies=MANAGE)
def update_datasource(
    ds_id: str, body: DataSourceUpdate, workspace: WorkspaceDep, endpoints: EndpointsDep
) -> dict:
    endpoints.check(_form(body))
    settings, clear = settings_from_form(_form(body))
    return workspace.update_datasource(
        ds_id,
        name=body.name,
        read_only=body.read_only,
        journal=body.journal,
        description=body.description,
        clear=clear,
        **settings,
    ).to_dict()


@router.delete("/api/datasources/{ds_id}", status_code=204, dependencies=MANAGE)
def remove_datasource(ds_id: str, workspace: WorkspaceDep, with_queries: bool = False) -> Response:
    workspace.remove_datasource(ds_id, with_queries=with_queries)
    return Response(status_code=204)


@router.post("/api/datasources/test", response_model=DiagnosisOut, dependencies=MANAGE)
def test_unsaved(body: DataSourceTest, workspace: WorkspaceDep, endpoints: EndpointsDep) -> dict:
    endpoints.check(_form(body))
    return workspace.test_settings(_form(body), secrets_of=body.id).to_dict()


@router.post("/api/datasources/{ds_id}/test", response_model=DiagnosisOut, dependencies=MANAGE)
def test_saved(ds_id: str, workspace: WorkspaceDep, guard: GuardDep) -> dict:
    guard(ds_id)
    return workspace.test_datasource(ds_id).to_dict()
