"""The page as an editor, in headless Chromium: queries open in tabs that keep their own text,
placeholders' values and result; the form and the result share the screen (a handle between
them, remembered); the editor grows with its text; the history opens a run again in a tab or
runs it again; completion of parameters, tables and attributes in the editor."""

from __future__ import annotations

import json

from playwright.sync_api import expect

from steps import ensure_local, new_query, rows, run, set_params, show

TEAM_QUERY = (
    '{\n    "TableName": "users",\n    "KeyConditionExpression": "team_id = :t",\n'
    '    "ExpressionAttributeValues": {":t": "{{ team }}"}\n}'
)


def tab(page, title: str):
    return page.locator(f'[data-testid=query-tab][data-title="{title}"]')


def box_of(locator):
    """The bounding box of an element the grid may draw again while it is measured."""
    for _ in range(20):
        expect(locator).to_be_visible()
        box = locator.bounding_box()
        if box:
            return box
    raise AssertionError(f"{locator} has no box")


def shown_tab(page):
    return page.locator("[data-testid=query-tab].active")


# -- tabs ------------------------------------------------------------------------------------


def test_each_tab_keeps_its_text_values_and_result(page, server, endpoint, shots):
    ensure_local(page, server, endpoint)
    new_query(page, "Query")
    page.get_by_test_id("q-name").fill("by team")
    set_params(page, TEAM_QUERY)
    page.get_by_test_id("param-team").fill("team_2")
    run(page)
    expect(rows(page)).to_have_count(2)

    new_query(page, "Scan")
    set_params(page, '{"TableName": "Reply"}')
    run(page)
    scan_rows = rows(page).count()
    assert scan_rows > 2
    expect(shown_tab(page)).to_have_attribute("data-title", "Scan Reply")
    shots(page, "20-two-query-tabs")

    # back to the first: its name, text, placeholder value and result come back
    tab(page, "by team").get_by_role("tab").click()
    expect(page.get_by_test_id("q-name")).to_have_value("by team")
    expect(page.get_by_test_id("q-params")).to_have_value(TEAM_QUERY)
    expect(page.get_by_test_id("q-operation")).to_have_value("Query")
    expect(page.get_by_test_id("param-team")).to_have_value("team_2")
    expect(rows(page)).to_have_count(2)
    expect(page.get_by_test_id("result-table")).to_contain_text("Anneke")

    # another value runs in this tab only
    page.get_by_test_id("param-team").fill("team_1")
    run(page)
    expect(page.get_by_test_id("result-table")).to_contain_text("Aman")
    tab(page, "Scan Reply").get_by_role("tab").click()
    expect(page.get_by_test_id("q-params")).to_have_value('{"TableName": "Reply"}')
    expect(rows(page)).to_have_count(scan_rows)
    tab(page, "by team").get_by_role("tab").click()
    expect(page.get_by_test_id("param-team")).to_have_value("team_1")
    expect(page.get_by_test_id("result-table")).to_contain_text("Aman")

    # the arrow keys move between tabs, as in any tab list
    shown_tab(page).get_by_role("tab").focus()
    page.keyboard.press("ArrowRight")
    expect(shown_tab(page)).to_have_attribute("data-title", "Scan Reply")


def test_exploring_a_table_opens_a_tab(page, server, endpoint):
    ensure_local(page, server, endpoint)
    new_query(page, "Query")
    set_params(page, '{"TableName": "users", "Limit": 1}')
    before = page.get_by_test_id("query-tab").count()
    show(page, "tables")
    page.get_by_test_id("t-datasource").select_option(label="local")
    page.locator('[data-testid=t-item][data-name="Reply"]').click()
    expect(page.get_by_test_id("tab-query")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_test_id("query-tab")).to_have_count(before + 1)
    expect(shown_tab(page)).to_have_attribute("data-title", "Scan Reply")
    expect(rows(page)).to_have_count(4)
    # the query being written is where it was, in its tab
    tab(page, "Query users").get_by_role("tab").click()
    expect(page.get_by_test_id("q-params")).to_have_value('{"TableName": "users", "Limit": 1}')
    expect(page.get_by_test_id("results")).to_be_hidden()


def test_the_result_is_visible_without_scrolling_at_1440_by_900(page, server, endpoint, shots):
    ensure_local(page, server, endpoint)
    page.set_viewport_size({"width": 1440, "height": 900})
    try:
        page.evaluate("localStorage.removeItem('dynaquery.formHeight')")
        page.reload()
        expect(page.get_by_test_id("app")).to_be_visible()
        new_query(page, "Scan")
        set_params(page, '{\n    "TableName": "users"\n}')
        run(page)
        expect(rows(page)).to_have_count(5)
        results = page.get_by_test_id("results").bounding_box()
        first_row = box_of(rows(page).first)
        run_button = page.get_by_test_id("q-run").bounding_box()
        scrolled = page.evaluate("document.scrollingElement.scrollTop")
        main_scrolled = page.evaluate("document.querySelector('#main').scrollTop")
        print(
            f"\n1440x900: result top {results['y']:.0f}, first row bottom "
            f"{first_row['y'] + first_row['height']:.0f}, Run at {run_button['y']:.0f}, "
            f"scrolled {scrolled}/{main_scrolled}"
        )
        assert scrolled == 0 and main_scrolled == 0
        assert first_row["y"] + first_row["height"] <= 900
        assert 0 <= run_button["y"] and run_button["y"] + run_button["height"] <= results["y"]
        shots(page, "21-result-visible-at-1440x900")

        # the handle between the form and the result: dragged up, the result gets the room
        handle = page.get_by_test_id("split-handle")
        box = handle.bounding_box()
        form_before = page.locator("#query-form").bounding_box()["height"]
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x, y - 120, steps=5)
        page.mouse.up()
        form_after = page.locator("#query-form").bounding_box()["height"]
        assert abs(form_before - 120 - form_after) < 4, (form_before, form_after)
        kept = page.evaluate("Number(localStorage.getItem('dynaquery.formHeight'))")
        assert abs(kept - form_after) < 2

        # remembered: after a reload the form has the height it was given
        page.reload()
        expect(page.get_by_test_id("app")).to_be_visible()
        new_query(page, "Scan")
        set_params(page, '{"TableName": "users"}')
        run(page)
        expect(rows(page)).to_have_count(5)
        assert abs(page.locator("#query-form").bounding_box()["height"] - kept) < 2
    finally:
        page.evaluate("localStorage.removeItem('dynaquery.formHeight')")
        page.set_viewport_size({"width": 1400, "height": 1000})


def test_the_editor_grows_with_its_text_up_to_a_limit(page, server, endpoint):
    ensure_local(page, server, endpoint)
    new_query(page, "PutItem")
    editor = page.get_by_test_id("editor")
    set_params(page, "{}")
    small = editor.bounding_box()["height"]
    item = ",\n".join(f'        "attribute_{i}": {i}' for i in range(14))
    set_params(page, '{\n    "TableName": "users",\n    "Item": {\n' + item + "\n    }\n}")
    grown = editor.bounding_box()["height"]
    set_params(page, "{\n" + "\n".join(f'  "a{i}": {i},' for i in range(200)) + "\n}")
    capped = editor.bounding_box()["height"]
    print(f"\neditor height: {small:.0f} px (1 line), {grown:.0f} px (19 lines), {capped:.0f} px")
    assert small < grown < capped <= 22 * 20 + 40
    scroll = page.get_by_test_id("q-params").evaluate("t => t.scrollHeight > t.clientHeight")
    assert scroll  # past the limit, the text scrolls in the editor


# -- the history -----------------------------------------------------------------------------


def test_history_rows_show_the_table_and_open_or_run_again(page, server, endpoint, shots):
    ensure_local(page, server, endpoint)
    new_query(page, "Query")
    set_params(page, TEAM_QUERY)
    page.get_by_test_id("param-team").fill("team_2")
    run(page)
    expect(rows(page)).to_have_count(2)
    tabs_before = page.get_by_test_id("query-tab").count()

    show(page, "history")
    newest = page.get_by_test_id("history-row").first
    expect(newest).to_contain_text("Query")
    expect(newest.get_by_test_id("h-table")).to_have_text("users")
    shots(page, "22-history-with-tables")

    # Open: the same request, and the value it ran with, in a tab of its own
    newest.get_by_test_id("h-open").click()
    expect(page.get_by_test_id("tab-query")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_test_id("query-tab")).to_have_count(tabs_before + 1)
    expect(page.get_by_test_id("q-params")).to_have_value(TEAM_QUERY)
    expect(page.get_by_test_id("param-team")).to_have_value("team_2")
    expect(page.get_by_test_id("results")).to_be_hidden()

    # Run again: one more tab, run at once
    show(page, "history")
    page.get_by_test_id("history-row").first.get_by_test_id("h-rerun").click()
    expect(page.get_by_test_id("query-tab")).to_have_count(tabs_before + 2)
    expect(rows(page)).to_have_count(2)
    expect(page.get_by_test_id("result-table")).to_contain_text("Anneke")

    # a saved query's run opens the saved query (its tab when it is open)
    local = next(d for d in server.api("GET", "/api/datasources") if d["name"] == "local")
    saved = server.api(
        "POST",
        "/api/queries",
        {
            "name": "history thread",
            "datasource": local["id"],
            "operation": "Scan",
            "params": json.dumps({"TableName": "Thread"}),
        },
    )
    server.api("POST", f"/api/queries/{saved['id']}/run", {})
    page.reload()
    expect(page.get_by_test_id("app")).to_be_visible()
    show(page, "history")
    row = page.get_by_test_id("history-row").filter(has_text="history thread").first
    expect(row.get_by_test_id("h-table")).to_have_text("Thread")
    row.get_by_test_id("h-rerun").click()
    expect(page.get_by_test_id("q-name")).to_have_value("history thread")
    expect(page.get_by_test_id("result-summary")).to_contain_text("history thread")

    # a run the page did not send, of no saved query: nothing to open (no parameters kept)
    server.api(
        "POST",
        "/api/run",
        {"datasource": "local", "operation": "ListTables", "params": "{}"},
    )
    show(page, "history")
    elsewhere = page.get_by_test_id("history-row").filter(has_text="ListTables").first
    expect(elsewhere.get_by_test_id("h-open")).to_be_disabled()
    expect(elsewhere.get_by_test_id("h-rerun")).to_be_disabled()


# -- completion ------------------------------------------------------------------------------


def option(page, value: str):
    return page.locator(f'[data-testid=ac-option][data-value="{value}"]')


def test_completion_offers_parameters_tables_and_attributes(page, server, endpoint, shots):
    ensure_local(page, server, endpoint)
    new_query(page, "Scan")
    set_params(page, '{"TableName": "users"}')
    run(page)  # a result in this tab: its attributes are offered too
    expect(rows(page)).to_have_count(5)

    editor = page.get_by_test_id("q-params")
    set_params(page, "")
    editor.click()
    # a parameter of the operation, filtered by what is typed; Enter takes it
    page.keyboard.type('{"Ta')
    expect(option(page, "TableName")).to_be_visible()
    expect(option(page, "Limit")).to_have_count(0)
    shots(page, "23-completion-parameter")
    page.keyboard.press("Enter")
    expect(editor).to_have_value('{"TableName": ')
    expect(page.get_by_test_id("ac-list")).to_be_hidden()

    # a table of the data source; Tab takes it
    page.keyboard.type('"us')
    expect(option(page, "users")).to_be_visible()
    page.keyboard.press("Tab")
    expect(editor).to_have_value('{"TableName": "users"')

    # an attribute in an expression: the table's key, then one seen in the result
    page.keyboard.type(', "FilterExpression": "te')
    expect(option(page, "team_id")).to_be_visible()
    expect(option(page, "team_id")).to_contain_text("partition key")
    shots(page, "23-completion-attribute")
    page.keyboard.press("Enter")
    expect(editor).to_have_value('{"TableName": "users", "FilterExpression": "team_id')
    page.keyboard.type(" = :t AND na")
    expect(option(page, "name")).to_contain_text("in the result")
    # arrows move, Escape closes without changing anything
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("ac-list")).to_be_hidden()
    typed = '{"TableName": "users", "FilterExpression": "team_id = :t AND na'
    expect(editor).to_have_value(typed)
    # Ctrl+Space opens it again
    page.keyboard.press("Control+Space")
    expect(option(page, "name")).to_be_visible()
    page.keyboard.press("Enter")
    expect(editor).to_have_value(typed + "me")

    # a key of Key: an attribute too
    set_params(page, '{"TableName": "users", "Key": {"emp')
    editor.press("End")
    page.keyboard.press("Control+Space")
    expect(option(page, "employee_id")).to_be_visible()
    page.keyboard.press("Enter")
    expect(editor).to_have_value('{"TableName": "users", "Key": {"employee_id": ')
