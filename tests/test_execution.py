"""Pagination and batches through the library, against DynamoDB Local: nothing dropped, nothing twice."""

from __future__ import annotations

import pytest

from dynaquery import Connection, ServiceError
from dynaquery.execution import run

from support import Endpoint, pk_sk_table

TABLE = pk_sk_table("events")


@pytest.fixture
def conn(dynamodb_local) -> Connection:
    connection = Endpoint(dynamodb_local.endpoint_url).connection()
    connection.run("CreateTable", TABLE)
    return connection


def put_items(conn: Connection, count: int, payload: str = "") -> None:
    writes = [
        {"PutRequest": {"Item": {"pk": f"p{i % 7}", "sk": i, "body": payload or f"item {i}"}}}
        for i in range(count)
    ]
    result = conn.run("BatchWriteItem", {"RequestItems": {"events": writes}})
    assert result.complete


def keys_of(items) -> list[tuple]:
    return [(item["pk"], item["sk"]) for item in items]


def test_batch_write_larger_than_the_limit_is_split(conn):
    writes = [{"PutRequest": {"Item": {"pk": "a", "sk": i}}} for i in range(60)]
    result = conn.run("BatchWriteItem", {"RequestItems": {"events": writes}})
    assert result.complete and result.data["UnprocessedItems"] == {}
    assert result.meta["batch_requests"] == 3  # 25 + 25 + 10
    assert conn.run("Scan", '{"TableName": "events", "Select": "COUNT"}').data["Count"] == 60


def test_batch_get_larger_than_the_limit_is_split(conn):
    put_items(conn, 150)
    keys = [{"pk": f"p{i % 7}", "sk": i} for i in range(150)]
    result = conn.run(
        "BatchGetItem", {"RequestItems": {"events": {"Keys": keys, "ConsistentRead": True}}}
    )
    assert result.complete
    assert sorted(keys_of(result.data["Responses"]["events"])) == sorted(
        (k["pk"], k["sk"]) for k in keys
    )
    assert result.meta["batch_requests"] == 2 and result.meta["count"] == 150


def test_batch_get_over_16_mb_retries_the_unprocessed_keys(conn):
    """DynamoDB Local, like DynamoDB, answers at most 16 MB and returns the rest as UnprocessedKeys."""
    put_items(conn, 60, payload="x" * 390_000)
    keys = [{"pk": f"p{i % 7}", "sk": i} for i in range(60)]
    result = conn.run(
        "BatchGetItem",
        {"RequestItems": {"events": {"Keys": keys, "ProjectionExpression": "pk, sk"}}},
    )
    assert result.complete
    assert len(result.data["Responses"]["events"]) == 60
    # Without the projection the answer would be 23 MB:
    result = conn.run("BatchGetItem", {"RequestItems": {"events": {"Keys": keys}}})
    assert result.complete
    assert sorted(keys_of(result.data["Responses"]["events"])) == sorted(
        (k["pk"], k["sk"]) for k in keys
    )
    assert result.meta["batch_retries"] >= 1
    assert result.meta["batch_requests"] > 1


def test_one_page_by_default_with_a_token_to_go_on(conn):
    put_items(conn, 250)
    first = conn.run("Scan", '{"TableName": "events", "Limit": 100}')
    assert first.meta["count"] == 100 and first.meta["pages"] == 1
    assert "LastEvaluatedKey" in first.data
    seen = keys_of(first.data["Items"])
    token = first.meta["next_token"]
    while token:
        page = conn.run("Scan", '{"TableName": "events", "Limit": 100}', starting_token=token)
        seen += keys_of(page.data["Items"])
        token = page.meta.get("next_token")
    assert len(seen) == 250 and len(set(seen)) == 250


def test_all_pages_are_joined_and_counted(conn):
    put_items(conn, 250)
    result = conn.run(
        "Scan",
        '{"TableName": "events", "Limit": 100, "ReturnConsumedCapacity": "TOTAL"}',
        all_pages=True,
    )
    assert len(result.data["Items"]) == 250
    assert result.data["Count"] == 250 and result.data["ScannedCount"] == 250
    assert result.meta["pages"] == 3 and "next_token" not in result.meta
    assert "LastEvaluatedKey" not in result.data
    assert result.data["ConsumedCapacity"]["TableName"] == "events"
    assert result.data["ConsumedCapacity"]["CapacityUnits"] > 0


def test_max_items_then_resume_gives_the_rest_exactly(conn):
    put_items(conn, 250)
    params = '{"TableName": "events", "Limit": 40}'
    first = conn.run("Scan", params, max_items=150)
    assert len(first.data["Items"]) == 150
    # Cut inside a page: the page's own LastEvaluatedKey would skip items, so it is not offered.
    assert "LastEvaluatedKey" not in first.data
    rest = conn.run("Scan", params, all_pages=True, starting_token=first.meta["next_token"])
    every = keys_of(first.data["Items"]) + keys_of(rest.data["Items"])
    assert len(every) == 250 and len(set(every)) == 250


def test_query_pages_follow_the_key_condition(conn):
    put_items(conn, 100)
    result = conn.run(
        "Query",
        {
            "TableName": "events",
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": "p3"},
            "Limit": 5,
        },
        all_pages=True,
    )
    expected = sorted(i for i in range(100) if i % 7 == 3)
    assert [item["sk"] for item in result.data["Items"]] == expected
    assert result.meta["pages"] >= 3


def test_list_tables_paginates(conn):
    for name in ("t-a", "t-b", "t-c"):
        conn.run("CreateTable", {**TABLE, "TableName": name})
    result = conn.run("ListTables", '{"Limit": 1}', all_pages=True)
    assert result.data["TableNames"] == ["events", "t-a", "t-b", "t-c"]
    assert result.meta["pages"] >= 4


def test_bad_starting_token_is_bad_input(conn):
    from dynaquery import InputError

    with pytest.raises(InputError, match="starting token is not valid"):
        conn.run("Scan", '{"TableName": "events"}', starting_token="not-a-token")


def test_service_errors_carry_code_message_and_operation(conn):
    with pytest.raises(ServiceError) as info:
        conn.run("GetItem", '{"TableName": "nope", "Key": {"pk": "a", "sk": 1}}')
    error = info.value
    assert (error.operation, error.code) == ("GetItem", "ResourceNotFoundException")
    assert "non-existent table" in error.service_message
    assert "the tables here are: events" in error.hint


def test_transform_is_applied_to_data(conn):
    put_items(conn, 10)
    result = conn.run(
        "Scan",
        '{"TableName": "events"}',
        transform="sort_by(Items, &sk)[?sk > `6`].{k: sk, b: body}",
    )
    assert result.data == [
        {"k": 7, "b": "item 7"},
        {"k": 8, "b": "item 8"},
        {"k": 9, "b": "item 9"},
    ]
    total = conn.run("Scan", '{"TableName": "events"}', transform="sum(Items[].sk)")
    assert total.data == 45


def test_exact_numbers_round_trip(conn):
    big = "12345678901234567890123456789012345678"
    conn.run(
        "PutItem",
        f'{{"TableName": "events", "Item": {{"pk": "n", "sk": 1, "big": {big}, '
        f'"tenth": 0.1, "neg": -0.000001, "list": [1.50, 2]}}}}',
    )
    item = conn.run("GetItem", '{"TableName": "events", "Key": {"pk": "n", "sk": 1}}').data["Item"]
    from dynaquery.results import to_json

    text = to_json(item, pretty=False)
    assert f'"big":{big}' in text
    assert '"tenth":0.1' in text and '"neg":-0.000001' in text
    # DynamoDB Local keeps the trailing zero DynamoDB would drop: either way, the server's digits.
    assert '"list":[1.50,2]' in text or '"list":[1.5,2]' in text


# -- unprocessed batches that never finish: a stand-in connection ---------------------------------


class AlwaysThrottled:
    """Answers every BatchWriteItem by leaving its last request unprocessed (as a throttled table)."""

    def __init__(self):
        self.calls = []
        self.client = object()

    def call(self, operation, params):
        self.calls.append(params)
        requests = params["RequestItems"]["tbl"]
        left = requests[-1:]
        return {"UnprocessedItems": {"tbl": left} if left else {}}


def test_unprocessed_items_are_retried_then_reported(monkeypatch):
    fake = AlwaysThrottled()
    slept = []
    writes = [{"PutRequest": {"Item": {"id": i}}} for i in range(30)]
    result = run(
        fake,
        "BatchWriteItem",
        {"RequestItems": {"tbl": writes}},
        batch_timeout=0.5,
        sleep=slept.append,
    )
    assert not result.complete
    # Each chunk's last request keeps coming back: both stay, typed and plain, nothing lost.
    assert result.meta["unprocessed"] == 2
    assert result.data["UnprocessedItems"] == {
        "tbl": [{"PutRequest": {"Item": {"id": 24}}}, {"PutRequest": {"Item": {"id": 29}}}]
    }
    assert result.unprocessed["tbl"][0] == {"PutRequest": {"Item": {"id": {"N": "24"}}}}
    assert slept and all(0 <= s <= 5 for s in slept)
    assert len(fake.calls[0]["RequestItems"]["tbl"]) == 25


def test_unprocessed_retry_shrinks_until_done():
    class Halving(AlwaysThrottled):
        def call(self, operation, params):
            self.calls.append(params)
            requests = params["RequestItems"]["tbl"]
            left = requests[len(requests) // 2 :] if len(requests) > 1 else []
            return {"UnprocessedItems": {"tbl": left} if left else {}}

    fake = Halving()
    writes = [{"PutRequest": {"Item": {"id": i}}} for i in range(8)]
    result = run(fake, "BatchWriteItem", {"RequestItems": {"tbl": writes}}, sleep=lambda s: None)
    assert result.complete and result.meta["batch_retries"] == 3
    sent = [
        r["PutRequest"]["Item"]["id"]["N"] for c in fake.calls for r in c["RequestItems"]["tbl"]
    ]
    assert sorted(set(sent)) == sorted(str(i) for i in range(8))


def test_bad_transform_fails_before_anything_is_sent(conn):
    from dynaquery import InputError

    with pytest.raises(InputError, match="Invalid transformation"):
        conn.run("PutItem", '{"TableName": "events", "Item": {"pk": "t", "sk": 1}}', transform="[")
    assert conn.run("Scan", '{"TableName": "events"}').data["Count"] == 0


def test_pages_failing_midway_say_how_far_they_got_and_how_to_go_on(conn, dynamodb_local):
    """The table is deleted (for real, from a second client) after the first page is read."""
    put_items(conn, 30)
    other = Endpoint(dynamodb_local.endpoint_url, access_key=conn.config.access_key_id).connection()
    pages_seen = []

    def delete_after_first_page(**kwargs):
        pages_seen.append(1)
        if len(pages_seen) == 1:
            other.run("DeleteTable", '{"TableName": "events"}')

    first = conn.run("Scan", '{"TableName": "events", "Limit": 10}')  # the page that gets through
    conn.client.meta.events.register("after-call.dynamodb.Scan", delete_after_first_page)
    with pytest.raises(ServiceError) as info:
        conn.run("Scan", '{"TableName": "events", "Limit": 10}', all_pages=True)
    error = info.value
    assert error.code == "ResourceNotFoundException"
    assert "1 page(s) had been read before the error" in error.message
    assert error.resume_token and error.resume_token in error.message
    # The token goes on exactly after the page that was read.
    from botocore.paginate import TokenDecoder

    assert first.meta["next_token"] == error.resume_token
    assert set(TokenDecoder().decode(error.resume_token)) == {"ExclusiveStartKey"}
