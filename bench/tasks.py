"""The timed tasks, each run in a process of its own (so its peak memory is its own):

    python -m bench.tasks TASK ENDPOINT ACCESS_KEY TABLE PATH [N]

prints one JSON line: {"seconds": ..., "items": ...}. The plain boto3 ways are written as the
AWS SDK's documentation shows them; dynaquery's go through its library API.
"""

from __future__ import annotations

import base64
import json
import sys
import time
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


TASKS = {
    "export-boto3": export_boto3,
    "export-dynaquery": export_dynaquery,
    "import-boto3": import_boto3,
    "import-dynaquery": import_dynaquery,
    "import-ceiling": import_ceiling,
}
_started = None


def main() -> None:
    task, *args = sys.argv[1:]
    started = time.perf_counter()
    items = TASKS[task](*args)
    print(json.dumps({"seconds": time.perf_counter() - (_started or started), "items": items}))


if __name__ == "__main__":
    main()
