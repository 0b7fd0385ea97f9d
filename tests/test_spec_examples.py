"""Every JSON example of both spec documents, verbatim, through the real `dynaquery run`.

Each runs against a real engine on loopback: DynamoDB Local, or moto's server for the operations
DynamoDB Local lacks (backups, point-in-time recovery, tags). Examples that are themselves wrong
must end in an error that says what to fix. A few operations (global tables, contributor insights,
replica auto scaling) exist in neither engine: for those the example must pass every check and reach
the server, and the user must be told plainly that this endpoint does not implement it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from dynaquery import prepare
from dynaquery.demo import seed

from support import (
    REFRESH_SPEC,
    SPEC_DATA,
    SPEC_DIR,
    Endpoint,
    reset_moto,
    spec_copy_differences,
    spec_examples,
    spec_extract,
    spec_headings,
)

DDB, MOTO = "dynamodb-local", "moto"


@dataclass
class Case:
    server: str = DDB
    exit: int = 0
    says: list[str] = field(default_factory=list)  # for errors: what stderr must contain
    check: Callable | None = None  # for successes: check(data, endpoint)
    operation: str | None = None  # when the heading is not the operation's name


def unimplemented(operation_heading: str) -> Case:
    return Case(
        DDB,
        1,
        [
            f"{operation_heading} failed: UnknownOperationException",
            "This endpoint does not implement the operation",
        ],
    )


def item(endpoint: Endpoint, table: str, key: str):
    result = endpoint.run("GetItem", f'{{"TableName": "{table}", "Key": {key}}}')
    assert result.code == 0, result.stderr
    return result.json().get("Item")


def check_query_table(data, endpoint):
    assert [i["PostedBy"] for i in data["Items"]] == ["User A", "User B", "User C"]
    assert set(data["Items"][0]) == {"Id", "PostedBy", "ReplyDateTime"}
    assert data["ConsumedCapacity"]["TableName"] == "Reply"


def check_batch_write(data, endpoint):
    assert data["UnprocessedItems"] == {}
    assert item(endpoint, "users", '{"team_id": "team_1", "employee_id": "emp_3"}') is None
    found = item(endpoint, "users", '{"team_id": "team_1", "employee_id": "emp_1"}')
    assert found["name"] == "Aman"


def check_delete_item(data, endpoint):
    assert data == {}
    assert item(endpoint, "users", '{"team_id": "team_1", "employee_id": "emp_3"}') is None


def check_delete_table(data, endpoint):
    assert data["TableDescription"]["TableName"] == "users"
    assert "users" not in endpoint.run("ListTables").json()["TableNames"]


def check_put_item(data, endpoint):
    assert data == {}
    found = item(endpoint, "users", '{"team_id": "team_1", "employee_id": "emp_1"}')
    assert found == {"team_id": "team_1", "employee_id": "emp_1", "name": "Aman"}


def check_tag_resource(data, endpoint):
    tags = endpoint.run(
        "ListTagsOfResource",
        '{"ResourceArn": "arn:aws:dynamodb:us-east-2:123456789012:table/users"}',
    )
    assert tags.json()["Tags"] == [{"Key": "department", "Value": "marketing"}]


CASES: dict[str, Case] = {
    # -- the first document ----------------------------------------------------------------------
    # Its Get Item example misses the closing brace of the whole object (and a TableName).
    "000:Get Item#0": Case(
        exit=2,
        says=[
            "Invalid JSON at line 10, column 1",
            "the '{' opened at line 1, column 1 is never closed",
            "add a '}'",
        ],
    ),
    "000:Query Table#0": Case(check=check_query_table),
    "000:Scan Table#0": Case(exit=2, says=["TableName: '<table_name>' is a placeholder"]),
    "000:Delete Item#0": Case(
        exit=2, says=["Invalid parameters for DeleteItem", "TableName: required, but missing"]
    ),
    # -- the second document ---------------------------------------------------------------------
    "001:BatchGetItem#0": Case(
        check=lambda data, ep: (
            (
                sorted(i["employee_id"] for i in data["Responses"]["users"]) == ["emp_1", "emp_4"]
                and data["UnprocessedKeys"] == {}
            )
            or pytest.fail(str(data))
        )
    ),
    "001:BatchWriteItem#0": Case(check=check_batch_write),
    "001:CreateBackup#0": Case(
        MOTO,
        check=lambda data, ep: (
            (
                data["BackupDetails"]["BackupName"] == "usersBackup"
                and "/backup/" in data["BackupDetails"]["BackupArn"]
            )
            or pytest.fail(str(data))
        ),
    ),
    "001:CreateGlobalTable#0": unimplemented("CreateGlobalTable"),
    # Declares "name", which is no key; DynamoDB refuses attribute definitions that key nothing.
    "001:CreateTable#0": Case(
        exit=2,
        says=[
            "AttributeDefinitions[0]: 'name' is not a key of the table or of any index",
            "remove this entry",
        ],
    ),
    # The ARN is the table's, not a backup's.
    "001:DeleteBackup#0": Case(
        MOTO,
        1,
        [
            "DeleteBackup failed: BackupNotFoundException",
            "is not a backup's ARN",
            "ListBackups lists them",
        ],
    ),
    "001:DeleteItem#0": Case(check=check_delete_item),
    "001:DeleteTable#0": Case(check=check_delete_table),
    "001:DescribeBackup#0": Case(
        MOTO, 1, ["DescribeBackup failed: BackupNotFoundException", "is not a backup's ARN"]
    ),
    "001:DescribeContinuousBackups#0": Case(
        MOTO,
        check=lambda data, ep: (
            (
                data["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"][
                    "PointInTimeRecoveryStatus"
                ]
                == "DISABLED"
            )
            or pytest.fail(str(data))
        ),
    ),
    "001:DescribeContributorInsights#0": unimplemented("DescribeContributorInsights"),
    "001:DescribeGlobalTable#0": unimplemented("DescribeGlobalTable"),
    "001:DescribeGlobalTableSettings#0": unimplemented("DescribeGlobalTableSettings"),
    "001:DescribeTable#0": Case(
        check=lambda data, ep: (
            (
                data["Table"]["TableName"] == "users"
                and data["Table"]["ItemCount"] >= 0
                and [k["AttributeName"] for k in data["Table"]["KeySchema"]]
                == ["team_id", "employee_id"]
            )
            or pytest.fail(str(data))
        )
    ),
    "001:DescribeTableReplicaAutoScaling#0": unimplemented("DescribeTableReplicaAutoScaling"),
    "001:DescribeTimeToLive#0": Case(
        check=lambda data, ep: (
            (data["TimeToLiveDescription"]["TimeToLiveStatus"] == "DISABLED")
            or pytest.fail(str(data))
        )
    ),
    "001:GetItem#0": Case(
        check=lambda data, ep: (
            (
                data["Item"]
                == {"team_id": "team_1", "employee_id": "emp_1", "name": "Aman", "level": 3}
            )
            or pytest.fail(str(data))
        )
    ),
    "001:ListBackups#0": Case(
        MOTO, check=lambda data, ep: (data["BackupSummaries"] == []) or pytest.fail(str(data))
    ),
    "001:ListContributorInsights#0": unimplemented("ListContributorInsights"),
    "001:ListGlobalTables#0": unimplemented("ListGlobalTables"),
    "001:ListTagsOfResource#0": Case(
        MOTO, check=lambda data, ep: (data["Tags"] == []) or pytest.fail(str(data))
    ),
    "001:PutItem#0": Case(check=check_put_item),
    "001:Query#0": Case(
        check=lambda data, ep: (
            (
                sorted(i["employee_id"] for i in data["Items"]) == ["emp_2", "emp_5"]
                and data["Count"] == 2
            )
            or pytest.fail(str(data))
        )
    ),
    # An empty TargetTableName (the text says usersRestored was meant), and a table's ARN.
    "001:RestoreTableFromBackup#0": Case(MOTO, 2, ["TargetTableName: must not be empty"]),
    # 1691100258 is August 2023: far outside the 35 days the document itself gives.
    "001:RestoreTableToPointInTime#0": Case(
        MOTO,
        2,
        [
            "RestoreDateTime: 2023-08-03T22:04:18Z is more than 35 days ago",
            "UseLatestRestorableTime",
        ],
    ),
    "001:Scan#0": Case(
        check=lambda data, ep: (
            (data["Count"] == 5 and data["ScannedCount"] == 5) or pytest.fail(str(data))
        )
    ),
    "001:Scan#1": Case(
        check=lambda data, ep: (
            ({i["name"] for i in data["Items"]} == {"Anneke"} and data["Count"] == 2)
            or pytest.fail(str(data))
        )
    ),
    "001:TagResource#0": Case(MOTO, check=check_tag_resource),
    "001:TransactGetItems#0": Case(
        check=lambda data, ep: (
            (
                [r["Item"].get("employee_id", r["Item"].get("address")) for r in data["Responses"]]
                == ["emp_1", "123 Maple St."]
            )
            or pytest.fail(str(data))
        )
    ),
    # Its Put and Delete go to a table called "string", the API reference's placeholder.
    "001:TransactWriteItems#0": Case(
        exit=1,
        says=[
            "TransactWriteItems failed: ResourceNotFoundException",
            "Check the table name 'string'",
            "'string' is the API reference's placeholder",
            "the tables here are: Reply, Thread, locations, users",
        ],
    ),
    "001:UntagResource#0": Case(MOTO, check=lambda data, ep: data == {} or pytest.fail(str(data))),
    "001:UpdateContinuousBackups#0": Case(
        MOTO,
        check=lambda data, ep: (
            (
                data["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"][
                    "PointInTimeRecoveryStatus"
                ]
                == "DISABLED"
            )
            or pytest.fail(str(data))
        ),
    ),
    "001:UpdateContributorInsights#0": unimplemented("UpdateContributorInsights"),
    # Create and Delete in one element: each ReplicaUpdate takes one of them.
    "001:UpdateGlobalTable#0": Case(
        exit=2,
        says=[
            "ReplicaUpdates[0]: set exactly one of: Create, Delete",
            "put each in its own element of the list",
        ],
    ),
    "001:UpdateGlobalTableSettings#0": unimplemented("UpdateGlobalTableSettings"),
    # "set name = Amal": name is a reserved word, and Amal a value written as an attribute name.
    # Caught before sending, from DynamoDB's published list of reserved words.
    "001:UpdateItem#0": Case(
        exit=2,
        says=[
            "Invalid parameters for UpdateItem",
            "UpdateExpression: 'name' is a reserved word in DynamoDB expressions",
            "write #name instead",
            "Amal names another attribute",
            '"UpdateExpression": "SET #name = :name", '
            '"ExpressionAttributeNames": {"#name": "name"}, '
            '"ExpressionAttributeValues": {":name": "Amal"}',
        ],
    ),
    "001:UpdateTable#0": Case(
        check=lambda data, ep: (
            (data["TableDescription"]["DeletionProtectionEnabled"] is True)
            or pytest.fail(str(data))
        )
    ),
    # A list where the API takes one object.
    "001:UpdateTableReplicaAutoScaling#0": Case(
        exit=2,
        says=[
            "ProvisionedWriteCapacityAutoScalingUpdate: expected an object, got a list",
            "remove the surrounding [ ]",
        ],
    ),
}

try:
    EXAMPLES, MISSING = spec_examples(), None
except FileNotFoundError as error:  # reported by the test below, not as a collection error
    EXAMPLES, MISSING = [], str(error)


def test_every_example_has_a_case():
    assert MISSING is None, MISSING
    assert sorted(e.id for e in EXAMPLES) == sorted(CASES)


class SpecNotCompared(UserWarning):
    """The specification's documents are not beside the repository: its copy was used as is."""


def test_spec_copy_matches_the_documents():
    """The examples the tests run are the repository's copy (tests/data/spec); where the
    specification's documents are at hand, the copy must still say what they say."""
    if not any(SPEC_DIR.glob("[0-9][0-9][0-9]_*.txt")):
        # A fresh clone: nothing to compare with. Say so in the run's summary, and still check
        # that the copy is whole: both documents, each exactly an extract (nothing hand-added).
        warnings.warn(
            SpecNotCompared(
                f"no spec documents in {SPEC_DIR} (set DYNAQUERY_SPEC_DIR): the examples in "
                f"{SPEC_DATA} were not compared with them"
            ),
            stacklevel=1,
        )
        copies = sorted(SPEC_DATA.glob("*.txt"))
        assert [p.name[:3] for p in copies] == ["000", "001"]
        for path in copies:
            banner, body = path.read_text(encoding="utf-8").split("-->\n", 1)
            assert REFRESH_SPEC in banner and spec_extract(body) == body, path
        return
    differences = spec_copy_differences(SPEC_DIR, SPEC_DATA)
    assert not differences, (
        f"{SPEC_DATA} no longer matches {SPEC_DIR}:\n  "
        + "\n  ".join(differences)
        + f"\nRefresh the copy with `{REFRESH_SPEC}` and update CASES."
    )


@pytest.fixture
def endpoint_for(request, dynamodb_local, moto_server):
    def make(server: str) -> Endpoint:
        if server == MOTO:
            reset_moto(moto_server.endpoint_url)
            endpoint = Endpoint(moto_server.endpoint_url, region="us-east-2")
            seed(endpoint.connection(), ["users"])
        else:
            endpoint = Endpoint(dynamodb_local.endpoint_url)
            seed(endpoint.connection())
        return endpoint

    return make


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_spec_example(example, endpoint_for):
    case = CASES[example.id]
    endpoint = endpoint_for(case.server)
    result = endpoint.run(case.operation or example.heading, example.text)
    assert "Traceback" not in result.stderr
    assert endpoint.secret_key not in result.stdout + result.stderr
    if case.exit == 0:
        assert result.code == 0, result.stderr
        assert result.stderr == ""
        case.check(result.json(), endpoint)
    else:
        assert result.code == case.exit, (result.code, result.stdout, result.stderr)
        assert result.stdout == ""
        for text in case.says:
            assert text in result.stderr, result.stderr
    if case.exit != 2:
        # What was sent passed every check first (exit 2 means it was never sent).
        prepare(case.operation or example.heading, example.text)


# -- the operations the spec names without a JSON body --------------------------------------------

NO_BODY = {"List Tables": DDB, "DescribeEndpoints": MOTO, "DescribeLimits": DDB, "ListTables": DDB}


def _is_operation(heading: str) -> bool:
    from dynaquery.catalog import catalog
    from dynaquery.errors import UnknownOperationError

    try:
        return bool(catalog().get(heading))
    except UnknownOperationError:
        return False


def test_every_section_without_an_example_is_covered():
    with_examples = {(e.document, e.heading) for e in EXAMPLES}
    without = {
        heading
        for doc, heading in spec_headings()
        if (doc, heading) not in with_examples and _is_operation(heading)
    }
    assert without == set(NO_BODY)


@pytest.mark.parametrize("heading", sorted(NO_BODY))
def test_operations_without_a_body(heading, endpoint_for):
    endpoint = endpoint_for(NO_BODY[heading])
    result = endpoint.run(heading)
    assert result.code == 0, result.stderr
    data = result.json()
    if "Tables" in heading:
        assert data["TableNames"] == sorted(data["TableNames"]) and "users" in data["TableNames"]
    elif heading == "DescribeEndpoints":
        assert data["Endpoints"][0]["CachePeriodInMinutes"] > 0
    else:
        assert data["TableMaxReadCapacityUnits"] > 0


# -- the wrong examples, once corrected as their errors say, work ---------------------------------


def test_get_item_example_once_closed_and_given_a_table(endpoint_for):
    example = next(e for e in EXAMPLES if e.id == "000:Get Item#0")
    fixed = example.text.replace("{\n", '{\n    "TableName": "Thread",\n', 1) + "}"
    result = endpoint_for(DDB).run("Get Item", fixed)
    assert result.code == 0, result.stderr
    assert result.json()["Item"]["Subject"] == "How do I update multiple items?"


def test_delete_item_example_once_given_a_table(endpoint_for):
    example = next(e for e in EXAMPLES if e.id == "000:Delete Item#0")
    endpoint = endpoint_for(DDB)
    fixed = example.text.replace("{\n", '{\n    "TableName": "Thread",\n', 1)
    result = endpoint.run("Delete Item", fixed)
    assert result.code == 0, result.stderr
    assert result.json()["Attributes"]["Views"] == 0
    again = endpoint.run("Delete Item", fixed)  # gone now: ALL_OLD has nothing to return
    assert again.code == 0 and "Attributes" not in again.json()


def test_create_table_example_once_name_is_removed(endpoint_for):
    example = next(e for e in EXAMPLES if e.id == "001:CreateTable#0")
    fixed = example.text.replace('"users"', '"users2"').replace(
        """        {
            "AttributeName": "name",
            "AttributeType": "S"
        },
""",
        "",
    )
    endpoint = endpoint_for(DDB)
    result = endpoint.run("CreateTable", fixed)
    assert result.code == 0, result.stderr
    schema = result.json()["TableDescription"]["KeySchema"]
    assert schema == [
        {"AttributeName": "team_id", "KeyType": "HASH"},
        {"AttributeName": "emp_id", "KeyType": "RANGE"},
    ]
    # The other examples key users by employee_id: the error names the real key.
    mismatch = endpoint.run(
        "GetItem", '{"TableName": "users2", "Key": {"team_id": "team_1", "employee_id": "emp_1"}}'
    )
    assert mismatch.code == 1
    assert (
        "The key of table 'users2' is team_id (partition, S), emp_id (sort, S); "
        "the Key given has team_id, employee_id."
    ) in mismatch.stderr


def test_update_item_example_as_its_hint_says(endpoint_for):
    endpoint = endpoint_for(DDB)
    result = endpoint.run(
        "UpdateItem",
        """{
        "TableName": "users",
        "Key": {"team_id": "team_1", "employee_id": "emp_1"},
        "UpdateExpression": "SET #name = :name", "ExpressionAttributeNames": {"#name": "name"},
        "ExpressionAttributeValues": {":name": "Amal"},
        "ReturnValues": "UPDATED_NEW"}""",
    )
    assert result.code == 0, result.stderr
    assert result.json() == {"Attributes": {"name": "Amal"}}


def test_backup_examples_with_a_real_backup_arn(endpoint_for):
    endpoint = endpoint_for(MOTO)
    created = endpoint.run("CreateBackup", '{"BackupName": "usersBackup", "TableName": "users"}')
    arn = created.json()["BackupDetails"]["BackupArn"]
    described = endpoint.run("DescribeBackup", f'{{"BackupArn": "{arn}"}}')
    assert described.json()["BackupDescription"]["BackupDetails"]["BackupName"] == "usersBackup"
    restored = endpoint.run(
        "RestoreTableFromBackup", f'{{"BackupArn": "{arn}", "TargetTableName": "usersRestored"}}'
    )
    assert restored.code == 0, restored.stderr
    assert restored.json()["TableDescription"]["TableName"] == "usersRestored"
    listed = endpoint.run("ListBackups", '{"BackupType": "ALL", "TableName": "users"}')
    assert [b["BackupArn"] for b in listed.json()["BackupSummaries"]] == [arn]
    deleted = endpoint.run("DeleteBackup", f'{{"BackupArn": "{arn}"}}')
    assert deleted.code == 0, deleted.stderr
    assert deleted.json()["BackupDescription"]["BackupDetails"]["BackupArn"] == arn


@pytest.mark.parametrize(
    "document", ["001:UpdateGlobalTable#0", "001:UpdateTableReplicaAutoScaling#0"]
)
def test_corrected_examples_reach_the_server(document, endpoint_for):
    """Corrected as their errors say, these pass every check; the engine then lacks them."""
    from dynaquery.catalog import get_operation

    name = document.split(":")[1].split("#")[0]
    result = endpoint_for(DDB).run(name, get_operation(name).example)
    assert result.code == 1
    assert "UnknownOperationException" in result.stderr
