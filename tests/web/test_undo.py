"""Undo from the page, in headless Chromium: a data source saved with its journal on (the form's
switch), a write run from the query view, its history row's Undo (asked first), the item back as
it was (checked with boto3); an item changed after the run is left alone and shown; a data source
without a journal offers no Undo."""

from __future__ import annotations

import json
import uuid

from playwright.sync_api import expect

from steps import ds_form, new_query, run, set_params, show
from support import pk_sk_table


def client(endpoint):
    return endpoint.boto3()


def item(dynamodb, table: str) -> dict | None:
    key = {"pk": {"S": "u"}, "sk": {"N": "1"}}
    return dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")


def write(page, datasource: str, table: str, value: str) -> None:
    new_query(page, "UpdateItem", datasource=datasource)
    params = {
        "TableName": table,
        "Key": {"pk": "u", "sk": 1},
        "UpdateExpression": "SET v = :v",
        "ExpressionAttributeValues": {":v": value},
    }
    set_params(page, json.dumps(params))
    run(page)
    expect(page.get_by_test_id("query-error")).to_be_hidden()


def newest_row(page):
    show(page, "history")
    page.get_by_test_id("h-refresh").click()
    return page.get_by_test_id("history-row").first


def test_undo_a_write_from_the_history(page, server, endpoint, dialogs, shots):
    name = "journaled-" + uuid.uuid4().hex[:6]
    ds_form(page, name, endpoint.endpoint_url, endpoint.access_key, endpoint.secret_key)
    page.get_by_test_id("ds-journal").check()
    page.get_by_test_id("ds-save").click()
    expect(page.locator(f'[data-testid=ds-item][data-name="{name}"]')).to_contain_text("journal")
    table = "undo_" + uuid.uuid4().hex[:8]
    dynamodb = client(endpoint)
    dynamodb.create_table(**pk_sk_table(table))
    original = {"pk": {"S": "u"}, "sk": {"N": "1"}, "v": {"S": "before"}, "tags": {"SS": ["a"]}}
    dynamodb.put_item(TableName=table, Item=original)

    write(page, name, table, "by the page")
    assert item(dynamodb, table)["v"] == {"S": "by the page"}
    row = newest_row(page)
    expect(row).to_contain_text("UpdateItem")
    expect(row.get_by_test_id("h-table")).to_contain_text(table)
    expect(row.get_by_test_id("h-undo")).to_be_enabled()
    shots(page, "26-history-undo")
    dialogs.seen.clear()
    row.get_by_test_id("h-undo").click()
    expect(page.get_by_test_id("toast")).to_contain_text("1 item(s) put back")
    assert dialogs.seen and dialogs.seen[-1][0] == "confirm"
    assert item(dynamodb, table) == original
    expect(newest_row(page).get_by_test_id("h-undo")).to_be_enabled()  # the undo's own write
    expect(page.get_by_test_id("history-row").nth(1).get_by_test_id("h-undo")).to_have_text(
        "Undone"
    )

    # changed behind the page after the run: left alone, both versions shown
    write(page, name, table, "second")
    dynamodb.update_item(
        TableName=table,
        Key={"pk": {"S": "u"}, "sk": {"N": "1"}},
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"S": "someone else"}},
    )
    newest_row(page).get_by_test_id("h-undo").click()
    expect(page.get_by_test_id("message-text")).to_contain_text("changed since the run")
    expect(page.get_by_test_id("message-text")).to_contain_text("someone else")
    shots(page, "26-history-undo-conflict")
    page.get_by_test_id("message-close").click()
    assert item(dynamodb, table)["v"] == {"S": "someone else"}


def test_no_undo_without_a_journal(page, server, endpoint):
    name = "plain-" + uuid.uuid4().hex[:6]
    server.api("POST", "/api/datasources", {"name": name, **endpoint.settings()})
    page.reload()
    table = "undo_" + uuid.uuid4().hex[:8]
    dynamodb = client(endpoint)
    dynamodb.create_table(**pk_sk_table(table))
    write(page, name, table, "x")
    undo = newest_row(page).get_by_test_id("h-undo")
    expect(undo).to_be_disabled()
    expect(undo).to_have_attribute(
        "title",
        "Its data source kept no journal of the items (Journal, in the data source's settings)",
    )
