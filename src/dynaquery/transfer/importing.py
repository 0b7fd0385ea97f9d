"""Import: a file's items written with BatchWriteItem from several threads.

The reading thread checks each item and hands it to the worker of its key, in chunks; each worker
sends batches as large as the model allows (25 items), so the items of one key always go through
the same thread, in the file's order, and the last line for a key wins as it would one by one.
Unprocessed items are retried with execution's backoff; a bad line is reported with its number
and the rest goes on (or everything stops, with strict=True).
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any

from .. import values
from .._speed.botocore_hooks import call_batch_write, enable_raw_writes
from ..catalog import get_operation
from ..errors import DynaqueryError, ImportStopped, InputError, Problem, ReadOnlyError, ServiceError
from ..execution import batch_limit, send_until_processed
from .formats import Progress, format_of
from .readers import MAX_NESTING, TOO_DEEP, Row, open_text, read_rows

if TYPE_CHECKING:
    from ..connection import Connection

DEFAULT_WORKERS = 8
KEEP_ERRORS = 1000  # line errors kept in an ImportResult (all are counted)
_STOP = object()  # what ends a worker's inbox

Entry = tuple[int, dict, tuple]  # (line, typed item, key)


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
        return {
            "table": self.table,
            "format": self.format,
            "written": self.written,
            "failed": self.failed,
            "lines": self.lines,
            "duration_s": round(self.duration, 3),
            "errors": [{"line": e.line, "message": e.message} for e in self.errors],
        }


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


def _item_to_typed(
    value: Any, keys: list[str], key_types: dict[str, str], deep: bool = False
) -> tuple[dict | None, str | None]:
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
            f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        )
    for key in keys:
        av = typed.get(key)
        if av is None:
            return None, f"the key attribute {key!r} is missing"
        tag = next(iter(av))
        if tag != key_types[key]:
            return None, (f"the key attribute {key!r} must be of type {key_types[key]}, not {tag}")
    return typed, None


def import_table(
    connection: Connection,
    table: str,
    source: str | os.PathLike | IO,
    *,
    format: str | None = None,
    workers: int = DEFAULT_WORKERS,
    strict: bool = False,
    batch_timeout: float = 60.0,
    progress: Progress | None = None,
    on_error: Callable[[LineError], None] | None = None,
) -> ImportResult:
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
        raise ReadOnlyError("BatchWriteItem")  # before reading anything
    keys, key_types = _key_schema(connection, table)
    enable_raw_writes(connection)
    stream, own = open_text(source)
    run = _Import(
        connection,
        table,
        keys,
        key_types,
        ImportResult(table, fmt),
        workers=workers,
        strict=strict,
        batch_timeout=batch_timeout,
        progress=progress,
        on_error=on_error,
    )
    try:
        run.run(read_rows(fmt, stream, key_types))
    finally:
        if own:
            stream.close()
        run.result.duration = time.perf_counter() - run.started
    return run.outcome()


class _Import:
    """One import under way: the reading thread (`run`) and the worker threads (`_work`), which
    share the result, the first fatal error and the stop signal."""

    def __init__(
        self,
        connection: Connection,
        table: str,
        keys: list[str],
        key_types: dict[str, str],
        result: ImportResult,
        *,
        workers: int,
        strict: bool,
        batch_timeout: float,
        progress: Progress | None,
        on_error: Callable[[LineError], None] | None,
    ):
        self.connection, self.table = connection, table
        self.keys, self.key_types = keys, key_types
        self.result = result
        self.strict, self.batch_timeout = strict, batch_timeout
        self.progress, self.on_error = progress, on_error
        self.batch_size = batch_limit(get_operation("BatchWriteItem"))
        self.inboxes = [queue.Queue(maxsize=8) for _ in range(workers)]
        self.lock = threading.Lock()  # guards the result's counts and errors
        self.stop = threading.Event()
        self.fatal: list[BaseException] = []
        self.started = time.perf_counter()

    # -- the reading thread ----------------------------------------------------------------

    def run(self, rows: Iterator[Row]) -> None:
        """Read every row and hand its item to its key's worker; wait for the workers."""
        threads = [
            threading.Thread(
                target=self._work, args=(inbox,), daemon=True, name=f"dynaquery-import-{n}"
            )
            for n, inbox in enumerate(self.inboxes)
        ]
        for thread in threads:
            thread.start()
        try:
            self._read(rows)
        finally:
            for inbox in self.inboxes:
                inbox.put(_STOP)
            for thread in threads:
                thread.join()

    def _read(self, rows: Iterator[Row]) -> None:
        chunks: list[list[Entry]] = [[] for _ in self.inboxes]
        line = 0
        try:
            for line, value, problem, deep in rows:
                if self.stop.is_set():
                    break
                self._take(line, value, problem, deep, chunks)
            for n, chunk in enumerate(chunks):  # with strict, the lines before the bad one
                if chunk and not self.fatal:
                    self._give(n, chunk)
        except UnicodeDecodeError as error:  # a text stream of the caller's, decoded strictly
            self._halt(InputError(f"The text after line {line} is not UTF-8: {error}"))
        except InputError as error:  # a CSV header that cannot be read
            self._halt(error)

    def _take(
        self, line: int, value: Any, problem: str | None, deep: bool, chunks: list[list[Entry]]
    ) -> None:
        """Check one row's item and add it to its worker's chunk (handed over when full)."""
        self.result.lines += 1
        item = None
        if problem is None:
            item, problem = _item_to_typed(value, self.keys, self.key_types, deep)
        if problem is not None:
            self._fail(line, problem)
            return
        key = tuple(_key_value(item[k]) for k in self.keys)
        n = hash(key) % len(self.inboxes)
        chunks[n].append((line, item, key))
        if len(chunks[n]) == self.batch_size:
            self._give(n, chunks[n])
            chunks[n] = []

    def _give(self, n: int, chunk: list[Entry]) -> None:
        while True:
            try:
                self.inboxes[n].put(chunk, timeout=0.2)
                return
            except queue.Full:
                if self.fatal:
                    return

    # -- the workers -----------------------------------------------------------------------

    def _work(self, inbox: queue.Queue) -> None:
        """Send the items handed to this worker in batches; a key twice in one batch would make
        DynamoDB refuse it, so it starts the next batch."""
        batch: list[tuple[int, dict]] = []
        seen: set = set()
        while True:
            chunk = inbox.get()
            if chunk is _STOP:
                break
            if self.fatal:
                continue  # drain: the reader is told to stop
            try:
                for line, item, key in chunk:
                    if key in seen:
                        self._send(batch)
                        batch, seen = [], set()
                    batch.append((line, item))
                    seen.add(key)
                    if len(batch) == self.batch_size:
                        self._send(batch)
                        batch, seen = [], set()
            except BaseException as error:
                self._halt(error)
        try:
            if batch and not self.fatal:
                self._send(batch)
        except BaseException as error:
            self._halt(error)

    def _send(self, batch: list[tuple[int, dict]]) -> None:
        """One batch of (line, item) pairs, retried until done or the deadline."""
        deadline = time.monotonic() + self.batch_timeout
        left, _retries = send_until_processed(self._write, batch, deadline)
        for line, _item in left:
            self._fail(line, f"still unprocessed after retrying for {self.batch_timeout:g}s")

    def _write(self, pending: list[tuple[int, dict]]) -> list[tuple[int, dict]]:
        """One BatchWriteItem: the pairs it left unprocessed. A batch refused as invalid is sent
        again one item at a time, to find which spoils it."""
        try:
            response = call_batch_write(
                self.connection, self.table, [item for _line, item in pending]
            )
        except ServiceError as error:
            if error.code != "ValidationException":
                raise
            if len(pending) == 1:
                self._fail(pending[0][0], error.service_message)
            else:
                for entry in pending:
                    self._send([entry])
            return []
        left = self._unprocessed(pending, response)
        self._landed(len(pending) - len(left))
        return left

    def _unprocessed(self, pending: list[tuple[int, dict]], response: dict) -> list:
        """The pairs the response left unprocessed. They come back as botocore parses them:
        matched to their lines by content."""
        left = (response.get("UnprocessedItems") or {}).get(self.table, [])
        if not left:
            return []
        lines: dict[str, list] = {}
        for entry in pending:
            lines.setdefault(_fingerprint(entry[1]), []).append(entry)
        again, unmatched = [], []
        for request in left:
            item = request["PutRequest"]["Item"]
            found = lines.get(_fingerprint(item))
            (again.append(found.pop(0)) if found else unmatched.append((0, item)))
        return again + unmatched

    # -- shared ----------------------------------------------------------------------------

    def _fail(self, line: int, message: str) -> None:
        error = LineError(line, message)
        with self.lock:
            self.result.failed += 1
            if len(self.result.errors) < KEEP_ERRORS:
                self.result.errors.append(error)
        if self.on_error:
            self.on_error(error)
        if self.strict:
            self.stop.set()

    def _landed(self, count: int) -> None:
        with self.lock:
            self.result.written += count
            written = self.result.written
        if self.progress:
            self.progress(written, None)

    def _halt(self, error: BaseException) -> None:
        """Stop everything: the first such error is the import's."""
        self.fatal.append(error)
        self.stop.set()

    def outcome(self) -> ImportResult:
        """The result, or the error that stopped the import."""
        result = self.result
        if self.fatal:
            error = self.fatal[0]
            summary = (
                f"\n{result.written} item(s) had been written and {result.failed} had "
                "failed before the import stopped."
            )
            if isinstance(error, DynaqueryError):
                raise ImportStopped(error.message + summary, result, error.exit_code) from None
            raise error
        if self.strict and result.failed:
            first = result.errors[0] if result.errors else LineError(0, "")
            raise ImportStopped(
                f"Import stopped at {first} (strict).\n{result.written} item(s) had been written.",
                result,
                exit_code=2,
            )
        return result


def _fingerprint(item: dict) -> str:
    return json.dumps(item, sort_keys=True, default=values.typed_json_default)


def _key_value(av: dict) -> Any:
    """A key attribute's value, the same for every spelling of the same number."""
    for tag, value in av.items():
        if tag == "N" and not (value.isdigit() and value[:1] != "0"):
            return str(Decimal(value).normalize())
        return value
