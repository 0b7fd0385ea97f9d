"""The local engines are real servers, and stop when told."""

from __future__ import annotations

import socket

import botocore.session
import pytest
from botocore.exceptions import ClientError

from dynaquery.local import free_port, start_moto


def client(endpoint_url: str):
    return botocore.session.get_session().create_client(
        "dynamodb", region_name="us-east-1", endpoint_url=endpoint_url,
        aws_access_key_id="localtest", aws_secret_access_key="localtest")


def test_dynamodb_local_is_dynamodb(dynamodb_local):
    ddb = client(dynamodb_local.endpoint_url)
    ddb.create_table(TableName="probe", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    ddb.put_item(TableName="probe", Item={"id": {"S": "a"}, "n": {"N": "1.50"}})
    assert ddb.get_item(TableName="probe", Key={"id": {"S": "a"}})["Item"]["id"] == {"S": "a"}
    # ... and lacks what moto is there for:
    with pytest.raises(ClientError) as info:
        ddb.create_backup(TableName="probe", BackupName="probe-backup")
    assert info.value.response["Error"]["Code"] == "UnknownOperationException"


def test_moto_answers_backups(moto_server):
    ddb = client(moto_server.endpoint_url)
    ddb.create_table(TableName="probe2", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    backup = ddb.create_backup(TableName="probe2", BackupName="probe-backup")["BackupDetails"]
    assert backup["BackupName"] == "probe-backup" and "/backup/" in backup["BackupArn"]


def test_stop_frees_the_port():
    server = start_moto()
    port = server.port
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    server.stop()
    assert server.process.poll() is not None
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2)


def test_free_port_is_bindable():
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
