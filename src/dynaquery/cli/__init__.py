"""The `dynaquery` command: a thin layer over the library.

stdout carries only the result; messages go to stderr. Exit codes: 0 success, 1 the service or the
connection failed (or a batch left items unprocessed), 2 bad input; each error class carries its
own (errors.py).

One module per group of commands (run, operations, datasource, query, history, workspace,
transfer, serve, user); the options they share in options.py, what they print in output.py. Each
module imports what it runs on when it runs, so `dynaquery run` starts without the workspace,
the server or Rich.
"""

from __future__ import annotations

import sys

import click

from .._speed.gc import pause_collection
from .copy import copy_command
from .datasource import datasource
from .history import history
from .operations import operations
from .output import EXIT_FAILED
from .query import query
from .run import run, test
from .serve import serve
from .transfer import export_command, import_command
from .undo import undo_command
from .user import user
from .workspace import workspace

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dynaquery")
def cli() -> None:
    """dynaquery: run any DynamoDB operation with a JSON body, plain or typed values."""


for command in (
    run,
    test,
    operations,
    datasource,
    query,
    history,
    workspace,
    serve,
    export_command,
    import_command,
    copy_command,
    undo_command,
    user,
):
    cli.add_command(command)


def main() -> None:
    pause_collection()  # long commands turn it back on (collect_garbage)
    try:
        cli(prog_name="dynaquery")
    except BrokenPipeError:  # the reader went away (| head): stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(EXIT_FAILED)
