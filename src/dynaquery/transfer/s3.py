"""Export and import through DynamoDB's own services, with S3 in between.

Export: ExportTableToPointInTime writes the table to S3 (DynamoDB JSON, gzip), from the table's
continuous backups, without reading its capacity; DescribeExport is polled until it ends. The
export's files can then be downloaded in parallel and written, streaming, with the writers of
`formats.py` (JSON lines, a JSON array, CSV; typed or plain).

Import: the items of a local file (the formats `readers.py` reads, checked as `importing.py`
checks them) become DynamoDB JSON files (gzip), uploaded to a new folder under the given prefix
as they fill; ImportTable then creates the table from them, and DescribeImport is polled. It only
ever creates a new table.

The S3 client is made from the data source's own botocore session (its credentials, region,
timeouts and retries). Where it goes: the `s3_endpoint_url` given; else, when the data source has
a custom endpoint (moto's server, LocalStack), that same endpoint (with path-style addressing);
else S3's own endpoint for the region.
"""

from __future__ import annotations

import gzip
import json
import os
import queue
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .. import values
from ..errors import (
    Conflict,
    DynaqueryError,
    ExportInterrupted,
    ImportStopped,
    InputError,
    ReadOnlyError,
    ServiceError,
)
from .formats import Writer, format_of
from .importing import LineError, _item_to_typed
from .readers import open_text, read_rows

if TYPE_CHECKING:
    from ..connection import Connection

# (phase, done, total if known): "export" and "import" while DynamoDB works (done: items it
# reports), "download" and "upload" while the files move (done: items).
PhaseProgress = Callable[[str, int, "int | None"], None]

DEFAULT_WORKERS = 8
POLL_FIRST, POLL_MAX = 1.0, 15.0  # seconds between two Describe calls, growing by half
PART_BYTES = 64 << 20  # an import file's uncompressed size before the next file starts
BATCH = 1000  # items converted at a time
KEY_TYPES = ("S", "N", "B")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_DONE = object()
PITR_HELP = (
    "Turn it on (it is billed by the table's size) with:\n"
    "  aws dynamodb update-continuous-backups --table-name {table} "
    "--point-in-time-recovery-specification PointInTimeRecoveryEnabled=true\n"
    'or: dynaquery run UpdateContinuousBackups \'{{"TableName": "{table}", '
    '"PointInTimeRecoverySpecification": {{"PointInTimeRecoveryEnabled": true}}}}\''
)


# -- where in S3 ------------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str  # without a slash at either end; "" for the bucket's top

    def url(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{key}"

    def under(self, name: str) -> str:
        """The key of `name` under the prefix."""
        return f"{self.prefix}/{name}" if self.prefix else name


def parse_s3_url(url: str) -> S3Location:
    """s3://bucket/prefix as its bucket and prefix; anything else is refused, saying why."""
    if not isinstance(url, str) or not url.startswith("s3://"):
        raise InputError(f"{url!r} is not an S3 location: give it as s3://bucket/prefix.")
    bucket, _, prefix = url[5:].partition("/")
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise InputError(
            f"{bucket!r} in {url!r} is not an S3 bucket name (3 to 63 lowercase letters, "
            "digits, dots and hyphens, starting and ending with a letter or a digit)."
        )
    prefix = prefix.strip("/")
    if "//" in prefix:
        raise InputError(f"The prefix of {url!r} has an empty folder ('//').")
    return S3Location(bucket, prefix)


class S3:
    """The S3 client of a data source, and its errors said for the person who asked."""

    def __init__(
        self,
        connection: Connection,
        endpoint_url: str | None = None,
        threads: int = DEFAULT_WORKERS,
    ):
        from botocore.config import Config

        self.connection = connection
        endpoint = endpoint_url or connection.config.endpoint_url
        options = {"addressing_style": "path"} if endpoint else None
        # The DynamoDB client's configuration: the data source's timeouts and retries.
        config = connection.client.meta.config.merge(
            Config(s3=options, parameter_validation=True, max_pool_connections=max(10, threads))
        )
        self.client = connection.session.create_client(
            "s3", region_name=connection.region, endpoint_url=endpoint, config=config
        )
        self.endpoint = self.client.meta.endpoint_url

    def call(self, operation: str, **params: Any) -> dict:
        from botocore import xform_name

        try:
            return getattr(self.client, xform_name(operation))(**params)
        except Exception as error:
            raise self.error(error, operation, params) from None

    def error(self, error: Exception, operation: str, params: dict) -> DynaqueryError:
        from botocore.exceptions import ClientError

        from ..connection import translate_error

        if not isinstance(error, ClientError):
            return translate_error(
                error, f"S3 {operation}", self.connection, endpoint=self.endpoint
            )
        info = error.response.get("Error") or {}
        code, message = str(info.get("Code") or "Unknown"), str(info.get("Message") or "")
        where = f"s3://{params.get('Bucket', '')}/{params.get('Key', params.get('Prefix', ''))}"
        if code == "NoSuchBucket" or (code == "404" and operation == "HeadBucket"):
            return ServiceError(
                f"S3 {operation}",
                "NoSuchBucket",
                f"there is no bucket {params.get('Bucket')!r} at {self.endpoint}",
                "Create the bucket (in the table's region), or check its name.",
            )
        if code in ("403", "AccessDenied", "AllAccessDisabled"):
            return ServiceError(
                f"S3 {operation}",
                "AccessDenied",
                f"access to {where} is denied to the data source's credentials",
                "They need s3:ListBucket on the bucket, s3:PutObject (export and import) "
                "and s3:GetObject (export to a file) on its objects.",
            )
        if code in ("404", "NoSuchKey"):
            return ServiceError(f"S3 {operation}", "NoSuchKey", f"there is no object {where}")
        return ServiceError(f"S3 {operation}", code, self.connection.config.redact(message))

    def check_bucket(self, bucket: str) -> None:
        self.call("HeadBucket", Bucket=bucket)

    def keys(self, bucket: str, prefix: str) -> Iterator[str]:
        params = {"Bucket": bucket, "Prefix": prefix}
        while True:
            page = self.call("ListObjectsV2", **params)
            yield from (entry["Key"] for entry in page.get("Contents", []))
            if not page.get("IsTruncated"):
                return
            params["ContinuationToken"] = page["NextContinuationToken"]


# -- waiting for DynamoDB -------------------------------------------------------------------


def _wait(
    connection: Connection, operation: str, params: dict, answer: str, seen: Callable[[dict], None]
) -> dict:
    """Describe the export or import until it is no longer under way; `seen` gets each answer."""
    delay = POLL_FIRST
    while True:
        description = connection.call(operation, params)[answer]
        seen(description)
        status = description.get("ExportStatus") or description.get("ImportStatus")
        if status not in ("IN_PROGRESS", "CANCELLING"):
            return description
        time.sleep(delay)
        delay = min(delay * 1.5, POLL_MAX)


def _total(description: dict, done: int) -> int | None:
    """The bar's total: known once DynamoDB is done."""
    status = description.get("ExportStatus") or description.get("ImportStatus")
    return None if status in ("IN_PROGRESS", "CANCELLING") else done


def _failed(operation: str, description: dict, what: str) -> ServiceError:
    status = description.get("ExportStatus") or description.get("ImportStatus")
    return ServiceError(
        operation,
        description.get("FailureCode") or status,
        f"the {what} ended {status}: {description.get('FailureMessage') or 'no reason given'}",
    )


# -- export ---------------------------------------------------------------------------------


@dataclass
class S3ExportResult:
    table: str
    export_arn: str = ""
    status: str = ""
    bucket: str = ""
    prefix: str = ""
    manifest: str | None = None  # the key of manifest-summary.json, when DynamoDB names it
    exported: int = 0  # items DynamoDB exported
    items: int = 0  # items written to the local file
    files: int = 0
    format: str | None = None
    output: str | None = None
    duration: float = 0.0
    lossy: int = 0
    dropped: list[str] = field(default_factory=list)
    dropped_items: int = 0
    description: dict = field(default_factory=dict, repr=False)  # DescribeExport's last answer

    @property
    def items_per_second(self) -> float:
        return self.items / self.duration if self.duration else 0.0

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" + ("/" if self.prefix else "")

    def to_dict(self) -> dict:
        return {
            "table": self.table,
            "export_arn": self.export_arn,
            "status": self.status,
            "s3": self.location,
            "manifest": self.manifest,
            "exported_items": self.exported,
            "items": self.items,
            "files": self.files,
            "format": self.format,
            "output": self.output,
            "duration_s": round(self.duration, 3),
            "lossy_items": self.lossy,
            "dropped_attributes": self.dropped,
            "dropped_items": self.dropped_items,
        }


def export_via_s3(
    connection: Connection,
    table: str,
    via: str,
    *,
    output: str | os.PathLike | None = None,
    format: str | None = None,
    typed: bool = False,
    columns: list[str] | None = None,
    s3_endpoint_url: str | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: PhaseProgress | None = None,
) -> S3ExportResult:
    """Export `table` to S3 with ExportTableToPointInTime (point-in-time recovery must be on)
    and wait for it; with `output`, download its files and write them there in `format`
    (jsonl, json, csv: default from the file's extension), plain or `typed`, as export_table
    does. Nothing is left at `output` unless the whole export is there."""
    location = parse_s3_url(via)
    fmt = format_of(output, format) if output is not None else None
    if typed and fmt == "csv":
        raise InputError("CSV has no typed form: use jsonl or json for a typed export.")
    if output is not None:
        _check_writable(Path(output))  # before an export that may take an hour
    started = time.perf_counter()
    progress = progress or (lambda *_: None)
    table_arn = connection.call("DescribeTable", {"TableName": table})["Table"]["TableArn"]
    s3 = S3(connection, s3_endpoint_url, workers)
    s3.check_bucket(location.bucket)
    result = S3ExportResult(table, bucket=location.bucket, prefix=location.prefix, format=fmt)
    result.export_arn = _start_export(connection, table, table_arn, location)
    _wait_export(connection, result, progress)
    if output is not None:
        files = _data_files(s3, result.description, location)
        download = _Download(s3, location.bucket, Writer(fmt, typed, columns), workers, progress)
        try:
            download.run(files, Path(output), result)
        except KeyboardInterrupt:
            raise ExportInterrupted(
                f"Download interrupted: nothing was written to {str(output)!r}. The export "
                f"({result.export_arn}) is complete under {result.location}.",
                result,
                None,
            ) from None
        result.output = str(output)
    result.duration = time.perf_counter() - started
    return result


def _check_writable(path: Path) -> None:
    folder = path.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK) or path.is_dir():
        raise InputError(
            f"Cannot write {str(path)!r}: "
            + (
                "it is a folder."
                if path.is_dir()
                else f"{str(folder)!r} is no folder one can write to."
            )
        )


def _start_export(connection: Connection, table: str, table_arn: str, where: S3Location) -> str:
    params = {"TableArn": table_arn, "S3Bucket": where.bucket, "ExportFormat": "DYNAMODB_JSON"}
    if where.prefix:
        params["S3Prefix"] = where.prefix
    try:
        answer = connection.call("ExportTableToPointInTime", params)
    except ServiceError as error:
        if error.code != "PointInTimeRecoveryUnavailableException":
            raise
        raise ServiceError(
            error.operation,
            error.code,
            f"point-in-time recovery is off for the table {table!r}: DynamoDB exports a table "
            "to S3 from its continuous backups, so it must be on (dynaquery never turns it on).",
            PITR_HELP.format(table=table),
            error.status,
        ) from None
    return answer["ExportDescription"]["ExportArn"]


def _wait_export(connection: Connection, result: S3ExportResult, progress: PhaseProgress) -> None:
    """Poll DescribeExport until the export ends; one that does not complete is an error."""
    try:
        description = _wait(
            connection,
            "DescribeExport",
            {"ExportArn": result.export_arn},
            "ExportDescription",
            lambda d: progress("export", n := d.get("ItemCount") or 0, _total(d, n)),
        )
    except KeyboardInterrupt:
        raise ExportInterrupted(
            f"Stopped waiting; the export goes on in DynamoDB ({result.export_arn}), "
            f"its files under {result.location}.",
            result,
            None,
        ) from None
    result.status = description["ExportStatus"]
    if result.status != "COMPLETED":
        raise _failed("ExportTableToPointInTime", description, "export")
    result.exported = description.get("ItemCount", 0)
    result.manifest = description.get("ExportManifest")
    result.description = description


DataFile = tuple[str, "int | None"]  # (key, items it holds if the manifest says)


def _data_files(s3: S3, description: dict, where: S3Location) -> list[DataFile]:
    """The export's data files: from its manifests when DynamoDB names them, else (an engine
    that writes none, as moto's server) the data files of the one export under the prefix."""
    bucket = description.get("S3Bucket", where.bucket)
    manifest = description.get("ExportManifest")
    if manifest:
        summary, with_prefix = _manifest(s3, bucket, manifest, where.prefix)
        listing = _read(s3, bucket, with_prefix(summary["manifestFilesS3Key"]))
        entries = [json.loads(line) for line in listing.decode("utf-8").splitlines() if line]
        return [(with_prefix(e["dataFileS3Key"]), e.get("itemCount")) for e in entries]
    export_id = description["ExportArn"].rsplit("/", 1)[-1]
    folders: dict[str, list[str]] = {}
    for key in s3.keys(bucket, where.under("AWSDynamoDB/")):
        folder, _, rest = key[len(where.under("AWSDynamoDB/")) :].partition("/")
        if rest.startswith("data/") and not rest.endswith("/"):
            folders.setdefault(folder, []).append(key)
    if export_id in folders:
        return [(key, None) for key in folders[export_id]]
    if len(folders) == 1:
        return [(key, None) for key in next(iter(folders.values()))]
    if not folders:
        raise DynaqueryError(
            f"DynamoDB named no manifest for the export, and there are no data files under "
            f"{where.url(where.under('AWSDynamoDB/'))}."
        )
    raise DynaqueryError(
        f"DynamoDB named no manifest for the export, and {where.url(where.under('AWSDynamoDB/'))} "
        f"holds the data of {len(folders)} exports: export to a prefix of its own."
    )


def _manifest(s3: S3, bucket: str, key: str, prefix: str) -> tuple[dict, Callable[[str], str]]:
    """manifest-summary.json, and how its keys become keys of the bucket: AWS's examples give
    them relative to the export's prefix, so a key that is not found there is tried under it."""
    try:
        return json.loads(_read(s3, bucket, key)), lambda k: k
    except ServiceError as error:
        if error.code != "NoSuchKey" or not prefix or key.startswith(prefix + "/"):
            raise
    under = lambda k: k if k.startswith(prefix + "/") else f"{prefix}/{k}"  # noqa: E731
    return json.loads(_read(s3, bucket, under(key))), under


def _read(s3: S3, bucket: str, key: str) -> bytes:
    return s3.call("GetObject", Bucket=bucket, Key=key)["Body"].read()


class _Download:
    """The export's data files read by `workers` threads, each turned into the output's bytes
    as it streams in, and written by one thread to a temporary file renamed at the end."""

    def __init__(self, s3: S3, bucket: str, writer: Writer, workers: int, progress: PhaseProgress):
        self.s3, self.bucket, self.writer, self.progress = s3, bucket, writer, progress
        self.workers = max(1, workers)
        self.out: queue.Queue = queue.Queue(maxsize=self.workers * 2)
        self.stop = threading.Event()
        self.one_at_a_time = threading.Lock()  # the writer converts one batch at a time

    def run(self, files: list[DataFile], path: Path, result: S3ExportResult) -> None:
        handle, temporary = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.")
        try:
            with os.fdopen(handle, "wb") as sink:
                self._write(files, sink, result)
                sink.flush()
                os.fsync(sink.fileno())
            os.replace(temporary, path)
        except BaseException:
            self.stop.set()
            Path(temporary).unlink(missing_ok=True)
            raise
        result.files = len(files)
        result.lossy = self.writer.lossy
        result.dropped, result.dropped_items = list(self.writer.dropped), self.writer.dropped_items

    def _write(self, files: list[DataFile], sink: IO[bytes], result: S3ExportResult) -> None:
        todo: queue.Queue = queue.Queue()
        for entry in files:
            todo.put(entry)
        threads = min(self.workers, len(files))
        for n in range(threads):
            threading.Thread(
                target=self._read, args=(todo,), daemon=True, name=f"dynaquery-s3-get-{n}"
            ).start()
        offset, count, running = 0, 0, threads
        sink.write(head := self.writer.start())
        offset += len(head)
        while running:
            entry = self.out.get()
            if entry is _DONE:
                running -= 1
                continue
            if isinstance(entry, BaseException):
                raise entry
            body, n = entry
            chunk = self.writer.before(offset, count) + body
            sink.write(chunk)
            offset, count = offset + len(chunk), count + n
            self.progress("download", count, result.exported or None)
        sink.write(self.writer.end(offset))
        result.items = count
        if result.exported and count != result.exported:
            raise DynaqueryError(
                f"The export's files hold {count} items, but DynamoDB exported "
                f"{result.exported}: the output was not kept. Try again."
            )

    def _read(self, todo: queue.Queue) -> None:
        try:
            while not self.stop.is_set():
                try:
                    key, expected = todo.get_nowait()
                except queue.Empty:
                    break
                count = self._read_file(key)
                if expected is not None and count != expected:
                    raise DynaqueryError(
                        f"s3://{self.bucket}/{key} holds {count} items, but the export's "
                        f"manifest says {expected}."
                    )
            self._put(_DONE)
        except BaseException as error:
            self._put(error)

    def _read_file(self, key: str) -> int:
        """One data file, gzip'd lines of {"Item": {...}}, streamed through the writer."""
        body = self.s3.call("GetObject", Bucket=self.bucket, Key=key)["Body"]
        count, batch = 0, []
        try:
            for line in gzip.GzipFile(fileobj=body, mode="rb"):
                if line.strip():
                    batch.append(json.loads(line)["Item"])
                if len(batch) == BATCH:
                    count += self._convert(batch)
                    batch = []
        except (OSError, EOFError, ValueError, KeyError) as error:
            raise DynaqueryError(
                f"s3://{self.bucket}/{key} is not an export's data file (gzip'd lines of "
                f'{{"Item": ...}}): {error}'
            ) from None
        finally:
            body.close()
        return count + self._convert(batch)

    def _convert(self, batch: list[dict]) -> int:
        if batch:
            with self.one_at_a_time:
                body = self.writer.page([self.writer.body(batch)])
            self._put((body, len(batch)))
        return len(batch)

    def _put(self, entry: Any) -> None:
        while not self.stop.is_set():
            try:
                self.out.put(entry, timeout=0.2)
                return
            except queue.Full:
                continue


# -- import ---------------------------------------------------------------------------------


@dataclass
class S3ImportResult:
    table: str
    format: str
    bucket: str = ""
    folder: str = ""  # the key prefix the files were uploaded under
    uploaded: int = 0  # items written to S3
    failed: int = 0  # lines of the file that were no item
    files: int = 0
    lines: int = 0
    import_arn: str = ""
    status: str = ""
    imported: int = 0  # items DynamoDB imported
    errors: int = 0  # items DynamoDB could not import (ErrorCount)
    duration: float = 0.0
    line_errors: list[LineError] = field(default_factory=list)

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.folder}"

    def to_dict(self) -> dict:
        return {
            "table": self.table,
            "format": self.format,
            "s3": self.location,
            "uploaded": self.uploaded,
            "failed": self.failed,
            "files": self.files,
            "lines": self.lines,
            "import_arn": self.import_arn,
            "status": self.status,
            "imported": self.imported,
            "errors": self.errors,
            "duration_s": round(self.duration, 3),
            "line_errors": [{"line": e.line, "message": e.message} for e in self.line_errors],
        }


def parse_key_schema(text: str) -> list[tuple[str, str]]:
    """'pk:S' or 'pk:S,sk:N' as [(name, type)]: the partition key, then the sort key."""
    parts = [part.strip() for part in (text or "").split(",")]
    keys = []
    for part in parts:
        name, _, kind = part.rpartition(":")
        if not name or kind.upper() not in KEY_TYPES:
            raise InputError(
                f"{part!r} is not a key attribute: give NAME:TYPE, TYPE one of S, N, B "
                "(for example --key pk:S,sk:N)."
            )
        keys.append((name, kind.upper()))
    if len(keys) > 2 or (len(keys) == 2 and keys[0][0] == keys[1][0]):
        raise InputError("A key is a partition key and at most one sort key: --key pk:S[,sk:N].")
    return keys


def import_via_s3(
    connection: Connection,
    table: str,
    source: str | os.PathLike | IO,
    via: str,
    key: list[tuple[str, str]],
    *,
    format: str | None = None,
    strict: bool = False,
    s3_endpoint_url: str | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: PhaseProgress | None = None,
    on_error: Callable[[LineError], None] | None = None,
) -> S3ImportResult:
    """Create `table` (keyed by `key`: [(name, S|N|B)], on-demand) from a file with ImportTable:
    its items are uploaded as DynamoDB JSON (gzip) to a new folder under `via`, and DynamoDB
    imports them. Bad lines are reported with on_error and left out (with strict, nothing is
    imported: ImportStopped). DynamoDB's import only creates tables: an existing one is refused."""
    fmt = format_of(source if isinstance(source, (str, os.PathLike)) else None, format)
    location = parse_s3_url(via)
    if getattr(connection.config, "read_only", False):
        raise ReadOnlyError("ImportTable")
    _refuse_existing(connection, table)
    s3 = S3(connection, s3_endpoint_url, workers)
    s3.check_bucket(location.bucket)
    started = time.perf_counter()
    progress = progress or (lambda *_: None)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    folder = location.under(f"{table}-import-{stamp}-{uuid.uuid4().hex[:8]}") + "/"
    result = S3ImportResult(table, fmt, bucket=location.bucket, folder=folder)
    upload = _Upload(s3, location.bucket, folder, workers)
    try:
        _convert_file(source, fmt, key, strict, result, upload, progress, on_error)
    except BaseException:
        upload.remove()  # nothing is imported: what was uploaded goes too
        raise
    if strict and result.failed:
        upload.remove()
        first = result.line_errors[0]
        raise ImportStopped(f"Import stopped at {first} (strict): nothing was imported.", result, 2)
    result.import_arn = _start_import(connection, table, key, location.bucket, folder)
    _wait_import(connection, result, progress)
    result.duration = time.perf_counter() - started
    return result


def _refuse_existing(connection: Connection, table: str) -> None:
    try:
        connection.call("DescribeTable", {"TableName": table})
    except ServiceError as error:
        if error.code == "ResourceNotFoundException":
            return
        raise
    raise Conflict(
        f"The table {table!r} exists: DynamoDB's import from S3 only creates new tables. "
        "Import into it without --via (BatchWriteItem), or give a new table's name."
    )


def _convert_file(
    source: str | os.PathLike | IO,
    fmt: str,
    key: list[tuple[str, str]],
    strict: bool,
    result: S3ImportResult,
    upload: _Upload,
    progress: PhaseProgress,
    on_error: Callable[[LineError], None] | None,
) -> None:
    """Read the file's items, checked as import_table checks them, into the upload's parts."""
    names, key_types = [k for k, _ in key], dict(key)
    stream, own = open_text(source)
    batch: list[dict] = []
    try:
        for line, value, problem, deep in read_rows(fmt, stream, key_types):
            result.lines += 1
            item = None
            if problem is None:
                item, problem = _item_to_typed(value, names, key_types, deep)
            if problem is not None:
                _bad_line(result, LineError(line, problem), on_error)
                if strict:
                    return
                continue
            batch.append(item)
            if len(batch) == BATCH:
                upload.add(batch)
                result.uploaded += len(batch)
                progress("upload", result.uploaded, None)
                batch = []
        upload.add(batch)
        result.uploaded += len(batch)
        upload.finish()
        result.files = upload.parts
        progress("upload", result.uploaded, result.uploaded)
    except UnicodeDecodeError as error:
        raise InputError(f"The text after line {result.lines} is not UTF-8: {error}") from None
    finally:
        if own:
            stream.close()


def _bad_line(result: S3ImportResult, error: LineError, on_error) -> None:
    result.failed += 1
    if len(result.line_errors) < 1000:
        result.line_errors.append(error)
    if on_error:
        on_error(error)


class _Upload:
    """Items written as gzip'd DynamoDB JSON to numbered part files, each uploaded by a pool of
    threads once it holds PART_BYTES (a few parts at most wait on disk)."""

    def __init__(self, s3: S3, bucket: str, folder: str, workers: int):
        self.s3, self.bucket, self.folder = s3, bucket, folder
        self.workers = max(1, workers)
        self.directory = tempfile.TemporaryDirectory(prefix="dynaquery-import-")
        self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="dynaquery-s3-put")
        self.pending: list[Future] = []
        self.uploaded: list[str] = []
        self.parts = 0
        self.part: gzip.GzipFile | None = None
        self.size = 0

    def add(self, items: list[dict]) -> None:
        if not items:
            return
        if self.part is None:
            path = Path(self.directory.name) / f"part-{self.parts:05d}.json.gz"
            self.part = gzip.GzipFile(path, "wb", compresslevel=5)
            self.parts += 1
        data = values.typed_json_items(items, b'{"Item":', b"}", b"\n") + b"\n"
        self.part.write(data)
        self.size += len(data)
        if self.size >= PART_BYTES:
            self._send_part()

    def _send_part(self) -> None:
        path = Path(self.part.name)
        self.part.close()
        self.part, self.size = None, 0
        self.pending.append(self.pool.submit(self._put, path))
        while len(self.pending) > self.workers:  # bounds the parts waiting on disk
            self.pending.pop(0).result()

    def _put(self, path: Path) -> None:
        key = self.folder + path.name
        with open(path, "rb") as body:
            self.s3.call("PutObject", Bucket=self.bucket, Key=key, Body=body)
        self.uploaded.append(key)
        path.unlink()

    def finish(self) -> None:
        """Send the last part and wait for every upload (the first failure is raised)."""
        try:
            if self.part is not None:
                self._send_part()
            for future in self.pending:
                future.result()
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.directory.cleanup()

    def remove(self) -> None:
        """Stop, and delete what was uploaded (as well as one can)."""
        self.pool.shutdown(wait=True, cancel_futures=True)
        if self.part is not None:
            self.part.close()
        self.directory.cleanup()
        for key in self.uploaded:
            try:
                self.s3.call("DeleteObject", Bucket=self.bucket, Key=key)
            except DynaqueryError:
                pass


def _start_import(
    connection: Connection, table: str, key: list[tuple[str, str]], bucket: str, folder: str
) -> str:
    roles = ("HASH", "RANGE")
    params = {
        "S3BucketSource": {"S3Bucket": bucket, "S3KeyPrefix": folder},
        "InputFormat": "DYNAMODB_JSON",
        "InputCompressionType": "GZIP",
        "TableCreationParameters": {
            "TableName": table,
            "AttributeDefinitions": [
                {"AttributeName": name, "AttributeType": kind} for name, kind in key
            ],
            "KeySchema": [
                {"AttributeName": name, "KeyType": role} for (name, _kind), role in zip(key, roles)
            ],
            "BillingMode": "PAY_PER_REQUEST",
        },
    }
    from ..request import prepare

    params = prepare("ImportTable", params).params  # the table's name and the rest, checked
    try:
        return connection.call("ImportTable", params)["ImportTableDescription"]["ImportArn"]
    except ServiceError as error:
        if error.code == "ResourceInUseException":
            raise Conflict(
                f"The table {table!r} exists (it was created meanwhile): DynamoDB's import "
                "only creates new tables."
            ) from None
        raise


def _wait_import(connection: Connection, result: S3ImportResult, progress: PhaseProgress) -> None:
    def seen(description: dict) -> None:
        result.status = description.get("ImportStatus", "")
        result.imported = description.get("ImportedItemCount", 0)
        result.errors = description.get("ErrorCount", 0)
        progress("import", description.get("ProcessedItemCount", 0), result.uploaded)

    try:
        description = _wait(
            connection,
            "DescribeImport",
            {"ImportArn": result.import_arn},
            "ImportTableDescription",
            seen,
        )
    except KeyboardInterrupt:
        raise ImportStopped(
            f"Stopped waiting; the import goes on in DynamoDB ({result.import_arn}).", result, 130
        ) from None
    if result.status != "COMPLETED":
        error = _failed("ImportTable", description, "import")
        error.message += (
            f"\n{result.imported} of {result.uploaded} item(s) were imported; the files are "
            f"under {result.location}."
        )
        raise error
