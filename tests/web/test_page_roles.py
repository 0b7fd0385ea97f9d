"""Users and roles on the page, in headless Chromium: an admin, an editor and a runner sign in
through the form (the session is an HttpOnly cookie, nothing kept in the browser's storage), and
each sees what their role may do and nothing more. The users, grants, data sources and saved
queries are set up through the API with the server's token."""

from __future__ import annotations

import json
import uuid

import pytest
from playwright.sync_api import expect

from steps import rows, run, show

PASSWORDS = {name: f"{name}-password-{uuid.uuid4().hex[:8]}" for name in ("ada", "eddie", "rita")}
TABLE = f"roles-{uuid.uuid4().hex[:8]}"  # never created: a write to it must be refused first
TEAM_QUERY = json.dumps(
    {
        "TableName": "users",
        "KeyConditionExpression": "team_id = :team",
        "ExpressionAttributeValues": {":team": "{{ team }}"},
    }
)


@pytest.fixture(scope="module")
def team(server, endpoint):
    """ada (admin), eddie (editor: `local`), rita (runner: `local`, and `archive` read-only);
    a saved Query with a {{ team }} placeholder on `local`, a saved PutItem on `archive`."""
    api = server.api
    for name in ("local", "archive"):
        api("POST", "/api/datasources", {"name": name, **endpoint.settings()})
    api(
        "POST",
        "/api/queries",
        {"name": "team members", "datasource": "local", "operation": "Query", "params": TEAM_QUERY},
    )
    put = {"TableName": TABLE, "Item": {"id": "x"}}
    api(
        "POST",
        "/api/queries",
        {
            "name": "log a visit",
            "datasource": "archive",
            "operation": "PutItem",
            "params": json.dumps(put),
        },
    )
    for name, role in (("ada", "admin"), ("eddie", "editor"), ("rita", "runner")):
        api("POST", "/api/users", {"name": name, "role": role, "password": PASSWORDS[name]})
    api("PUT", "/api/users/eddie/grants/local", {"read_only": False})
    api("PUT", "/api/users/rita/grants/local", {"read_only": False})
    api("PUT", "/api/users/rita/grants/archive", {"read_only": True})
    return api


@pytest.fixture
def open_page(browser, server, page_errors):
    """A new browser context's page at the sign-in form; closed after the test."""
    contexts = []

    def opened():
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: page_errors.append(str(error)))
        page.goto(server.url + "/")
        expect(page.get_by_test_id("signin")).to_be_visible()
        return page

    yield opened
    for context in contexts:
        context.close()


def sign_in(page, name: str, password: str | None = None) -> None:
    page.get_by_test_id("signin-name").fill(name)
    page.get_by_test_id("signin-password").fill(password or PASSWORDS[name])
    page.get_by_test_id("signin-submit").click()


def signed_in(page, name: str, role: str) -> None:
    expect(page.get_by_test_id("app")).to_be_visible()
    expect(page.get_by_test_id("session-user")).to_have_text(f"{name} · {role}")
    kept = page.evaluate("JSON.stringify([{...localStorage}, {...sessionStorage}])")
    assert PASSWORDS[name] not in kept
    assert "token" not in kept.lower() and "session" not in kept.lower(), kept
    assert "dynaquery_session" not in page.evaluate("document.cookie")  # HttpOnly


def no_message(page) -> None:
    """The page asked nothing its role may not (a refusal would show in the message bar)."""
    page.wait_for_load_state("networkidle")
    expect(page.get_by_test_id("message")).to_be_hidden()


def absent(page, *testids: str) -> None:
    """Not rendered at all (not merely hidden)."""
    for testid in testids:
        expect(page.get_by_test_id(testid)).to_have_count(0)


def open_saved(page, name: str) -> None:
    page.locator(f'[data-testid=query-item][data-name="{name}"] .item-main').click()
    expect(page.get_by_test_id("query-heading")).to_have_text(name)


def test_wrong_password_shows_the_servers_message(team, open_page, shots):
    page = open_page()
    shots(page, "40-sign-in-form")
    sign_in(page, "eddie", "not-the-password")
    error = page.get_by_test_id("signin-error")
    expect(error).to_have_text("Wrong user name, password or token.")
    expect(page.get_by_test_id("app")).to_be_hidden()
    # an empty password is not sent
    page.get_by_test_id("signin-password").fill("")
    page.get_by_test_id("signin-submit").click()
    expect(error).to_have_text("Enter your user name and password.")


def test_admin_sees_everything(team, open_page):
    page = open_page()
    sign_in(page, "ada")
    signed_in(page, "ada", "admin")
    expect(page.get_by_test_id("ds-add")).to_be_visible()
    expect(page.get_by_test_id("ds-edit")).to_have_count(2)  # local and archive
    expect(page.locator("[data-testid=ds-item] .item-detail").first).to_contain_text("http")
    expect(page.get_by_test_id("tab-tables")).to_be_visible()
    expect(page.get_by_test_id("q-params")).to_be_visible()
    expect(page.get_by_test_id("q-about")).to_be_hidden()
    page.get_by_test_id("ds-edit").first.click()
    expect(page.get_by_test_id("ds-dialog")).to_be_visible()  # GET /api/settings made its form
    expect(page.get_by_test_id("ds-region")).to_be_visible()
    page.get_by_test_id("ds-cancel").click()
    no_message(page)


def test_editor_edits_queries_not_data_sources(team, open_page, server):
    page = open_page()
    sign_in(page, "eddie")
    signed_in(page, "eddie", "editor")
    absent(page, "ds-add", "ds-edit", "ds-dialog")
    # the data sources granted, names only; the saved queries on them
    expect(page.get_by_test_id("ds-item")).to_have_count(1)
    expect(page.get_by_test_id("ds-list")).to_have_text("local")
    expect(page.get_by_test_id("query-item")).to_have_count(1)
    expect(page.get_by_test_id("query-list")).to_contain_text("team members")
    # the editor and the table browser are there: a change of the query, saved (a POST with
    # the session's CSRF token)
    open_saved(page, "team members")
    expect(page.get_by_test_id("q-params")).to_be_visible()
    page.get_by_test_id("q-description").fill("the members of a team")
    page.get_by_test_id("q-save").click()
    expect(page.get_by_test_id("q-state")).to_have_text("saved")
    saved = [q for q in server.api("GET", "/api/queries") if q["name"] == "team members"]
    assert saved[0]["description"] == "the members of a team"
    show(page, "tables")
    expect(page.locator('[data-testid=t-item][data-name="users"]')).to_have_count(1)
    no_message(page)


def test_runner_runs_saved_queries_only(team, open_page, endpoint, shots):
    # a run of the admin's, which the runner's history does not show
    scan = {"datasource": "local", "operation": "Scan", "params": '{"TableName": "locations"}'}
    team("POST", "/api/run", scan)
    page = open_page()
    sign_in(page, "rita")
    signed_in(page, "rita", "runner")
    absent(page, "ds-add", "ds-edit", "ds-dialog", "tab-tables", "t-list")
    absent(page, "q-new-side", "q-new", "query-tab-new", "q-name", "q-operation")
    absent(page, "q-params", "editor", "request-form", "q-transform", "q-save", "q-code")
    absent(page, "q-delete", "insert-example", "item-editor")
    # both data sources granted, names only
    expect(page.get_by_test_id("ds-item")).to_have_count(2)
    expect(page.locator("[data-testid=ds-item] .item-detail")).to_have_count(0)
    expect(page.get_by_test_id("q-about")).to_contain_text("Open a saved query")
    expect(page.get_by_test_id("query-tab")).to_contain_text("Run a saved query")

    open_saved(page, "team members")
    expect(page.get_by_test_id("q-about")).to_contain_text("Query on local")
    expect(page.get_by_test_id("q-about")).to_contain_text("the members of a team")
    page.get_by_test_id("param-team").fill("team_2")
    run(page)
    expect(rows(page)).to_have_count(2)
    expect(page.get_by_test_id("result-table-view")).to_contain_text("Anneke")
    absent(page, "item-actions", "item-new", "item-delete")
    rows(page).first.click()  # a row opens no item editor
    absent(page, "item-editor")
    no_message(page)  # no check, code, cost or settings asked: each would be refused
    shots(page, "41-runner-ran-a-saved-query")

    # a write on the read-only grant: refused, with the server's words
    open_saved(page, "log a visit")
    expect(page.get_by_test_id("q-about")).to_contain_text("PutItem on archive")
    run(page)
    error = page.get_by_test_id("query-error")
    expect(error).to_contain_text("is read-only: PutItem writes or administers")

    # their own runs in the history (not the admin's), no undo; a run again from there
    show(page, "history")
    expect(page.get_by_test_id("history-table")).to_contain_text("team members")
    expect(page.get_by_test_id("history-row").filter(has_text="locations")).to_have_count(0)
    absent(page, "h-undo")
    team_run = page.get_by_test_id("history-row").filter(has_text="team members").first
    team_run.get_by_test_id("h-rerun").click()
    expect(page.get_by_test_id("query-heading")).to_have_text("team members")
    expect(rows(page)).to_have_count(2)

    page.get_by_test_id("signout").click()
    expect(page.get_by_test_id("signin")).to_be_visible()
    expect(page.get_by_test_id("signin-error")).to_have_text("Signed out.")
    assert page.evaluate("fetch('/api/queries').then((r) => r.status)") == 401


def test_sign_in_with_a_users_api_token_then_another_user(team, open_page):
    token = team("POST", "/api/users/rita/tokens")["token"]
    page = open_page()
    page.get_by_test_id("signin-mode").click()
    page.get_by_test_id("signin-token").fill(token)
    page.get_by_test_id("signin-submit").click()
    signed_in(page, "rita", "runner")
    assert token not in page.evaluate("JSON.stringify([{...localStorage}, {...sessionStorage}])")
    absent(page, "q-params")
    # signed out, then an editor in the same tab: the page starts afresh with the editor's parts
    page.get_by_test_id("signout").click()
    page.get_by_test_id("signin-mode").click()  # back to the name and password
    sign_in(page, "eddie")
    signed_in(page, "eddie", "editor")
    expect(page.get_by_test_id("q-params")).to_be_visible()


def test_a_new_role_ends_the_session(team, open_page):
    page = open_page()
    sign_in(page, "rita")
    signed_in(page, "rita", "runner")
    absent(page, "q-params")
    # the page's first calls answered, so that the click below is the next call (not one of
    # them, refused first)
    page.wait_for_load_state("networkidle")
    team("PUT", "/api/users/rita", {"role": "editor"})
    # the next call is refused (401): the form again, saying why
    page.get_by_test_id("tab-history").click()
    expect(page.get_by_test_id("signin")).to_be_visible()
    expect(page.get_by_test_id("signin-error")).to_contain_text("session has ended")
    # signed in again with the new role: the page starts afresh with the editor's parts
    sign_in(page, "rita")
    signed_in(page, "rita", "editor")
    expect(page.get_by_test_id("q-params")).to_be_visible()
    expect(page.get_by_test_id("tab-tables")).to_be_visible()
    team("PUT", "/api/users/rita", {"role": "runner"})
