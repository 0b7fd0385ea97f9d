"""`dynaquery undo RUN`: put back the items a run wrote, from the journal (journal.py)."""

from __future__ import annotations

import click

from .options import json_option, open_workspace
from .output import EXIT_FAILED, handle_errors, print_record, say
from .prompts import confirm


@click.command("undo")
@click.argument("run_id", metavar="RUN", type=click.IntRange(1, 2**63 - 1))
@click.option("--yes", is_flag=True, help="Do not ask first.")
@json_option
@handle_errors
def undo_command(run_id: int, yes: bool, as_json: bool) -> None:
    """Put the items run RUN wrote back as they were before it (RUN: the `id` of `dynaquery
    history --json`). Each item is written back only if it is still what the run left; one
    changed since is left alone and shown in both versions (exit 1). Needs the data source's
    journal on when the run was made (`datasource edit NAME --journal`). An import or a copy
    into a data source is undone the same way: the items it made are deleted."""
    workspace = open_workspace()
    images = workspace.undo_plan(run_id)  # says why a run cannot be undone
    tables = sorted({table for table, *_ in images})
    made = sum(1 for _table, _key, before, after in images if before is None and after)
    question = (
        f"Undo run {run_id}: put {len(images)} item(s) of {', '.join(tables)} back as they were "
        "before it" + (f" ({made} of them it made: deleted)" if made else "") + "?"
    )
    confirm(question, yes, action="undo", refused="Not undone.")
    report = workspace.undo(run_id, origin="cli")
    if as_json:
        print_record({**report, "conflicts": [_plain(c) for c in report["conflicts"]]}, True)
    else:
        say(
            f"Run {run_id} undone: {report['restored']} item(s) put back, "
            f"{report['unchanged']} left as they were."
        )
        for conflict in report["conflicts"]:
            say(_conflict_text(conflict))
    if report["conflicts"]:
        raise SystemExit(EXIT_FAILED)


def _plain(conflict: dict) -> dict:
    """A conflict with its items as plain JSON values (exact numbers, binary in base64)."""
    from ..parsing import loads
    from ..values import item_json

    return {
        name: loads(item_json(value)) if isinstance(value, dict) else value
        for name, value in conflict.items()
    }


def _conflict_text(conflict: dict) -> str:
    from ..values import item_json

    def shown(item):
        return "(none)" if item is None else item_json(item)

    return (
        f"Not put back (changed since the run): {conflict['table']} "
        f"{shown(conflict['key'])}\n  the run left: {shown(conflict['left'])}\n"
        f"  it is now:    {shown(conflict['now'])}"
    )
