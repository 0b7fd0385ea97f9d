"""`dynaquery workspace`: where the workspace is, and its export and import."""

from __future__ import annotations

from pathlib import Path

import click

from .options import json_option, open_workspace, read_params
from .output import handle_errors, print_record, print_text, say, write_atomically

FORMATS = click.Choice(["json", "yaml"])
FORMAT_HELP = "Default: from the file's extension, else json."


@click.group()
def workspace() -> None:
    """The workspace itself: where it is, export and import."""


@workspace.command("info")
@json_option
@handle_errors
def workspace_info(as_json: bool) -> None:
    """Where the workspace is, and what it holds."""
    ws = open_workspace()
    record = {
        "database": ws.location,
        "key_file": str(ws.key_file),
        "datasources": len(ws.datasources()),
        "queries": len(ws.queries()),
    }
    print_record(record, as_json)


def _format_of(path: str | None, given: str | None) -> str:
    if given:
        return given
    return "yaml" if path and path.endswith((".yaml", ".yml")) else "json"


@workspace.command("export")
@click.option("-o", "--output", "path", metavar="FILE", help="Write to FILE (default: stdout).")
@click.option("--format", "fmt", type=FORMATS, help=FORMAT_HELP)
@handle_errors
def workspace_export(path: str | None, fmt: str | None) -> None:
    """Export data sources (without secrets) and queries as JSON or YAML."""
    from ..workspace import dump_export

    text = dump_export(open_workspace().export(), _format_of(path, fmt))
    if path:
        write_atomically(Path(path), text)
        say(f"Exported the workspace to {path}.")
    else:
        print_text(text)


@workspace.command("import")
@click.argument("path", metavar="FILE")
@click.option("--format", "fmt", type=FORMATS, help=FORMAT_HELP)
@click.option(
    "--skip-existing",
    "on_conflict",
    flag_value="skip",
    help="Keep what the workspace has under a name the file also has.",
)
@click.option(
    "--replace",
    "on_conflict",
    flag_value="replace",
    help="Overwrite it (data sources keep their stored secrets).",
)
@handle_errors
def workspace_import(path: str, fmt: str | None, on_conflict: str | None) -> None:
    """Import an export (FILE, or - for stdin). All or nothing; by default a name that exists
    already stops the import."""
    from ..workspace import load_export

    text = read_params("-" if path == "-" else "@" + path)
    counts = open_workspace().import_(
        load_export(text, _format_of(path, fmt)), on_conflict=on_conflict or "error"
    )
    skipped = f", skipped {counts['skipped']}" if counts["skipped"] else ""
    say(
        f"Imported {counts['datasources']} data source(s) and {counts['queries']} "
        f"query(ies){skipped}."
    )
