"""The `dynaquery` command: a thin layer over the library.

stdout carries only the result; messages go to stderr. Exit codes: 0 success, 1 the service or the
connection failed (or a batch left items unprocessed), 2 bad input.
"""

from __future__ import annotations

import functools
import gc
import os
import sys
from pathlib import Path
from typing import Any, Callable

import click

from .errors import DynaqueryError, InputError
from .results import OUTPUT_FORMATS

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2


def _fail(message: str, code: int) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def connection_flags(command: Callable) -> Callable:
    """The settings of a connection, as flags (on `run`, `test` and `datasource add|edit`)."""
    options = [
        click.option("--region", help="AWS region (else AWS_REGION / the profile's region)."),
        click.option("--endpoint-url", help="Endpoint URL: DynamoDB Local, Alternator, LocalStack."),
        click.option("--auth", type=click.Choice(["iam_credentials", "instance_profile", "role_arn"]),
                     help="Auth method (default: decided from the flags given)."),
        click.option("--access-key-id", help="Access key id (iam_credentials)."),
        click.option("--secret-access-key", help="Secret access key (iam_credentials).",
                     envvar="DYNAQUERY_SECRET_ACCESS_KEY", show_envvar=True),
        click.option("--session-token", help="Session token for temporary keys.",
                     envvar="DYNAQUERY_SESSION_TOKEN", show_envvar=True),
        click.option("--profile", help="AWS profile from ~/.aws/config (else AWS_PROFILE)."),
        click.option("--role-arn", help="Role to assume through STS (role_arn)."),
        click.option("--external-id", help="External id for the role."),
        click.option("--role-session-name", default="dynaquery", show_default=True),
        click.option("--sts-endpoint-url", help="STS endpoint for --role-arn (else the default)."),
        click.option("--connect-timeout", type=click.FloatRange(min=0.1), default=10,
                     show_default=True, help="Seconds."),
        click.option("--read-timeout", type=click.FloatRange(min=0.1), default=60,
                     show_default=True, help="Seconds."),
        click.option("--max-attempts", type=click.IntRange(min=1, max=10),
                     help="Total attempts per call, retries included (1 to 10)."),
        click.option("--retry-mode", type=click.Choice(["standard", "adaptive", "legacy"])),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def connection_options(command: Callable) -> Callable:
    """The connection flags, plus --datasource: every command that talks to DynamoDB has them."""
    command = connection_flags(command)
    return click.option("-d", "--datasource", metavar="NAME",
                        help="A saved data source (flags given as well override its settings).")(
        command)


CONNECTION_FLAGS = ("region", "endpoint_url", "auth", "access_key_id", "secret_access_key",
                    "session_token", "profile", "role_arn", "external_id", "role_session_name",
                    "sts_endpoint_url", "connect_timeout", "read_timeout", "max_attempts",
                    "retry_mode")


def _given_flags(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Pop the connection flags; keep those typed on the command line (not defaults)."""
    from click.core import ParameterSource

    ctx = click.get_current_context()
    settings = {name: kwargs.pop(name) for name in CONNECTION_FLAGS}
    return {name: value for name, value in settings.items()
            if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE}


def _connection(kwargs: dict[str, Any]):
    """The Connection a command's flags describe: a saved data source (with the flags given
    overriding its settings), or the flags alone."""
    from .connection import Connection, ConnectionConfig

    datasource = kwargs.pop("datasource", None)
    if datasource:
        return open_workspace().connect(datasource, **_given_flags(kwargs))
    settings = {name: kwargs.pop(name) for name in CONNECTION_FLAGS}
    return Connection(ConnectionConfig(**settings))


def open_workspace():
    from .workspace import Workspace

    return Workspace.open()


def handle_errors(command: Callable) -> Callable:
    """Turn every error into a message on stderr and an exit code: never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .connection import ConnectionConfig

        redact = ConnectionConfig(secret_access_key=kwargs.get("secret_access_key"),
                                  session_token=kwargs.get("session_token")).redact

        try:
            return command(*args, **kwargs)
        except DynaqueryError as error:
            _fail(redact(error.message), error.exit_code)
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except BrokenPipeError:
            raise
        except (click.exceptions.Exit, click.ClickException):
            raise
        except Exception as error:  # a bug of ours: say so, without a traceback
            _fail(redact(f"unexpected {type(error).__name__}: {error}"), EXIT_FAILED)

    return wrapper


def read_params(value: str | None) -> str | None:
    """PARAMS as given: inline JSON, @file, or - for stdin."""
    if value is None:
        return None
    if value == "-":
        try:
            return sys.stdin.read()
        except UnicodeDecodeError:
            raise InputError("The parameters on stdin are not UTF-8 text.") from None
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            return path.read_text(encoding="utf-8")
        except OSError as error:
            raise InputError(f"Cannot read the parameters file {str(path)!r}: "
                             f"{error.strerror or error}") from None
        except UnicodeDecodeError:
            raise InputError(f"The parameters file {str(path)!r} is not UTF-8 text.") from None
    return value


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dynaquery")
def cli() -> None:
    """dynaquery: run any DynamoDB operation with a JSON body, plain or typed values."""


def run_options(command: Callable) -> Callable:
    """How to run and print: shared by `run` and `query run`."""
    options = [
        click.option("-o", "--output", type=click.Choice(OUTPUT_FORMATS), default="json",
                     show_default=True,
                     help="json: the data; raw: the service response; full: data and meta."),
        click.option("--query", "transform", metavar="EXPR",
                     help="JMESPath applied to the result."),
        click.option("--all-pages", is_flag=True, help="Follow every page and join them."),
        click.option("--max-items", type=click.IntRange(min=1),
                     help="Stop after N items (follows pages)."),
        click.option("--starting-token", help="Continue from a previous result's meta.next_token."),
        click.option("--batch-timeout", type=click.FloatRange(min=0), default=60,
                     show_default=True, help="Seconds to keep retrying unprocessed batch items."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def yes_option(command: Callable) -> Callable:
    return click.option("-y", "--yes", is_flag=True,
                        help="Run an operation that deletes data or changes a table without "
                             "asking.")(command)


def confirm_destructive(request, yes: bool) -> None:
    """Ask before a call that deletes data or changes a table (catalog.Operation.is_destructive):
    a prompt on a terminal; elsewhere, refuse unless --yes."""
    if yes or not request.operation.is_destructive(request.params):
        return
    question = request.operation.confirmation(request.params)
    if not sys.stdin.isatty():
        _fail(f"{question} It deletes data or changes a table: pass --yes to run it without "
              "a terminal to confirm on.", EXIT_INPUT)
    if not click.confirm(question, default=False, err=True):
        _fail("Not run.", EXIT_INPUT)


def _run_settings(kwargs: dict[str, Any]) -> dict[str, Any]:
    settings = {name: kwargs.pop(name) for name in
                ("all_pages", "max_items", "starting_token", "batch_timeout")}
    if settings["all_pages"] or settings["max_items"]:
        collect_garbage()  # many requests: botocore leaves a few reference cycles each
    return settings


def collect_garbage() -> None:
    """Turn the cyclic garbage collector back on, for a command that runs long (main turns it
    off). What exists by now lives until exit: frozen, it is not scanned again."""
    gc.freeze()
    gc.enable()


def print_result(result, output: str, transform: str | None = None) -> None:
    """Print a result as `--output` says (`transform` applied to what is printed); exit 1 when a
    batch left requests unprocessed."""
    from .results import render

    text = render(result, output, transform)
    click.echo(text, nl=not text.endswith("\n"))
    if not result.complete:
        count = result.meta.get("unprocessed", 0)
        _fail(f"{count} request(s) stayed unprocessed after retrying; they are listed in the "
              "result (UnprocessedItems / UnprocessedKeys).", EXIT_FAILED)


@cli.command()
@click.argument("operation")
@click.argument("params", required=False)
@connection_options
@run_options
@yes_option
@handle_errors
def run(operation: str, params: str | None, output: str, transform: str | None, yes: bool,
        **kwargs: Any) -> None:
    """Run OPERATION with PARAMS (inline JSON, @file.json, or - for stdin).

    Values may be typed ({"S": "x"}) or plain ("x", 42, true, null, lists, objects). With
    --datasource, the run is recorded in the history.
    """
    from .request import prepare
    from .results import compile_transform

    settings = _run_settings(kwargs)
    request = prepare(operation, read_params(params))  # bad input fails before connecting
    if transform:
        compile_transform(transform)
    datasource = kwargs.pop("datasource", None)
    if datasource:
        result = open_workspace().run(datasource, request, overrides=_given_flags(kwargs),
                                      origin="cli", confirm=lambda r: confirm_destructive(r, yes),
                                      **settings)
    else:
        confirm_destructive(request, yes)
        result = _connection(kwargs).run(request, **settings)
    print_result(result, output, transform)


@cli.command()
@connection_options
@click.option("--json", "as_json", is_flag=True, help="Print the diagnosis as JSON.")
@handle_errors
def test(as_json: bool, **kwargs: Any) -> None:
    """Test the connection: exit 0 and one line if it works, else exit 1 and the diagnosis."""
    _print_diagnosis(_connection(kwargs).test(), as_json)


def _print_diagnosis(diagnosis, as_json: bool) -> None:
    from .results import to_json

    if as_json:
        click.echo(to_json(diagnosis.to_dict()))
    elif diagnosis.ok:
        click.echo(f"ok: {diagnosis.message}")
    if not diagnosis.ok:
        _fail(diagnosis.message, EXIT_FAILED)


@cli.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@click.pass_context
@handle_errors
def operations(ctx: click.Context, as_json: bool) -> None:
    """List every DynamoDB operation with a one-line summary."""
    if ctx.invoked_subcommand is not None:
        return
    from .catalog import catalog
    from .results import to_json

    ops = list(catalog())
    if as_json:
        click.echo(to_json([op.to_dict() for op in ops]))
        return
    width = max(len(op.name) for op in ops)
    for op in ops:
        click.echo(f"{op.name:<{width}}  {op.access:<9}  {op.summary}")


@operations.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@handle_errors
def operations_show(name: str, as_json: bool) -> None:
    """Show an operation's parameters (required marked) and an example."""
    from .catalog import catalog
    from .results import to_json

    op = catalog().get(name)
    if as_json:
        click.echo(to_json(op.to_dict(detail=True)))
        return
    click.echo(f"{op.name} ({op.python_name}), {op.access}"
               f"{', paginated' if op.pagination else ''}")
    click.echo(f"\n{op.summary}\n\nParameters:")
    if not op.parameters:
        click.echo("  (none)")
    for p in op.parameters:
        mark = "*" if p.required else " "
        click.echo(f" {mark} {p.name}: {p.type}")
        if p.documentation:
            click.echo(f"      {p.documentation}")
    click.echo("  (* required)\n\nExample:")
    click.echo(op.example)


# ---------------------------------------------------------------------------------------------
# the workspace: data sources, queries, history, export/import


def _print_records(records: list[dict], as_json: bool, columns: list[str]) -> None:
    from .results import to_json, to_table

    if as_json:
        click.echo(to_json(records))
    elif not records:
        click.echo("(none)", err=True)
    else:
        click.echo(to_table([{c: r.get(c) for c in columns} for r in records]), nl=False)


def _print_record(record: dict, as_json: bool) -> None:
    from .results import cell, to_json

    if as_json:
        click.echo(to_json(record))
        return
    width = max(len(k) for k in record)
    for key, value in record.items():
        click.echo(f"{key:<{width}}  {'' if value is None else cell(value)}")


@cli.group()
def datasource() -> None:
    """Saved data sources: add, list, show, edit, remove, test.

    Secrets are encrypted in the workspace ($DYNAQUERY_HOME, or DYNAQUERY_DATABASE_URL) with the
    key from DYNAQUERY_SECRET_KEY or the workspace's key file, and always shown masked.
    """


def _secret_prompt(settings: dict[str, Any]) -> None:
    # Keys without a secret on a terminal: ask for it, so it stays out of the shell history.
    if (settings.get("access_key_id") and not settings.get("secret_access_key")
            and sys.stdin.isatty()):
        settings["secret_access_key"] = click.prompt("Secret access key", hide_input=True)


@datasource.command("add")
@click.argument("name")
@connection_flags
@click.option("--read-only", is_flag=True, help="Send only operations that read.")
@click.option("--description", help="A note about the data source.")
@click.option("--test", "test_first", is_flag=True, help="Test the connection; save only if it works.")
@click.option("--json", "as_json", is_flag=True, help="Print the saved data source as JSON.")
@handle_errors
def datasource_add(name: str, read_only: bool, description: str | None, test_first: bool,
                   as_json: bool, **kwargs: Any) -> None:
    """Save a data source NAME with the connection flags of `run`."""
    from .connection import Connection, ConnectionConfig

    settings = {n: kwargs.pop(n) for n in CONNECTION_FLAGS}
    _secret_prompt(settings)
    config = ConnectionConfig(**settings, read_only=read_only)
    workspace = open_workspace()
    if test_first:
        diagnosis = Connection(config).test()
        if not diagnosis.ok:
            _fail(f"not saved: {diagnosis.message}", EXIT_FAILED)
        click.echo(f"ok: {diagnosis.message}", err=True)
    saved = workspace.add_datasource(name, config=config, read_only=read_only,
                                     description=description)
    if as_json:
        _print_record(saved.to_dict(), True)
    else:
        click.echo(f"Saved data source {name!r} ({saved.config.auth_method}"
                   f"{', read-only' if read_only else ''}).", err=True)


@datasource.command("list")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@handle_errors
def datasource_list(as_json: bool) -> None:
    """List the saved data sources (secrets masked)."""
    records = [ds.to_dict() for ds in open_workspace().datasources()]
    _print_records(records, as_json, ["name", "auth", "region", "endpoint_url", "read_only",
                                      "description"])


@datasource.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@handle_errors
def datasource_show(name: str, as_json: bool) -> None:
    """Show a data source's settings (secrets masked)."""
    _print_record(open_workspace().datasource(name).to_dict(), as_json)


@datasource.command("edit")
@click.argument("name")
@connection_flags
@click.option("--rename", metavar="NEW_NAME", help="Give the data source a new name.")
@click.option("--read-only/--read-write", default=None, help="Allow only reads, or everything.")
@click.option("--description", help="A note ('' clears it).")
@click.option("--clear", "clear", multiple=True, metavar="SETTING",
              help="Reset a setting (e.g. --clear session_token --clear endpoint_url).")
@click.option("--json", "as_json", is_flag=True, help="Print the data source as JSON.")
@handle_errors
def datasource_edit(name: str, rename: str | None, read_only: bool | None,
                    description: str | None, clear: tuple[str, ...], as_json: bool,
                    **kwargs: Any) -> None:
    """Change some settings of a data source; secrets not given keep their stored value."""
    changes = _given_flags(kwargs)
    updated = open_workspace().update_datasource(
        name, name=rename, read_only=read_only, description=description,
        clear=[c.replace("-", "_") for c in clear], **changes)
    if as_json:
        _print_record(updated.to_dict(), True)
    else:
        click.echo(f"Saved data source {updated.name!r}.", err=True)


@datasource.command("remove")
@click.argument("name")
@click.option("--with-queries", is_flag=True, help="Remove the queries that use it as well.")
@handle_errors
def datasource_remove(name: str, with_queries: bool) -> None:
    """Remove a data source (refused while saved queries use it, unless --with-queries)."""
    open_workspace().remove_datasource(name, with_queries=with_queries)
    click.echo(f"Removed data source {name!r}.", err=True)


@datasource.command("test")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the diagnosis as JSON.")
@handle_errors
def datasource_test(name: str, as_json: bool) -> None:
    """Test a saved data source: exit 0 and one line if it works, else exit 1 and the diagnosis."""
    _print_diagnosis(open_workspace().test_datasource(name), as_json)


@cli.group()
def query() -> None:
    """Saved queries: save, list, show, edit, remove, run.

    A query's parameter text may hold placeholders, {{ name }}, filled at run time with JSON
    values (--param name=text, --param name:=JSON, --params-json).
    """


def _defaults(items: tuple[str, ...], as_json: str | None) -> dict[str, Any] | None:
    from .templates import parse_assignment, parse_values_json

    if not items and as_json is None:
        return None
    values = parse_values_json(as_json, "--defaults-json") if as_json else {}
    values.update(parse_assignment(item) for item in items)
    return values


@query.command("save")
@click.argument("name")
@click.argument("operation")
@click.argument("params", required=False)
@click.option("-d", "--datasource", required=True, metavar="NAME", help="The data source it runs on.")
@click.option("--transform", metavar="EXPR", help="JMESPath applied to its results.")
@click.option("--description", help="What the query is for.")
@click.option("--default", "default_items", multiple=True, metavar="NAME=VALUE",
              help="A placeholder's default (NAME:=JSON for a non-string).")
@click.option("--defaults-json", metavar="JSON", help="Placeholder defaults as a JSON object.")
@handle_errors
def query_save(name: str, operation: str, params: str | None, datasource: str,
               transform: str | None, description: str | None, default_items: tuple[str, ...],
               defaults_json: str | None) -> None:
    """Save query NAME: OPERATION with PARAMS (inline JSON, @file.json or -), kept verbatim.

    It must parse and validate as `run` would; nothing is sent.
    """
    saved = open_workspace().save_query(
        name, datasource, operation, read_params(params), transform=transform,
        description=description, defaults=_defaults(default_items, defaults_json))
    click.echo(f"Saved query {name!r} ({saved.operation} on {saved.datasource}"
               f"{'; placeholders: ' + ', '.join(saved.placeholders) if saved.placeholders else ''}).",
               err=True)


@query.command("list")
@click.option("-d", "--datasource", metavar="NAME", help="Only the queries of this data source.")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@handle_errors
def query_list(datasource: str | None, as_json: bool) -> None:
    """List the saved queries."""
    records = [q.to_dict() for q in open_workspace().queries(datasource)]
    for record in records if not as_json else ():
        record["placeholders"] = ", ".join(record["placeholders"])
    _print_records(records, as_json, ["name", "datasource", "operation", "placeholders",
                                      "description"])


@query.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
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
        _print_record(record, True)
        return
    params = record.pop("params")
    record["placeholders"] = ", ".join(record["placeholders"])
    record["defaults"] = record["defaults"] or None
    _print_record(record, False)
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
@click.option("--default", "default_items", multiple=True, metavar="NAME=VALUE",
              help="Set a placeholder's default (replaces all defaults with those given).")
@click.option("--defaults-json", metavar="JSON", help="Placeholder defaults as a JSON object.")
@handle_errors
def query_edit(name: str, params: str | None, datasource: str | None, operation: str | None,
               transform: str | None, description: str | None, rename: str | None,
               default_items: tuple[str, ...], defaults_json: str | None) -> None:
    """Change a saved query. PARAMS (inline, @file or -) replaces its text; with no change given
    at all, the text opens in $EDITOR. The result must still parse and validate."""
    workspace = open_workspace()
    text = read_params(params)
    defaults = _defaults(default_items, defaults_json)
    if all(v is None for v in (text, datasource, operation, transform, description, rename,
                               defaults)):
        current = workspace.query(name).params
        text = click.edit(current, extension=".json")
        if text is None or text == current:
            click.echo("No change.", err=True)
            return
    saved = workspace.update_query(name, name=rename, datasource=datasource, operation=operation,
                                   params=text, transform=transform, description=description,
                                   defaults=defaults)
    click.echo(f"Saved query {saved.name!r}.", err=True)


@query.command("remove")
@click.argument("name")
@handle_errors
def query_remove(name: str) -> None:
    """Remove a saved query (its history stays)."""
    open_workspace().remove_query(name)
    click.echo(f"Removed query {name!r}.", err=True)


@query.command("run")
@click.argument("name")
@click.option("-p", "--param", "param_items", multiple=True, metavar="NAME=VALUE",
              help="A placeholder's value: NAME=text, or NAME:=JSON (number, true, object...).")
@click.option("--params-json", metavar="JSON", help="Placeholder values as a JSON object.")
@click.option("--dry-run", is_flag=True,
              help="Print the parameters with the placeholders filled; send nothing.")
@run_options
@yes_option
@handle_errors
def query_run(name: str, param_items: tuple[str, ...], params_json: str | None, dry_run: bool,
              output: str, transform: str | None, yes: bool, **kwargs: Any) -> None:
    """Run saved query NAME and print what `run` prints. Its transformation applies; --query
    applies on top of it."""
    from .results import to_json
    from .templates import parse_assignment, parse_values_json

    values = parse_values_json(params_json) if params_json else {}
    values.update(parse_assignment(item) for item in param_items)
    workspace = open_workspace()
    if dry_run:
        _, request = workspace.render_query(name, values)
        click.echo(to_json(request.source))
        return
    result = workspace.run_query(name, values, origin="cli",
                                 confirm=lambda r: confirm_destructive(r, yes),
                                 **_run_settings(kwargs))
    print_result(result, output, transform)


@cli.group(invoke_without_command=True)
@click.option("--query", "query_name", metavar="NAME", help="Runs of this saved query.")
@click.option("-d", "--datasource", metavar="NAME", help="Runs on this data source.")
@click.option("--operation", help="Runs of this operation.")
@click.option("--outcome", type=click.Choice(["ok", "incomplete", "error"]))
@click.option("--since", metavar="WHEN", help="A time (2026-11-23T10:00:00Z) or a span (30m, 12h, 7d).")
@click.option("-n", "--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@click.pass_context
@handle_errors
def history(ctx: click.Context, query_name: str | None, datasource: str | None,
            operation: str | None, outcome: str | None, since: str | None, limit: int,
            as_json: bool) -> None:
    """The runs made through the workspace, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    runs = open_workspace().history(limit=limit, query=query_name, datasource=datasource,
                                    operation=operation, outcome=outcome, since=since)
    records = [run.to_dict() for run in runs]
    if not as_json:
        for record in records:
            if record["error"]:
                record["error"] = record["error"].splitlines()[0][:80]
    _print_records(records, as_json, ["started_at", "query", "datasource", "operation",
                                      "outcome", "item_count", "duration_ms", "error"])


@history.command("clear")
@click.option("--before", metavar="WHEN", help="Only runs older than this time or span (7d).")
@handle_errors
def history_clear(before: str | None) -> None:
    """Delete recorded runs."""
    count = open_workspace().clear_history(before)
    click.echo(f"Deleted {count} run(s) from the history.", err=True)


@cli.group()
def workspace() -> None:
    """The workspace itself: where it is, export and import."""


@workspace.command("info")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@handle_errors
def workspace_info(as_json: bool) -> None:
    """Where the workspace is, and what it holds."""
    ws = open_workspace()
    record = {"database": ws.location, "key_file": str(ws.key_file),
              "datasources": len(ws.datasources()), "queries": len(ws.queries())}
    _print_record(record, as_json)


def _format_of(path: str | None, given: str | None) -> str:
    if given:
        return given
    return "yaml" if path and path.endswith((".yaml", ".yml")) else "json"


@workspace.command("export")
@click.option("-o", "--output", "path", metavar="FILE", help="Write to FILE (default: stdout).")
@click.option("--format", "fmt", type=click.Choice(["json", "yaml"]),
              help="Default: from the file's extension, else json.")
@handle_errors
def workspace_export(path: str | None, fmt: str | None) -> None:
    """Export data sources (without secrets) and queries as JSON or YAML."""
    from .workspace import dump_export

    text = dump_export(open_workspace().export(), _format_of(path, fmt))
    if path:
        _write_atomically(Path(path), text)
        click.echo(f"Exported the workspace to {path}.", err=True)
    else:
        click.echo(text, nl=not text.endswith("\n"))


@workspace.command("import")
@click.argument("path", metavar="FILE")
@click.option("--format", "fmt", type=click.Choice(["json", "yaml"]),
              help="Default: from the file's extension, else json.")
@click.option("--skip-existing", "on_conflict", flag_value="skip",
              help="Keep what the workspace has under a name the file also has.")
@click.option("--replace", "on_conflict", flag_value="replace",
              help="Overwrite it (data sources keep their stored secrets).")
@handle_errors
def workspace_import(path: str, fmt: str | None, on_conflict: str | None) -> None:
    """Import an export (FILE, or - for stdin). All or nothing; by default a name that exists
    already stops the import."""
    from .workspace import load_export

    text = read_params("-" if path == "-" else "@" + path)
    counts = open_workspace().import_(load_export(text, _format_of(path, fmt)),
                                      on_conflict=on_conflict or "error")
    click.echo(f"Imported {counts['datasources']} data source(s) and {counts['queries']} "
               f"query(ies){', skipped ' + str(counts['skipped']) if counts['skipped'] else ''}.",
               err=True)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--demo", is_flag=True,
              help="Also start a local DynamoDB with the documentation's tables, saved as the "
                   "data source 'demo'. Its data and its address (http://127.0.0.1:8001 unless "
                   "taken on the first start) are kept in the workspace directory, under demo/.")
@click.option("--new-token", is_flag=True,
              help="Replace the stored token with a new one (printed once) and exit.")
@click.option("--allow-endpoint-network", type=click.Choice(["link-local"]), multiple=True,
              help="Let data sources given through the API use endpoints on link-local "
                   "addresses (169.254.0.0/16, fe80::/10, the cloud metadata service), refused "
                   "otherwise. Also DYNAQUERY_ALLOW_ENDPOINT_NETWORK=link-local.")
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="HOST[:PORT]",
              help="A Host header to answer besides the defaults: on loopback only "
                   "127.0.0.1, localhost and [::1] are answered (DNS rebinding); on another "
                   "address, only the names given (any, when none is given). Repeatable.")
@click.option("--forwarded-allow-ips", metavar="IPS",
              help="Comma-separated addresses of the reverse proxies whose X-Forwarded-For "
                   "is believed ('*' for any). Default: none; the client address is the peer's.")
@handle_errors
def serve(host: str, port: int, demo: bool, new_token: bool,
          allow_endpoint_network: tuple[str, ...] = (), allowed_hosts: tuple[str, ...] = (),
          forwarded_allow_ips: str | None = None) -> None:
    """Serve the web page and the JSON API over the workspace.

    Every API call needs the token: DYNAQUERY_TOKEN, or one generated on first start and printed
    once with the address to open. Without DYNAQUERY_TOKEN (or a stored token) the server only
    listens on loopback addresses.
    """
    from . import server

    collect_garbage()
    workspace = open_workspace()
    if new_token:
        click.echo(server.new_token(workspace))
        return
    if "link-local" in allow_endpoint_network:
        os.environ[server.ALLOW_NETWORK_ENV] = "link-local"
    if not server.is_loopback(host) and not (
            os.environ.get(server.TOKEN_ENV) or workspace.get_setting(server.TOKEN_SETTING)):
        _fail(f"Refusing to listen on {host}, which is not a loopback address, without a token: "
              f"set {server.TOKEN_ENV}.", EXIT_INPUT)
    engine = None
    try:
        if demo:
            from .demo import register, start_engine

            click.echo("dynaquery: starting the demo engine...", err=True)
            engine = start_engine(workspace.key_file.parent, echo=lambda m: click.echo(m, err=True))
            register(workspace, engine.endpoint_url)
            kept = f"; its data is kept in {engine.data_dir}" if engine.data_dir else ""
            click.echo(f"dynaquery: demo data source 'demo' at {engine.endpoint_url}{kept}", err=True)
        server.serve(workspace, host, port, demo=demo, echo=lambda m: click.echo(m, err=True),
                     allowed_hosts=allowed_hosts, forwarded_allow_ips=forwarded_allow_ips)
    finally:
        if engine is not None:
            engine.stop()


def _write_atomically(path: Path, text: str) -> None:
    import os
    import tempfile

    try:
        fd, temp = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temp, path)
    except OSError as error:
        raise InputError(f"Cannot write {str(path)!r}: {error.strerror or error}") from None


# ---------------------------------------------------------------------------------------------
# export and import of whole tables


def _json_option(text: str | None, name: str) -> Any:
    """A JSON-valued option (exact numbers), or None."""
    if text is None:
        return None
    from .parsing import loads

    try:
        return loads(text)
    except InputError as error:
        raise InputError(f"{name}: {error.message}") from None


class _Bar:
    """A Rich progress bar on stderr when it is a terminal; nothing otherwise."""

    def __init__(self, label: str):
        self.label = label
        self.progress = None
        self.task = None
        self.console = None
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn,
                                       TextColumn, TimeElapsedColumn, TimeRemainingColumn)
            from rich.text import Text

            class Rate(ProgressColumn):
                def render(self, task):
                    speed = task.finished_speed or task.speed
                    return Text(f"{speed:,.0f} items/s" if speed else "", style="progress.data.speed")

            self.console = Console(stderr=True)
            self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                     MofNCompleteColumn(), Rate(), TimeElapsedColumn(),
                                     TimeRemainingColumn(), console=self.console, transient=False)

    def __enter__(self) -> "_Bar":
        if self.progress is not None:
            self.progress.start()
            self.task = self.progress.add_task(self.label, total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def update(self, done: int, total: int | None) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=done, total=max(total, done) if total else None)

    def say(self, message: str) -> None:
        if self.console is not None:
            self.console.print(message, markup=False, highlight=False)
        else:
            click.echo(message, err=True)


@cli.command("export")
@click.argument("table")
@connection_options
@click.option("-o", "--output", "path", metavar="FILE",
              help="Write to FILE (default: stdout). Needed to --resume.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "json", "csv"]),
              help="jsonl: one plain item per line (the default, or FILE's extension); "
                   "json: an array; csv.")
@click.option("--typed", is_flag=True,
              help="DynamoDB's typed JSON, which reads back exactly (sets, binary).")
@click.option("--segments", type=click.IntRange(min=1), default=8, show_default=True,
              help="Segments of the parallel scan.")
@click.option("--page-size", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Items per scan request (0: as many as fit in 1 MB).")
@click.option("--filter", "filter_", metavar="EXPR", help="A FilterExpression.")
@click.option("--projection", metavar="EXPR",
              help="A ProjectionExpression (for CSV, its attributes are the columns).")
@click.option("--names", metavar="JSON", help='ExpressionAttributeNames: {"#n": "name"}.')
@click.option("--values", "values_", metavar="JSON",
              help='ExpressionAttributeValues, plain or typed: {":min": 10}.')
@click.option("--index", metavar="NAME", help="Scan this index instead of the table.")
@click.option("--consistent-read", is_flag=True, help="Strongly consistent reads.")
@click.option("--columns", metavar="A,B,...",
              help="CSV's columns (default: the projection's, else the first page's attributes).")
@click.option("--resume", is_flag=True,
              help="Go on with an interrupted export to FILE, from FILE.checkpoint.")
@handle_errors
def export_command(table: str, path: str | None, fmt: str | None, typed: bool, segments: int,
                   page_size: int, filter_: str | None, projection: str | None,
                   names: str | None, values_: str | None, index: str | None, consistent_read: bool,
                   columns: str | None, resume: bool, **kwargs: Any) -> None:
    """Export TABLE: every item, as JSON lines, a JSON array or CSV.

    A parallel scan, written as it streams: memory stays flat whatever the table's size.
    Interrupted (Ctrl-C, a failure), an export to FILE leaves FILE.checkpoint, and --resume goes
    on from there with no item missing and none twice.
    """
    from .transfer import export_table

    collect_garbage()

    if resume and not path:
        raise InputError("--resume needs the -o FILE of the interrupted export.")
    options = dict(format=fmt, segments=segments, page_size=page_size or None,
                   filter=filter_, projection=projection, index=index,
                   names=_json_option(names, "--names"), values=_json_option(values_, "--values"),
                   consistent_read=consistent_read, typed=typed, resume=resume,
                   columns=[c.strip() for c in columns.split(",")] if columns else None)
    connection = _connection(kwargs)
    with _Bar(f"export {table}") as bar:
        result = export_table(connection, table, path or sys.stdout.buffer, progress=bar.update,
                              **options)
        if bar.progress is not None:
            bar.update(result.scanned, result.scanned)
    if sys.stderr.isatty():
        click.echo(f"{result.items:,} items exported in {result.duration:.1f}s "
                   f"({result.items_per_second:,.0f} items/s)"
                   + (f" to {path}" if path else "") + ".", err=True)
    if result.lossy:
        click.echo(f"Note: {result.lossy:,} item(s) hold sets, binary values or maps whose only "
                   "key is a type tag; their plain form (lists, base64 text, objects read back as "
                   "typed) does not import back as they were. --typed keeps them exact.", err=True)
    if result.dropped:
        _fail(f"{result.dropped_items:,} item(s) had attributes that are not among the CSV's "
              f"columns, which were left out: {', '.join(result.dropped[:20])}"
              f"{' ...' if len(result.dropped) > 20 else ''}. Give them with --columns, "
              "or export JSON lines.", EXIT_FAILED)


@cli.command("import")
@click.argument("table")
@click.argument("file", metavar="FILE")
@connection_options
@click.option("--format", "fmt", type=click.Choice(["jsonl", "json", "csv"]),
              help="jsonl: one item per line (the default, or FILE's extension); json: an "
                   "array of items; csv.")
@click.option("--workers", type=click.IntRange(min=1), default=8, show_default=True,
              help="Threads sending BatchWriteItem requests.")
@click.option("--strict", is_flag=True, help="Stop at the first bad line (exit code 2).")
@click.option("--batch-timeout", type=click.FloatRange(min=0), default=60, show_default=True,
              help="Seconds to keep retrying unprocessed items.")
@handle_errors
def import_command(table: str, file: str, fmt: str | None, workers: int, strict: bool,
                   batch_timeout: float, **kwargs: Any) -> None:
    """Import FILE (or - for stdin) into TABLE: JSON lines, a JSON array or CSV.

    Items may be plain or typed. They are written in BatchWriteItem chunks of 25 from several
    threads, unprocessed ones retried; a bad line is reported with its number and the rest goes
    on (with --strict, the import stops there). Exit code 1 if any item failed.
    """
    from .transfer import ImportStopped, import_table

    collect_garbage()

    source = sys.stdin.buffer if file == "-" else file
    connection = _connection(kwargs)
    shown = 0
    with _Bar(f"import {table}") as bar:

        def on_error(error) -> None:
            nonlocal shown
            shown += 1
            if shown <= 50:
                bar.say(f"line {error.line}: {error.message}")
            elif shown == 51:
                bar.say("(more errors are not shown)")

        try:
            result = import_table(connection, table, source, format=fmt, workers=workers,
                                  strict=strict, batch_timeout=batch_timeout,
                                  progress=bar.update, on_error=on_error)
        except ImportStopped as stopped:
            bar.update(stopped.result.written, None)
            raise
    click.echo(f"{result.written:,} written, {result.failed:,} failed"
               + (f" ({result.items_per_second:,.0f} items/s)" if sys.stderr.isatty() else "")
               + ".", err=True)
    if result.failed:
        sys.exit(EXIT_FAILED)


def main() -> None:
    # A command first builds botocore's client and service model: a few hundred thousand objects
    # that live until exit. The collector's passes over them find nothing and cost a short command
    # about 15 % of its time; long commands turn it back on (collect_garbage).
    gc.disable()
    try:
        cli(prog_name="dynaquery")
    except BrokenPipeError:  # the reader went away (| head): stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(EXIT_FAILED)


if __name__ == "__main__":
    main()
