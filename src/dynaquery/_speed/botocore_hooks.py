"""Transfers past botocore's response parsing and request serializing, by botocore's own hooks.

Reading (justified by benchmark 2a, export to JSON lines, and 2b, its peak memory; see
docs/performance.md, "2. Export"): botocore's generic parsing of a Scan page cost about 150 us of
client CPU per item (a 100,000-item scan took 15.6 s with it, 5.0 s without). A `before-parse`
hook keeps the raw body instead, and `page_items` reads its items one at a time, so memory holds
one item parsed, not the page. A plain JSON lines export goes further (the replayed export
benchmark, docs/performance.md "0. The client's own cost"): the C codec's `page_lines` writes the
lines straight from that raw body, with no Python object made for an item (transfer/export.py).
The hook runs after botocore has read the answer and before it parses it: retries (throttling,
errors) and the CRC32 check (connection.py) see the whole answer as usual.

Writing (justified by benchmark 3, import; docs/performance.md, "3. Import"): botocore's
serializer cost 45 us an item; `call_batch_write` sends a BatchWriteItem body written by the C
codec instead, through a `before-call` hook.

Both act only on the calls made through these functions, on the thread making them: every other
call of the same client (`run`, errors) gets botocore's own parsing. tests/test_transfer.py checks
that the items are exactly those botocore parses and serializes.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .. import values

if TYPE_CHECKING:
    from ..connection import Connection

_raw = threading.local()
RAW_BODY = "dynaquery_raw_body"


def _keep_raw_body(response_dict: dict, customized_response_dict: dict, **_: Any) -> None:
    """botocore's before-parse hook: on this thread's transfer calls, keep the body for us and
    leave botocore's parser nothing to walk. Errors (status >= 300) are parsed as usual."""
    if (
        getattr(_raw, "on", False)
        and response_dict.get("status_code") == 200
        and RAW_BODY not in customized_response_dict
    ):
        customized_response_dict[RAW_BODY] = response_dict["body"]
        response_dict["body"] = b""


_registering = threading.Lock()


def enable_raw(connection: Connection, operation: str) -> None:
    """Install the hook on the connection's client (once; do it before starting threads)."""
    with _registering:
        connection.client.meta.events.register(
            f"before-parse.dynamodb.{operation}",
            _keep_raw_body,
            unique_id=f"dynaquery-raw-{operation}",
        )


def call_raw_body(
    connection: Connection, operation: str, params: dict
) -> tuple[bytes | None, dict]:
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
        if text[at : at + 1] != char:
            raise ValueError(f"a page's JSON body: {char!r} expected at {at}")
        return _blank(text, at + 1).end()

    i = expect("{", _blank(text, 0).end())
    if text[i : i + 1] == "}":
        return
    while True:
        if text[i : i + 1] != '"':
            raise ValueError(f"a page's JSON body: a member name expected at {i}")
        name, i = _scanstring(text, i + 1)
        i = expect(":", _blank(text, i).end())
        if name == "Items" and text[i : i + 1] == "[":
            i = _blank(text, i + 1).end()
            if text[i : i + 1] == "]":
                i += 1
            else:
                while True:
                    item, i = _decode(text, i)
                    yield item
                    i = _blank(text, i).end()
                    if text[i : i + 1] == "]":
                        i += 1
                        break
                    i = expect(",", i)
        else:
            rest[name], i = _decode(text, i)
        i = _blank(text, i).end()
        if text[i : i + 1] == "}":
            return
        i = expect(",", i)


def _inject_body(params: dict, **_: Any) -> None:
    """botocore's before-call hook: on this thread's transfer writes, send the body
    batch_write_body wrote instead of the one botocore's serializer made of a stub."""
    body = getattr(_raw, "body", None)
    if body is not None:
        params["body"] = body
        _raw.injected = True


def enable_raw_writes(connection: Connection) -> None:
    """Install the write hook on the connection's client (once; before starting threads)."""
    with _registering:
        connection.client.meta.events.register(
            "before-call.dynamodb.BatchWriteItem",
            _inject_body,
            unique_id="dynaquery-raw-BatchWriteItem",
        )


def batch_write_body(table: str, items: list[dict]) -> bytes:
    """The JSON body of a BatchWriteItem putting typed items: what botocore's serializer writes
    (binary in base64), written by values.typed_json_items."""
    return (
        b'{"RequestItems":{'
        + json.dumps(table).encode()
        + b":["
        + values.typed_json_items(items, b'{"PutRequest":{"Item":', b"}}", b",")
        + b"]}}"
    )


def call_batch_write(connection: Connection, table: str, items: list[dict]) -> dict:
    """BatchWriteItem of typed items, serialized by batch_write_body (enable_raw_writes first)."""
    _raw.body = batch_write_body(table, items)
    _raw.injected = False
    try:
        response = connection.call("BatchWriteItem", {"RequestItems": {table: []}})
    finally:
        _raw.body = None
    if not _raw.injected:  # a Connection that sends some other way: send the real request
        response = connection.call(
            "BatchWriteItem",
            {"RequestItems": {table: [{"PutRequest": {"Item": item}} for item in items]}},
        )
    return response
