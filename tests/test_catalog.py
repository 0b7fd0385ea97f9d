"""The operation catalog and the checks made before anything is sent."""

import json

import pytest

from dynaquery import prepare
from dynaquery.catalog import catalog, get_operation
from dynaquery.errors import InputError, UnknownOperationError, ValidationError


def test_every_model_operation_is_listed():
    import botocore.session

    model = botocore.session.get_session().get_service_model("dynamodb")
    assert [op.name for op in catalog()] == list(model.operation_names)
    assert len(catalog()) >= 40


@pytest.mark.parametrize("spelling", ["GetItem", "get_item", "get-item", "GETITEM", "get item"])
def test_names_in_any_spelling(spelling):
    assert get_operation(spelling).name == "GetItem"


@pytest.mark.parametrize(
    "alias,name",
    [
        ("list_tables", "ListTables"),
        ("get_item", "GetItem"),
        ("query_table", "Query"),
        ("scan_table", "Scan"),
        ("delete_item", "DeleteItem"),
    ],
)
def test_first_documents_names_are_aliases(alias, name):
    assert get_operation(alias).name == name


def test_misspelled_name_gets_did_you_mean():
    with pytest.raises(UnknownOperationError) as info:
        get_operation("DescribeTabel")
    assert info.value.suggestions[0] == "DescribeTable"
    assert "Did you mean DescribeTable" in str(info.value)
    assert info.value.exit_code == 2


def test_access_classification():
    assert get_operation("GetItem").access == "read"
    assert get_operation("TransactGetItems").access == "read"
    assert get_operation("ListTables").access == "read"
    assert get_operation("PutItem").access == "write"
    assert get_operation("DeleteTable").access == "write"
    assert get_operation("ExecuteStatement").access == "statement"


def test_summaries_and_parameters_come_from_the_model():
    op = get_operation("Query")
    assert op.summary.startswith("You must provide the name of the partition key")
    names = {p.name: p for p in op.parameters}
    assert names["TableName"].required and not names["Limit"].required
    assert names["ReturnConsumedCapacity"].type.startswith("string: ")


def test_every_operation_has_a_parseable_example():
    for op in catalog():
        json.loads("{}" if not op.example.strip() else _strip(op.example))


def _strip(text):
    from dynaquery.parsing import strip_comments

    return strip_comments(text)[0]


def test_curated_examples_pass_validation():
    for name in catalog().examples:
        prepare(name, catalog().examples[name])


def test_paginators_from_the_model():
    assert get_operation("Scan").pagination["input_token"] == ["ExclusiveStartKey"]
    assert get_operation("GetItem").pagination is None


# -- validation --------------------------------------------------------------------------------


def problems_of(operation, params):
    with pytest.raises(ValidationError) as info:
        prepare(operation, params)
    return {p.path: p.message for p in info.value.problems}


def test_missing_required_and_unknown_with_suggestion():
    found = problems_of("GetItem", '{"Key": {"a": "b"}, "ConsistantRead": true}')
    assert found["TableName"] == "required, but missing"
    assert "did you mean 'ConsistentRead'" in found["ConsistantRead"]


def test_wrong_types_name_what_was_expected():
    found = problems_of("Scan", '{"TableName": "users", "Limit": "10", "ConsistentRead": 1}')
    assert found["Limit"].startswith("expected an integer, got a string")
    assert "without quotes" in found["Limit"]
    assert found["ConsistentRead"] == "expected true or false, got a number"


def test_nested_paths():
    found = problems_of(
        "CreateTable",
        """{
        "TableName": "t",
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASHH"}],
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S", "Extra": 1}],
        "BillingMode": "PAY_PER_REQUEST"}""",
    )
    assert "did you mean 'HASH'" in found["KeySchema[0].KeyType"]
    assert "unknown parameter" in found["AttributeDefinitions[0].Extra"]


def test_placeholders_and_lengths():
    found = problems_of("Scan", '{"TableName": "<table_name>"}')
    assert found["TableName"] == "'<table_name>' is a placeholder: replace it with a real value"
    found = problems_of(
        "RestoreTableFromBackup",
        '{"BackupArn": "arn:aws:dynamodb:us-east-2:123456789012:table/users",'
        ' "TargetTableName": ""}',
    )
    assert found["TargetTableName"].startswith("must not be empty")


def test_expression_placeholders_are_checked():
    found = problems_of(
        "Query",
        """{"TableName": "users", "KeyConditionExpression": "id = :v",
        "ExpressionAttributeValues": {":w": "x"}, "ExpressionAttributeNames": {"#n": "name"}}""",
    )
    assert (
        "uses :v, which ExpressionAttributeValues does not define"
        in found["KeyConditionExpression"]
    )
    assert found["ExpressionAttributeValues.:w"].startswith("not used")
    assert found["ExpressionAttributeNames.#n"].startswith("not used")


def test_expression_checks_reach_into_transactions():
    found = problems_of(
        "TransactWriteItems",
        """{"TransactItems": [{"Update": {
        "TableName": "t", "Key": {"id": 1}, "UpdateExpression": "SET #a = :b"}}]}""",
    )
    assert "TransactItems[0].Update.UpdateExpression" in found


def test_attribute_value_problems_have_paths():
    found = problems_of("PutItem", '{"TableName": "t", "Item": {"id": {"N": "abc"}}}')
    assert found == {"Item.id.N": "'abc' is not a number"}


def test_operations_without_input_take_no_parameters():
    assert prepare("DescribeEndpoints").params == {}
    found = problems_of("DescribeLimits", '{"TableName": "x"}')
    assert "unknown parameter" in found["TableName"]


def test_prepared_request_is_typed():
    request = prepare("get-item", '{"TableName": "users", "Key": {"id": 1, "s": {"S": "x"}}}')
    assert request.params["Key"] == {"id": {"N": "1"}, "s": {"S": "x"}}
    with pytest.raises(InputError):
        prepare("GetItem", 5)


# -- any input ends in a request or a clear error -----------------------------------------------

from hypothesis import given, settings, strategies as st  # noqa: E402

_names = st.sampled_from(catalog().names)
_keys = st.sampled_from(
    [
        "TableName",
        "Key",
        "Item",
        "RequestItems",
        "TransactItems",
        "Limit",
        "ExpressionAttributeValues",
        "KeyConditionExpression",
        "S",
        "N",
        "M",
        "L",
        "B",
        "SS",
        "NS",
        "NULL",
        "BOOL",
        "Keys",
        "PutRequest",
        "x",
    ]
)
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=8)
    | st.decimals(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_keys, children, max_size=4),
    max_leaves=15,
)


@settings(max_examples=1000, deadline=None)
@given(_names, st.dictionaries(_keys, _json, max_size=5))
def test_any_parameters_end_in_a_request_or_an_input_error(name, params):
    try:
        prepare(name, params)
    except InputError as error:
        assert str(error)
