"""The Users view in headless Chromium: an admin signed in through the form adds an editor, grants
them a data source read-only, makes them an API token (shown once, in a dialog, then gone from
the page), changes their role, revokes the token and the grant and removes them; the server's
messages show as they come; an editor's page has no Users view at all. What the page did is
checked through the API with the server's token."""

from __future__ import annotations

import urllib.error
import uuid

import pytest
from playwright.sync_api import expect

from steps import call, show

ADMIN = f"ada-{uuid.uuid4().hex[:6]}"
EDITOR = f"eddie-{uuid.uuid4().hex[:6]}"
PASSWORDS = {ADMIN: f"admin-{uuid.uuid4().hex}", EDITOR: f"editor-{uuid.uuid4().hex}"}
SHORT = "The password is too short: at least 8 characters."


@pytest.fixture(scope="module")
def team(server, endpoint):
    """An admin and an editor (granted `local`), the data sources `local` and `archive`."""
    api = server.api
    for name in ("local", "archive"):
        api("POST", "/api/datasources", {"name": name, **endpoint.settings()})
    api("POST", "/api/users", {"name": ADMIN, "role": "admin", "password": PASSWORDS[ADMIN]})
    api("POST", "/api/users", {"name": EDITOR, "role": "editor", "password": PASSWORDS[EDITOR]})
    api("PUT", f"/api/users/{EDITOR}/grants/local", {"read_only": False})
    return api


@pytest.fixture
def signed_in(browser, server, page_errors):
    """A new browser context (allowed the clipboard), signed in as `name` through the form."""
    contexts = []

    def sign_in(name: str):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: page_errors.append(str(error)))
        page.goto(server.url + "/")
        page.get_by_test_id("signin-name").fill(name)
        page.get_by_test_id("signin-password").fill(PASSWORDS[name])
        page.get_by_test_id("signin-submit").click()
        expect(page.get_by_test_id("app")).to_be_visible()
        expect(page.get_by_test_id("session-user")).to_contain_text(name)
        return page

    yield sign_in
    for context in contexts:
        context.close()


def user(team, name: str) -> dict | None:
    return next((u for u in team("GET", "/api/users") if u["name"] == name), None)


def row(page, name: str):
    return page.locator(f'[data-testid=u-row][data-name="{name}"]')


def no_message(page) -> None:
    page.wait_for_load_state("networkidle")
    expect(page.get_by_test_id("message")).to_be_hidden()


def session_of(server, token: str) -> dict:
    return call(server.url, "GET", "/api/session", token=token)


def add_user(page, name: str, role: str, password: str) -> None:
    page.get_by_test_id("u-add-name").fill(name)
    page.get_by_test_id("u-add-role").select_option(role)
    page.get_by_test_id("u-add-password").fill(password)
    page.get_by_test_id("u-add-submit").click()


def test_the_form_shows_the_servers_messages(team, signed_in):
    page = signed_in(ADMIN)
    show(page, "users")
    expect(row(page, ADMIN).get_by_test_id("u-role")).to_have_text("admin")
    error = page.get_by_test_id("u-add-error")
    name = f"newbie-{uuid.uuid4().hex[:6]}"
    page.get_by_test_id("u-add-submit").click()  # no name: not sent
    expect(error).to_have_text("Enter the new user's name.")
    add_user(page, name, "editor", "short")
    expect(error).to_have_text(SHORT)
    add_user(page, EDITOR, "runner", "long-enough-password")
    expect(error).to_have_text(f"A user named '{EDITOR}' already exists.")
    assert user(team, name) is None
    no_message(page)


def test_an_admin_manages_a_user(team, signed_in, server, shots):
    page = signed_in(ADMIN)
    show(page, "users")
    name = f"newbie-{uuid.uuid4().hex[:6]}"
    password = f"pw-{uuid.uuid4().hex}"

    # added: an editor with a password; their panel opens
    add_user(page, name, "editor", password)
    new = row(page, name)
    expect(new.get_by_test_id("u-role")).to_have_text("editor")
    expect(new.get_by_test_id("u-password")).to_have_text("yes")
    expect(new.get_by_test_id("u-tokens")).to_have_text("0")
    expect(page.get_by_test_id("u-add-name")).to_have_value("")
    expect(page.get_by_test_id("u-panel-title")).to_contain_text(name)
    assert user(team, name)["role"] == "editor"
    assert call(server.url, "POST", "/api/session", {"name": name, "password": password})["ok"]

    # a data source granted read-only
    page.get_by_test_id("u-grant-ds").select_option("archive")
    page.get_by_test_id("u-grant-ro").check()
    page.get_by_test_id("u-grant").click()
    expect(new.get_by_test_id("u-grants")).to_have_text("archive · read-only")
    assert user(team, name)["grants"] == [{"datasource": "archive", "read_only": True}]

    # an API token: shown once, copied, working; gone from the page once the dialog closes
    page.get_by_test_id("u-new-token").click()
    dialog = page.get_by_test_id("u-token-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("shown this once")
    token = page.get_by_test_id("u-token-text").inner_text()
    assert token.startswith("dq_")
    page.get_by_test_id("u-token-copy").click()
    expect(page.get_by_test_id("u-copy-status")).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == token
    assert session_of(server, token)["user"] == name
    assert session_of(server, token)["role"] == "editor"
    page.get_by_test_id("u-token-close").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("u-token-text")).to_have_count(0)
    assert token not in page.content()
    values = "[...document.querySelectorAll('input, textarea')].map((e) => e.value).join(' ')"
    assert token not in page.evaluate(values)
    expect(new.get_by_test_id("u-tokens")).to_have_text("1")
    expect(page.get_by_test_id("u-token-item")).to_have_count(1)
    shots(page, "42-users")

    # another role: the token now speaks for a runner
    page.get_by_test_id("u-role-select").select_option("runner")
    page.get_by_test_id("u-set-role").click()
    expect(new.get_by_test_id("u-role")).to_have_text("runner")
    assert user(team, name)["role"] == "runner"
    assert session_of(server, token)["role"] == "runner"

    # a new password: too short is the server's message; then one that signs in
    page.get_by_test_id("u-new-password").fill("short")
    page.get_by_test_id("u-set-password").click()
    expect(page.get_by_test_id("u-error")).to_have_text(SHORT)
    other = f"pw-{uuid.uuid4().hex}"
    page.get_by_test_id("u-new-password").fill(other)
    page.get_by_test_id("u-set-password").click()
    expect(page.get_by_test_id("toast")).to_contain_text("Set a new password")
    assert call(server.url, "POST", "/api/session", {"name": name, "password": other})["ok"]

    # a second token, its dialog closed with Esc: gone from the page too
    page.get_by_test_id("u-new-token").click()
    expect(dialog).to_be_visible()
    second = page.get_by_test_id("u-token-text").inner_text()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("u-token-text")).to_have_count(0)
    assert second not in page.content()
    expect(new.get_by_test_id("u-tokens")).to_have_text("2")

    # the tokens revoked: they sign in no more
    page.get_by_test_id("u-revoke-token").first.click()
    expect(new.get_by_test_id("u-tokens")).to_have_text("1")
    page.get_by_test_id("u-revoke-token").click()
    expect(new.get_by_test_id("u-tokens")).to_have_text("0")
    for revoked in (token, second):
        with pytest.raises(urllib.error.HTTPError) as refused:
            session_of(server, revoked)
        assert refused.value.code == 401

    # the grant revoked
    page.get_by_test_id("u-revoke-grant").click()
    expect(new.get_by_test_id("u-grants")).to_have_text("none")
    assert user(team, name)["grants"] == []

    # removed, once confirmed
    page.get_by_test_id("u-remove").click()
    page.get_by_test_id("u-remove-no").click()
    expect(page.get_by_test_id("u-remove-confirm")).to_have_count(0)
    assert user(team, name) is not None
    page.get_by_test_id("u-remove").click()
    expect(page.get_by_test_id("u-remove-confirm")).to_contain_text(name)
    page.get_by_test_id("u-remove-yes").click()
    expect(new).to_have_count(0)
    expect(page.get_by_test_id("u-panel")).to_be_hidden()
    assert user(team, name) is None
    no_message(page)


def test_an_editor_has_no_users_view(team, signed_in):
    page = signed_in(EDITOR)
    for testid in ("tab-users", "view-users", "u-add", "u-table", "u-panel", "u-token-dialog"):
        expect(page.get_by_test_id(testid)).to_have_count(0)
    expect(page.get_by_test_id("tab-history")).to_be_visible()
    no_message(page)
