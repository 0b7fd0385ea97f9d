"""The tables the spec's examples use, with a few items, and a demo that runs some examples.

`python -m dynaquery.demo` starts DynamoDB Local on loopback, creates and fills these tables,
and runs a few of the documentation's examples through the `dynaquery` command.
"""

from __future__ import annotations

import shlex
import subprocess
import sys

from .connection import Connection
from .errors import ServiceError

_PROVISIONED = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}


def _key_table(name: str, hash_key: str, range_key: str, **extra) -> dict:
    return {
        "TableName": name,
        "AttributeDefinitions": [{"AttributeName": hash_key, "AttributeType": "S"},
                                 {"AttributeName": range_key, "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": hash_key, "KeyType": "HASH"},
                      {"AttributeName": range_key, "KeyType": "RANGE"}],
        "ProvisionedThroughput": _PROVISIONED,
        **extra,
    }


# users: as the second document's CreateTable means it (team_id + employee_id, as every other
# example keys it); Reply and Thread: as AWS's own forum example, with the PostedBy-Index.
SPEC_TABLES = [
    _key_table("users", "team_id", "employee_id"),
    _key_table("locations", "name", "address"),
    _key_table("Thread", "ForumName", "Subject"),
    {
        **_key_table("Reply", "Id", "ReplyDateTime"),
        "AttributeDefinitions": [{"AttributeName": "Id", "AttributeType": "S"},
                                 {"AttributeName": "ReplyDateTime", "AttributeType": "S"},
                                 {"AttributeName": "PostedBy", "AttributeType": "S"}],
        "LocalSecondaryIndexes": [{
            "IndexName": "PostedBy-Index",
            "KeySchema": [{"AttributeName": "Id", "KeyType": "HASH"},
                          {"AttributeName": "PostedBy", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }],
    },
]

THREAD_1 = "Amazon DynamoDB#DynamoDB Thread 1"

SPEC_ITEMS = {
    "users": [
        {"team_id": "team_1", "employee_id": "emp_1", "name": "Aman", "level": 3},
        {"team_id": "team_1", "employee_id": "emp_3", "name": "Rahul", "level": 2},
        {"team_id": "team_2", "employee_id": "emp_2", "name": "Anneke", "level": 4},
        {"team_id": "team_2", "employee_id": "emp_5", "name": "Bo", "level": 1},
        {"team_id": "team_3", "employee_id": "emp_4", "name": "Anneke", "level": 2},
    ],
    "locations": [
        {"name": "Main Office", "address": "123 Maple St.", "city": "Springfield"},
        {"name": "Warehouse", "address": "9 Dock Rd.", "city": "Shelbyville"},
    ],
    "Thread": [
        {"ForumName": "Amazon DynamoDB", "Subject": "How do I update multiple items?",
         "Views": 0, "Tags": {"SS": ["update", "multiple items"]}},
        {"ForumName": "Amazon DynamoDB", "Subject": "DynamoDB Thread 1", "Views": 12, "Replies": 4},
    ],
    "Reply": [
        {"Id": THREAD_1, "ReplyDateTime": "2015-09-15T19:58:22.947Z", "PostedBy": "User A",
         "Message": "DynamoDB Thread 1 Reply 1 text"},
        {"Id": THREAD_1, "ReplyDateTime": "2015-09-22T19:58:22.947Z", "PostedBy": "User B",
         "Message": "DynamoDB Thread 1 Reply 2 text"},
        {"Id": THREAD_1, "ReplyDateTime": "2015-09-29T19:58:22.947Z", "PostedBy": "User C",
         "Message": "DynamoDB Thread 1 Reply 3 text"},
        {"Id": THREAD_1, "ReplyDateTime": "2015-10-06T19:58:22.947Z", "PostedBy": "User D",
         "Message": "DynamoDB Thread 1 Reply 4 text"},
    ],
}


def seed(connection: Connection, tables: list[str] | None = None) -> list[str]:
    """Create the spec's tables (those not there yet) and put their items. Returns the tables."""
    wanted = [t for t in SPEC_TABLES if tables is None or t["TableName"] in tables]
    for table in wanted:
        try:
            connection.run("CreateTable", table)
        except ServiceError as error:
            if error.code != "ResourceInUseException":
                raise
    for table in wanted:
        connection.client.get_waiter("table_exists").wait(
            TableName=table["TableName"], WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    writes = {t["TableName"]: [{"PutRequest": {"Item": item}} for item in SPEC_ITEMS[t["TableName"]]]
              for t in wanted}
    result = connection.run("BatchWriteItem", {"RequestItems": writes})
    if not result.complete:
        raise RuntimeError("some demo items could not be written")
    return [t["TableName"] for t in wanted]


DEMO_RUNS = [
    ["run", "ListTables"],
    ["run", "GetItem", '{"TableName": "users", "Key": {"team_id": "team_1", "employee_id": "emp_1"}}'],
    ["run", "query_table", """{
    "TableName": "Reply",
    "IndexName": "PostedBy-Index",
    "Limit": 3,
    "ConsistentRead": true,
    "ProjectionExpression": "Id, PostedBy, ReplyDateTime",
    "KeyConditionExpression": "Id = :v1 AND PostedBy BETWEEN :v2a AND :v2b",
    "ExpressionAttributeValues": {
        ":v1": {"S": "Amazon DynamoDB#DynamoDB Thread 1"},
        ":v2a": {"S": "User A"},
        ":v2b": {"S": "User C"}
    },
    "ReturnConsumedCapacity": "TOTAL"
}""", "--output", "full"],
    ["run", "Scan", """{
    "TableName": "users",
    "FilterExpression": "#n = :val",
    "ExpressionAttributeNames": { // "name" is a reserved keyword, so this key sets an alias
        "#n": "name"
    },
    "ExpressionAttributeValues": {":val": {"S": "Anneke"}}
}""", "--output", "table"],
    ["run", "UpdateItem", """{
    "TableName" : "users",
    "Key" : {"team_id" : {"S" : "team_1"}, "employee_id" : {"S" : "emp_1"}},
    "UpdateExpression" : "set name = Amal"
}"""],
]


DEMO_DATASOURCE = "demo"
DEMO_KEYS = {"region": "us-east-1", "access_key_id": "demo", "secret_access_key": "demo"}


def start_engine(echo=print):
    """A local DynamoDB for the demo: DynamoDB Local when Java and its jar are at hand, else
    moto's server in this process. Returns a server with `endpoint_url` and `stop()`."""
    from .local import LocalEngineUnavailable, start_dynamodb_local, start_moto_in_process

    try:
        server = start_dynamodb_local()
    except (LocalEngineUnavailable, OSError, RuntimeError) as error:
        echo(f"dynaquery: DynamoDB Local is not available ({error}); using moto's engine.")
        server = start_moto_in_process()
    return server


def register(workspace, endpoint_url: str):
    """Seed the engine at `endpoint_url` with the spec's tables and save it as the data source
    `demo` (updated in place if the workspace has one)."""
    from .workspace import NotFound

    settings = {"endpoint_url": endpoint_url, **DEMO_KEYS}
    seed(Connection(**settings))
    try:
        workspace.datasource(DEMO_DATASOURCE)
    except NotFound:
        return workspace.add_datasource(DEMO_DATASOURCE, description="the local demo engine, "
                                        "with the tables of the documentation's examples",
                                        **settings)
    return workspace.update_datasource(DEMO_DATASOURCE, read_only=False, **settings)


def main() -> int:
    from .local import start_dynamodb_local

    print("Starting DynamoDB Local on loopback...", flush=True)
    with start_dynamodb_local() as server:
        settings = {"endpoint_url": server.endpoint_url, "region": "us-east-1",
                    "access_key_id": "demo", "secret_access_key": "demo"}
        seed(Connection(**settings))
        print(f"DynamoDB Local at {server.endpoint_url}; tables: "
              f"{', '.join(t['TableName'] for t in SPEC_TABLES)}\n", flush=True)
        flags = ["--endpoint-url", server.endpoint_url, "--region", "us-east-1",
                 "--access-key-id", "demo", "--secret-access-key", "demo"]
        for args in DEMO_RUNS:
            print("$ dynaquery " + " ".join(shlex.quote(a) for a in args), flush=True)
            completed = subprocess.run([sys.executable, "-m", "dynaquery", *args, *flags])
            print(f"(exit {completed.returncode})\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
