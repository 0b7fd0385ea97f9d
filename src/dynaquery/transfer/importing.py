"""Import: a file's items written with BatchWriteItem from several threads.

The reading thread checks each item and hands it to the worker of its key, in chunks; each worker
sends batches as large as the model allows (25 items), so the items of one key always go through
the same thread, in the file's order, and the last line for a key wins as it would one by one.
Unprocessed items are retried with execution's backoff; a bad line is reported with its number
and the rest goes on (or everything stops, with strict=True).

Modes: "overwrite" (BatchWriteItem, the last line for a key wins); "skip-existing" (each item put
with PutItem on the condition attribute_not_exists(its partition key): atomic, so an item another
writer creates meanwhile is never overwritten, where reading first with BatchGetItem and then
writing with BatchWriteItem would leave a gap between the two. A BatchGetItem per batch still
spares the PutItem of the keys already there); "fail-existing" (every key looked up first with
BatchGetItem: if any is there, nothing is written and those keys are listed; else written as with
overwrite). dry_run=True reads and checks every line and looks its key up, and writes nothing.
"""

from __future__ import annotations

import collections
import io
import json
import os
import queue
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any

from .. import values
from .._speed.botocore_hooks import call_batch_write, enable_raw_writes
from ..catalog import get_operation
from ..errors import (
    DynaqueryError,
    ImportStopped,
    InputError,
    ItemsExist,
    Problem,
    ReadOnlyError,
    ServiceError,
)
from ..execution import batch_limit, send_until_processed
from .existing import MAX_ITEM_SIZE, found_items, item_size, key_text
from .formats import Progress, format_of
from .readers import MAX_NESTING, TOO_DEEP, Row, open_text, read_rows

if TYPE_CHECKING:
    from ..connection import Connection

DEFAULT_WORKERS = 8
KEEP_ERRORS = 1000  # line errors kept in an ImportResult (all are counted)
MODES = ("overwrite", "skip-existing", "fail-existing")
KEYS_LISTED = 20  # keys already in the table kept in an ImportResult (all are counted)
LOOKUP_BATCH = 100  # lines whose keys are looked up together (BatchGetItem's limit)
LOOKUPS_AT_ONCE = 8  # a dry run's BatchGetItem requests in flight
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
    mode: str = "overwrite"
    skipped: int = 0  # skip-existing: items whose key was there, left alone
    dry_run: bool = False
    new: int = 0  # dry run: lines whose key is in neither the table nor an earlier line
    existing: int = 0  # dry run, fail-existing: lines whose key is in the table
    repeated: int = 0  # dry run: lines whose key is not in the table but on an earlier line
    existing_keys: list[tuple[int, dict]] = field(default_factory=list)  # the first KEYS_LISTED

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
            "mode": self.mode,
            "skipped": self.skipped,
            "dry_run": self.dry_run,
            **(
                {"new": self.new, "existing": self.existing, "repeated": self.repeated}
                if self.dry_run
                else {}
            ),
            "existing_keys": [
                {"line": line, "key": values.item_to_plain(key)} for line, key in self.existing_keys
            ],
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
    mode: str = "overwrite",
    dry_run: bool = False,
    written: Any = None,
) -> ImportResult:
    """Write the items of a file (a path, or a text or binary file object) into a table.

    - format: "jsonl" (one item per line), "json" (an array of items) or "csv" (default: from the
      file's extension, else jsonl); items may be plain or typed, or mix both;
    - workers: threads sending BatchWriteItem requests as large as the model allows (25 items);
    - strict: stop at the first bad line (raises ImportStopped) instead of going on;
    - batch_timeout: how long unprocessed items are retried, in seconds;
    - progress(written, None) is called as batches land; on_error(LineError) for each bad line
      or item DynamoDB refused;
    - mode: "overwrite", "skip-existing" or "fail-existing" (see the module's docstring);
      fail-existing raises ItemsExist, with nothing written, when any key is in the table;
    - dry_run: check every line (JSON, key attributes and their types, the item's size) and look
      its key up; write nothing. The result counts new, existing, repeated and failed lines;
    - written: told of every item written, for the journal (journal.Written).
    """
    fmt = format_of(source if isinstance(source, (str, os.PathLike)) else None, format)
    if workers < 1:
        raise InputError("workers must be at least 1.")
    if mode not in MODES:
        raise InputError(f"Unknown mode {mode!r}: use one of {', '.join(MODES)}.")
    if not dry_run and getattr(connection.config, "read_only", False):
        raise ReadOnlyError("BatchWriteItem")  # before reading anything
    keys, key_types = _key_schema(connection, table)
    if dry_run:
        return _with_stream(source, lambda s: check_file(connection, table, fmt, s, mode, on_error))
    if mode == "fail-existing":
        source = _refuse_existing(connection, table, fmt, source)
    if written is not None:
        written.begin(keys)
    enable_raw_writes(connection)
    run = _Import(
        connection,
        table,
        keys,
        key_types,
        ImportResult(table, fmt, mode=mode),
        workers=workers,
        strict=strict,
        batch_timeout=batch_timeout,
        progress=progress,
        on_error=on_error,
        written=written,
    )
    try:
        _with_stream(source, lambda stream: run.run(read_rows(fmt, stream, key_types)))
    finally:
        run.result.duration = time.perf_counter() - run.started
    return run.outcome()


def _refuse_existing(
    connection: Connection, table: str, fmt: str, source: str | os.PathLike | IO
) -> str | os.PathLike | IO:
    """fail-existing's first pass: ItemsExist if any key is in the table; else the source,
    ready to be read again (a stream is kept in a temporary file)."""
    source = _rereadable(source)
    checked = _with_stream(source, lambda s: check_file(connection, table, fmt, s, "fail-existing"))
    if checked.existing:
        raise ItemsExist(_existing_message(checked, table), checked)
    if not isinstance(source, (str, os.PathLike)):
        source.seek(0)
    return source


def _with_stream(source: str | os.PathLike | IO, use: Callable[[IO[str]], Any]) -> Any:
    stream, own = open_text(source)
    try:
        return use(stream)
    finally:
        if own:
            stream.close()
        elif isinstance(stream, io.TextIOWrapper) and not isinstance(source, io.TextIOBase):
            stream.detach()  # leave the caller's binary file open (and rewindable)


def _rereadable(source: str | os.PathLike | IO) -> str | os.PathLike | IO:
    """The source, or a copy of a stream (stdin) in a temporary file: fail-existing reads twice."""
    if isinstance(source, (str, os.PathLike)):
        return source
    copy = tempfile.TemporaryFile()
    if isinstance(source, io.TextIOBase):
        for text in iter(lambda: source.read(1 << 20), ""):
            copy.write(text.encode("utf-8", "surrogateescape"))
    else:
        shutil.copyfileobj(source, copy)
    copy.seek(0)
    return copy


def _existing_message(result: ImportResult, table: str) -> str:
    listed = ", ".join(
        f"line {line}: {values.item_json(key)}" for line, key in result.existing_keys
    )
    more = result.existing - len(result.existing_keys)
    return (
        f"{result.existing:,} line(s) hold a key that is already in {table!r} "
        f"(--mode fail-existing), so nothing was written: {listed}"
        + (f" (and {more:,} more)" if more else "")
        + "."
    )


def check_file(
    connection: Connection,
    table: str,
    fmt: str,
    stream: IO[str],
    mode: str = "overwrite",
    on_error: Callable[[LineError], None] | None = None,
) -> ImportResult:
    """Read and check every line, and look the keys up in the table, writing nothing: a dry run,
    and fail-existing's first pass."""
    keys, key_types = _key_schema(connection, table)
    check = _Check(connection, table, keys, ImportResult(table, fmt, mode=mode, dry_run=True))
    check.on_error = on_error
    started = time.perf_counter()
    try:
        for line, value, problem, deep in read_rows(fmt, stream, key_types):
            check.take(line, value, problem, deep, key_types)
        check.finish()
    except UnicodeDecodeError as error:
        raise InputError(
            f"The text after line {check.result.lines} is not UTF-8: {error}"
        ) from None
    finally:
        check.pool.shutdown(cancel_futures=True)
    check.result.duration = time.perf_counter() - started
    return check.result


class _Check:
    """A dry run's lines: each checked, then looked up by batches of LOOKUP_BATCH keys, a few
    batches at a time, and counted in the file's order."""

    def __init__(self, connection: Connection, table: str, keys: list[str], result: ImportResult):
        self.connection, self.table, self.keys, self.result = connection, table, keys, result
        self.on_error: Callable[[LineError], None] | None = None
        self.pending: list[tuple[int, dict]] = []
        self.new_keys: set[str] = set()  # keys of new lines: a later line with one is repeated
        self.pool = ThreadPoolExecutor(LOOKUPS_AT_ONCE, thread_name_prefix="dynaquery-check")
        self.waiting: collections.deque = collections.deque()  # (lines, key texts, lookup)

    def take(
        self, line: int, value: Any, problem: str | None, deep: bool, key_types: dict[str, str]
    ) -> None:
        self.result.lines += 1
        item = None
        if problem is None:
            item, problem = _item_to_typed(value, self.keys, key_types, deep)
        if problem is None and (size := item_size(item)) > MAX_ITEM_SIZE:
            problem = f"the item is {size:,} bytes; DynamoDB allows {MAX_ITEM_SIZE:,} (400 KB)"
        if problem is not None:
            self.fail(line, problem)
            return
        self.pending.append((line, item))
        if len(self.pending) == LOOKUP_BATCH:
            self.look_up()

    def fail(self, line: int, message: str) -> None:
        error = LineError(line, message)
        self.result.failed += 1
        if len(self.result.errors) < KEEP_ERRORS:
            self.result.errors.append(error)
        if self.on_error:
            self.on_error(error)

    def look_up(self) -> None:
        """Start looking the pending lines' keys up; count the oldest batches looked up."""
        keys, batch = self.keys, self.pending
        self.pending = []
        texts = [key_text(item, keys) for _line, item in batch]
        unknown = [item for (_, item), text in zip(batch, texts) if text not in self.new_keys]
        lookup = self.pool.submit(
            found_items, self.connection, self.table, keys, unknown, keys_only=True
        )
        self.waiting.append((batch, texts, lookup))
        while len(self.waiting) > LOOKUPS_AT_ONCE:
            self.count(*self.waiting.popleft())

    def finish(self) -> None:
        if self.pending:
            self.look_up()
        while self.waiting:
            self.count(*self.waiting.popleft())

    def count(self, batch: list[tuple[int, dict]], texts: list[str], lookup: Future) -> None:
        """Count a batch's lines as existing, repeated or new, in the file's order."""
        result, keys, found = self.result, self.keys, lookup.result()
        for (line, item), text in zip(batch, texts):
            if text in found:
                result.existing += 1
                if len(result.existing_keys) < KEYS_LISTED:
                    result.existing_keys.append((line, {k: item[k] for k in keys}))
            elif text in self.new_keys:
                result.repeated += 1
            else:
                self.new_keys.add(text)
                result.new += 1


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
        written: Any = None,
    ):
        self.connection, self.table = connection, table
        self.written = written  # journal.Written, or None
        self.keys, self.key_types = keys, key_types
        self.result = result
        self.strict, self.batch_timeout = strict, batch_timeout
        self.progress, self.on_error = progress, on_error
        # skip-existing: each item put on the condition that its key is not there yet
        self.conditional = result.mode == "skip-existing"
        self.batch_size = batch_limit(get_operation("BatchWriteItem"))
        self.inboxes = [queue.Queue(maxsize=8) for _ in range(workers)]
        self.lock = threading.Lock()  # guards the result's counts and errors
        self.stop = threading.Event()
        self.fatal: list[BaseException] = []
        self.started = time.perf_counter()

    # -- the reading thread ----------------------------------------------------------------

    def run(self, rows: Iterator[Row]) -> None:
        """Read every row and hand its item to its key's worker; wait for the workers."""
        self.serve(lambda: self._read(rows))

    def serve(self, feed: Callable[[], None]) -> None:
        """Start the workers, let `feed` hand them chunks (`_give`), and wait for them."""
        threads = [
            threading.Thread(
                target=self._work, args=(inbox,), daemon=True, name=f"dynaquery-import-{n}"
            )
            for n, inbox in enumerate(self.inboxes)
        ]
        for thread in threads:
            thread.start()
        try:
            feed()
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
        if self.conditional:
            for entry in self._not_there(batch):
                left, _retries = send_until_processed(self._put_new, [entry], deadline)
                self._unprocessed_failed(left)
            return
        if self.written is not None and self.written.read_before:
            items = [item for _tag, item in batch]  # as they are, for the journal
            self.written.before(items, found_items(self.connection, self.table, self.keys, items))
        left, _retries = send_until_processed(self._write, batch, deadline)
        self._unprocessed_failed(left)

    def _unprocessed_failed(self, left: list[tuple[int, dict]]) -> None:
        for line, _item in left:
            self._fail(line, f"still unprocessed after retrying for {self.batch_timeout:g}s")

    def _not_there(self, batch: list[tuple[Any, dict]]) -> list[tuple[Any, dict]]:
        """skip-existing: the entries whose key the table does not hold (one BatchGetItem); the
        others are skipped without a PutItem each. Those that remain are still put on their
        condition: an item created meanwhile is left alone all the same."""
        items = [item for _tag, item in batch]
        there = found_items(self.connection, self.table, self.keys, items, keys_only=True)
        if not there:
            return batch
        new = [entry for entry in batch if key_text(entry[1], self.keys) not in there]
        self._skipped([entry for entry in batch if key_text(entry[1], self.keys) in there])
        return new

    def _put_new(self, pending: list[tuple[int, dict]]) -> list:
        """One PutItem on the condition that the item's key is not in the table: atomic, so an
        item written by someone else meanwhile is never overwritten. A failed condition is a
        skipped item."""
        ((line, item),) = pending
        try:
            self.connection.call(
                "PutItem",
                {
                    "TableName": self.table,
                    "Item": self._for_botocore(item),
                    "ConditionExpression": "attribute_not_exists(#key)",
                    "ExpressionAttributeNames": {"#key": self.keys[0]},
                },
            )
        except ServiceError as error:
            if error.code == "ConditionalCheckFailedException":
                self._skipped(pending)
            elif error.code == "ValidationException":
                self._fail(line, error.service_message)
            else:
                raise
            return []
        self._landed(pending)
        return []

    def _for_botocore(self, item: dict) -> dict:
        """The item as botocore's serializer takes it (the import's items already are)."""
        return item

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
        if left:
            unlanded = {id(entry) for entry in left}
            self._landed([entry for entry in pending if id(entry) not in unlanded])
        else:
            self._landed(pending)
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

    def _landed(self, entries: list[tuple[Any, dict]]) -> None:
        self._journal(entries)
        with self.lock:
            self.result.written += len(entries)
            done = self.result.written + self.result.skipped
        if self.progress:
            self.progress(done, None)

    def _journal(self, entries: list[tuple[Any, dict]]) -> None:
        if self.written is not None:
            self.written.add(entries)

    def _skipped(self, entries: list[tuple[Any, dict]]) -> None:
        with self.lock:
            self.result.skipped += len(entries)
            done = self.result.written + self.result.skipped
        if self.progress:
            self.progress(done, None)

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
                f"\n{result.written} item(s) had been written"
                + (f", {result.skipped} skipped" if result.skipped else "")
                + f" and {result.failed} had failed before the import stopped."
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
