"""The run history, newest first, with the filters of `dynaquery history`."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query

from ..deps import WorkspaceDep
from ..models import RunRecordOut

router = APIRouter()


@router.get("/api/history", response_model=list[RunRecordOut])
def history(
    workspace: WorkspaceDep,
    limit: int = Query(50, ge=1, le=1000),
    query: str | None = None,
    datasource: str | None = None,
    operation: str | None = None,
    outcome: Literal["ok", "incomplete", "error"] | None = None,
    since: str | None = None,
) -> list[dict]:
    runs = workspace.history(
        limit=limit,
        query=query,
        datasource=datasource,
        operation=operation,
        outcome=outcome,
        since=since,
    )
    return [r.to_dict() for r in runs]
