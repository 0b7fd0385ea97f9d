"""Working with items: a table explored with a click (its items at once, the request visible and
editable, Load more), and the Query / Scan form, whose request the server writes into the editor
(a global and a local index, BETWEEN, filters on reserved words, the JSON kept)."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from playwright.sync_api import expect

from steps import ensure_local, new_query, rows, run, show

NAMES = ["Ann", "Bob", "Cy", "Dee", "Al", "Bea"]
ITEMS = [
    {
        "customer": f"c{i % 3}",
        "created": i,
        "status": "open" if i % 2 else "closed",
        "total": i * 3,
        "name": NAMES[i % len(NAMES)],
        "level": i % 5,
    }
    for i in range(30)
]


@pytest.fixture(scope="module")
def orders(endpoint):
    """A table with a global index (status, total) and a local one (customer, name)."""
    connection = endpoint.connection()
    name = "orders-" + uuid.uuid4().hex[:8]
    key = lambda attribute, role: {"AttributeName": attribute, "KeyType": role}  # noqa: E731
    connection.run(
        "CreateTable",
        {
            "TableName": name,
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [key("customer", "HASH"), key("created", "RANGE")],
            "AttributeDefinitions": [
                {"AttributeName": a, "AttributeType": t}
                for a, t in [
                    ("customer", "S"),
                    ("created", "N"),
                    ("status", "S"),
                    ("total", "N"),
                    ("name", "S"),
                ]
            ],
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": "by-status",
                    "KeySchema": [key("status", "HASH"), key("total", "RANGE")],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            "LocalSecondaryIndexes": [
                {
                    "IndexName": "by-name",
                    "KeySchema": [key("customer", "HASH"), key("name", "RANGE")],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        },
    )
    for item in ITEMS:
        connection.run("PutItem", {"TableName": name, "Item": item})
    yield name
    connection.run("DeleteTable", {"TableName": name})


def params(page) -> dict:
    return json.loads(page.get_by_test_id("q-params").input_value())


def result_items(page) -> list[dict]:
    """The items of the result shown, from its JSON tab."""
    page.get_by_test_id("rtab-json").click()
    data = json.loads(page.get_by_test_id("result-json").inner_text())
    page.get_by_test_id("rtab-table").click()
    return data["Items"] if isinstance(data, dict) else data


def form_query(page, table: str) -> None:
    """A new Query on `local`, its form on `table`."""
    new_query(page, "Query")
    expect(page.get_by_test_id("request-form")).to_be_visible()
    expect(page.get_by_test_id("rf-table").locator(f'option[value="{table}"]')).to_be_attached()
    page.get_by_test_id("rf-table").select_option(table)
    expect(page.get_by_test_id("rf-index")).to_contain_text("by-status")


def test_explore_a_table_by_clicking_it(page, server, endpoint, orders, shots):
    ensure_local(page, server, endpoint)
    show(page, "tables")
    page.get_by_test_id("t-datasource").select_option(label="local")
    page.locator(f'[data-testid=t-item][data-name="{orders}"]').click()

    # its items at once, in the query view, with the request that read them
    expect(page.get_by_test_id("tab-query")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_test_id("q-operation")).to_have_value("Scan")
    expect(rows(page)).to_have_count(25)
    assert params(page) == {"TableName": orders, "Limit": 25}
    expect(page.get_by_test_id("request-form")).to_be_visible()
    expect(page.get_by_test_id("rf-table")).to_have_value(orders)
    expect(page.get_by_test_id("rf-limit")).to_have_value("25")
    shots(page, "70-explore-a-table")

    page.get_by_test_id("load-more").click()
    expect(rows(page)).to_have_count(30)
    expect(page.get_by_test_id("load-more")).to_be_hidden()
    assert sorted(i["created"] for i in result_items(page)) == list(range(30))

    # the request is editable: a filter from the form, run again
    page.get_by_test_id("rf-add-filter").click()
    page.get_by_test_id("rf-filter-attribute").fill("status")
    page.get_by_test_id("rf-filter-value").fill("open")
    expect(page.get_by_test_id("q-params")).to_have_value(re.compile(r"#status = :status"))
    page.get_by_test_id("rf-limit").fill("")
    expect(page.get_by_test_id("q-params")).not_to_have_value(re.compile(r"Limit"))
    run(page)
    expect(rows(page)).to_have_count(15)
    # and one more: name IN two values (a reserved word too)
    page.get_by_test_id("rf-add-filter").click()
    second = page.get_by_test_id("rf-filter").nth(1)
    second.get_by_test_id("rf-filter-attribute").fill("name")
    second.get_by_test_id("rf-filter-operator").select_option("IN")
    second.get_by_test_id("rf-filter-value").fill("Bob")
    second.get_by_test_id("rf-filter-more").click()
    second.get_by_test_id("rf-filter-value").nth(1).fill("Dee")
    expect(page.get_by_test_id("q-params")).to_have_value(
        re.compile(r"#status = :status AND #name IN \(:name, :name_2\)")
    )
    run(page)
    expect(rows(page)).to_have_count(10)
    assert {i["name"] for i in result_items(page)} == {"Bob", "Dee"}
    shots(page, "71-explore-filtered")

    # the table's details have an Explore too
    show(page, "tables")
    page.locator(f'[data-testid=t-item-details][data-name="{orders}"]').click()
    expect(page.get_by_test_id("t-name")).to_have_text(orders)
    page.get_by_test_id("t-explore").click()
    expect(page.get_by_test_id("tab-query")).to_have_attribute("aria-selected", "true")
    expect(rows(page)).to_have_count(25)


def test_query_a_global_index_with_between_and_a_filter(page, server, endpoint, orders, shots):
    ensure_local(page, server, endpoint)
    form_query(page, orders)
    page.get_by_test_id("rf-index").select_option("by-status")
    expect(page.get_by_test_id("request-form")).to_contain_text("status")
    expect(page.get_by_test_id("rf-no-consistent")).to_be_visible()  # not on a global index
    page.get_by_test_id("rf-pk").fill("open")
    page.get_by_test_id("rf-sk-op").select_option("BETWEEN")
    page.get_by_test_id("rf-sk-value-0").fill("20")
    page.get_by_test_id("rf-sk-value-1").fill("60")
    page.get_by_test_id("rf-add-filter").click()
    page.get_by_test_id("rf-filter-attribute").fill("level")
    page.get_by_test_id("rf-filter-operator").select_option(">=")
    page.get_by_test_id("rf-filter-type").select_option("N")
    page.get_by_test_id("rf-filter-value").fill("3")
    page.get_by_test_id("rf-descending").check()
    expect(page.get_by_test_id("q-params")).to_have_value(re.compile(r"ScanIndexForward"))
    assert params(page) == {
        "TableName": orders,
        "IndexName": "by-status",
        "KeyConditionExpression": "#status = :status AND #total BETWEEN :total_low AND :total_high",
        "FilterExpression": "#level >= :level",
        "ExpressionAttributeNames": {"#status": "status", "#total": "total", "#level": "level"},
        "ExpressionAttributeValues": {
            ":status": "open",
            ":total_low": 20,
            ":total_high": 60,
            ":level": 3,
        },
        "ScanIndexForward": False,
    }
    run(page)
    wanted = [
        i for i in ITEMS if i["status"] == "open" and 20 <= i["total"] <= 60 and i["level"] >= 3
    ]
    expect(rows(page)).to_have_count(len(wanted))
    got = [i["total"] for i in result_items(page)]
    assert got == sorted((i["total"] for i in wanted), reverse=True)
    shots(page, "72-query-a-global-index")

    # each query tab keeps its form: another tab, and back
    tab = page.locator("[data-testid=query-tab]:has([aria-selected=true])").get_attribute(
        "data-tab"
    )
    page.get_by_test_id("query-tab-new").click()
    expect(page.get_by_test_id("request-form")).to_be_hidden()
    new_query(page, "Query")  # in the new tab, a form of its own
    page.get_by_test_id("rf-table").select_option(orders)
    expect(page.get_by_test_id("rf-pk")).to_have_value("")
    page.get_by_test_id("rf-pk").fill("c2")
    expect(page.get_by_test_id("q-params")).to_have_value(re.compile(r'":customer": "c2"'))
    page.locator(f'[data-testid=query-tab][data-tab="{tab}"] [role=tab]').click()
    expect(page.get_by_test_id("rf-index")).to_have_value("by-status")
    expect(page.get_by_test_id("rf-pk")).to_have_value("open")
    expect(page.get_by_test_id("rf-sk-value-1")).to_have_value("60")


def test_query_a_local_index_filtering_on_a_reserved_word(page, server, endpoint, orders, shots):
    ensure_local(page, server, endpoint)
    form_query(page, orders)
    page.get_by_test_id("rf-index").select_option("by-name")
    page.get_by_test_id("rf-pk").fill("c1")
    page.get_by_test_id("rf-sk-op").select_option("BETWEEN")
    page.get_by_test_id("rf-sk-value-0").fill("A")

    # one value for BETWEEN: the server says which field, and the JSON waits for it
    page.get_by_test_id("rf-add-filter").click()
    page.get_by_test_id("rf-filter-attribute").fill("status")
    page.get_by_test_id("rf-filter-value").fill("closed")
    error = page.get_by_test_id("rf-error")
    expect(error).to_contain_text("sort_key.values[1]: give a value of name")
    expect(page.get_by_test_id("rf-sk-value-1")).to_have_attribute("aria-invalid", "true")
    shots(page, "73-form-error")

    page.get_by_test_id("rf-sk-value-1").fill("C")
    expect(error).to_be_hidden()
    page.get_by_test_id("rf-consistent").check()
    page.get_by_test_id("rf-projection").fill("name, status, created")
    expect(page.get_by_test_id("q-params")).to_have_value(
        re.compile(r'"ProjectionExpression"[\s\S]*"ConsistentRead"')
    )
    request = params(page)
    assert request["KeyConditionExpression"] == (
        "#customer = :customer AND #name BETWEEN :name_low AND :name_high"
    )
    assert request["FilterExpression"] == "#status = :status"
    assert request["ProjectionExpression"] == "#name, #status, #created"
    run(page)
    wanted = [
        i
        for i in ITEMS
        if i["customer"] == "c1" and "A" <= i["name"] <= "C" and i["status"] == "closed"
    ]
    expect(rows(page)).to_have_count(len(wanted))
    got = result_items(page)
    assert sorted(i["created"] for i in got) == sorted(i["created"] for i in wanted)
    assert all(set(i) == {"name", "status", "created"} for i in got)
    shots(page, "74-query-a-local-index")

    # JSON only: the form folds away, the request it made stays, and runs the same
    written = page.get_by_test_id("q-params").input_value()
    page.get_by_test_id("rf-toggle").click()
    expect(page.get_by_test_id("rf-body")).to_be_hidden()
    expect(page.get_by_test_id("q-params")).to_have_value(written)
    run(page)
    expect(rows(page)).to_have_count(len(wanted))
    # edited by hand, the JSON is the request; the form says it would write it anew
    page.get_by_test_id("rf-toggle").click()
    page.get_by_test_id("q-params").fill(written.replace('"C"', '"B"'))
    expect(page.get_by_test_id("rf-note")).to_contain_text("edited since the form wrote it")
    shots(page, "75-form-and-json")
