"""The options that several commands share, and what they are given.

The connection flags are made from the settings table (settings.SETTINGS): a setting added there
is a flag of `run`, `test`, `export`, `import` and `datasource add|edit` with no code here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .._speed.gc import collect_garbage
from ..errors import InputError
from ..results import OUTPUT_FORMATS
from ..settings import NAMES, SETTINGS, Setting


def _apply(options: list[Callable], command: Callable) -> Callable:
    """Decorate with `options`, the first listed shown first in the help."""
    for option in reversed(options):
        command = option(command)
    return command


def _click_type(setting: Setting) -> click.ParamType:
    if setting.choices:
        return click.Choice(setting.choices)
    if setting.type is int:
        return click.IntRange(setting.minimum, setting.maximum)
    if setting.type is float:
        return click.FloatRange(setting.minimum, setting.maximum)
    return click.STRING


def setting_option(setting: Setting) -> Callable:
    """A setting as a flag: its type and bounds, its default, its help, its variable."""
    return click.option(
        setting.flag,
        setting.name,
        type=_click_type(setting),
        default=setting.default,
        show_default=setting.default is not None,
        help=setting.help,
        envvar=setting.envvar,
        show_envvar=setting.envvar is not None,
    )


def connection_flags(command: Callable) -> Callable:
    """The settings of a connection, as flags (on `run`, `test` and `datasource add|edit`)."""
    return _apply([setting_option(setting) for setting in SETTINGS], command)


def connection_options(command: Callable) -> Callable:
    """The connection flags, plus --datasource: every command that talks to DynamoDB has them."""
    command = connection_flags(command)
    return click.option(
        "-d",
        "--datasource",
        metavar="NAME",
        help="A saved data source (flags given as well override its settings).",
    )(command)


def connection_settings(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Pop the connection flags, defaults included."""
    return {name: kwargs.pop(name) for name in NAMES}


def given_flags(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Pop the connection flags; keep those typed on the command line (not defaults)."""
    from click.core import ParameterSource

    ctx = click.get_current_context()
    return {
        name: value
        for name, value in connection_settings(kwargs).items()
        if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE
    }


def open_workspace():
    from ..workspace import Workspace

    return Workspace.open()


def connection(kwargs: dict[str, Any]):
    """The Connection a command's flags describe: a saved data source (with the flags given
    overriding its settings), or the flags alone."""
    from ..connection import Connection, ConnectionConfig

    datasource = kwargs.pop("datasource", None)
    if datasource:
        return open_workspace().connect(datasource, **given_flags(kwargs))
    return Connection(ConnectionConfig(**connection_settings(kwargs)))


def run_options(command: Callable) -> Callable:
    """How to run and print: shared by `run` and `query run`."""
    return _apply(
        [
            click.option(
                "-o",
                "--output",
                type=click.Choice(OUTPUT_FORMATS),
                default="json",
                show_default=True,
                help="json: the data; raw: the service response; full: data and meta.",
            ),
            click.option(
                "--query", "transform", metavar="EXPR", help="JMESPath applied to the result."
            ),
            click.option("--all-pages", is_flag=True, help="Follow every page and join them."),
            click.option(
                "--max-items",
                type=click.IntRange(min=1),
                help="Stop after N items (follows pages).",
            ),
            click.option(
                "--starting-token", help="Continue from a previous result's meta.next_token."
            ),
            click.option(
                "--batch-timeout",
                type=click.FloatRange(min=0),
                default=60,
                show_default=True,
                help="Seconds to keep retrying unprocessed batch items.",
            ),
        ],
        command,
    )


def run_settings(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Pop the run options that go to the library's run()."""
    settings = {
        name: kwargs.pop(name)
        for name in ("all_pages", "max_items", "starting_token", "batch_timeout")
    }
    if settings["all_pages"] or settings["max_items"]:
        collect_garbage()  # many requests: botocore leaves a few reference cycles each
    return settings


def yes_option(command: Callable) -> Callable:
    return click.option(
        "-y",
        "--yes",
        is_flag=True,
        help="Run an operation that deletes data or changes a table without asking.",
    )(command)


def json_option(command: Callable) -> Callable:
    """--json: print as JSON (listings, records)."""
    return click.option("--json", "as_json", is_flag=True, help="As JSON.")(command)


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
        return _read_file(Path(value[1:]))
    return value


def _read_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(
            f"Cannot read the parameters file {str(path)!r}: {error.strerror or error}"
        ) from None
    except UnicodeDecodeError:
        raise InputError(f"The parameters file {str(path)!r} is not UTF-8 text.") from None


def parse_json_option(text: str | None, name: str) -> Any:
    """A JSON-valued option (exact numbers), or None."""
    if text is None:
        return None
    from ..parsing import loads

    try:
        return loads(text)
    except InputError as error:
        raise InputError(f"{name}: {error.message}") from None


def code_option(command: Callable) -> Callable:
    """--code LANG: print the program that makes the call; send nothing (`run`, `query run`)."""
    from ..codegen import LANGUAGES

    return click.option(
        "--code",
        "code",
        type=click.Choice(LANGUAGES),
        help="Print the equivalent program (boto3, AWS CLI, SDK for JavaScript v3); send nothing.",
    )(command)


def print_code(request, language: str, config) -> None:
    """The program for `request`, to the endpoint and region of `config` (never its secrets)."""
    from ..codegen import for_config

    click.echo(for_config(request, language, config), nl=False)


def code_config(kwargs: dict[str, Any]):
    """The settings the command's flags describe, for --code: a data source's (no secrets
    opened), with the flags given overriding them, or the flags alone."""
    import dataclasses

    from ..connection import ConnectionConfig

    datasource = kwargs.pop("datasource", None)
    if datasource:
        saved = open_workspace().datasource(datasource).config
        return dataclasses.replace(saved, **given_flags(kwargs))
    return ConnectionConfig(**connection_settings(kwargs))


def explain_option(command: Callable) -> Callable:
    """--explain: the request as it would be sent, its cost and advice (`run`, `query run`)."""
    return click.option(
        "--explain",
        is_flag=True,
        help="Print the request as it would be sent and, for Scan and Query, its cost and "
        "advice; send nothing but DescribeTable.",
    )(command)


def print_explanation(connection, request, output: str, transform: str | None) -> None:
    """What `request` would do (dynaquery.explain): as text, or as JSON with `--output json`
    given (or --query, applied to it)."""
    from click.core import ParameterSource

    from ..explain import explain, to_text
    from ..results import apply_transform, to_json

    explanation = explain(connection, request)
    source = click.get_current_context().get_parameter_source("output")
    if transform or (output == "json" and source != ParameterSource.DEFAULT):
        click.echo(to_json(apply_transform(explanation, transform)))
    else:
        click.echo(to_text(explanation), nl=False)


# -- the options export, import and copy share ---------------------------------------------------

segments_option = click.option(
    "--segments",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Segments of the parallel scan (of the source, for a copy).",
)
page_size_option = click.option(
    "--page-size",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Items per scan request (0: as many as fit in 1 MB).",
)
workers_option = click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Threads sending BatchWriteItem requests.",
)
batch_timeout_option = click.option(
    "--batch-timeout",
    type=click.FloatRange(min=0),
    default=60,
    show_default=True,
    help="Seconds to keep retrying unprocessed items.",
)
