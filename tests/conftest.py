"""Real servers on loopback for the whole test session: DynamoDB Local and moto's server.

Each starts once, on a free port, and stops at the end. DYNAQUERY_TEST_DDB_ENDPOINT and
DYNAQUERY_TEST_MOTO_ENDPOINT point the tests at servers already running instead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for `support`


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
