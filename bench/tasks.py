"""The timed tasks, each run in a process of its own (so its peak memory is its own):

    python -m bench.tasks TASK ENDPOINT ACCESS_KEY TABLE PATH [N]
    python -m bench.tasks replay-TASK ENDPOINT SEGMENTS [PATH]

prints one JSON line: {"seconds": ..., "items": ..., "cpu": ...}: wall-clock and CPU seconds of
this process (all its threads; the server is another process) from when the clock starts, after
the client is made. The plain boto3 ways are written as the AWS SDK's documentation shows them;
dynaquery's go through its library API.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal


def boto3_client(endpoint: str, key: str):
    import boto3

    return boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id=key,
        aws_secret_access_key="bench",
    )


def connection(endpoint: str, key: str):
    from dynaquery import Connection

    return Connection(
        endpoint_url=endpoint, region="us-east-1", access_key_id=key, secret_access_key="bench"
    )


def _plain_default(value):
    """json.dumps cannot write what TypeDeserializer gives: Decimal, set, Binary."""
    from boto3.dynamodb.types import Binary

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, Binary):
        return base64.b64encode(value.value).decode("ascii")
    raise TypeError(type(value).__name__)


def export_boto3(endpoint: str, key: str, table: str, path: str) -> int:
    """A paginator, TypeDeserializer, json.dumps: one line per item."""
    from boto3.dynamodb.types import TypeDeserializer

    client = boto3_client(endpoint, key)
    deserializer = TypeDeserializer()
    count = 0
    with open(path, "w", encoding="utf-8") as out:
        for page in client.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                plain = {k: deserializer.deserialize(v) for k, v in item.items()}
                out.write(json.dumps(plain, default=_plain_default) + "\n")
                count += 1
    return count


def export_dynaquery(endpoint: str, key: str, table: str, path: str, segments: str = "8") -> int:
    from dynaquery.transfer import export_table

    return export_table(connection(endpoint, key), table, path, segments=int(segments)).items


def import_boto3(endpoint: str, key: str, table: str, path: str) -> int:
    """json.loads, TypeSerializer, batch_write_item in 25s, unprocessed items sent again."""
    from boto3.dynamodb.types import TypeSerializer

    client = boto3_client(endpoint, key)
    serializer = TypeSerializer()
    count = 0
    batch: list = []

    def flush() -> None:
        pending = {table: batch}
        delay = 0.05
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems")
            if pending:
                time.sleep(delay)
                delay = min(delay * 2, 1)

    with open(path, encoding="utf-8") as lines:
        for line in lines:
            item = json.loads(line, parse_float=Decimal)
            batch.append(
                {"PutRequest": {"Item": {k: serializer.serialize(v) for k, v in item.items()}}}
            )
            count += 1
            if len(batch) == 25:
                flush()
                batch = []
    if batch:
        flush()
    return count


def import_dynaquery(endpoint: str, key: str, table: str, path: str, workers: str = "8") -> int:
    from dynaquery.transfer import import_table

    result = import_table(connection(endpoint, key), table, path, workers=int(workers))
    if result.failed:
        raise SystemExit(f"{result.failed} items failed: {result.errors[:3]}")
    return result.written


def import_ceiling(endpoint: str, key: str, table: str, path: str, workers: str = "8") -> int:
    """What the server takes at most: the file read and converted beforehand (not timed), then
    only the BatchWriteItem calls, from `workers` threads. No client can import faster here."""
    from concurrent.futures import ThreadPoolExecutor

    from dynaquery import values
    from dynaquery._speed.botocore_hooks import call_batch_write, enable_raw_writes

    conn = connection(endpoint, key)
    with open(path, encoding="utf-8") as lines:
        items = [values.item_to_typed(json.loads(line, parse_float=Decimal)) for line in lines]
    batches = [items[i : i + 25] for i in range(0, len(items), 25)]
    enable_raw_writes(conn)
    _ = conn.client
    global _started
    _started = time.perf_counter()  # the clock starts here

    def send(batch):
        pending = batch
        while pending:
            left = call_batch_write(conn, table, pending).get("UnprocessedItems", {})
            pending = [r["PutRequest"]["Item"] for r in left.get(table, [])]

    with ThreadPoolExecutor(int(workers)) as pool:
        list(pool.map(send, batches))
    return len(items)


# -- against the replay endpoint (bench/replay.py): the client's own cost ---------------------

REPLAYED = "bench"  # the replayed table
PAGE = 1000  # items a request, for all: the same pages (dynaquery's default page size)


def _start_clock() -> None:
    global _started, _cpu_started
    _started, _cpu_started = time.perf_counter(), time.process_time()


def replay_export_dynaquery(endpoint: str, segments: str, path: str) -> int:
    """dynaquery's export to JSON lines, as `dynaquery export` does it."""
    from dynaquery.transfer import export_table

    conn = connection(endpoint, "bench")
    _ = conn.client
    _start_clock()
    return export_table(conn, REPLAYED, path, segments=int(segments), page_size=PAGE).items


def replay_export_parsed(endpoint: str, segments: str, path: str) -> int:
    """The same, with every page parsed into Python objects first (as before the transcoder)."""
    from dynaquery._speed import codec

    codec.page_lines = lambda: None
    return replay_export_dynaquery(endpoint, segments, path)


def replay_export_boto3(endpoint: str, segments: str, path: str) -> int:
    """A paginator per segment, in threads; TypeDeserializer and json.dumps for each item."""
    from boto3.dynamodb.types import TypeDeserializer

    client = boto3_client(endpoint, "bench")
    deserializer = TypeDeserializer()
    total = int(segments)
    lock, counts = threading.Lock(), [0] * total

    def read(segment: int) -> None:
        pages = client.get_paginator("scan").paginate(
            TableName=REPLAYED,
            Segment=segment,
            TotalSegments=total,
            PaginationConfig={"PageSize": PAGE},
        )
        for page in pages:
            lines = [
                json.dumps(
                    {k: deserializer.deserialize(v) for k, v in item.items()},
                    default=_plain_default,
                )
                + "\n"
                for item in page["Items"]
            ]
            with lock:
                out.write("".join(lines))
            counts[segment] += len(lines)

    with open(path, "w", encoding="utf-8") as out:
        _start_clock()
        with ThreadPoolExecutor(total) as pool:
            list(pool.map(read, range(total)))
    return sum(counts)


def replay_export_floor(endpoint: str, segments: str, path: str) -> int:
    """The least any Python client does: the same pages read by http.client, json.loads, each
    item written back as a line by json.dumps, with no conversion at all."""
    import http.client
    from urllib.parse import urlsplit

    where = urlsplit(endpoint)
    total = int(segments)
    lock, counts = threading.Lock(), [0] * total
    headers = {
        "X-Amz-Target": "DynamoDB_20120810.Scan",
        "Content-Type": "application/x-amz-json-1.0",
    }

    def read(segment: int) -> None:
        wire = http.client.HTTPConnection(where.hostname, where.port)
        request = {"TableName": REPLAYED, "Limit": PAGE, "Segment": segment}
        request["TotalSegments"] = total
        while True:
            wire.request("POST", "/", json.dumps(request), headers)
            answer = wire.getresponse()
            body = answer.read()
            if answer.status != 200:
                raise SystemExit(f"the floor's Scan: {answer.status} {body[:200]!r}")
            page = json.loads(body)
            text = "".join(json.dumps(item) + "\n" for item in page["Items"])
            with lock:
                out.write(text)
            counts[segment] += len(page["Items"])
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    with open(path, "w", encoding="utf-8") as out:
        _start_clock()
        with ThreadPoolExecutor(total) as pool:
            list(pool.map(read, range(total)))
    return sum(counts)


def replay_copy_dynaquery(endpoint: str, segments: str) -> int:
    """dynaquery's copy: the replayed table into a sink that takes every BatchWriteItem."""
    from dynaquery.transfer.copy import copy_table

    source, target = connection(endpoint, "bench"), connection(endpoint, "bench")
    _ = source.client, target.client
    _start_clock()
    result = copy_table(source, REPLAYED, target, "sink", segments=int(segments), page_size=PAGE)
    if result.failed:
        raise SystemExit(f"{result.failed} items failed: {result.errors[:3]}")
    return result.written


def replay_copy_boto3(endpoint: str, segments: str) -> int:
    """A paginator per segment, in threads, each page's typed items sent on in batch_write_item
    calls of 25 (unprocessed items sent again)."""
    client = boto3_client(endpoint, "bench")
    total = int(segments)
    counts = [0] * total

    def copy(segment: int) -> None:
        pages = client.get_paginator("scan").paginate(
            TableName=REPLAYED,
            Segment=segment,
            TotalSegments=total,
            PaginationConfig={"PageSize": PAGE},
        )
        for page in pages:
            items = page["Items"]
            for first in range(0, len(items), 25):
                pending = {"sink": [{"PutRequest": {"Item": i}} for i in items[first : first + 25]]}
                while pending:
                    pending = client.batch_write_item(RequestItems=pending)["UnprocessedItems"]
            counts[segment] += len(items)

    _start_clock()
    with ThreadPoolExecutor(total) as pool:
        list(pool.map(copy, range(total)))
    return sum(counts)


def replay_copy_floor(endpoint: str, segments: str) -> int:
    """The least any Python client does: http.client, json.loads of each page, json.dumps of
    each BatchWriteItem body of 25 items (no signing, no conversion, no retry)."""
    import http.client
    from urllib.parse import urlsplit

    where = urlsplit(endpoint)
    total = int(segments)
    counts = [0] * total

    def call(wire, operation: str, body: str) -> dict:
        headers = {"X-Amz-Target": f"DynamoDB_20120810.{operation}"}
        wire.request("POST", "/", body, {**headers, "Content-Type": "application/x-amz-json-1.0"})
        answer = wire.getresponse()
        data = answer.read()
        if answer.status != 200:
            raise SystemExit(f"the floor's {operation}: {answer.status} {data[:200]!r}")
        return json.loads(data)

    def copy(segment: int) -> None:
        wire = http.client.HTTPConnection(where.hostname, where.port)
        request = {"TableName": REPLAYED, "Limit": PAGE, "Segment": segment}
        request["TotalSegments"] = total
        while True:
            page = call(wire, "Scan", json.dumps(request))
            items = page["Items"]
            for first in range(0, len(items), 25):
                puts = [{"PutRequest": {"Item": i}} for i in items[first : first + 25]]
                call(wire, "BatchWriteItem", json.dumps({"RequestItems": {"sink": puts}}))
            counts[segment] += len(items)
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    _start_clock()
    with ThreadPoolExecutor(total) as pool:
        list(pool.map(copy, range(total)))
    return sum(counts)


TASKS = {
    "export-boto3": export_boto3,
    "export-dynaquery": export_dynaquery,
    "import-boto3": import_boto3,
    "import-dynaquery": import_dynaquery,
    "import-ceiling": import_ceiling,
    "replay-export-dynaquery": replay_export_dynaquery,
    "replay-export-parsed": replay_export_parsed,
    "replay-export-boto3": replay_export_boto3,
    "replay-export-floor": replay_export_floor,
    "replay-copy-dynaquery": replay_copy_dynaquery,
    "replay-copy-boto3": replay_copy_boto3,
    "replay-copy-floor": replay_copy_floor,
}
_started = _cpu_started = None


def main() -> None:
    task, *args = sys.argv[1:]
    started, cpu_started = time.perf_counter(), time.process_time()
    items = TASKS[task](*args)
    seconds = time.perf_counter() - (_started or started)
    cpu = time.process_time() - (_cpu_started or cpu_started)
    print(json.dumps({"seconds": seconds, "items": items, "cpu": cpu}))


if __name__ == "__main__":
    main()
