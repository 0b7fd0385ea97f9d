"""The item editor in Chromium: open an item, edit it (JSON, typed JSON, form), save; a conflict
shown with both versions; create, duplicate, delete; string sets, 19-digit numbers and binary
checked in DynamoDB Local with boto3 after each round trip; a read-only data source offers no
write.

Most tests open items as the results grid does, with the document event "dq:open-item"
{row, table, datasource}, and call the module's own newItem / deleteRows; test_from_the_grid
goes through the grid itself (a click on a row, its checkboxes, the result's item buttons)."""

from __future__ import annotations

import base64
import json
import re
import uuid

import pytest
from playwright.sync_api import expect

from steps import ensure_local, new_query, rows, run, set_params
from support import pk_sk_table

BIG = "7223372036854775837"
BLOB = b"\x00\xffbin\x10"
MODULE = "/static/views/item-editor.js"


@pytest.fixture(scope="module")
def table(endpoint):
    client = endpoint.boto3()
    name = "editor_" + uuid.uuid4().hex[:8]
    client.create_table(**pk_sk_table(name))
    return type("Table", (), {"name": name, "client": client})


@pytest.fixture
def ready(page, server, endpoint, table):
    ensure_local(page, server, endpoint)
    return table


def put(table, pk, sk, **attributes):
    item = {"pk": {"S": pk}, "sk": {"N": str(sk)}, **attributes}
    table.client.put_item(TableName=table.name, Item=item)


def stored(table, pk, sk):
    key = {"pk": {"S": pk}, "sk": {"N": str(sk)}}
    return table.client.get_item(TableName=table.name, Key=key, ConsistentRead=True).get("Item")


def rich(table, pk, sk=1):
    put(
        table,
        pk,
        sk,
        tags={"SS": ["red", "blue"]},
        big={"N": BIG},
        blob={"B": BLOB},
        name={"S": "Ada"},
    )


def open_item(page, table, pk, sk, datasource="local"):
    detail = {"row": {"pk": pk, "sk": sk}, "table": table.name, "datasource": datasource}
    page.evaluate(
        "d => document.dispatchEvent(new CustomEvent('dq:open-item', {detail: d}))", detail
    )
    expect(page.get_by_test_id("item-editor")).to_be_visible()
    expect(page.get_by_test_id("item-json")).to_have_value(re.compile(f'"pk": "{pk}"'))


def edit_text(page, old: str, new: str) -> None:
    box = page.get_by_test_id("item-json")
    text = box.input_value()
    assert old in text, text
    box.fill(text.replace(old, new))


def writes(response) -> bool:
    return "/api/tables/" in response.url and response.request.method in ("PUT", "POST")


def save(page, toast="Item saved.", button="item-save"):
    with page.expect_response(writes) as answer:
        page.get_by_test_id(button).click()
    assert answer.value.status == 200, answer.value.text()
    expect(page.get_by_test_id("toast")).to_contain_text(toast)


def close(page):
    page.get_by_test_id("item-close").click()
    expect(page.get_by_test_id("item-editor")).to_be_hidden()


def assert_kept(item):
    assert item["big"] == {"N": BIG}
    assert item["blob"] == {"B": BLOB}
    assert "SS" in item["tags"]


def test_open_edit_save_keeps_types(page, ready, shots):
    rich(ready, "a")
    open_item(page, ready, "a", 1)
    text = page.get_by_test_id("item-json").input_value()
    assert f'"big": {BIG}' in text  # every digit, in the plain view
    shots(page, "40-item-editor-plain")
    edit_text(page, '"Ada"', '"Grace"')
    save(page)
    item = stored(ready, "a", 1)
    assert item["name"] == {"S": "Grace"}
    assert_kept(item)
    # the set itself, edited in the plain view, stays a string set
    edit_text(page, '"blue"', '"blue",\n    "green"')
    save(page)
    item = stored(ready, "a", 1)
    assert set(item["tags"]["SS"]) == {"red", "blue", "green"}
    assert_kept(item)
    close(page)


def test_typed_view_and_form(page, ready, shots):
    rich(ready, "t")
    open_item(page, ready, "t", 1)
    page.get_by_test_id("item-view-typed").click()
    text = page.get_by_test_id("item-json").input_value()
    assert f'"N": "{BIG}"' in text and '"SS"' in text
    assert base64.b64encode(BLOB).decode() in text
    shots(page, "41-item-editor-typed")
    page.get_by_test_id("item-view-form").click()
    expect(page.get_by_test_id("item-form")).to_be_visible()
    rows = page.get_by_test_id("item-form-row")
    expect(rows).to_have_count(6)
    name_row = rows.filter(has=page.locator("input.ie-name[value=name]"))
    name_row.locator(".ie-value").fill("Form edit")
    tags_row = rows.filter(has=page.locator("input.ie-name[value=tags]"))
    tags_row.locator(".ie-value").fill("red\nblue\nyellow")
    shots(page, "42-item-editor-form")
    save(page)
    item = stored(ready, "t", 1)
    assert item["name"] == {"S": "Form edit"}
    assert set(item["tags"]["SS"]) == {"red", "blue", "yellow"}
    assert_kept(item)
    page.get_by_test_id("item-view-plain").click()
    close(page)


def test_conflict_shows_both_versions(page, ready, shots):
    rich(ready, "c")
    open_item(page, ready, "c", 1)
    ready.client.update_item(  # someone else, meanwhile
        TableName=ready.name,
        Key={"pk": {"S": "c"}, "sk": {"N": "1"}},
        UpdateExpression="SET #n = :v",
        ExpressionAttributeNames={"#n": "name"},
        ExpressionAttributeValues={":v": {"S": "Theirs"}},
    )
    edit_text(page, '"Ada"', '"Mine"')
    page.get_by_test_id("item-save").click()
    conflict = page.get_by_test_id("item-conflict")
    expect(conflict).to_be_visible()
    expect(page.get_by_test_id("item-conflict-current")).to_contain_text('"Theirs"')
    expect(page.get_by_test_id("item-conflict-yours")).to_contain_text('"Mine"')
    expect(page.get_by_test_id("item-conflict-differ")).to_have_text("Differing: name")
    shots(page, "43-item-editor-conflict")
    assert stored(ready, "c", 1)["name"] == {"S": "Theirs"}  # nothing overwritten
    save(page, button="item-overwrite")
    item = stored(ready, "c", 1)
    assert item["name"] == {"S": "Mine"}
    assert_kept(item)
    # deleted meanwhile: nothing written; saved again as a new item, on request
    ready.client.delete_item(TableName=ready.name, Key={"pk": {"S": "c"}, "sk": {"N": "1"}})
    edit_text(page, '"Mine"', '"Mine again"')
    page.get_by_test_id("item-save").click()
    expect(page.get_by_test_id("item-conflict-current")).to_contain_text("deleted")
    assert stored(ready, "c", 1) is None
    save(page, "Item created.", button="item-recreate")
    item = stored(ready, "c", 1)
    assert item["name"] == {"S": "Mine again"}
    assert_kept(item)
    close(page)


def test_create_duplicate_delete(page, ready, dialogs, shots):
    page.evaluate(
        f"([t, d]) => import('{MODULE}').then(m => m.newItem({{table: t, datasource: d}}))",
        [ready.name, "local"],
    )
    expect(page.get_by_test_id("item-editor")).to_contain_text("New item")
    page.get_by_test_id("item-json").fill(
        f'{{"pk": "new", "sk": 7, "big": {BIG}, "note": "created"}}'
    )
    shots(page, "44-item-editor-new")
    save(page, "Item created.")
    assert stored(ready, "new", 7)["big"] == {"N": BIG}
    # the same key again: refused, the existing item shown
    close(page)
    page.evaluate(
        f"([t, d]) => import('{MODULE}').then(m => m.newItem({{table: t, datasource: d}}))",
        [ready.name, "local"],
    )
    page.get_by_test_id("item-json").fill('{"pk": "new", "sk": 7, "note": "again"}')
    page.get_by_test_id("item-save").click()
    expect(page.get_by_test_id("item-conflict")).to_contain_text("exists already")
    assert stored(ready, "new", 7)["note"] == {"S": "created"}
    close(page)
    # duplicate: a copy under a new key, types kept
    rich(ready, "dup")
    open_item(page, ready, "dup", 1)
    page.get_by_test_id("item-duplicate-open").click()
    expect(page.get_by_test_id("item-editor")).to_contain_text("Duplicate item")
    edit_text(page, '"sk": 1', '"sk": 2')
    save(page, "Item created.")
    assert_kept(stored(ready, "dup", 2))
    # delete the open one (asked first)
    dialogs.seen.clear()
    page.get_by_test_id("item-delete-open").click()
    expect(page.get_by_test_id("item-editor")).to_be_hidden()
    assert stored(ready, "dup", 2) is None
    assert any("DeleteRequest" in m or "BatchWriteItem" in m for _, m in dialogs.seen)
    # delete many selected rows: 30, in two batches
    for sk in range(30):
        put(ready, "many", sk)
    rows = [{"pk": "many", "sk": sk} for sk in range(30)]
    page.evaluate(
        f"([r, t]) => import('{MODULE}').then(m => m.deleteRows(r, {{table: t, "
        "datasource: 'local'}))",
        [rows, ready.name],
    )
    expect(page.get_by_test_id("toast")).to_contain_text("30 items deleted")
    left = ready.client.query(
        TableName=ready.name,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "many"}},
    )["Items"]
    assert left == []


def test_from_the_grid(page, ready, dialogs, shots):
    """The grid's rows open the editor; its buttons create, duplicate and delete; the rows follow."""
    for sk in range(3):
        rich(ready, "g", sk)
    new_query(page, "Query")
    set_params(
        page,
        json.dumps(
            {
                "TableName": ready.name,
                "KeyConditionExpression": "pk = :p",
                "ExpressionAttributeValues": {":p": "g"},
            }
        ),
    )
    run(page)
    expect(rows(page)).to_have_count(3)
    expect(page.get_by_test_id("item-new")).to_be_enabled()
    expect(page.get_by_test_id("item-delete")).to_be_disabled()
    rows(page).nth(1).locator("td").nth(2).click()
    expect(page.get_by_test_id("item-editor")).to_be_visible()
    expect(page.get_by_test_id("item-json")).to_have_value(re.compile('"sk": 1'))
    edit_text(page, '"Ada"', '"From the grid"')
    save(page)
    close(page)
    expect(page.get_by_test_id("result-table")).to_contain_text("From the grid")
    assert_kept(stored(ready, "g", 1))
    # two rows picked: Delete selected (2), asked first
    rows(page).nth(0).get_by_test_id("row-check").check()
    rows(page).nth(2).get_by_test_id("row-check").check()
    expect(page.get_by_test_id("item-delete")).to_contain_text("(2)")
    shots(page, "46-item-actions-selected")
    dialogs.seen.clear()
    with page.expect_response(writes):
        page.get_by_test_id("item-delete").click()
    expect(rows(page)).to_have_count(1)
    assert dialogs.seen and dialogs.seen[-1][0] == "confirm"
    assert stored(ready, "g", 0) is None and stored(ready, "g", 2) is None
    # one row picked: Duplicate, under a new key
    rows(page).nth(0).get_by_test_id("row-check").check()
    page.get_by_test_id("item-duplicate").click()
    expect(page.get_by_test_id("item-editor")).to_contain_text("Duplicate item")
    edit_text(page, '"sk": 1', '"sk": 9')
    save(page, "Item created.")
    close(page)
    expect(rows(page)).to_have_count(2)
    assert_kept(stored(ready, "g", 9))


def test_read_only_offers_no_write(page, server, endpoint, ready, shots):
    if not any(d["name"] == "ro" for d in server.api("GET", "/api/datasources")):
        server.api(
            "POST", "/api/datasources", {"name": "ro", "read_only": True, **endpoint.settings()}
        )
        page.reload()
        expect(page.get_by_test_id("ds-list")).to_contain_text("ro")
    rich(ready, "r")
    open_item(page, ready, "r", 1, datasource="ro")
    expect(page.get_by_test_id("item-readonly")).to_be_visible()
    for test_id in ("item-save", "item-delete-open", "item-duplicate-open"):
        expect(page.get_by_test_id(test_id)).to_be_hidden()
    assert page.get_by_test_id("item-json").evaluate("e => e.readOnly") is True
    shots(page, "45-item-editor-read-only")
    close(page)
    # the result's item actions: offered, disabled
    new_query(page, "Scan")
    ro = next(d for d in server.api("GET", "/api/datasources") if d["name"] == "ro")
    page.get_by_test_id("q-datasource").select_option(value=ro["id"])
    set_params(page, json.dumps({"TableName": ready.name, "Limit": 3}))
    run(page)
    expect(rows(page).first).to_be_visible()
    rows(page).first.get_by_test_id("row-check").check()
    for test_id in ("item-new", "item-duplicate", "item-delete"):
        expect(page.get_by_test_id(test_id)).to_be_disabled()
    body = {"datasource": "ro", "keys": [{"pk": "r", "sk": 1}], "confirm": True}
    with pytest.raises(Exception, match="403"):
        server.api("POST", f"/api/tables/{ready.name}/items/delete", body)
    assert stored(ready, "r", 1) is not None
    assert json.dumps(stored(ready, "r", 1)["big"]) == json.dumps({"N": BIG})
