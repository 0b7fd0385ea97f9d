"""`run --code`: the generated boto3, AWS CLI and JavaScript programs, run against DynamoDB Local,
answer what `dynaquery run` answers, and write what it writes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from support import Endpoint, clean_env, dynaquery, pk_sk_table

AWS = Path(sys.executable).parent / "aws"

TABLE = {
    **pk_sk_table("things"),
    "AttributeDefinitions": [
        *pk_sk_table("things")["AttributeDefinitions"],
        {"AttributeName": "kind", "AttributeType": "S"},
    ],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": "by_kind",
            "KeySchema": [
                {"AttributeName": "kind", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ],
}

ITEMS = [
    {"pk": "a", "sk": 1, "kind": "tool", "price": 0.1, "tags": {"SS": ["x", "y"]}},
    {"pk": "a", "sk": 2, "kind": "toy", "price": 12345678901234567890123456789012345678},
    {"pk": "b", "sk": 3, "kind": "tool", "blob": {"B": "AAEC/w=="}, "on": True, "none": None},
    {"pk": "b", "sk": 4, "kind": "tool", "nested": {"list": [1, "two", {"three": 3}]}},
]


def fresh(dynamodb_local) -> Endpoint:
    """A database of its own with the table and its items."""
    endpoint = Endpoint(dynamodb_local.endpoint_url)
    assert endpoint.run("CreateTable", json.dumps(TABLE)).code == 0
    for item in ITEMS:
        put = endpoint.run("PutItem", json.dumps({"TableName": "things", "Item": item}))
        assert put.code == 0, put.stderr
    return endpoint


@pytest.fixture
def ep(dynamodb_local) -> Endpoint:
    return fresh(dynamodb_local)


def code(endpoint: Endpoint, operation: str, params: dict, language: str) -> str:
    done = dynaquery("run", operation, json.dumps(params), "--code", language, *endpoint.flags)
    assert done.code == 0, done.stderr
    return done.stdout


def program_env(endpoint: Endpoint) -> dict:
    return clean_env(
        AWS_ACCESS_KEY_ID=endpoint.access_key, AWS_SECRET_ACCESS_KEY=endpoint.secret_key
    )


def run_program(args: list[str], endpoint: Endpoint, cwd: Path | None = None) -> dict:
    done = subprocess.run(
        args, capture_output=True, text=True, env=program_env(endpoint), cwd=cwd, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout or "{}")


def run_python(program: str, endpoint: Endpoint) -> dict:
    return run_program([sys.executable, "-c", program], endpoint)


def run_cli(command: str, endpoint: Endpoint) -> dict:
    assert command.startswith("aws dynamodb ")
    return run_program(["bash", "-c", str(AWS) + command[len("aws") :]], endpoint)


def raw(endpoint: Endpoint, operation: str, params: dict) -> dict:
    done = endpoint.run(operation, json.dumps(params), "--output", "raw")
    assert done.code == 0, done.stderr
    return json.loads(done.stdout)


def table_items(endpoint: Endpoint) -> list:
    return sorted(
        raw(endpoint, "Scan", {"TableName": "things"})["Items"],
        key=lambda item: (item["pk"]["S"], item["sk"]["N"]),
    )


READS = {
    "GetItem": {"TableName": "things", "Key": {"pk": "b", "sk": 3}, "ConsistentRead": True},
    "Query": {
        "TableName": "things",
        "IndexName": "by_kind",
        "KeyConditionExpression": "kind = :k AND sk > :s",
        "ExpressionAttributeValues": {":k": "tool", ":s": 1},
    },
    "Scan": {
        "TableName": "things",
        "FilterExpression": "price > :p OR attribute_exists(#b)",
        "ExpressionAttributeNames": {"#b": "blob"},
        "ExpressionAttributeValues": {":p": 1},
    },
    "ExecuteStatement": {
        "Statement": 'SELECT * FROM "things" WHERE pk = ?',
        "Parameters": ["a"],
    },
}


def data_of(response: dict) -> dict:
    """What a read answers, without what differs from call to call."""
    keys = ("Item", "Items", "Count")
    found = {k: response[k] for k in keys if k in response}
    if "Items" in found:
        found["Items"] = sorted(found["Items"], key=lambda i: (i["pk"]["S"], i["sk"]["N"]))
    return found


@pytest.mark.parametrize("operation", list(READS))
def test_a_read_answers_as_dynaquery_does(ep, operation):
    params = READS[operation]
    expected = data_of(raw(ep, operation, params))
    assert expected.get("Item") or expected.get("Items")
    assert data_of(run_python(code(ep, operation, params, "python"), ep)) == expected
    if operation == "GetItem":  # binary: its bytes, which AWS CLI v1 cannot take from JSON
        return
    assert data_of(run_cli(code(ep, operation, params, "aws-cli"), ep)) == expected


WRITES = {
    "PutItem": {
        "TableName": "things",
        "Item": {"pk": "c", "sk": 5, "kind": "new", "n": 3.14159, "set": {"NS": ["1", "2.5"]}},
        "ConditionExpression": "attribute_not_exists(pk)",
    },
    "UpdateItem": {
        "TableName": "things",
        "Key": {"pk": "a", "sk": 1},
        "UpdateExpression": "SET price = price + :d, #l = list_append(:l, :l) REMOVE tags",
        "ExpressionAttributeNames": {"#l": "list"},
        "ExpressionAttributeValues": {":d": 0.2, ":l": [1, {"x": None}]},
        "ReturnValues": "ALL_NEW",
    },
    "TransactWriteItems": {
        "TransactItems": [
            {"Put": {"TableName": "things", "Item": {"pk": "d", "sk": 6, "kind": "toy"}}},
            {"Delete": {"TableName": "things", "Key": {"pk": "a", "sk": 2}}},
            {
                "Update": {
                    "TableName": "things",
                    "Key": {"pk": "b", "sk": 4},
                    "UpdateExpression": "ADD hits :one",
                    "ExpressionAttributeValues": {":one": 1},
                }
            },
        ]
    },
}


@pytest.mark.parametrize("operation", list(WRITES))
def test_a_write_leaves_the_table_as_dynaquery_does(dynamodb_local, operation):
    params = WRITES[operation]
    by_dynaquery, by_python, by_cli = (fresh(dynamodb_local) for _ in range(3))
    raw(by_dynaquery, operation, params)
    run_python(code(by_dynaquery, operation, params, "python"), by_python)
    run_cli(code(by_dynaquery, operation, params, "aws-cli"), by_cli)
    expected = table_items(by_dynaquery)
    assert expected != sorted(ITEMS, key=str)  # the write changed something
    assert table_items(by_python) == expected
    assert table_items(by_cli) == expected


def test_binary_is_written_exactly(dynamodb_local):
    params = {"TableName": "things", "Item": {"pk": "e", "sk": 7, "b": {"B": "/wCA/g=="}}}
    by_dynaquery, by_python = fresh(dynamodb_local), fresh(dynamodb_local)
    raw(by_dynaquery, "PutItem", params)
    program = code(by_dynaquery, "PutItem", params, "python")
    assert 'base64.b64decode("/wCA/g==")' in program
    run_python(program, by_python)
    assert table_items(by_python) == table_items(by_dynaquery)


def test_the_aws_cli_command_with_binary_says_it_is_base64(dynamodb_local):
    """AWS CLI v2 reads base64 by default and says so with the flag; v1 would send the base64
    text as the bytes, and refuses the flag instead."""
    params = {"TableName": "things", "Item": {"pk": "e", "sk": 7, "b": {"B": "/wCA/g=="}}}
    endpoint = fresh(dynamodb_local)
    command = code(endpoint, "PutItem", params, "aws-cli")
    assert '"b":{"B":"/wCA/g=="}' in command and "--cli-binary-format base64" in command
    done = subprocess.run(
        ["bash", "-c", str(AWS) + command[len("aws") :]],
        capture_output=True,
        text=True,
        env=program_env(endpoint),
    )
    assert done.returncode != 0 and "--cli-binary-format" in done.stderr
    assert len(table_items(endpoint)) == len(ITEMS)  # nothing written wrong


def test_code_sends_nothing_not_even_a_destructive_call(ep):
    done = dynaquery("run", "DeleteTable", '{"TableName": "things"}', "--code", "python", *ep.flags)
    assert done.code == 0 and "client.delete_table(**params)" in done.stdout
    assert raw(ep, "DescribeTable", {"TableName": "things"})["Table"]["TableName"] == "things"


def test_bad_input_is_refused_as_for_a_run(ep):
    done = dynaquery("run", "GetItem", '{"TableName": "things"}', "--code", "python", *ep.flags)
    assert done.code == 2 and "Key" in done.stderr and done.stdout == ""


def test_the_javascript_program_names_the_command_and_the_typed_params(ep):
    program = code(ep, "Query", READS["Query"], "javascript")
    assert 'import { DynamoDBClient, QueryCommand } from "@aws-sdk/client-dynamodb";' in program
    assert f'endpoint: "{ep.endpoint_url}"' in program and 'region: "us-east-1"' in program
    assert "await client.send(new QueryCommand(params));" in program
    assert '":s": {"N": "1"}' in program and '"IndexName": "by_kind"' in program


def cache_dir() -> Path:
    return Path(os.environ.get("DYNAQUERY_CACHE", Path.home() / ".cache" / "dynaquery"))


@pytest.fixture(scope="session")
def javascript_sdk() -> Path:
    """A directory with @aws-sdk/client-dynamodb in its node_modules, installed once."""
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("node and npm are needed to run the JavaScript programs")
    directory = cache_dir() / "aws-sdk-js"
    if not (directory / "node_modules" / "@aws-sdk" / "client-dynamodb").is_dir():
        directory.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["npm", "install", "--prefix", str(directory), "@aws-sdk/client-dynamodb@3"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            pytest.skip(f"npm could not install @aws-sdk/client-dynamodb: {done.stderr[-300:]}")
    return directory


def run_javascript(program: str, endpoint: Endpoint, sdk: Path) -> dict:
    path = sdk / f"program-{uuid.uuid4().hex}.mjs"
    path.write_text(program, encoding="utf-8")
    try:
        return run_program(["node", str(path)], endpoint, cwd=sdk)
    finally:
        path.unlink()


@pytest.mark.parametrize("operation", list(READS))
def test_the_javascript_program_answers_as_dynaquery_does(ep, javascript_sdk, operation):
    params = READS[operation]
    expected = data_of(raw(ep, operation, params))
    program = code(ep, operation, params, "javascript")
    assert data_of(run_javascript(program, ep, javascript_sdk)) == expected


@pytest.mark.parametrize("operation", list(WRITES))
def test_the_javascript_program_writes_as_dynaquery_does(dynamodb_local, javascript_sdk, operation):
    params = WRITES[operation]
    by_dynaquery, by_javascript = fresh(dynamodb_local), fresh(dynamodb_local)
    raw(by_dynaquery, operation, params)
    run_javascript(
        code(by_dynaquery, operation, params, "javascript"), by_javascript, javascript_sdk
    )
    assert table_items(by_javascript) == table_items(by_dynaquery)


def test_credentials_never_appear(tmp_path, dynamodb_local):
    secret, token, key = "SENTINEL-SECRET-" + uuid.uuid4().hex, "SENTINEL-TOKEN-x", "AKSENTINEL"
    flags = ["--endpoint-url", dynamodb_local.endpoint_url, "--region", "eu-west-3"]
    flags += ["--access-key-id", key, "--secret-access-key", secret, "--session-token", token]
    env = clean_env(DYNAQUERY_HOME=str(tmp_path), DYNAQUERY_SECRET_KEY="k")
    add = dynaquery("datasource", "add", "ds", *flags, env=env)
    assert add.code == 0, add.stderr
    save = dynaquery(
        "query", "save", "one", "--datasource", "ds", "GetItem",
        '{"TableName": "things", "Key": {"pk": "{{ pk }}", "sk": 1}}', env=env,
    )  # fmt: skip
    assert save.code == 0, save.stderr
    params = json.dumps(READS["Query"])
    for language in ("python", "aws-cli", "javascript"):
        runs = [
            dynaquery("run", "Query", params, "--code", language, *flags, env=env),
            dynaquery("run", "Query", params, "--code", language, "--datasource", "ds", env=env),
            dynaquery("query", "run", "one", "-p", "pk=a", "--code", language, env=env),
        ]
        for done in runs:
            assert done.code == 0, done.stderr
            assert "eu-west-3" in done.stdout and dynamodb_local.endpoint_url in done.stdout
            for sentinel in (secret, token, key, "SENTINEL"):
                assert sentinel not in done.stdout + done.stderr
        assert '"pk": {"S": "a"}' in runs[2].stdout or '"pk":{"S":"a"}' in runs[2].stdout


def test_flags_given_override_the_data_source(tmp_path, dynamodb_local):
    env = clean_env(DYNAQUERY_HOME=str(tmp_path), DYNAQUERY_SECRET_KEY="k")
    add = dynaquery("datasource", "add", "ds", "--region", "eu-west-1", env=env)
    assert add.code == 0, add.stderr
    done = dynaquery(
        "run", "ListTables", "--code", "aws-cli", "-d", "ds", "--region", "ap-south-1", env=env
    )
    assert done.stdout == "aws dynamodb list-tables \\\n    --cli-input-json '{}' \\\n" + (
        "    --region ap-south-1\n"
    )
