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
        "dynamodb", region_name="us-east-1", endpoint_url=endpoint_url,
        aws_access_key_id="local", aws_secret_access_key="local",
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
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
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
    assert [b["BackupArn"] for b in client.list_backups(TableName=table)["BackupSummaries"]] == [details["BackupArn"]]


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


@pytest.mark.parametrize("start", [local.start_dynamodb_local, local.start_moto], ids=["dynamodb-local", "moto"])
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
    with tarfile.open(fileobj=buffer, mode="r:gz") as tar, pytest.raises(local.LocalEngineUnavailable):
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
