"""Users (admins only): add, change, remove; their API tokens (shown once) and their grants of
data sources (Workspace.users, users.py)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ..deps import MANAGE, WorkspaceDep
from ..models import GrantIn, NewTokenOut, UserIn, UserOut, UserUpdate

router = APIRouter(dependencies=MANAGE)


@router.get("/api/users", response_model=list[UserOut])
def list_users(workspace: WorkspaceDep) -> list[dict]:
    return workspace.users.list()


@router.post("/api/users", status_code=201, response_model=UserOut)
def add_user(body: UserIn, workspace: WorkspaceDep) -> dict:
    return workspace.users.add(body.name, body.role, body.password)


@router.put("/api/users/{name}", response_model=UserOut)
def update_user(name: str, body: UserUpdate, workspace: WorkspaceDep) -> dict:
    """Another role, or a new password; either ends the user's sessions."""
    users = workspace.users
    users.get(name)  # 404 before anything changes
    if body.password is not None:
        users.reset(name, body.password)
    if body.role is not None:
        users.set_role(name, body.role)
    return users.get(name)


@router.delete("/api/users/{name}", status_code=204)
def remove_user(name: str, workspace: WorkspaceDep) -> Response:
    workspace.users.remove(name)
    return Response(status_code=204)


@router.post("/api/users/{name}/tokens", status_code=201, response_model=NewTokenOut)
def new_token(name: str, workspace: WorkspaceDep) -> dict:
    """A new API token for the user: in this answer only (kept hashed)."""
    token_id, token = workspace.users.new_token(name)
    return {"id": token_id, "token": token}


@router.delete("/api/users/{name}/tokens/{token_id}", status_code=204)
def revoke_token(name: str, token_id: str, workspace: WorkspaceDep) -> Response:
    workspace.users.revoke_token(name, token_id)
    return Response(status_code=204)


@router.put("/api/users/{name}/grants/{datasource}", response_model=UserOut)
def grant(name: str, datasource: str, body: GrantIn, workspace: WorkspaceDep) -> dict:
    return workspace.users.grant(name, datasource, read_only=body.read_only)


@router.delete("/api/users/{name}/grants/{datasource}", response_model=UserOut)
def revoke(name: str, datasource: str, workspace: WorkspaceDep) -> dict:
    return workspace.users.revoke(name, datasource)
