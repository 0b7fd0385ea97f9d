"""Code and cost before running, in headless Chromium: the Code panel writes the request of the
form as boto3, AWS CLI and JavaScript (no credentials in it), and Copy puts it on the clipboard;
before a Scan runs, the page shows what it would read and, when its filter fixes the partition
key with =, offers the Query, which runs and finds the same items."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from steps import ensure_local, new_query, rows, run, set_params

SCAN = (
    '{\n    "TableName": "users",\n    "FilterExpression": "team_id = :t",\n'
    '    "ExpressionAttributeValues": {":t": "{{ team }}"}\n}'
)


def test_code_in_three_languages_without_credentials_and_copy(page, server, endpoint, shots):
    ensure_local(page, server, endpoint)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    new_query(page, "Scan")
    set_params(page, SCAN)
    page.get_by_test_id("param-team").fill("team_2")

    page.get_by_test_id("q-code").click()
    panel = page.get_by_test_id("code-panel")
    code = page.get_by_test_id("code-text")
    expect(panel).to_be_visible()
    expect(code).to_contain_text("import boto3")
    expect(code).to_contain_text('"team_2"')  # the placeholder filled
    expect(code).to_contain_text(endpoint.endpoint_url)
    shots(page, "24-code-python")
    texts = {"python": code.inner_text()}
    for language, marker in (("aws-cli", "aws dynamodb scan"), ("javascript", "ScanCommand")):
        page.get_by_test_id(f"code-lang-{language}").click()
        expect(code).to_contain_text(marker)
        texts[language] = code.inner_text()
    shots(page, "24-code-javascript")
    for text in texts.values():
        assert endpoint.secret_key not in text and endpoint.access_key not in text
        assert "{{" not in text

    # the code follows the form
    page.get_by_test_id("param-team").fill("team_1")
    expect(code).to_contain_text("team_1")

    page.get_by_test_id("code-copy").click()
    expect(page.get_by_test_id("toast")).to_contain_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == code.inner_text().rstrip("\n") or copied == code.inner_text()
    assert "ScanCommand" in copied

    # a mistake in the parameters: said in the panel, no code
    set_params(page, SCAN.replace('"users"', "5"))
    expect(page.get_by_test_id("code-error")).to_contain_text("TableName")
    page.get_by_test_id("code-close").click()
    expect(panel).to_be_hidden()


def test_a_scan_shows_its_cost_before_it_runs_and_offers_the_query(page, server, endpoint, shots):
    ensure_local(page, server, endpoint)
    new_query(page, "Scan")
    set_params(page, SCAN)
    page.get_by_test_id("param-team").fill("team_2")

    cost = page.get_by_test_id("scan-cost")
    expect(cost).to_be_visible()
    expect(page.get_by_test_id("scan-rcu")).to_have_text(re.compile(r"^\d+ RCU$"))
    expect(cost).to_contain_text("eventually consistent")
    expect(cost).to_contain_text("strongly consistent")
    advice = page.get_by_test_id("scan-advice")
    expect(advice).to_contain_text("This is a Query")
    expect(page.get_by_test_id("results")).to_be_hidden()  # nothing ran
    shots(page, "25-scan-cost-before-it-runs")

    # ConsistentRead: the estimate says strongly consistent
    set_params(page, SCAN.replace('"users",', '"users",\n    "ConsistentRead": true,'))
    expect(cost).to_contain_text("strongly consistent;")

    # the Query offered: in the editor, it runs and finds what the Scan finds
    set_params(page, SCAN)
    expect(advice).to_be_visible()
    page.get_by_test_id("use-query").click()
    expect(page.get_by_test_id("q-operation")).to_have_value("Query")
    params = page.get_by_test_id("q-params")
    expect(params).to_have_value(re.compile(r'"KeyConditionExpression": "team_id = :t"'))
    expect(params).to_have_value(re.compile(r"team_2"))
    expect(cost).to_be_hidden()  # a Query: no Scan to warn about
    run(page)
    expect(rows(page)).to_have_count(2)
    table = page.get_by_test_id("result-table")
    expect(table).to_contain_text("Anneke")
    expect(table).to_contain_text("Bo")
    shots(page, "25-the-query-offered-ran")

    # a Scan whose filter fixes no key: the cost, and no Query to offer
    new_query(page, "Scan")
    set_params(page, '{"TableName": "users", "FilterExpression": "attribute_exists(age)"}')
    expect(page.get_by_test_id("scan-rcu")).to_be_visible()
    expect(advice).to_have_count(0)
