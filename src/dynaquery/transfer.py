"""Whole tables in and out: export to JSON lines, JSON or CSV, and import from them.

Export is a parallel scan: the table is read in N segments by a few threads, and the pages are
written as they come, by one writer, so memory holds a few pages whatever the table's size. The
scan's pages skip botocore's response parsing (a hook keeps the raw body, which the C codec turns
into JSON text directly): with the same results, that is most of the client's work saved.

Checkpoints: while it runs (and when it is interrupted or fails), an export to a file keeps
`<file>.checkpoint` up to date: for each segment the key to go on from (or that it is done), and
the size of the output that holds exactly the pages written for those keys. `resume=True`
truncates the output to that size and goes on from those keys: no item is missing, none is there
twice. A finished export removes its checkpoint.

Import reads the file as it goes (a JSON line or array element is one item, plain or typed), and
writes with BatchWriteItem in chunks of 25 from several threads; the items of one key always go
through the same thread, in the file's order, so the last line for a key wins as it would one by
one. Unprocessed items are retried with backoff; a bad line is reported with its number and the
rest goes on (or everything stops, with strict=True).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import queue
import re
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Callable, Iterator

from . import values
from .connection import Connection
from .errors import DynaqueryError, InputError, Problem, ServiceError
from .catalog import get_operation
from .execution import THROTTLING_CODES, backoff, batch_limit
from .parsing import exact_number

FORMATS = ("jsonl", "json", "csv")
CHECKPOINT_SUFFIX = ".checkpoint"
CHECKPOINT_VERSION = 1
CHECKPOINT_EVERY = 2.0  # seconds between checkpoints of a running export
DEFAULT_SEGMENTS = 8
DEFAULT_WORKERS = 8
# Items per scan request. A page is at most 1 MB anyway; fewer items keep the pages in flight
# (and so the memory) the same size whatever the table's, at the cost of a few more requests.
DEFAULT_PAGE_SIZE = 1000
KEEP_ERRORS = 1000  # line errors kept in an ImportResult (all are counted)
# DynamoDB refuses an item with a map or list inside 31 others (an attribute's levels: 32).
MAX_NESTING = 32
TOO_DEEP = f"nested too deeply: DynamoDB allows {MAX_NESTING} levels of nesting"
BOM = "\ufeff"
# Files are read with errors="surrogateescape": a byte that is not UTF-8 becomes one of these,
# so the line it is on can be reported, and the others read.
_NOT_UTF8 = re.compile("[\udc80-\udcff]")

Progress = Callable[[int, "int | None"], None]


def format_of(path: str | os.PathLike | None, given: str | None = None) -> str:
    """The format given, else the file's extension, else JSON lines."""
    if given:
        if given not in FORMATS:
            raise InputError(f"Unknown format {given!r}: use one of {', '.join(FORMATS)}.")
        return given
    suffix = Path(str(path)).suffix.lower().lstrip(".") if path else ""
    return {"json": "json", "csv": "csv", "jsonl": "jsonl", "ndjson": "jsonl"}.get(suffix, "jsonl")


# ---------------------------------------------------------------------------------------------
# reading pages raw


_raw = threading.local()
RAW_BODY = "dynaquery_raw_body"


def _keep_raw_body(response_dict: dict, customized_response_dict: dict, **_: Any) -> None:
    """botocore's before-parse hook: on this thread's transfer calls, keep the body for us and
    leave botocore's parser nothing to walk. Errors (status >= 300) are parsed as usual."""
    if (getattr(_raw, "on", False) and response_dict.get("status_code") == 200
            and RAW_BODY not in customized_response_dict):
        customized_response_dict[RAW_BODY] = response_dict["body"]
        response_dict["body"] = b""


_registering = threading.Lock()


def enable_raw(connection: Connection, operation: str) -> None:
    """Install the hook on the connection's client (once; do it before starting threads)."""
    with _registering:
        connection.client.meta.events.register(
            f"before-parse.dynamodb.{operation}", _keep_raw_body,
            unique_id=f"dynaquery-raw-{operation}")


def call_raw_body(connection: Connection, operation: str, params: dict) -> tuple[bytes | None, dict]:
    """One call whose response body botocore does not parse: (the JSON body, the response
    botocore made of the rest). The body is None if the hook did not run (a Connection that
    answers some other way): then the response is botocore's, whole.
    enable_raw(connection, operation) must have been called."""
    _raw.on = True
    try:
        response = connection.call(operation, params)
    finally:
        _raw.on = False
    return response.pop(RAW_BODY, None), response


def call_raw(connection: Connection, operation: str, params: dict) -> dict:
    """One call whose response is read straight from its JSON body: typed items as the wire
    carries them (binary as base64 text), everything else as botocore would give it."""
    body, response = call_raw_body(connection, operation, params)
    if body is None:
        return response
    parsed = json.loads(body) if body else {}
    parsed["ResponseMetadata"] = response.get("ResponseMetadata", {})
    return parsed


_decode = json.JSONDecoder().raw_decode
_scanstring = json.decoder.scanstring
_blank = re.compile(r"[ \t\n\r]*").match


def page_items(body: bytes, rest: dict) -> Iterator[dict]:
    """The items of a page's JSON body (Scan, Query), one at a time: memory holds the body and
    one item, not the whole page parsed. The body's other members go into `rest` as they come
    (so it is complete once the items are through)."""
    text = body.decode("utf-8")

    def expect(char: str, at: int) -> int:
        if text[at:at + 1] != char:
            raise ValueError(f"a page's JSON body: {char!r} expected at {at}")
        return _blank(text, at + 1).end()

    i = expect("{", _blank(text, 0).end())
    if text[i:i + 1] == "}":
        return
    while True:
        if text[i:i + 1] != '"':
            raise ValueError(f"a page's JSON body: a member name expected at {i}")
        name, i = _scanstring(text, i + 1)
        i = expect(":", _blank(text, i).end())
        if name == "Items" and text[i:i + 1] == "[":
            i = _blank(text, i + 1).end()
            if text[i:i + 1] == "]":
                i += 1
            else:
                while True:
                    item, i = _decode(text, i)
                    yield item
                    i = _blank(text, i).end()
                    if text[i:i + 1] == "]":
                        i += 1
                        break
                    i = expect(",", i)
        else:
            rest[name], i = _decode(text, i)
        i = _blank(text, i).end()
        if text[i:i + 1] == "}":
            return
        i = expect(",", i)


def _inject_body(params: dict, **_: Any) -> None:
    """botocore's before-call hook: on this thread's transfer writes, send the body we wrote
    (with json's C encoder) instead of the one botocore's serializer made of a stub."""
    body = getattr(_raw, "body", None)
    if body is not None:
        params["body"] = body
        _raw.injected = True


def enable_raw_writes(connection: Connection) -> None:
    with _registering:
        connection.client.meta.events.register(
            "before-call.dynamodb.BatchWriteItem", _inject_body,
            unique_id="dynaquery-raw-BatchWriteItem")


def batch_write_body(table: str, items: list[dict]) -> bytes:
    """The JSON body of a BatchWriteItem putting typed items: what botocore's serializer writes
    (binary in base64), but written by json's C encoder."""
    return (b'{"RequestItems":{' + json.dumps(table).encode() + b":["
            + values.typed_json_items(items, b'{"PutRequest":{"Item":', b"}}", b",") + b"]}}")


def call_batch_write(connection: Connection, table: str, items: list[dict]) -> dict:
    """BatchWriteItem of typed items, serialized by batch_write_body (enable_raw_writes first)."""
    _raw.body = batch_write_body(table, items)
    _raw.injected = False
    try:
        response = connection.call("BatchWriteItem", {"RequestItems": {table: []}})
    finally:
        _raw.body = None
    if not _raw.injected:  # a Connection that sends some other way: send the real request
        response = connection.call("BatchWriteItem", {"RequestItems": {
            table: [{"PutRequest": {"Item": item}} for item in items]}})
    return response


def _key_for_request(key: dict) -> dict:
    """A LastEvaluatedKey as the wire gave it (binary as base64), as botocore sends it."""
    return {name: values.to_typed(av) for name, av in key.items()}


# ---------------------------------------------------------------------------------------------
# export


@dataclass
class ExportResult:
    table: str
    format: str
    items: int = 0          # items written
    scanned: int = 0        # items the scan read (more than written with a filter)
    pages: int = 0
    segments: int = 1
    duration: float = 0.0
    output: str | None = None
    resumed: bool = False
    lossy: int = 0          # items with sets, binary or tag-like maps, written in plain form
    dropped: list[str] = field(default_factory=list)  # CSV: attributes not in the columns
    dropped_items: int = 0

    @property
    def items_per_second(self) -> float:
        return self.items / self.duration if self.duration else 0.0

    def to_dict(self) -> dict:
        return {"table": self.table, "format": self.format, "items": self.items,
                "scanned": self.scanned, "pages": self.pages, "segments": self.segments,
                "duration_s": round(self.duration, 3), "output": self.output,
                "resumed": self.resumed, "lossy_items": self.lossy,
                "dropped_attributes": self.dropped, "dropped_items": self.dropped_items}


class ExportInterrupted(DynaqueryError):
    """An export stopped by Ctrl-C (KeyboardInterrupt); its checkpoint lets it go on."""

    exit_code = 130

    def __init__(self, message: str, result: ExportResult, checkpoint: str | None):
        super().__init__(message)
        self.result = result
        self.checkpoint = checkpoint


def _scan_params(table: str, filter: str | None, projection: str | None, names: dict | None,
                 values_: Any, consistent_read: bool, page_size: int | None,
                 index: str | None) -> dict:
    """The Scan parameters, checked (and values made typed) as `run` would."""
    from .request import prepare

    params: dict[str, Any] = {"TableName": table}
    if index:
        params["IndexName"] = index
    if filter:
        params["FilterExpression"] = filter
    if projection:
        params["ProjectionExpression"] = projection
    if names:
        params["ExpressionAttributeNames"] = names
    if values_:
        params["ExpressionAttributeValues"] = values_
    if consistent_read:
        params["ConsistentRead"] = True
    if page_size:
        params["Limit"] = page_size
    return prepare("Scan", params).params


class _Writer:
    """Turns pages of typed items into the output format's bytes.

    `body` runs on the scanning threads (one at a time); the rest on the thread that writes."""

    def __init__(self, fmt: str, typed: bool, columns: list[str] | None):
        self.format = fmt
        self.typed = typed
        self.columns = columns
        self.lossy = 0
        self.dropped: dict[str, None] = {}
        self.dropped_items = 0

    def body(self, items: list[dict]) -> bytes:
        """Items as the format writes them, each with its separator (see page)."""
        if not items:
            return b""
        if self.format != "csv":
            separator = "\n" if self.format == "jsonl" else ",\n"
            if self.typed:
                return self._typed_lines(items, separator)
            lossy: list[int] = []
            text = values.items_jsonl(items, separator, lossy)
            self.lossy += lossy[0]
            return text
        if self.columns is None:  # CSV: the first page's attributes
            self.columns = list(dict.fromkeys(k for item in items for k in item))
        return self._csv_rows(values.items_to_plain(items))

    def page(self, chunks: list[bytes]) -> bytes:
        """A page's bodies as one piece (in a JSON array, no comma after the last item)."""
        data = b"".join(chunks)
        return data[:-2] if self.format == "json" and data else data

    def start(self) -> bytes:
        """What opens a new output (at offset 0)."""
        return b"[\n" if self.format == "json" else b""

    def before(self, offset: int, count: int) -> bytes:
        """What goes before a page's body, given what the output holds."""
        if self.format == "json":
            return b",\n" if count else b""
        if self.format == "csv" and offset == 0:
            return self.csv_header()
        return b""

    def end(self, offset: int) -> bytes:
        if self.format == "json":
            return b"\n]\n"
        if self.format == "csv" and offset == 0 and self.columns:
            return self.csv_header()  # no item: the header alone
        return b""

    def csv_header(self) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(self.columns or [])
        return buffer.getvalue().encode("utf-8")

    @staticmethod
    def _typed_lines(items: list[dict], separator: str) -> bytes:
        return values.typed_json_items(items, b"", separator.encode(), b"")

    def _csv_rows(self, rows: list[dict]) -> bytes:
        from .results import cell

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        columns = self.columns
        known = set(columns)
        for row in rows:
            if len(row) > len(known) or any(k not in known for k in row):
                self.dropped_items += 1
                self.dropped.update(dict.fromkeys(k for k in row if k not in known))
            writer.writerow([cell(row.get(c)) for c in columns])
        return buffer.getvalue().encode("utf-8")


def _projection_columns(projection: str, names: dict | None) -> list[str]:
    columns = []
    for part in projection.split(","):
        first = part.strip().split(".")[0].split("[")[0].strip()
        column = (names or {}).get(first, first)
        if column and column not in columns:
            columns.append(column)
    return columns


class _Checkpoint:
    """The file that lets an interrupted export go on: written whole, then renamed into place."""

    def __init__(self, path: Path):
        self.path = path

    def load(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"Nothing to resume: there is no checkpoint {str(self.path)!r} "
                             "(an export that finished removes it).") from None
        except (OSError, ValueError) as error:
            raise InputError(f"The checkpoint {str(self.path)!r} cannot be read: {error}") from None
        if data.get("version") != CHECKPOINT_VERSION:
            raise InputError(f"The checkpoint {str(self.path)!r} is of another version.")
        return data

    def save(self, data: dict) -> None:
        temporary = self.path.with_name(self.path.name + ".tmp")
        with open(temporary, "w", encoding="utf-8") as f:
            json.dump(data, f, default=values.typed_json_default)  # keys' binary values in base64
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, self.path)

    def remove(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


def export_table(connection: Connection, table: str, output: str | os.PathLike | IO[bytes], *,
                 format: str | None = None, segments: int = DEFAULT_SEGMENTS,
                 filter: str | None = None, projection: str | None = None,
                 names: dict | None = None, values: Any = None, consistent_read: bool = False,
                 index: str | None = None, typed: bool = False, columns: list[str] | None = None,
                 page_size: int | None = DEFAULT_PAGE_SIZE, resume: bool = False,
                 checkpoint: str | os.PathLike | None = None,
                 progress: Progress | None = None) -> ExportResult:
    """Export a table (or an index) to `output`: a path, or a binary file object (no checkpoint).

    - format: "jsonl" (one plain item per line), "json" (an array) or "csv" (default: from the
      file's extension, else jsonl); typed=True writes DynamoDB's typed JSON instead of plain,
      which reads back exactly (plain has no sets nor binary: they come out as lists and base64);
    - segments: the parallel scan's TotalSegments; page_size: items per request (None: as
      many as fit DynamoDB's 1 MB);
    - filter / projection / names / values / consistent_read / index: as Scan takes them
      (values plain or typed);
    - columns: CSV's columns (default: the projection's attributes, else those of the first page);
    - resume: go on from the checkpoint of an interrupted export of the same table to the same
      file; checkpoint: where it is kept (default: `<output>.checkpoint`);
    - progress(scanned, total): called after every page; total is the table's item count.
    """
    fmt = format_of(output if isinstance(output, (str, os.PathLike)) else None, format)
    if segments < 1:
        raise InputError("segments must be at least 1.")
    if typed and fmt == "csv":
        raise InputError("CSV has no typed form: use jsonl or json for a typed export.")
    params = _scan_params(table, filter, projection, names, values, consistent_read, page_size,
                          index)
    settings = {"table": table, "format": fmt, "typed": typed, "segments": segments,
                "scan": _jsonable(params)}
    if fmt == "csv" and columns is None and projection:
        columns = _projection_columns(projection, names)

    total = _item_count(connection, table, index)  # a table that is not there fails here
    to_file = isinstance(output, (str, os.PathLike))
    store = None
    state: list[Any] = [None] * segments  # per segment: None (not started), a key, or True (done)
    offset = count = scanned = 0
    if to_file:
        path = Path(output)
        store = _Checkpoint(Path(checkpoint) if checkpoint else
                            path.with_name(path.name + CHECKPOINT_SUFFIX))
        if resume:
            saved = store.load()
            mismatch = [k for k in settings if settings[k] != saved["settings"].get(k)]
            if columns and saved["settings"].get("columns") not in (None, columns):
                mismatch.append("columns")
            if mismatch:
                raise InputError("The checkpoint is of another export (" + ", ".join(
                    f"{k}: {saved['settings'].get(k)!r}" for k in mismatch)
                    + "): resume with the same table, format, segments and scan options.")
            state = saved["state"]
            offset, count, scanned = saved["offset"], saved["items"], saved["scanned"]
            columns = saved["settings"].get("columns") or columns
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                size = -1
            if size < offset:
                raise InputError(f"The output {str(path)!r} is shorter than its checkpoint says "
                                 f"({max(size, 0)} < {offset} bytes): it was changed since; "
                                 "start the export over.")
            sink = open(path, "r+b")
            sink.truncate(offset)
            sink.seek(offset)
        else:
            if store.path.exists():
                raise InputError(
                    f"An interrupted export left the checkpoint {str(store.path)!r}: pass "
                    "resume=True (--resume) to go on with it, or remove it to start over.")
            sink = open(path, "wb")
    else:
        sink = output
        if resume:
            raise InputError("Only an export to a file can be resumed.")

    started = time.perf_counter()
    result = ExportResult(table, fmt, segments=segments, output=str(output) if to_file else None,
                          resumed=resume)
    writer = _Writer(fmt, typed, columns)
    # What the output holds: its size, its items, the items scanned, and each segment's state.
    # Replaced whole, in one assignment, after a page is written: an interruption anywhere
    # leaves either the state before that page or the state after it, never half of each.
    done = (offset, count, scanned, tuple(state))

    def snapshot() -> dict:
        size, items, seen, states = done
        return {"version": CHECKPOINT_VERSION,
                "settings": {**settings, "columns": writer.columns},
                "state": list(states), "offset": size, "items": items, "scanned": seen}

    pages = _scan_pages(connection, params, segments, state, writer.body, writer.page)
    last_save = time.monotonic()
    try:
        if offset == 0:
            head = writer.start()
            sink.write(head)
            done = (len(head), *done[1:])
        for segment, body, n, key, page_scanned in pages:
            size, items, seen, states = done
            chunk = writer.before(size, items) + body if n else b""
            sink.write(chunk)
            after = states[:segment] + (key or True,) + states[segment + 1:]
            done = (size + len(chunk), items + n, seen + page_scanned, after)
            result.pages += 1
            if progress:
                progress(done[2], total)
            if store and time.monotonic() - last_save >= CHECKPOINT_EVERY:
                sink.flush()
                os.fsync(sink.fileno())
                store.save(snapshot())
                last_save = time.monotonic()
        sink.write(writer.end(done[0]))
        sink.flush()
    except BaseException as error:
        pages.close()
        result.items, result.scanned = done[1], done[2]
        result.duration = time.perf_counter() - started
        if store is None:
            raise
        try:
            sink.flush()
            store.save(snapshot())
        finally:
            sink.close()
        where = (f"\n{done[1]} item(s) had been written to {str(output)!r}. Go on with --resume "
                 f"(resume=True); the checkpoint is {str(store.path)!r}.")
        if isinstance(error, DynaqueryError):
            error.message += where
            raise
        if isinstance(error, KeyboardInterrupt):
            raise ExportInterrupted("Export interrupted." + where, result, str(store.path)) from None
        raise
    if store is not None:
        sink.close()
        store.remove()
    result.items, result.scanned = done[1], done[2]
    result.duration = time.perf_counter() - started
    result.lossy = writer.lossy
    result.dropped, result.dropped_items = list(writer.dropped), writer.dropped_items
    return result


def iter_export(connection: Connection, table: str, *, format: str = "jsonl",
                segments: int = DEFAULT_SEGMENTS, typed: bool = False,
                columns: list[str] | None = None, **scan: Any) -> Iterator[bytes]:
    """The export as a stream of byte chunks (a page's worth each), for an HTTP response: the
    same bytes export_table writes, with memory flat whatever the table's size. Closing the
    generator stops the scan. `scan` takes filter, projection, names, values, consistent_read,
    index, page_size."""
    fmt = format_of(None, format)
    if typed and fmt == "csv":
        raise InputError("CSV has no typed form: use jsonl or json for a typed export.")
    params = _scan_params(table, scan.get("filter"), scan.get("projection"), scan.get("names"),
                          scan.get("values"), scan.get("consistent_read", False),
                          scan.get("page_size", DEFAULT_PAGE_SIZE), scan.get("index"))
    if fmt == "csv" and columns is None and scan.get("projection"):
        columns = _projection_columns(scan["projection"], scan.get("names"))
    writer = _Writer(fmt, typed, columns)
    pages = _scan_pages(connection, params, segments, [None] * segments, writer.body,
                        writer.page)
    offset = count = 0
    try:
        head = writer.start()
        if head:
            yield head
            offset += len(head)
        for _segment, body, n, _key, _scanned in pages:
            if n:
                chunk = writer.before(offset, count) + body
                offset, count = offset + len(chunk), count + n
                yield chunk
        tail = writer.end(offset)
        if tail:
            yield tail
    finally:
        pages.close()


def _item_count(connection: Connection, table: str, index: str | None) -> int | None:
    """The table's (approximate) item count, for the progress bar; None if it cannot be read."""
    try:
        found = connection.call("DescribeTable", {"TableName": table})["Table"]
    except ServiceError as error:
        if error.code == "ResourceNotFoundException":
            raise
        return None
    if index:
        for group in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            for entry in found.get(group, []):
                if entry.get("IndexName") == index:
                    return entry.get("ItemCount")
        return None
    return found.get("ItemCount")


def _jsonable(params: dict) -> Any:
    """The scan's parameters as JSON (to compare a resume's with the checkpoint's)."""
    return json.loads(json.dumps(params, default=values.typed_json_default))


_DONE = object()


def _scan_pages(connection: Connection, params: dict, segments: int, state: list[Any],
                convert: Callable[[list[dict]], bytes],
                finish: Callable[[list[bytes]], bytes]) -> Iterator[tuple]:
    """(segment, bytes, items, next key, scanned) for each page, as the threads read them; each
    segment's pages in order. `state` says where each segment starts: None from its beginning, a
    key after it, True not at all. The threads turn each page into bytes with `convert`, one page
    at a time: memory holds one parsed page and a few pages of bytes, whatever the table's size."""
    todo = [s for s in range(segments) if state[s] is not True]
    if not todo:
        return
    enable_raw(connection, "Scan")
    pool = connection.client.meta.config.max_pool_connections or 10
    threads = max(1, min(len(todo), pool))
    out: queue.Queue = queue.Queue(maxsize=threads)
    stop = threading.Event()
    one_at_a_time = threading.Lock()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                out.put(entry, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def work(mine: list[int]) -> None:
        try:
            for segment in mine:
                key = state[segment]
                while not stop.is_set():
                    request = dict(params)
                    if segments > 1:
                        request["Segment"], request["TotalSegments"] = segment, segments
                    if key:
                        request["ExclusiveStartKey"] = _key_for_request(key)
                    raw, page = call_raw_body(connection, "Scan", request)
                    with one_at_a_time:
                        items = page_items(raw, page) if raw is not None else page.get("Items", [])
                        chunks, n, batch = [], 0, []
                        for item in items:
                            batch.append(item)
                            if len(batch) == 200:
                                chunks.append(convert(batch))
                                n, batch = n + len(batch), []
                        if batch:
                            chunks.append(convert(batch))
                            n += len(batch)
                        body = finish(chunks)
                        del raw, items, chunks, batch
                    key = page.get("LastEvaluatedKey")
                    if not put((segment, body, n, key, page.get("ScannedCount", n))):
                        return
                    if not key:
                        break
            put(_DONE)
        except BaseException as error:  # handed to the writer, which stops everything
            put(error)

    workers = [threading.Thread(target=work, args=(todo[t::threads],), daemon=True,
                                name=f"dynaquery-scan-{t}") for t in range(threads)]
    for worker in workers:
        worker.start()
    running = threads
    try:
        while running:
            entry = out.get()
            if entry is _DONE:
                running -= 1
            elif isinstance(entry, BaseException):
                raise entry
            else:
                yield entry
    finally:
        stop.set()


# ---------------------------------------------------------------------------------------------
# import


@dataclass
class LineError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class ImportResult:
    table: str
    format: str
    written: int = 0
    failed: int = 0
    lines: int = 0
    duration: float = 0.0
    errors: list[LineError] = field(default_factory=list)  # the first KEEP_ERRORS

    @property
    def complete(self) -> bool:
        return self.failed == 0

    @property
    def items_per_second(self) -> float:
        return self.written / self.duration if self.duration else 0.0

    def to_dict(self) -> dict:
        return {"table": self.table, "format": self.format, "written": self.written,
                "failed": self.failed, "lines": self.lines, "duration_s": round(self.duration, 3),
                "errors": [{"line": e.line, "message": e.message} for e in self.errors]}


class ImportStopped(DynaqueryError):
    """An import stopped before the end (a bad line with strict, or a failure of the service)."""

    def __init__(self, message: str, result: ImportResult, exit_code: int = 1):
        super().__init__(message)
        self.result = result
        self.exit_code = exit_code


def _parse_json(text: str) -> Any:
    return json.loads(text, parse_float=exact_number)


Row = tuple[int, Any, "str | None", bool]


def _not_utf8(match: re.Match, where: str = "") -> str:
    return (f"not UTF-8 text: the byte 0x{ord(match.group()) - 0xDC00:02X}"
            + (f" ({where})" if where else ""))


def _may_be_too_deep(text: str, start: int = 0, end: int | None = None) -> bool:
    """Whether the JSON text could hold a value nested too deeply: each level takes a bracket."""
    end = len(text) if end is None else end
    return text.count("{", start, end) + text.count("[", start, end) > MAX_NESTING


def _without_bom(stream: IO[str]) -> Iterator[str]:
    """The stream's lines, without a byte order mark at the start."""
    first = stream.readline()
    return itertools.chain([first[1:] if first.startswith(BOM) else first], stream)


def _read_jsonl(stream: IO[str]) -> Iterator[Row]:
    """(line number, value, None, may be too deep) or (line number, None, what is wrong, False)
    for each line."""
    loads = json.JSONDecoder(parse_float=exact_number).decode
    for number, line in enumerate(_without_bom(stream), 1):
        if not line.strip():
            continue
        if not line.isascii() and (bad := _NOT_UTF8.search(line)):
            yield number, None, _not_utf8(bad, f"column {bad.start() + 1}"), False
            continue
        try:
            yield (number, loads(line), None,
                   line.count("{") + line.count("[") > MAX_NESTING)  # as _may_be_too_deep
        except RecursionError:
            yield number, None, TOO_DEEP, False
        except ValueError as error:
            yield number, None, f"invalid JSON: {getattr(error, 'msg', error)}" + (
                f" (column {error.colno})" if hasattr(error, "colno") else ""), False


_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[][{}"]', re.S)


def _read_json_array(stream: IO[str]) -> Iterator[Row]:
    """The elements of a JSON array, read a piece at a time (memory: the largest element)."""
    decoder = json.JSONDecoder(parse_float=exact_number)
    buffer, position, line, eof, first = "", 0, 1, False, True
    def fill() -> bool:
        nonlocal buffer, position, eof, first
        chunk = stream.read(1 << 20)
        if not chunk:
            eof = True
            return False
        if first:
            chunk, first = chunk[1:] if chunk.startswith(BOM) else chunk, False
        buffer = buffer[position:] + chunk
        position = 0
        return True

    def skip_value() -> int | None:
        """The end of the array or object at `position`, found by its brackets (for one too deep
        for the parser); None if the text ends first."""
        depth, at = 0, position
        while True:
            token = _JSON_TOKEN.search(buffer, at)
            if token is None or token.group() == '"':  # a string that goes on in the next chunk
                start = position
                if eof or not fill():
                    return None
                at -= start
                continue
            at = token.end()
            char = token.group()
            if char in "[{":
                depth += 1
            elif char in "]}":
                depth -= 1
                if depth == 0:
                    return at

    def skip_blanks() -> None:
        nonlocal position, line
        while True:
            while position < len(buffer) and buffer[position] in " \t\r\n":
                if buffer[position] == "\n":
                    line += 1
                position += 1
            if position < len(buffer) or not fill():
                return

    skip_blanks()
    if position >= len(buffer) or buffer[position] != "[":
        yield line, None, "a JSON file must hold an array of items ([{...}, {...}])", False
        return
    position += 1
    while True:
        skip_blanks()
        if position >= len(buffer):
            yield line, None, "the array is never closed (a ']' is missing)", False
            return
        char = buffer[position]
        if char == "]":
            return
        if char == ",":
            position += 1
            continue
        problem = None
        while True:
            try:
                value, end = decoder.raw_decode(buffer, position)
            except RecursionError:
                end = skip_value()
                if end is None:
                    yield line, None, TOO_DEEP, False
                    return
                value, problem = None, TOO_DEEP
            except ValueError as error:
                if not eof and fill():
                    continue
                at = getattr(error, "pos", None)
                bad = _NOT_UTF8.match(buffer, at) if at is not None else None
                yield line, None, (_not_utf8(bad) if bad else
                                   f"invalid JSON: {getattr(error, 'msg', error)}"), False
                return
            if end == len(buffer) and not eof and fill():
                continue  # a number may go on in the next chunk
            break
        element_line = line
        if problem is None and not buffer.isascii() and (
                bad := _NOT_UTF8.search(buffer, position, end)):
            element_line += buffer.count("\n", position, bad.start())  # the byte's line
            problem = _not_utf8(bad)
        line += buffer.count("\n", position, end)
        deep = problem is None and _may_be_too_deep(buffer, position, end)
        position = end
        yield element_line, value if problem is None else None, problem, deep


def _read_csv(stream: IO[str], key_types: dict[str, str]) -> Iterator[Row]:
    """Rows as items. CSV has no types: a cell that reads as a JSON number, true, false, null, an
    object or a list is taken as one, anything else is a string, an empty cell no attribute;
    key attributes take their key type."""
    reader = csv.reader(_without_bom(stream))
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise InputError(f"line 1: the CSV header cannot be read: {error}") from None
    if header is None:
        return
    if (bad := _NOT_UTF8.search("".join(header))):
        raise InputError(f"line 1: the CSV header is {_not_utf8(bad)}.")
    while True:
        try:
            row = next(reader, None)
        except csv.Error as error:  # the rest of the line is skipped: go on with the next
            yield reader.line_num, None, f"invalid CSV: {error}", False
            continue
        if row is None:
            return
        number = reader.line_num
        if not row:
            continue
        if len(row) > len(header):
            yield number, None, f"{len(row)} cells for {len(header)} columns", False
            continue
        text = "".join(row)
        if not text.isascii() and _NOT_UTF8.search(text):
            column, bad = next((name, found) for name, cell in zip(header, row)
                               if (found := _NOT_UTF8.search(cell)))
            yield number, None, _not_utf8(bad, f"column {column!r}"), False
            continue
        item = {}
        try:
            for name, cell in zip(header, row):
                if cell == "":
                    continue
                kind = key_types.get(name)
                if kind == "S":
                    item[name] = cell
                elif kind == "B":
                    item[name] = {"B": cell}
                else:
                    item[name] = _cell_value(cell)
        except RecursionError:
            yield number, None, TOO_DEEP, False
            continue
        yield number, item, None, _may_be_too_deep(text)


def _cell_value(text: str) -> Any:
    first = text[0]
    if first in "-0123456789tfn[{" or (first == '"' and text[-1] == '"'):
        try:
            return _parse_json(text)
        except ValueError:
            pass
    return text


def _open_text(source: str | os.PathLike | IO) -> tuple[IO[str], bool]:
    if isinstance(source, (str, os.PathLike)):
        try:
            return open(source, encoding="utf-8", errors="surrogateescape", newline=""), True
        except OSError as error:
            raise InputError(f"Cannot read {str(source)!r}: {error.strerror or error}") from None
    if isinstance(source, io.TextIOBase):
        return source, False
    return io.TextIOWrapper(source, encoding="utf-8", errors="surrogateescape", newline=""), False


def _key_schema(connection: Connection, table: str) -> tuple[list[str], dict[str, str]]:
    found = connection.call("DescribeTable", {"TableName": table})["Table"]
    keys = [k["AttributeName"] for k in sorted(found["KeySchema"], key=lambda k: k["KeyType"])]
    types = {d["AttributeName"]: d["AttributeType"] for d in found.get("AttributeDefinitions", [])}
    return keys, {k: types.get(k, "S") for k in keys}


def _too_deep(item: dict) -> str | None:
    """What is wrong with a typed item whose maps and lists go deeper than DynamoDB allows."""
    for name, av in item.items():
        todo = [(av, 0)]
        while todo:  # no recursion: the depth is what is in doubt
            av, depth = todo.pop()
            tag, inner = next(iter(av.items()))
            if tag == "M":
                inner = inner.values()
            elif tag != "L":
                continue
            if depth + 1 >= MAX_NESTING:
                return f"the attribute {name!r} is {TOO_DEEP}"
            todo.extend((child, depth + 1) for child in inner)
    return None


def _item_to_typed(value: Any, keys: list[str], key_types: dict[str, str],
                   deep: bool = False) -> tuple[dict | None, str | None]:
    if not isinstance(value, dict):
        return None, "an item must be a JSON object"
    problems: list[Problem] = []
    try:
        typed = values.item_to_typed(value, "", problems)
    except RecursionError:
        return None, TOO_DEEP
    if deep and not problems and (problem := _too_deep(typed)):
        return None, problem
    if problems:
        return None, "; ".join(str(p) for p in problems[:5]) + (
            f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
    for key in keys:
        av = typed.get(key)
        if av is None:
            return None, f"the key attribute {key!r} is missing"
        tag = next(iter(av))
        if tag != key_types[key]:
            return None, (f"the key attribute {key!r} must be of type {key_types[key]}, "
                          f"not {tag}")
    return typed, None


_STOP = object()


def import_table(connection: Connection, table: str, source: str | os.PathLike | IO, *,
                 format: str | None = None, workers: int = DEFAULT_WORKERS, strict: bool = False,
                 batch_timeout: float = 60.0, progress: Progress | None = None,
                 on_error: Callable[[LineError], None] | None = None) -> ImportResult:
    """Write the items of a file (a path, or a text or binary file object) into a table.

    - format: "jsonl" (one item per line), "json" (an array of items) or "csv" (default: from the
      file's extension, else jsonl); items may be plain or typed, or mix both;
    - workers: threads sending BatchWriteItem requests as large as the model allows (25 items);
    - strict: stop at the first bad line (raises ImportStopped) instead of going on;
    - batch_timeout: how long unprocessed items are retried, in seconds;
    - progress(written, None) is called as batches land; on_error(LineError) for each bad line
      or item DynamoDB refused.
    """
    fmt = format_of(source if isinstance(source, (str, os.PathLike)) else None, format)
    if workers < 1:
        raise InputError("workers must be at least 1.")
    if getattr(connection.config, "read_only", False):
        from .errors import ReadOnlyError

        raise ReadOnlyError("BatchWriteItem")  # before reading anything
    keys, key_types = _key_schema(connection, table)
    enable_raw_writes(connection)
    stream, own = _open_text(source)
    result = ImportResult(table, fmt)
    batch_size = batch_limit(get_operation("BatchWriteItem"))
    lock = threading.Lock()
    stop = threading.Event()
    fatal: list[BaseException] = []
    started = time.perf_counter()

    def fail(line: int, message: str) -> None:
        error = LineError(line, message)
        with lock:
            result.failed += 1
            if len(result.errors) < KEEP_ERRORS:
                result.errors.append(error)
        if on_error:
            on_error(error)
        if strict:
            stop.set()

    def landed(count: int) -> None:
        with lock:
            result.written += count
            written = result.written
        if progress:
            progress(written, None)

    def send(batch: list[tuple[int, dict]]) -> None:
        """One BatchWriteItem of (line, item) pairs, retried until done or the deadline."""
        pending = batch
        deadline = time.monotonic() + batch_timeout
        attempt = 0
        while pending:
            if attempt and not backoff(attempt, deadline):
                break
            try:
                response = call_batch_write(connection, table, [item for _line, item in pending])
            except ServiceError as error:
                if error.code in THROTTLING_CODES and time.monotonic() < deadline:
                    attempt += 1  # nothing of it was written: back off and send it again
                    continue
                if error.code != "ValidationException":
                    raise
                if len(pending) == 1:
                    fail(pending[0][0], error.service_message)
                    return
                for entry in pending:  # one item spoils the batch: one by one to find which
                    send([entry])
                return
            left = (response.get("UnprocessedItems") or {}).get(table, [])
            if left:
                # They come back as botocore parses them: match them by content.
                lines: dict[str, list] = {}
                for entry in pending:
                    lines.setdefault(_fingerprint(entry[1]), []).append(entry)
                unmatched = []
                again = []
                for request in left:
                    found = lines.get(_fingerprint(request["PutRequest"]["Item"]))
                    (again.append(found.pop(0)) if found
                     else unmatched.append((0, request["PutRequest"]["Item"])))
                left = again + unmatched
            landed(len(pending) - len(left))
            pending = left
            attempt += 1
        for line, _item in pending:
            fail(line, f"still unprocessed after retrying for {batch_timeout:g}s")

    inboxes = [queue.Queue(maxsize=8) for _ in range(workers)]

    def work(inbox: queue.Queue) -> None:
        batch: list[tuple[int, dict]] = []
        seen: set = set()
        while True:
            entry = inbox.get()
            if entry is _STOP:
                break
            if fatal:
                continue  # drain: the reader is told to stop
            try:
                for line, item, key in entry:
                    if key in seen:  # a key twice in one batch: DynamoDB refuses the batch
                        send(batch)
                        batch, seen = [], set()
                    batch.append((line, item))
                    seen.add(key)
                    if len(batch) == batch_size:
                        send(batch)
                        batch, seen = [], set()
            except BaseException as error:
                fatal.append(error)
                stop.set()
        try:
            if batch and not fatal:
                send(batch)
        except BaseException as error:
            fatal.append(error)
            stop.set()

    threads = [threading.Thread(target=work, args=(inbox,), daemon=True,
                                name=f"dynaquery-import-{n}") for n, inbox in enumerate(inboxes)]
    for thread in threads:
        thread.start()

    def give(n: int, entry: list) -> None:
        while True:
            try:
                inboxes[n].put(entry, timeout=0.2)
                return
            except queue.Full:
                if fatal:
                    return

    try:
        if fmt == "jsonl":
            rows = _read_jsonl(stream)
        elif fmt == "json":
            rows = _read_json_array(stream)
        else:
            rows = _read_csv(stream, key_types)
        chunks: list[list] = [[] for _ in range(workers)]
        line = 0
        for line, value, problem, deep in rows:
            if stop.is_set():
                break
            result.lines += 1
            item = None
            if problem is None:
                item, problem = _item_to_typed(value, keys, key_types, deep)
            if problem is not None:
                fail(line, problem)
                continue
            key = tuple(_key_value(item[k]) for k in keys)
            n = hash(key) % workers
            chunks[n].append((line, item, key))
            if len(chunks[n]) == batch_size:
                give(n, chunks[n])
                chunks[n] = []
        for n, chunk in enumerate(chunks):  # with strict, the lines before the bad one
            if chunk and not fatal:
                give(n, chunk)
    except UnicodeDecodeError as error:  # a text stream of the caller's, decoded strictly
        fatal.append(InputError(f"The text after line {line} is not UTF-8: {error}"))
        stop.set()
    except InputError as error:  # a CSV header that cannot be read
        fatal.append(error)
        stop.set()
    finally:
        for inbox in inboxes:
            inbox.put(_STOP)
        for thread in threads:
            thread.join()
        if own:
            stream.close()
        result.duration = time.perf_counter() - started
    if fatal:
        error = fatal[0]
        summary = (f"\n{result.written} item(s) had been written and {result.failed} had failed "
                   "before the import stopped.")
        if isinstance(error, DynaqueryError):
            raise ImportStopped(error.message + summary, result, error.exit_code) from None
        raise error
    if strict and result.failed:
        first = result.errors[0] if result.errors else LineError(0, "")
        raise ImportStopped(f"Import stopped at {first} (strict).\n{result.written} item(s) had "
                            f"been written.", result, exit_code=2)
    return result


def _fingerprint(item: dict) -> str:
    return json.dumps(item, sort_keys=True, default=values.typed_json_default)


def _key_value(av: dict) -> Any:
    """A key attribute's value, the same for every spelling of the same number."""
    for tag, value in av.items():
        if tag == "N" and not (value.isdigit() and value[:1] != "0"):
            return str(Decimal(value).normalize())
        return value
