"""The page's fixtures: `dynaquery serve` over DynamoDB Local (seeded with the demo tables),
one headless Chromium, a signed-in page, screenshots, and a check after every test that the
page threw no JavaScript error. One server and one browser per test module."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.error
from pathlib import Path
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect, sync_playwright

from steps import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, TOKEN, call
from support import Endpoint, clean_env

# -- the servers and the browser ------------------------------------------------------------


@pytest.fixture(scope="module")
def endpoint(dynamodb_local):
    from dynaquery.demo import seed

    endpoint = Endpoint(dynamodb_local.endpoint_url)
    seed(endpoint.connection())
    return endpoint


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from dynaquery.local import free_port

    home = tmp_path_factory.mktemp("web-home")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = home / "serve.log"
    # the server runs as this process is set up (clean_env drops DYNAQUERY_* settings)
    passed_on = {k: os.environ[k] for k in ("DYNAQUERY_PURE_PYTHON",) if os.environ.get(k)}
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dynaquery",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=clean_env(DYNAQUERY_HOME=str(home), DYNAQUERY_TOKEN=TOKEN, **passed_on),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"dynaquery serve exited ({process.returncode}):\n{log_path.read_text()}"
                )
            try:
                assert call(url, "GET", "/api/session")["ok"] is True
                break
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    pytest.fail(f"dynaquery serve did not answer:\n{log_path.read_text()}")
                time.sleep(0.1)
        yield SimpleNamespace(
            url=url, home=home, log=log_path, api=lambda *args, **kw: call(url, *args, **kw)
        )
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (scripts/setup installs it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    directory = tmp_path_factory.mktemp("screenshots")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def shot(page, name: str) -> None:
        path = directory / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        shutil.copy(path, ARTIFACTS / path.name)

    return shot


@pytest.fixture(scope="module")
def page_errors():
    return []


@pytest.fixture(scope="module")
def dialogs():
    """The page's dialogs (confirm, beforeunload): each is recorded and answered as `answer`
    says, "accept" unless a test sets "dismiss"."""
    return SimpleNamespace(answer="accept", seen=[])


@pytest.fixture(scope="module")
def page(browser, server, page_errors, dialogs):
    """The page, signed in through the #token= fragment."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.on("pageerror", lambda error: page_errors.append(str(error)))

    def answer(dialog):
        dialogs.seen.append((dialog.type, dialog.message))
        dialog.accept() if dialogs.answer == "accept" else dialog.dismiss()

    page.on("dialog", answer)
    page.goto(f"{server.url}/#token={TOKEN}")
    expect(page.get_by_test_id("app")).to_be_visible()
    yield page
    context.close()


@pytest.fixture(autouse=True)
def no_script_errors(page_errors):
    yield
    assert page_errors == [], f"JavaScript errors on the page: {page_errors}"
