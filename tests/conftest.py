"""Real servers on loopback for the whole test session: DynamoDB Local and moto's server; and the
`servers` marker, which sets apart the tests that start a server so the rest can run alone
(`scripts/test -m "not servers"`).

Each server starts once, on a free port, and stops at the end. DYNAQUERY_TEST_DDB_ENDPOINT and
DYNAQUERY_TEST_MOTO_ENDPOINT point the tests at servers already running instead.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for `support`

# What a test or one of its fixtures does to start a server: DynamoDB Local or moto (both through
# dynaquery.local, the demo engine too), `dynaquery serve` in a process, Chromium.
STARTS_A_SERVER = re.compile(
    r"start_dynamodb_local|start_moto|start_engine|start_postgres|\"serve\"|chromium"
)


def _server(env_name: str, start):
    endpoint = os.environ.get(env_name)
    if endpoint:
        yield SimpleNamespace(endpoint_url=endpoint.rstrip("/"))
        return
    server = start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def dynamodb_local():
    from dynaquery.local import start_dynamodb_local

    yield from _server("DYNAQUERY_TEST_DDB_ENDPOINT", start_dynamodb_local)


@pytest.fixture(scope="session")
def moto_server():
    from dynaquery.local import start_moto

    yield from _server("DYNAQUERY_TEST_MOTO_ENDPOINT", start_moto)


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server (tests/postgres.py); `postgres.new_database()` gives a URL."""
    from postgres import start_postgres

    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A fresh, empty workspace database: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'workspace.db'}"
    return request.getfixturevalue("postgres").new_database()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        on_postgres = getattr(item, "callspec", None) and (
            item.callspec.params.get("database_url") == "postgresql"
        )
        if on_postgres or any(STARTS_A_SERVER.search(_source(c)) for c in _code_run_by(item)):
            item.add_marker(pytest.mark.servers)


def _code_run_by(item: pytest.Item) -> list:
    """The test function and the function of every fixture it uses, directly or not."""
    # pytest has no public way to reach the fixtures' functions from an item.
    fixtures = getattr(item, "_fixtureinfo", None)
    definitions = fixtures.name2fixturedefs.values() if fixtures else []
    return [getattr(item, "function", None)] + [d.func for defs in definitions for d in defs]


def _source(code) -> str:
    try:
        return inspect.getsource(code)
    except (OSError, TypeError):  # built-in, or no source (pytest's own fixtures are fine)
        return ""


# -- the check that a test not marked `servers` starts none ------------------------------------


class _NoServerPopen(subprocess.Popen):
    """subprocess.Popen refusing the commands that start a server."""

    def __init__(self, args, *more, **options):
        words = [str(a) for a in args] if isinstance(args, (list, tuple)) else str(args).split()
        if _is_a_server(words):
            raise AssertionError(
                f"this test starts a server ({' '.join(words[:4])} ...) but is not marked "
                "`servers`: make what starts it match conftest.STARTS_A_SERVER"
            )
        super().__init__(args, *more, **options)


def _is_a_server(words: list[str]) -> bool:
    """DynamoDB Local's jar, moto's server, Playwright's driver (Chromium), `dynaquery serve`,
    PostgreSQL."""
    programs = ("DynamoDBLocal.jar", "moto.server", "run-driver", "/bin/postgres", "/bin/initdb")
    return any(w.endswith(programs) for w in words) or words[1:4] == ["-m", "dynaquery", "serve"]


@contextlib.contextmanager
def _servers_refused(item: pytest.Item):
    if item.get_closest_marker("servers"):
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess, "Popen", _NoServerPopen)
        yield


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    with _servers_refused(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    with _servers_refused(item):
        return (yield)
