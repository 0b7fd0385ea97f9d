"""The web page, end to end: `dynaquery serve` over DynamoDB Local (and moto with IAM for a
wrong secret), driven in real headless Chromium with Playwright (fixtures in conftest.py).

Every step saves a screenshot under .artifacts/screenshots/ (the screenshots of a run are also
in pytest's tmp dir).
"""

from __future__ import annotations

import csv
import io
import json
import re
import socket
import threading
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from steps import TOKEN, ds_form, ensure_local, new_query, rows, run, set_params, show
from support import iam_user, start_moto_with_iam

# -- 1. sign-in -----------------------------------------------------------------------------


def stored(page) -> str:
    """All the page keeps in localStorage and sessionStorage, as text."""
    return page.evaluate("JSON.stringify([{...localStorage}, {...sessionStorage}])")


def test_sign_in(browser, server, shots):
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(server.url + "/")
        expect(page.get_by_test_id("signin")).to_be_visible()
        expect(page.get_by_test_id("app")).to_be_hidden()
        expect(page.get_by_test_id("signin-name")).to_be_visible()
        page.get_by_test_id("signin-mode").click()  # with a token instead
        expect(page.get_by_test_id("signin-name")).to_be_hidden()
        page.get_by_test_id("signin-token").fill("not-the-token")
        page.get_by_test_id("signin-submit").click()
        # written for people: what happened and what to do, not the API's wording
        wrong = page.get_by_test_id("signin-error")
        expect(wrong).to_contain_text("That token is not right")
        expect(wrong).to_contain_text("dynaquery serve --new-token")
        expect(wrong).not_to_contain_text("Bearer")
        expect(wrong).not_to_contain_text("Authorization")
        shots(page, "01-sign-in-wrong-token")

        page.get_by_test_id("signin-token").fill(TOKEN)
        page.get_by_test_id("signin-submit").click()
        expect(page.get_by_test_id("app")).to_be_visible()
        expect(page.get_by_test_id("session-info")).to_contain_text("v0.1.0")
        assert TOKEN not in stored(page)  # the session is an HttpOnly cookie
        assert "dynaquery_session" not in page.evaluate("document.cookie")
        page.reload()  # the session's cookie signs in again
        expect(page.get_by_test_id("app")).to_be_visible()
        shots(page, "01-signed-in")

        # the session ends (here: its cookie is gone): the next call shows the form, and why
        context.clear_cookies()
        show(page, "history")
        expect(page.get_by_test_id("signin")).to_be_visible()
        expect(page.get_by_test_id("signin-error")).to_contain_text("session has ended")
        expect(page.get_by_test_id("signin-error")).not_to_contain_text("Bearer")

        # a #token= fragment signs in and leaves the address bar
        page.goto(f"{server.url}/#token={TOKEN}")
        expect(page.get_by_test_id("app")).to_be_visible()
        assert "token" not in page.url
        assert TOKEN not in stored(page)

        page.get_by_test_id("signout").click()
        expect(page.get_by_test_id("signin")).to_be_visible()
        assert page.evaluate("fetch('/api/session').then((r) => r.status)") == 401

        # a wrong token in the address: the token form, and help
        page.goto(f"{server.url}/#token=not-the-token")
        expect(page.get_by_test_id("signin-error")).to_contain_text("That token is not right")
        expect(page.get_by_test_id("signin-token")).to_be_visible()
        assert "token" not in page.url
        assert errors == []
    finally:
        context.close()


# -- 2. a data source: the form, Test connection, Save, edit with a masked secret ----------


def test_add_a_data_source(page, server, endpoint, shots):
    ds_form(page, "local", endpoint.endpoint_url, endpoint.access_key, endpoint.secret_key)
    # the fields follow the method
    page.get_by_test_id("ds-auth-instance-profile").check()
    expect(page.get_by_test_id("ds-access-key-id")).to_be_hidden()
    expect(page.get_by_test_id("ds-profile")).to_be_visible()
    page.get_by_test_id("ds-auth-role-arn").check()
    expect(page.get_by_test_id("ds-role-arn")).to_be_visible()
    expect(page.get_by_test_id("ds-external-id")).to_be_visible()
    expect(page.get_by_test_id("ds-access-key-id")).to_be_visible()  # optional source keys
    page.get_by_test_id("ds-auth-iam-credentials").check()
    expect(page.get_by_test_id("ds-role-arn")).to_be_hidden()
    expect(page.get_by_test_id("ds-session-token")).to_be_visible()

    page.get_by_test_id("ds-test").click()
    expect(page.get_by_test_id("ds-diagnosis")).to_contain_text("Connected")
    shots(page, "02-test-connection-ok")
    page.get_by_test_id("ds-save").click()
    expect(page.get_by_test_id("ds-dialog")).to_be_hidden()
    item = page.locator('[data-testid=ds-item][data-name="local"]')
    expect(item).to_be_visible()
    expect(item).to_contain_text("us-east-1")
    shots(page, "02-data-source-saved")

    # editing shows the secret masked; untouched, the stored secret is kept
    item.get_by_test_id("ds-edit").click()
    expect(page.get_by_test_id("ds-secret-access-key")).to_have_value("********")
    expect(page.get_by_test_id("ds-secret-hint")).to_be_visible()
    page.get_by_test_id("ds-description").fill("DynamoDB Local for the tests")
    page.get_by_test_id("ds-test").click()  # unsaved form + the stored secret
    expect(page.get_by_test_id("ds-diagnosis")).to_contain_text("Connected")
    shots(page, "02-edit-masked-secret")
    page.get_by_test_id("ds-save").click()
    expect(page.get_by_test_id("ds-dialog")).to_be_hidden()
    saved = next(d for d in server.api("GET", "/api/datasources") if d["name"] == "local")
    assert saved["description"] == "DynamoDB Local for the tests"
    assert saved["secret_access_key"] == "********"
    assert server.api("POST", f"/api/datasources/{saved['id']}/test")["ok"] is True


# -- 3. failing diagnoses: an unreachable endpoint, a wrong secret ------------------------


@pytest.fixture(scope="module")
def iam_moto():
    """moto's server with IAM enforced: a user allowed dynamodb:ListTables, and its keys."""
    moto, iam = start_moto_with_iam(4)  # the readiness probe and 3 setup calls
    try:
        key_id, secret = iam_user(iam, "web", ["dynamodb:ListTables"])
        yield moto, key_id, secret
    finally:
        moto.stop()


def test_failing_diagnoses(page, iam_moto, shots):
    moto, key_id, secret = iam_moto
    diagnosis = page.get_by_test_id("ds-diagnosis")

    ds_form(page, "nowhere", "http://127.0.0.1:9", "AKIAEXAMPLE", "secret-of-nowhere")
    page.locator("details.advanced summary").click()
    page.get_by_test_id("ds-connect-timeout").fill("1")
    page.get_by_test_id("ds-max-attempts").fill("1")
    page.get_by_test_id("ds-test").click()
    expect(diagnosis).to_have_class(re.compile(r"\bfail\b"))
    expect(diagnosis).to_contain_text("127.0.0.1:9")
    expect(diagnosis).to_be_visible()
    shots(page, "03-unreachable-endpoint")

    # moto checks signatures: a wrong secret is diagnosed as such
    page.get_by_test_id("ds-endpoint-url").fill(moto.endpoint_url)
    page.get_by_test_id("ds-access-key-id").fill(key_id)
    page.get_by_test_id("ds-secret-access-key").fill(secret[:-4] + "XXXX")
    page.get_by_test_id("ds-connect-timeout").fill("")
    page.get_by_test_id("ds-max-attempts").fill("")
    page.get_by_test_id("ds-test").click()
    expect(diagnosis).to_contain_text("secret access key is wrong")
    expect(diagnosis).to_have_class(re.compile(r"\bfail\b"))
    shots(page, "03-wrong-secret")
    assert secret[:-4] not in diagnosis.inner_text()

    page.get_by_test_id("ds-secret-access-key").fill(secret)
    page.get_by_test_id("ds-test").click()
    expect(diagnosis).to_contain_text("Connected")
    page.get_by_test_id("ds-cancel").click()
    expect(page.get_by_test_id("ds-dialog")).to_be_hidden()
    expect(page.locator('[data-testid=ds-item][data-name="nowhere"]')).to_have_count(0)


# -- 4. a query from the operation's example ----------------------------------------------


def test_query_from_an_example(page, server, endpoint, shots):
    ensure_local(page, server, endpoint)
    new_query(page, "GetItem", search="get it")
    page.get_by_test_id("insert-example").click()
    editor = page.get_by_test_id("q-params")
    expect(editor).to_have_value(re.compile(r'"TableName": "users"'))
    # the example reads emp_1 of team_1; read emp_3 instead
    set_params(page, editor.input_value().replace("emp_1", "emp_3"))
    expect(page.get_by_test_id("editor-status")).to_contain_text("Valid")
    run(page)
    expect(rows(page)).to_have_count(1)
    table = page.get_by_test_id("result-table")
    expect(table).to_contain_text("Rahul")
    for column in ("team_id", "employee_id", "name", "level"):
        expect(table.locator("thead")).to_contain_text(column)
    expect(page.get_by_test_id("result-summary")).to_contain_text("GetItem")
    shots(page, "04-get-item-result")

    page.get_by_test_id("rtab-json").click()
    expect(page.get_by_test_id("result-json")).to_contain_text('"employee_id": "emp_3"')
    page.get_by_test_id("rtab-raw").click()
    expect(page.get_by_test_id("result-raw")).to_contain_text('"S": "Rahul"')
    page.get_by_test_id("rtab-meta").click()
    expect(page.get_by_test_id("meta-duration_ms")).to_contain_text("ms")
    page.get_by_test_id("rtab-table").click()


# -- 5. the next page -----------------------------------------------------------------------


def test_load_more(page, server, endpoint, shots):
    ensure_local(page, server, endpoint)
    new_query(page, "Scan")
    set_params(page, '{"TableName": "users", "Limit": 1}')
    run(page)
    expect(rows(page)).to_have_count(1)
    more = page.get_by_test_id("load-more")
    expect(more).to_be_visible()
    more.click()
    expect(rows(page)).to_have_count(2)
    more.click()
    expect(rows(page)).to_have_count(3)
    expect(page.get_by_test_id("result-pages")).to_contain_text("3 pages")
    items = {tuple(row.locator("td").all_inner_texts()) for row in rows(page).all()}
    assert len(items) == 3  # three different items
    shots(page, "05-load-more")


def test_transformation(page, server, endpoint, shots):
    ensure_local(page, server, endpoint)
    new_query(page, "Scan")
    set_params(page, '{"TableName": "users"}')
    page.get_by_test_id("q-transform").fill("Items[?level > `2`].{who: name, level: level}")
    run(page)
    expect(rows(page)).to_have_count(2)
    table = page.get_by_test_id("result-table")
    expect(table.locator("thead")).to_contain_text("who")
    expect(table.locator("thead")).not_to_contain_text("team_id")
    expect(table).to_contain_text("Aman")
    expect(table).to_contain_text("Anneke")
    page.get_by_test_id("rtab-meta").click()
    expect(page.get_by_test_id("meta-transform")).to_contain_text("Items[?level")
    page.get_by_test_id("rtab-table").click()
    # a transformation that does not compile is an error at the transformation
    page.get_by_test_id("q-transform").fill("Items[?")
    expect(page.get_by_test_id("editor-status")).to_contain_text("transformation")
    expect(page.get_by_test_id("q-transform")).to_have_attribute("aria-invalid", "true")
    shots(page, "05-transformation")


# -- 6. export ------------------------------------------------------------------------------


def test_export_csv_and_json(page, server, endpoint, shots):
    ensure_local(page, server, endpoint)
    new_query(page, "Scan")
    set_params(page, '{"TableName": "users"}')
    run(page)
    expect(rows(page)).to_have_count(5)
    with page.expect_download() as info:
        page.get_by_test_id("export-csv").click()
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    text = Path(download.path()).read_text(encoding="utf-8")
    records = list(csv.DictReader(io.StringIO(text)))
    assert {"team_id", "employee_id", "name", "level"} <= set(records[0])
    assert sorted(r["name"] for r in records) == ["Aman", "Anneke", "Anneke", "Bo", "Rahul"]
    assert {r["employee_id"]: r["level"] for r in records}["emp_2"] == "4"

    with page.expect_download() as info:
        page.get_by_test_id("export-json").click()
    data = json.loads(Path(info.value.path()).read_text(encoding="utf-8"))
    assert len(data["Items"]) == 5 and data["Count"] == 5
    shots(page, "06-export")


def test_numbers_keep_every_digit(page, server, endpoint, shots):
    """38 digits and 1.50 are shown and exported as written, not as JavaScript numbers."""
    ensure_local(page, server, endpoint)
    big = "12345678901234567890.123456789012345678"
    endpoint.connection().run(
        "PutItem",
        {
            "TableName": "locations",
            "Item": {
                "name": "Exact",
                "address": "1 Digit Rd.",
                "big": {"N": big},
                "price": {"N": "1.50"},
            },
        },
    )
    new_query(page, "GetItem")
    set_params(
        page, '{"TableName": "locations", "Key": {"name": "Exact", "address": "1 Digit Rd."}}'
    )
    run(page)
    table = page.get_by_test_id("result-table")
    expect(table).to_contain_text(big)
    page.get_by_test_id("rtab-json").click()
    expect(page.get_by_test_id("result-json")).to_contain_text(f'"big": {big}')
    page.get_by_test_id("rtab-table").click()
    with page.expect_download() as info:
        page.get_by_test_id("export-csv").click()
    record = next(csv.DictReader(io.StringIO(Path(info.value.path()).read_text(encoding="utf-8"))))
    assert record["big"] == big
    assert record["price"] in ("1.50", "1.5")  # as DynamoDB gives it back
    # the key columns come first (the table's description orders them)
    expect(table.locator("thead th").nth(1)).to_have_text("name")
    expect(table.locator("thead th").nth(2)).to_have_text("address")
    shots(page, "06-exact-numbers")


# -- 7. a JSON error marked at its line -----------------------------------------------------


def test_json_error_marked_at_its_line(page, server, endpoint, shots):
    ensure_local(page, server, endpoint)
    new_query(page, "Scan")
    set_params(page, '{\n    "TableName": "users",\n    "Limit" 1\n}')
    marker = page.locator('[data-testid=gutter-error][data-line="3"]')
    expect(marker).to_be_visible()
    expect(page.get_by_test_id("gutter-error")).to_have_count(1)
    expect(page.get_by_test_id("editor-status")).to_contain_text("line 3")
    expect(page.get_by_test_id("q-params")).to_have_attribute("aria-invalid", "true")
    shots(page, "07-json-error-line-3")

    # a validation problem is marked at the parameter's line too
    set_params(page, '{\n    "TableName": "users",\n    "Limitt": 1\n}')
    expect(page.get_by_test_id("editor-status")).to_contain_text("Limitt")
    expect(page.locator('[data-testid=gutter-error][data-line="3"]')).to_be_visible()
    # fixed: the marks go away
    set_params(page, '{\n    "TableName": "users",\n    "Limit": 1\n}')
    expect(page.get_by_test_id("editor-status")).to_contain_text("Valid")
    expect(page.get_by_test_id("gutter-error")).to_have_count(0)


# -- 8. a saved query with placeholders -----------------------------------------------------


def test_saved_query_with_placeholders(page, server, endpoint, shots):
    ensure_local(page, server, endpoint)
    new_query(page, "Query")
    page.get_by_test_id("q-name").fill("team members")
    set_params(
        page,
        '{\n    "TableName": "users",\n    "KeyConditionExpression": "team_id = :t",\n'
        '    "ExpressionAttributeValues": {":t": "{{ team }}"},\n'
        '    "Limit": {{ limit }}\n}',
    )
    team, limit = page.get_by_test_id("param-team"), page.get_by_test_id("param-limit")
    expect(team).to_be_visible()
    expect(limit).to_be_visible()
    team.fill("team_2")
    limit.fill("5")
    page.get_by_test_id("param-json-limit").check()
    # "JSON" on a value that is no JSON says so
    page.get_by_test_id("param-json-team").check()
    expect(page.get_by_test_id("param-error-team")).to_contain_text("not JSON")
    page.get_by_test_id("param-json-team").uncheck()
    expect(page.get_by_test_id("param-error-team")).to_be_empty()

    page.get_by_test_id("q-save").click()
    expect(page.get_by_test_id("q-state")).to_have_text("saved")
    expect(page.locator('[data-testid=query-item][data-name="team members"]')).to_be_visible()
    saved = next(x for x in server.api("GET", "/api/queries") if x["name"] == "team members")
    assert saved["placeholders"] == ["team", "limit"] and saved["defaults"] == {
        "team": "team_2",
        "limit": 5,
    }

    run(page)
    expect(rows(page)).to_have_count(2)
    table = page.get_by_test_id("result-table")
    expect(table).to_contain_text("Anneke")
    expect(table).to_contain_text("Bo")
    expect(page.get_by_test_id("result-summary")).to_contain_text("team members")
    shots(page, "08-saved-query-run")

    # opened again from the list: the defaults fill the form; another value runs
    page.get_by_test_id("q-new").click()
    page.locator('[data-testid=query-item][data-name="team members"] button').click()
    expect(page.get_by_test_id("q-name")).to_have_value("team members")
    expect(page.get_by_test_id("param-team")).to_have_value("team_2")
    expect(page.get_by_test_id("param-json-limit")).to_be_checked()
    page.get_by_test_id("param-team").fill("team_1")
    run(page)
    expect(page.get_by_test_id("result-table")).to_contain_text("Rahul")
    expect(rows(page)).to_have_count(2)


# -- 9. the table browser -------------------------------------------------------------------


def test_table_browser(page, server, endpoint, shots):
    ensure_local(page, server, endpoint)
    show(page, "tables")
    page.get_by_test_id("t-datasource").select_option(label="local")
    users = page.locator('[data-testid=t-item-details][data-name="users"]')
    expect(users).to_be_visible()
    expect(page.get_by_test_id("t-list")).to_contain_text("Reply")
    users.click()
    expect(page.get_by_test_id("t-name")).to_have_text("users")
    expect(page.get_by_test_id("t-partition-key")).to_have_text("team_id")
    expect(page.get_by_test_id("t-sort-key")).to_have_text("employee_id")
    shots(page, "09-table-browser")

    page.get_by_test_id("t-query").click()
    expect(page.get_by_test_id("tab-query")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_test_id("q-operation")).to_have_value("Query")
    expect(page.get_by_test_id("q-params")).to_have_value(
        re.compile(r'"TableName": "users"[\s\S]*"team_id"')
    )
    expect(page.get_by_test_id("q-state")).to_have_text("unsaved")
    page.get_by_test_id("param-team_id").fill("team_1")
    run(page)
    expect(rows(page)).to_have_count(2)
    expect(page.get_by_test_id("result-table")).to_contain_text("Aman")
    shots(page, "09-table-browser-query")

    # the whole table as a file, from the server's parallel scan
    show(page, "tables")
    page.locator('[data-testid=t-item-details][data-name="users"]').click()
    expect(page.get_by_test_id("t-name")).to_have_text("users")
    with page.expect_download() as info:
        page.get_by_test_id("t-export-csv").click()
    assert info.value.suggested_filename == "users.csv"
    exported = list(
        csv.DictReader(io.StringIO(Path(info.value.path()).read_text(encoding="utf-8")))
    )
    assert sorted(r["employee_id"] for r in exported) == [
        "emp_1",
        "emp_2",
        "emp_3",
        "emp_4",
        "emp_5",
    ]
    expect(page.get_by_test_id("t-export-status")).to_contain_text("saves it as users.csv")

    # an index's own query (Reply has the local index PostedBy-Index)
    show(page, "tables")
    page.locator('[data-testid=t-item-details][data-name="Reply"]').click()
    expect(page.get_by_test_id("t-indexes")).to_contain_text("PostedBy-Index")
    page.get_by_test_id("t-index-query").click()
    expect(page.get_by_test_id("q-params")).to_have_value(
        re.compile(r'"IndexName": "PostedBy-Index"')
    )
    page.get_by_test_id("param-Id").fill("Amazon DynamoDB#DynamoDB Thread 1")
    run(page)
    expect(rows(page)).to_have_count(4)
    expect(page.get_by_test_id("result-table")).to_contain_text("User D")

    show(page, "tables")
    page.get_by_test_id("t-scan").click()
    expect(page.get_by_test_id("q-operation")).to_have_value("Scan")
    expect(page.get_by_test_id("q-params")).to_have_value(re.compile(r'"TableName": "Reply"'))
    run(page)
    expect(rows(page)).to_have_count(4)


# -- 10. the history ------------------------------------------------------------------------


def test_history(page, server, endpoint, shots):
    ensure_local(page, server, endpoint)
    # one failing run, so the history has an error to show
    new_query(page, "DescribeTable")
    set_params(page, '{"TableName": "no_such_table"}')
    run(page)
    expect(page.get_by_test_id("query-error")).to_contain_text("ResourceNotFoundException")

    show(page, "history")
    history = page.get_by_test_id("history-table")
    expect(history).to_contain_text("team members")
    for operation in ("Scan", "Query", "DescribeTable"):
        expect(history).to_contain_text(operation)
    failed = page.get_by_test_id("history-row").filter(has_text="DescribeTable")
    expect(failed.first).to_contain_text("error")
    expect(failed.first).to_contain_text("no_such_table")
    expect(
        page.get_by_test_id("history-row").filter(has_text="team members").first
    ).to_contain_text("ok")
    shots(page, "10-history")

    page.get_by_test_id("h-outcome").select_option("error")
    expect(page.get_by_test_id("history-row")).to_have_count(1)
    page.get_by_test_id("h-outcome").select_option("")
    page.get_by_test_id("h-operation").fill("Scan")
    page.get_by_test_id("h-refresh").click()
    scans = page.get_by_test_id("history-row")
    expect(scans.first).to_contain_text("Scan")
    assert all("Scan" in text for text in scans.all_inner_texts())

    # an error of the API is shown, never swallowed: an unknown operation in the filter
    page.get_by_test_id("h-operation").fill("Scna")
    page.get_by_test_id("h-refresh").click()
    expect(page.get_by_test_id("message")).to_be_visible()
    expect(page.get_by_test_id("message-text")).to_contain_text("Scan")  # did you mean
    shots(page, "10-history-error-message")
    page.get_by_test_id("message-close").click()
    expect(page.get_by_test_id("message")).to_be_hidden()


# -- deleting -------------------------------------------------------------------------------


def test_delete_a_query_and_a_data_source(page, server, endpoint, shots):
    ds = server.api("POST", "/api/datasources", {"name": "scratch", **endpoint.settings()})
    for name in ("scratch one", "scratch two"):
        server.api(
            "POST",
            "/api/queries",
            {
                "name": name,
                "datasource": ds["id"],
                "operation": "Scan",
                "params": '{"TableName": "users"}',
            },
        )
    page.reload()
    expect(page.get_by_test_id("app")).to_be_visible()
    show(page, "query")

    page.locator('[data-testid=query-item][data-name="scratch one"] button').click()
    expect(page.get_by_test_id("q-name")).to_have_value("scratch one")
    delete = page.get_by_test_id("q-delete")
    delete.click()
    expect(delete).to_have_text("Click again to delete")
    delete.click()
    expect(page.locator('[data-testid=query-item][data-name="scratch one"]')).to_have_count(0)
    expect(page.get_by_test_id("q-state")).to_have_text("unsaved")

    # a data source still used by a query: the API says which, then both can go
    page.locator('[data-testid=ds-item][data-name="scratch"]').get_by_test_id("ds-edit").click()
    page.get_by_test_id("ds-delete").click()
    page.get_by_test_id("ds-delete-yes").click()
    expect(page.get_by_test_id("ds-delete-confirm")).to_contain_text("scratch two")
    shots(page, "11-delete-data-source-in-use")
    page.get_by_test_id("ds-delete-with").click()
    expect(page.get_by_test_id("ds-dialog")).to_be_hidden()
    expect(page.locator('[data-testid=ds-item][data-name="scratch"]')).to_have_count(0)
    expect(page.locator('[data-testid=query-item][data-name="scratch two"]')).to_have_count(0)
    assert all(d["name"] != "scratch" for d in server.api("GET", "/api/datasources"))


# -- cancelling: a connection test and a run against an endpoint that never answers ---------


class Silent:
    """A TCP endpoint on loopback that accepts connections and never answers."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append(connection)

    def wait_for_a_connection(self) -> None:
        deadline = time.monotonic() + 20
        while not self.accepted:
            assert time.monotonic() < deadline, "nothing connected to the silent endpoint"
            time.sleep(0.02)

    def close(self) -> None:
        # closing what was accepted ends the server's waiting on it (a reset, then refused)
        self.listener.close()
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def silent():
    endpoint = Silent()
    try:
        yield endpoint
    finally:
        endpoint.close()


def test_cancel_a_connection_test(page, silent, shots):
    ds_form(page, "silent", silent.url, "AKIAEXAMPLE", "secret-of-silence")
    test, diagnosis = page.get_by_test_id("ds-test"), page.get_by_test_id("ds-diagnosis")
    test.click()
    expect(diagnosis).to_contain_text("Testing the connection")
    expect(test).to_have_text("Cancel test")
    silent.wait_for_a_connection()  # the server is waiting on the silent endpoint now
    shots(page, "12-connection-test-running")
    test.click()
    # the page stops waiting at once (the bound is the feature: no 10 s or 240 s wait)
    expect(diagnosis).to_contain_text("Cancelled", timeout=2_000)
    expect(diagnosis).to_have_class(re.compile(r"\bcancelled\b"))
    expect(test).to_have_text("Test connection", timeout=2_000)
    expect(test).to_be_enabled()
    expect(page.get_by_test_id("ds-save")).to_be_enabled()
    shots(page, "12-connection-test-cancelled")
    page.get_by_test_id("ds-cancel").click()
    expect(page.get_by_test_id("ds-dialog")).to_be_hidden()
    expect(page.locator('[data-testid=ds-item][data-name="silent"]')).to_have_count(0)


def test_cancel_a_run(page, server, endpoint, silent, shots):
    ensure_local(page, server, endpoint)
    ds = server.api(
        "POST",
        "/api/datasources",
        {
            "name": "silent run",
            "region": "us-east-1",
            "endpoint_url": silent.url,
            "auth": "iam_credentials",
            "access_key_id": "AKIAEXAMPLE",
            "secret_access_key": "secret-of-silence",
            "max_attempts": 1,
        },
    )
    try:
        page.reload()
        expect(page.get_by_test_id("app")).to_be_visible()
        new_query(page, "ListTables")
        page.get_by_test_id("q-datasource").select_option(label="silent run")
        page.get_by_test_id("q-run").click()
        cancel = page.get_by_test_id("q-cancel")
        expect(cancel).to_be_visible()
        expect(page.get_by_test_id("q-run")).to_be_disabled()
        silent.wait_for_a_connection()
        cancel.click()
        expect(page.get_by_test_id("query-error")).to_contain_text("Cancelled", timeout=2_000)
        expect(page.get_by_test_id("q-run")).to_have_text("Run", timeout=2_000)
        expect(page.get_by_test_id("q-run")).to_be_enabled()
        expect(cancel).to_be_hidden()
        expect(page.get_by_test_id("results")).to_be_hidden()
        shots(page, "12-run-cancelled")
        # usable at once: the same query on the working data source runs
        page.get_by_test_id("q-datasource").select_option(label="local")
        run(page)
        expect(page.get_by_test_id("result-table")).to_contain_text("users")
        expect(page.get_by_test_id("query-error")).to_be_hidden()
    finally:
        silent.close()
        server.api("DELETE", f"/api/datasources/{ds['id']}?with_queries=true")


# -- the query tabs: a new or another query opens a tab; closing one with changes asks -------


def query_tab(page, title: str):
    return page.locator(f'[data-testid=query-tab][data-title="{title}"]')


def test_new_query_opens_a_tab_and_closing_one_asks_before_dropping_changes(
    page, server, endpoint, dialogs, shots
):
    ensure_local(page, server, endpoint)
    new_query(page, "Scan")
    set_params(page, '{"TableName": "users"}')
    run(page)
    expect(rows(page)).to_have_count(5)
    editor = page.get_by_test_id("q-params")
    scan_tab = query_tab(page, "Scan users")
    expect(scan_tab).to_have_attribute("data-dirty", "true")

    # "+ New query" asks nothing: the Scan stays in its tab, with its edits and its result
    dialogs.answer, dialogs.seen = "dismiss", []
    tabs_before = page.get_by_test_id("query-tab").count()
    page.get_by_test_id("q-new").click()
    assert dialogs.seen == []
    expect(page.get_by_test_id("query-tab")).to_have_count(tabs_before + 1)
    expect(editor).to_have_value("")
    expect(page.get_by_test_id("results")).to_be_hidden()
    page.get_by_test_id("q-run").click()
    expect(page.get_by_test_id("query-error")).to_contain_text("Choose an operation")
    expect(page.get_by_test_id("results")).to_be_hidden()
    shots(page, "13-new-query-in-a-new-tab")

    # nothing changed in the new tab: another "+ New query" reuses it
    page.get_by_test_id("q-new").click()
    expect(page.get_by_test_id("query-tab")).to_have_count(tabs_before + 1)
    assert dialogs.seen == []

    # closing the Scan's tab with unsaved changes asks; dismissed, it stays as it was
    scan_tab.get_by_test_id("query-tab-close").click()
    assert [kind for kind, _ in dialogs.seen] == ["confirm"]
    assert "not saved" in dialogs.seen[0][1]
    expect(scan_tab).to_have_count(1)
    expect(editor).to_have_value('{"TableName": "users"}')
    expect(rows(page)).to_have_count(5)

    # accepted: the tab goes, and the tab next to it is shown
    dialogs.answer, dialogs.seen = "accept", []
    scan_tab.get_by_test_id("query-tab-close").click()
    assert [kind for kind, _ in dialogs.seen] == ["confirm"]
    expect(scan_tab).to_have_count(0)
    expect(page.get_by_test_id("query-tab")).to_have_count(tabs_before)


def test_opening_another_query_opens_its_tab(page, server, endpoint, dialogs, shots):
    ensure_local(page, server, endpoint)
    local = next(d for d in server.api("GET", "/api/datasources") if d["name"] == "local")
    for name, table in (("leave one", "users"), ("leave two", "Thread")):
        if not any(x["name"] == name for x in server.api("GET", "/api/queries")):
            server.api(
                "POST",
                "/api/queries",
                {
                    "name": name,
                    "datasource": local["id"],
                    "operation": "Scan",
                    "params": json.dumps({"TableName": table}),
                },
            )
    page.reload()
    expect(page.get_by_test_id("app")).to_be_visible()
    show(page, "query")
    one = page.locator('[data-testid=query-item][data-name="leave one"] button')
    two = page.locator('[data-testid=query-item][data-name="leave two"] button')
    one.click()
    expect(page.get_by_test_id("q-name")).to_have_value("leave one")
    expect(page.get_by_test_id("query-tab")).to_have_count(1)  # the untouched tab is reused
    run(page)
    expect(rows(page)).to_have_count(5)
    set_params(page, '{"TableName": "users", "Limit": 2}')
    expect(page.get_by_test_id("q-state")).to_have_text("unsaved changes")

    # another saved query: a tab of its own, nothing asked, without the other's result
    dialogs.seen = []
    two.click()
    assert dialogs.seen == []
    expect(page.get_by_test_id("q-name")).to_have_value("leave two")
    expect(page.get_by_test_id("q-state")).to_have_text("saved")
    expect(page.get_by_test_id("results")).to_be_hidden()
    expect(page.get_by_test_id("query-tab")).to_have_count(2)

    # the first one again: its tab, with its edits and its result
    one.click()
    expect(page.get_by_test_id("query-tab")).to_have_count(2)
    expect(page.get_by_test_id("q-params")).to_have_value('{"TableName": "users", "Limit": 2}')
    expect(page.get_by_test_id("q-state")).to_have_text("unsaved changes")
    expect(rows(page)).to_have_count(5)
    shots(page, "13-unsaved-changes-kept")

    # closing or reloading the page with unsaved changes in any tab asks (beforeunload), even
    # when the tab shown has none; saved, it does not
    two.click()
    expect(page.get_by_test_id("q-state")).to_have_text("saved")
    dialogs.answer, dialogs.seen = "accept", []
    page.reload()
    expect(page.get_by_test_id("app")).to_be_visible()
    assert [kind for kind, _ in dialogs.seen] == ["beforeunload"]
    dialogs.seen = []
    page.reload()
    expect(page.get_by_test_id("app")).to_be_visible()
    assert dialogs.seen == []


# -- what a result says: more pages, and what a write did -----------------------------------


def test_meta_says_whether_there_are_more_pages(page, server, endpoint, shots):
    ensure_local(page, server, endpoint)
    new_query(page, "Scan")
    set_params(page, '{"TableName": "users", "Limit": 1}')
    run(page)
    page.get_by_test_id("rtab-meta").click()
    meta = page.get_by_test_id("result-meta")
    expect(page.get_by_test_id("meta-more-pages")).to_contain_text("yes (Load more)")
    expect(page.get_by_test_id("meta-next_token")).to_be_visible()
    expect(meta).not_to_contain_text("Complete")  # no "Complete: true" beside a next token
    shots(page, "14-meta-more-pages")

    set_params(page, '{"TableName": "users"}')
    run(page)
    expect(page.get_by_test_id("meta-more-pages")).to_contain_text("no")
    expect(page.get_by_test_id("meta-next_token")).to_have_count(0)
    page.get_by_test_id("rtab-table").click()


def test_writes_say_what_happened(page, server, endpoint, shots):
    ensure_local(page, server, endpoint)
    what = page.get_by_test_id("result-what")
    key = '"Key": {"name": "Written", "address": "2 Write Way"}'
    new_query(page, "PutItem")
    set_params(
        page,
        '{"TableName": "locations", "Item": {"name": "Written", "address": "2 Write Way", "floor": 1},'
        ' "ReturnConsumedCapacity": "TOTAL"}',
    )
    run(page)
    expect(what).to_contain_text("1 item written")
    expect(what).to_contain_text("1 write capacity unit")
    expect(page.get_by_test_id("query-error")).to_be_hidden()
    shots(page, "15-put-item-written")

    # ReturnValues ALL_OLD: the item it replaced
    set_params(
        page,
        '{"TableName": "locations", "Item": {"name": "Written", "address": "2 Write Way", "floor": 2},'
        ' "ReturnValues": "ALL_OLD"}',
    )
    run(page)
    expect(what).to_contain_text("replacing the item with this key")
    expect(what).to_contain_text("the old item")
    page.get_by_test_id("rtab-table").click()
    expect(rows(page)).to_have_count(1)
    expect(page.get_by_test_id("result-table").locator("td.c-number")).to_have_text("1")

    new_query(page, "UpdateItem")
    set_params(
        page,
        '{"TableName": "locations", ' + key + ', "UpdateExpression": "SET floor = :f",'
        ' "ExpressionAttributeValues": {":f": 3}, "ReturnValues": "UPDATED_NEW"}',
    )
    run(page)
    expect(what).to_contain_text("1 item updated")
    expect(page.get_by_test_id("result-table")).to_contain_text("3")

    # DeleteItem asks first (the page's confirm, accepted), then says what it deleted
    new_query(page, "DeleteItem")
    set_params(page, '{"TableName": "locations", ' + key + ', "ReturnValues": "ALL_OLD"}')
    run(page)
    expect(what).to_contain_text("1 item deleted")
    expect(page.get_by_test_id("result-table")).to_contain_text("2 Write Way")
    page.get_by_test_id("rtab-meta").click()
    expect(page.get_by_test_id("meta-summary")).to_contain_text("1 item deleted")
    page.get_by_test_id("rtab-table").click()
    shots(page, "15-delete-item-deleted")
    run(page)  # nothing left under that key
    expect(what).to_contain_text("0 items deleted: no item had this key")


def test_the_placeholders_asked_for_are_the_servers(page, server, endpoint, shots):
    """The values form asks for the placeholders the server finds (POST /api/check): a {{ }} in
    a comment is none, so the page asks for no value the server would then refuse."""
    ensure_local(page, server, endpoint)
    new_query(page, "Query")
    set_params(
        page,
        '{\n    // {{ commented }} is no placeholder\n    "TableName": "users",\n'
        '    "KeyConditionExpression": "team_id = :t",\n'
        '    "ExpressionAttributeValues": {":t": "{{ team }}"}\n}',
    )
    expect(page.get_by_test_id("param-team")).to_be_visible()
    expect(page.get_by_test_id("param-commented")).to_have_count(0)
    page.get_by_test_id("param-team").fill("team_1")
    run(page)
    expect(rows(page)).to_have_count(2)
    expect(page.get_by_test_id("query-error")).to_be_hidden()
    shots(page, "16-placeholders-from-the-server")


# -- data is text, never markup -------------------------------------------------------------


def test_data_holding_markup_is_shown_as_text(page, server, endpoint, shots):
    """Names, descriptions and item values that hold HTML are shown as they are written: no
    element is made of them and no script of theirs runs."""
    ensure_local(page, server, endpoint)
    markup = '<img src=x onerror="window.__injected = true">'
    key = {"name": "Markup", "address": markup}
    connection = endpoint.connection()
    connection.run("PutItem", {"TableName": "locations", "Item": {**key, "note": markup}})
    ds = server.api(
        "POST",
        "/api/datasources",
        {"name": "markup " + markup, "description": markup, **endpoint.settings()},
    )
    saved = server.api(
        "POST",
        "/api/queries",
        {
            "name": "markup " + markup,
            "datasource": ds["id"],
            "operation": "GetItem",
            "params": json.dumps({"TableName": "locations", "Key": key}),
        },
    )
    try:
        page.reload()
        expect(page.get_by_test_id("app")).to_be_visible()
        expect(page.get_by_test_id("ds-list")).to_contain_text("markup " + markup)
        item = page.locator("[data-testid=query-item]").filter(has_text="markup " + markup)
        expect(item).to_have_count(1)
        item.locator("button").click()
        run(page)
        table = page.get_by_test_id("result-table")
        expect(table).to_contain_text(markup)
        expect(page.get_by_test_id("result-summary")).to_contain_text("markup " + markup)
        page.get_by_test_id("rtab-json").click()
        expect(page.get_by_test_id("result-json")).to_contain_text(json.dumps(markup)[1:-1])
        page.get_by_test_id("rtab-table").click()
        show(page, "history")
        expect(page.get_by_test_id("history-table")).to_contain_text("markup " + markup)
        shots(page, "16-markup-as-text")
        assert page.locator("#app img, #ds-dialog img").count() == 0
        assert page.evaluate("window.__injected") is None
    finally:
        connection.run("DeleteItem", {"TableName": "locations", "Key": key})
        server.api("DELETE", f"/api/datasources/{ds['id']}?with_queries=true")
        assert saved["name"] == "markup " + markup
