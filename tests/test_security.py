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


@pytest.mark.parametrize("name, params, destructive", [
    ("DeleteTable", {"TableName": "users"}, True),
    ("DeleteBackup", {"BackupArn": "arn:x"}, True),
    ("DeleteItem", {"TableName": "users", "Key": {}}, True),
    ("DeleteResourcePolicy", {"ResourceArn": "arn:x"}, True),
    ("UpdateTable", {"TableName": "users"}, True),
    ("BatchWriteItem", {"RequestItems": {"users": [{"PutRequest": {"Item": {}}},
                                                   {"DeleteRequest": {"Key": {}}}]}}, True),
    ("BatchWriteItem", {"RequestItems": {"users": [{"PutRequest": {"Item": {}}}]}}, False),
    ("TransactWriteItems", {"TransactItems": [{"Delete": {"TableName": "users", "Key": {}}}]}, True),
    ("TransactWriteItems", {"TransactItems": [{"Put": {"TableName": "users", "Item": {}}}]}, False),
    ("ExecuteStatement", {"Statement": "  /* x */ delete FROM users WHERE a = 1"}, True),
    ("ExecuteStatement", {"Statement": "UPDATE users SET a = 1 WHERE b = 2"}, False),
    ("BatchExecuteStatement", {"Statements": [{"Statement": "SELECT * FROM t"},
                                              {"Statement": "DELETE FROM t WHERE a = 1"}]}, True),
    ("ExecuteTransaction", {"TransactStatements": [{"Statement": "DELETE FROM t WHERE a=1"}]}, True),
    ("PutItem", {"TableName": "users", "Item": {}}, False),
    ("CreateTable", {"TableName": "users"}, False),
    ("Scan", {"TableName": "users"}, False),
])
def test_which_operations_are_destructive(name, params, destructive):
    assert get_operation(name).is_destructive(params) is destructive


def test_the_confirmation_names_the_target():
    assert (get_operation("DeleteTable").confirmation({"TableName": "users"})
            == "Really run DeleteTable on table users?")
    assert (get_operation("BatchWriteItem").confirmation(
        {"RequestItems": {"a": [{"DeleteRequest": {}}], "b": []}})
        == "Really run BatchWriteItem on tables a, b?")


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
    delete = ("BatchWriteItem", '{"RequestItems": {"users": [{"DeleteRequest": {"Key": '
              '{"team_id": "team_1", "employee_id": "emp_1"}}}]}}')
    assert dynaquery("run", *delete, *ddb.flags).code == 2
    # a saved query through the workspace
    env = clean_env(DYNAQUERY_HOME=str(tmp_path))
    assert dynaquery("datasource", "add", "local", *ddb.flags, env=env).code == 0
    assert dynaquery("query", "save", "drop", "-d", "local", "DeleteTable",
                     '{"TableName": "{{ t }}"}', env=env).code == 0
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
    process = subprocess.Popen([sys.executable, "-m", "dynaquery", *args], stdin=slave,
                               stdout=subprocess.PIPE, stderr=slave, env=clean_env())
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
    response = api.post("/api/datasources", json={
        "name": name, "endpoint_url": e.endpoint_url, "region": e.region,
        "access_key_id": e.access_key, "secret_access_key": e.secret_key, **extra})
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
    statement = {"datasource": ds["id"], "operation": "ExecuteStatement",
                 "params": {"Statement": "DELETE FROM users WHERE team_id = 'team_1' AND "
                                         "employee_id = 'emp_1'"}}
    assert api.post("/api/run", json=statement).status_code == 428
    assert api.post("/api/run", json={**statement, "confirm": True}).status_code == 200
    saved = api.post("/api/queries", json={"name": "drop", "datasource": ds["id"],
                                           "operation": "DeleteTable",
                                           "params": '{"TableName": "{{ t }}"}'}).json()
    run = api.post(f"/api/queries/{saved['id']}/run", json={"values": {"t": "users"}})
    assert run.status_code == 428 and "users" in tables(api.endpoint)
    run = api.post(f"/api/queries/{saved['id']}/run", json={"values": {"t": "users"},
                                                            "confirm": True})
    assert run.status_code == 200, run.text
    assert "users" not in tables(api.endpoint)
    # not destructive: no confirmation
    scan = api.post("/api/run", json={"datasource": ds["id"], "operation": "Scan",
                                      "params": {"TableName": "locations"}})
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
    conn.client.meta.events.register("before-send.dynamodb",
                                     lambda request, **_: sent.append(request.url))
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
            ("BatchExecuteStatement", {"Statements": [{"Statement": "SELECT * FROM users"},
                                                      {"Statement": "DELETE FROM users WHERE a=1"}]}),
            ("ExecuteTransaction", {"TransactStatements": [{"Statement": "UPDATE t SET a=1 WHERE b=1"}]})):
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
    paths = {r.path for r in app.routes}
    assert "/openapi.json" in paths
    for route in app.routes:
        for method in getattr(route, "methods", None) or ():
            path = route.path.replace("{ds_id}", "x").replace("{query_id}", "x").replace("{name}", "x")
            if path == "/":
                continue
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
                status = http.request(method, path.replace("{ticket}", "x"), headers=headers).status_code
                if path == "/api/downloads/{ticket}":  # a one-use export link: the link is the key
                    assert status == 404
                else:
                    assert status == 401, (method, path)
    assert http.get("/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert http.get("/").status_code in (200, 404)  # the page: public
    assert http.get("/static/app.js").status_code == 200
    workspace.close()


def test_the_token_is_compared_in_constant_time():
    import inspect

    from dynaquery import server

    source = inspect.getsource(server.create_app)
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
    threads = [threading.Thread(target=lambda i=i: [limiter.failed(f"x{i % 100}") for _ in range(200)])
               for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(limiter._seen) <= 50
    limiter = SignInLimiter(failures=5, window=60)
    threads = [threading.Thread(target=lambda: [limiter.failed("same") for _ in range(100)])
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert limiter.retry_after("same") > 0 and len(limiter._seen["same"]) == 5


# ---------------------------------------------------------------------------------------------
# endpoints that would reach the cloud's metadata service


METADATA_URLS = ["http://169.254.169.254/latest/meta-data/", "http://169.254.170.2:80",
                 "http://[fd00:ec2::254]/", "http://[fe80::1]:8000", "http://2852039166/",
                 "http://[::ffff:169.254.169.254]/"]


def test_the_server_refuses_link_local_endpoints(api, monkeypatch):
    monkeypatch.delenv("DYNAQUERY_ALLOW_ENDPOINT_NETWORK", raising=False)
    for url in METADATA_URLS:
        for setting in ("endpoint_url", "sts_endpoint_url"):
            extra = {setting: url} if setting == "endpoint_url" else {
                "sts_endpoint_url": url, "role_arn": "arn:aws:iam::123456789012:role/r"}
            body = {"name": "meta", "region": "us-east-1", **extra}
            for method, path in (("POST", "/api/datasources"), ("POST", "/api/datasources/test")):
                sent = body if path == "/api/datasources" else {k: v for k, v in body.items()
                                                               if k != "name"}
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
    answer = api.post("/api/datasources/test", json={"endpoint_url": "http://metadata.example/",
                                                     "region": "us-east-1"})
    assert answer.status_code == 400 and "169.254.169.254" in answer.json()["message"]
    # one stored some other way (the command line) is checked when the server would use it
    api.workspace.add_datasource("stored", endpoint_url="http://169.254.169.254",
                                 region="us-east-1")
    stored = api.workspace.datasource("stored").id
    for method, path, body in (
            ("POST", "/api/run", {"datasource": stored, "operation": "ListTables"}),
            ("POST", f"/api/datasources/{stored}/test", None),
            ("GET", f"/api/tables?datasource={stored}", None),
            ("GET", f"/api/tables/users?datasource={stored}", None),
            ("GET", f"/api/tables/users/export?datasource={stored}", None)):
        answer = api.request(method, path, json=body)
        assert answer.status_code == 400 and "link-local" in answer.json()["message"], path
    # the operator may allow it
    monkeypatch.setenv("DYNAQUERY_ALLOW_ENDPOINT_NETWORK", "link-local")
    answer = api.post("/api/datasources", json={"name": "meta", "region": "us-east-1",
                                                "endpoint_url": METADATA_URLS[0]})
    assert answer.status_code == 201
    # ordinary endpoints are untouched
    assert api.post("/api/datasources/test", json={
        "endpoint_url": api.endpoint.endpoint_url, "region": "us-east-1",
        "access_key_id": "k", "secret_access_key": "s"}).json()["ok"] is True


# ---------------------------------------------------------------------------------------------
# secrets in no output: every API route, every command, the server's log, the files


SECRET_KEY = "sentinel-SECRET-key-" + "Vb83kQw1Zp"
SESSION = "sentinel-SESSION-token-" + "Lr55nXc0Ty"
PLANTED = (SECRET_KEY, SESSION)


def _clean(texts, where: str) -> None:
    for text in texts:
        for secret in PLANTED:
            assert secret not in text, f"a secret in {where}: {text[:300]!r}"


def test_no_secret_in_any_api_answer(api):
    texts: list[str] = []
    called: set[tuple[str, str]] = set()
    routes = [(r.path, m) for r in api.app.routes for m in getattr(r, "methods", ())
              if r.path.startswith(("/api/", "/openapi"))]

    def call(method, path, **kwargs):
        import re

        answer = api.request(method, path, **kwargs)
        texts.extend([answer.text, json.dumps(dict(answer.headers))])
        for route, route_method in routes:
            if route_method == method and re.match("^" + re.sub(r"\{[^}]+\}", "[^/]+", route) + "$",
                                                   path.split("?")[0]):
                called.add((method, route))
        return answer

    e = api.endpoint
    planted = {"endpoint_url": e.endpoint_url, "region": e.region, "access_key_id": e.access_key,
               "secret_access_key": SECRET_KEY, "session_token": SESSION}
    ds = call("POST", "/api/datasources", json={"name": "local", **planted}).json()
    dead = call("POST", "/api/datasources", json={
        "name": "dead", **planted, "endpoint_url": "http://127.0.0.1:9", "max_attempts": 1,
        "connect_timeout": 1}).json()
    call("GET", "/openapi.json")
    call("GET", "/api/session")
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
    call("POST", "/api/datasources/test", json={**planted, "endpoint_url": "http://127.0.0.1:9",
                                                "connect_timeout": 1, "max_attempts": 1})
    call("POST", "/api/datasources/test", json={"id": ds["id"], "access_key_id": "other"})
    call("POST", "/api/datasources/test", json={"secret_access_key": SECRET_KEY})  # incomplete
    q = call("POST", "/api/queries", json={"name": "q", "datasource": ds["id"], "operation": "Scan",
                                           "params": '{"TableName": "{{ t }}"}'}).json()
    call("POST", "/api/queries", json={"name": "bad", "datasource": ds["id"], "operation": "Scan",
                                       "params": '{"TableNam": 1}'})
    call("GET", "/api/queries")
    call("GET", f"/api/queries/{q['id']}")
    call("PUT", f"/api/queries/{q['id']}", json={"description": SECRET_KEY[:5]})
    call("POST", f"/api/queries/{q['id']}/run", json={"values": {"t": "users"}})
    call("POST", f"/api/queries/{q['id']}/run", json={"values": {"t": "nope"}})  # 502
    call("POST", f"/api/queries/{q['id']}/run", json={})  # a missing value
    call("POST", "/api/run", json={"datasource": ds["id"], "operation": "GetItem",
                                   "params": {"TableName": "users", "Key": {"x": 1}}})
    call("POST", "/api/run", json={"datasource": dead["id"], "operation": "ListTables"})
    call("POST", "/api/run", json={"datasource": ds["id"], "operation": "DeleteTable",
                                   "params": {"TableName": "users"}})  # 428
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
    call("GET", "/api/history")
    call("GET", "/api/history?outcome=error")
    call("DELETE", f"/api/queries/{q['id']}")
    call("DELETE", f"/api/datasources/{dead['id']}")
    call("DELETE", f"/api/datasources/{ds['id']}")
    call("GET", "/api/nothing")
    missing = set(routes) - {(p, m) for m, p in called}
    assert not missing, missing
    _clean(texts, "an API answer")
    _clean([json.dumps([r.to_dict() for r in api.workspace.history(limit=None)])], "the history")
    _clean(_files(api.workspace_home), "the workspace's files")


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

    flags = ["--endpoint-url", ddb.endpoint_url, "--region", ddb.region,
             "--access-key-id", ddb.access_key]
    planted = [*flags, "--secret-access-key", SECRET_KEY, "--session-token", SESSION]
    dead = ["--endpoint-url", "http://127.0.0.1:9", "--region", "us-east-1", "--access-key-id",
            "k", "--secret-access-key", SECRET_KEY, "--session-token", SESSION,
            "--max-attempts", "1", "--connect-timeout", "1"]
    assert cli("datasource", "add", "local", *planted, "--test").code == 0
    assert cli("datasource", "add", "dead", *dead).code == 0
    cli("datasource", "add", "local", *planted)  # taken
    cli("datasource", "add", "bad", *planted[:-4], "--secret-access-key", SECRET_KEY,
        "--endpoint-url", "nohttp")
    for args in (["datasource", "list"], ["datasource", "list", "--json"],
                 ["datasource", "show", "local"], ["datasource", "show", "local", "--json"],
                 ["datasource", "edit", "local", "--description", "d"],
                 ["datasource", "edit", "local", "--secret-access-key", SECRET_KEY, "--json"],
                 ["datasource", "test", "local"], ["datasource", "test", "dead", "--json"],
                 ["test", *planted], ["test", *dead], ["test", "-d", "local", "--json"],
                 ["run", "ListTables", *planted], ["run", "ListTables", *dead],
                 ["run", "GetItem", '{"TableName": "nope", "Key": {"a": 1}}', *planted],
                 ["run", "GetItem", '{"TableName": "nope", "Key": {"a": 1}}', "-d", "local"],
                 ["run", "ListTables", "-d", "dead"],
                 ["run", "GetItem", "{", "-d", "local"],
                 ["run", "DeleteTable", '{"TableName": "users"}', "-d", "local"],
                 ["query", "save", "q", "-d", "local", "Scan", '{"TableName": "{{ t }}"}'],
                 ["query", "save", "d", "-d", "dead", "ListTables"],
                 ["query", "list"], ["query", "show", "q", "--json"],
                 ["query", "run", "q", "-p", "t=users"], ["query", "run", "q", "-p", "t=nope"],
                 ["query", "run", "q"], ["query", "run", "d"],
                 ["query", "run", "q", "-p", "t=users", "--dry-run"],
                 ["history"], ["history", "--json"], ["history", "--outcome", "error", "--json"],
                 ["workspace", "info", "--json"],
                 ["workspace", "export", "-o", str(tmp_path / "ws.json")],
                 ["workspace", "export", "--format", "yaml", "-o", str(tmp_path / "ws.yaml")],
                 ["workspace", "export"],
                 ["export", "users", "-d", "local", "-o", str(tmp_path / "users.jsonl")],
                 ["export", "nope", *planted],
                 ["export", "users", *dead],
                 ["import", "copy", str(tmp_path / "users.jsonl"), *planted],
                 ["import", "users", str(tmp_path / "users.jsonl"), "-d", "dead"],
                 ["operations", "show", "GetItem"]):
        cli(*args)
    other = tmp_path / "other"
    done = dynaquery("workspace", "import", str(tmp_path / "ws.json"),
                     env={**env, "DYNAQUERY_HOME": str(other)})
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
    server = subprocess.Popen([sys.executable, "-m", "dynaquery", "serve", "--port", str(port)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    answers: list[str] = []

    def call(method, path, body=None, token=TOKEN):
        request = urllib.request.Request(base + path, method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Content-Type": "application/json",
                                                  **({"Authorization": f"Bearer {token}"} if token else {})})
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
        planted = {"endpoint_url": ddb.endpoint_url, "region": ddb.region,
                   "access_key_id": ddb.access_key, "secret_access_key": SECRET_KEY,
                   "session_token": SESSION}
        assert call("POST", "/api/datasources", {"name": "local", **planted}) == 201
        assert call("POST", "/api/datasources", {"name": "dead", **planted, "max_attempts": 1,
                                                 "endpoint_url": "http://127.0.0.1:9"}) == 201
        assert call("POST", "/api/run", {"datasource": "dead", "operation": "ListTables"}) == 502
        assert call("POST", "/api/run", {"datasource": "local", "operation": "GetItem",
                                         "params": {"TableName": "nope", "Key": {"a": 1}}}) == 502
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
        workspace.add_datasource("s", region="us-east-1", access_key_id="k",
                                 secret_access_key=SECRET_KEY)
        workspace.close()
    finally:
        os.umask(old)
    for name in ("workspace.db", "secret.key"):
        mode = stat.S_IMODE((tmp_path / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))
