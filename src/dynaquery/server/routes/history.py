"""The run history, newest first, with the filters of `dynaquery history`; a write's journal,
and its undo."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Path, Query, Response

from ...items import views
from ..answers import ConfirmationRequired, ExactJSON
from ..deps import EDIT, AccessDep, PrincipalDep, WorkspaceDep
from ..models import JournalOut, RunRecordOut, UndoIn, UndoOut

router = APIRouter()
RUN_ID = Path(ge=1, le=2**63 - 1, description="the run's id, as GET /api/history gives it")


@router.get("/api/history", response_model=list[RunRecordOut])
def history(
    workspace: WorkspaceDep,
    principal: PrincipalDep,
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
        ran_by=None if principal.grants is None else principal.name,  # others see their own
    )
    return [r.to_dict() for r in runs]


def _journal_of(workspace, access, run_id: int, *, to_undo: bool = False) -> list[dict]:
    """The run's journal, when it wrote to data sources granted to the user (writable ones to
    undo it)."""
    entries = workspace.journal_of(run_id)
    if access.principal.grants is not None:
        for entry in entries:
            if to_undo:
                access.writable(entry["datasource"] or "", "Undo")
            else:
                access.datasource(entry["datasource"] or "")
    return entries


@router.get("/api/history/{run_id}/journal", response_model=list[JournalOut], dependencies=EDIT)
def journal(workspace: WorkspaceDep, access: AccessDep, run_id: int = RUN_ID) -> Response:
    """What the journal kept of a write run: who, when, the tables and keys written, whether
    its items were kept (undo can run)."""
    return ExactJSON(_journal_of(workspace, access, run_id))


@router.post("/api/history/{run_id}/undo", response_model=UndoOut, dependencies=EDIT)
def undo(
    body: UndoIn, workspace: WorkspaceDep, access: AccessDep, run_id: int = RUN_ID
) -> Response:
    """Put the items the run wrote back as they were, each on the condition that it is still
    what the run left (journal.py); 428 unless confirmed; 400 saying why a run cannot be undone
    (its data source's journal was off, its keys unknown, undone already)."""
    _journal_of(workspace, access, run_id, to_undo=True)
    images = workspace.undo_plan(run_id)
    if not body.confirm:
        tables = ", ".join(sorted({table for table, *_ in images}))
        raise ConfirmationRequired(
            "Undo", f"Undo run {run_id}: put {len(images)} item(s) of {tables} back?"
        )
    report = workspace.undo(run_id, origin="api")
    conflicts = [
        {**c, "key": views(c["key"]), "left": views(c["left"]), "now": views(c["now"])}
        for c in report["conflicts"]
    ]
    return ExactJSON({**report, "conflicts": conflicts})
