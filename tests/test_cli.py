"""The `dynaquery` command's contract: input forms, outputs, exit codes, stdout/stderr."""

from __future__ import annotations

import csv
import io
import json

import pytest

from support import Endpoint, clean_env, dynaquery

USERS = """{"TableName": "users",
  "AttributeDefinitions": [{"AttributeName": "team_id", "AttributeType": "S"},
                           {"AttributeName": "employee_id", "AttributeType": "S"}],
  "KeySchema": [{"AttributeName": "team_id", "KeyType": "HASH"},
                {"AttributeName": "employee_id", "KeyType": "RANGE"}],
  "BillingMode": "PAY_PER_REQUEST"}"""


@pytest.fixture
def ep(dynamodb_local) -> Endpoint:
    endpoint = Endpoint(dynamodb_local.endpoint_url)
    assert endpoint.run("CreateTable", USERS).code == 0
    for i, name in enumerate(["Ann", "Bo", "Cy"]):
        put = endpoint.run(
            "PutItem",
            json.dumps(
                {
                    "TableName": "users",
                    "Item": {
                        "team_id": "t1",
                        "employee_id": f"e{i}",
                        "name": name,
                        "tags": {"SS": ["x"]},
                    },
                }
            ),
        )
        assert put.code == 0, put.stderr
    return endpoint


def test_params_inline_file_and_stdin(ep, tmp_path):
    body = '{"TableName": "users", "Key": {"team_id": "t1", "employee_id": "e0"}} // Ann'
    inline = ep.run("GetItem", body)
    path = tmp_path / "q.json"
    path.write_text(body)
    from_file = ep.run("GetItem", f"@{path}")
    from_stdin = dynaquery("run", "GetItem", "-", *ep.flags, stdin=body)
    assert inline.code == from_file.code == from_stdin.code == 0
    assert inline.stdout == from_file.stdout == from_stdin.stdout
    assert json.loads(inline.stdout)["Item"]["name"] == "Ann"


def test_missing_params_file(ep):
    result = ep.run("GetItem", "@/no/such/file.json")
    assert result.code == 2 and result.stdout == ""
    assert "Cannot read the parameters file '/no/such/file.json'" in result.stderr


def test_no_params_where_none_are_needed(ep):
    result = ep.run("ListTables")
    assert result.code == 0 and json.loads(result.stdout) == {"TableNames": ["users"]}


def test_outputs(ep):
    scan = '{"TableName": "users"}'
    raw = json.loads(ep.run("Scan", scan, "--output", "raw").stdout)
    assert raw["Items"][0]["team_id"] == {"S": "t1"} and "ResponseMetadata" in raw
    full = json.loads(ep.run("Scan", scan, "--output", "full").stdout)
    assert full["data"]["Count"] == 3 and full["meta"]["operation"] == "Scan"
    assert full["meta"]["count"] == 3 and full["meta"]["scanned_count"] == 3
    assert "ResponseMetadata" not in full["data"]
    rows = list(csv.DictReader(io.StringIO(ep.run("Scan", scan, "--output", "csv").stdout)))
    assert sorted(r["name"] for r in rows) == ["Ann", "Bo", "Cy"]
    assert rows[0]["tags"] == '["x"]'
    table = ep.run("Scan", scan, "-o", "table").stdout
    assert "employee_id" in table.splitlines()[1] and "Bo" in table


def test_query_transformation(ep):
    result = ep.run("Scan", '{"TableName": "users"}', "--query", "sort(Items[].name)")
    assert json.loads(result.stdout) == ["Ann", "Bo", "Cy"]
    as_csv = ep.run("Scan", '{"TableName": "users"}', "--query", "Items[].{n: name}", "-o", "csv")
    assert sorted(as_csv.stdout.splitlines()) == ["Ann", "Bo", "Cy", "n"]


def test_bad_query_expression_is_bad_input(ep):
    result = ep.run("Scan", '{"TableName": "users"}', "--query", "Items[?")
    assert result.code == 2 and result.stdout == ""
    assert "Invalid transformation 'Items[?'" in result.stderr


def test_pagination_flags(ep):
    one = json.loads(ep.run("Scan", '{"TableName": "users", "Limit": 2}', "-o", "full").stdout)
    assert one["data"]["Count"] == 2 and one["meta"]["next_token"]
    rest = json.loads(
        ep.run(
            "Scan",
            '{"TableName": "users", "Limit": 2}',
            "--starting-token",
            one["meta"]["next_token"],
            "--all-pages",
        ).stdout
    )
    assert rest["Count"] == 1
    every = json.loads(ep.run("Scan", '{"TableName": "users", "Limit": 1}', "--all-pages").stdout)
    assert every["Count"] == 3
    capped = json.loads(
        ep.run(
            "Scan", '{"TableName": "users", "Limit": 1}', "--max-items", "2", "-o", "full"
        ).stdout
    )
    assert len(capped["data"]["Items"]) == 2 and capped["meta"]["next_token"]


@pytest.mark.parametrize(
    "args,says",
    [
        (["run", "GetItm", "{}"], "Unknown operation 'GetItm'. Did you mean GetItem"),
        (["run", "GetItem", '{"TableName": "users",}}'], "Invalid JSON at line 1, column 24"),
        (["run", "GetItem", '{"TableName": "users"}'], "Key: required, but missing"),
        (
            ["run", "GetItem", '{"TableName": "users", "Key": {"a": {"N": "x"}}}'],
            "Key.a.N: 'x' is not a number",
        ),
        (
            ["run", "Scan", '{"TableName": "users"}', "--max-items", "0"],
            "Invalid value for '--max-items'",
        ),
        (
            ["run", "Scan", '{"TableName": "users"}', "--output", "xml"],
            "Invalid value for '-o' / '--output'",
        ),
        (["run"], "Missing argument 'OPERATION'"),
        (["operations", "show", "Scna"], "Did you mean Scan"),
        (
            [
                "run",
                "Scan",
                '{"TableName": "users"}',
                "--auth",
                "iam_credentials",
                "--endpoint-url",
                "http://127.0.0.1:9",
            ],
            "need both an access key id and a secret access key",
        ),
        (
            [
                "run",
                "Scan",
                '{"TableName": "users"}',
                "--endpoint-url",
                "localhost:8000",
                "--region",
                "us-east-1",
            ],
            "must start with http:// or https://",
        ),
    ],
)
def test_bad_input_exits_2_with_a_message_and_no_traceback(args, says):
    result = dynaquery(*args)
    assert result.code == 2, result
    assert result.stdout == ""
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_service_error_exits_1(ep):
    result = ep.run("GetItem", '{"TableName": "nothere", "Key": {"id": "1"}}')
    assert result.code == 1 and result.stdout == ""
    assert "GetItem failed: ResourceNotFoundException" in result.stderr
    assert "the tables here are: users" in result.stderr


def test_unreachable_endpoint_exits_1():
    from dynaquery.local import free_port

    port = free_port()
    result = dynaquery(
        "run",
        "ListTables",
        "--endpoint-url",
        f"http://127.0.0.1:{port}",
        "--region",
        "us-east-1",
        "--access-key-id",
        "a",
        "--secret-access-key",
        "b",
        "--max-attempts",
        "1",
    )
    assert result.code == 1
    assert f"Could not connect to http://127.0.0.1:{port}" in result.stderr


def test_operations_list_and_show():
    listed = dynaquery("operations")
    assert listed.code == 0
    lines = listed.stdout.splitlines()
    import botocore.session

    names = botocore.session.get_session().get_service_model("dynamodb").operation_names
    assert [line.split()[0] for line in lines] == list(names)
    shown = dynaquery("operations", "show", "query-table")
    assert shown.code == 0
    assert shown.stdout.startswith("Query (query), read, paginated")
    assert " * TableName: string" in shown.stdout and "   Limit: integer" in shown.stdout
    assert '"KeyConditionExpression": "team_id = :val"' in shown.stdout
    as_json = json.loads(dynaquery("operations", "show", "GetItem", "--json").stdout)
    assert {"name": "Key", "type": "map of AttributeValue", "required": True}.items() <= next(
        p for p in as_json["parameters"] if p["name"] == "Key"
    ).items()


def test_test_command(ep):
    ok = dynaquery("test", *ep.flags)
    assert ok.code == 0 and ok.stdout.startswith("ok: Connected to DynamoDB at ")
    assert len(ok.stdout.strip().splitlines()) == 1
    as_json = json.loads(dynaquery("test", "--json", *ep.flags).stdout)
    assert as_json["ok"] is True and as_json["auth"] == "iam_credentials"


def test_environment_variables_are_honoured(ep):
    env = clean_env(
        AWS_ENDPOINT_URL_DYNAMODB=ep.endpoint_url,
        AWS_REGION=ep.region,
        AWS_ACCESS_KEY_ID=ep.access_key,
        AWS_SECRET_ACCESS_KEY=ep.secret_key,
    )
    result = dynaquery("run", "ListTables", env=env)
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout) == {"TableNames": ["users"]}


def test_profile_from_the_aws_config(ep, tmp_path):
    config = tmp_path / "config"
    config.write_text(
        f"[profile local]\nregion = {ep.region}\n"
        f"aws_access_key_id = {ep.access_key}\n"
        f"aws_secret_access_key = {ep.secret_key}\n"
    )
    env = clean_env(AWS_CONFIG_FILE=str(config))
    result = dynaquery(
        "run", "ListTables", "--profile", "local", "--endpoint-url", ep.endpoint_url, env=env
    )
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout) == {"TableNames": ["users"]}
    missing = dynaquery(
        "run", "ListTables", "--profile", "nope", "--endpoint-url", ep.endpoint_url, env=env
    )
    assert (
        missing.code == 2 and "The profile 'nope' is not in the AWS config files" in missing.stderr
    )


GC_PROBE = """
import gc, sys
from dynaquery.cli import main
sys.argv = ["dynaquery", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
sys.stderr.write(f"\\ncollector: {gc.isenabled()} frozen: {gc.get_freeze_count() > 0}\\n")
"""


@pytest.mark.parametrize(
    "args, long_running",
    [
        (["operations"], False),
        (["run", "ListTables"], False),
        (["run", "Scan", '{"TableName": "users"}', "--all-pages"], True),
        (["run", "Scan", '{"TableName": "users"}', "--max-items", "3"], True),
        (["export", "users", "--format", "jsonl"], True),
    ],
)
def test_the_cycle_collector_is_off_for_short_commands_and_back_on_for_long_ones(
    ep, args, long_running
):
    import subprocess
    import sys

    flags = ep.flags if args[0] in ("run", "export") else []
    done = subprocess.run(
        [sys.executable, "-c", GC_PROBE, *args, *flags],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[-1] == f"collector: {long_running} frozen: {long_running}"


def test_full_output_says_what_a_write_did(ep):
    key = '"Key": {"team_id": "t1", "employee_id": "e9"}'
    put = ep.run(
        "PutItem",
        '{"TableName": "users", "Item": {"team_id": "t1", "employee_id": "e9"},'
        ' "ReturnConsumedCapacity": "TOTAL"}',
        "--output",
        "full",
    )
    assert put.code == 0, put.stderr
    assert json.loads(put.stdout)["meta"]["summary"] == "1 item written · 1 write capacity unit"
    update = json.loads(
        ep.run(
            "UpdateItem",
            '{"TableName": "users", ' + key + ', "UpdateExpression":'
            ' "SET n = :n", "ExpressionAttributeValues": {":n": 1},'
            ' "ReturnValues": "ALL_NEW"}',
            "--output",
            "full",
        ).stdout
    )
    assert update["meta"]["summary"].startswith("1 item updated · returned: the new item (ALL_NEW)")
    delete = '{"TableName": "users", ' + key + ', "ReturnValues": "ALL_OLD"}'
    gone = json.loads(ep.run("DeleteItem", delete, "--yes", "--output", "full").stdout)
    assert gone["meta"]["summary"].startswith("1 item deleted · returned: the old item (ALL_OLD)")
    again = json.loads(ep.run("DeleteItem", delete, "--yes", "--output", "full").stdout)
    assert again["meta"]["summary"].startswith("0 items deleted: no item had this key")
    assert (
        "summary"
        not in json.loads(
            ep.run("GetItem", '{"TableName": "users", ' + key + "}", "--output", "full").stdout
        )["meta"]
    )
