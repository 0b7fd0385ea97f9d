"""A DynamoDB endpoint that replays pages held in memory, so that a benchmark measures the client.

    python -m bench.replay [--items 100000] [--port 0]

prints `http://127.0.0.1:PORT` on its first line once it listens, then serves until killed.

It answers Scan (Segment/TotalSegments, Limit, ExclusiveStartKey) from items generated once
(`replay_item`: about 530 bytes of typed JSON each, strings, numbers, a boolean, a string set, a
number set, binary, a map holding a list, a list, a string with escapes and non-ASCII text),
DescribeTable (the table's item count), and BatchWriteItem (every item accepted: empty
UnprocessedItems), with DynamoDB's headers (x-amz-crc32, application/x-amz-json-1.0,
x-amzn-RequestId). Any signature is accepted. Each page's body is built once and kept, so after
the first run the server only sends bytes: its CPU is almost nothing next to the client's.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import threading
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .data import typed_item

TABLE = "bench"
TARGET = "DynamoDB_20120810."
MAX_PAGE_BYTES = 1 << 20  # DynamoDB's 1 MB page
_encode = json.JSONEncoder(
    separators=(",", ":"),
    ensure_ascii=False,
    default=lambda b: base64.b64encode(b).decode("ascii"),
).encode


def replay_item(i: int) -> dict:
    """Item i of the replayed table: the bench's item and a note with escapes and accents."""
    item = typed_item(i)
    item["note"] = {"S": f'n°{i}: "café" \\ naïve\tcrème ✓ {i * 7919 % 100000:05d}'}
    return item


class Pages:
    """The table's items as JSON text, and each page's body, built once and kept."""

    def __init__(self, items: int):
        self.items = [_encode(replay_item(i)).encode("utf-8") for i in range(items)]
        self.cache: dict[tuple, tuple[bytes, str]] = {}
        self.lock = threading.Lock()

    def scan(self, request: dict) -> bytes:
        total = int(request.get("TotalSegments", 1))
        segment = int(request.get("Segment", 0))
        if not 0 <= segment < total:
            raise ValueError("Segment must be less than TotalSegments")
        limit = int(request.get("Limit", 0)) or None
        start = request.get("ExclusiveStartKey")
        # Segment s holds the items i with i % total == s; a key's sk is its item's number.
        first = 0 if start is None else int(start["sk"]["N"]) // total + 1
        key = (total, segment, first, limit)
        with self.lock:
            found = self.cache.get(key)
        if found is None:
            found = self._page(total, segment, first, limit)
            with self.lock:
                self.cache[key] = found
        return found

    def _page(self, total: int, segment: int, first: int, limit: int | None) -> tuple:
        mine = range(segment, len(self.items), total)
        chosen, size = [], 0
        for n in range(first, len(mine)):
            if limit is not None and len(chosen) == limit:
                break
            item = self.items[mine[n]]
            if size + len(item) > MAX_PAGE_BYTES and chosen:
                break
            chosen.append(item)
            size += len(item)
        last = first + len(chosen)
        more = last < len(mine)
        body = b'{"Count":%d,"Items":[' % len(chosen) + b",".join(chosen) + b"]"
        if more:
            i = mine[last - 1]
            key = {"pk": {"S": f"user#{i % 997:04d}"}, "sk": {"N": str(i)}}
            body += b',"LastEvaluatedKey":' + json.dumps(key, separators=(",", ":")).encode()
        body += b',"ScannedCount":%d}' % len(chosen)
        return body, str(zlib.crc32(body) & 0xFFFFFFFF)

    def describe(self, name: str) -> bytes:
        """Any table is there (a copy's target too), with the replayed table's keys."""
        table = {
            "TableName": name,
            "TableStatus": "ACTIVE",
            "ItemCount": len(self.items),
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "N"},
            ],
        }
        return json.dumps({"Table": table}).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's pool expects
    # Headers and body in one write, Nagle off: no 40 ms waits for a delayed ACK.
    disable_nagle_algorithm = True
    wbufsize = 1 << 16
    pages: Pages
    damaged: list[int]  # how many Scan answers are still to go out with a wrong x-amz-crc32

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        operation = (self.headers.get("X-Amz-Target") or "").removeprefix(TARGET)
        if operation == "BatchWriteItem":  # every item accepted, the body not even read
            return self.answer(b'{"UnprocessedItems":{}}')
        try:
            request = json.loads(body or b"{}")
            if operation == "Scan":
                if request.get("TableName") != TABLE:
                    return self.error(400, "ResourceNotFoundException", "Table not found")
                body, crc = self.pages.scan(request)
                return self.answer(body, self.damage(crc))
            if operation == "DescribeTable":
                return self.answer(self.pages.describe(request.get("TableName", TABLE)))
        except (ValueError, KeyError, TypeError) as error:
            return self.error(400, "ValidationException", str(error))
        self.error(400, "UnknownOperationException", f"not replayed: {operation}")

    def damage(self, crc: str) -> str:
        with self.pages.lock:
            if not self.damaged[0]:
                return crc
            self.damaged[0] -= 1
        return str((int(crc) + 1) & 0xFFFFFFFF)

    def answer(self, body: bytes, crc: str | None = None, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amz-crc32", crc or str(zlib.crc32(body) & 0xFFFFFFFF))
        self.send_header("x-amzn-RequestId", uuid.uuid4().hex)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def error(self, status: int, code: str, message: str) -> None:
        body = json.dumps(
            {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}
        )
        self.answer(body.encode(), status=status)

    def log_message(self, *_args) -> None:  # quiet
        pass


def serve(items: int, port: int = 0, damaged: int = 0) -> ThreadingHTTPServer:
    """A server of `items` replayed items on loopback (call serve_forever on it); its first
    `damaged` Scan answers carry a wrong x-amz-crc32 (for the tests of the client's check)."""
    handler = type("ReplayHandler", (Handler,), {"pages": Pages(items), "damaged": [damaged]})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    return server


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.replay", description=__doc__)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = serve(args.items, args.port)
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.stdout.flush()


if __name__ == "__main__":
    main()
