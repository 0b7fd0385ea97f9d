"""`dynaquery export` and `dynaquery import`: whole tables, streamed, with a progress bar."""

from __future__ import annotations

import sys
from typing import Any

import click

from .._speed.gc import collect_garbage
from ..errors import InputError
from .options import connection, connection_options, parse_json_option
from .output import EXIT_FAILED, fail, handle_errors, say
from .progress import Bar

TABLE_FORMATS = click.Choice(["jsonl", "json", "csv"])
ERRORS_SHOWN = 50  # bad lines of an import listed on stderr; the rest are counted only


@click.command("export")
@click.argument("table")
@connection_options
@click.option(
    "-o",
    "--output",
    "path",
    metavar="FILE",
    help="Write to FILE (default: stdout). Needed to --resume.",
)
@click.option(
    "--format",
    "fmt",
    type=TABLE_FORMATS,
    help="jsonl: one plain item per line (the default, or FILE's extension); json: an array; csv.",
)
@click.option(
    "--typed", is_flag=True, help="DynamoDB's typed JSON, which reads back exactly (sets, binary)."
)
@click.option(
    "--segments",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Segments of the parallel scan.",
)
@click.option(
    "--page-size",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Items per scan request (0: as many as fit in 1 MB).",
)
@click.option("--filter", "filter", metavar="EXPR", help="A FilterExpression.")
@click.option(
    "--projection",
    metavar="EXPR",
    help="A ProjectionExpression (for CSV, its attributes are the columns).",
)
@click.option("--names", metavar="JSON", help='ExpressionAttributeNames: {"#n": "name"}.')
@click.option(
    "--values",
    "values",
    metavar="JSON",
    help='ExpressionAttributeValues, plain or typed: {":min": 10}.',
)
@click.option("--index", metavar="NAME", help="Scan this index instead of the table.")
@click.option("--consistent-read", is_flag=True, help="Strongly consistent reads.")
@click.option(
    "--columns",
    metavar="A,B,...",
    help="CSV's columns (default: the projection's, else the first page's attributes).",
)
@click.option(
    "--resume", is_flag=True, help="Go on with an interrupted export to FILE, from FILE.checkpoint."
)
@handle_errors
def export_command(table: str, path: str | None, **kwargs: Any) -> None:
    """Export TABLE: every item, as JSON lines, a JSON array or CSV.

    A parallel scan, written as it streams: memory stays flat whatever the table's size.
    Interrupted (Ctrl-C, a failure), an export to FILE leaves FILE.checkpoint, and --resume goes
    on from there with no item missing and none twice.
    """
    from ..transfer import export_table

    collect_garbage()
    if kwargs["resume"] and not path:
        raise InputError("--resume needs the -o FILE of the interrupted export.")
    options = _export_options(kwargs)
    source = connection(kwargs)
    with Bar(f"export {table}") as bar:
        result = export_table(
            source, table, path or sys.stdout.buffer, progress=bar.update, **options
        )
        if bar.progress is not None:
            bar.update(result.scanned, result.scanned)
    _report_export(result, path)


def _export_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Pop export_table()'s options from the command's."""
    options = {
        name: kwargs.pop(name)
        for name in (
            "segments",
            "filter",
            "projection",
            "index",
            "consistent_read",
            "typed",
            "resume",
        )
    }
    columns = kwargs.pop("columns")
    return {
        **options,
        "format": kwargs.pop("fmt"),
        "page_size": kwargs.pop("page_size") or None,
        "names": parse_json_option(kwargs.pop("names"), "--names"),
        "values": parse_json_option(kwargs.pop("values"), "--values"),
        "columns": [c.strip() for c in columns.split(",")] if columns else None,
    }


def _report_export(result, path: str | None) -> None:
    """The speed on a terminal; what the chosen format lost; exit 1 when attributes were dropped."""
    if sys.stderr.isatty():
        say(
            f"{result.items:,} items exported in {result.duration:.1f}s "
            f"({result.items_per_second:,.0f} items/s)" + (f" to {path}" if path else "") + "."
        )
    if result.lossy:
        say(
            f"Note: {result.lossy:,} item(s) hold sets, binary values or maps whose only "
            "key is a type tag; their plain form (lists, base64 text, objects read back as "
            "typed) does not import back as they were. --typed keeps them exact."
        )
    if result.dropped:
        fail(
            f"{result.dropped_items:,} item(s) had attributes that are not among the CSV's "
            f"columns, which were left out: {', '.join(result.dropped[:20])}"
            f"{' ...' if len(result.dropped) > 20 else ''}. Give them with --columns, "
            "or export JSON lines.",
            EXIT_FAILED,
        )


@click.command("import")
@click.argument("table")
@click.argument("file", metavar="FILE")
@connection_options
@click.option(
    "--format",
    "fmt",
    type=TABLE_FORMATS,
    help="jsonl: one item per line (the default, or FILE's extension); json: an "
    "array of items; csv.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Threads sending BatchWriteItem requests.",
)
@click.option("--strict", is_flag=True, help="Stop at the first bad line (exit code 2).")
@click.option(
    "--batch-timeout",
    type=click.FloatRange(min=0),
    default=60,
    show_default=True,
    help="Seconds to keep retrying unprocessed items.",
)
@handle_errors
def import_command(
    table: str,
    file: str,
    fmt: str | None,
    workers: int,
    strict: bool,
    batch_timeout: float,
    **kwargs: Any,
) -> None:
    """Import FILE (or - for stdin) into TABLE: JSON lines, a JSON array or CSV.

    Items may be plain or typed. They are written in BatchWriteItem chunks of 25 from several
    threads, unprocessed ones retried; a bad line is reported with its number and the rest goes
    on (with --strict, the import stops there). Exit code 1 if any item failed.
    """
    from ..transfer import ImportStopped, import_table

    collect_garbage()
    source = sys.stdin.buffer if file == "-" else file
    target = connection(kwargs)
    with Bar(f"import {table}") as bar:
        try:
            result = import_table(
                target,
                table,
                source,
                format=fmt,
                workers=workers,
                strict=strict,
                batch_timeout=batch_timeout,
                progress=bar.update,
                on_error=BadLines(bar),
            )
        except ImportStopped as stopped:
            bar.update(stopped.result.written, None)
            raise
    say(
        f"{result.written:,} written, {result.failed:,} failed"
        + (f" ({result.items_per_second:,.0f} items/s)" if sys.stderr.isatty() else "")
        + "."
    )
    if result.failed:
        sys.exit(EXIT_FAILED)


class BadLines:
    """Says each bad line of an import, up to ERRORS_SHOWN of them."""

    def __init__(self, bar: Bar):
        self.bar = bar
        self.count = 0

    def __call__(self, error) -> None:
        self.count += 1
        if self.count <= ERRORS_SHOWN:
            self.bar.say(f"line {error.line}: {error.message}")
        elif self.count == ERRORS_SHOWN + 1:
            self.bar.say("(more errors are not shown)")
