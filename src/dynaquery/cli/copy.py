"""`dynaquery copy SOURCE:TABLE TARGET:TABLE`: a table's items into another table, of another
data source or the same, with a progress bar, a checkpoint and --resume."""

from __future__ import annotations

import re
import sys
from typing import Any

import click

from .._speed.gc import collect_garbage
from ..errors import InputError
from .options import (
    batch_timeout_option,
    connection_flags,
    connection_settings,
    given_flags,
    open_workspace,
    page_size_option,
    segments_option,
    workers_option,
)
from .output import EXIT_FAILED, handle_errors, say
from .progress import Bar
from .transfer import Journaled, mode_option

ERRORS_SHOWN = 50  # items the target refused, listed on stderr; the rest are counted only


def parse_side(spec: str, what: str) -> tuple[str | None, str]:
    """(data source name or None for the connection flags, table) of NAME:TABLE, :TABLE or
    TABLE (a table's ARN stays whole: it is a table of the flags' connection)."""
    if spec.startswith("arn:") or ":" not in spec:
        name, table = None, spec
    else:
        name, table = spec.split(":", 1)
    if not table:
        raise InputError(f"The {what} {spec!r} names no table: write DATASOURCE:TABLE.")
    return name or None, table


def _connections(source: str | None, target: str | None, kwargs: dict[str, Any]):
    """The two sides' connections: a data source each, or the connection flags (one shared
    Connection when both sides use them); and the workspace, when a side is a data source."""
    from ..connection import Connection, ConnectionConfig

    given = given_flags(dict(kwargs))
    settings = connection_settings(kwargs)
    if source and target and given:
        raise InputError(
            "Connection flags (" + ", ".join(sorted(given)) + ") apply to a side written without "
            "a data source (:TABLE), and both sides name one."
        )
    flags = None if source and target else Connection(ConnectionConfig(**settings))
    workspace = open_workspace() if source or target else None
    return (
        workspace.connect(source) if source else flags,
        workspace.connect(target) if target else flags,
        workspace,
    )


def default_checkpoint(source: str, target: str) -> str:
    """copy-SOURCE-TABLE-to-TARGET-TABLE.checkpoint, in the current directory."""
    safe = re.compile(r"[^A-Za-z0-9._-]+")
    return f"copy-{safe.sub('_', source)}-to-{safe.sub('_', target)}.checkpoint"


@click.command("copy")
@click.argument("source_spec", metavar="SOURCE:TABLE")
@click.argument("target_spec", metavar="TARGET:TABLE")
@connection_flags
@mode_option
@click.option(
    "--create",
    is_flag=True,
    help="Make the target table like the source's (keys, indexes, billing mode) and wait until "
    "it is ACTIVE.",
)
@segments_option
@workers_option
@page_size_option
@click.option("--consistent-read", is_flag=True, help="Strongly consistent reads of the source.")
@batch_timeout_option
@click.option(
    "--checkpoint",
    metavar="FILE",
    help="Where the copy keeps its checkpoint (default: "
    "copy-SOURCE-TABLE-to-TARGET-TABLE.checkpoint in the current directory).",
)
@click.option("--resume", is_flag=True, help="Go on with an interrupted copy, from its checkpoint.")
@handle_errors
def copy_command(source_spec: str, target_spec: str, checkpoint: str | None, **kwargs: Any) -> None:
    """Copy every item of SOURCE:TABLE into TARGET:TABLE.

    SOURCE and TARGET are saved data sources; a side written :TABLE (or TABLE) is reached with
    the connection flags instead. A parallel scan of the source, written to the target in
    BatchWriteItem chunks as it streams; items pass typed, exactly as they are (sets, binary,
    38-digit numbers). Interrupted (Ctrl-C, a failure, a killed process), the copy goes on with
    --resume, with no item missing and none written twice. Exit code 1 if any item failed.
    """
    from ..transfer import copy_table

    collect_garbage()
    source_name, source_table = parse_side(source_spec, "source")
    target_name, target_table = parse_side(target_spec, "target")
    source, target, workspace = _connections(source_name, target_name, kwargs)
    labels = (f"{source_name or ''}:{source_table}", f"{target_name or ''}:{target_table}")
    options = {k: kwargs.pop(k) for k in ("mode", "create", "segments", "workers", "resume")}
    options.update(
        page_size=kwargs.pop("page_size") or None,
        consistent_read=kwargs.pop("consistent_read"),
        batch_timeout=kwargs.pop("batch_timeout"),
    )
    journaled = Journaled(
        workspace, target_name, "Copy", target_table, options["mode"], options["resume"], labels[0]
    )
    with Bar(f"copy {labels[0]} -> {labels[1]}") as bar, journaled:
        result = copy_table(
            source,
            source_table,
            target,
            target_table,
            checkpoint=checkpoint or default_checkpoint(*labels),
            labels=labels,
            progress=bar.update,
            on_error=_Refused(bar),
            written=journaled.written,
            **options,
        )
        journaled.ended(result)
    _report(result)


def _report(result) -> None:
    say(
        ("Created the target table. " if result.created else "")
        + f"{result.written:,} written"
        + (
            f" ({result.confirmed:,} of them by the interrupted copy, not sent again)"
            if result.confirmed
            else ""
        )
        + (
            f", {result.skipped:,} skipped (already there)"
            if result.mode == "skip-existing"
            else ""
        )
        + f", {result.failed:,} failed"
        + (f" ({result.items_per_second:,.0f} items/s)" if sys.stderr.isatty() else "")
        + "."
    )
    if result.failed:
        sys.exit(EXIT_FAILED)


class _Refused:
    """Says each item the target refused, up to ERRORS_SHOWN of them."""

    def __init__(self, bar: Bar):
        self.bar, self.count = bar, 0

    def __call__(self, message: str) -> None:
        self.count += 1
        if self.count <= ERRORS_SHOWN:
            self.bar.say(message)
        elif self.count == ERRORS_SHOWN + 1:
            self.bar.say("(more errors are not shown)")
