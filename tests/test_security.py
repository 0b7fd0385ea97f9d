"""Security guards: confirmation of destructive operations, read-only data sources that send no
write, the token and its rate limit, endpoints that may not reach cloud metadata, secrets in no
output, the files readable by their owner only."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from dynaquery import Connection, ReadOnlyError, Workspace
from dynaquery.catalog import catalog, get_operation
from dynaquery.demo import seed
from dynaquery.parsing import parse_params
from dynaquery.server import _digest, create_app

from support import Endpoint, clean_env, dynaquery

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx`")

TOKEN = "security-token-0123456789"


# ---------------------------------------------------------------------------------------------
# destructive operations ask first


@pytest.mark.parametrize(
    "name, params, destructive",
    [
        ("DeleteTable", {"TableName": "users"}, True),
        ("DeleteBackup", {"BackupArn": "arn:x"}, True),
        ("DeleteItem", {"TableName": "users", "Key": {}}, True),
        ("DeleteResourcePolicy", {"ResourceArn": "arn:x"}, True),
        ("UpdateTable", {"TableName": "users"}, True),
        (
            "BatchWriteItem",
            {
                "RequestItems": {
                    "users": [{"PutRequest": {"Item": {}}}, {"DeleteRequest": {"Key": {}}}]
                }
            },
            True,
        ),
        ("BatchWriteItem", {"RequestItems": {"users": [{"PutRequest": {"Item": {}}}]}}, False),
        (
            "TransactWriteItems",
            {"TransactItems": [{"Delete": {"TableName": "users", "Key": {}}}]},
            True,
        ),
        (
            "TransactWriteItems",
            {"TransactItems": [{"Put": {"TableName": "users", "Item": {}}}]},
            False,
        ),
        ("ExecuteStatement", {"Statement": "  /* x */ delete FROM users WHERE a = 1"}, True),
        ("ExecuteStatement", {"Statement": "UPDATE users SET a = 1 WHERE b = 2"}, False),
        (
            "BatchExecuteStatement",
            {
                "Statements": [
                    {"Statement": "SELECT * FROM t"},
                    {"Statement": "DELETE FROM t WHERE a = 1"},
                ]
            },
            True,
        ),
        (
            "ExecuteTransaction",
            {"TransactStatements": [{"Statement": "DELETE FROM t WHERE a=1"}]},
            True,
        ),
        ("PutItem", {"TableName": "users", "Item": {}}, False),
        ("CreateTable", {"TableName": "users"}, False),
        ("Scan", {"TableName": "users"}, False),
    ],
)
def test_which_operations_are_destructive(name, params, destructive):
    assert get_operation(name).is_destructive(params) is destructive


def test_the_confirmation_names_the_target():
    assert (
        get_operation("DeleteTable").confirmation({"TableName": "users"})
        == "Really run DeleteTable on table users?"
    )
    assert (
        get_operation("BatchWriteItem").confirmation(
            {"RequestItems": {"a": [{"DeleteRequest": {}}], "b": []}}
        )
        == "Really run BatchWriteItem on tables a, b?"
    )


@pytest.fixture
def ddb(dynamodb_local):
    endpoint = Endpoint(dynamodb_local.endpoint_url)
    seed(endpoint.connection())
    return endpoint


def tables(endpoint) -> list[str]:
    return endpoint.connection().run("ListTables", {}).data["TableNames"]


def test_the_command_refuses_a_destructive_run_without_a_terminal_unless_yes(ddb, tmp_path):
    drop = ["run", "DeleteTable", '{"TableName": "users"}', *ddb.flags]
    done = dynaquery(*drop)
    assert done.code == 2, done.stderr
    assert "Really run DeleteTable on table users?" in done.stderr and "--yes" in done.stderr
    assert "users" in tables(ddb)  # nothing sent
    delete = (
        "BatchWriteItem",
        '{"RequestItems": {"users": [{"DeleteRequest": {"Key": '
        '{"team_id": "team_1", "employee_id": "emp_1"}}}]}}',
    )
    assert dynaquery("run", *delete, *ddb.flags).code == 2
    # a saved query through the workspace
    env = clean_env(DYNAQUERY_HOME=str(tmp_path))
    assert dynaquery("datasource", "add", "local", *ddb.flags, env=env).code == 0
    assert (
        dynaquery(
            "query",
            "save",
            "drop",
            "-d",
            "local",
            "DeleteTable",
            '{"TableName": "{{ t }}"}',
            env=env,
        ).code
        == 0
    )
    done = dynaquery("query", "run", "drop", "-p", "t=users", env=env)
    assert done.code == 2 and "Really run DeleteTable on table users?" in done.stderr
    assert "users" in tables(ddb)
    done = dynaquery("query", "run", "drop", "-p", "t=users", "--yes", env=env)
    assert done.code == 0, done.stderr
    assert "users" not in tables(ddb)
    done = dynaquery("run", "DeleteTable", '{"TableName": "locations"}', *ddb.flags, "--yes")
    assert done.code == 0, done.stderr
    assert "locations" not in tables(ddb)


def _on_a_terminal(args: list[str], answer: str) -> tuple[int, str]:
    """Run the command with stdin and stderr on a pseudo-terminal; type `answer` at the prompt."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "dynaquery", *args],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=clean_env(),
    )
    os.close(slave)
    seen, deadline, answered = b"", time.time() + 60, False
    while time.time() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        if not answered and b"[y/N]" in seen:
            os.write(master, answer.encode() + b"\n")
            answered = True
        if process.poll() is not None and not ready:
            break
    process.wait(timeout=60)
    os.close(master)
    return process.returncode, seen.decode(errors="replace")


def test_the_command_asks_on_a_terminal(ddb):
    drop = ["run", "DeleteTable", '{"TableName": "users"}', *ddb.flags]
    code, seen = _on_a_terminal(drop, "n")
    assert "Really run DeleteTable on table users? [y/N]" in seen
    assert code == 2 and "users" in tables(ddb)
    code, seen = _on_a_terminal(drop, "y")
    assert code == 0, seen
    assert "users" not in tables(ddb)


@pytest.fixture
def api(tmp_path, ddb, monkeypatch):
    monkeypatch.delenv("DYNAQUERY_SECRET_KEY", raising=False)
    workspace = Workspace.open(home=tmp_path)
    client = TestClient(create_app(workspace, _digest(TOKEN)))
    client.headers["Authorization"] = f"Bearer {TOKEN}"
    client.endpoint = ddb
    client.workspace = workspace
    client.workspace_home = tmp_path
    yield client
    workspace.close()


def add(api, name="local", **extra):
    e = api.endpoint
    response = api.post(
        "/api/datasources",
        json={
            "name": name,
            "endpoint_url": e.endpoint_url,
            "region": e.region,
            "access_key_id": e.access_key,
            "secret_access_key": e.secret_key,
            **extra,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_the_api_needs_confirm_for_a_destructive_run(api):
    ds = add(api)
    body = {"datasource": ds["id"], "operation": "DeleteTable", "params": '{"TableName": "users"}'}
    refused = api.post("/api/run", json=body)
    assert refused.status_code == 428, refused.text
    assert refused.json()["error"] == "ConfirmationRequired"
    assert refused.json()["question"] == "Really run DeleteTable on table users?"
    assert '"confirm": true' in refused.json()["message"]
    assert "users" in tables(api.endpoint)
    statement = {
        "datasource": ds["id"],
        "operation": "ExecuteStatement",
        "params": {
            "Statement": "DELETE FROM users WHERE team_id = 'team_1' AND employee_id = 'emp_1'"
        },
    }
    assert api.post("/api/run", json=statement).status_code == 428
    assert api.post("/api/run", json={**statement, "confirm": True}).status_code == 200
    saved = api.post(
        "/api/queries",
        json={
            "name": "drop",
            "datasource": ds["id"],
            "operation": "DeleteTable",
            "params": '{"TableName": "{{ t }}"}',
        },
    ).json()
    run = api.post(f"/api/queries/{saved['id']}/run", json={"values": {"t": "users"}})
    assert run.status_code == 428 and "users" in tables(api.endpoint)
    run = api.post(
        f"/api/queries/{saved['id']}/run", json={"values": {"t": "users"}, "confirm": True}
    )
    assert run.status_code == 200, run.text
    assert "users" not in tables(api.endpoint)
    # not destructive: no confirmation
    scan = api.post(
        "/api/run",
        json={"datasource": ds["id"], "operation": "Scan", "params": {"TableName": "locations"}},
    )
    assert scan.status_code == 200
    # a read-only data source refuses (403) before any question
    ro = add(api, "ro", read_only=True)
    refused = api.post("/api/run", json={**body, "datasource": ro["id"]})
    assert refused.status_code == 403


# ---------------------------------------------------------------------------------------------
# read-only data sources send no write


def test_a_read_only_data_source_refuses_every_write_of_the_catalog_and_sends_nothing(ddb):
    conn = Connection(**ddb.settings(), read_only=True, max_attempts=1)
    sent: list[str] = []
    conn.client.meta.events.register(
        "before-send.dynamodb", lambda request, **_: sent.append(request.url)
    )
    from dynaquery.request import prepare

    checked = {"read": 0, "write": 0}
    for op in catalog():
        params = parse_params(op.example)
        try:
            params = prepare(op, params).params
        except Exception:  # an example that needs a real resource: its parsed form will do
            pass
        before = len(sent)
        if not op.reads_only(params):
            with pytest.raises(ReadOnlyError):
                conn.call(op.name, params)
            assert len(sent) == before, f"{op.name} sent a request on a read-only data source"
            checked["write"] += 1
        else:
            try:
                conn.call(op.name, params)
            except ReadOnlyError:
                pytest.fail(f"{op.name} reads, but a read-only data source refused it")
            except Exception:  # a service error (no such table...) is fine: it was sent
                pass
            checked["read"] += 1
    assert checked["write"] > 30 and checked["read"] > 15, checked
    # PartiQL: every statement must be a SELECT
    for name, params in (
        ("ExecuteStatement", {"Statement": "INSERT INTO users VALUE {'team_id': 'x'}"}),
        (
            "BatchExecuteStatement",
            {
                "Statements": [
                    {"Statement": "SELECT * FROM users"},
                    {"Statement": "DELETE FROM users WHERE a=1"},
                ]
            },
        ),
        (
            "ExecuteTransaction",
            {"TransactStatements": [{"Statement": "UPDATE t SET a=1 WHERE b=1"}]},
        ),
    ):
        before = len(sent)
        with pytest.raises(ReadOnlyError):
            conn.call(name, params)
        assert len(sent) == before
    conn.call("ExecuteStatement", {"Statement": "SELECT * FROM users"})  # a read passes


# ---------------------------------------------------------------------------------------------
# the token


def test_every_route_but_the_page_needs_the_token(tmp_path):
    workspace = Workspace.open(home=tmp_path)
    app = create_app(workspace, _digest(TOKEN))
    http = TestClient(app)
    http.app.state.sign_ins.failures = 10**6
    routes = list(iter_route_contexts(app.routes))
    paths = {r.path for r in routes}
    assert "/openapi.json" in paths
    for route in routes:
        for method in getattr(route, "methods", None) or ():
            path = (
                route.path.replace("{ds_id}", "x").replace("{query_id}", "x").replace("{name}", "x")
            )
            if path == "/":
                continue
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
                status = http.request(
                    method, path.replace("{ticket}", "x"), headers=headers
                ).status_code
                if path == "/api/downloads/{ticket}":  # a one-use export link: the link is the key
                    assert status == 404
                elif (method, path) == ("POST", "/api/session"):  # signing in
                    assert status in (400, 401), (status, headers)
                else:
                    assert status == 401, (method, path)
    assert (
        http.get("/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    )
    assert http.get("/").status_code in (200, 404)  # the page: public
    assert http.get("/static/app.js").status_code == 200
    workspace.close()


def test_the_token_is_compared_in_constant_time():
    import inspect

    from dynaquery.server import auth

    source = inspect.getsource(auth.token_matches)
    assert "hmac.compare_digest(_digest(given), token_sha256)" in source


def test_failed_sign_ins_are_rate_limited_per_address(tmp_path):
    workspace = Workspace.open(home=tmp_path)
    app = create_app(workspace, _digest(TOKEN))
    attacker = TestClient(app, client=("203.0.113.7", 40000))
    other = TestClient(app, client=("203.0.113.8", 40000))
    good = {"Authorization": f"Bearer {TOKEN}"}
    bad = {"Authorization": "Bearer guess"}
    for _ in range(10):
        assert attacker.get("/api/session", headers=bad).status_code == 401
        assert other.get("/api/session", headers=good).status_code == 200  # a success elsewhere
    blocked = attacker.get("/api/session", headers=bad)
    assert blocked.status_code == 429
    assert 1 <= int(blocked.headers["Retry-After"]) <= 60
    assert blocked.json()["error"] == "TooManyRequests"
    # even the right token waits (else guessing would go on), and other addresses do not
    assert attacker.get("/api/session", headers=good).status_code == 429
    assert other.get("/api/session", headers=good).status_code == 200
    assert other.get("/api/session", headers=bad).status_code == 401
    # no token at all is no guess
    third = TestClient(app, client=("203.0.113.9", 40000))
    for _ in range(20):
        assert third.get("/api/session").status_code == 401
    assert third.get("/api/session", headers=good).status_code == 200
    workspace.close()


def test_the_limiter_forgets_after_the_window_and_is_thread_safe():
    import threading

    from dynaquery.server import SignInLimiter

    limiter = SignInLimiter(failures=3, window=0.5)
    for _ in range(3):
        limiter.failed("a")
    assert limiter.retry_after("a") >= 1 and limiter.retry_after("b") == 0
    time.sleep(0.6)
    assert limiter.retry_after("a") == 0
    limiter = SignInLimiter(failures=1000, window=60, max_addresses=50)
    threads = [
        threading.Thread(target=lambda i=i: [limiter.failed(f"x{i % 100}") for _ in range(200)])
        for i in range(16)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(limiter._seen) <= 50
    limiter = SignInLimiter(failures=5, window=60)
    threads = [
        threading.Thread(target=lambda: [limiter.failed("same") for _ in range(100)])
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert limiter.retry_after("same") > 0 and len(limiter._seen["same"]) == 5


# ---------------------------------------------------------------------------------------------
# endpoints that would reach the cloud's metadata service


METADATA_URLS = [
    "http://169.254.169.254/latest/meta-data/",
    "http://169.254.170.2:80",
    "http://[fd00:ec2::254]/",
    "http://[fe80::1]:8000",
    "http://2852039166/",
    "http://[::ffff:169.254.169.254]/",
    # IPv6 forms that carry the IPv4 address: IPv4-compatible, NAT64 (RFC 6052 and
    # RFC 8215), 6to4, Teredo (client 169.254.169.254, obfuscated)
    "http://[::169.254.169.254]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[64:ff9b:1::a9fe:a9fe]/",
    "http://[2002:a9fe:a9fe::]/",
    "http://[2001:0:4136:e378:8000:63bf:5601:5601]/",
]


def test_the_server_refuses_link_local_endpoints(api, monkeypatch):
    monkeypatch.delenv("DYNAQUERY_ALLOW_ENDPOINT_NETWORK", raising=False)
    for url in METADATA_URLS:
        for setting in ("endpoint_url", "sts_endpoint_url"):
            extra = (
                {setting: url}
                if setting == "endpoint_url"
                else {"sts_endpoint_url": url, "role_arn": "arn:aws:iam::123456789012:role/r"}
            )
            body = {"name": "meta", "region": "us-east-1", **extra}
            for method, path in (("POST", "/api/datasources"), ("POST", "/api/datasources/test")):
                sent = (
                    body
                    if path == "/api/datasources"
                    else {k: v for k, v in body.items() if k != "name"}
                )
                answer = api.request(method, path, json=sent)
                assert answer.status_code == 400, (url, setting, path, answer.text)
                assert "link-local or cloud metadata" in answer.json()["message"]
                assert "--allow-endpoint-network link-local" in answer.json()["message"]
    ds = add(api)
    answer = api.put(f"/api/datasources/{ds['id']}", json={"endpoint_url": METADATA_URLS[0]})
    assert answer.status_code == 400
    # a host name is resolved: localhost is fine, one that resolves to 169.254.x.x is not
    import socket

    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if host == "metadata.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 0))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    answer = api.post(
        "/api/datasources/test",
        json={"endpoint_url": "http://metadata.example/", "region": "us-east-1"},
    )
    assert answer.status_code == 400 and "169.254.169.254" in answer.json()["message"]
    # one stored some other way (the command line) is checked when the server would use it
    api.workspace.add_datasource(
        "stored", endpoint_url="http://169.254.169.254", region="us-east-1"
    )
    stored = api.workspace.datasource("stored").id
    for method, path, body in (
        ("POST", "/api/run", {"datasource": stored, "operation": "ListTables"}),
        ("POST", f"/api/datasources/{stored}/test", None),
        ("GET", f"/api/tables?datasource={stored}", None),
        ("GET", f"/api/tables/users?datasource={stored}", None),
        ("GET", f"/api/tables/users/export?datasource={stored}", None),
    ):
        answer = api.request(method, path, json=body)
        assert answer.status_code == 400 and "link-local" in answer.json()["message"], path
    # the operator may allow it
    allowing = TestClient(
        create_app(api.workspace, _digest(TOKEN), allow_endpoint_network=["link-local"]),
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    answer = allowing.post(
        "/api/datasources",
        json={"name": "meta", "region": "us-east-1", "endpoint_url": METADATA_URLS[0]},
    )
    assert answer.status_code == 201
    # ordinary endpoints are untouched
    assert (
        api.post(
            "/api/datasources/test",
            json={
                "endpoint_url": api.endpoint.endpoint_url,
                "region": "us-east-1",
                "access_key_id": "k",
                "secret_access_key": "s",
            },
        ).json()["ok"]
        is True
    )


# ---------------------------------------------------------------------------------------------
# secrets in no output: every API route, every command, the server's log, the files


SECRET_KEY = "sentinel-SECRET-key-" + "Vb83kQw1Zp"
SESSION = "sentinel-SESSION-token-" + "Lr55nXc0Ty"
PASSWORD = "sentinel-PASSWORD-" + "Qm27vRt9Xe"
PLANTED = (SECRET_KEY, SESSION, PASSWORD, TOKEN)


def _clean(texts, where: str) -> None:
    for text in texts:
        for secret in PLANTED:
            assert secret not in text, f"a secret in {where}: {text[:300]!r}"


def test_no_secret_in_any_api_answer(api):
    texts: list[str] = []
    called: set[tuple[str, str]] = set()
    routes = [
        (r.path, m)
        for r in iter_route_contexts(api.app.routes)
        for m in getattr(r, "methods", None) or ()
        if r.path.startswith(("/api/", "/openapi"))
    ]

    def call(method, path, **kwargs):
        import re

        answer = api.request(method, path, **kwargs)
        texts.extend([answer.text, json.dumps(dict(answer.headers))])
        for route, route_method in routes:
            if route_method == method and re.match(
                "^" + re.sub(r"\{[^}]+\}", "[^/]+", route) + "$", path.split("?")[0]
            ):
                called.add((method, route))
        return answer

    e = api.endpoint
    planted = {
        "endpoint_url": e.endpoint_url,
        "region": e.region,
        "access_key_id": e.access_key,
        "secret_access_key": SECRET_KEY,
        "session_token": SESSION,
    }
    ds = call("POST", "/api/datasources", json={"name": "local", **planted}).json()
    dead = call(
        "POST",
        "/api/datasources",
        json={
            "name": "dead",
            **planted,
            "endpoint_url": "http://127.0.0.1:9",
            "max_attempts": 1,
            "connect_timeout": 1,
        },
    ).json()
    call("GET", "/openapi.json")
    call("GET", "/api/session")
    call("GET", "/api/settings")
    call("GET", "/api/operations")
    call("GET", "/api/operations/GetItem")
    call("GET", "/api/operations/GetItm")
    call("POST", "/api/check", json={"operation": "GetItem", "params": "{"})
    call("GET", "/api/datasources")
    call("GET", f"/api/datasources/{ds['id']}")
    call("GET", "/api/datasources/nope")
    call("POST", "/api/datasources", json={"name": "local", **planted})  # 409
    call("POST", "/api/datasources", json={"name": "bad", **planted, "endpoint_url": "nohttp"})
    call("PUT", f"/api/datasources/{ds['id']}", json={"description": "x"})
    call("PUT", f"/api/datasources/{ds['id']}", json={"secret_access_key": SECRET_KEY})
    call("POST", f"/api/datasources/{ds['id']}/test")
    call("POST", f"/api/datasources/{dead['id']}/test")
    call("POST", "/api/datasources/test", json=planted)
    call(
        "POST",
        "/api/datasources/test",
        json={
            **planted,
            "endpoint_url": "http://127.0.0.1:9",
            "connect_timeout": 1,
            "max_attempts": 1,
        },
    )
    call("POST", "/api/datasources/test", json={"id": ds["id"], "access_key_id": "other"})
    call("POST", "/api/datasources/test", json={"secret_access_key": SECRET_KEY})  # incomplete
    q = call(
        "POST",
        "/api/queries",
        json={
            "name": "q",
            "datasource": ds["id"],
            "operation": "Scan",
            "params": '{"TableName": "{{ t }}"}',
        },
    ).json()
    call(
        "POST",
        "/api/queries",
        json={
            "name": "bad",
            "datasource": ds["id"],
            "operation": "Scan",
            "params": '{"TableNam": 1}',
        },
    )
    call("GET", "/api/queries")
    call("GET", f"/api/queries/{q['id']}")
    call("PUT", f"/api/queries/{q['id']}", json={"description": SECRET_KEY[:5]})
    call("POST", f"/api/queries/{q['id']}/run", json={"values": {"t": "users"}})
    call("POST", f"/api/queries/{q['id']}/run", json={"values": {"t": "nope"}})  # 502
    call("POST", f"/api/queries/{q['id']}/run", json={})  # a missing value
    call(
        "POST",
        "/api/run",
        json={
            "datasource": ds["id"],
            "operation": "GetItem",
            "params": {"TableName": "users", "Key": {"x": 1}},
        },
    )
    call("POST", "/api/run", json={"datasource": dead["id"], "operation": "ListTables"})
    call(
        "POST",
        "/api/run",
        json={"datasource": ds["id"], "operation": "DeleteTable", "params": {"TableName": "users"}},
    )  # 428
    call("GET", f"/api/tables?datasource={ds['id']}")
    call("GET", f"/api/tables?datasource={dead['id']}")
    call("GET", f"/api/tables/users?datasource={ds['id']}")
    call("GET", f"/api/tables/nope?datasource={ds['id']}")
    call("GET", f"/api/tables/users/export?datasource={ds['id']}&format=csv")
    call("GET", f"/api/tables/nope/export?datasource={ds['id']}")
    link = call("POST", f"/api/tables/users/export/link?datasource={ds['id']}").json()
    call("GET", link["url"], headers={"Authorization": ""})
    call("GET", link["url"])  # used already
    call("POST", f"/api/tables/nope/export/link?datasource={dead['id']}")
    # the request form, code and cost, the item editor, the journal
    call("GET", "/api/request-form")
    call("POST", f"/api/tables/users/request?datasource={ds['id']}", json={"operation": "Scan"})
    unsaved = {"datasource": ds["id"], "operation": "Scan", "params": '{"TableName": "users"}'}
    for language in ("python", "aws-cli", "javascript"):
        call("POST", "/api/code", json={**unsaved, "language": language})
    call("POST", "/api/code", json={**unsaved, "datasource": dead["id"], "language": "python"})
    call("POST", "/api/explain", json=unsaved)
    key = '{"team_id": "team_1", "employee_id": "emp_1"}'
    loaded = call("GET", f"/api/tables/users/item?datasource={ds['id']}&key={key}").json()
    body = {"datasource": ds["id"], "loaded": loaded["typed"], "item": {**loaded["plain"]}}
    call("PUT", "/api/tables/users/item", json={**body, "item": {**loaded["plain"], "n": 1}})
    call("PUT", "/api/tables/users/item", json=body)  # 409: not as loaded any more
    new = {"team_id": "sec", "employee_id": "1"}
    call("POST", "/api/tables/users/items", json={"datasource": ds["id"], "item": new})
    delete = {"datasource": ds["id"], "keys": [new]}
    call("POST", "/api/tables/users/items/delete", json=delete)  # 428
    call("POST", "/api/tables/users/items/delete", json={**delete, "confirm": True})
    write = next(r for r in call("GET", "/api/history").json() if r["journal"])
    call("GET", f"/api/history/{write['id']}/journal")
    call("POST", f"/api/history/{write['id']}/undo", json={"confirm": True})  # 400: no journal
    call("GET", "/api/history")
    call("GET", "/api/history?outcome=error")
    api_token = _users_and_sessions(api, call, ds)
    call("DELETE", f"/api/queries/{q['id']}")
    call("DELETE", f"/api/datasources/{dead['id']}")
    call("DELETE", f"/api/datasources/{ds['id']}")
    call("GET", "/api/nothing")
    missing = set(routes) - {(p, m) for m, p in called}
    assert not missing, missing
    # the API token is in the one answer that made it, and in no other
    assert sum(api_token in text for text in texts) == 1
    _clean(texts, "an API answer")
    _clean([json.dumps([r.to_dict() for r in api.workspace.history(limit=None)])], "the history")
    _clean(_files(api.workspace_home), "the workspace's files")


def _users_and_sessions(api, call, ds) -> str:
    """The user routes and the page's session, with a planted password; the new API token."""
    call("POST", "/api/users", json={"name": "ann", "role": "editor", "password": PASSWORD})
    call("POST", "/api/users", json={"name": "ann", "role": "editor", "password": PASSWORD})
    call("POST", "/api/users", json={"name": "bo", "role": "boss", "password": PASSWORD})
    call("GET", "/api/users")
    call("PUT", "/api/users/ann", json={"password": PASSWORD + "2", "role": "runner"})
    call("PUT", f"/api/users/ann/grants/{ds['id']}", json={"read_only": True})
    made = call("POST", "/api/users/ann/tokens").json()
    call("POST", "/api/session", json={"name": "ann", "password": PASSWORD}, headers={})
    signed_in = call(
        "POST", "/api/session", json={"name": "ann", "password": PASSWORD + "2"}, headers={}
    )
    csrf = {"X-CSRF-Token": signed_in.json()["csrf"]}
    call("GET", "/api/datasources", headers={"Authorization": ""})
    call("GET", "/api/session", headers={"Authorization": ""})
    call("DELETE", "/api/session", headers={"Authorization": "", **csrf})
    call("DELETE", f"/api/users/ann/grants/{ds['id']}")
    call("DELETE", f"/api/users/ann/tokens/{made['id']}")
    call("DELETE", "/api/users/ann")
    return made["token"]


def _files(home) -> list[str]:
    return [p.read_bytes().decode("latin-1") for p in home.rglob("*") if p.is_file()]


def test_no_secret_in_any_command_output_file_or_export(ddb, tmp_path):
    home = tmp_path / "home"
    env = clean_env(DYNAQUERY_HOME=str(home))
    outputs: list[str] = []

    def cli(*args, stdin=None, extra=None):
        done = dynaquery(*args, stdin=stdin, env={**env, **(extra or {})})
        outputs.extend([done.stdout, done.stderr])
        return done

    flags = [
        "--endpoint-url",
        ddb.endpoint_url,
        "--region",
        ddb.region,
        "--access-key-id",
        ddb.access_key,
    ]
    planted = [*flags, "--secret-access-key", SECRET_KEY, "--session-token", SESSION]
    dead = [
        "--endpoint-url",
        "http://127.0.0.1:9",
        "--region",
        "us-east-1",
        "--access-key-id",
        "k",
        "--secret-access-key",
        SECRET_KEY,
        "--session-token",
        SESSION,
        "--max-attempts",
        "1",
        "--connect-timeout",
        "1",
    ]
    assert cli("datasource", "add", "local", *planted, "--test").code == 0
    assert cli("datasource", "add", "dead", *dead).code == 0
    cli("datasource", "add", "local", *planted)  # taken
    cli(
        "datasource",
        "add",
        "bad",
        *planted[:-4],
        "--secret-access-key",
        SECRET_KEY,
        "--endpoint-url",
        "nohttp",
    )
    for args in (
        ["datasource", "list"],
        ["datasource", "list", "--json"],
        ["datasource", "show", "local"],
        ["datasource", "show", "local", "--json"],
        ["datasource", "edit", "local", "--description", "d"],
        ["datasource", "edit", "local", "--secret-access-key", SECRET_KEY, "--json"],
        ["datasource", "test", "local"],
        ["datasource", "test", "dead", "--json"],
        ["test", *planted],
        ["test", *dead],
        ["test", "-d", "local", "--json"],
        ["run", "ListTables", *planted],
        ["run", "ListTables", *dead],
        ["run", "GetItem", '{"TableName": "nope", "Key": {"a": 1}}', *planted],
        ["run", "GetItem", '{"TableName": "nope", "Key": {"a": 1}}', "-d", "local"],
        ["run", "ListTables", "-d", "dead"],
        ["run", "GetItem", "{", "-d", "local"],
        ["run", "DeleteTable", '{"TableName": "users"}', "-d", "local"],
        ["query", "save", "q", "-d", "local", "Scan", '{"TableName": "{{ t }}"}'],
        ["query", "save", "d", "-d", "dead", "ListTables"],
        ["query", "list"],
        ["query", "show", "q", "--json"],
        ["query", "run", "q", "-p", "t=users"],
        ["query", "run", "q", "-p", "t=nope"],
        ["query", "run", "q"],
        ["query", "run", "d"],
        ["query", "run", "q", "-p", "t=users", "--dry-run"],
        ["history"],
        ["history", "--json"],
        ["history", "--outcome", "error", "--json"],
        ["workspace", "info", "--json"],
        ["workspace", "export", "-o", str(tmp_path / "ws.json")],
        ["workspace", "export", "--format", "yaml", "-o", str(tmp_path / "ws.yaml")],
        ["workspace", "export"],
        ["export", "users", "-d", "local", "-o", str(tmp_path / "users.jsonl")],
        ["export", "nope", *planted],
        ["export", "users", *dead],
        ["import", "copy", str(tmp_path / "users.jsonl"), *planted],
        ["import", "users", str(tmp_path / "users.jsonl"), "-d", "dead"],
        ["operations", "show", "GetItem"],
    ):
        cli(*args)
    other = tmp_path / "other"
    done = dynaquery(
        "workspace", "import", str(tmp_path / "ws.json"), env={**env, "DYNAQUERY_HOME": str(other)}
    )
    outputs.extend([done.stdout, done.stderr])
    assert done.code == 0, done.stderr
    cli("workspace", "import", str(tmp_path / "ws.yaml"))  # names taken
    cli("workspace", "import", str(tmp_path / "ws.yaml"), "--replace")
    _clean(outputs, "a command's output")
    _clean(_files(home), "the workspace's files")
    _clean(_files(other), "an imported workspace")
    _clean([p.read_text() for p in tmp_path.glob("ws.*")], "an export")
    _clean([(tmp_path / "users.jsonl").read_text()], "a table export")


def test_no_secret_in_the_servers_log(ddb, tmp_path):
    import urllib.error
    import urllib.request

    from dynaquery.local import free_port

    home = tmp_path / "home"
    env = clean_env(DYNAQUERY_HOME=str(home), DYNAQUERY_TOKEN=TOKEN)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "dynaquery", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    answers: list[str] = []

    def call(method, path, body=None, token=TOKEN):
        request = urllib.request.Request(
            base + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={
                "Content-Type": "application/json",
                **({"Authorization": f"Bearer {token}"} if token else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                answers.append(answer.read().decode())
                return answer.status
        except urllib.error.HTTPError as error:
            answers.append(error.read().decode())
            return error.code

    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if call("GET", "/api/session") == 200:
                    break
            except OSError:
                time.sleep(0.2)
        planted = {
            "endpoint_url": ddb.endpoint_url,
            "region": ddb.region,
            "access_key_id": ddb.access_key,
            "secret_access_key": SECRET_KEY,
            "session_token": SESSION,
        }
        assert call("POST", "/api/datasources", {"name": "local", **planted}) == 201
        assert (
            call(
                "POST",
                "/api/datasources",
                {
                    "name": "dead",
                    **planted,
                    "max_attempts": 1,
                    "endpoint_url": "http://127.0.0.1:9",
                },
            )
            == 201
        )
        assert call("POST", "/api/run", {"datasource": "dead", "operation": "ListTables"}) == 502
        assert (
            call(
                "POST",
                "/api/run",
                {
                    "datasource": "local",
                    "operation": "GetItem",
                    "params": {"TableName": "nope", "Key": {"a": 1}},
                },
            )
            == 502
        )
        assert call("POST", "/api/datasources/test", {**planted, "access_key_id": None}) == 200
        assert call("GET", "/api/session", token=SECRET_KEY) == 401
        assert call("POST", "/api/run", {"datasource": "local"}) == 400
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
    assert "dynaquery: open" in err
    _clean([out, err], "the server's log")
    _clean(answers, "the server's answers")
    _clean(_files(home), "the workspace's files")


# ---------------------------------------------------------------------------------------------
# the files


def test_the_workspace_and_key_files_are_readable_by_their_owner_only(tmp_path, monkeypatch):
    import stat

    monkeypatch.delenv("DYNAQUERY_SECRET_KEY", raising=False)
    old = os.umask(0o022)  # a permissive umask: the files must not follow it
    try:
        workspace = Workspace.open(home=tmp_path)
        workspace.add_datasource(
            "s", region="us-east-1", access_key_id="k", secret_access_key=SECRET_KEY
        )
        workspace.close()
    finally:
        os.umask(old)
    for name in ("workspace.db", "secret.key"):
        mode = stat.S_IMODE((tmp_path / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))


# ---------------------------------------------------------------------------------------------
# the gate: the token before the body, a body limit, the Host header, the security headers


def _asgi(app, path: str, headers: dict[str, str], chunks, method: str = "POST"):
    """One request straight through the ASGI app; the body comes from `chunks`, counted as it
    is taken. Returns (status, bytes of the body the app took)."""
    import asyncio

    taken = 0
    source = iter(chunks)
    answer: dict = {}

    async def receive():
        nonlocal taken
        chunk = next(source, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        taken += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message):
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "client": ("203.0.113.50", 1234),
        "server": ("127.0.0.1", 8000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    asyncio.run(app(scope, receive, send))
    return answer["status"], taken


def test_a_large_body_is_not_read_without_the_token_and_is_capped_with_it(tmp_path):
    from dynaquery.server import MAX_BODY_BYTES

    workspace = Workspace.open(home=tmp_path)
    app = create_app(workspace, _digest(TOKEN))
    megabyte = b"x" * 2**20
    big = [megabyte] * 300  # 300 MB, only if read
    json_type = {"content-type": "application/json"}
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": TOKEN}):
        status, taken = _asgi(
            app, "/api/check", {**json_type, **headers, "content-length": str(300 * 2**20)}, big
        )
        assert (status, taken) == (401, 0), headers
        status, taken = _asgi(app, "/api/check", {**json_type, **headers}, big)  # no length
        assert (status, taken) == (401, 0), headers
    good = {**json_type, "authorization": f"Bearer {TOKEN}"}
    status, taken = _asgi(app, "/api/check", {**good, "content-length": str(300 * 2**20)}, big)
    assert (status, taken) == (413, 0)
    # a stream with no Content-Length is cut off once it passes the limit
    status, taken = _asgi(app, "/api/check", good, big)
    assert status == 413 and taken <= MAX_BODY_BYTES + len(megabyte)
    # the answer says why, and a body within the limit is read
    http = TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"})
    refused = http.post("/api/check", content=b" " * (MAX_BODY_BYTES + 1), headers=json_type)
    assert refused.status_code == 413 and refused.json()["error"] == "ContentTooLarge"
    assert str(MAX_BODY_BYTES) in refused.json()["message"]
    body = json.dumps({"operation": "GetItem", "params": "{}"}).encode()
    assert (
        http.post(
            "/api/check", content=body + b" " * (MAX_BODY_BYTES - len(body)), headers=json_type
        ).status_code
        == 200
    )
    workspace.close()


def _wait_until_serving(base: str, process) -> None:
    import urllib.error
    import urllib.request

    deadline = time.time() + 60
    while time.time() < deadline:
        assert process.poll() is None, process.communicate()[1]
        try:
            urllib.request.urlopen(base + "/", timeout=5)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail("the server did not answer")


def _sign_ins(base: str, forwarded: list[str]) -> list[int]:
    import urllib.error
    import urllib.request

    statuses = []
    for address in forwarded:
        request = urllib.request.Request(
            base + "/api/session",
            headers={"Authorization": "Bearer wrong", "X-Forwarded-For": address},
        )
        try:
            statuses.append(urllib.request.urlopen(request, timeout=30).status)
        except urllib.error.HTTPError as error:
            statuses.append(error.code)
    return statuses


def test_forwarded_headers_cannot_dodge_the_sign_in_limiter(tmp_path):
    """A real `dynaquery serve` on loopback: X-Forwarded-For is believed only from the proxies
    the operator names, so a client cannot give each guess another address."""
    from dynaquery.local import free_port

    env = clean_env(DYNAQUERY_HOME=str(tmp_path), DYNAQUERY_TOKEN=TOKEN)
    ports = [free_port(), free_port()]
    servers = [
        subprocess.Popen(
            [sys.executable, "-m", "dynaquery", "serve", "--port", str(ports[0])],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        ),
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dynaquery",
                "serve",
                "--port",
                str(ports[1]),
                "--forwarded-allow-ips",
                "127.0.0.1",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        ),
    ]
    forwarded = [f"198.51.100.{i}" for i in range(15)]
    try:
        for port, server in zip(ports, servers):
            _wait_until_serving(f"http://127.0.0.1:{port}", server)
        # the default: the peer's address counts, whatever the header says
        assert _sign_ins(f"http://127.0.0.1:{ports[0]}", forwarded) == [401] * 10 + [429] * 5
        # a named proxy (here: loopback) is believed: fifteen clients, one guess each
        assert _sign_ins(f"http://127.0.0.1:{ports[1]}", forwarded) == [401] * 15
    finally:
        for server in servers:
            server.terminate()
            server.wait(30)


def test_every_answer_carries_the_security_headers(api):
    answers = [
        api.get("/"),
        api.get("/static/app.js"),
        api.get("/api/session"),
        api.get("/api/session", headers={"Authorization": "Bearer wrong"}),
        api.get("/api/nothing"),
        api.post("/api/run", json={}),
        api.get("/api/downloads/nothing"),
    ]
    for answer in answers:
        headers = answer.headers
        assert headers["X-Frame-Options"] == "DENY", answer.url
        csp = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self';" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"


def test_the_page_runs_under_its_script_policy():
    """script-src 'self': the page may hold no inline script nor event handler attribute."""
    import re

    from dynaquery.server import WEB_DIR

    page = (WEB_DIR / "index.html").read_text()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page, re.S | re.I)
    assert scripts and all(
        "src=" in attributes and not body.strip() for attributes, body in scripts
    )
    assert not re.search(r"\son[a-z]+\s*=", page, re.I)
    assert "javascript:" not in page.lower()


def test_unknown_host_headers_are_refused_on_loopback(tmp_path):
    """DNS rebinding: a page elsewhere whose name now points at 127.0.0.1 sends its own Host."""
    from dynaquery.server import allowed_hosts_for

    workspace = Workspace.open(home=tmp_path)
    app = create_app(workspace, _digest(TOKEN), allowed_hosts=allowed_hosts_for("127.0.0.1", 8000))
    http = TestClient(
        app, base_url="http://127.0.0.1:8000", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    for host in ("127.0.0.1:8000", "localhost:8000", "[::1]:8000", "LOCALHOST:8000"):
        assert http.get("/api/session", headers={"Host": host}).status_code == 200, host
    for host in (
        "evil.example:8000",
        "evil.example",
        "127.0.0.1:9999",
        "127.0.0.1",
        "",
        "127.0.0.1.evil.example:8000",
    ):
        refused = http.get("/api/session", headers={"Host": host})
        assert refused.status_code == 400, host
        assert (
            refused.json()["error"] == "InvalidHost"
            and "--allowed-host" in refused.json()["message"]
        )
        assert http.get("/", headers={"Host": host}).status_code == 400
    workspace.close()
    assert allowed_hosts_for("127.0.0.1", 80) == [
        "127.0.0.1:80",
        "127.0.0.1",
        "localhost:80",
        "localhost",
        "[::1]:80",
        "[::1]",
    ]
    assert "query.example:8000" in allowed_hosts_for("::1", 8000, ["query.example"])
    # on another address: the operator's names, or any when none is given
    assert allowed_hosts_for("0.0.0.0", 8000) is None
    assert allowed_hosts_for("10.0.0.5", 8000, ["query.example:443"]) == [
        "10.0.0.5:8000",
        "query.example:443",
    ]


# ---------------------------------------------------------------------------------------------
# the address each connection reached


def test_ipv6_forms_of_an_ipv4_address_are_unwrapped():
    from dynaquery.server.netguard import NetworkPolicy

    policy = NetworkPolicy(["169.254.0.0/16"])
    for address in (
        "169.254.169.254",
        "::ffff:169.254.169.254",
        "::169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b:1::a9fe:a9fe",
        "2002:a9fe:a9fe::1",
        "2001:0:4136:e378:8000:63bf:5601:5601",
    ):
        assert str(policy.forbidden_address(address)) == "169.254.169.254", address
    for address in (
        "::1",
        "::",
        "10.0.0.1",
        "2001:db8::a9fe:a9fe",
        "2002:0a00:0001::",
        "64:ff9b::a00:1",
    ):
        assert policy.forbidden_address(address) is None, address


def test_the_address_actually_connected_to_is_checked(ddb, moto_server):
    """A forbidden peer is refused when the connection is made, not only when the URL is
    checked: here loopback is forbidden, and a real DynamoDB Local (and moto's STS) answers
    there."""
    from dynaquery.server.netguard import NetworkPolicy, guard_session

    loopback = NetworkPolicy(["127.0.0.0/8"], "a forbidden address")

    def guarded(connection):
        connection.network_guard = lambda session: guard_session(session, loopback)
        return connection

    diagnosis = guarded(Connection(**ddb.settings(), max_attempts=1)).test()
    assert not diagnosis.ok
    assert "connected to 127.0.0.1, a forbidden address" in diagnosis.message, diagnosis.message
    with pytest.raises(Exception) as error:
        guarded(Connection(**ddb.settings(), max_attempts=1)).run("ListTables", {})
    assert "connected to 127.0.0.1" in str(error.value)
    # STS, for an assumed role, goes through the same guard
    role = guarded(
        Connection(
            endpoint_url=ddb.endpoint_url,
            region="us-east-1",
            access_key_id="k",
            secret_access_key="secret-secret",
            role_arn="arn:aws:iam::123456789012:role/r",
            sts_endpoint_url=moto_server.endpoint_url,
            max_attempts=1,
        )
    ).test()
    assert not role.ok and "connected to 127.0.0.1" in role.message, role.message
    # without the guard (the command line), the same settings connect
    assert Connection(**ddb.settings()).test().ok


def test_a_name_that_resolves_elsewhere_later_is_refused_where_it_connects(
    tmp_path, ddb, monkeypatch
):
    """DNS rebinding against the server: the name resolves to a public address when it is
    checked, and to a forbidden one (loopback, forbidden in this test) when it is used."""
    import socket

    from dynaquery.server.netguard import NetworkPolicy

    real = socket.getaddrinfo
    port = int(ddb.endpoint_url.rsplit(":", 1)[1])

    def rebinding(host, service, *args, **kwargs):
        if host == "rebind.example":
            if service is None:  # the check: a harmless address
                return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("203.0.113.9", 0))]
            return real("127.0.0.1", service, *args, **kwargs)  # the connection
        return real(host, service, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    monkeypatch.delenv("DYNAQUERY_SECRET_KEY", raising=False)
    workspace = Workspace.open(home=tmp_path)
    policy = NetworkPolicy(["127.0.0.0/8", "169.254.0.0/16"], "a forbidden address")
    http = TestClient(
        create_app(workspace, _digest(TOKEN), network_policy=policy),
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    settings = {
        **ddb.settings(),
        "endpoint_url": f"http://rebind.example:{port}",
        "max_attempts": 1,
    }
    saved = http.post("/api/datasources", json={"name": "rebound", **settings})
    assert saved.status_code == 201, saved.text  # the check saw 203.0.113.9
    run = http.post("/api/run", json={"datasource": "rebound", "operation": "ListTables"})
    assert run.status_code == 502 and "connected to 127.0.0.1" in run.json()["message"], run.text
    tested = http.post(f"/api/datasources/{saved.json()['id']}/test").json()
    assert not tested["ok"] and "connected to 127.0.0.1" in tested["message"]
    unsaved = http.post("/api/datasources/test", json=settings).json()
    assert not unsaved["ok"] and "connected to 127.0.0.1" in unsaved["message"]
    # the same workspace without the server connects (the command line is not guarded)
    workspace.network_guard = None
    workspace._connections.clear()
    assert workspace.test_datasource("rebound").ok
    workspace.close()


# ---------------------------------------------------------------------------------------------
# text that is no Unicode: 400 (exit 2) naming the field, never a 500


def test_lone_surrogates_are_input_errors_naming_the_field(api):
    ds = add(api)
    bad = "x\ud800"

    def send(method, path, body):
        answer = api.request(
            method, path, content=json.dumps(body), headers={"Content-Type": "application/json"}
        )
        return answer.status_code, answer.json().get("message", "")

    settings = {"endpoint_url": api.endpoint.endpoint_url, "region": "us-east-1"}
    query = {
        "name": "q",
        "datasource": ds["id"],
        "operation": "Scan",
        "params": '{"TableName": "{{ t }}"}',
    }
    saved = api.post("/api/queries", json=query).json()
    cases = [
        ("POST", "/api/datasources", {"name": "n", **settings}, f)
        for f in ("name", "description", "access_key_id", "secret_access_key")
    ]
    cases += [("PUT", f"/api/datasources/{ds['id']}", {}, f) for f in ("name", "description")]
    cases += [
        ("POST", "/api/queries", {**query, "name": "q2"}, f)
        for f in ("name", "datasource", "description", "params", "transform")
    ]
    cases += [
        ("PUT", f"/api/queries/{saved['id']}", {}, f) for f in ("name", "datasource", "description")
    ]
    cases += [
        (
            "POST",
            "/api/run",
            {"datasource": ds["id"], "operation": "Scan", "params": '{"TableName": "users"}'},
            f,
        )
        for f in ("datasource", "operation", "params")
    ]
    for method, path, body, field in cases:
        status, message = send(method, path, {**body, field: bad})
        assert status == 400, (path, field, message)
        assert f"{field}: contains a lone surrogate (U+D800)" in message, message
    status, message = send("POST", "/api/queries", {**query, "name": "q3", "defaults": {"t": bad}})
    assert status == 400 and "defaults.t:" in message
    status, message = send("POST", f"/api/queries/{saved['id']}/run", {"values": {"t": bad}})
    assert status == 400 and "values.t:" in message
    assert len(api.get("/api/history").json()) == 0  # nothing ran


def test_lone_surrogates_from_the_command_line_and_the_library(tmp_path, monkeypatch):
    from dynaquery import InputError

    monkeypatch.delenv("DYNAQUERY_SECRET_KEY", raising=False)
    # bytes that are not UTF-8 in an argument reach Python as lone surrogates
    env = clean_env(DYNAQUERY_HOME=str(tmp_path))
    done = dynaquery("datasource", "add", "bad\udcff", "--region", "us-east-1", env=env)
    assert done.code == 2 and "name: contains a lone surrogate (U+DCFF)" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    with Workspace.open(home=tmp_path) as ws:
        ws.add_datasource("ok", region="us-east-1")
        for call in (
            lambda: ws.add_datasource("d", region="us-east-1", description="\ud800"),
            lambda: ws.update_datasource("ok", description="\ud800"),
            lambda: ws.save_query("q", "ok", "Scan", '{"TableName": "\ud800"}'),
            lambda: ws.save_query("q", "ok", "ListTables", description="\udcff"),
            lambda: ws.run("ok", "\ud800"),
        ):
            with pytest.raises(InputError) as error:
                call()
            assert "lone surrogate" in error.value.message
        with pytest.raises(InputError) as error:
            ws.datasource("\ud800")
        assert "No data source named" in error.value.message
        assert ws.history() == []


# ---------------------------------------------------------------------------------------------
# the secrets key: scrypt with the workspace's own salt


PASSPHRASE = "correct horse battery staple"


def test_the_secret_key_is_stretched_with_scrypt_and_a_random_salt(tmp_path, monkeypatch):
    import hashlib
    import hmac

    from dynaquery.encryption import KDF_SETTING, legacy_key

    monkeypatch.setenv("DYNAQUERY_SECRET_KEY", PASSPHRASE)
    fingerprints, salts = [], []
    for name in ("one", "two"):
        with Workspace.open(home=tmp_path / name) as ws:
            ws.add_datasource(
                "s", region="us-east-1", access_key_id="k", secret_access_key=SECRET_KEY
            )
            kdf = json.loads(ws.get_setting(KDF_SETTING))
            fingerprints.append(ws.get_setting("key_fingerprint"))
            salts.append(kdf["salt"])
        assert kdf["kdf"] == "scrypt" and kdf["n"] >= 2**15 and kdf["r"] >= 8
        with Workspace.open(home=tmp_path / name) as ws:
            assert ws.connection_config("s").secret_access_key == SECRET_KEY
    # the same passphrase: other salts, other keys; and no fast hash of it is stored
    assert salts[0] != salts[1] and fingerprints[0] != fingerprints[1]
    fast = hmac.new(legacy_key(PASSPHRASE), b"dynaquery key check", hashlib.sha256).hexdigest()
    assert fast[:16] not in fingerprints


def test_a_workspace_sealed_with_the_old_key_derivation_is_moved_to_scrypt(tmp_path, monkeypatch):
    import sqlalchemy as sa

    from dynaquery import store
    from dynaquery.encryption import KDF_SETTING, KEY_ENV, SecretBox, legacy_key
    from dynaquery.errors import ConfigurationError

    # made the old way: HKDF with a fixed salt, its fingerprint stored, secrets sealed with it
    monkeypatch.setenv("DYNAQUERY_SECRET_KEY", PASSPHRASE)
    with Workspace.open(home=tmp_path) as ws:
        old = SecretBox(legacy_key(PASSPHRASE), KEY_ENV)
        ws.set_setting("key_fingerprint", old.fingerprint)
        ws._box = old
        ws.add_datasource(
            "a",
            region="us-east-1",
            access_key_id="k",
            secret_access_key=SECRET_KEY,
            session_token=SESSION,
        )
        assert ws.get_setting(KDF_SETTING) is None

    def sealed() -> str:
        with Workspace.open(home=tmp_path) as ws, store.transaction(ws.engine) as db:
            return db.execute(sa.select(store.datasources.c.secrets)).scalar()

    before = sealed()
    # a wrong passphrase changes nothing
    monkeypatch.setenv("DYNAQUERY_SECRET_KEY", "wrong horse")
    with Workspace.open(home=tmp_path) as ws, pytest.raises(ConfigurationError):
        ws.connection_config("a")
    assert sealed() == before
    # the right one opens it, and moves it to scrypt: sealed again, new fingerprint
    monkeypatch.setenv("DYNAQUERY_SECRET_KEY", PASSPHRASE)
    with Workspace.open(home=tmp_path) as ws:
        config = ws.connection_config("a")
        assert (config.secret_access_key, config.session_token) == (SECRET_KEY, SESSION)
        assert json.loads(ws.get_setting(KDF_SETTING))["kdf"] == "scrypt"
        assert ws.get_setting("key_fingerprint") != old.fingerprint
    assert sealed() != before
    with Workspace.open(home=tmp_path) as ws:  # and it keeps opening
        assert ws.connection_config("a").session_token == SESSION
    monkeypatch.setenv("DYNAQUERY_SECRET_KEY", "wrong horse")
    with Workspace.open(home=tmp_path) as ws, pytest.raises(ConfigurationError):
        ws.connection_config("a")
