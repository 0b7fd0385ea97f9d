"""The item editor's core and API against DynamoDB Local: conditional saves, conflicts with both
versions, create, duplicate, batch delete, exact types through the plain view, read-only."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from fastapi.testclient import TestClient

from dynaquery import Workspace
from dynaquery.errors import InputError
from dynaquery.items import MAX_EXPRESSION_BYTES, edited_item, save_request
from dynaquery.server import _digest, create_app

from support import Endpoint, pk_sk_table

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx`")

TOKEN = "items-token-0123456789"
BIG = "7223372036854775837"  # past a float's and an int64's exact range
BLOB = b"\x00\xffbinary\x10"


@pytest.fixture
def env(tmp_path, dynamodb_local):
    endpoint = Endpoint(dynamodb_local.endpoint_url)
    client = endpoint.boto3()
    table = "items_" + uuid.uuid4().hex[:10]
    client.create_table(**pk_sk_table(table))
    workspace = Workspace.open(home=tmp_path)
    workspace.add_datasource("local", **endpoint.settings())
    workspace.add_datasource("ro", read_only=True, **endpoint.settings())
    http = TestClient(create_app(workspace, _digest(TOKEN)))
    http.headers["Authorization"] = f"Bearer {TOKEN}"
    yield type("Env", (), {"client": client, "table": table, "ws": workspace, "http": http})
    workspace.close()


def put(env, pk="a", sk=1, **attributes):
    item = {"pk": {"S": pk}, "sk": {"N": str(sk)}, **attributes}
    env.client.put_item(TableName=env.table, Item=item)
    return item


def stored(env, pk="a", sk=1):
    key = {"pk": {"S": pk}, "sk": {"N": str(sk)}}
    return env.client.get_item(TableName=env.table, Key=key, ConsistentRead=True).get("Item")


RICH = {
    "tags": {"SS": ["red", "blue"]},
    "big": {"N": BIG},
    "blob": {"B": BLOB},
    "name": {"S": "Ada"},
}


def load(env, pk="a", sk=1):
    key = json.dumps({"pk": pk, "sk": sk})
    answer = env.http.get(
        f"/api/tables/{env.table}/item", params={"datasource": "local", "key": key}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def save(env, loaded, text, view="plain", datasource="local"):
    body = {"datasource": datasource, "loaded": loaded, "item": text, "view": view}
    return env.http.put(f"/api/tables/{env.table}/item", json=body)


def test_get_shows_typed_and_plain(env):
    put(env, **RICH)
    answer = load(env)
    assert set(answer["typed"]["tags"]["SS"]) == {"red", "blue"}
    assert answer["typed"]["big"] == {"N": BIG}
    assert answer["typed"]["blob"] == {"B": base64.b64encode(BLOB).decode()}
    assert answer["plain"]["name"] == "Ada"
    raw = env.http.get(
        f"/api/tables/{env.table}/item",
        params={"datasource": "local", "key": '{"pk": "a", "sk": 1}'},
    ).text
    assert f'"big":{BIG}' in raw  # the plain form's number, every digit
    missing = env.http.get(
        f"/api/tables/{env.table}/item",
        params={"datasource": "local", "key": '{"pk": "zz", "sk": 1}'},
    )
    assert missing.status_code == 404


def test_plain_edit_of_another_attribute_keeps_set_number_and_binary(env):
    put(env, **RICH)
    loaded = load(env)
    text = json.dumps({**loaded["plain"], "name": "Grace"})
    answer = save(env, loaded["typed"], text)
    assert answer.status_code == 200, answer.text
    item = stored(env)
    assert item["name"] == {"S": "Grace"}
    assert set(item["tags"]["SS"]) == {"red", "blue"}
    assert item["big"] == {"N": BIG}
    assert item["blob"] == {"B": BLOB}


def test_plain_edit_of_the_set_itself_keeps_a_set(env):
    put(env, **RICH)
    loaded = load(env)
    plain = loaded["plain"]
    text = (
        "{"
        + f'"pk": "a", "sk": 1, "tags": ["red", "blue", "green"], "big": {BIG}, '
        + f'"blob": "{plain["blob"]}", "name": "Ada"'
        + "}"
    )
    answer = save(env, loaded["typed"], text)
    assert answer.status_code == 200, answer.text
    item = stored(env)
    assert set(item["tags"]["SS"]) == {"red", "blue", "green"}
    assert item["big"] == {"N": BIG} and item["blob"] == {"B": BLOB}
    # the big number edited itself, in the plain view: digit for digit
    loaded = load(env)
    text = text.replace(BIG, "7223372036854775839").replace('"green"', '"green"')
    assert save(env, loaded["typed"], text).status_code == 200
    assert stored(env)["big"] == {"N": "7223372036854775839"}


def test_removed_attribute_and_typed_view(env):
    put(env, **RICH)
    loaded = load(env)
    typed = {k: v for k, v in loaded["typed"].items() if k != "name"}
    typed["extra"] = {"NS": ["1", "2.5"]}
    answer = save(env, loaded["typed"], json.dumps(typed), view="typed")
    assert answer.status_code == 200, answer.text
    item = stored(env)
    assert "name" not in item and set(item["extra"]["NS"]) == {"1", "2.5"}
    assert answer.json()["typed"]["big"] == {"N": BIG}


def test_conflict_when_changed_behind(env):
    put(env, **RICH)
    loaded = load(env)
    env.client.update_item(  # someone else, between load and save
        TableName=env.table,
        Key={"pk": {"S": "a"}, "sk": {"N": "1"}},
        UpdateExpression="SET #n = :v",
        ExpressionAttributeNames={"#n": "name"},
        ExpressionAttributeValues={":v": {"S": "Theirs"}},
    )
    text = json.dumps({**loaded["plain"], "name": "Mine"})
    answer = save(env, loaded["typed"], text)
    assert answer.status_code == 409, answer.text
    body = answer.json()
    assert body["error"] == "ItemConflict"
    assert body["current"]["plain"]["name"] == "Theirs"
    assert body["yours"]["plain"]["name"] == "Mine"
    assert body["current"]["typed"]["big"] == {"N": BIG}
    assert stored(env)["name"] == {"S": "Theirs"}  # nothing overwritten
    # saving over the current version, knowingly: the current one is the new loaded image
    again = save(env, body["current"]["typed"], text)
    assert again.status_code == 200, again.text
    assert stored(env)["name"] == {"S": "Mine"}


def test_conflict_when_deleted_behind(env):
    put(env, **RICH)
    loaded = load(env)
    env.client.delete_item(TableName=env.table, Key={"pk": {"S": "a"}, "sk": {"N": "1"}})
    text = json.dumps({**loaded["plain"], "name": "Mine"})
    answer = save(env, loaded["typed"], text)
    assert answer.status_code == 409
    assert answer.json()["current"] is None
    assert stored(env) is None


def test_key_change_refused_and_nothing_changed_sends_nothing(env):
    put(env, name={"S": "x"})
    loaded = load(env)
    moved = save(env, loaded["typed"], json.dumps({**loaded["plain"], "sk": 2}))
    assert moved.status_code == 400 and "Duplicate" in moved.json()["message"]
    runs = env.ws.history(limit=None)
    same = save(env, loaded["typed"], json.dumps(loaded["plain"]))
    assert same.status_code == 200
    assert [run.operation for run in env.ws.history(limit=None)][: len(runs) + 1] == ["GetItem"] + [
        run.operation for run in runs
    ]  # no UpdateItem: the item read again only
    env.client.put_item(TableName=env.table, Item={"pk": {"S": "a"}, "sk": {"N": "1"}})
    behind = save(env, loaded["typed"], json.dumps(loaded["plain"]))
    assert behind.status_code == 409 and behind.json()["current"]["plain"] == {"pk": "a", "sk": 1}


def test_create_refused_when_the_key_exists(env):
    path = f"/api/tables/{env.table}/items"
    body = {"datasource": "local", "item": f'{{"pk": "n", "sk": 5, "big": {BIG}}}'}
    created = env.http.post(path, json=body)
    assert created.status_code == 200, created.text
    assert stored(env, "n", 5)["big"] == {"N": BIG}
    again = env.http.post(path, json={**body, "item": '{"pk": "n", "sk": 5, "other": 1}'})
    assert again.status_code == 409
    assert again.json()["current"]["plain"]["big"] == int(BIG)
    assert "other" not in stored(env, "n", 5)
    no_key = env.http.post(path, json={**body, "item": '{"pk": "n"}'})
    assert no_key.status_code == 400 and "'sk'" in no_key.json()["message"]


def test_duplicate_keeps_types(env):
    put(env, **RICH)
    loaded = load(env)
    text = json.dumps({**loaded["plain"], "sk": 2})
    body = {"datasource": "local", "item": text, "like": loaded["typed"]}
    answer = env.http.post(f"/api/tables/{env.table}/items", json=body)
    assert answer.status_code == 200, answer.text
    copy = stored(env, "a", 2)
    assert set(copy["tags"]["SS"]) == {"red", "blue"}
    assert copy["big"] == {"N": BIG} and copy["blob"] == {"B": BLOB}


def test_batch_delete_of_many_asks_first(env):
    for sk in range(60):
        put(env, "d", sk)
    put(env, "keep", 1)
    keys = [{"pk": "d", "sk": sk} for sk in range(60)] + [{"pk": {"S": "d"}, "sk": {"N": "0"}}]
    path = f"/api/tables/{env.table}/items/delete"
    asked = env.http.post(path, json={"datasource": "local", "keys": keys})
    assert asked.status_code == 428
    assert stored(env, "d", 3) is not None
    answer = env.http.post(path, json={"datasource": "local", "keys": keys, "confirm": True})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["deleted"] == 60 and body["complete"] is True
    assert body["meta"]["batch_requests"] >= 3  # 60 keys: 25 a call
    left = env.client.scan(TableName=env.table)["Items"]
    assert left == [{"pk": {"S": "keep"}, "sk": {"N": "1"}}]


def test_read_only_refuses_every_write(env):
    put(env, **RICH)
    loaded = load(env)
    assert save(env, loaded["typed"], '{"pk": "a", "sk": 1}', datasource="ro").status_code == 403
    create = {"datasource": "ro", "item": '{"pk": "z", "sk": 1}'}
    assert env.http.post(f"/api/tables/{env.table}/items", json=create).status_code == 403
    delete = {"datasource": "ro", "keys": [{"pk": "a", "sk": 1}], "confirm": True}
    answer = env.http.post(f"/api/tables/{env.table}/items/delete", json=delete)
    assert answer.status_code == 403 and answer.json()["error"] == "ReadOnlyError"
    assert stored(env)["name"] == {"S": "Ada"} and stored(env, "z", 1) is None
    key = '{"pk": "a", "sk": 1}'
    read = env.http.get(f"/api/tables/{env.table}/item", params={"datasource": "ro", "key": key})
    assert read.status_code == 200


def test_bad_items_are_named(env):
    put(env, blob={"B": BLOB})
    loaded = load(env)
    answer = save(env, loaded["typed"], '{"pk": "a", "sk": 1, "blob": "not base64!"}')
    assert answer.status_code == 400
    assert "item.blob" in answer.json()["message"]
    assert save(env, loaded["typed"], "[1]").status_code == 400
    assert save(env, loaded["typed"], '{"pk": "a",').status_code == 400


def test_history_records_the_editor_runs(env):
    put(env, name={"S": "x"})
    loaded = load(env)
    save(env, loaded["typed"], json.dumps({**loaded["plain"], "name": "y"}))
    operations = [run.operation for run in env.ws.history(limit=5)]
    assert operations[:2] == ["UpdateItem", "GetItem"]


# -- the request itself (no server) --------------------------------------------------------


def test_large_items_fall_back_to_conditions_on_the_changed_attributes():
    loaded = {"pk": {"S": "a"}} | {f"attr{i}": {"S": "v"} for i in range(400)}
    edited = edited_item("plain", {**{k: "v" for k in loaded}, "pk": "a", "attr7": "w"}, loaded)
    operation, params = save_request("t", ["pk"], loaded, edited)
    assert operation == "UpdateItem"
    assert len(params["ConditionExpression"]) <= MAX_EXPRESSION_BYTES
    assert params["ConditionExpression"] == "attribute_exists(#a1) AND #a0 = :c0"
    assert params["ExpressionAttributeNames"] == {"#a0": "attr7", "#a1": "pk"}
    small = {"pk": {"S": "a"}, "n": {"N": "1"}}
    _, params = save_request(
        "t", ["pk"], small, {"pk": {"S": "a"}, "n": {"N": "2"}, "x": {"S": "y"}}
    )
    assert params["ConditionExpression"] == (
        "#a2 = :c0 AND #a0 = :c1 AND attribute_not_exists(#a1)"
    )


def test_plain_view_follows_the_loaded_types():
    guide = {
        "ss": {"SS": ["a"]},
        "ns": {"NS": ["1"]},
        "b": {"B": b"\x01"},
        "m": {"M": {"S": {"S": "looks typed"}, "inner": {"SS": ["q"]}}},
        "flag": {"N": "1"},
    }
    edited = edited_item(
        "plain",
        {
            "ss": ["a", "b"],
            "ns": [1, 2],
            "b": base64.b64encode(b"\x02").decode(),
            "m": {"S": "looks typed", "inner": ["q", "r"]},
            "flag": True,
            "new": ["x"],
        },
        guide,
    )
    assert edited["ss"] == {"SS": ["a", "b"]}
    assert edited["ns"] == {"NS": ["1", "2"]}
    assert edited["b"] == {"B": b"\x02"}
    assert edited["m"] == {"M": {"S": {"S": "looks typed"}, "inner": {"SS": ["q", "r"]}}}
    assert edited["flag"] == {"BOOL": True}  # true is no longer the number 1
    assert edited["new"] == {"L": [{"S": "x"}]}


def test_too_many_changes_at_once_are_refused_naming_the_limit():
    loaded = {"pk": {"S": "a"}}
    edited = {"pk": {"S": "a"}} | {f"attr{i}": {"S": "v"} for i in range(400)}
    with pytest.raises(InputError, match="400 attributes change at once"):
        save_request("t", ["pk"], loaded, edited)


def test_an_emptied_set_is_named():
    guide = {"tags": {"SS": ["a"]}}
    with pytest.raises(InputError, match=r"item.tags: a set \(SS\) cannot be empty"):
        edited_item("plain", {"tags": []}, guide)
    with pytest.raises(InputError, match=r"item.tags: a set \(NS\) cannot be empty"):
        edited_item("form", {"tags": {"NS": []}}, guide)
