"""Mistakes dynaquery sees before DynamoDB does (reserved words, table names), and the advice on
DynamoDB's key errors: each against the real engine where DynamoDB's own answer is the point."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dynaquery import ServiceError, hints, prepare
from dynaquery.cli import cli
from dynaquery.errors import ValidationError

from support import Endpoint, pk_sk_table

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx`")  # starlette's own TestClient note


def problems_of(operation, params) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        prepare(operation, params)
    return {p.path: p.message for p in info.value.problems}


# -- reserved words ----------------------------------------------------------------------------

SPEC_UPDATE = """{
    "TableName" : "users",
    "Key" : {"team_id" : {"S" : "team_1"}, "employee_id" : {"S" : "emp_1"}},
    "UpdateExpression" : "set name = Amal"
}"""


def test_the_documentations_update_is_refused_with_the_word_and_the_fix():
    found = problems_of("UpdateItem", SPEC_UPDATE)
    message = found["UpdateExpression"]
    assert message.startswith(
        "'name' is a reserved word in DynamoDB expressions: write #name instead"
    )
    assert '"ExpressionAttributeNames": {"#name": "name"}' in message
    # Amal, written bare, is another attribute: the fix puts it in as a value.
    assert (
        '"UpdateExpression": "SET #name = :name", "ExpressionAttributeNames": {"#name": "name"}, '
        '"ExpressionAttributeValues": {":name": "Amal"}'
    ) in message
    fixed = json.loads(SPEC_UPDATE)
    fixed.update(
        {
            "UpdateExpression": "SET #name = :name",
            "ExpressionAttributeNames": {"#name": "name"},
            "ExpressionAttributeValues": {":name": "Amal"},
        }
    )
    assert prepare("UpdateItem", fixed).params["ExpressionAttributeValues"] == {
        ":name": {"S": "Amal"}
    }


KEY = {"team_id": "t1", "employee_id": "e1"}
EVERY_PLACE = [
    (
        "Query",
        {
            "TableName": "users",
            "KeyConditionExpression": "Data = :v",
            "FilterExpression": "x > :v AND Status = :v",
            "ProjectionExpression": "a, b.c[0].Year",
            "ExpressionAttributeValues": {":v": 1},
        },
        {
            "KeyConditionExpression": "Data",
            "FilterExpression": "Status",
            "ProjectionExpression": "Year",
        },
    ),
    (
        "Scan",
        {
            "TableName": "users",
            "FilterExpression": "comment = :v",
            "ExpressionAttributeValues": {":v": 1},
        },
        {"FilterExpression": "comment"},
    ),
    (
        "GetItem",
        {"TableName": "users", "Key": KEY, "ProjectionExpression": "level"},
        {"ProjectionExpression": "level"},
    ),
    (
        "PutItem",
        {"TableName": "users", "Item": KEY, "ConditionExpression": "attribute_not_exists(owner)"},
        {"ConditionExpression": "owner"},
    ),
    (
        "DeleteItem",
        {
            "TableName": "users",
            "Key": KEY,
            "ConditionExpression": "version = :v",
            "ExpressionAttributeValues": {":v": 1},
        },
        {},
    ),  # version is no reserved word
    (
        "UpdateItem",
        {
            "TableName": "users",
            "Key": KEY,
            "UpdateExpression": "SET a = :v REMOVE b.user",
            "ConditionExpression": "size(c) < :v",
            "ExpressionAttributeValues": {":v": 1},
        },
        {"UpdateExpression": "user"},
    ),
    (
        "TransactWriteItems",
        {
            "TransactItems": [
                {
                    "Update": {
                        "TableName": "users",
                        "Key": KEY,
                        "UpdateExpression": "ADD total :v",
                        "ExpressionAttributeValues": {":v": 1},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": "users",
                        "Key": KEY,
                        "ConditionExpression": "attribute_exists(#k) AND region = :v",
                        "ExpressionAttributeNames": {"#k": "key"},
                        "ExpressionAttributeValues": {":v": 1},
                    }
                },
                {
                    "Put": {
                        "TableName": "users",
                        "Item": KEY,
                        "ConditionExpression": "attribute_not_exists(hash)",
                    }
                },
                {
                    "Delete": {
                        "TableName": "users",
                        "Key": KEY,
                        "ConditionExpression": "attribute_exists(ttl)",
                    }
                },
            ]
        },
        {
            "TransactItems[0].Update.UpdateExpression": "total",
            "TransactItems[1].ConditionCheck.ConditionExpression": "region",
            "TransactItems[2].Put.ConditionExpression": "hash",
            "TransactItems[3].Delete.ConditionExpression": "ttl",
        },
    ),
    (
        "TransactGetItems",
        {
            "TransactItems": [
                {"Get": {"TableName": "users", "Key": KEY, "ProjectionExpression": "team_id, date"}}
            ]
        },
        {"TransactItems[0].Get.ProjectionExpression": "date"},
    ),
    (
        "BatchGetItem",
        {"RequestItems": {"users": {"Keys": [KEY], "ProjectionExpression": "timestamp"}}},
        {"RequestItems.users.ProjectionExpression": "timestamp"},
    ),
]


@pytest.mark.parametrize("operation,params,expected", EVERY_PLACE, ids=[e[0] for e in EVERY_PLACE])
def test_reserved_words_are_found_in_every_expression(operation, params, expected):
    if not expected:
        prepare(operation, params)
        return
    found = problems_of(operation, params)
    assert set(found) == set(expected)
    for path, word in expected.items():
        assert found[path].startswith(f"{word!r} is a reserved word"), found[path]
        assert f'"ExpressionAttributeNames": {{"#{word}": "{word}"}}' in found[path]


def test_the_grammar_is_not_taken_for_attribute_names():
    # Functions, keywords (any case), placeholders, list indexes: nothing here is an attribute name.
    prepare(
        "Query",
        {
            "TableName": "users",
            "KeyConditionExpression": "#p = :v AND begins_with(sk, :v)",
            "FilterExpression": (
                "attribute_exists(#n) and attribute_not_exists(a.b[2]) "
                "OR NOT contains(c, :v) AND size(d) BETWEEN :v AND :w "
                "AND e IN (:v, :w) AND attribute_type(f, :t)"
            ),
            "ExpressionAttributeNames": {"#p": "pk", "#n": "name"},
            "ExpressionAttributeValues": {":v": 1, ":w": 2, ":t": "S"},
        },
    )
    prepare(
        "UpdateItem",
        {
            "TableName": "users",
            "Key": KEY,
            "UpdateExpression": (
                "set a = if_not_exists(a, :v), b = list_append(b, :l) "
                "REMOVE c[1] ADD d :v DELETE e :s"
            ),
            "ExpressionAttributeValues": {":v": 1, ":l": [1], ":s": {"SS": ["x"]}},
        },
    )


def test_every_path_element_and_any_case():
    with pytest.raises(ValidationError) as info:
        prepare(
            "GetItem",
            {
                "TableName": "users",
                "Key": KEY,
                "ProjectionExpression": "profile.Name, profile.emails[0].DOMAIN, ok.name",
            },
        )
    found = [(p.path, p.message.split(":")[0]) for p in info.value.problems]
    # One problem per word and expression, the first spelling named (and aliased) as written.
    assert found == [
        ("ProjectionExpression", "'Name' is a reserved word in DynamoDB expressions"),
        ("ProjectionExpression", "'DOMAIN' is a reserved word in DynamoDB expressions"),
        ("ProjectionExpression", "'name' is a reserved word in DynamoDB expressions"),
    ]
    assert '{"#DOMAIN": "DOMAIN"}' in info.value.problems[1].message


def test_an_alias_already_defined_is_the_one_advised():
    found = problems_of(
        "Scan",
        {
            "TableName": "users",
            "FilterExpression": "#s = :v OR status = :w",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":v": 1, ":w": 2},
        },
    )
    assert (
        "write #s instead (ExpressionAttributeNames already maps it to 'status')"
        in found["FilterExpression"]
    )


def test_an_items_own_attributes_are_not_expressions():
    # Only where the model has expressions: an attribute called FilterExpression is just data.
    prepare(
        "PutItem",
        {
            "TableName": "users",
            "Item": {**KEY, "FilterExpression": "name = :x", "m": {"ProjectionExpression": "year"}},
        },
    )


def test_the_list_is_dynamodbs_published_one():
    words = hints.reserved_words()
    assert len(words) == 573
    assert {"name", "status", "year", "data", "ttl", "zone", "abort"} <= words


def test_the_check_agrees_with_dynamodb_local_on_every_word(dynamodb_local):
    """Each word of the list is refused before sending exactly when DynamoDB Local refuses it as a
    reserved keyword (the grammar's own keywords are syntax errors there, and size and convert
    pass)."""
    client = Endpoint(dynamodb_local.endpoint_url).connection().client
    client.create_table(
        TableName="words",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )
    disagree = []
    for word in sorted(hints.reserved_words()):
        params = {
            "TableName": "words",
            "Key": {"id": {"S": "a"}},
            "ProjectionExpression": f"id, {word}",
        }
        try:
            prepare("GetItem", params)
            refused_here = False
        except ValidationError:
            refused_here = True
        try:
            client.get_item(**params)
            refused_there = False
        except client.exceptions.ClientError as error:
            refused_there = "reserved keyword" in str(error)
        if refused_here != refused_there:
            disagree.append(word)
    assert disagree == []


def test_advice_after_dynamodbs_own_reserved_word_error():
    # A word DynamoDB reserves that the list does not hold yet still gets the alias fix.
    hint = hints.advise(
        "ValidationException",
        "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: name",
        {"UpdateExpression": "set name = Amal"},
        lambda table: None,
    )
    assert hint.startswith("'name' is a reserved word in expressions: write #name instead")
    assert '"ExpressionAttributeValues": {":name": "Amal"}' in hint


def test_the_pages_inline_check_reports_it_with_its_line(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from dynaquery import Workspace
    from dynaquery.server import _digest, create_app

    monkeypatch.delenv("DYNAQUERY_SECRET_KEY", raising=False)
    token = "test-token-hints-0123456789"
    with Workspace.open(home=tmp_path) as workspace:
        client = TestClient(create_app(workspace, _digest(token)))
        answer = client.post(
            "/api/check",
            headers={"Authorization": f"Bearer {token}"},
            json={"operation": "UpdateItem", "params": SPEC_UPDATE},
        )
    body = answer.json()
    assert answer.status_code == 200 and body["ok"] is False
    problem = body["error"]["problems"][0]
    assert (
        problem["path"] == "UpdateExpression" and "'name' is a reserved word" in problem["message"]
    )
    assert (problem["line"], body["error"]["line"]) == (4, 4)


def test_a_saved_querys_placeholder_table_does_not_hide_the_expression_checks():
    from dynaquery.workspace import check_query

    # The placeholder is no table name, so the model finds fault there (ignored while saving):
    # the expression checks still run beside it.
    with pytest.raises(ValidationError) as info:
        check_query(
            "Query",
            '{"TableName": "{{ table }}", "KeyConditionExpression": "name = :v"}',
            None,
            None,
        )
    assert [p.path for p in info.value.problems] == [
        "KeyConditionExpression",
        "KeyConditionExpression",
    ]
    assert "uses :v, which ExpressionAttributeValues does not define" in str(info.value)
    assert "'name' is a reserved word" in str(info.value)
    assert check_query("Scan", '{"TableName": "{{ table }}"}', None, None).placeholders == ["table"]


# -- keys: DynamoDB's own errors, with the table's real key --------------------------------------


@pytest.fixture(scope="module")
def conn(dynamodb_local):
    connection = Endpoint(dynamodb_local.endpoint_url).connection()
    connection.run("CreateTable", pk_sk_table("events"))
    connection.run(
        "CreateTable",
        {
            "TableName": "single",
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        },
    )
    return connection


def service_error(conn, operation, params) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        conn.run(operation, params)
    return info.value


EVENTS_KEY = "The key of table 'events' is pk (partition, S), sk (sort, N)"
LACKS_SK = "Missing: sk (the sort key, a number)."


@pytest.mark.parametrize(
    "operation,extra",
    [
        ("GetItem", {}),
        ("DeleteItem", {}),
        ("UpdateItem", {"UpdateExpression": "SET b = :b", "ExpressionAttributeValues": {":b": 1}}),
    ],
)
def test_a_partition_key_alone_names_the_missing_sort_key(conn, operation, extra):
    error = service_error(conn, operation, {"TableName": "events", "Key": {"pk": "a"}, **extra})
    assert "The number of conditions on the keys is invalid" in error.service_message
    assert error.hint == f"{EVENTS_KEY}; the Key given has pk. {LACKS_SK}"


def test_a_number_for_a_string_key_names_both_types(conn):
    error = service_error(conn, "GetItem", {"TableName": "single", "Key": {"id": 5}})
    assert "Type mismatch for key" in error.service_message
    assert error.hint == (
        "The key of table 'single' is id (partition, S); the Key given has id. "
        "Wrong type: id is a number (N), the table's id is a string (S)."
    )
    typed = service_error(
        conn, "GetItem", {"TableName": "events", "Key": {"pk": "a", "sk": {"S": "1"}}}
    )
    assert "Wrong type: sk is a string (S), the table's sk is a number (N)." in typed.hint


def test_an_attribute_that_is_no_key_is_named(conn):
    error = service_error(
        conn, "GetItem", {"TableName": "events", "Key": {"pk": "a", "sk": 1, "x": 2}}
    )
    assert error.hint.endswith(
        "Not part of the key: x (a key names exactly pk and sk, nothing else)."
    )


def test_keys_inside_batches_and_transactions(conn):
    batch = service_error(
        conn,
        "BatchGetItem",
        {"RequestItems": {"events": {"Keys": [{"pk": "a", "sk": 1}, {"pk": "a"}]}}},
    )
    assert batch.hint == f"{EVENTS_KEY}; a key in RequestItems.events.Keys has pk. {LACKS_SK}"
    writes = service_error(
        conn,
        "BatchWriteItem",
        {"RequestItems": {"events": [{"DeleteRequest": {"Key": {"pk": "a"}}}]}},
    )
    assert LACKS_SK in writes.hint and "RequestItems.events (DeleteRequest)" in writes.hint
    transact = service_error(
        conn,
        "TransactGetItems",
        {
            "TransactItems": [
                {"Get": {"TableName": "single", "Key": {"id": "x"}}},
                {"Get": {"TableName": "events", "Key": {"pk": "a"}}},
            ]
        },
    )
    assert transact.hint == f"{EVENTS_KEY}; TransactItems[1].Get.Key has pk. {LACKS_SK}"
    put = service_error(
        conn, "PutItem", {"TableName": "events", "Item": {"pk": "a", "sk": "1", "body": "x"}}
    )
    assert put.hint == (
        f"{EVENTS_KEY}; the Item given has pk, sk. "
        "Wrong type: sk is a string (S), the table's sk is a number (N)."
    )


def test_a_query_value_of_the_wrong_type_is_named(conn):
    error = service_error(
        conn,
        "Query",
        {
            "TableName": "events",
            "KeyConditionExpression": "#p = :p AND sk BETWEEN :a AND :b",
            "ExpressionAttributeNames": {"#p": "pk"},
            "ExpressionAttributeValues": {":p": "x", ":a": "1", ":b": "9"},
        },
    )
    assert "Condition parameter type does not match schema type" in error.service_message
    assert error.hint == (
        f"{EVENTS_KEY}. Wrong type in KeyConditionExpression: :a is a string (S), "
        "but sk is a number (N); :b is a string (S), but sk is a number (N)."
    )


# -- table names ---------------------------------------------------------------------------------

RULE = "a table name is 3 to 255 characters of [a-zA-Z0-9_.-]+"
ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/users"


@pytest.mark.parametrize(
    "operation,params,path",
    [
        ("GetItem", {"TableName": "ab", "Key": KEY}, "TableName"),
        ("Scan", {"TableName": "my table"}, "TableName"),
        (
            "CreateTable",
            {
                "TableName": "x" * 256,
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            },
            "TableName",
        ),
        (
            "BatchGetItem",
            {"RequestItems": {"users": {"Keys": [KEY]}, "us": {"Keys": [KEY]}}},
            "RequestItems.us",
        ),
        (
            "BatchWriteItem",
            {"RequestItems": {"users/x": [{"DeleteRequest": {"Key": KEY}}]}},
            "RequestItems.users/x",
        ),
        (
            "TransactWriteItems",
            {"TransactItems": [{"Put": {"TableName": "ü-table", "Item": KEY}}]},
            "TransactItems[0].Put.TableName",
        ),
        (
            "RestoreTableToPointInTime",
            {
                "SourceTableName": "users",
                "TargetTableName": "users restored",
                "UseLatestRestorableTime": True,
            },
            "TargetTableName",
        ),
        (
            "RestoreTableToPointInTime",
            {
                "SourceTableName": ARN,
                "TargetTableName": "restored",
                "UseLatestRestorableTime": True,
            },
            "SourceTableName",
        ),
        ("DescribeGlobalTable", {"GlobalTableName": "g"}, "GlobalTableName"),
        ("ListTables", {"ExclusiveStartTableName": "a:b"}, "ExclusiveStartTableName"),
    ],
)
def test_a_table_name_outside_dynamodbs_rule_is_bad_input(operation, params, path):
    found = problems_of(operation, params)
    assert RULE in found[path], found


def test_arns_stay_allowed_where_the_model_takes_them():
    prepare("GetItem", {"TableName": ARN, "Key": KEY})
    prepare("BatchGetItem", {"RequestItems": {ARN: {"Keys": [KEY]}}})
    prepare("GetItem", {"TableName": "a.b-c_D9", "Key": KEY})
    message = problems_of("GetItem", {"TableName": "ab", "Key": KEY})["TableName"]
    assert (
        message == f"'ab' is not a valid table name: too short: 2 characters; {RULE} (or give the "
        "table's ARN, arn:aws:dynamodb:REGION:ACCOUNT:table/NAME)"
    )
    # A parameter that takes a name only says nothing of ARNs.
    assert (
        "ARN" not in problems_of("DescribeGlobalTable", {"GlobalTableName": ARN})["GlobalTableName"]
    )


def test_the_command_refuses_it_before_sending():
    # Port 9 on loopback: were anything sent, the answer would be a connection error (exit 1).
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "Scan",
            '{"TableName": "my table"}',
            "--endpoint-url",
            "http://127.0.0.1:9",
            "--region",
            "us-east-1",
            "--access-key-id",
            "k",
            "--secret-access-key",
            "s",
        ],
    )
    assert result.exit_code == 2, result.output
    assert "TableName: 'my table' is not a valid table name: ' ' is not allowed" in result.output


def test_every_table_name_parameter_of_the_model_is_checked():
    """Each parameter named *TableName (and RequestItems' keys) has one of the two shapes the
    check reads the rule from: a model that adds another is noticed here."""
    from dynaquery.catalog import catalog

    seen: dict[str, str] = {}

    def walk(shape, path, depth=0):
        if depth > 6 or shape.name == "AttributeValue":
            return
        if shape.type_name == "structure":
            for name, member in shape.members.items():
                if name.endswith("TableName") and member.type_name == "string":
                    seen[f"{path}.{name}"] = member.name
                walk(member, f"{path}.{name}", depth + 1)
        elif shape.type_name == "list":
            walk(shape.member, f"{path}[]", depth + 1)
        elif shape.type_name == "map":
            if path.endswith("RequestItems"):
                seen[f"{path}{{key}}"] = shape.key.name
            walk(shape.value, f"{path}{{}}", depth + 1)

    for operation in catalog():
        if operation.input_shape is not None:
            walk(operation.input_shape, operation.name)
    assert len(seen) > 40 and "BatchGetItem.RequestItems{key}" in seen
    assert set(seen.values()) <= {"TableName", "TableArn"}, seen
