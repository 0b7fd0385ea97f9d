"""`dynaquery export` and `dynaquery import`: whole tables, streamed, with a progress bar."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from .._speed.gc import collect_garbage
from ..errors import DynaqueryError, InputError
from .options import (
    batch_timeout_option,
    connection,
    connection_options,
    given_flags,
    open_workspace,
    page_size_option,
    parse_json_option,
    segments_option,
    workers_option,
)
from .output import EXIT_FAILED, EXIT_INPUT, fail, handle_errors, say
from .progress import Bar

TABLE_FORMATS = click.Choice(["jsonl", "json", "csv"])
EXPORT_FORMATS = click.Choice(["jsonl", "json", "csv", "parquet"])  # Parquet: written only
ERRORS_SHOWN = 50  # bad lines of an import listed on stderr; the rest are counted only


def _s3_options(*options):
    """The options of an export or import through S3 (see the end of this module)."""

    def apply(command):
        for option in reversed(options):
            command = option(command)
        return command

    return apply


_S3_ENDPOINT = click.option(
    "--s3-endpoint-url",
    metavar="URL",
    help="S3's endpoint for --via (default: the data source's custom endpoint if it has one, "
    "else S3's own for the region).",
)
via_export_options = _s3_options(
    click.option(
        "--via",
        metavar="S3URL",
        help="Export with DynamoDB's ExportTableToPointInTime to s3://bucket/prefix (needs "
        "point-in-time recovery); with -o, then download it into FILE.",
    ),
    _S3_ENDPOINT,
)
via_import_options = _s3_options(
    click.option(
        "--via",
        metavar="S3URL",
        help="Upload FILE to s3://bucket/prefix as DynamoDB JSON and create TABLE from it with "
        "DynamoDB's ImportTable (needs --create and --key).",
    ),
    click.option("--create", is_flag=True, help="With --via: create TABLE (it must not exist)."),
    click.option(
        "--key", metavar="PK:TYPE[,SK:TYPE]", help="With --create: the key, as pk:S or pk:S,sk:N."
    ),
    _S3_ENDPOINT,
)


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
    type=EXPORT_FORMATS,
    help="jsonl: one plain item per line (the default, or FILE's extension); json: an array; "
    "csv; parquet: a column per attribute, types kept (needs pip install 'dynaquery[parquet]').",
)
@click.option(
    "--typed", is_flag=True, help="DynamoDB's typed JSON, which reads back exactly (sets, binary)."
)
@segments_option
@page_size_option
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
@via_export_options
@handle_errors
def export_command(table: str, path: str | None, **kwargs: Any) -> None:
    """Export TABLE: every item, as JSON lines, a JSON array, CSV or Parquet.

    A parallel scan, written as it streams: memory stays flat whatever the table's size.
    Interrupted (Ctrl-C, a failure), an export to FILE leaves FILE.checkpoint, and --resume goes
    on from there with no item missing and none twice.
    """
    from ..transfer import export_table

    collect_garbage()
    if _export_via(table, path, kwargs):
        return
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


# transfer.importing.MODES, named here so that the command starts without the transfer package
# (tests/test_import_modes.py checks they are the same)
IMPORT_MODES = click.Choice(["overwrite", "skip-existing", "fail-existing"])
MODE_HELP = (
    "overwrite: items replace those of the same key; skip-existing: an item whose key is there "
    "is left alone (conditional writes); fail-existing: nothing is written if any key is there."
)


def mode_options(command):
    """--mode and --dry-run (import); --mode alone is shared with copy."""
    command = click.option(
        "--dry-run",
        is_flag=True,
        help="Check every line and look its key up; report new, existing and invalid lines; "
        "write nothing.",
    )(command)
    return mode_option(command)


def mode_option(command):
    return click.option(
        "--mode", type=IMPORT_MODES, default="overwrite", show_default=True, help=MODE_HELP
    )(command)


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
@workers_option
@click.option("--strict", is_flag=True, help="Stop at the first bad line (exit code 2).")
@batch_timeout_option
@mode_options
@via_import_options
@handle_errors
def import_command(
    table: str,
    file: str,
    fmt: str | None,
    workers: int,
    strict: bool,
    batch_timeout: float,
    mode: str,
    dry_run: bool,
    **kwargs: Any,
) -> None:
    """Import FILE (or - for stdin) into TABLE: JSON lines, a JSON array or CSV.

    Items may be plain or typed. They are written in BatchWriteItem chunks of 25 from several
    threads, unprocessed ones retried; a bad line is reported with its number and the rest goes
    on (with --strict, the import stops there). Exit code 1 if any item failed.
    """
    from ..transfer import ImportStopped, import_table

    collect_garbage()
    if _import_via(table, file, fmt, workers, strict, kwargs):
        return
    source = sys.stdin.buffer if file == "-" else file
    name = kwargs.pop("datasource", None)
    workspace = open_workspace() if name else None
    target = workspace.connect(name, **given_flags(kwargs)) if name else connection(kwargs)
    if dry_run:
        return _dry_run(target, table, source, fmt, mode)
    with Bar(f"import {table}") as bar, Journaled(workspace, name, "Import", table, mode) as log:
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
                mode=mode,
                written=log.written,
            )
            log.ended(result)
        except ImportStopped as stopped:
            bar.update(stopped.result.written, None)
            raise
    say(
        f"{result.written:,} written, "
        + (f"{result.skipped:,} skipped (already there), " if mode == "skip-existing" else "")
        + f"{result.failed:,} failed"
        + (f" ({result.items_per_second:,.0f} items/s)" if sys.stderr.isatty() else "")
        + "."
    )
    if result.failed:
        sys.exit(EXIT_FAILED)


class Journaled:
    """An import or a copy into a saved data source, recorded in the history as a run with its
    journal entry (the keys written, the counts; journal.Written) however it ends. With the
    connection flags alone (no data source) nothing is recorded, as for `run`."""

    def __init__(
        self,
        workspace,
        datasource: str | None,
        operation: str,
        table: str,
        mode: str,
        resumed: bool = False,
        source: str | None = None,
    ):
        self.workspace, self.datasource, self.operation = workspace, datasource, operation
        self.mode, self.source, self.started = mode, source, time.time()
        self.written = None
        if datasource:
            self.written = workspace.transfer_journal(datasource, table, mode, resumed=resumed)
        self.result: Any = None

    def ended(self, result: Any) -> None:
        self.result = result

    def __enter__(self) -> Journaled:
        return self

    def __exit__(self, kind, error, _trace) -> None:
        if self.written is None:
            return
        result = self.result if error is None else getattr(error, "result", None)
        if error is not None and not isinstance(error, DynaqueryError):
            error = DynaqueryError(f"{self.operation} stopped ({kind.__name__}).")
        recorded = self.workspace.record_transfer(
            self.datasource,
            self.operation,
            self.written,
            started=self.started,
            counts=self._counts(result),
            failed=getattr(result, "failed", 0) if result is not None else 0,
            error=error,
            origin="cli",
        )
        if recorded is None:
            say(f"Note: the {self.operation.lower()} could not be recorded in the history.")

    def _counts(self, result: Any) -> str:
        """What the journal's note says of the run (no "; " in it: what follows is a reason)."""
        counts = f"{self.written.count:,} written"
        if result is not None and getattr(result, "skipped", 0):
            counts += f", {result.skipped:,} skipped (already there)"
        if result is not None and getattr(result, "failed", 0):
            counts += f", {result.failed:,} failed"
        where = f"from {self.source}: " if self.source else ""
        return f"{where}{counts}, mode {self.mode}"


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


# -- export and import through S3 (--via): DynamoDB's own ExportTableToPointInTime / ImportTable

# Scan and write options that mean nothing when DynamoDB does the work.
_NOT_WITH_VIA_EXPORT = (
    "segments",
    "page_size",
    "filter",
    "projection",
    "names",
    "values",
    "index",
    "consistent_read",
    "resume",
)
_NOT_WITH_VIA_IMPORT = ("batch_timeout", "mode", "dry_run")


def _refuse_with_via(names: tuple[str, ...], what: str) -> None:
    from click.core import ParameterSource

    ctx = click.get_current_context()
    given = [
        "--" + name.replace("_", "-")
        for name in names
        if name in ctx.params
        and ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT, None)
    ]
    if given:
        raise InputError(f"{', '.join(given)}: not with --via, where DynamoDB {what}.")


def _export_via(table: str, path: str | None, kwargs: dict[str, Any]) -> bool:
    """`export --via`: False when it was not asked for (the scan export goes on)."""
    via, endpoint = kwargs.pop("via"), kwargs.pop("s3_endpoint_url")
    if via is None:
        if endpoint:
            raise InputError("--s3-endpoint-url goes with --via.")
        return False
    from ..transfer.s3 import export_via_s3

    _refuse_with_via(_NOT_WITH_VIA_EXPORT, "exports the whole table itself")
    fmt = kwargs.pop("fmt")
    if (fmt or (path or "").lower().rsplit(".", 1)[-1]) == "parquet":
        raise InputError("--via writes FILE as jsonl, json or csv; Parquet comes from the scan.")
    columns = kwargs.pop("columns")
    source = connection(kwargs)
    with PhaseBars(table) as bars:
        result = export_via_s3(
            source,
            table,
            via,
            output=path,
            format=fmt,
            typed=kwargs.pop("typed"),
            columns=[c.strip() for c in columns.split(",")] if columns else None,
            s3_endpoint_url=endpoint,
            progress=bars,
        )
    where = f"{result.exported:,} items of {table} exported to {result.location}\n"
    where += f"export: {result.export_arn}\n"
    if result.manifest:
        where += f"manifest: s3://{result.bucket}/{result.manifest}\n"
    if path is None:
        click.echo(where, nl=False)
        return True
    say(where + f"{result.items:,} items written to {path} from {result.files} file(s).")
    _report_export(result, path)
    return True


def _import_via(
    table: str, file: str, fmt: str | None, workers: int, strict: bool, kwargs: dict[str, Any]
) -> bool:
    """`import --via --create --key`: False when --via was not given (the BatchWriteItem import
    goes on)."""
    via, create, key = kwargs.pop("via"), kwargs.pop("create"), kwargs.pop("key")
    endpoint = kwargs.pop("s3_endpoint_url")
    if via is None:
        if create or key or endpoint:
            raise InputError(
                "--create, --key and --s3-endpoint-url go with --via s3://bucket/prefix: "
                "DynamoDB's import from S3 creates the table. Without --via, import writes "
                "into a table that exists."
            )
        return False
    from ..transfer.s3 import import_via_s3, parse_key_schema

    if not create:
        raise InputError(
            "--via needs --create: DynamoDB's import from S3 only creates a new table "
            "(give its key with --key pk:S[,sk:N]). To write into a table that exists, "
            "import without --via."
        )
    if not key:
        raise InputError("--create needs the new table's key: --key pk:S or --key pk:S,sk:N.")
    _refuse_with_via(_NOT_WITH_VIA_IMPORT, "writes the items itself")
    schema = parse_key_schema(key)
    target = connection(kwargs)
    with PhaseBars(table) as bars:
        result = import_via_s3(
            target,
            table,
            sys.stdin.buffer if file == "-" else file,
            via,
            schema,
            format=fmt,
            strict=strict,
            s3_endpoint_url=endpoint,
            workers=workers,
            progress=bars,
            on_error=BadLines(bars),
        )
    say(
        f"{result.uploaded:,} items uploaded to {result.location} in {result.files} file(s), "
        f"{result.failed:,} bad line(s) left out.\n"
        f"import: {result.import_arn}: {result.imported:,} imported, {result.errors:,} error(s)."
    )
    if result.failed or result.errors:
        sys.exit(EXIT_FAILED)
    return True


class PhaseBars:
    """A progress bar for each phase of an export or import through S3 (DynamoDB working, the
    files moving), one after the other."""

    LABELS = {
        "export": "DynamoDB exports {table} to S3",
        "download": "download {table}",
        "upload": "upload {table}",
        "import": "DynamoDB imports {table}",
    }

    def __init__(self, table: str):
        self.table = table
        self.phase: str | None = None
        self.bar: Bar | None = None

    def __enter__(self) -> PhaseBars:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        if phase != self.phase:
            if self.bar is not None:
                self.bar.__exit__(None, None, None)
            label = self.LABELS.get(phase, phase).format(table=self.table)
            self.bar, self.phase = Bar(label).__enter__(), phase
        self.bar.update(done, total)

    def say(self, message: str) -> None:
        (self.bar or Bar("")).say(message)


# -- import --dry-run


def _dry_run(target, table: str, source, fmt: str | None, mode: str) -> None:
    """What an import would do, written nowhere: exit 1 for invalid lines, 2 when fail-existing
    would refuse."""
    from ..transfer import import_table

    with Bar(f"check {table}") as bar:
        result = import_table(
            target, table, source, format=fmt, mode=mode, dry_run=True, on_error=BadLines(bar)
        )
    fate = {"overwrite": "overwritten", "skip-existing": "skipped", "fail-existing": "refused"}
    say(
        f"Dry run, nothing written: {result.lines:,} line(s): {result.new:,} new, "
        f"{result.existing:,} already in {table!r} (would be {fate[mode]}), "
        f"{result.repeated:,} repeating an earlier line's key, {result.failed:,} invalid."
    )
    if result.existing_keys:
        more = result.existing - len(result.existing_keys)
        say(
            "Already there: "
            + ", ".join(f"line {line}: {_key_json(key)}" for line, key in result.existing_keys)
            + (f" (and {more:,} more)" if more else "")
            + "."
        )
    if mode == "fail-existing" and result.existing:
        sys.exit(EXIT_INPUT)
    if result.failed:
        sys.exit(EXIT_FAILED)


def _key_json(key: dict) -> str:
    from ..values import item_json

    return item_json(key)
