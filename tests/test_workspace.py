"""The workspace as a library: data sources, secrets at rest, queries, templates, history,
read-only data sources, export/import, migrations and concurrent writers."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import textwrap
from decimal import Decimal

import pytest
import sqlalchemy as sa

from dynaquery import (
    ConfigurationError,
    InputError,
    ReadOnlyError,
    ServiceError,
    ValidationError,
    Workspace,
)
from dynaquery.demo import seed
from dynaquery.errors import NotFound
from dynaquery.templates import parse, parse_assignment

from support import ROOT, Endpoint

SECRET = "wJalrXUtnFEMI-sentinel-" + "K7MDENG"
TOKEN = "FwoGZXIvYXdzE-sentinel-session-token"


@pytest.fixture
def ws(tmp_path, monkeypatch, database_url):
    """A fresh workspace, on SQLite and then on PostgreSQL."""
    monkeypatch.delenv("DYNAQUERY_SECRET_KEY", raising=False)
    monkeypatch.delenv("DYNAQUERY_DATABASE_URL", raising=False)
    workspace = Workspace.open(database_url, home=tmp_path)
    yield workspace
    workspace.close()


@pytest.fixture
def local(ws, dynamodb_local):
    """A data source on a fresh DynamoDB Local database with the spec's tables."""
    endpoint = Endpoint(dynamodb_local.endpoint_url)
    ws.add_datasource("local", **{**endpoint.settings(), "secret_access_key": SECRET})
    seed(ws.connect("local"))
    return endpoint


def files_of(home) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(home.iterdir()) if p.is_file())


def stored_bytes(ws, home) -> bytes:
    """All the workspace keeps: its home's files (the SQLite database, its WAL, the key file)
    and, on a database server, every row of every table."""
    stored = files_of(home)
    if ws.engine.dialect.name != "sqlite":
        engine = sa.create_engine(ws.engine.url)
        tables = sa.MetaData()
        tables.reflect(engine)
        with engine.connect() as db:
            for table in tables.sorted_tables:
                stored += repr([tuple(r) for r in db.execute(sa.select(table))]).encode()
        engine.dispose()
    return stored


# -- data sources ---------------------------------------------------------------------------


def test_secrets_are_sealed_at_rest_and_masked(ws, tmp_path):
    ds = ws.add_datasource(
        "prod",
        region="eu-west-1",
        access_key_id="AKIAEXAMPLE",
        secret_access_key=SECRET,
        session_token=TOKEN,
    )
    assert ds.to_dict()["secret_access_key"] == "********"
    assert ds.to_dict()["session_token"] == "********"
    assert SECRET not in json.dumps(ds.to_dict()) and SECRET not in repr(ds)
    config = ws.connection_config("prod")
    assert (config.secret_access_key, config.session_token) == (SECRET, TOKEN)
    ws.close()
    raw = stored_bytes(ws, tmp_path)  # the database, its WAL and the key file
    assert b"AKIAEXAMPLE" in raw  # the grep itself works...
    assert SECRET.encode() not in raw and TOKEN.encode() not in raw  # ...and finds no secret
    for name in ("workspace.db", "secret.key") if ws.engine.dialect.name == "sqlite" else ():
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600


def test_secret_key_from_the_environment_and_a_wrong_key(tmp_path, monkeypatch):
    monkeypatch.setenv("DYNAQUERY_SECRET_KEY", "correct horse battery staple")
    with Workspace.open(home=tmp_path) as ws:
        ws.add_datasource("a", region="us-east-1", access_key_id="AKIA1", secret_access_key=SECRET)
    assert not (tmp_path / "secret.key").exists()  # the environment's key is used, no file
    with Workspace.open(home=tmp_path) as ws:
        assert ws.connection_config("a").secret_access_key == SECRET
    monkeypatch.setenv("DYNAQUERY_SECRET_KEY", "another key")
    with Workspace.open(home=tmp_path) as ws, pytest.raises(ConfigurationError) as error:
        ws.connection_config("a")
    assert "DYNAQUERY_SECRET_KEY" in error.value.message and SECRET not in error.value.message


def test_a_key_file_another_process_is_still_writing_is_waited_for(tmp_path, monkeypatch):
    """Two processes opening one home at once: one creates the key file, the other may find it
    still empty, and must wait for the key rather than call the file broken."""
    import threading

    from dynaquery.encryption import _read_or_create_key

    key_file = tmp_path / "secret.key"
    key_file.write_bytes(b"")  # created, not written yet
    key = b"k" * 32
    writer = threading.Timer(0.1, lambda: key_file.write_bytes(base64.b64encode(key) + b"\n"))
    writer.start()
    try:
        assert _read_or_create_key(key_file) == key
    finally:
        writer.join()


def test_a_sealed_secret_copied_to_another_data_source_does_not_open(ws):
    ws.add_datasource("a", region="us-east-1", access_key_id="AKIA1", secret_access_key=SECRET)
    ws.add_datasource(
        "b", region="us-east-1", access_key_id="AKIA2", secret_access_key="other-secret"
    )
    from dynaquery import store

    with store.transaction(ws.engine, write=True) as db:
        sealed = db.execute(
            sa.select(store.datasources.c.secrets).where(store.datasources.c.name == "a")
        ).scalar()
        db.execute(
            store.datasources.update().where(store.datasources.c.name == "b").values(secrets=sealed)
        )
    with pytest.raises(ConfigurationError, match="cannot be decrypted"):
        ws.connection_config("b")


def test_edit_keeps_untouched_secrets_and_renames(ws):
    ws.add_datasource("a", region="us-east-1", access_key_id="AKIA1", secret_access_key=SECRET)
    ws.update_datasource("a", region="eu-west-1", name="b", read_only=True)
    config = ws.connection_config("b")
    assert (config.region, config.secret_access_key, config.read_only) == (
        "eu-west-1",
        SECRET,
        True,
    )
    ws.update_datasource("b", secret_access_key="new-secret-value")
    assert ws.connection_config("b").secret_access_key == "new-secret-value"
    ws.update_datasource("b", clear=["access_key_id", "secret_access_key"])
    assert ws.datasource("b").config.auth_method == "instance_profile"
    assert ws.datasource("b").secret_fields == ()


def test_names_conflicts_and_lookups(ws):
    ws.add_datasource("local", region="us-east-1")
    with pytest.raises(InputError, match="already exists"):
        ws.add_datasource("local", region="us-east-1")
    with pytest.raises(InputError, match="did you mean 'local'"):
        ws.datasource("locla")
    with pytest.raises(
        InputError, match="Unknown data source setting 'regoin'; did you mean 'region'"
    ):
        ws.add_datasource("x", regoin="us-east-1")
    with pytest.raises(InputError, match="IAM credentials need both"):
        ws.add_datasource("x", access_key_id="AKIA1")
    assert [d.name for d in ws.datasources()] == ["local"]  # nothing half-written
    ds = ws.datasource("local")
    assert ws.datasource(ds.id).name == "local"  # ids work wherever names do


def test_a_data_source_used_by_queries_is_not_removed_silently(ws):
    ws.add_datasource("local", region="us-east-1")
    ws.save_query("all", "local", "Scan", '{"TableName": "users"}')
    with pytest.raises(InputError, match="used by 1 saved query"):
        ws.remove_datasource("local")
    ws.remove_datasource("local", with_queries=True)
    assert ws.queries() == [] and ws.datasources() == []


# -- queries and templates ------------------------------------------------------------------


def test_saving_refuses_what_run_refuses(ws):
    ws.add_datasource("local", region="us-east-1")
    with pytest.raises(InputError, match="line 1, column 1"):
        ws.save_query("q", "local", "GetItem", '{"TableName": "users", "Key": {"a": "b"}')
    with pytest.raises(ValidationError, match="Limit"):
        ws.save_query("q", "local", "Scan", '{"TableName": "users", "Limit": "ten"}')
    with pytest.raises(InputError, match="Did you mean Scan"):
        ws.save_query("q", "local", "Scna", "{}")
    with pytest.raises(InputError, match="Invalid transformation .Items\\[. at column 7"):
        ws.save_query("q", "local", "Scan", '{"TableName": "users"}', transform="Items[")
    assert ws.queries() == []


def test_placeholders_are_checked_with_defaults_and_open_ones_tolerated(ws):
    ws.add_datasource("local", region="us-east-1")
    text = '{"TableName": "users", "Limit": {{ limit }}, "ExclusiveStartKey": {{ start }}}'
    saved = ws.save_query("q", "local", "scan_table", text)
    assert saved.operation == "Scan" and saved.placeholders == ["limit", "start"]
    assert ws.query("q").params == text  # verbatim
    with pytest.raises(ValidationError, match="Limit"):  # a default is checked like a value
        ws.save_query("q2", "local", "Scan", text, defaults={"limit": "ten"})
    with pytest.raises(InputError, match="'lmit', which the query does not use"):
        ws.save_query("q2", "local", "Scan", text, defaults={"lmit": 5})


def test_template_structure_is_fixed_before_values_arrive():
    template = parse('{"a": "{{ x }}", "b": {{ y }}, "c": "pre-{{ x }}-post"}')
    hostile = '"}, "Limit": 1, "x": {"y": "{{ y }}'
    params, holes = template.render({"x": hostile, "y": {"nested": ["}}", "{{ x }}"]}})
    assert params == {"a": hostile, "b": {"nested": ["}}", "{{ x }}"]}, "c": f"pre-{hostile}-post"}
    assert sorted(holes) == [("a", "x"), ("b", "y"), ("c", "x")]


def test_template_errors_point_at_the_text():
    with pytest.raises(InputError, match="line 2, column 10"):
        parse('{\n  "a": 1 {{ b }}\n}')
    with pytest.raises(InputError, match="line 1, column 7: '{{' opens a placeholder"):
        parse('{"a": {{ 1b }}}')
    # "{{" inside a string that is not a placeholder is data
    assert parse('{"a": "{{not one"}').names == ()
    with pytest.raises(InputError, match="NAME:=JSON"):
        parse_assignment("no-equals-sign")
    assert parse_assignment("n:=12.50") == ("n", Decimal("12.50"))
    assert parse_assignment("s=12.50") == ("s", "12.50")


def test_missing_and_unknown_values(ws):
    ws.add_datasource("local", region="us-east-1")
    ws.save_query(
        "q", "local", "Scan", '{"TableName": "{{ table }}", "Limit": {{ n }}}', defaults={"n": 5}
    )
    with pytest.raises(
        InputError, match=r"Missing value for parameter 'table': give --param table=VALUE"
    ):
        ws.render_query("q")
    with pytest.raises(InputError, match=r"Unknown parameter 'tabel' \(did you mean 'table'\?\)"):
        ws.render_query("q", {"tabel": "users"})
    _, request = ws.render_query("q", {"table": "users"})
    assert request.source == {"TableName": "users", "Limit": 5}


def test_hostile_values_do_exactly_what_the_plain_value_says(ws, local):
    ws.save_query(
        "put",
        "local",
        "PutItem",
        """{
        // a user whose name comes from outside
        "TableName": "users",
        "Item": {"team_id": "team_x", "employee_id": "{{ id }}", "name": "{{ name }}",
                 "note": "name={{ name }}"}
    }""",
    )
    ws.save_query(
        "one",
        "local",
        "GetItem",
        '{"TableName": "users", "Key": {"team_id": "team_x", "employee_id": "{{ id }}"}}',
    )
    ws.save_query(
        "team",
        "local",
        "Query",
        """{"TableName": "users",
        "KeyConditionExpression": "team_id = :t", "ExpressionAttributeValues": {":t": "{{ t }}"}}""",
    )
    hostile = [
        'a"b',
        '"}}, "is_admin": {"BOOL": true}, "x": {"S": "',
        "{{ id }}",
        "}}",
        '{"S": "typed?"}',
        "line\nbreak \\ back\\slash",
        "",
    ]
    for i, value in enumerate(hostile):
        ws.run_query("put", {"id": f"e{i}", "name": value})
        item = ws.run_query("one", {"id": f"e{i}"}).data["Item"]
        assert item == {
            "team_id": "team_x",
            "employee_id": f"e{i}",
            "name": value,
            "note": f"name={value}",
        }
    # a value meant to widen a key condition matches nothing
    assert ws.run_query("team", {"t": 'team_1" OR "1"="1'}).data["Items"] == []
    assert len(ws.run_query("team", {"t": "team_x"}).data["Items"]) == len(hostile)
    # a JSON value (:=) is a value too: an object stays an object, never merged into the query
    ws.run_query("put", {"id": "obj", "name": {"S": "x", "N": "1"}})
    assert ws.run_query("one", {"id": "obj"}).data["Item"]["name"] == {"S": "x", "N": "1"}


def test_saved_transform_and_an_extra_one(ws, local):
    ws.save_query(
        "team",
        "local",
        "Query",
        """{"TableName": "users",
        "KeyConditionExpression": "team_id = :t", "ExpressionAttributeValues": {":t": "{{ t }}"}}""",
        transform="Items[].name",
        defaults={"t": "team_1"},
    )
    assert sorted(ws.run_query("team").data) == ["Aman", "Rahul"]
    assert ws.run_query("team", transform="length(@)").data == 2


# -- read-only data sources -----------------------------------------------------------------


@pytest.mark.parametrize(
    "operation, params",
    [
        ("DeleteTable", {"TableName": "users"}),
        ("PutItem", {"TableName": "users", "Item": {"team_id": "t", "employee_id": "e"}}),
        (
            "ExecuteStatement",
            {"Statement": "DELETE FROM users WHERE team_id = 'team_1' AND employee_id = 'emp_1'"},
        ),
        (
            "BatchExecuteStatement",
            {
                "Statements": [
                    {"Statement": "SELECT * FROM users"},
                    {"Statement": "  update users SET a = 1 WHERE team_id = 't'"},
                ]
            },
        ),
        (
            "ExecuteTransaction",
            {"TransactStatements": [{"Statement": "INSERT INTO users VALUE {'team_id': 't'}"}]},
        ),
        (
            "TransactWriteItems",
            {
                "TransactItems": [
                    {
                        "Delete": {
                            "TableName": "users",
                            "Key": {"team_id": "team_1", "employee_id": "emp_1"},
                        }
                    }
                ]
            },
        ),
        (
            "BatchWriteItem",
            {
                "RequestItems": {
                    "users": [
                        {"DeleteRequest": {"Key": {"team_id": "team_1", "employee_id": "emp_1"}}}
                    ]
                }
            },
        ),
        ("UpdateTable", {"TableName": "users", "BillingMode": "PAY_PER_REQUEST"}),
    ],
)
def test_read_only_refuses_writes_before_sending(ws, local, operation, params):
    ws.add_datasource("ro", **local.settings(), read_only=True)
    sent = []
    connection = ws.connect("ro")
    connection.client.meta.events.register(
        "before-send.dynamodb", lambda request, **_: sent.append(request)
    )
    with pytest.raises(ReadOnlyError, match=f"read-only: {operation} writes"):
        connection.run(operation, params)
    assert sent == []
    with pytest.raises(ReadOnlyError, match="The data source 'ro' is read-only"):
        ws.run("ro", operation, params)
    # nothing changed
    item = ws.run(
        "local",
        "GetItem",
        {"TableName": "users", "Key": {"team_id": "team_1", "employee_id": "emp_1"}},
    )
    assert item.data["Item"]["name"] == "Aman"
    assert [r.outcome for r in ws.history(limit=2)] == ["ok", "error"]


def test_read_only_allows_reads_including_partiql_select(ws, local):
    ws.add_datasource("ro", **local.settings(), read_only=True)
    assert (
        ws.run(
            "ro",
            "ExecuteStatement",
            {"Statement": "/* who */ SELECT name FROM users WHERE team_id = 'team_1'"},
        ).meta["count"]
        == 2
    )
    assert ws.run("ro", "Scan", {"TableName": "users"}, all_pages=True).meta["count"] >= 3
    assert (
        ws.run("ro", "DescribeTable", {"TableName": "users"}).data["Table"]["TableName"] == "users"
    )
    with pytest.raises(InputError, match="cannot lift"):
        ws.connection_config("ro", read_only=False)


def test_confirm_is_asked_before_a_destructive_call_only(ws, local):
    asked = []

    class Refused(Exception):
        pass

    def refuse(request):
        asked.append(request.name)
        raise Refused

    key = {"team_id": "team_1", "employee_id": "emp_1"}
    ws.save_query(
        "drop",
        "local",
        "DeleteItem",
        '{"TableName": "users", "Key": {"team_id": "team_1", "employee_id": "{{ e }}"}}',
    )
    before = len(ws.history(limit=None))
    with pytest.raises(Refused):
        ws.run("local", "DeleteItem", {"TableName": "users", "Key": key}, confirm=refuse)
    with pytest.raises(Refused):
        ws.run_query("drop", {"e": "emp_1"}, confirm=refuse)
    assert asked == ["DeleteItem", "DeleteItem"]
    assert len(ws.history(limit=None)) == before  # a refusal is not a run
    assert ws.run("local", "GetItem", {"TableName": "users", "Key": key}, confirm=refuse).data[
        "Item"
    ]
    ws.add_datasource("ro", **local.settings(), read_only=True)
    with pytest.raises(ReadOnlyError):  # refused by the data source itself, nothing asked
        ws.run("ro", "DeleteItem", {"TableName": "users", "Key": key}, confirm=refuse)
    assert asked == ["DeleteItem", "DeleteItem"]
    ws.run_query("drop", {"e": "emp_1"}, confirm=asked.append)
    assert asked[-1].name == "DeleteItem"
    assert "Item" not in ws.run("local", "GetItem", {"TableName": "users", "Key": key}).data


# -- history --------------------------------------------------------------------------------


def test_history_records_runs_without_data_or_secrets(ws, local):
    ws.save_query(
        "one",
        "local",
        "GetItem",
        '{"TableName": "users", "Key": {"team_id": "team_1", "employee_id": "{{ e }}"}}',
    )
    ws.run_query("one", {"e": "emp_1"})
    with pytest.raises(InputError):
        ws.run_query("one")
    with pytest.raises(ServiceError):
        ws.run("local", "DescribeTable", {"TableName": "no_such_table"})
    ws.run("local", "Scan", {"TableName": "users"})
    runs = ws.history()
    assert [(r.query, r.operation, r.outcome) for r in runs] == [
        (None, "Scan", "ok"),
        (None, "DescribeTable", "error"),
        ("one", "GetItem", "error"),
        ("one", "GetItem", "ok"),
    ]
    assert runs[-1].item_count == 1 and runs[-1].datasource == "local"
    assert "no_such_table" in runs[1].error
    assert [r.operation for r in ws.history(query="one", outcome="ok")] == ["GetItem"]
    assert len(ws.history(operation="scan")) == 1 and ws.history(since="1h") == runs
    assert ws.history(since="2999-01-01") == []
    # A name that was never saved matches nothing (not every run made without a saved query).
    assert ws.history(query="never-saved") == [] and ws.history(datasource="never-saved") == []
    ws.update_datasource("local", name="renamed")
    assert len(ws.history(datasource="renamed")) == 4  # history follows the data source's id
    from dynaquery import store

    with store.transaction(ws.engine) as db:
        dumped = json.dumps([list(r) for r in db.execute(sa.select(store.runs))])
    assert "Aman" not in dumped and SECRET not in dumped and "emp_1" not in dumped
    assert ws.clear_history() == 4 and ws.history() == []


def assert_history_keeps_no(value: str, ws, home) -> list:
    """The value is nowhere in the history: the library's runs, nor the database's files."""
    runs = ws.history(limit=None)
    assert value not in json.dumps([r.to_dict() for r in runs])
    ws.close()  # the write-ahead log goes into the database file
    assert value.encode() not in stored_bytes(ws, home)
    return runs


def test_history_keeps_no_value_that_an_error_message_quotes(ws, local, tmp_path):
    sentinel = "PARAMVALUE-" + os.urandom(4).hex()
    number = str(int.from_bytes(os.urandom(6), "big") + 10**15)
    key = {"team_id": "team_1", "employee_id": "emp_x"}
    failing = [
        # DynamoDB's own message echoes the values: "Input collection [v, v] contains duplicates"
        (
            "PutItem",
            {"TableName": "users", "Item": {**key, "tags": {"SS": [sentinel, sentinel]}}},
            "ValidationException",
        ),
        # ...and a PartiQL statement it cannot parse, whole, with its literals
        (
            "ExecuteStatement",
            {"Statement": f"SELECT * FROM \"users\" WHERE team_id = '{sentinel}' AND AND"},
            "ValidationException",
        ),
        (
            "ExecuteStatement",
            {"Statement": f'SELECT * FROM "users" WHERE n = {number} AND AND'},
            "ValidationException",
        ),
        # dynaquery's own check quotes the value: "'v' is not a number"
        ("PutItem", {"TableName": "users", "Item": {**key, "n": {"N": sentinel}}}, "not a number"),
    ]
    for operation, params, expected in failing:
        with pytest.raises((ServiceError, ValidationError)) as raised:
            ws.run("local", operation, params)
        assert sentinel in raised.value.message or number in raised.value.message  # the user's
        assert expected in raised.value.message
    ws.save_query(
        "dup",
        "local",
        "PutItem",
        '{"TableName": "users", "Item": {"team_id": "t", '
        '"employee_id": "e", "tags": {"SS": ["{{ tag }}", "{{ tag }}"]}}}',
    )
    with pytest.raises(ServiceError, match=sentinel):
        ws.run_query("dup", {"tag": sentinel})
    ws.save_query(
        "num",
        "local",
        "PutItem",
        '{"TableName": "users", "Item": {"team_id": "t", '
        '"employee_id": "e", "n": {"N": "{{ n }}"}}}',
    )
    with pytest.raises(ValidationError, match=sentinel):
        ws.run_query("num", {"n": sentinel})

    runs = assert_history_keeps_no(sentinel, ws, tmp_path)
    assert number not in json.dumps([r.to_dict() for r in runs])
    errors = [r.error for r in runs]
    assert len(errors) == 6 and all(errors)
    # What stays says what went wrong: the code, the message, the names.
    assert sum("ValidationException" in e and "contains duplicates" in e for e in errors) == 2
    assert sum("ValidationException" in e and '"users"' in e for e in errors) == 2
    assert sum("n.N" in e and "is not a number" in e for e in errors) == 2


def test_history_through_the_command_and_the_api_keeps_no_value(ws, local, tmp_path, monkeypatch):
    from click.testing import CliRunner
    from fastapi.testclient import TestClient

    from dynaquery.cli import cli
    from dynaquery.server import _digest, create_app

    sentinel = "PARAMVALUE-" + os.urandom(4).hex()
    monkeypatch.setenv("DYNAQUERY_HOME", str(tmp_path))
    monkeypatch.setenv("DYNAQUERY_DATABASE_URL", ws.engine.url.render_as_string(False))
    ws.save_query(
        "dup",
        "local",
        "PutItem",
        '{"TableName": "users", "Item": {"team_id": "t", '
        '"employee_id": "e", "tags": {"SS": ["{{ tag }}", "{{ tag }}"]}}}',
    )
    params = json.dumps(
        {
            "TableName": "users",
            "Item": {"team_id": "t", "employee_id": "e", "tags": {"SS": [sentinel, sentinel]}},
        }
    )
    runner = CliRunner()
    ran = runner.invoke(cli, ["run", "PutItem", params, "--datasource", "local", "--yes"])
    assert ran.exit_code == 1 and sentinel in ran.stderr  # the user sees their own request
    ran = runner.invoke(cli, ["query", "run", "dup", "-p", f"tag={sentinel}", "--yes"])
    assert ran.exit_code == 1 and sentinel in ran.stderr

    client = TestClient(
        create_app(ws, _digest("history-token")), headers={"Authorization": "Bearer history-token"}
    )
    answer = client.post(
        "/api/run",
        json={
            "datasource": "local",
            "operation": "PutItem",
            "params": json.loads(params),
            "confirm": True,
        },
    )
    assert answer.status_code >= 400 and sentinel in answer.text
    answer = client.post(
        f"/api/queries/{ws.query('dup').id}/run",
        json={"values": {"tag": sentinel}, "confirm": True},
    )
    assert answer.status_code >= 400 and sentinel in answer.text

    # An unsaved text whose placeholder value lands where a name goes (an expression).
    word = sentinel.replace("-", "")  # DynamoDB quotes it whole: "token: ..., near: ..."
    answer = client.post(
        "/api/run",
        json={
            "datasource": "local",
            "operation": "GetItem",
            "values": {"p": f"{word} {word}"},
            "params": '{"TableName": "users", "Key": {"team_id": "t", "employee_id": "e"}, '
            '"ProjectionExpression": "{{ p }}"}',
        },
    )
    assert answer.status_code == 502 and word in answer.text

    listed = client.get("/api/history")
    assert listed.status_code == 200 and len(listed.json()) == 5
    assert sentinel not in listed.text and "contains duplicates" in listed.text
    for flags in ([], ["--json"]):
        shown = runner.invoke(cli, ["history", *flags])
        assert shown.exit_code == 0 and "ValidationException" in shown.output
        assert sentinel not in shown.output and word not in shown.output
    assert_history_keeps_no(sentinel, ws, tmp_path)
    assert_history_keeps_no(word, ws, tmp_path)


# -- export / import ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_export_wipe_import_gives_the_same_queries(tmp_path, monkeypatch, fmt):
    from dynaquery.workspace import dump_export, load_export

    monkeypatch.setenv("DYNAQUERY_SECRET_KEY", "k")
    first = Workspace.open(home=tmp_path / "a")
    first.add_datasource(
        "local",
        region="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        access_key_id="AKIA1",
        secret_access_key=SECRET,
        read_only=True,
    )
    first.save_query(
        "q1",
        "local",
        "Query",
        '{\n  // comment kept\n  "TableName": "users",\n'
        '  "KeyConditionExpression": "team_id = :t",\n'
        '  "ExpressionAttributeValues": {":t": "{{ t }}"},\n}',
        transform="Items[].name",
        description="by team",
        defaults={"t": "team_1"},
    )
    first.save_query(
        "q2",
        "local",
        "Scan",
        '{"TableName": "users", "Limit": {{ n }}, '
        '"FilterExpression": "price = :p", "ExpressionAttributeValues": {":p": {{ p }}}}',
        defaults={"n": 2, "p": Decimal("1.50")},
    )
    text = dump_export(first.export(), fmt)
    assert SECRET not in text and "secret_access_key" not in text

    def summary(ws):
        return [
            {k: v for k, v in q.to_dict().items() if not k.endswith(("id", "_at"))}
            for q in ws.queries()
        ]

    second = Workspace.open(home=tmp_path / "b")
    assert second.import_(load_export(text, fmt)) == {"datasources": 1, "queries": 2, "skipped": 0}
    assert summary(second) == summary(first)
    assert str(second.query("q2").defaults["p"]) == "1.50"
    ds = second.datasource("local")
    assert (
        ds.read_only and ds.config.endpoint_url == "http://127.0.0.1:9" and ds.secret_fields == ()
    )
    # importing again: refused as a whole, or skipped, or replaced (stored secrets kept)
    with pytest.raises(InputError, match="'local' already exists"):
        second.import_(load_export(text, fmt))
    assert second.import_(load_export(text, fmt), on_conflict="skip")["skipped"] == 3
    second.update_datasource("local", access_key_id="AKIA1", secret_access_key=SECRET)
    second.import_(load_export(text, fmt), on_conflict="replace")
    assert second.connection_config("local").secret_access_key == SECRET


def test_import_names_the_bad_entry_and_writes_nothing(ws):
    bad = {
        "dynaquery_workspace": 1,
        "datasources": [{"name": "a", "settings": {"region": "us-east-1"}}],
        "queries": [
            {
                "name": "ok",
                "datasource": "a",
                "operation": "Scan",
                "params": '{"TableName": "tbl"}',
            },
            {
                "name": "broken",
                "datasource": "a",
                "operation": "GetItem",
                "params": '{"TableName": "tbl", "Key": {}',
            },
        ],
    }
    with pytest.raises(InputError, match=r"queries\[1\] \(broken\): Invalid JSON at line 1"):
        ws.import_(bad)
    assert ws.datasources() == [] and ws.queries() == []
    leaked = {
        "dynaquery_workspace": 1,
        "datasources": [{"name": "a", "settings": {"secret_access_key": "x"}}],
    }
    with pytest.raises(InputError, match=r"datasources\[0\].settings holds secret_access_key"):
        ws.import_(leaked)
    with pytest.raises(InputError, match="Not a dynaquery workspace export"):
        ws.import_({"queries": []})


# -- the store: migrations, concurrency ---------------------------------------------------


def test_schema_revision_is_the_newest_migration(ws):
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from dynaquery import store

    config = Config()
    config.set_main_option("script_location", str(ROOT / "src" / "dynaquery" / "migrations"))
    assert ScriptDirectory.from_config(config).get_current_head() == store.SCHEMA_REVISION
    with store.transaction(ws.engine) as db:
        assert store._revision(db) == store.SCHEMA_REVISION
        assert set(sa.inspect(db).get_table_names()) >= {
            "datasources",
            "queries",
            "runs",
            "settings",
        }


def test_an_older_workspace_is_migrated_on_open(tmp_path):
    from dynaquery import store

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'workspace.db'}")
    with engine.begin() as db:  # an empty database, as a pre-workspace version left it
        db.exec_driver_sql("CREATE TABLE unrelated (x INTEGER)")
    engine.dispose()
    with Workspace.open(home=tmp_path) as ws:
        ws.add_datasource("a", region="us-east-1")
        with store.transaction(ws.engine) as db:
            assert store._revision(db) == store.SCHEMA_REVISION


def test_an_unusable_database_url_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigurationError, match="Not a database URL"):
        Workspace.open("not a url", home=tmp_path)
    with pytest.raises(ConfigurationError, match="Install its driver"):
        Workspace.open("postgresql+nosuchdriver://u:pw@localhost/db", home=tmp_path)


WRITER = textwrap.dedent("""
    import sys
    from dynaquery import Workspace
    ws = Workspace.open(home=sys.argv[1])
    sys.stdout.write("ready\\n"); sys.stdout.flush()
    sys.stdin.readline()  # start together
    for i in range(200):
        ws.save_query(f"{sys.argv[2]}-{i}", "local", "Scan", '{"TableName": "tbl%d"}' % i)
        ws._record(0.0, "Scan", None, "local")
""")


def test_two_processes_saving_at_once_lose_nothing(tmp_path):
    with Workspace.open(home=tmp_path) as ws:
        ws.add_datasource("local", region="us-east-1")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name in ("a", "b")
    ]
    for writer in writers:
        assert writer.stdout.readline() == "ready\n"
    for writer in writers:
        writer.stdin.write("go\n")
        writer.stdin.flush()
    for writer in writers:
        _, err = writer.communicate(timeout=300)
        assert writer.returncode == 0, err
    with Workspace.open(home=tmp_path) as ws:
        names = {q.name for q in ws.queries()}
        assert names == {f"{w}-{i}" for w in "ab" for i in range(200)}
        assert len(ws.history(limit=None)) == 400


# -- templates, property-based ----------------------------------------------------------------

from hypothesis import given, settings, strategies as st  # noqa: E402

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
braces = st.text(alphabet='{}"\\:, ab\n', max_size=20)


@settings(max_examples=300, deadline=None)
@given(text=braces | st.text(), value=json_values)
def test_any_value_fills_exactly_its_places(text, value):
    template = parse(
        '{"whole": "{{ v }}", "bare": {{ v }}, "inside": "<{{ s }}>",\n'
        ' "list": [{{ v }}, "{{v}}"], "keep": "{{ not a placeholder"}'
    )
    params, _ = template.render({"v": value, "s": text})
    assert params == {
        "whole": value,
        "bare": value,
        "inside": f"<{text}>",
        "list": [value, value],
        "keep": "{{ not a placeholder",
    }


def test_connections_are_reused_until_the_settings_change(ws):
    ws.add_datasource(
        "a",
        region="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        access_key_id="AKIA1",
        secret_access_key=SECRET,
    )
    first = ws.connect("a")
    assert ws.connect("a") is first
    assert ws.connect("a", region="eu-west-1") is not first  # an override is other settings
    ws.update_datasource("a", read_only=True)
    changed = ws.connect("a")
    assert changed is not first and changed.config.read_only


def test_a_did_you_mean_ends_the_sentence_once(ws, tmp_path):
    ws.add_datasource("local", endpoint_url="http://127.0.0.1:1", region="us-east-1")
    with pytest.raises(NotFound) as error:
        ws.datasource("lokal")
    assert error.value.message == "No data source named 'lokal'; did you mean 'local'?"
    with pytest.raises(NotFound) as error:
        ws.datasource("elsewhere")
    assert error.value.message == "No data source named 'elsewhere' (saved: local)."
    with pytest.raises(InputError) as error:
        ws.add_datasource("other", regoin="us-east-1")
    assert error.value.message.endswith("did you mean 'region'?")
