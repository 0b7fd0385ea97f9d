"""The item editor: read one item by its key, save it on the condition that it is still what was
loaded (409 with both versions when it is not), create one, delete many (Workspace.get_item,
save_item, create_item, delete_items; the requests are items.py's)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from ...errors import NotFound
from ...items import views
from ..answers import ExactJSON
from ..deps import EDIT, AccessDep, DataSourceParam, WorkspaceDep, confirmation
from ..models import (
    ItemConflictOut,
    ItemCreateIn,
    ItemOut,
    ItemSaveIn,
    ItemsDeletedOut,
    ItemsDeleteIn,
)

router = APIRouter(dependencies=EDIT)
CONFLICT = {409: {"model": ItemConflictOut, "description": "the item is not as loaded"}}


@router.get("/api/tables/{name}/item", response_model=ItemOut)
def get_item(
    name: str,
    datasource: DataSourceParam,
    workspace: WorkspaceDep,
    access: AccessDep,
    key: str = Query(description="the item's key as JSON, typed or plain values"),
) -> Response:
    access.connectable(datasource)
    found = workspace.get_item(datasource, name, key, origin="api")
    if found is None:
        raise NotFound(f"No item of table {name!r} has that key (deleted since it was read?).")
    return ExactJSON(views(found))


@router.put("/api/tables/{name}/item", response_model=ItemOut, responses=CONFLICT)
def save_item(name: str, body: ItemSaveIn, workspace: WorkspaceDep, access: AccessDep) -> Response:
    """Only the attributes that changed are written, on the condition that the item is still
    the one loaded."""
    access.writable(body.datasource, "UpdateItem")
    saved = workspace.save_item(
        body.datasource, name, body.loaded, body.item, view=body.view, origin="api"
    )
    return ExactJSON(views(saved))


@router.post("/api/tables/{name}/items", response_model=ItemOut, responses=CONFLICT)
def create_item(
    name: str, body: ItemCreateIn, workspace: WorkspaceDep, access: AccessDep
) -> Response:
    """A new item; 409 when an item has its key already."""
    access.writable(body.datasource, "PutItem")
    created = workspace.create_item(
        body.datasource, name, body.item, view=body.view, like=body.like, origin="api"
    )
    return ExactJSON(views(created))


@router.post("/api/tables/{name}/items/delete", response_model=ItemsDeletedOut)
def delete_items(
    name: str, body: ItemsDeleteIn, workspace: WorkspaceDep, access: AccessDep
) -> Response:
    """BatchWriteItem of the keys, 25 a call, what is unprocessed retried; 428 unless
    confirmed."""
    access.writable(body.datasource, "BatchWriteItem")
    result = workspace.delete_items(
        body.datasource,
        name,
        body.keys,
        confirm=confirmation(body.confirm),
        origin="api",
        batch_timeout=body.batch_timeout,
    )
    left = result.meta.get("unprocessed", 0)
    deleted = result.meta["requests"] - left
    return ExactJSON(
        {"deleted": deleted, "unprocessed": left, "complete": result.complete, "meta": result.meta}
    )
