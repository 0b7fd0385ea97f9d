"""The result grid (web/grid.js): a 5,000-item Scan read with all pages from DynamoDB Local, and a
100,000-row result made in the page, shown with only the rows in view in the DOM; sorting,
nested values expanded in place, copying as JSON (read back from Chromium's clipboard), row
selection, the column menu, and the event that opens an item.

Timings are measured in the page and reported (printed and recorded as properties), never
asserted."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from playwright.sync_api import expect

from steps import TOKEN, ensure_local, new_query, rows, run, set_params
from support import pk_sk_table

ITEMS = 5_000
BIG = "12345678901234567890.123456789012345678"  # 38 digits: more than a JS number holds
PADDING = "x" * 300  # about 1.7 MB in all: DynamoDB Local answers a Scan in several pages


@pytest.fixture(scope="module")
def page(browser, server, page_errors, dialogs):
    """The page signed in, in a context allowed to read and write the clipboard."""
    context = browser.new_context(
        viewport={"width": 1400, "height": 1000},
        permissions=["clipboard-read", "clipboard-write"],
    )
    page = context.new_page()
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{server.url}/#token={TOKEN}")
    expect(page.get_by_test_id("app")).to_be_visible()
    yield page
    context.close()


def item(n: int) -> dict:
    return {
        "pk": f"item#{n:05d}",
        "sk": n,
        "n": n,
        "name": f"name {n}",
        "nested": {"a": n, "tags": ["red", "green"], "deep": {"big": BIG if n == 0 else n}},
        "padding": PADDING,
        **({"big": BIG} if n == 0 else {}),
    }


@pytest.fixture(scope="module")
def big_table(endpoint):
    """A table of 5,000 items, written with boto3's batch writer."""
    from decimal import Decimal

    name = "grid_" + uuid.uuid4().hex[:10]
    table = endpoint.boto3("resource").create_table(**pk_sk_table(name))
    table.wait_until_exists()
    with table.batch_writer() as batch:
        for n in range(ITEMS):
            written = item(n)
            if n == 0:
                written["big"] = Decimal(BIG)
                written["nested"]["deep"]["big"] = Decimal(BIG)
            batch.put_item(Item=written)
    yield name
    table.delete()


def grid(page):
    return page.get_by_test_id("result-table")


def column_index(page, column: str) -> int:
    """The position of a column among the cells of a row (td[data-col])."""
    return grid(page).get_attribute("data-columns").split("\n").index(column)


def cell(page, pos: int, column: str):
    row = page.locator(f'[data-testid=result-row][data-pos="{pos}"]')
    return row.locator(f'td[data-col="{column_index(page, column)}"]')


def report(record_property, name: str, value) -> None:
    print(f"{name}: {value}")
    record_property(name, value)


def scan_all_pages(page, server, endpoint, table: str) -> None:
    ensure_local(page, server, endpoint)
    new_query(page, "Scan")
    set_params(page, json.dumps({"TableName": table}))
    page.get_by_test_id("q-all-pages").check()
    run(page)
    expect(grid(page)).to_have_attribute("data-rows", str(ITEMS))


def scroll_to(page, where: str) -> None:
    """Scroll the grid to its "top" or "bottom" and wait for the rows there to be drawn."""
    page.get_by_test_id("grid-scroll").evaluate(
        "(e, where) => { e.scrollTop = where === 'top' ? 0 : e.scrollHeight }", where
    )
    page.wait_for_function(
        """(where) => {
            const e = document.querySelector('[data-testid=grid-scroll]');
            const rows = e.querySelectorAll('[data-testid=result-row]');
            const table = e.querySelector('table');
            const last = Number(table.dataset.rows) - 1;
            const want = where === 'top' ? '0' : String(last);
            return [...rows].some((r) => r.dataset.pos === want);
        }""",
        arg=where,
    )


def clipboard(page):
    return json.loads(page.evaluate("navigator.clipboard.readText()"))


# -- 5,000 items from DynamoDB Local ---------------------------------------------------------


def test_a_big_result_keeps_few_rows_in_the_dom(
    page, server, endpoint, big_table, shots, record_property
):
    scan_all_pages(page, server, endpoint, big_table)
    expect(page.get_by_test_id("result-count")).to_contain_text(f"{ITEMS} rows")
    expect(grid(page)).to_have_attribute("aria-rowcount", str(ITEMS + 1))
    expect(grid(page)).to_have_attribute(
        "data-render-ms", re.compile(r"^\d")
    )  # measured in the page
    in_dom = rows(page).count()
    assert 0 < in_dom < 100, in_dom
    report(record_property, "grid_5000_render_ms", grid(page).get_attribute("data-render-ms"))
    report(record_property, "grid_5000_rows_in_dom", in_dom)
    # the key columns first, marked
    header = grid(page).locator("thead th[data-column]")
    expect(header.nth(0)).to_have_attribute("data-column", "pk")
    expect(header.nth(0)).to_have_attribute("data-key", "PK")
    expect(header.nth(1)).to_have_attribute("data-column", "sk")
    expect(header.nth(1)).to_have_attribute("data-key", "SK")
    shots(page, "30-grid-5000-items")
    page.get_by_test_id("rtab-meta").click()
    report(
        record_property,
        "grid_5000_pages_read",
        page.get_by_test_id("meta-pages").locator("dd").inner_text(),
    )
    page.get_by_test_id("rtab-table").click()

    scroll_to(page, "bottom")
    last = page.locator(f'[data-testid=result-row][data-pos="{ITEMS - 1}"]')
    expect(last).to_be_visible()
    expect(last.locator("th.rownum")).to_have_text(str(ITEMS))
    assert rows(page).count() < 100
    shots(page, "31-grid-scrolled-to-the-end")


def test_sorting_orders_every_row(page, server, endpoint, big_table, shots, record_property):
    if grid(page).get_attribute("data-rows") != str(ITEMS):
        scan_all_pages(page, server, endpoint, big_table)
    header = grid(page).locator('thead th[data-column="n"]')
    # anywhere on the header cell sorts, not only its text
    header.scroll_into_view_if_needed()
    box = header.bounding_box()
    page.mouse.click(box["x"] + box["width"] - 4, box["y"] + box["height"] / 2)
    expect(header).to_have_attribute("aria-sort", "ascending")
    scroll_to(page, "top")
    expect(cell(page, 0, "n")).to_have_text("0")
    expect(cell(page, 1, "n")).to_have_text("1")
    scroll_to(page, "bottom")
    expect(cell(page, ITEMS - 1, "n")).to_have_text(str(ITEMS - 1))
    report(record_property, "grid_5000_sort_ms", grid(page).get_attribute("data-sort-ms"))

    header.click()
    expect(header).to_have_attribute("aria-sort", "descending")
    scroll_to(page, "top")
    expect(cell(page, 0, "n")).to_have_text(str(ITEMS - 1))
    scroll_to(page, "bottom")
    expect(cell(page, ITEMS - 1, "n")).to_have_text("0")
    # numbers sort as numbers, text as text with its numbers in order ("name 10" after "name 9")
    grid(page).locator('thead th[data-column="name"]').click()
    scroll_to(page, "top")
    expect(cell(page, 9, "name")).to_have_text("name 9")
    expect(cell(page, 10, "name")).to_have_text("name 10")
    shots(page, "32-grid-sorted-by-name")


def sort_by_n(page) -> None:
    header = grid(page).locator('thead th[data-column="n"]')
    header.click()
    if header.get_attribute("aria-sort") != "ascending":
        header.click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    scroll_to(page, "top")


def test_nested_values_expand_in_place_with_every_digit(page, server, endpoint, big_table, shots):
    if grid(page).get_attribute("data-rows") != str(ITEMS):
        scan_all_pages(page, server, endpoint, big_table)
    sort_by_n(page)
    expect(cell(page, 0, "big")).to_have_text(BIG)
    nested = cell(page, 0, "nested")
    expect(nested).to_contain_text('"tags":["red","green"]')
    below = page.locator('[data-testid=result-row][data-pos="1"]')
    top_before = below.bounding_box()["y"]
    nested.get_by_test_id("cell-expand").click()
    shown = nested.get_by_test_id("cell-nested")
    expect(shown).to_be_visible()
    expect(shown).to_contain_text(f'"big": {BIG}')
    assert '"tags": [\n' in shown.text_content()  # indented, one value a line
    expect(nested.get_by_test_id("cell-expand")).to_have_attribute("aria-expanded", "true")
    # the row grew, and the next one moved down instead of being covered
    assert below.bounding_box()["y"] > top_before + 40
    shots(page, "33-grid-nested-expanded")
    # scrolled away and back, it is still open; then it closes
    scroll_to(page, "bottom")
    scroll_to(page, "top")
    expect(cell(page, 0, "nested").get_by_test_id("cell-nested")).to_be_visible()
    cell(page, 0, "nested").get_by_test_id("cell-expand").click()
    expect(cell(page, 0, "nested").get_by_test_id("cell-nested")).to_have_count(0)
    expect(below).to_be_visible()
    assert abs(below.bounding_box()["y"] - top_before) < 2


def test_copy_a_cell_a_row_and_the_selection_as_json(page, server, endpoint, big_table, shots):
    if grid(page).get_attribute("data-rows") != str(ITEMS):
        scan_all_pages(page, server, endpoint, big_table)
    sort_by_n(page)
    page.evaluate(
        """() => {
            window.__selections = [];
            document.addEventListener('dq:selection', (e) => window.__selections.push(e.detail));
        }"""
    )
    status = page.get_by_test_id("grid-status")
    # a cell, from its context menu: the exact number, every digit
    cell(page, 0, "big").click(button="right")
    expect(page.get_by_test_id("grid-context-menu")).to_be_visible()
    shots(page, "34-grid-context-menu")
    page.get_by_test_id("ctx-copy-cell").click()
    expect(status).to_contain_text("Copied the cell")
    assert page.evaluate("navigator.clipboard.readText()") == BIG
    cell(page, 2, "nested").click(button="right")
    page.get_by_test_id("ctx-copy-cell").click()
    expect(status).to_contain_text("Copied the cell")
    assert clipboard(page) == item(2)["nested"]
    # a row
    cell(page, 3, "name").click(button="right")
    page.get_by_test_id("ctx-copy-row").click()
    expect(status).to_contain_text("Copied the row")
    assert clipboard(page) == item(3)
    page.get_by_test_id("grid-status").evaluate("e => e.textContent = ''")

    # the selection: a checkbox, then shift-click makes a range; Ctrl+C copies it
    checks = page.get_by_test_id("row-check")
    page.locator('[data-testid=result-row][data-pos="1"]').get_by_test_id("row-check").click()
    page.locator('[data-testid=result-row][data-pos="4"]').get_by_test_id("row-check").click(
        modifiers=["Shift"]
    )
    expect(page.get_by_test_id("grid-selection")).to_have_text("4 selected")
    expect(grid(page).locator("tr.selected")).to_have_count(4)
    expect(checks.nth(0)).not_to_be_checked()
    assert page.evaluate("window.__selections.map((d) => d.count)") == [1, 4]
    selected = page.evaluate(
        """async () => {
            const results = await import('/static/views/results.js');
            return results.selectedRows().map((row) => row.n);
        }"""
    )
    assert selected == [1, 2, 3, 4]
    page.locator('[data-testid=result-row][data-pos="2"]').focus()
    page.keyboard.press("Control+c")
    expect(status).to_contain_text("Copied 4 rows")
    assert clipboard(page) == [item(n) for n in (1, 2, 3, 4)]
    page.evaluate("navigator.clipboard.writeText('')")
    status.evaluate("e => e.textContent = ''")
    page.get_by_test_id("grid-copy-selection").click()
    expect(status).to_contain_text("Copied 4 rows")
    assert [row["n"] for row in clipboard(page)] == [1, 2, 3, 4]
    shots(page, "35-grid-selection")

    # select all: every row, even those not drawn; then none
    page.get_by_test_id("select-all").check()
    expect(page.get_by_test_id("grid-selection")).to_have_text(f"{ITEMS} selected")
    assert page.evaluate("window.__selections.at(-1).count") == ITEMS
    page.get_by_test_id("grid-clear-selection").click()
    expect(page.get_by_test_id("grid-selection")).to_have_text("")
    expect(page.get_by_test_id("select-all")).not_to_be_checked()


def test_columns_hide_and_move(page, server, endpoint, big_table, shots):
    if grid(page).get_attribute("data-rows") != str(ITEMS):
        scan_all_pages(page, server, endpoint, big_table)
    columns = lambda: grid(page).get_attribute("data-columns").split("\n")  # noqa: E731
    assert columns()[:2] == ["pk", "sk"]
    page.get_by_test_id("grid-columns").click()
    menu = page.get_by_test_id("grid-column-menu")
    expect(menu).to_be_visible()
    menu.locator('[data-testid=col-toggle][data-column="padding"]').uncheck()
    expect(grid(page).locator('thead th[data-column="padding"]')).to_have_count(0)
    assert "padding" not in columns()
    expect(grid(page)).not_to_contain_text(PADDING[:50])
    before = columns().index("name")
    menu.locator('[data-testid=col-left][data-column="name"]').click()
    assert columns().index("name") == before - 1
    shots(page, "36-grid-column-menu")
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    # a header dragged onto another takes its place
    grid(page).locator('thead th[data-column="nested"]').drag_to(
        grid(page).locator('thead th[data-column="pk"]')
    )
    assert columns()[0] == "nested"
    expect(grid(page).locator("thead th[data-column]").first).to_have_attribute(
        "data-column", "nested"
    )
    # the cells follow their columns
    first = page.locator('[data-testid=result-row][data-pos="0"] td[data-col="0"]')
    expect(first).to_have_class("c-json")
    page.get_by_test_id("grid-columns").click()
    page.get_by_test_id("col-reset").click()
    assert columns()[:2] == ["pk", "sk"] and "padding" in columns()
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("grid-column-menu")).to_be_hidden()


def test_opening_a_row_tells_the_other_views(page, server, endpoint, big_table, shots):
    if grid(page).get_attribute("data-rows") != str(ITEMS):
        scan_all_pages(page, server, endpoint, big_table)
    sort_by_n(page)
    # the event alone: caught before the item editor (tested on its own) opens its dialog
    page.evaluate(
        """() => {
            window.__opened = [];
            window.addEventListener('dq:open-item', (e) => {
                e.stopImmediatePropagation();
                window.__opened.push({
                    n: e.detail.row.n, table: e.detail.table, datasource: e.detail.datasource,
                });
            }, { capture: true });
        }"""
    )
    opened = lambda: page.evaluate("window.__opened")  # noqa: E731
    local = next(d for d in server.api("GET", "/api/datasources") if d["name"] == "local")
    cell(page, 5, "name").click()
    assert opened() == [{"n": 5, "table": big_table, "datasource": local["id"]}]
    # the checkbox and the expander do not open it
    page.locator('[data-testid=result-row][data-pos="6"]').get_by_test_id("row-check").click()
    cell(page, 6, "nested").get_by_test_id("cell-expand").click()
    cell(page, 6, "nested").get_by_test_id("cell-expand").click()
    assert len(opened()) == 1
    # the keyboard: arrows move, Enter opens
    cell(page, 7, "name").click()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    assert [x["n"] for x in opened()] == [5, 7, 9]
    page.get_by_test_id("grid-clear-selection").click()


def test_rows_edited_by_another_view(page, server, endpoint, big_table):
    """replaceRow and removeRows: what the item editor calls after a save or a delete."""
    if grid(page).get_attribute("data-rows") != str(ITEMS):
        scan_all_pages(page, server, endpoint, big_table)
    sort_by_n(page)
    page.evaluate(
        """async () => {
            const results = await import('/static/views/results.js');
            const rows = results.currentResult().rows;
            const first = rows.find((row) => row.n === 0);
            results.replaceRow(first, { ...first, name: 'renamed' });
            results.removeRows(rows.filter((row) => row.n === 1 || row.n === 2));
        }"""
    )
    expect(grid(page)).to_have_attribute("data-rows", str(ITEMS - 2))
    expect(cell(page, 0, "name")).to_have_text("renamed")
    expect(cell(page, 1, "n")).to_have_text("3")
    expect(page.get_by_test_id("result-count")).to_contain_text(f"{ITEMS - 2} rows")
    page.get_by_test_id("rtab-json").click()
    expect(page.get_by_test_id("result-json")).to_contain_text('"name": "renamed"')
    page.get_by_test_id("rtab-table").click()


# -- 100,000 rows made in the page -----------------------------------------------------------

LARGE = 100_000

MAKE_LARGE = """async (count) => {
    const results = await import('/static/views/results.js');
    const items = Array.from({ length: count }, (_, i) => ({
        id: `row ${String(i).padStart(6, '0')}`,
        n: (i * 7919) % count,
        text: `some text ${i % 977}`,
        map: { i, even: i % 2 === 0 },
    }));
    const answer = {
        data: { Items: items, Count: count },
        meta: { operation: 'Scan', count },
        raw: {},
        complete: true,
    };
    results.showResult(answer, { path: '/api/run', body: {}, label: 'made in the page' });
}"""

SCROLL_THROUGH = """async (steps) => {
    const scroller = document.querySelector('[data-testid=grid-scroll]');
    const table = scroller.querySelector('table');
    const frames = [];
    const renders = [];
    let last = performance.now();
    for (let i = 0; i < steps; i++) {
        scroller.scrollTop += 1500;
        await new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));
        const now = performance.now();
        frames.push(now - last);
        renders.push(Number(table.dataset.lastRenderMs));
        last = now;
    }
    const sorted = [...frames].sort((a, b) => a - b);
    return {
        frames: frames.length,
        median_frame_ms: sorted[Math.floor(sorted.length / 2)],
        max_frame_ms: sorted[sorted.length - 1],
        max_render_ms: Math.max(...renders),
        median_render_ms: [...renders].sort((a, b) => a - b)[Math.floor(renders.length / 2)],
        rows_in_dom: scroller.querySelectorAll('[data-testid=result-row]').length,
    };
}"""


def test_a_hundred_thousand_rows_scroll(page, server, shots, record_property):
    """100,000 rows, made in the page and given to results.showResult as a run's answer would
    be (loading them from DynamoDB Local would take minutes)."""
    page.evaluate(MAKE_LARGE, LARGE)
    expect(grid(page)).to_have_attribute("data-rows", str(LARGE))
    expect(grid(page)).to_have_attribute("data-render-ms", re.compile(r"^\d"))
    report(record_property, "grid_100k_render_ms", grid(page).get_attribute("data-render-ms"))
    scrolling = page.evaluate(SCROLL_THROUGH, 200)
    report(record_property, "grid_100k_scroll", scrolling)
    assert scrolling["rows_in_dom"] < 100
    scroll_to(page, "bottom")
    expect(page.locator(f'[data-testid=result-row][data-pos="{LARGE - 1}"]')).to_be_visible()
    shots(page, "37-grid-100000-rows")

    header = grid(page).locator('thead th[data-column="n"]')
    header.click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    expect(grid(page)).to_have_attribute("data-sort-ms", re.compile(r"^\d"))
    report(record_property, "grid_100k_sort_ms", grid(page).get_attribute("data-sort-ms"))
    scroll_to(page, "top")
    expect(cell(page, 0, "n")).to_have_text("0")
    scroll_to(page, "bottom")
    expect(cell(page, LARGE - 1, "n")).to_have_text(str(LARGE - 1))
