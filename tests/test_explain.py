"""`--explain` and dynaquery.explain, against DynamoDB Local: the request as it would be sent, what
a Scan costs from the table's size, a Scan that is a Query, and nothing sent but DescribeTable."""

from __future__ import annotations

import json
import math

import pytest

from dynaquery import prepare
from dynaquery.explain import explain

from support import Endpoint, clean_env, dynaquery, pk_sk_table

BODY = "x" * 3000
# Each item: "pk" (2) + "item-NN" (7) + "body" (4) + 3000 = 3013 bytes, as DynamoDB counts them.
KNOWN_SIZE = 30 * 3013

ORDERS = {
    **pk_sk_table("orders"),
    "AttributeDefinitions": [
        *pk_sk_table("orders")["AttributeDefinitions"],
        {"AttributeName": "team", "AttributeType": "S"},
    ],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": "by_team",
            "KeySchema": [{"AttributeName": "team", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
        }
    ],
}


@pytest.fixture
def endpoint(dynamodb_local) -> Endpoint:
    endpoint = Endpoint(dynamodb_local.endpoint_url)
    conn = endpoint.connection()
    conn.run(
        "CreateTable",
        {
            "TableName": "sized",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )
    writes = [{"PutRequest": {"Item": {"pk": f"item-{i:02}", "body": BODY}}} for i in range(30)]
    assert conn.run("BatchWriteItem", {"RequestItems": {"sized": writes}}).complete
    conn.run("CreateTable", ORDERS)
    writes = [
        {"PutRequest": {"Item": {"pk": f"p{i % 3}", "sk": i, "team": f"t{i % 4}", "kind": i % 2}}}
        for i in range(40)
    ]
    assert conn.run("BatchWriteItem", {"RequestItems": {"orders": writes}}).complete
    return endpoint


def sent_by(conn) -> list[str]:
    """The operations the connection's client sends from now on (an observer: it changes
    nothing)."""
    sent: list[str] = []
    conn.client.meta.events.register(
        "before-send.dynamodb", lambda event_name, **_: sent.append(event_name.split(".")[-1])
    )
    return sent


def explain_cli(endpoint: Endpoint, operation: str, params: dict, *more: str):
    return dynaquery("run", operation, json.dumps(params), "--explain", *more, *endpoint.flags)


def test_a_scan_costs_the_table_size_over_4_kb(endpoint):
    conn = endpoint.connection()
    reported = conn.client.describe_table(TableName="sized")["Table"]["TableSizeBytes"]
    assert reported == KNOWN_SIZE  # DynamoDB Local reports the size live (DynamoDB: 6-hourly)
    sent = sent_by(conn)
    cost = explain(conn, prepare("Scan", {"TableName": "sized"}))["cost"]
    assert sent == ["DescribeTable"]
    assert cost["size_bytes"] == reported and cost["item_count"] == 30
    assert cost["strongly_consistent_rcu"] == math.ceil(reported / 4096) == 23
    assert cost["eventually_consistent_rcu"] == math.ceil(reported / 8192) == 12
    assert cost["consistent_read"] is False and cost["read_capacity_units"] == 12
    consistent = explain(conn, prepare("Scan", {"TableName": "sized", "ConsistentRead": True}))
    assert consistent["cost"]["read_capacity_units"] == 23
    assert "six hours" in " ".join(cost["notes"])


def test_the_command_prints_the_typed_request_and_the_cost(endpoint):
    params = {
        "TableName": "sized",
        "FilterExpression": "body = :b",
        "ExpressionAttributeValues": {":b": "x"},
    }
    done = explain_cli(endpoint, "Scan", params)
    assert done.code == 0, done.stderr
    assert '":b": {\n      "S": "x"\n    }' in done.stdout  # typed, as it would be sent
    assert (
        "about 12 RCU (read capacity units) for a full Scan, eventually consistent" in done.stdout
    )
    assert "23 strongly consistent" in done.stdout and "does not lower it" in done.stdout
    as_json = explain_cli(endpoint, "Scan", {**params, "ConsistentRead": True}, "--output", "json")
    explanation = as_json.json()
    assert explanation["request"]["ExpressionAttributeValues"] == {":b": {"S": "x"}}
    assert explanation["cost"]["read_capacity_units"] == 23
    picked = explain_cli(endpoint, "Scan", params, "--query", "cost.read_capacity_units")
    assert picked.stdout.strip() == "12"


def test_a_scan_of_an_index_costs_the_index_size(endpoint):
    conn = endpoint.connection()
    (index,) = conn.client.describe_table(TableName="orders")["Table"]["GlobalSecondaryIndexes"]
    cost = explain(conn, prepare("Scan", {"TableName": "orders", "IndexName": "by_team"}))["cost"]
    assert cost["index"] == "by_team" and cost["size_bytes"] == index["IndexSizeBytes"] > 0
    assert cost["read_capacity_units"] == math.ceil(index["IndexSizeBytes"] / 8192)
    assert cost["strongly_consistent_rcu"] is None  # a GSI reads eventually consistent only
    unknown = explain_cli(endpoint, "Scan", {"TableName": "orders", "IndexName": "by_nothing"})
    assert (
        unknown.code == 2 and "has no index 'by_nothing' (its indexes: by_team)" in unknown.stderr
    )


def test_a_query_reads_one_partition_no_estimate(endpoint):
    conn = endpoint.connection()
    params = {"TableName": "orders", "KeyConditionExpression": "pk = :p"}
    params["ExpressionAttributeValues"] = {":p": "p1"}
    cost = explain(conn, prepare("Query", params))["cost"]
    assert cost["kind"] == "query" and cost["read_capacity_units"] is None
    assert "reads only the items of the partition key value" in cost["notes"][0]
    assert "advice" not in explain(conn, prepare("Query", params))


def scan_and_query_items(endpoint: Endpoint, scan: dict, query: dict) -> tuple[list, list]:
    """The items the Scan and the suggested Query return, run through `dynaquery run`."""
    found = []
    for operation, params in (("Scan", scan), ("Query", query)):
        done = endpoint.run(operation, json.dumps(params), "--all-pages", "--query", "Items")
        assert done.code == 0, done.stderr
        found.append(sorted(done.json(), key=lambda item: (item["pk"], item["sk"])))
    return found[0], found[1]


def test_a_scan_fixing_the_table_key_is_a_query(endpoint):
    scan = {
        "TableName": "orders",
        "FilterExpression": ":p = pk AND (sk >= :n AND kind = :k)",
        "ExpressionAttributeValues": {":p": "p1", ":n": 10, ":k": 1},
    }
    done = explain_cli(endpoint, "Scan", scan, "--output", "json")
    (advice,) = done.json()["advice"]
    assert advice["message"].startswith("this is a Query: the filter fixes the partition key of")
    assert advice["caveats"] == []
    query = advice["query"]
    assert query["KeyConditionExpression"] == "pk = :p AND sk >= :n"
    assert query["FilterExpression"] == "kind = :k" and "IndexName" not in query
    scanned, queried = scan_and_query_items(endpoint, scan, query)
    assert scanned == queried and len(scanned) == 5  # p1 from 10 up: 10, 13, ...; kind 1 of them
    assert "Advice: this is a Query" in explain_cli(endpoint, "Scan", scan).stdout


def test_a_scan_fixing_an_index_key_is_a_query_on_the_index(endpoint):
    scan = {
        "TableName": "orders",
        "FilterExpression": "#team = :t and sk < :n",
        "ExpressionAttributeNames": {"#team": "team", "#kind": "kind"},
        "ExpressionAttributeValues": {":t": "t2", ":n": 30},
        "ProjectionExpression": "pk, sk, #team, #kind",
    }
    (advice,) = explain(endpoint.connection(), prepare("Scan", scan))["advice"]
    assert "index 'by_team'" in advice["message"]
    query = advice["query"]
    assert query["IndexName"] == "by_team" and query["KeyConditionExpression"] == "#team = :t"
    assert query["FilterExpression"] == "sk < :n"
    assert query["ExpressionAttributeValues"] == {":t": {"S": "t2"}, ":n": {"N": "30"}}
    scanned, queried = scan_and_query_items(endpoint, scan, query)
    assert scanned == queried and len(scanned) == 7  # t2 below 30: 2, 6, ..., 26


@pytest.mark.parametrize(
    "filter_expression",
    [
        "pk = :p OR kind = :k",  # not a conjunction
        "pk <> :p",  # no equality
        "kind = :k",  # no key
        "pk = :k",  # a number for a string key: matches nothing, and no Query takes it
        "NOT pk = :p",
        "pk = :p AND (kind = :k",  # unbalanced: DynamoDB refuses the Scan, no Query made of it
    ],
)
def test_no_advice_where_the_filter_fixes_no_key(endpoint, filter_expression):
    values = {":p": "p1", ":k": 1}
    scan = {"TableName": "orders", "FilterExpression": filter_expression}
    scan["ExpressionAttributeValues"] = {k: v for k, v in values.items() if k in filter_expression}
    assert "advice" not in explain(endpoint.connection(), prepare("Scan", scan))


def test_only_describe_table_is_sent_and_nothing_for_other_operations(endpoint):
    conn = endpoint.connection()
    sent = sent_by(conn)
    scan = {"TableName": "orders", "FilterExpression": "pk = :p"}
    scan["ExpressionAttributeValues"] = {":p": "p1"}
    explain(conn, prepare("Scan", scan))
    query = {key: scan[key] for key in ("TableName", "ExpressionAttributeValues")}
    explain(conn, prepare("Query", {**query, "KeyConditionExpression": "pk = :p"}))
    put = explain(conn, prepare("PutItem", {"TableName": "orders", "Item": {"pk": "a", "sk": 1}}))
    assert sent == ["DescribeTable", "DescribeTable"]
    typed_item = {"pk": {"S": "a"}, "sk": {"N": "1"}}
    assert put == {"operation": "PutItem", "request": {"TableName": "orders", "Item": typed_item}}
    assert "Item" not in conn.client.get_item(TableName="orders", Key=typed_item)


def test_a_destructive_operation_is_explained_without_asking_or_running(endpoint):
    done = explain_cli(endpoint, "DeleteTable", {"TableName": "orders"})
    assert done.code == 0, done.stderr
    assert done.stdout.startswith("DeleteTable, as it would be sent (nothing is sent):")
    assert endpoint.connection().client.describe_table(TableName="orders")["Table"]


def test_query_run_explains_a_saved_query(endpoint, tmp_path):
    env = clean_env(DYNAQUERY_HOME=str(tmp_path))
    assert dynaquery("datasource", "add", "local", *endpoint.flags, env=env).code == 0
    saved = dynaquery(
        "query", "save", "big", "--datasource", "local", "Scan",
        '{"TableName": "{{ table }}", "FilterExpression": "pk = :p", '
        '"ExpressionAttributeValues": {":p": "p1"}}',
        env=env,
    )  # fmt: skip
    assert saved.code == 0, saved.stderr
    done = dynaquery(
        "query", "run", "big", "--param", "table=orders", "--explain", "-o", "json", env=env
    )
    assert done.code == 0, done.stderr
    explanation = done.json()
    assert explanation["cost"]["table"] == "orders"
    assert explanation["advice"][0]["query"]["KeyConditionExpression"] == "pk = :p"
