"""`dynaquery run` and `dynaquery test`: one operation, or a connection test, with the
connection flags or a saved data source."""

from __future__ import annotations

from typing import Any

import click

from .options import (
    code_config,
    code_option,
    connection,
    connection_options,
    explain_option,
    given_flags,
    open_workspace,
    print_code,
    print_explanation,
    read_params,
    run_options,
    run_settings,
    yes_option,
)
from .output import handle_errors, print_diagnosis, print_result
from .prompts import confirm_destructive


@click.command()
@click.argument("operation")
@click.argument("params", required=False)
@connection_options
@run_options
@yes_option
@code_option
@explain_option
@handle_errors
def run(
    operation: str, params: str | None, output: str, transform: str | None, yes: bool, **kwargs: Any
) -> None:
    """Run OPERATION with PARAMS (inline JSON, @file.json, or - for stdin).

    Values may be typed ({"S": "x"}) or plain ("x", 42, true, null, lists, objects). With
    --datasource, the run is recorded in the history. With --code, the program that makes the
    call is printed instead, and nothing is sent.
    """
    from ..request import prepare
    from ..results import compile_transform

    settings = run_settings(kwargs)
    request = prepare(operation, read_params(params))  # bad input fails before connecting
    if transform:
        compile_transform(transform)
    if code := kwargs.pop("code"):
        print_code(request, code, code_config(kwargs))
        return
    if kwargs.pop("explain"):  # nothing runs, so nothing to confirm
        print_explanation(connection(kwargs), request, output, transform)
        return
    datasource = kwargs.pop("datasource", None)
    if datasource:
        result = open_workspace().run(
            datasource,
            request,
            overrides=given_flags(kwargs),
            origin="cli",
            confirm=lambda r: confirm_destructive(r, yes),
            **settings,
        )
    else:
        confirm_destructive(request, yes)
        result = connection(kwargs).run(request, **settings)
    print_result(result, output, transform)


@click.command()
@connection_options
@click.option("--json", "as_json", is_flag=True, help="Print the diagnosis as JSON.")
@handle_errors
def test(as_json: bool, **kwargs: Any) -> None:
    """Test the connection: exit 0 and one line if it works, else exit 1 and the diagnosis."""
    print_diagnosis(connection(kwargs).test(), as_json)
