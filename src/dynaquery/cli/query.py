"""`dynaquery query`: saved queries (save, list, show, edit, remove, run)."""

from __future__ import annotations

from typing import Any

import click

from .options import (
    code_option,
    explain_option,
    json_option,
    open_workspace,
    print_code,
    print_explanation,
    read_params,
    run_options,
    run_settings,
    yes_option,
)
from .output import handle_errors, print_record, print_records, print_result, say
from .prompts import confirm_destructive


@click.group()
def query() -> None:
    """Saved queries: save, list, show, edit, remove, run.

    A query's parameter text may hold placeholders, {{ name }}, filled at run time with JSON
    values (--param name=text, --param name:=JSON, --params-json).
    """


def _values(
    items: tuple[str, ...], as_json: str | None, json_option_name: str = "--params-json"
) -> dict[str, Any]:
    """Placeholder values given as NAME=VALUE items, over those of a JSON object."""
    from ..templates import parse_assignment, parse_values_json

    values = parse_values_json(as_json, json_option_name) if as_json else {}
    values.update(parse_assignment(item) for item in items)
    return values


def _defaults(items: tuple[str, ...], as_json: str | None) -> dict[str, Any] | None:
    if not items and as_json is None:
        return None
    return _values(items, as_json, "--defaults-json")


@query.command("save")
@click.argument("name")
@click.argument("operation")
@click.argument("params", required=False)
@click.option(
    "-d", "--datasource", required=True, metavar="NAME", help="The data source it runs on."
)
@click.option("--transform", metavar="EXPR", help="JMESPath applied to its results.")
@click.option("--description", help="What the query is for.")
@click.option(
    "--default",
    "default_items",
    multiple=True,
    metavar="NAME=VALUE",
    help="A placeholder's default (NAME:=JSON for a non-string).",
)
@click.option("--defaults-json", metavar="JSON", help="Placeholder defaults as a JSON object.")
@handle_errors
def query_save(
    name: str,
    operation: str,
    params: str | None,
    datasource: str,
    transform: str | None,
    description: str | None,
    default_items: tuple[str, ...],
    defaults_json: str | None,
) -> None:
    """Save query NAME: OPERATION with PARAMS (inline JSON, @file.json or -), kept verbatim.

    It must parse and validate as `run` would; nothing is sent.
    """
    saved = open_workspace().save_query(
        name,
        datasource,
        operation,
        read_params(params),
        transform=transform,
        description=description,
        defaults=_defaults(default_items, defaults_json),
    )
    placeholders = ", ".join(saved.placeholders)
    say(
        f"Saved query {name!r} ({saved.operation} on {saved.datasource}"
        f"{'; placeholders: ' + placeholders if placeholders else ''})."
    )


@query.command("list")
@click.option("-d", "--datasource", metavar="NAME", help="Only the queries of this data source.")
@json_option
@handle_errors
def query_list(datasource: str | None, as_json: bool) -> None:
    """List the saved queries."""
    records = [q.to_dict() for q in open_workspace().queries(datasource)]
    for record in records if not as_json else ():
        record["placeholders"] = ", ".join(record["placeholders"])
    print_records(
        records, as_json, ["name", "datasource", "operation", "placeholders", "description"]
    )


@query.command("show")
@click.argument("name")
@json_option
@click.option("--params", "params_only", is_flag=True, help="Print only the parameter text.")
@handle_errors
def query_show(name: str, as_json: bool, params_only: bool) -> None:
    """Show a saved query, its parameter text verbatim."""
    saved = open_workspace().query(name)
    if params_only:
        click.echo(saved.params)
        return
    record = saved.to_dict()
    if as_json:
        print_record(record, True)
        return
    params = record.pop("params")
    record["placeholders"] = ", ".join(record["placeholders"])
    record["defaults"] = record["defaults"] or None
    print_record(record, False)
    click.echo("params:")
    click.echo(params)


@query.command("edit")
@click.argument("name")
@click.argument("params", required=False)
@click.option("-d", "--datasource", metavar="NAME", help="Run it on another data source.")
@click.option("--operation", help="Another operation.")
@click.option("--transform", metavar="EXPR", help="JMESPath ('' clears it).")
@click.option("--description", help="A note ('' clears it).")
@click.option("--rename", metavar="NEW_NAME", help="Give the query a new name.")
@click.option(
    "--default",
    "default_items",
    multiple=True,
    metavar="NAME=VALUE",
    help="Set a placeholder's default (replaces all defaults with those given).",
)
@click.option("--defaults-json", metavar="JSON", help="Placeholder defaults as a JSON object.")
@handle_errors
def query_edit(
    name: str,
    params: str | None,
    datasource: str | None,
    operation: str | None,
    transform: str | None,
    description: str | None,
    rename: str | None,
    default_items: tuple[str, ...],
    defaults_json: str | None,
) -> None:
    """Change a saved query. PARAMS (inline, @file or -) replaces its text; with no change given
    at all, the text opens in $EDITOR. The result must still parse and validate."""
    workspace = open_workspace()
    text = read_params(params)
    defaults = _defaults(default_items, defaults_json)
    if all(
        v is None for v in (text, datasource, operation, transform, description, rename, defaults)
    ):
        text = _edit_in_editor(workspace.query(name).params)
        if text is None:
            return
    saved = workspace.update_query(
        name,
        name=rename,
        datasource=datasource,
        operation=operation,
        params=text,
        transform=transform,
        description=description,
        defaults=defaults,
    )
    say(f"Saved query {saved.name!r}.")


def _edit_in_editor(current: str) -> str | None:
    """The text as changed in $EDITOR; None (and a message) when it is unchanged."""
    text = click.edit(current, extension=".json")
    if text is None or text == current:
        say("No change.")
        return None
    return text


@query.command("remove")
@click.argument("name")
@handle_errors
def query_remove(name: str) -> None:
    """Remove a saved query (its history stays)."""
    open_workspace().remove_query(name)
    say(f"Removed query {name!r}.")


@query.command("run")
@click.argument("name")
@click.option(
    "-p",
    "--param",
    "param_items",
    multiple=True,
    metavar="NAME=VALUE",
    help="A placeholder's value: NAME=text, or NAME:=JSON (number, true, object...).",
)
@click.option("--params-json", metavar="JSON", help="Placeholder values as a JSON object.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the parameters with the placeholders filled; send nothing.",
)
@run_options
@yes_option
@code_option
@explain_option
@handle_errors
def query_run(
    name: str,
    param_items: tuple[str, ...],
    params_json: str | None,
    dry_run: bool,
    output: str,
    transform: str | None,
    yes: bool,
    **kwargs: Any,
) -> None:
    """Run saved query NAME and print what `run` prints. Its transformation applies; --query
    applies on top of it. With --code, the program that makes the call, placeholders filled,
    is printed instead, and nothing is sent."""
    from ..results import to_json

    values = _values(param_items, params_json)
    workspace = open_workspace()
    if code := kwargs.pop("code"):
        saved, request = workspace.render_query(name, values)
        print_code(request, code, workspace.datasource(saved.datasource).config)
        return
    if kwargs.pop("explain"):
        saved, request = workspace.render_query(name, values)
        print_explanation(workspace.connect(saved.datasource), request, output, transform)
        return
    if dry_run:
        _, request = workspace.render_query(name, values)
        click.echo(to_json(request.source))
        return
    result = workspace.run_query(
        name,
        values,
        origin="cli",
        confirm=lambda r: confirm_destructive(r, yes),
        **run_settings(kwargs),
    )
    print_result(result, output, transform)
