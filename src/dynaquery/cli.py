"""The `dynaquery` command: a thin layer over the library.

stdout carries only the result; messages go to stderr. Exit codes: 0 success, 1 the service or the
connection failed (or a batch left items unprocessed), 2 bad input.
"""

from __future__ import annotations

import functools
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


def connection_options(command: Callable) -> Callable:
    """The connection flags shared by every command that talks to DynamoDB."""
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
        click.option("--max-attempts", type=click.IntRange(min=1),
                     help="Total attempts per call, retries included."),
        click.option("--retry-mode", type=click.Choice(["standard", "adaptive", "legacy"])),
    ]
    for option in reversed(options):
        command = option(command)
    return command


CONNECTION_FLAGS = ("region", "endpoint_url", "auth", "access_key_id", "secret_access_key",
                    "session_token", "profile", "role_arn", "external_id", "role_session_name",
                    "sts_endpoint_url", "connect_timeout", "read_timeout", "max_attempts",
                    "retry_mode")


def _connection(kwargs: dict[str, Any]):
    from .connection import Connection, ConnectionConfig

    settings = {name: kwargs.pop(name) for name in CONNECTION_FLAGS}
    return Connection(ConnectionConfig(**settings))


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
        return sys.stdin.read()
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


@cli.command()
@click.argument("operation")
@click.argument("params", required=False)
@connection_options
@click.option("-o", "--output", type=click.Choice(OUTPUT_FORMATS),
              default="json", show_default=True,
              help="json: the data; raw: the service response; full: data and meta.")
@click.option("--query", "transform", metavar="EXPR", help="JMESPath applied to the result.")
@click.option("--all-pages", is_flag=True, help="Follow every page and join them.")
@click.option("--max-items", type=click.IntRange(min=1), help="Stop after N items (follows pages).")
@click.option("--starting-token", help="Continue from a previous result's meta.next_token.")
@click.option("--batch-timeout", type=click.FloatRange(min=0), default=60, show_default=True,
              help="Seconds to keep retrying unprocessed batch items.")
@handle_errors
def run(operation: str, params: str | None, output: str, transform: str | None, all_pages: bool,
        max_items: int | None, starting_token: str | None, batch_timeout: float,
        **kwargs: Any) -> None:
    """Run OPERATION with PARAMS (inline JSON, @file.json, or - for stdin).

    Values may be typed ({"S": "x"}) or plain ("x", 42, true, null, lists, objects).
    """
    from .request import prepare
    from .results import compile_transform, render

    request = prepare(operation, read_params(params))  # bad input fails before connecting
    if transform:
        compile_transform(transform)
    connection = _connection(kwargs)
    result = connection.run(request, all_pages=all_pages, max_items=max_items,
                            starting_token=starting_token, batch_timeout=batch_timeout)
    text = render(result, output, transform)
    click.echo(text, nl=not text.endswith("\n"))
    if not result.complete:
        count = result.meta.get("unprocessed", 0)
        _fail(f"{count} request(s) stayed unprocessed after retrying for {batch_timeout:g}s; "
              "they are listed in the result (UnprocessedItems / UnprocessedKeys).", EXIT_FAILED)


@cli.command()
@connection_options
@click.option("--json", "as_json", is_flag=True, help="Print the diagnosis as JSON.")
@handle_errors
def test(as_json: bool, **kwargs: Any) -> None:
    """Test the connection: exit 0 and one line if it works, else exit 1 and the diagnosis."""
    from .results import to_json

    diagnosis = _connection(kwargs).test()
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


def main() -> None:
    try:
        cli(prog_name="dynaquery")
    except BrokenPipeError:  # the reader went away (| head): stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(EXIT_FAILED)


if __name__ == "__main__":
    main()
