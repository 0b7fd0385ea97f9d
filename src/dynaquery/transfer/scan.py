"""The export's parallel scan: N segments read by a few threads, each page turned into the
output's bytes as it comes."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .. import values
from .._speed.botocore_hooks import call_raw_body, enable_raw, page_items
from ..errors import ServiceError

if TYPE_CHECKING:
    from ..connection import Connection

# Items per scan request. A page is at most 1 MB anyway; fewer items keep the pages in flight
# (and so the memory) the same size whatever the table's, at the cost of a few more requests.
DEFAULT_PAGE_SIZE = 1000


def scan_params(
    table: str,
    filter: str | None,
    projection: str | None,
    names: dict | None,
    values_: Any,
    consistent_read: bool,
    page_size: int | None,
    index: str | None,
) -> dict:
    """The Scan parameters, checked (and values made typed) as `run` would."""
    from ..request import prepare

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


def scan_params_of(table: str, scan: dict) -> dict:
    """scan_params from an export's `scan` options (filter, projection, names, values,
    consistent_read, page_size, index), as the API and the Parquet export give them."""
    return scan_params(
        table,
        scan.get("filter"),
        scan.get("projection"),
        scan.get("names"),
        scan.get("values"),
        scan.get("consistent_read", False),
        scan.get("page_size", DEFAULT_PAGE_SIZE),
        scan.get("index"),
    )


def _key_for_request(key: dict) -> dict:
    """A LastEvaluatedKey as the wire gave it (binary as base64), as botocore sends it."""
    return {name: values.to_typed(av) for name, av in key.items()}


def item_count(connection: Connection, table: str, index: str | None) -> int | None:
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


_DONE = object()  # what a thread puts when its segments are read

# A page's raw JSON body straight to the output's bytes: (bytes, items, the body's other
# members), or None to have the page parsed and given to `convert` instead.
Transcode = Callable[[bytes], "tuple[bytes, int, dict] | None"]


def scan_pages(
    connection: Connection,
    params: dict,
    segments: int,
    state: list[Any],
    convert: Callable[[list[dict]], bytes],
    finish: Callable[[list[bytes]], bytes],
    transcode: Transcode | None = None,
) -> Iterator[tuple]:
    """(segment, bytes, items, next key, scanned) for each page, as the threads read them; each
    segment's pages in order. `state` says where each segment starts: None from its beginning, a
    key after it, True not at all. The threads turn each page into bytes with `convert`, one page
    at a time: memory holds one parsed page and a few pages of bytes, whatever the table's size.
    `transcode`, if given, turns a page's raw body into its bytes with no parsing (the threads
    run it side by side: the C codec lets go of the GIL); a page it declines goes to `convert`.
    Closing the generator stops the threads."""
    todo = [s for s in range(segments) if state[s] is not True]
    if not todo:
        return
    enable_raw(connection, "Scan")
    pool = connection.client.meta.config.max_pool_connections or 10
    threads = max(1, min(len(todo), pool))
    scan = _SegmentReaders(connection, params, segments, state, convert, finish, threads)
    scan.transcode = transcode  # None: every page parsed and given to convert
    for t in range(threads):
        threading.Thread(
            target=scan.read, args=(todo[t::threads],), daemon=True, name=f"dynaquery-scan-{t}"
        ).start()
    running = threads
    try:
        while running:
            entry = scan.out.get()
            if entry is _DONE:
                running -= 1
            elif isinstance(entry, BaseException):
                raise entry
            else:
                yield entry
    finally:
        scan.stop.set()


class _SegmentReaders:
    """What the scan's threads share: each reads its segments page by page and puts each page's
    bytes in `out` (or the error that stopped it), until `stop` is set."""

    def __init__(
        self,
        connection: Connection,
        params: dict,
        segments: int,
        state: list[Any],
        convert: Callable[[list[dict]], bytes],
        finish: Callable[[list[bytes]], bytes],
        threads: int,
    ):
        self.connection, self.params = connection, params
        self.segments, self.state = segments, state
        self.convert, self.finish = convert, finish
        self.out: queue.Queue = queue.Queue(maxsize=threads)
        self.stop = threading.Event()
        self.one_at_a_time = threading.Lock()  # one page converted at a time: memory stays flat
        self.transcode: Transcode | None = None

    def read(self, mine: list[int]) -> None:
        try:
            for segment in mine:
                if not self._read_segment(segment):
                    return
            self._put(_DONE)
        except BaseException as error:  # handed to the writer, which stops everything
            self._put(error)

    def _read_segment(self, segment: int) -> bool:
        """Its pages, from where `state` says; False when stopped while handing one over."""
        key = self.state[segment]
        while not self.stop.is_set():
            request = dict(self.params)
            if self.segments > 1:
                request["Segment"], request["TotalSegments"] = segment, self.segments
            if key:
                request["ExclusiveStartKey"] = _key_for_request(key)
            raw, page = call_raw_body(self.connection, "Scan", request)
            body, n = self._page_bytes(raw, page)
            del raw  # before waiting for room in `out`
            key = page.get("LastEvaluatedKey")
            if not self._put((segment, body, n, key, page.get("ScannedCount", n))):
                return False
            if not key:
                break
        return True

    def _page_bytes(self, raw: bytes | None, page: dict) -> tuple[bytes, int]:
        """A page's items as the output's bytes, and how many there were."""
        if raw is not None and self.transcode is not None:
            done = self.transcode(raw)  # no parsed page: not one at a time
            if done is not None:
                body, n, rest = done
                page.update(rest)
                return body, n
        with self.one_at_a_time:
            items = page_items(raw, page) if raw is not None else page.get("Items", [])
            chunks, n, batch = [], 0, []
            for item in items:
                batch.append(item)
                if len(batch) == 200:
                    chunks.append(self.convert(batch))
                    n, batch = n + len(batch), []
            if batch:
                chunks.append(self.convert(batch))
                n += len(batch)
            return self.finish(chunks), n

    def _put(self, entry: Any) -> bool:
        while not self.stop.is_set():
            try:
                self.out.put(entry, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False
