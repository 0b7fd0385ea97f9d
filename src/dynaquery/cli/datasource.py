"""`dynaquery datasource`: saved data sources (add, list, show, edit, remove, test)."""

from __future__ import annotations

from typing import Any

import click

from .options import connection_flags, connection_settings, given_flags, json_option, open_workspace
from .output import (
    EXIT_FAILED,
    fail,
    handle_errors,
    print_diagnosis,
    print_record,
    print_records,
    say,
)
from .prompts import ask_secret


@click.group()
def datasource() -> None:
    """Saved data sources: add, list, show, edit, remove, test.

    Secrets are encrypted in the workspace ($DYNAQUERY_HOME, or DYNAQUERY_DATABASE_URL) with the
    key from DYNAQUERY_SECRET_KEY or the workspace's key file, and always shown masked.
    """


@datasource.command("add")
@click.argument("name")
@connection_flags
@click.option("--read-only", is_flag=True, help="Send only operations that read.")
@click.option(
    "--journal",
    is_flag=True,
    help="Keep each written item's before and after images in the journal (sealed like "
    "secrets, kept 30 days), so that `dynaquery undo RUN` can put the items back. Off by "
    "default: it stores data.",
)
@click.option("--description", help="A note about the data source.")
@click.option(
    "--test", "test_first", is_flag=True, help="Test the connection; save only if it works."
)
@click.option("--json", "as_json", is_flag=True, help="Print the saved data source as JSON.")
@handle_errors
def datasource_add(
    name: str,
    read_only: bool,
    journal: bool,
    description: str | None,
    test_first: bool,
    as_json: bool,
    **kwargs: Any,
) -> None:
    """Save a data source NAME with the connection flags of `run`."""
    from ..connection import ConnectionConfig

    settings = connection_settings(kwargs)
    ask_secret(settings)
    config = ConnectionConfig(**settings, read_only=read_only)
    workspace = open_workspace()
    if test_first:
        _test_before_saving(config)
    saved = workspace.add_datasource(
        name, config=config, read_only=read_only, description=description, journal=journal
    )
    if as_json:
        print_record(saved.to_dict(), True)
    else:
        say(
            f"Saved data source {name!r} ({saved.config.auth_method}"
            f"{', read-only' if read_only else ''}{', journal on' if journal else ''})."
        )


def _test_before_saving(config) -> None:
    from ..connection import Connection

    diagnosis = Connection(config).test()
    if not diagnosis.ok:
        fail(f"not saved: {diagnosis.message}", EXIT_FAILED)
    say(f"ok: {diagnosis.message}")


@datasource.command("list")
@json_option
@handle_errors
def datasource_list(as_json: bool) -> None:
    """List the saved data sources (secrets masked)."""
    records = [ds.to_dict() for ds in open_workspace().datasources()]
    print_records(
        records, as_json, ["name", "auth", "region", "endpoint_url", "read_only", "description"]
    )


@datasource.command("show")
@click.argument("name")
@json_option
@handle_errors
def datasource_show(name: str, as_json: bool) -> None:
    """Show a data source's settings (secrets masked)."""
    print_record(open_workspace().datasource(name).to_dict(), as_json)


@datasource.command("edit")
@click.argument("name")
@connection_flags
@click.option("--rename", metavar="NEW_NAME", help="Give the data source a new name.")
@click.option("--read-only/--read-write", default=None, help="Allow only reads, or everything.")
@click.option(
    "--journal/--no-journal",
    default=None,
    help="Keep each written item's before and after images in the journal (sealed like "
    "secrets, kept 30 days), so that `dynaquery undo RUN` can put the items back. Off by "
    "default: it stores data.",
)
@click.option("--description", help="A note ('' clears it).")
@click.option(
    "--clear",
    "clear",
    multiple=True,
    metavar="SETTING",
    help="Reset a setting (e.g. --clear session_token --clear endpoint_url).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the data source as JSON.")
@handle_errors
def datasource_edit(
    name: str,
    rename: str | None,
    read_only: bool | None,
    journal: bool | None,
    description: str | None,
    clear: tuple[str, ...],
    as_json: bool,
    **kwargs: Any,
) -> None:
    """Change some settings of a data source; secrets not given keep their stored value."""
    updated = open_workspace().update_datasource(
        name,
        name=rename,
        read_only=read_only,
        journal=journal,
        description=description,
        clear=[c.replace("-", "_") for c in clear],
        **given_flags(kwargs),
    )
    if as_json:
        print_record(updated.to_dict(), True)
    else:
        say(f"Saved data source {updated.name!r}.")


@datasource.command("remove")
@click.argument("name")
@click.option("--with-queries", is_flag=True, help="Remove the queries that use it as well.")
@handle_errors
def datasource_remove(name: str, with_queries: bool) -> None:
    """Remove a data source (refused while saved queries use it, unless --with-queries)."""
    open_workspace().remove_datasource(name, with_queries=with_queries)
    say(f"Removed data source {name!r}.")


@datasource.command("test")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the diagnosis as JSON.")
@handle_errors
def datasource_test(name: str, as_json: bool) -> None:
    """Test a saved data source: exit 0 and one line if it works, else exit 1 and the diagnosis."""
    print_diagnosis(open_workspace().test_datasource(name), as_json)
