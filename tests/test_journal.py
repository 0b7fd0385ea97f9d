"""The journal of writes and undo (journal.py, written.py), against DynamoDB Local: every write
kind undone exactly (a string set, a 38-digit number and binary included), an item changed after
the run left alone and shown, a data source with its journal off (keys kept, undo says why), the
command and the API."""

from __future__ import annotations

import json
import uuid

import pytest

from dynaquery.errors import InputError, KeysUnknown
from dynaquery.written import written_items

from support import dynaquery, journal_workspace

BIG = "12345678901234567890123456789012345678"
RICH = {"tags": {"SS": ["a", "b"]}, "big": {"N": BIG}, "blob": {"B": b"\x00\xffbin"}}


# -- which items a request writes (no server) ---------------------------------------------------


def keys_pk_sk(table: str) -> list[str]:
    return ["pk", "sk"]


def test_the_keys_of_every_write_kind():
    key = {"pk": {"S": "a"}, "sk": {"N": "1"}}
    item = {**key, "v": {"S": "x"}}
    assert written_items("PutItem", {"TableName": "t", "Item": item}, keys_pk_sk) == [("t", key)]
    assert written_items("UpdateItem", {"TableName": "t", "Key": key}, keys_pk_sk) == [("t", key)]
    other = {"pk": {"S": "b"}, "sk": {"N": "2"}}
    batch = {
        "RequestItems": {"t": [{"PutRequest": {"Item": item}}, {"DeleteRequest": {"Key": other}}]}
    }
    assert written_items("BatchWriteItem", batch, keys_pk_sk) == [("t", key), ("t", other)]
    transact = {
        "TransactItems": [
            {"Put": {"TableName": "t", "Item": item}},
            {"ConditionCheck": {"TableName": "t", "Key": other}},
            {"Delete": {"TableName": "u", "Key": other}},
        ]
    }
    assert written_items("TransactWriteItems", transact, keys_pk_sk) == [("t", key), ("u", other)]
    statement = {
        "Statement": 'UPDATE "t" SET v = ? WHERE pk = ? AND sk = 1',
        "Parameters": [{"S": "new"}, {"S": "a"}],
    }
    assert written_items("ExecuteStatement", statement, keys_pk_sk) == [("t", key)]
    insert = {"Statement": "INSERT INTO t VALUE {'pk': 'a', 'sk': 1, 'v': 'x'}"}
    assert written_items("ExecuteStatement", insert, keys_pk_sk) == [("t", key)]
    assert written_items("ExecuteStatement", {"Statement": "SELECT * FROM t"}, keys_pk_sk) == []


def test_a_statement_whose_key_is_not_spelled_out_is_unknown():
    with pytest.raises(KeysUnknown, match="not key = value"):
        written_items(
            "ExecuteStatement",
            {"Statement": "DELETE FROM t WHERE pk = 'a' OR pk = 'b'"},
            keys_pk_sk,
        )
    with pytest.raises(KeysUnknown, match="no WHERE"):
        written_items("ExecuteStatement", {"Statement": "UPDATE t SET v = 1"}, keys_pk_sk)


# -- undo against DynamoDB Local -------------------------------------------------------------


@pytest.fixture
def ws(tmp_path, monkeypatch, dynamodb_local):
    monkeypatch.delenv("DYNAQUERY_SECRET_KEY", raising=False)
    monkeypatch.delenv("DYNAQUERY_DATABASE_URL", raising=False)
    workspace = journal_workspace(tmp_path, dynamodb_local.endpoint_url, "journal_")
    yield workspace
    workspace.close()


def stored(ws, pk: str, sk: int) -> dict | None:
    answer = ws.dynamodb.get_item(
        TableName=ws.table, Key={"pk": {"S": pk}, "sk": {"N": str(sk)}}, ConsistentRead=True
    )
    return answer.get("Item")


def put(ws, pk: str, sk: int, **extra) -> None:
    item = {"pk": {"S": pk}, "sk": {"N": str(sk)}, **RICH, **extra}
    ws.dynamodb.put_item(TableName=ws.table, Item=item)


def last_run(ws):
    return ws.history(limit=1)[0]


def test_undo_puts_back_what_each_write_kind_changed(ws):
    put(ws, "a", 1, v={"S": "one"})
    put(ws, "b", 2, v={"S": "two"})
    before = {k: stored(ws, *k) for k in [("a", 1), ("b", 2), ("c", 3)]}
    t = ws.table
    writes = [
        ("PutItem", {"TableName": t, "Item": {"pk": "a", "sk": 1, "v": "replaced"}}),
        ("PutItem", {"TableName": t, "Item": {"pk": "c", "sk": 3, "v": "new"}}),
        (
            "UpdateItem",
            {
                "TableName": t,
                "Key": {"pk": "b", "sk": 2},
                "UpdateExpression": "SET v = :v ADD tags :t",
                "ExpressionAttributeValues": {":v": "changed", ":t": {"SS": ["z"]}},
            },
        ),
        ("DeleteItem", {"TableName": t, "Key": {"pk": "a", "sk": 1}}),
        (
            "BatchWriteItem",
            {
                "RequestItems": {
                    t: [
                        {"PutRequest": {"Item": {"pk": "c", "sk": 3, "v": "batch"}}},
                        {"DeleteRequest": {"Key": {"pk": "b", "sk": 2}}},
                    ]
                }
            },
        ),
        (
            "TransactWriteItems",
            {
                "TransactItems": [
                    {"Put": {"TableName": t, "Item": {"pk": "a", "sk": 1, "v": "transact"}}},
                    {
                        "Update": {
                            "TableName": t,
                            "Key": {"pk": "b", "sk": 2},
                            "UpdateExpression": "SET v = :v",
                            "ExpressionAttributeValues": {":v": "t"},
                        }
                    },
                ]
            },
        ),
        (
            "ExecuteStatement",
            {"Statement": f"UPDATE \"{t}\" SET v = 'partiql' WHERE pk = 'b' AND sk = 2"},
        ),
        (
            "ExecuteStatement",
            {"Statement": f'DELETE FROM "{t}" WHERE pk = ? AND sk = ?', "Parameters": ["a", 1]},
        ),
    ]
    for operation, params in writes:
        state = {k: stored(ws, *k) for k in before}
        ws.run("on", operation, params)
        run = last_run(ws)
        assert run.journal == "undoable", (operation, run)
        assert {k: stored(ws, *k) for k in before} != state, operation  # it did write
        report = ws.undo(run.id)
        assert report["conflicts"] == [], operation
        assert {k: stored(ws, *k) for k in before} == state, operation  # exactly as before
    assert stored(ws, "a", 1)["blob"] == {"B": b"\x00\xffbin"}
    assert stored(ws, "a", 1)["big"] == {"N": BIG} and stored(ws, "a", 1)["tags"]["SS"]


def test_an_item_changed_after_the_run_is_left_alone_and_shown(ws):
    put(ws, "a", 1, v={"S": "one"})
    ws.run(
        "on",
        "UpdateItem",
        {
            "TableName": ws.table,
            "Key": {"pk": "a", "sk": 1},
            "UpdateExpression": "SET v = :v",
            "ExpressionAttributeValues": {":v": "by the run"},
        },
    )
    run = last_run(ws)
    ws.dynamodb.update_item(
        TableName=ws.table,
        Key={"pk": {"S": "a"}, "sk": {"N": "1"}},
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"S": "by someone"}},
    )
    report = ws.undo(run.id)
    assert report["restored"] == 0 and len(report["conflicts"]) == 1
    conflict = report["conflicts"][0]
    assert conflict["left"]["v"] == {"S": "by the run"}
    assert conflict["now"]["v"] == {"S": "by someone"}
    assert stored(ws, "a", 1)["v"] == {"S": "by someone"}  # not overwritten
    with pytest.raises(InputError, match="undone already"):
        ws.undo(run.id)


def test_with_the_journal_off_the_keys_are_kept_and_undo_says_why_not(ws):
    ws.run("off", "PutItem", {"TableName": ws.table, "Item": {"pk": "k", "sk": 9, "v": "x"}})
    run = last_run(ws)
    assert run.journal == "keys"
    (entry,) = ws.journal_of(run.id)
    assert entry["keys"] == [{"pk": {"S": "k"}, "sk": {"N": "9"}}] and entry["images"] is False
    assert entry["who"].startswith("library") and entry["tables"] == [ws.table]
    with pytest.raises(InputError, match="journal of data source 'off' was off") as refused:
        ws.undo_plan(run.id)
    assert "datasource edit off --journal" in str(refused.value)
    assert stored(ws, "k", 9) is not None


def test_a_statement_with_unknown_keys_is_journaled_with_a_note(ws):
    put(ws, "a", 1, v={"S": "x"})
    statement = f"DELETE FROM \"{ws.table}\" WHERE pk = 'a' AND sk = 1 AND begins_with(v, 'x')"
    ws.run("on", "ExecuteStatement", {"Statement": statement})
    run = last_run(ws)
    assert stored(ws, "a", 1) is None  # it ran
    (entry,) = ws.journal_of(run.id)
    assert entry["keys"] is None and "cannot be told" in entry["note"]
    with pytest.raises(InputError, match="cannot be undone"):
        ws.undo(run.id)


def test_reads_are_not_journaled(ws):
    ws.run("on", "Scan", {"TableName": ws.table})
    assert last_run(ws).journal is None


def test_the_command_undoes_and_asks_first(ws):
    put(ws, "a", 1, v={"S": "one"})
    ran = dynaquery(
        "run",
        "PutItem",
        json.dumps({"TableName": ws.table, "Item": {"pk": "a", "sk": 1, "v": "cli"}}),
        "--datasource",
        "on",
        env=ws.env,
    )
    assert ran.code == 0, ran.stderr
    listed = json.loads(dynaquery("history", "--json", "-n", "1", env=ws.env).stdout)
    run_id = listed[0]["id"]
    assert listed[0]["journal"] == "undoable"
    refused = dynaquery("undo", str(run_id), env=ws.env)  # no terminal: --yes needed
    assert refused.code == 2 and "--yes" in refused.stderr
    done = dynaquery("undo", str(run_id), "--yes", "--json", env=ws.env)
    assert done.code == 0, done.stderr
    assert json.loads(done.stdout)["restored"] == 1
    assert stored(ws, "a", 1)["v"] == {"S": "one"}
    again = dynaquery("undo", str(run_id), "--yes", env=ws.env)
    assert again.code == 2 and "undone already" in again.stderr
    missing = dynaquery("undo", "999999", "--yes", env=ws.env)
    assert missing.code == 2 and "history --json" in missing.stderr


def test_the_api_undoes_after_confirmation(ws):
    from fastapi.testclient import TestClient

    from dynaquery.server import _digest, create_app

    client = TestClient(create_app(ws, _digest("undo-token")))
    client.headers["Authorization"] = "Bearer undo-token"
    put(ws, "a", 1, v={"S": "one"})
    ran = client.post(
        "/api/run",
        json={
            "datasource": "on",
            "operation": "DeleteItem",
            "params": {"TableName": ws.table, "Key": {"pk": "a", "sk": 1}},
            "confirm": True,
        },
    )
    assert ran.status_code == 200, ran.text
    run = client.get("/api/history?limit=1").json()[0]
    assert run["journal"] == "undoable"
    (entry,) = client.get(f"/api/history/{run['id']}/journal").json()
    assert entry["who"] == "api" and entry["images"] is True
    assert client.post(f"/api/history/{run['id']}/undo", json={}).status_code == 428
    assert stored(ws, "a", 1) is None
    done = client.post(f"/api/history/{run['id']}/undo", json={"confirm": True})
    assert done.status_code == 200 and done.json()["restored"] == 1
    assert stored(ws, "a", 1)["big"] == {"N": BIG}
    assert client.post(f"/api/history/{run['id']}/undo", json={"confirm": True}).status_code == 400
    assert client.post("/api/history/424242/undo", json={"confirm": True}).status_code == 404


def test_item_images_are_sealed_at_rest(ws, tmp_path):
    secret_value = "SEALED-" + uuid.uuid4().hex
    ws.run(
        "on", "PutItem", {"TableName": ws.table, "Item": {"pk": "s", "sk": 1, "v": secret_value}}
    )
    ws.run("on", "DeleteItem", {"TableName": ws.table, "Key": {"pk": "s", "sk": 1}})
    ws.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert secret_value.encode() not in raw


def test_a_binary_key_and_a_number_written_otherwise_are_found_again(ws):
    """Items read before and after are matched to the written keys by what DynamoDB compares:
    a binary key, and a number key written 1.0 that DynamoDB returns as 1."""
    table = "journal_b_" + uuid.uuid4().hex[:8]
    ws.run(
        "on",
        "CreateTable",
        {
            "TableName": table,
            "KeySchema": [
                {"AttributeName": "b", "KeyType": "HASH"},
                {"AttributeName": "n", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": [
                {"AttributeName": "b", "AttributeType": "B"},
                {"AttributeName": "n", "AttributeType": "N"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )
    key = {"b": {"B": b"\x00\x01"}, "n": {"N": "1.0"}}
    ws.dynamodb.put_item(TableName=table, Item={**key, "v": {"S": "before"}})
    ws.run("on", "PutItem", {"TableName": table, "Item": {**key, "v": {"S": "after"}}})
    report = ws.undo(last_run(ws).id)
    assert report == {"run": report["run"], "restored": 1, "unchanged": 0, "conflicts": []}
    item = ws.dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    assert item["v"] == {"S": "before"}
