"""The benchmark's replay endpoint (bench/replay.py) answers as DynamoDB does: a boto3 client,
with its own signing, CRC32 check and paginator, scans every item of it exactly once, in one
segment or several, and reads its DescribeTable and BatchWriteItem answers. Not timed."""

from __future__ import annotations

import json
import sys
import threading
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for `bench`

from bench.replay import Pages, replay_item, serve  # noqa: E402

ITEMS = 3000


@pytest.fixture(scope="module")
def replay():
    server = serve(ITEMS)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def client(endpoint: str):
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="any",
        aws_secret_access_key="signature-not-checked",
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )


@pytest.mark.parametrize("segments", [1, 2, 4, 7])
@pytest.mark.parametrize("page_size", [None, 500])
def test_a_paginated_scan_returns_every_item_in_every_segment(replay, segments, page_size):
    scan = client(replay).get_paginator("scan")
    found: list[int] = []
    for segment in range(segments):
        pages = scan.paginate(
            TableName="bench",
            Segment=segment,
            TotalSegments=segments,
            PaginationConfig={"PageSize": page_size} if page_size else {},
        )
        mine = [int(item["sk"]["N"]) for page in pages for item in page["Items"]]
        assert mine and all(i % segments == segment for i in mine)
        found += mine
    assert sorted(found) == list(range(ITEMS))


def test_items_are_typed_dynamodb_json_as_generated(replay):
    page = client(replay).scan(TableName="bench", Limit=3)
    assert page["Count"] == page["ScannedCount"] == 3
    assert page["LastEvaluatedKey"] == {"pk": {"S": "user#0002"}, "sk": {"N": "2"}}
    first = replay_item(0)
    got = page["Items"][0]
    assert got.keys() == first.keys()
    assert got["avatar"]["B"] == first["avatar"]["B"]  # botocore decoded the base64
    assert {k: v for k, v in got.items() if k != "avatar"} == {
        k: v for k, v in first.items() if k != "avatar"
    }
    assert {"S", "N", "BOOL", "SS", "NS", "B", "M", "L"} <= {t for v in got.values() for t in v}


def test_items_are_about_530_bytes_on_the_wire():
    sizes = [len(item) for item in Pages(1000).items]
    assert 500 < sum(sizes) / len(sizes) < 560


def test_headers_are_dynamodb_s(replay):
    request = urllib.request.Request(
        replay,
        data=json.dumps({"TableName": "bench", "Limit": 1}).encode(),
        headers={"X-Amz-Target": "DynamoDB_20120810.Scan"},
    )
    with urllib.request.urlopen(request) as answer:
        assert answer.headers["Content-Type"] == "application/x-amz-json-1.0"
        assert answer.headers["x-amz-crc32"].isdigit() and answer.headers["x-amzn-RequestId"]


def test_describe_table_and_batch_write_item(replay):
    dynamodb = client(replay)
    assert dynamodb.describe_table(TableName="bench")["Table"]["ItemCount"] == ITEMS
    writes = [{"PutRequest": {"Item": replay_item(i)}} for i in range(25)]
    answer = dynamodb.batch_write_item(RequestItems={"bench": writes})
    assert answer["UnprocessedItems"] == {}


def test_errors_are_dynamodb_s(replay):
    dynamodb = client(replay)
    with pytest.raises(dynamodb.exceptions.ResourceNotFoundException):
        dynamodb.scan(TableName="other")
    with pytest.raises(dynamodb.exceptions.ClientError, match="ValidationException"):
        dynamodb.scan(TableName="bench", Segment=3, TotalSegments=2)
