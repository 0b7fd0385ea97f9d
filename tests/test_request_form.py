"""The Query and Scan form (request_form.py): every operator, the #name / :value aliases that make
reserved words safe, the errors naming the form's field, and the requests it builds run against
DynamoDB Local on a table with a global and a local index."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest

from dynaquery.errors import ValidationError
from dynaquery.request_form import FILTER_OPERATORS, build_request, form_choices, request_text
from dynaquery.tables import describe_table

from support import Endpoint

# A table as DescribeTable tells it: `customer` + `created` (a number), a global index on
# `status` + `total`, a local one on `customer` + `name`.
RAW_TABLE = {
    "TableName": "orders",
    "KeySchema": [
        {"AttributeName": "customer", "KeyType": "HASH"},
        {"AttributeName": "created", "KeyType": "RANGE"},
    ],
    "AttributeDefinitions": [
        {"AttributeName": "customer", "AttributeType": "S"},
        {"AttributeName": "created", "AttributeType": "N"},
        {"AttributeName": "status", "AttributeType": "S"},
        {"AttributeName": "total", "AttributeType": "N"},
        {"AttributeName": "name", "AttributeType": "S"},
    ],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": "by-status",
            "KeySchema": [
                {"AttributeName": "status", "KeyType": "HASH"},
                {"AttributeName": "total", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ],
    "LocalSecondaryIndexes": [
        {
            "IndexName": "by-name",
            "KeySchema": [
                {"AttributeName": "customer", "KeyType": "HASH"},
                {"AttributeName": "name", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ],
}
TABLE = describe_table(RAW_TABLE)


def query(**form) -> dict:
    return build_request({"operation": "Query", "partition_key": "c1", **form}, TABLE)


def scan(**form) -> dict:
    return build_request({"operation": "Scan", **form}, TABLE)


def problems(form: dict) -> dict[str, str]:
    with pytest.raises(ValidationError) as raised:
        build_request(form, TABLE)
    return {p.path: p.message for p in raised.value.problems}


# -- the key condition ------------------------------------------------------------------------


def test_a_query_on_the_partition_key_alone():
    assert query() == {
        "TableName": "orders",
        "KeyConditionExpression": "#customer = :customer",
        "ExpressionAttributeNames": {"#customer": "customer"},
        "ExpressionAttributeValues": {":customer": "c1"},
    }


@pytest.mark.parametrize("operator", ["=", "<", "<=", ">", ">="])
def test_sort_key_comparisons_type_the_value_from_the_schema(operator):
    params = query(sort_key={"operator": operator, "values": ["1700000000.5"]})
    assert (
        params["KeyConditionExpression"]
        == f"#customer = :customer AND #created {operator} :created"
    )
    assert params["ExpressionAttributeValues"][":created"] == Decimal("1700000000.5")  # N, exact


def test_sort_key_between_and_begins_with():
    params = query(sort_key={"operator": "BETWEEN", "values": ["1", "2"]})
    assert params["KeyConditionExpression"].endswith(
        "#created BETWEEN :created_low AND :created_high"
    )
    assert params["ExpressionAttributeValues"] == {
        ":customer": "c1",
        ":created_low": 1,
        ":created_high": 2,
    }
    on_name = query(index="by-name", sort_key={"operator": "begins_with", "values": ["Al"]})
    assert (
        on_name["KeyConditionExpression"] == "#customer = :customer AND begins_with(#name, :name)"
    )
    assert on_name["IndexName"] == "by-name"


def test_an_index_uses_its_own_keys():
    params = query(
        index="by-status", partition_key="open", sort_key={"operator": ">", "values": ["10"]}
    )
    assert params["KeyConditionExpression"] == "#status = :status AND #total > :total"
    assert params["ExpressionAttributeNames"] == {"#status": "status", "#total": "total"}
    assert params["ExpressionAttributeValues"] == {":status": "open", ":total": 10}


def test_binary_keys_stay_typed():
    table = describe_table(
        {
            "TableName": "blobs",
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "B"}],
        }
    )
    params = build_request({"operation": "Query", "partition_key": "AAE="}, table)
    assert params["ExpressionAttributeValues"] == {":id": {"B": b"\x00\x01"}}
    assert json.loads(request_text(params))["ExpressionAttributeValues"] == {":id": {"B": "AAE="}}


# -- filters, projection and options ----------------------------------------------------------


FILTERS = {
    "=": ({"values": ["open"]}, "#state = :state"),
    "<>": ({"values": ["open"]}, "#state <> :state"),
    "<": ({"values": ["5"], "type": "N"}, "#state < :state"),
    "<=": ({"values": ["5"], "type": "N"}, "#state <= :state"),
    ">": ({"values": ["5"], "type": "N"}, "#state > :state"),
    ">=": ({"values": ["5"], "type": "N"}, "#state >= :state"),
    "BETWEEN": ({"values": ["a", "f"]}, "#state BETWEEN :state_low AND :state_high"),
    "IN": ({"values": ["a", "b", "c"]}, "#state IN (:state, :state_2, :state_3)"),
    "begins_with": ({"values": ["op"]}, "begins_with(#state, :state)"),
    "contains": ({"values": ["pe"]}, "contains(#state, :state)"),
    "attribute_exists": ({}, "attribute_exists(#state)"),
    "attribute_not_exists": ({}, "attribute_not_exists(#state)"),
    "attribute_type": ({"values": ["SS"]}, "attribute_type(#state, :state)"),
    "size": ({"comparison": ">=", "values": ["3"]}, "size(#state) >= :state"),
}


@pytest.mark.parametrize("operator", FILTER_OPERATORS)
def test_every_filter_operator(operator):
    row, expression = FILTERS[operator]
    params = scan(filters=[{"attribute": "state", "operator": operator, **row}])
    assert params["FilterExpression"] == expression
    assert params["ExpressionAttributeNames"] == {"#state": "state"}
    values = params.get("ExpressionAttributeValues", {})
    if operator == "size":
        assert values == {":state": 3}
    elif operator == "attribute_type":
        assert values == {":state": "SS"}


def test_filter_values_take_their_type():
    params = scan(
        filters=[
            {"attribute": "paid", "operator": "=", "values": ["true"], "type": "BOOL"},
            {"attribute": "note", "operator": "=", "values": [""], "type": "NULL"},
            {"attribute": "code", "operator": "=", "values": ["007"], "type": "S"},
            {"attribute": "count", "operator": "=", "values": ["007"], "type": "N"},
        ]
    )
    assert params["ExpressionAttributeValues"] == {
        ":paid": True,
        ":note": None,
        ":code": "007",
        ":count": 7,
    }
    assert (
        params["FilterExpression"]
        == "#paid = :paid AND #note = :note AND #code = :code AND #count = :count"
    )


def test_reserved_words_and_odd_names_are_aliased():
    params = scan(
        filters=[
            {"attribute": "status", "operator": "=", "values": ["x"]},
            {"attribute": "level", "operator": ">", "values": ["2"], "type": "N"},
            {"attribute": "first name", "operator": "=", "values": ["A"]},
            {"attribute": "first-name", "operator": "=", "values": ["B"]},
        ],
        projection=["name", "status", "first name"],
    )
    assert params["ExpressionAttributeNames"] == {
        "#status": "status",
        "#level": "level",
        "#first_name": "first name",
        "#first_name_2": "first-name",
        "#name": "name",
    }
    assert params["FilterExpression"] == (
        "#status = :status AND #level > :level AND #first_name = :first_name "
        "AND #first_name_2 = :first_name_2"
    )
    assert params["ProjectionExpression"] == "#name, #status, #first_name"


def test_options():
    params = query(index="by-name", descending=True, limit=10, consistent_read=True)
    assert (params["ScanIndexForward"], params["Limit"], params["ConsistentRead"]) == (
        False,
        10,
        True,
    )
    assert scan(limit=5, consistent_read=True) == {
        "TableName": "orders",
        "Limit": 5,
        "ConsistentRead": True,
    }


# -- errors name the field --------------------------------------------------------------------


def test_errors_name_the_field():
    assert problems(
        {
            "operation": "Query",
            "index": "by-status",
            "sort_key": {"operator": "BETWEEN", "values": ["1"]},
            "consistent_read": True,
            "filters": [
                {"attribute": "status", "operator": "=", "values": ["x"]},
                {"attribute": "", "operator": "="},
                {"attribute": "a", "operator": "IN", "values": []},
                {"attribute": "b", "operator": "size", "values": ["1"]},
                {"attribute": "c", "operator": "=", "values": ["x"], "type": "N"},
                {"attribute": "d", "operator": "like", "values": ["x"]},
                {"attribute": "e", "operator": "attribute_type", "values": ["STRING"]},
            ],
            "limit": 0,
        }
    ) == {
        "partition_key": "a Query needs the value of the partition key status",
        "sort_key.values": "BETWEEN needs two values (low and high), got 1",
        "filters[0].attribute": "status is a key of this Query: put it in the key condition, "
        "a Query cannot filter on its keys",
        "filters[1].attribute": "name the attribute to filter on",
        "filters[2].values": "IN needs from 1 to 100 values, got 0",
        "filters[3].comparison": "size needs a comparison: =, <>, <, <=, >, >=, BETWEEN",
        "filters[4].values[0]": "'x' is not a number",
        "filters[5].operator": "'like' is not one of " + ", ".join(FILTER_OPERATORS),
        "filters[6].values": "'STRING' is not a type: B, BOOL, BS, L, M, N, NS, NULL, S, SS",
        "limit": "a whole number of items, 1 or more, not 0",
        "consistent_read": "the global secondary index by-status cannot be read consistently "
        "(only the table and its local indexes can)",
    }


def test_errors_about_keys_and_indexes():
    assert problems({"operation": "Query", "partition_key": "c", "index": "nope"}) == {
        "index": "orders has no index 'nope' (its indexes: by-status, by-name)"
    }
    assert problems(
        {
            "operation": "Query",
            "partition_key": "c",
            "sort_key": {"operator": "begins_with", "values": ["1"]},
        }
    ) == {
        "sort_key.operator": "begins_with works on strings and binary; the sort key created is a number"
    }
    assert problems(
        {"operation": "Query", "partition_key": "c", "sort_key": {"operator": "=", "values": ["x"]}}
    ) == {"sort_key.values[0]": "'x' is not a number"}
    assert problems({"operation": "Scan", "partition_key": "c", "descending": True}) == {
        "partition_key": "a Scan reads every item: key conditions belong to a Query (or filter)",
        "descending": "only a Query reads in sort-key order",
    }
    assert problems({"operation": "GetItem"}) == {"operation": "the form builds a Query or a Scan"}
    # on the table, the Query may filter on the index's keys: they are not the table's
    assert query(filters=[{"attribute": "status", "operator": "=", "values": ["x"]}])
    no_sort = describe_table({**RAW_TABLE, "KeySchema": RAW_TABLE["KeySchema"][:1]})
    with pytest.raises(ValidationError, match="the table orders has no sort key"):
        build_request(
            {
                "operation": "Query",
                "partition_key": "c",
                "sort_key": {"operator": "=", "values": ["1"]},
            },
            no_sort,
        )


def test_key_values_are_not_empty_and_projection_may_be_one_text():
    assert problems(
        {
            "operation": "Query",
            "partition_key": "c",
            "sort_key": {"operator": "BETWEEN", "values": ["1", ""]},
        }
    ) == {"sort_key.values[1]": "give a value of created"}
    assert scan(projection=" name,status , ,level")["ProjectionExpression"] == (
        "#name, #status, #level"
    )


def test_the_choices_the_page_offers_are_those_built():
    choices = form_choices()
    assert set(choices["arity"]) == set(FILTER_OPERATORS) | set(choices["sort_key_operators"])
    assert choices["arity"]["IN"] == "many" and choices["arity"]["attribute_exists"] == "0"
    for operator in choices["sort_key_operators"]:  # each one builds with the values it says
        count = {"1": 1, "2": 2}[choices["arity"][operator]]
        values = ["Al", "Bo"][:count]
        assert query(index="by-name", sort_key={"operator": operator, "values": values})


def test_the_message_lists_every_problem():
    with pytest.raises(ValidationError) as raised:
        build_request(
            {"operation": "Query", "filters": [{"attribute": "x", "operator": "BETWEEN"}]}, TABLE
        )
    assert str(raised.value) == (
        "Invalid parameters for Query:\n"
        "  - partition_key: a Query needs the value of the partition key customer\n"
        "  - filters[0].values: BETWEEN needs two values (low and high), got 0"
    )


# -- the requests, run against DynamoDB Local -------------------------------------------------


@pytest.fixture(scope="module")
def orders(dynamodb_local):
    connection = Endpoint(dynamodb_local.endpoint_url).connection()
    name = "orders-" + uuid.uuid4().hex[:8]
    create = {
        **{k: v for k, v in RAW_TABLE.items() if k != "GlobalSecondaryIndexes"},
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "GlobalSecondaryIndexes": RAW_TABLE["GlobalSecondaryIndexes"],
    }
    connection.run("CreateTable", create)
    items = [
        {"customer": "c1", "created": 1, "status": "open", "total": 10, "name": "Ann", "level": 1},
        {"customer": "c1", "created": 2, "status": "open", "total": 25, "name": "Bob", "level": 3},
        {"customer": "c1", "created": 3, "status": "closed", "total": 40, "name": "Al", "level": 2},
        {"customer": "c2", "created": 1, "status": "open", "total": 30, "name": "Cy", "level": 5},
        {"customer": "c2", "created": 2, "status": "open", "total": 35, "name": "Alma"},
    ]
    for item in items:
        connection.run("PutItem", {"TableName": name, "Item": item})
    table = describe_table(connection.run("DescribeTable", {"TableName": name}).data["Table"])
    yield connection, table
    connection.run("DeleteTable", {"TableName": name})


def run(orders, form: dict) -> list[dict]:
    connection, table = orders
    params = request_text(build_request(form, table))  # through the editor's text
    return connection.run(form["operation"], params, all_pages=True).data["Items"]


def test_runs_on_the_table_the_global_and_the_local_index(orders):
    on_table = run(
        orders,
        {
            "operation": "Query",
            "partition_key": "c1",
            "sort_key": {"operator": "BETWEEN", "values": ["2", "3"]},
            "filters": [{"attribute": "level", "operator": ">=", "values": ["3"], "type": "N"}],
            "descending": True,
        },
    )
    assert [i["name"] for i in on_table] == ["Bob"]
    on_gsi = run(
        orders,
        {
            "operation": "Query",
            "index": "by-status",
            "partition_key": "open",
            "sort_key": {"operator": "BETWEEN", "values": ["20", "34"]},
            "descending": True,
        },
    )
    assert [i["total"] for i in on_gsi] == [30, 25]
    on_lsi = run(
        orders,
        {
            "operation": "Query",
            "index": "by-name",
            "partition_key": "c1",
            "sort_key": {"operator": "begins_with", "values": ["A"]},
            "filters": [{"attribute": "status", "operator": "=", "values": ["closed"]}],
            "projection": ["name", "status"],
            "consistent_read": True,
        },
    )
    assert on_lsi == [{"name": "Al", "status": "closed"}]


def test_scans_with_filters_on_reserved_words(orders):
    rows = run(
        orders,
        {
            "operation": "Scan",
            "filters": [
                {"attribute": "status", "operator": "IN", "values": ["open", "pending"]},
                {"attribute": "level", "operator": "attribute_not_exists"},
            ],
        },
    )
    assert [i["name"] for i in rows] == ["Alma"]
    rows = run(
        orders,
        {
            "operation": "Scan",
            "index": "by-status",
            "filters": [
                {
                    "attribute": "name",
                    "operator": "size",
                    "comparison": "BETWEEN",
                    "values": ["3", "3"],
                },
                {"attribute": "name", "operator": "contains", "values": ["n"]},
            ],
        },
    )
    assert [i["name"] for i in rows] == ["Ann"]
    typed = run(
        orders,
        {
            "operation": "Scan",
            "filters": [{"attribute": "level", "operator": "attribute_type", "values": ["N"]}],
            "limit": 2,
        },
    )
    assert len(typed) == 4  # every item with a level, two read per page
