"""What the page tests share: the browser's settings, the sign-in token, a call to the API, and
the steps many tests take (add `local`, open a view, start a query, run it)."""

from __future__ import annotations

import json
import os
import urllib.request
import uuid

from playwright.sync_api import expect

from support import ROOT

CHROMIUM = os.environ.get("DYNAQUERY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN = "web-token-" + uuid.uuid4().hex
ARTIFACTS = ROOT / ".artifacts" / "screenshots"

expect.set_options(timeout=20_000)


def call(url: str, method: str, path: str, body=None, token: str = TOKEN):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
    return json.loads(text) if text else None


def ensure_local(page, server, endpoint) -> None:
    """The data source `local` on DynamoDB Local (added by the UI in test 2; through the API
    when a test runs alone)."""
    if not any(d["name"] == "local" for d in server.api("GET", "/api/datasources")):
        server.api("POST", "/api/datasources", {"name": "local", **endpoint.settings()})
        page.reload()
        expect(page.get_by_test_id("app")).to_be_visible()
    expect(page.get_by_test_id("ds-list")).to_contain_text("local")


def show(page, view: str) -> None:
    page.get_by_test_id(f"tab-{view}").click()
    expect(page.get_by_test_id(f"tab-{view}")).to_have_attribute("aria-selected", "true")


def new_query(page, operation: str, search: str | None = None, datasource: str = "local") -> None:
    """A new unsaved query on `datasource`, its operation picked with the searchable picker."""
    show(page, "query")
    page.get_by_test_id("q-new").click()
    page.get_by_test_id("q-datasource").select_option(label=datasource)
    page.get_by_test_id("q-operation").click()
    page.get_by_test_id("q-operation").fill(search or operation)
    option = page.locator(f'[data-testid=op-option][data-name="{operation}"]')
    expect(option).to_be_visible()
    option.click()
    expect(page.get_by_test_id("q-operation")).to_have_value(operation)
    expect(page.get_by_test_id("op-summary")).not_to_be_empty()


def set_params(page, text: str) -> None:
    page.get_by_test_id("q-params").fill(text)


def run(page) -> None:
    page.get_by_test_id("q-run").click()
    expect(page.get_by_test_id("q-run")).to_have_text("Run")  # not "Running…" any more


def rows(page):
    return page.get_by_test_id("result-row")


def ds_form(page, name: str, endpoint_url: str, key: str, secret: str) -> None:
    page.get_by_test_id("ds-add").click()
    expect(page.get_by_test_id("ds-dialog")).to_be_visible()
    page.get_by_test_id("ds-name").fill(name)
    page.get_by_test_id("ds-region").fill("us-east-1")
    page.get_by_test_id("ds-endpoint-url").fill(endpoint_url)
    page.get_by_test_id("ds-access-key-id").fill(key)
    page.get_by_test_id("ds-secret-access-key").fill(secret)
