"""Copy: a table's items from one connection (a data source) into a table of another, or of the
same: the export's parallel scan (scan.py) handing its pages to the import's writers
(importing.py), typed items passed through as the wire carries them (no plain form in between:
sets, binary and 38-digit numbers arrive as they left).

The checkpoint, and why a resumed copy has no item missing and none written twice. The copy keeps
a file (JSON, replaced whole by a rename) with, for each segment of the scan:

- `state`: the key after the last page whose items have ALL been written (or skipped, or have
  failed), and every page before it too: what a resumed copy scans from;
- `frontier`: the key after the last page handed to the writers. It is saved BEFORE the page's
  items are handed over (one save per page), so no item is ever sent that the checkpoint does not
  place at or before its segment's frontier;
- the counts of the pages up to `state` (written, skipped, failed, scanned).

Killed anywhere, the items between `state` and `frontier` (the pages that were being written) may
or may not have landed; those after `frontier` were never sent. A resumed copy scans from `state`;
for the pages up to `frontier` it reads the target's items first (BatchGetItem, consistent): an
item already there and equal to the source's was written by the interrupted copy, and is counted
(`confirmed`) instead of sent again; the others are written. Past `frontier`, pages go straight to
the writers. So each item is sent once, unless the target changed it between the two runs.
"""

from __future__ import annotations

import collections
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from .. import values
from .._speed.botocore_hooks import enable_raw_writes
from ..errors import (
    Conflict,
    CopyStopped,
    DynaqueryError,
    InputError,
    ItemsExist,
    ReadOnlyError,
    ServiceError,
)
from .existing import botocore_value, canonical, found_items
from .export import DEFAULT_SEGMENTS, Checkpoint
from .formats import Progress
from .importing import (
    DEFAULT_WORKERS,
    KEEP_ERRORS,
    KEYS_LISTED,
    MODES,
    ImportResult,
    _Import,
    _key_schema,
)
from .scan import DEFAULT_PAGE_SIZE, item_count, scan_pages, scan_params

if TYPE_CHECKING:
    from ..connection import Connection

CHECKPOINT_VERSION = 1
CREATE_TIMEOUT = 600.0  # seconds to wait for a created table (and its indexes) to be ACTIVE
_OUTCOMES = ("written", "skipped", "failed", "confirmed", "scanned")


@dataclass
class CopyResult:
    source: str
    target: str
    mode: str = "overwrite"
    written: int = 0  # items written (confirmed ones included)
    skipped: int = 0  # skip-existing: items whose key was in the target, left alone
    failed: int = 0
    scanned: int = 0
    confirmed: int = 0  # a resumed copy: items the interrupted one had written, not sent again
    segments: int = 1
    duration: float = 0.0
    resumed: bool = False
    created: bool = False
    checkpoint: str | None = None
    errors: list[str] = field(default_factory=list)  # the first KEEP_ERRORS

    @property
    def complete(self) -> bool:
        return self.failed == 0

    @property
    def items_per_second(self) -> float:
        return (self.written + self.skipped) / self.duration if self.duration else 0.0

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "target": self.target,
            "mode": self.mode,
            "written": self.written,
            "skipped": self.skipped,
            "failed": self.failed,
            "scanned": self.scanned,
            "confirmed": self.confirmed,
            "segments": self.segments,
            "duration_s": round(self.duration, 3),
            "resumed": self.resumed,
            "created": self.created,
            "errors": self.errors,
        }


def copy_table(
    source: Connection,
    source_table: str,
    target: Connection,
    target_table: str,
    *,
    mode: str = "overwrite",
    create: bool = False,
    segments: int = DEFAULT_SEGMENTS,
    workers: int = DEFAULT_WORKERS,
    page_size: int | None = DEFAULT_PAGE_SIZE,
    consistent_read: bool = False,
    batch_timeout: float = 60.0,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    labels: tuple[str, str] | None = None,
    progress: Progress | None = None,
    on_error: Callable[[str], None] | None = None,
    written: Any = None,
) -> CopyResult:
    """Copy every item of `source_table` (on `source`) into `target_table` (on `target`).

    - mode: "overwrite", "skip-existing" (conditional puts: an item whose key is in the target
      is left alone and counted) or "fail-existing" (nothing is written if any key is there);
    - create: make the target like the source (keys, attribute definitions, indexes and their
      projections, billing mode and provisioned throughput) and wait until it is ACTIVE; a
      target that exists must have the source's key schema either way;
    - segments / page_size / consistent_read: the parallel scan's; workers: writing threads;
    - checkpoint: the file that lets an interrupted copy go on (see the module's docstring);
      resume=True goes on from it. labels name the two sides in it (data sources' names);
    - progress(items done, total); on_error(message) for each item the target refused;
    - written: told of every item written, for the journal (journal.Written).
    """
    _check_options(mode, segments, workers, resume, checkpoint)
    if getattr(target.config, "read_only", False):
        raise ReadOnlyError("BatchWriteItem", "the target data source")
    if source is target and source_table == target_table:
        raise InputError("The source and the target are the same table: nothing to copy.")
    settings = {
        "source": (labels or ("", ""))[0],
        "target": (labels or ("", ""))[1],
        "source_table": source_table,
        "target_table": target_table,
        "mode": mode,
        "segments": segments,
        "scan": _jsonable(
            scan_params(source_table, None, None, None, None, consistent_read, page_size, None)
        ),
    }
    store = _Store(Path(checkpoint)) if checkpoint else None
    saved = store.open(resume, settings) if store else None
    result = CopyResult(source_table, target_table, mode, segments=segments, resumed=resume)
    result.checkpoint = str(store.path) if store else None
    result.created = prepare_target(source, source_table, target, target_table, create)
    if mode == "fail-existing" and saved is None:  # a resumed copy was checked when it began
        _refuse_existing(source, source_table, target, target_table, settings)
    run = _Copy(source, target, target_table, settings, store, result, batch_timeout, workers)
    if written is not None:
        written.begin(run.keys)
        run.writer.written = written
    return run.copy(saved, progress, on_error)


def _check_options(
    mode: str, segments: int, workers: int, resume: bool, checkpoint: str | os.PathLike | None
) -> None:
    if mode not in MODES:
        raise InputError(f"Unknown mode {mode!r}: use one of {', '.join(MODES)}.")
    if segments < 1 or workers < 1:
        raise InputError("segments and workers must be at least 1.")
    if resume and not checkpoint:
        raise InputError("Only a copy with a checkpoint file can be resumed.")


def _jsonable(params: dict) -> Any:
    return json.loads(json.dumps(params, default=values.typed_json_default))


# ---------------------------------------------------------------------------------------------
# the target table


def _describe(connection: Connection, table: str) -> dict | None:
    try:
        return connection.call("DescribeTable", {"TableName": table})["Table"]
    except ServiceError as error:
        if error.code == "ResourceNotFoundException":
            return None
        raise


def _key_shape(found: dict) -> list[tuple[str, str, str]]:
    types = {d["AttributeName"]: d["AttributeType"] for d in found.get("AttributeDefinitions", [])}
    return sorted(
        (k["KeyType"], k["AttributeName"], types.get(k["AttributeName"], "?"))
        for k in found["KeySchema"]
    )


def _shape_text(shape: list[tuple[str, str, str]]) -> str:
    return ", ".join(f"{name} ({kind}, {type_})" for kind, name, type_ in shape)


def prepare_target(
    source: Connection, source_table: str, target: Connection, target_table: str, create: bool
) -> bool:
    """Check that the target has the source's key schema, making it first with create=True
    (then True is returned, once it is ACTIVE)."""
    found = _describe(source, source_table)
    if found is None:
        raise InputError(f"The source table {source_table!r} does not exist.")
    there = _describe(target, target_table)
    if there is None:
        if not create:
            raise InputError(
                f"The target table {target_table!r} does not exist: create it, or pass --create "
                f"(create=True) to make it like {source_table!r}."
            )
        target.call("CreateTable", table_definition(found, target_table))
        wait_active(target, target_table)
        return True
    if _key_shape(there) != _key_shape(found):
        raise Conflict(
            f"The target table {target_table!r} has another key schema than {source_table!r}: "
            f"{_shape_text(_key_shape(there))}, not {_shape_text(_key_shape(found))}. "
            "Copy into a table keyed as the source is (or a new one, with --create)."
        )
    if there.get("TableStatus") != "ACTIVE":
        wait_active(target, target_table)
    return False


def _throughput(found: dict) -> dict:
    given = found.get("ProvisionedThroughput") or {}
    return {
        "ReadCapacityUnits": given.get("ReadCapacityUnits") or 1,
        "WriteCapacityUnits": given.get("WriteCapacityUnits") or 1,
    }


def table_definition(found: dict, name: str) -> dict:
    """CreateTable's parameters for a table like the one DescribeTable described as `found`:
    its keys, attribute definitions, indexes (projections included) and billing mode."""
    billing = (found.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
    provisioned = billing == "PROVISIONED"
    params: dict[str, Any] = {
        "TableName": name,
        "KeySchema": found["KeySchema"],
        "AttributeDefinitions": found["AttributeDefinitions"],
        "BillingMode": billing,
    }
    if provisioned:
        params["ProvisionedThroughput"] = _throughput(found)
    globals_ = [
        {
            "IndexName": index["IndexName"],
            "KeySchema": index["KeySchema"],
            "Projection": index["Projection"],
            **({"ProvisionedThroughput": _throughput(index)} if provisioned else {}),
        }
        for index in found.get("GlobalSecondaryIndexes", [])
    ]
    locals_ = [
        {k: index[k] for k in ("IndexName", "KeySchema", "Projection")}
        for index in found.get("LocalSecondaryIndexes", [])
    ]
    if globals_:
        params["GlobalSecondaryIndexes"] = globals_
    if locals_:
        params["LocalSecondaryIndexes"] = locals_
    return params


def wait_active(connection: Connection, table: str, timeout: float = CREATE_TIMEOUT) -> None:
    """Until the table and its global indexes are ACTIVE (botocore's waiter looks at the table
    alone)."""
    deadline = time.monotonic() + timeout
    while True:
        found = _describe(connection, table) or {}
        statuses = [found.get("TableStatus")] + [
            index.get("IndexStatus") for index in found.get("GlobalSecondaryIndexes", [])
        ]
        if all(status == "ACTIVE" for status in statuses):
            return
        if time.monotonic() >= deadline:
            raise ServiceError(
                "DescribeTable",
                "Timeout",
                f"{table!r} is still {found.get('TableStatus', 'not there')} after {timeout:g}s",
            )
        time.sleep(0.5)


def _refuse_existing(
    source: Connection, source_table: str, target: Connection, target_table: str, settings: dict
) -> None:
    """fail-existing: a first scan of the source's keys alone, looked up in the target; if any is
    there, nothing is written (ItemsExist lists the first KEYS_LISTED)."""
    keys, _types = _key_schema(source, source_table)
    names = {f"#k{n}": name for n, name in enumerate(keys)}
    params = {
        **settings["scan"],
        "ProjectionExpression": ", ".join(names),
        "ExpressionAttributeNames": names,
    }
    segments = settings["segments"]
    pages = scan_pages(source, params, segments, [None] * segments, list, _joined)
    check = ImportResult(target_table, "copy", mode="fail-existing")
    try:
        for _segment, items, _n, _key, _scanned in pages:
            found = found_items(target, target_table, keys, items, keys_only=True)
            check.existing += len(found)
            room = KEYS_LISTED - len(check.existing_keys)
            check.existing_keys += [(0, key) for key in list(found.values())[:room]]
    finally:
        pages.close()
    if check.existing:
        listed = ", ".join(values.item_json(key) for _line, key in check.existing_keys)
        more = check.existing - len(check.existing_keys)
        raise ItemsExist(
            f"{check.existing:,} key(s) of {source_table!r} are already in {target_table!r} "
            f"(--mode fail-existing), so nothing was written: {listed}"
            + (f" (and {more:,} more)" if more else "")
            + ".",
            check,
        )


def _joined(chunks: list[list[dict]]) -> list[dict]:
    return [item for chunk in chunks for item in chunk]


# ---------------------------------------------------------------------------------------------
# the checkpoint


class _Store(Checkpoint):
    """A copy's checkpoint: the export's file, and its check that it is this copy's."""

    version = CHECKPOINT_VERSION
    transfer = "a copy"

    def open(self, resume: bool, settings: dict) -> dict | None:
        """What a resumed copy goes on from (None for a new one)."""
        if not resume:
            if self.path.exists():
                raise InputError(
                    f"An interrupted copy left the checkpoint {str(self.path)!r}: pass --resume "
                    "(resume=True) to go on with it, or remove it to start over."
                )
            return None
        saved = self.load()
        mismatch = [k for k in settings if settings[k] != saved["settings"].get(k)]
        if mismatch:
            raise InputError(
                "The checkpoint is of another copy ("
                + ", ".join(f"{k}: {saved['settings'].get(k)!r}" for k in mismatch)
                + "): resume with the same tables, data sources, mode and segments."
            )
        return saved


# ---------------------------------------------------------------------------------------------
# the copy


class _Page:
    """A page handed to the writers: its items not yet settled, and what became of the others."""

    __slots__ = ("segment", "end", "left", "counts")

    def __init__(self, segment: int, end: Any, items: int, scanned: int):
        self.segment, self.end, self.left = segment, end, items
        self.counts = dict.fromkeys(_OUTCOMES, 0)
        self.counts["scanned"] = scanned


def _same_end(a: Any, b: Any) -> bool:
    """Whether two page ends (a key, or True for a segment's end) are the same."""
    if a is True or b is True:
        return a is b
    return canonical(a) == canonical(b)


class _Copy:
    """One copy under way: the scan's pages handed to the writers on this thread (`feed`), each
    page settled as the writers report on its items; the checkpoint saved before each page."""

    def __init__(
        self,
        source: Connection,
        target: Connection,
        table: str,
        settings: dict,
        store: _Store | None,
        result: CopyResult,
        batch_timeout: float,
        workers: int,
    ):
        self.source, self.target, self.table = source, target, table
        self.settings, self.store, self.result = settings, store, result
        self.keys, key_types = _key_schema(target, table)
        self.writer = _CopyWriter(
            self,
            target,
            table,
            self.keys,
            key_types,
            ImportResult(table, "copy", mode=settings["mode"]),
            workers=workers,
            batch_timeout=batch_timeout,
        )
        self.next_worker = 0
        self.lock = threading.Lock()  # guards the pages, the state and the counts
        segments = settings["segments"]
        self.pages: list[collections.deque] = [collections.deque() for _ in range(segments)]
        self.state: list[Any] = [None] * segments  # settled up to here
        self.frontier: list[Any] = [None] * segments  # handed up to here
        self.window: list[Any] = [None] * segments  # a resumed copy: unsure up to here
        self.counts = dict.fromkeys(_OUTCOMES, 0)  # of the settled pages
        self.live = 0  # items settled, for the progress
        self.progress: Progress | None = None
        self.on_error: Callable[[str], None] | None = None
        self.total: int | None = None

    def copy(
        self, saved: dict | None, progress: Progress | None, on_error: Callable[[str], None] | None
    ) -> CopyResult:
        started = time.perf_counter()
        if saved is not None:
            self.state = list(saved["state"])
            self.frontier = list(saved["frontier"])
            self.window = [
                None if _settled_to(s, f) else f for s, f in zip(self.state, self.frontier)
            ]
            self.counts.update({k: saved["counts"].get(k, 0) for k in _OUTCOMES})
        self.live = self.counts["written"] + self.counts["skipped"] + self.counts["failed"]
        self.progress, self.on_error = progress, on_error
        self.total = item_count(self.source, self.settings["source_table"], None)
        enable_raw_writes(self.target)
        self.writer.serve(self.feed)
        self._count(started)
        if self.writer.fatal:
            self.stopped(self.writer.fatal[0])
        if self.store is not None:
            self.store.remove()
        return self.result

    def feed(self) -> None:
        """The scan's pages, from where the checkpoint says, handed to the writers."""
        params = self.settings["scan"]
        segments = self.settings["segments"]
        pages = scan_pages(self.source, params, segments, list(self.state), list, _joined)
        try:
            for segment, items, _n, key, scanned in pages:
                if self.writer.fatal:
                    break
                self.hand(segment, items, key or True, scanned)
        except BaseException as error:  # Ctrl-C, a failure of the scan: the writers stop too
            self.writer._halt(error)
        finally:
            pages.close()

    def hand(self, segment: int, items: list[dict], end: Any, scanned: int) -> None:
        page = _Page(segment, end, len(items), scanned)
        unsure = self.window[segment] is not None
        with self.lock:
            self.pages[segment].append(page)
            if unsure and _same_end(end, self.window[segment]):
                self.window[segment] = None  # this page is the last one that may have landed
            if self.window[segment] is None:
                self.frontier[segment] = end
        if unsure and items:
            items = self.not_there_yet(page, items)
        self.save()  # before any of its items is sent: the frontier is on disk
        if not page.left:
            self.settle(page, "written", 0)
        size, workers = self.writer.batch_size, len(self.writer.inboxes)
        for start in range(0, len(items), size):
            # a scan has each key once: the serial number stands for the key in a batch
            chunk = [
                ((page, item), item, start + n)
                for n, item in enumerate(items[start : start + size])
            ]
            self.writer._give(self.next_worker, chunk)
            self.next_worker = (self.next_worker + 1) % workers

    def not_there_yet(self, page: _Page, items: list[dict]) -> list[dict]:
        """The items of an unsure page that the target does not hold as they are (the others
        were written by the interrupted copy: counted, not sent again)."""
        found = found_items(self.target, self.table, self.keys, items)
        left = []
        for item in items:
            there = found.get(canonical({k: item[k] for k in self.keys}))
            if there is not None and canonical(there) == canonical(item):
                self.settle(page, "confirmed", 1)
            else:
                left.append(item)
        return left

    def settle(self, page: _Page, outcome: str, count: int) -> None:
        """Items of a page done with; a segment's pages done in order move its state on."""
        with self.lock:
            page.left -= count
            page.counts[outcome] += count
            if outcome == "confirmed":
                page.counts["written"] += count
            self.live += count
            done = self.live
            queue_ = self.pages[page.segment]
            while queue_ and queue_[0].left == 0:
                settled = queue_.popleft()
                self.state[settled.segment] = settled.end
                for name in _OUTCOMES:
                    self.counts[name] += settled.counts[name]
        if self.progress and count:
            self.progress(done, self.total)

    def failed(self, tag: Any, message: str) -> None:
        if not isinstance(tag, tuple):  # an unprocessed item that matched none sent
            return
        page, item = tag
        key = values.item_json({k: botocore_value(item[k]) for k in self.keys if k in item})
        text = f"item {key}: {message}"
        with self.lock:
            if len(self.result.errors) < KEEP_ERRORS:
                self.result.errors.append(text)
        if self.on_error:
            self.on_error(text)
        self.settle(page, "failed", 1)

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "version": CHECKPOINT_VERSION,
                "settings": self.settings,
                "state": list(self.state),
                "frontier": list(self.frontier),
                "counts": dict(self.counts),
            }

    def save(self) -> None:
        if self.store is not None:
            self.store.save(self.snapshot())

    def _count(self, started: float) -> None:
        result = self.result
        for name in _OUTCOMES:
            setattr(result, name, self.counts[name])
        result.duration = time.perf_counter() - started

    def stopped(self, error: BaseException) -> NoReturn:
        """Save the checkpoint, and raise the error saying how to go on."""
        self.save()
        result = self.result
        where = f"\n{result.written:,} item(s) had been written" + (
            f", {result.skipped:,} skipped" if result.skipped else ""
        )
        if self.store is not None:
            where += (
                f". Go on with --resume (resume=True); the checkpoint is {str(self.store.path)!r}."
            )
        else:
            where += "."
        if isinstance(error, KeyboardInterrupt):
            raise CopyStopped("Copy interrupted." + where, result, 130) from None
        if isinstance(error, DynaqueryError):
            raise CopyStopped(error.message + where, result, error.exit_code) from None
        raise error


def _settled_to(state: Any, frontier: Any) -> bool:
    """Whether a segment's settled state reaches its frontier (nothing unsure in between)."""
    if frontier is None:
        return True
    if state is None:
        return False
    return _same_end(state, frontier)


class _CopyWriter(_Import):
    """The import's writers, reporting on each item to the copy (its entries' tags are
    (page, item) instead of line numbers)."""

    def __init__(
        self,
        copy: _Copy,
        target: Connection,
        table: str,
        keys: list[str],
        key_types: dict[str, str],
        result: ImportResult,
        *,
        workers: int,
        batch_timeout: float,
    ):
        super().__init__(
            target,
            table,
            keys,
            key_types,
            result,
            workers=workers,
            strict=False,
            batch_timeout=batch_timeout,
            progress=None,
            on_error=None,
        )
        self.copy = copy

    def _landed(self, entries: list) -> None:
        self._journal(entries)
        self._settle(entries, "written")

    def _skipped(self, entries: list) -> None:
        self._settle(entries, "skipped")

    def _settle(self, entries: list, outcome: str) -> None:
        for tag, _item in entries:
            if isinstance(tag, tuple):
                self.copy.settle(tag[0], outcome, 1)

    def _fail(self, tag: Any, message: str) -> None:
        self.copy.failed(tag, message)

    def _for_botocore(self, item: dict) -> dict:
        return {name: botocore_value(av) for name, av in item.items()}
