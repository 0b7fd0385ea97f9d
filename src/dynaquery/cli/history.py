"""`dynaquery history`: the runs recorded in the workspace, and clearing them."""

from __future__ import annotations

import click

from .options import json_option, open_workspace
from .output import handle_errors, print_records, say

COLUMNS = [
    "started_at",
    "ran_by",
    "query",
    "datasource",
    "operation",
    "target",
    "outcome",
    "item_count",
    "duration_ms",
    "error",
]


@click.group(invoke_without_command=True)
@click.option("--query", "query_name", metavar="NAME", help="Runs of this saved query.")
@click.option("-d", "--datasource", metavar="NAME", help="Runs on this data source.")
@click.option("--operation", help="Runs of this operation.")
@click.option("--outcome", type=click.Choice(["ok", "incomplete", "error"]))
@click.option(
    "--since", metavar="WHEN", help="A time (2026-11-23T10:00:00Z) or a span (30m, 12h, 7d)."
)
@click.option("-n", "--limit", type=click.IntRange(min=1), default=50, show_default=True)
@json_option
@click.pass_context
@handle_errors
def history(
    ctx: click.Context,
    query_name: str | None,
    datasource: str | None,
    operation: str | None,
    outcome: str | None,
    since: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """The runs made through the workspace, newest first, with who made each (`ran_by`: a
    server's user, `api` for the server's token, `cli:LOGIN` for the command line)."""
    if ctx.invoked_subcommand is not None:
        return
    runs = open_workspace().history(
        limit=limit,
        query=query_name,
        datasource=datasource,
        operation=operation,
        outcome=outcome,
        since=since,
    )
    records = [run.to_dict() for run in runs]
    if not as_json:
        for record in records:
            if record["error"]:
                record["error"] = record["error"].splitlines()[0][:80]
    print_records(records, as_json, COLUMNS)


@history.command("clear")
@click.option("--before", metavar="WHEN", help="Only runs older than this time or span (7d).")
@handle_errors
def history_clear(before: str | None) -> None:
    """Delete recorded runs."""
    count = open_workspace().clear_history(before)
    say(f"Deleted {count} run(s) from the history.")
