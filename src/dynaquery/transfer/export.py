"""Export: a table to a file or a stream, with checkpoints to resume an interrupted export."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

from .. import values
from .._speed import codec
from ..errors import DynaqueryError, ExportInterrupted, InputError
from .formats import EXPORT_FORMATS, Progress, Writer, format_of, projection_columns
from .scan import DEFAULT_PAGE_SIZE, item_count, scan_pages, scan_params, scan_params_of

if TYPE_CHECKING:
    from ..connection import Connection

CHECKPOINT_SUFFIX = ".checkpoint"
CHECKPOINT_VERSION = 1
CHECKPOINT_EVERY = 2.0  # seconds between checkpoints of a running export
DEFAULT_SEGMENTS = 8


@dataclass
class ExportResult:
    table: str
    format: str
    items: int = 0  # items written
    scanned: int = 0  # items the scan read (more than written with a filter)
    pages: int = 0
    segments: int = 1
    duration: float = 0.0
    output: str | None = None
    resumed: bool = False
    lossy: int = 0  # items with sets, binary or tag-like maps, written in plain form
    dropped: list[str] = field(default_factory=list)  # CSV: attributes not in the columns
    dropped_items: int = 0

    @property
    def items_per_second(self) -> float:
        return self.items / self.duration if self.duration else 0.0

    def to_dict(self) -> dict:
        return {
            "table": self.table,
            "format": self.format,
            "items": self.items,
            "scanned": self.scanned,
            "pages": self.pages,
            "segments": self.segments,
            "duration_s": round(self.duration, 3),
            "output": self.output,
            "resumed": self.resumed,
            "lossy_items": self.lossy,
            "dropped_attributes": self.dropped,
            "dropped_items": self.dropped_items,
        }


class Checkpoint:
    """The file that lets an interrupted export (or, subclassed, a copy) go on: written whole,
    then renamed into place. `version`: of the format this transfer writes."""

    version = CHECKPOINT_VERSION
    transfer = "an export"

    def __init__(self, path: Path):
        self.path = path

    def load(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(
                f"Nothing to resume: there is no checkpoint {str(self.path)!r} "
                f"({self.transfer} that finished removes it)."
            ) from None
        except (OSError, ValueError) as error:
            raise InputError(f"The checkpoint {str(self.path)!r} cannot be read: {error}") from None
        if data.get("version") != self.version:
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


def export_table(
    connection: Connection,
    table: str,
    output: str | os.PathLike | IO[bytes],
    *,
    format: str | None = None,
    segments: int = DEFAULT_SEGMENTS,
    filter: str | None = None,
    projection: str | None = None,
    names: dict | None = None,
    values: Any = None,
    consistent_read: bool = False,
    index: str | None = None,
    typed: bool = False,
    columns: list[str] | None = None,
    page_size: int | None = DEFAULT_PAGE_SIZE,
    resume: bool = False,
    checkpoint: str | os.PathLike | None = None,
    progress: Progress | None = None,
) -> ExportResult:
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
    path = output if isinstance(output, (str, os.PathLike)) else None
    fmt = format_of(path, format, EXPORT_FORMATS)
    if fmt == "parquet":  # written whole at the end, from typed items: parquet.py
        from .parquet import export_parquet

        scan = {"filter": filter, "projection": projection, "names": names, "values": values}
        scan.update(consistent_read=consistent_read, index=index, page_size=page_size)
        options = {"progress": progress, "resume": resume, "columns": columns}
        result = ExportResult(table, fmt, segments=segments, output=path and os.fspath(path))
        return export_parquet(connection, table, output, result, scan=scan, **options)
    _check_options(fmt, segments, typed)
    params = scan_params(
        table, filter, projection, names, values, consistent_read, page_size, index
    )
    settings = _settings(table, fmt, typed, segments, params)
    if fmt == "csv" and columns is None and projection:
        columns = projection_columns(projection, names)
    total = item_count(connection, table, index)  # a table that is not there fails here
    sink, store, done, columns = _open_output(output, checkpoint, resume, settings, columns)
    result = ExportResult(
        table, fmt, segments=segments, output=None if store is None else str(output), resumed=resume
    )
    out = _Output(sink, store, Writer(fmt, typed, columns), settings, done)
    return out.export(connection, params, result, progress, total)


def _check_options(fmt: str, segments: int, typed: bool) -> None:
    """Options refused before anything is asked of DynamoDB."""
    if segments < 1:
        raise InputError("segments must be at least 1.")
    if typed and fmt == "csv":
        raise InputError("CSV has no typed form: use jsonl or json for a typed export.")


def _settings(table: str, fmt: str, typed: bool, segments: int, params: dict) -> dict:
    """What a resumed export must share with the one it goes on with (kept in the checkpoint)."""
    return {
        "table": table,
        "format": fmt,
        "typed": typed,
        "segments": segments,
        "scan": _jsonable(params),
    }


Done = tuple[int, int, int, tuple]  # the output's size, its items, the items scanned, and each
# segment's state: None (not started), the key to go on from, or True (done)


def _open_output(
    output: str | os.PathLike | IO[bytes],
    checkpoint: str | os.PathLike | None,
    resume: bool,
    settings: dict,
    columns: list[str] | None,
) -> tuple[IO[bytes], Checkpoint | None, Done, list[str] | None]:
    """Where the export goes: a file with its checkpoint, or the stream as given (no checkpoint)."""
    if isinstance(output, (str, os.PathLike)):
        store = Checkpoint(
            Path(checkpoint)
            if checkpoint
            else Path(output).with_name(Path(output).name + CHECKPOINT_SUFFIX)
        )
        sink, done, columns = _open_file(Path(output), store, resume, settings, columns)
        return sink, store, done, columns
    if resume:
        raise InputError("Only an export to a file can be resumed.")
    return output, None, (0, 0, 0, (None,) * settings["segments"]), columns


def _open_file(
    path: Path, store: Checkpoint, resume: bool, settings: dict, columns: list[str] | None
) -> tuple[IO[bytes], Done, list[str] | None]:
    """The output file, opened new, or truncated to what its checkpoint says it holds."""
    if not resume:
        if store.path.exists():
            raise InputError(
                f"An interrupted export left the checkpoint {str(store.path)!r}: pass "
                "resume=True (--resume) to go on with it, or remove it to start over."
            )
        return open(path, "wb"), (0, 0, 0, (None,) * settings["segments"]), columns
    saved = store.load()
    mismatch = [k for k in settings if settings[k] != saved["settings"].get(k)]
    if columns and saved["settings"].get("columns") not in (None, columns):
        mismatch.append("columns")
    if mismatch:
        raise InputError(
            "The checkpoint is of another export ("
            + ", ".join(f"{k}: {saved['settings'].get(k)!r}" for k in mismatch)
            + "): resume with the same table, format, segments and scan options."
        )
    offset = saved["offset"]
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        size = -1
    if size < offset:
        raise InputError(
            f"The output {str(path)!r} is shorter than its checkpoint says "
            f"({max(size, 0)} < {offset} bytes): it was changed since; "
            "start the export over."
        )
    sink = open(path, "r+b")
    sink.truncate(offset)
    sink.seek(offset)
    done = (offset, saved["items"], saved["scanned"], tuple(saved["state"]))
    return sink, done, saved["settings"].get("columns") or columns


class _Transcoder:
    """Plain JSON lines (or a JSON array's items) written by the C codec straight from a page's
    raw body, with no Python object made for its items (benchmark "export, replayed": see
    docs/performance.md). A page it declines (anything unusual) is parsed and written by the
    Writer, which gives the same bytes (tests/test_codec.py)."""

    def __init__(self, writer: Writer, page_lines: Any):
        self.writer, self.page_lines = writer, page_lines
        self.separator = b"\n" if writer.format == "jsonl" else b",\n"
        self.lossy = 0  # items with values whose plain form reads back as another
        self.counting = threading.Lock()  # the scan's threads transcode side by side

    def __call__(self, raw: bytes) -> tuple[bytes, int, dict] | None:
        done = self.page_lines(raw, self.separator)
        if done is None:
            return None
        lines, n, lossy, rest = done
        with self.counting:
            self.lossy += lossy
        return self.writer.page([lines]), n, json.loads(rest)


def page_transcoder(writer: Writer) -> _Transcoder | None:
    """The transcoder for a plain JSON lines or JSON array export, when the C codec is built."""
    page_lines = codec.page_lines()
    if page_lines is None or writer.typed or writer.format not in ("jsonl", "json"):
        return None
    return _Transcoder(writer, page_lines)


class _Output:
    """What an export has written so far, and its checkpoint (None for a stream)."""

    def __init__(
        self, sink: IO[bytes], store: Checkpoint | None, writer: Writer, settings: dict, done: Done
    ):
        self.sink, self.store, self.writer, self.settings = sink, store, writer, settings
        # Replaced whole, in one assignment, after a page is written: an interruption anywhere
        # leaves either the state before that page or the state after it, never half of each.
        self.done = done

    def export(
        self,
        connection: Connection,
        params: dict,
        result: ExportResult,
        progress: Progress | None,
        total: int | None,
    ) -> ExportResult:
        """Scan the table into the output and count what was done; an interrupted export to a
        file saves its checkpoint and says how to go on."""
        started = time.perf_counter()
        segments, states = result.segments, list(self.done[3])
        transcoder = page_transcoder(self.writer)
        writer = self.writer
        pages = scan_pages(
            connection, params, segments, states, writer.body, writer.page, transcoder
        )
        try:
            self.write(pages, result, progress, total)
        except BaseException as error:
            pages.close()
            self.count(result, started)
            if self.store is None:
                raise
            self.interrupted(error, result)
        if self.store is not None:
            self.sink.close()
            self.store.remove()
        self.count(result, started)
        result.lossy = self.writer.lossy + (transcoder.lossy if transcoder else 0)
        result.dropped, result.dropped_items = list(self.writer.dropped), self.writer.dropped_items
        return result

    def write(
        self,
        pages: Iterator[tuple],
        result: ExportResult,
        progress: Progress | None,
        total: int | None,
    ) -> None:
        """Write the pages as they come, saving the checkpoint every CHECKPOINT_EVERY seconds."""
        last_save = time.monotonic()
        if self.done[0] == 0:
            head = self.writer.start()
            self.sink.write(head)
            self.done = (len(head), *self.done[1:])
        for segment, body, n, key, page_scanned in pages:
            size, items, seen, states = self.done
            chunk = self.writer.before(size, items) + body if n else b""
            self.sink.write(chunk)
            after = states[:segment] + (key or True,) + states[segment + 1 :]
            self.done = (size + len(chunk), items + n, seen + page_scanned, after)
            result.pages += 1
            if progress:
                progress(self.done[2], total)
            if self.store and time.monotonic() - last_save >= CHECKPOINT_EVERY:
                self.sink.flush()
                os.fsync(self.sink.fileno())
                self.store.save(self.snapshot())
                last_save = time.monotonic()
        self.sink.write(self.writer.end(self.done[0]))
        self.sink.flush()

    def snapshot(self) -> dict:
        size, items, seen, states = self.done
        return {
            "version": CHECKPOINT_VERSION,
            "settings": {**self.settings, "columns": self.writer.columns},
            "state": list(states),
            "offset": size,
            "items": items,
            "scanned": seen,
        }

    def count(self, result: ExportResult, started: float) -> None:
        result.items, result.scanned = self.done[1], self.done[2]
        result.duration = time.perf_counter() - started

    def interrupted(self, error: BaseException, result: ExportResult) -> NoReturn:
        """Save the checkpoint, and raise the error saying how to go on."""
        try:
            self.sink.flush()
            self.store.save(self.snapshot())
        finally:
            self.sink.close()
        where = (
            f"\n{self.done[1]} item(s) had been written to {result.output!r}. Go on with --resume "
            f"(resume=True); the checkpoint is {str(self.store.path)!r}."
        )
        if isinstance(error, DynaqueryError):
            error.message += where
            raise error
        if isinstance(error, KeyboardInterrupt):
            raise ExportInterrupted(
                "Export interrupted." + where, result, str(self.store.path)
            ) from None
        raise error


def iter_export(
    connection: Connection,
    table: str,
    *,
    format: str = "jsonl",
    segments: int = DEFAULT_SEGMENTS,
    typed: bool = False,
    columns: list[str] | None = None,
    **scan: Any,
) -> Iterator[bytes]:
    """The export as a stream of byte chunks (a page's worth each), for an HTTP response: the
    same bytes export_table writes, with memory flat whatever the table's size. Closing the
    generator stops the scan. `scan` takes filter, projection, names, values, consistent_read,
    index, page_size."""
    fmt = format_of(None, format, EXPORT_FORMATS)
    if fmt == "parquet":  # parquet.py: chunks once the whole table is scanned
        from .parquet import iter_parquet

        yield from iter_parquet(connection, table, segments=segments, scan=scan)
        return
    if typed and fmt == "csv":
        raise InputError("CSV has no typed form: use jsonl or json for a typed export.")
    params = scan_params_of(table, scan)
    if fmt == "csv" and columns is None and scan.get("projection"):
        columns = projection_columns(scan["projection"], scan.get("names"))
    writer = Writer(fmt, typed, columns)
    start = [None] * segments
    transcoder = page_transcoder(writer)
    pages = scan_pages(connection, params, segments, start, writer.body, writer.page, transcoder)
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


def _jsonable(params: dict) -> Any:
    """The scan's parameters as JSON (to compare a resume's with the checkpoint's)."""
    return json.loads(json.dumps(params, default=values.typed_json_default))
