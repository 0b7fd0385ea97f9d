"""The local engines are real servers: they answer botocore, differ where expected, and stop cleanly."""

from __future__ import annotations

import io
import socket
import tarfile
import time
import uuid
from pathlib import Path

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from dynaquery import local


def _client(endpoint_url: str):
    return botocore.session.get_session().create_client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url=endpoint_url,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"total_max_attempts": 1}),
    )


def _create_table(client) -> str:
    name = f"t-{uuid.uuid4().hex[:12]}"  # session-wide servers: every test uses its own table
    client.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.get_waiter("table_exists").wait(
        TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    return name


def test_dynamodb_local_round_trips_an_item(dynamodb_local):
    client = _client(dynamodb_local.endpoint_url)
    table = _create_table(client)
    item = {"pk": {"S": "a"}, "n": {"N": "12345678901234567890.5"}, "b": {"B": b"\x00\xff"}}
    client.put_item(TableName=table, Item=item)
    got = client.get_item(TableName=table, Key={"pk": {"S": "a"}}, ConsistentRead=True)
    assert got["Item"] == item
    assert table in client.list_tables()["TableNames"]


def test_moto_answers_create_backup(moto_server):
    client = _client(moto_server.endpoint_url)
    table = _create_table(client)
    details = client.create_backup(TableName=table, BackupName="nightly")["BackupDetails"]
    assert details["BackupName"] == "nightly"
    assert details["BackupStatus"] == "AVAILABLE"
    assert details["BackupArn"].startswith("arn:aws:dynamodb:us-east-1:")
    assert [b["BackupArn"] for b in client.list_backups(TableName=table)["BackupSummaries"]] == [
        details["BackupArn"]
    ]


def test_dynamodb_local_rejects_create_backup(dynamodb_local):
    # The reason the suite also runs moto: DynamoDB Local has no backups.
    client = _client(dynamodb_local.endpoint_url)
    table = _create_table(client)
    with pytest.raises(ClientError) as raised:
        client.create_backup(TableName=table, BackupName="nightly")
    error = raised.value.response["Error"]
    assert error["Code"] == "UnknownOperationException"
    assert error["Message"] == "An unknown operation was requested."
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def _refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


@pytest.mark.parametrize(
    "start", [local.start_dynamodb_local, local.start_moto], ids=["dynamodb-local", "moto"]
)
def test_stop_frees_the_port(start):
    with start() as server:
        assert _client(server.endpoint_url).list_tables()["TableNames"] == []
        port = server.port
        assert not _refuses_connections(port)
    # Leaving the block stopped it: the process is reaped and nothing listens any more.
    assert server.process.returncode is not None
    assert _refuses_connections(port)
    server.stop()  # idempotent


def test_free_port_is_bindable():
    port = local.free_port()
    assert 1024 <= port <= 65535
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_ensure_dynamodb_local_is_cached(dynamodb_local, tmp_path):
    # The session fixture already fetched it, so this must not download anything.
    started = time.monotonic()
    home = local.ensure_dynamodb_local()
    assert time.monotonic() - started < 1
    assert (home / "DynamoDBLocal.jar").is_file()
    assert (home / "DynamoDBLocal_lib").is_dir()


@pytest.mark.parametrize("name", ["../evil", "/tmp/evil", "package/../../evil"])
def test_safe_extract_refuses_escaping_paths(tmp_path: Path, name: str):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    buffer.seek(0)
    dest = tmp_path / "dest"
    with (
        tarfile.open(fileobj=buffer, mode="r:gz") as tar,
        pytest.raises(local.LocalEngineUnavailable),
    ):
        local._safe_extract(tar, dest)
    assert not (tmp_path / "evil").exists()


def test_safe_extract_refuses_links(tmp_path: Path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("package/link")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tar.addfile(info)
    buffer.seek(0)
    with tarfile.open(fileobj=buffer) as tar, pytest.raises(local.LocalEngineUnavailable):
        local._safe_extract(tar, tmp_path / "dest")


# -- the demo engine: same address and same data at every start -----------------------------------


@pytest.fixture
def demo_home(tmp_path, monkeypatch):
    """A workspace directory for `dynaquery serve --demo`, whose first demo port is a free one."""
    from dynaquery import demo

    for name in ("DYNAQUERY_SECRET_KEY", "DYNAQUERY_DATABASE_URL", "DYNAQUERY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DYNAQUERY_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(demo, "DEMO_PORT", local.free_port())
    return tmp_path / "home"


def _serve_demo(monkeypatch, while_serving):
    """`dynaquery serve --demo`, in process; `while_serving(workspace)` runs instead of the server."""
    from click.testing import CliRunner

    from dynaquery import server
    from dynaquery.cli import cli

    seen = {}
    monkeypatch.setattr(
        server, "serve", lambda workspace, *a, **k: seen.update(while_serving(workspace))
    )
    result = CliRunner().invoke(cli, ["serve", "--demo"])
    assert result.exit_code == 0, result.output
    return seen, result.output


def _demo_url(workspace) -> str:
    return workspace.datasource("demo").config.endpoint_url


def test_serve_demo_keeps_its_data_and_its_address(demo_home, monkeypatch):
    from dynaquery import demo

    def first(ws):
        ws.run(
            "demo",
            "UpdateItem",
            {
                "TableName": "users",
                "Key": {"team_id": "team_1", "employee_id": "emp_1"},
                "UpdateExpression": "SET #n = :n",
                "ExpressionAttributeNames": {"#n": "name"},
                "ExpressionAttributeValues": {":n": "Amal"},
            },
        )
        ws.run("demo", "CreateTable", _table_params("mine"))
        ws.run("demo", "PutItem", {"TableName": "mine", "Item": {"pk": "kept"}})
        # A second start while this one runs finds it and uses it: no second engine.
        again = demo.start_engine(demo_home, echo=lambda m: None)
        assert again.reused and again.endpoint_url == _demo_url(ws)
        again.stop()  # not ours to stop: the engine goes on
        assert ws.run("demo", "GetItem", {"TableName": "mine", "Key": {"pk": "kept"}}).data["Item"]
        return {"url": _demo_url(ws)}

    before, output = _serve_demo(monkeypatch, first)
    assert f"data is kept in {demo_home / 'demo' / 'dynamodb'}" in output
    url = before["url"]
    assert url == f"http://127.0.0.1:{demo.DEMO_PORT}"  # the first choice, free here
    assert _refuses_connections(int(url.rsplit(":", 1)[1]))  # stopped with the server

    def second(ws):
        # A data source saved with other keys on the demo's endpoint: the same database.
        ws.add_datasource(
            "other",
            endpoint_url=_demo_url(ws),
            region="eu-west-1",
            access_key_id="someoneElse2",
            secret_access_key="x",
        )
        return {
            "url": _demo_url(ws),
            "item": ws.run("demo", "GetItem", {"TableName": "mine", "Key": {"pk": "kept"}}).data,
            "emp_1": ws.run(
                "demo",
                "GetItem",
                {"TableName": "users", "Key": {"team_id": "team_1", "employee_id": "emp_1"}},
            ).data["Item"]["name"],
            "other": ws.run("other", "ListTables").data["TableNames"],
        }

    after, _ = _serve_demo(monkeypatch, second)
    assert after["url"] == url
    assert after["item"] == {"Item": {"pk": "kept"}}
    assert after["emp_1"] == "Amal"  # the demo's own items are not reset on a restart either
    assert set(after["other"]) == {"mine", "users", "locations", "Thread", "Reply"}


def _table_params(name: str) -> dict:
    return {
        "TableName": name,
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
    }


def _remember_port(home: Path, port: int) -> None:
    (home / "demo").mkdir(parents=True)
    (home / "demo" / "engine.json").write_text(f'{{"port": {port}}}')


def _serve_demo_refused(monkeypatch):
    from click.testing import CliRunner

    from dynaquery import server
    from dynaquery.cli import cli

    monkeypatch.setattr(server, "serve", lambda *a, **k: None)  # it must not get that far
    return CliRunner().invoke(cli, ["serve", "--demo"])


def test_serve_demo_says_when_its_port_is_taken_by_another_program(demo_home, monkeypatch):
    with socket.socket() as other:  # accepts connections, never answers
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        _remember_port(demo_home, port)
        result = _serve_demo_refused(monkeypatch)
    assert result.exit_code == 1
    assert (
        f"The demo engine's port {port} (remembered in {demo_home / 'demo' / 'engine.json'}) "
        f"is taken by another program."
    ) in result.output
    assert "delete" in result.output and "Traceback" not in result.output


def test_serve_demo_does_not_take_over_another_dynamodb(demo_home, dynamodb_local, monkeypatch):
    port = int(dynamodb_local.endpoint_url.rsplit(":", 1)[1])
    _remember_port(demo_home, port)
    result = _serve_demo_refused(monkeypatch)
    assert result.exit_code == 1
    assert f"port {port}" in result.output
    assert "is taken by another DynamoDB engine, not this workspace's demo engine" in result.output


def test_demo_without_java_says_moto_keeps_nothing(demo_home, monkeypatch, tmp_path):
    from dynaquery import demo

    monkeypatch.setenv("PATH", str(tmp_path))  # no `java` on it
    said = []
    engine = demo.start_engine(demo_home, echo=said.append)
    try:
        assert engine.data_dir is None
        assert engine.endpoint_url == f"http://127.0.0.1:{demo.DEMO_PORT}"  # the remembered port
        assert _client(engine.endpoint_url).list_tables()["TableNames"] == []
    finally:
        engine.stop()
    assert "using moto's engine in this process" in said[0]
    assert "It keeps nothing: the demo's tables and items are lost when it stops" in said[0]


def test_demo_examples_end_well_with_the_wrong_update_item_refused(dynamodb_local, capfd):
    """`scripts/demo`: each example runs for real; the documentation's wrong UpdateItem really
    fails, with its error shown, and is labelled as the expected refusal: the demo succeeds."""
    from dynaquery.demo import run_examples, seed

    from support import Endpoint

    endpoint = Endpoint(dynamodb_local.endpoint_url)
    seed(endpoint.connection())
    assert run_examples(endpoint.flags) == 0
    out, err = capfd.readouterr()
    assert (
        "# The documentation's UpdateItem, which is wrong ('name' is a reserved word): refused, "
        "with the fix (expected to fail)\n$ dynaquery run UpdateItem" in out
    )
    assert "write #name instead" in err  # the real error, shown
    assert out.count("(exit 0)") == 4
    assert "refused, as expected)" in out
    assert out.rstrip().endswith("Demo done: 4 examples ran, 1 refused as expected.")


def test_demo_fails_when_an_example_does_not_do_what_it_should(dynamodb_local, capfd):
    from dynaquery.demo import DemoRun, run_examples

    from support import Endpoint

    endpoint = Endpoint(dynamodb_local.endpoint_url)  # an empty database: no table `users`
    wrong = [
        DemoRun("must work", ["run", "GetItem", '{"TableName": "users", "Key": {"a": "b"}}']),
        DemoRun("must be refused", ["run", "ListTables"], succeeds=False, refusal="x"),
    ]
    assert run_examples(endpoint.flags, wrong) == 1
    out, err = capfd.readouterr()
    assert out.count("NOT what this example should do") == 2
    assert "The demo went wrong at: must work; must be refused" in err
