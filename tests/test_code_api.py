"""Code and cost before running through the API (`/api/code`, `/api/explain`), against DynamoDB
Local: the same library calls as `run --code` and `run --explain`, placeholders filled, no secret
in any answer, errors at their line."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from dynaquery import Workspace
from dynaquery.codegen import for_config
from dynaquery.demo import seed
from dynaquery.server import _digest, create_app
from dynaquery.workspace import prepare_filled

from support import Endpoint, clean_env, dynaquery

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx`")

TOKEN = "code-token-0123456789"
SECRET = "sentinel-code-secret-" + "Qw3rTy7Zx"
SCAN = (
    '{"TableName": "users", "FilterExpression": "team_id = :t",\n'
    ' "ExpressionAttributeValues": {":t": "{{ team }}"}}'
)


@pytest.fixture
def api(tmp_path, dynamodb_local, monkeypatch):
    monkeypatch.delenv("DYNAQUERY_SECRET_KEY", raising=False)
    endpoint = Endpoint(dynamodb_local.endpoint_url)
    seed(endpoint.connection())
    workspace = Workspace.open(home=tmp_path)
    workspace.add_datasource(
        "local",
        endpoint_url=endpoint.endpoint_url,
        region=endpoint.region,
        access_key_id=endpoint.access_key,
        secret_access_key=SECRET,
    )
    client = TestClient(create_app(workspace, _digest(TOKEN)))
    client.headers["Authorization"] = f"Bearer {TOKEN}"
    client.endpoint = endpoint
    client.workspace = workspace
    client.home = tmp_path
    yield client
    workspace.close()


def test_code_in_three_languages_placeholders_filled_and_no_secret(api):
    programs = {}
    for language in ("python", "aws-cli", "javascript"):
        answer = api.post(
            "/api/code",
            json={
                "datasource": "local",
                "operation": "scan",  # an alias, as anywhere
                "params": SCAN,
                "values": {"team": "team_1"},
                "language": language,
            },
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["language"] == language
        programs[language] = answer.json()["code"]
        assert SECRET not in answer.text and api.endpoint.access_key not in answer.text
        assert api.endpoint.endpoint_url in programs[language] and "team_1" in programs[language]
        assert "{{" not in programs[language]
    assert "boto3" in programs["python"] and ".scan(" in programs["python"]
    assert programs["aws-cli"].startswith("aws dynamodb scan")
    assert "ScanCommand" in programs["javascript"]
    # the same text as the command's (one implementation: codegen.for_config)
    config = api.workspace.datasource("local").config
    request = prepare_filled("Scan", SCAN, {"team": "team_1"})
    assert programs["python"] == for_config(request, "python", config)
    assert api.workspace.history(limit=None) == []  # nothing ran


def test_the_command_prints_the_same_program(api):
    params = SCAN.replace("{{ team }}", "team_1")
    printed = dynaquery(
        "run",
        "Scan",
        params,
        "--datasource",
        "local",
        "--code",
        "aws-cli",
        env=clean_env(DYNAQUERY_HOME=str(api.home)),
    )
    assert printed.code == 0, printed.stderr
    answer = api.post(
        "/api/code",
        json={"datasource": "local", "operation": "Scan", "params": params, "language": "aws-cli"},
    )
    assert printed.stdout == answer.json()["code"]


def test_explain_a_scan_gives_its_cost_and_the_query(api):
    answer = api.post(
        "/api/explain",
        json={
            "datasource": "local",
            "operation": "Scan",
            "params": SCAN,
            "values": {"team": "team_2"},
        },
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["operation"] == "Scan"
    assert body["request"]["ExpressionAttributeValues"] == {":t": {"S": "team_2"}}
    cost = body["cost"]
    assert cost["kind"] == "scan" and cost["table"] == "users"
    assert cost["eventually_consistent_rcu"] <= cost["strongly_consistent_rcu"]
    assert cost["consistent_read"] is False
    (advice,) = body["advice"]
    assert advice["query"]["KeyConditionExpression"] == "team_id = :t"
    assert "FilterExpression" not in advice["query"]
    # the Query offered runs, and finds what the Scan finds
    query = api.post(
        "/api/run",
        json={"datasource": "local", "operation": "Query", "params": advice["query"]},
    ).json()
    scan = api.post(
        "/api/run",
        json={
            "datasource": "local",
            "operation": "Scan",
            "params": SCAN,
            "values": {"team": "team_2"},
        },
    ).json()
    names = sorted(i["name"] for i in query["data"]["Items"])
    assert names == sorted(i["name"] for i in scan["data"]["Items"]) == ["Anneke", "Bo"]
    assert SECRET not in answer.text


def test_explain_other_operations_give_the_request_only(api):
    answer = api.post(
        "/api/explain",
        json={
            "datasource": "local",
            "operation": "GetItem",
            "params": {"TableName": "users", "Key": {"team_id": "team_1", "employee_id": "emp_1"}},
        },
    ).json()
    assert answer["request"]["Key"] == {"team_id": {"S": "team_1"}, "employee_id": {"S": "emp_1"}}
    assert answer.get("cost") is None and answer.get("advice") is None


def test_bad_input_is_a_400_at_its_line(api):
    bad = api.post(
        "/api/code",
        json={"datasource": "local", "operation": "Scan", "params": '{\n  "TableName": 5\n}'},
    )
    assert bad.status_code == 400 and bad.json()["line"] == 2
    missing = api.post(
        "/api/explain", json={"datasource": "local", "operation": "Scan", "params": SCAN}
    )
    assert missing.status_code == 400 and "team" in missing.json()["message"]
    language = api.post(
        "/api/code",
        json={"datasource": "local", "operation": "Scan", "params": "{}", "language": "cobol"},
    )
    assert language.status_code == 400
    unknown = api.post(
        "/api/code", json={"datasource": "nowhere", "operation": "ListTables", "params": "{}"}
    )
    assert unknown.status_code == 404
    no_table = api.post(
        "/api/explain",
        json={"datasource": "local", "operation": "Scan", "params": {"TableName": "nope"}},
    )
    assert no_table.status_code == 502 and no_table.json()["code"] == "ResourceNotFoundException"
    assert json.dumps(no_table.json()).count(SECRET) == 0
