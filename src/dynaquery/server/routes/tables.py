"""The table browser: tables, a table's keys and indexes with a Query and a Scan to start from
(Workspace.describe_table), the request the Query and Scan form describes (request_form.py), and
a whole table's export, streamed or through a one-use link."""

from __future__ import annotations

import itertools
from typing import Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from ...errors import NotFound
from ...request_form import build_request, form_choices, request_text
from ...transfer import iter_export
from ...workspace import Workspace
from ..auth import not_blocked
from ..deps import EDIT, AccessDep, DataSourceParam, GuardDep, WorkspaceDep
from ..models import (
    DownloadLinkOut,
    RequestFormChoicesOut,
    RequestFormIn,
    RequestFormOut,
    TableOut,
    TablesOut,
)

router = APIRouter(dependencies=EDIT)  # the table browser is an editor's
downloads = APIRouter()  # public: a download link is its own key

Format = Literal["jsonl", "json", "csv", "parquet"]  # parquet: sent once the whole table is read
MEDIA_TYPES = {
    "jsonl": "application/x-ndjson",
    "json": "application/json",
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
}
EXPORT_RESPONSES = {
    200: {
        "description": "the table's items, streamed as they are read",
        "content": {media: {} for media in MEDIA_TYPES.values()},
    }
}


@router.get("/api/tables", response_model=TablesOut)
def tables(datasource: DataSourceParam, workspace: WorkspaceDep, access: AccessDep) -> dict:
    access.connectable(datasource)
    return {"tables": workspace.table_names(datasource)}


@router.get("/api/tables/{name}", response_model=TableOut)
def table(
    name: str, datasource: DataSourceParam, workspace: WorkspaceDep, access: AccessDep
) -> dict:
    access.connectable(datasource)
    return workspace.describe_table(datasource, name)


@router.get("/api/request-form", response_model=RequestFormChoicesOut)
def request_form_choices() -> dict:
    """What the Query and Scan form offers: operators, the values each takes, value types."""
    return form_choices()


@router.post("/api/tables/{name}/request", response_model=RequestFormOut)
def request_form(
    name: str,
    form: RequestFormIn,
    datasource: DataSourceParam,
    workspace: WorkspaceDep,
    access: AccessDep,
) -> dict:
    """The Query or Scan the page's form describes, as JSON text with #name and :value aliases
    (on the table's keys and indexes, from DescribeTable)."""
    access.connectable(datasource)
    table = workspace.describe_table(datasource, name)
    params = build_request(form.model_dump(), table)
    return {"operation": form.operation, "params": request_text(params)}


@router.get("/api/tables/{name}/export", response_class=Response, responses=EXPORT_RESPONSES)
def export(
    name: str,
    datasource: DataSourceParam,
    workspace: WorkspaceDep,
    access: AccessDep,
    format: Format = "jsonl",
    segments: int = Query(4, ge=1, le=64),
) -> Response:
    """The whole table, streamed (a parallel scan, memory flat whatever its size)."""
    access.connectable(datasource)
    return _stream_export(workspace, name, datasource, format, segments)


@router.post("/api/tables/{name}/export/link", response_model=DownloadLinkOut)
def export_link(
    request: Request,
    name: str,
    datasource: DataSourceParam,
    workspace: WorkspaceDep,
    access: AccessDep,
    format: Format = "jsonl",
    segments: int = Query(4, ge=1, le=64),
) -> dict:
    """A one-use link to the table's export, for a browser to download it straight to disk."""
    access.connectable(datasource)
    # A missing table or a refused read is told now, to the page, not in a failed download.
    workspace.describe_table(datasource, name)
    links = request.app.state.download_links
    ticket = links.new(
        {"name": name, "datasource": datasource, "format": format, "segments": segments}
    )
    return {"url": f"/api/downloads/{ticket}", "expires_in": links.seconds}


@downloads.get("/api/downloads/{ticket}", response_class=Response, responses=EXPORT_RESPONSES)
def download(request: Request, ticket: str, workspace: WorkspaceDep, guard: GuardDep) -> Response:
    """A table's export through a link from `/api/tables/{name}/export/link`: no token
    needed, the link is one; it works once, within its time."""
    not_blocked(request)
    # Not counted as a guess when wrong: 256 random bits are not found by trying.
    export = request.app.state.download_links.take(ticket)
    if export is None:
        raise NotFound(
            "This download link is unknown, used already or expired: export the table again."
        )
    guard(export["datasource"])
    return _stream_export(workspace, **export)


def _stream_export(
    workspace: Workspace, name: str, datasource: str, format: str, segments: int
) -> Response:
    chunks = iter_export(workspace.connect(datasource), name, format=format, segments=segments)
    first = next(chunks, b"")  # errors (no such table...) are answered before streaming
    filename = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return StreamingResponse(
        itertools.chain([first], chunks),
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}.{format}"'},
    )
