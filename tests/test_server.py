"""The JSON API: every route, with and without the token, against DynamoDB Local; secrets never
in a response; `dynaquery serve` itself (token printed once, loopback only without a token)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from dynaquery import Workspace
from dynaquery.demo import seed
from dynaquery.local import free_port
from dynaquery.server import _digest, create_app
from dynaquery.settings import NAMES

from support import Endpoint, clean_env

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx`")  # starlette's own TestClient note

TOKEN = "test-token-0123456789"
SECRET = "sentinel-api-secret-" + "Jh5tT8qLr2"


class Client:
    """A TestClient that records every response, and which routes were called."""

    def __init__(self, app):
        self.http = TestClient(app)
        self.texts: list[str] = []
        self.called: set[tuple[str, str]] = set()
        self.routes = [
            (r.path, m)
            for r in iter_route_contexts(app.routes)
            for m in getattr(r, "methods", None) or ()
            if r.path.startswith("/api/")
        ]

    def __call__(self, method: str, path: str, token: str | None = TOKEN, **kwargs):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        headers.update(kwargs.pop("headers", {}))
        response = self.http.request(method, path, headers=headers, **kwargs)
        self.texts.append(response.text)
        self.texts.append(json.dumps(dict(response.headers)))
        for route, route_method in self.routes:
            pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", route) + "$"
            if route_method == method and re.match(pattern, path.split("?")[0]):
                self.called.add((method, route))
        return response


@pytest.fixture
def api(tmp_path, dynamodb_local, monkeypatch, database_url):
    """The API over a fresh workspace, on SQLite and then on PostgreSQL."""
    monkeypatch.delenv("DYNAQUERY_SECRET_KEY", raising=False)
    endpoint = Endpoint(dynamodb_local.endpoint_url)
    seed(endpoint.connection())
    workspace = Workspace.open(database_url, home=tmp_path)
    client = Client(create_app(workspace, _digest(TOKEN)))
    client.endpoint = endpoint
    client.workspace = workspace
    yield client
    workspace.close()


def add_local(api, name="local", **extra):
    e = api.endpoint
    body = {
        "name": name,
        "endpoint_url": e.endpoint_url,
        "region": e.region,
        "access_key_id": e.access_key,
        "secret_access_key": SECRET,
        **extra,
    }
    response = api("POST", "/api/datasources", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_every_route_needs_the_token(api):
    api.http.app.state.sign_ins.failures = 10**6  # this test guesses more often than allowed
    for path, method in api.routes:
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        for token in (None, "wrong-token"):
            response = api.http.request(
                method, concrete, headers=({"Authorization": f"Bearer {token}"} if token else {})
            )
            if path == "/api/downloads/{ticket}":  # the link is the credential
                assert response.status_code == 404 and response.json()["error"] == "NotFound"
                continue
            if (method, path) == ("POST", "/api/session"):  # signing in: its body is the key
                assert response.status_code in (400, 401)
                continue
            assert response.status_code == 401, (method, path, token)
            assert response.json()["error"] == "Unauthorized"
    assert api("GET", "/api/session").json() == {
        "ok": True,
        "version": "0.1.0",
        "demo": False,
        "user": "token",
        "role": "admin",
        "can": {"manage": True, "edit": True, "run": True},
        "csrf": None,
    }
    assert api.http.get("/openapi.json").status_code == 401
    assert api("GET", "/openapi.json").status_code == 200


def test_the_whole_api(api):
    """Each route once, as the page uses them; at the end every /api route has been called."""
    assert api("GET", "/api/session").json()["ok"] is True
    settings = {s["name"]: s for s in api("GET", "/api/settings").json()}  # the form's fields
    assert list(settings) == list(NAMES) and settings["secret_access_key"]["secret"] is True
    assert (settings["max_attempts"]["minimum"], settings["max_attempts"]["maximum"]) == (1, 10)
    assert settings["retry_mode"]["choices"] == ["standard", "adaptive", "legacy"]
    assert settings["role_arn"]["methods"] == ["role_arn"]
    ds = add_local(api)
    assert ds["secret_access_key"] == "********" and ds["auth"] == "iam_credentials"
    assert api("GET", "/api/datasources").json()[0]["id"] == ds["id"]
    assert api("GET", f"/api/datasources/{ds['id']}").json()["name"] == "local"
    assert api("POST", f"/api/datasources/{ds['id']}/test").json()["ok"] is True
    # Test connection on an unsaved form that edits a saved source: its stored secret is used
    form = {
        "id": ds["id"],
        "endpoint_url": api.endpoint.endpoint_url,
        "region": "us-east-1",
        "access_key_id": api.endpoint.access_key,
        "secret_access_key": "********",
    }
    assert api("POST", "/api/datasources/test", json=form).json()["ok"] is True
    nowhere = api(
        "POST",
        "/api/datasources/test",
        json={
            "endpoint_url": "http://127.0.0.1:9",
            "region": "us-east-1",
            "connect_timeout": 1,
            "max_attempts": 1,
            "access_key_id": "AKIA1",
            "secret_access_key": SECRET,
        },
    ).json()
    assert nowhere["ok"] is False and "127.0.0.1:9" in nowhere["message"]
    incomplete = api(
        "POST", "/api/datasources/test", json={"access_key_id": "AKIA1", "region": "us-east-1"}
    )
    assert incomplete.status_code == 200 and incomplete.json()["ok"] is False
    assert "secret access key is missing" in incomplete.json()["message"]
    cleared = api("POST", "/api/datasources/test", json={**form, "secret_access_key": ""}).json()
    assert cleared["ok"] is False  # "" is no secret: the stored one is not used
    # a masked secret keeps the stored one; renaming works
    updated = api(
        "PUT",
        f"/api/datasources/{ds['id']}",
        json={"name": "local2", "secret_access_key": "********", "region": "us-east-1"},
    )
    assert updated.status_code == 200 and updated.json()["name"] == "local2"
    assert api.workspace.connection_config(ds["id"]).secret_access_key == SECRET

    ops = api("GET", "/api/operations").json()
    assert {
        "name": "Query",
        "python_name": "query",
        "access": "read",
        "paginated": True,
    }.items() <= next(o for o in ops if o["name"] == "Query").items()
    detail = api("GET", "/api/operations/get-item").json()
    assert detail["name"] == "GetItem" and "TableName" in detail["example"]
    assert {p["name"] for p in detail["parameters"] if p["required"]} == {"TableName", "Key"}

    checked = api(
        "POST", "/api/check", json={"operation": "Query", "params": '{"TableName": "{{ t }}"}'}
    )
    assert checked.json() == {"ok": True, "operation": "Query", "placeholders": ["t"]}

    text = (
        '{\n  "TableName": "users",\n  "KeyConditionExpression": "team_id = :t",\n'
        '  "ExpressionAttributeValues": {":t": "{{ team }}"}\n}'
    )
    saved = api(
        "POST",
        "/api/queries",
        json={
            "name": "team",
            "datasource": "local2",
            "operation": "query_table",
            "params": text,
            "defaults": {"team": "team_1"},
        },
    )
    assert saved.status_code == 201, saved.text
    q = saved.json()
    assert q["params"] == text and q["placeholders"] == ["team"] and q["operation"] == "Query"
    assert [x["name"] for x in api("GET", f"/api/queries?datasource={ds['id']}").json()] == ["team"]
    assert api("GET", f"/api/queries/{q['id']}").json()["defaults"] == {"team": "team_1"}
    run = api("POST", f"/api/queries/{q['id']}/run", json={"values": {"team": "team_2"}}).json()
    assert sorted(i["name"] for i in run["data"]["Items"]) == ["Anneke", "Bo"]
    assert run["meta"]["count"] == 2 and run["complete"] is True
    assert run["raw"]["Items"][0]["team_id"] == {"S": "team_2"}
    edited = api("PUT", f"/api/queries/{q['id']}", json={"transform": "Items[].name"})
    assert edited.json()["transform"] == "Items[].name"
    assert sorted(api("POST", f"/api/queries/{q['id']}/run").json()["data"]) == ["Aman", "Rahul"]

    adhoc = api(
        "POST",
        "/api/run",
        json={
            "datasource": ds["id"],
            "operation": "Scan",
            "params": '{"TableName": "users", "Limit": {{ n }}}',
            "values": {"n": 1},
        },
    ).json()
    assert adhoc["meta"]["count"] == 1 and adhoc["meta"]["next_token"]
    more = api(
        "POST",
        "/api/run",
        json={
            "datasource": "local2",
            "operation": "Scan",
            "params": {"TableName": "users", "Limit": 1},
            "starting_token": adhoc["meta"]["next_token"],
        },
    ).json()
    assert more["data"]["Items"] != adhoc["data"]["Items"]

    assert "users" in api("GET", "/api/tables?datasource=local2").json()["tables"]
    table = api("GET", "/api/tables/Reply?datasource=local2").json()
    assert table["partition_key"] == {"name": "Id", "type": "S"}
    assert table["sort_key"] == {"name": "ReplyDateTime", "type": "S"}
    assert table["indexes"] == [
        {
            "name": "PostedBy-Index",
            "kind": "local",
            "partition_key": {"name": "Id", "type": "S"},
            "sort_key": {"name": "PostedBy", "type": "S"},
            "projection": "KEYS_ONLY",
        }
    ]
    prefilled = api(
        "POST",
        "/api/run",
        json={
            "datasource": "local2",
            "operation": "Query",
            "params": table["query_template"],
            "values": {"Id": "Amazon DynamoDB#DynamoDB Thread 1"},
        },
    )
    assert prefilled.json()["meta"]["count"] == 4
    on_index = api(
        "POST",
        "/api/run",
        json={
            "datasource": "local2",
            "operation": "Query",
            "params": table["index_query_templates"]["PostedBy-Index"],
            "values": {"Id": "Amazon DynamoDB#DynamoDB Thread 1"},
        },
    ).json()
    assert on_index["meta"]["count"] == 4 and "PostedBy" in on_index["data"]["Items"][0]
    # the Query / Scan form's request (tests/test_request_form.py has more): built, not run
    form = {"operation": "Query", "index": "PostedBy-Index", "partition_key": "T1"}
    built = api("POST", "/api/tables/Reply/request?datasource=local2", json=form).json()
    assert json.loads(built["params"])["KeyConditionExpression"] == "#Id = :Id"
    bad = api("POST", "/api/tables/Reply/request?datasource=local2", json={**form, "index": "x"})
    assert bad.status_code == 400 and bad.json()["problems"][0]["path"] == "index"
    assert api("GET", "/api/request-form").json()["arity"]["BETWEEN"] == "2"

    parquet = api("GET", "/api/tables/users/export?datasource=local2&format=parquet")
    assert parquet.headers["content-type"] == "application/vnd.apache.parquet"
    assert parquet.content[:4] == b"PAR1" and parquet.content[-4:] == b"PAR1"
    exported = api("GET", "/api/tables/users/export?datasource=local2&segments=2")
    assert exported.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in exported.text.splitlines()]
    assert sorted(i["employee_id"] for i in lines if i["team_id"] == "team_1") == ["emp_1", "emp_3"]
    assert (
        len(lines)
        == api.workspace.connect("local2")
        .run("Scan", {"TableName": "users"}, all_pages=True)
        .meta["count"]
    )
    csv_text = api("GET", "/api/tables/users/export?datasource=local2&format=csv").text
    assert csv_text.splitlines()[0].count(",") >= 3 and "Aman" in csv_text
    missing = api("GET", "/api/tables/nope/export?datasource=local2")
    assert missing.status_code == 502 and missing.json()["code"] == "ResourceNotFoundException"

    # the page's export: a one-use link the browser follows without the token
    link = api("POST", "/api/tables/users/export/link?datasource=local2&format=csv").json()
    assert link["url"].startswith("/api/downloads/") and link["expires_in"] == 60
    saved = api("GET", link["url"], token=None)
    assert saved.headers["content-disposition"] == 'attachment; filename="users.csv"'
    assert sorted(saved.text.splitlines()) == sorted(csv_text.splitlines())
    assert api("GET", link["url"], token=None).status_code == 404  # once only
    missing = api("POST", "/api/tables/nope/export/link?datasource=local2")
    assert missing.status_code == 502 and missing.json()["code"] == "ResourceNotFoundException"

    # code and cost before running (tests/test_code_api.py has more): nothing runs or is recorded
    scan = {"datasource": "local2", "operation": "Scan", "params": '{"TableName": "{{ t }}"}'}
    code = api("POST", "/api/code", json={**scan, "values": {"t": "users"}, "language": "aws-cli"})
    assert code.json()["code"].startswith("aws dynamodb scan") and SECRET not in code.text
    explained = api("POST", "/api/explain", json={**scan, "values": {"t": "users"}}).json()
    assert explained["cost"]["kind"] == "scan" and explained["request"] == {"TableName": "users"}

    history = api("GET", "/api/history?limit=10").json()
    assert [h["origin"] for h in history] == ["api"] * 6  # with the Query on an index
    assert api("GET", "/api/history?query=team&outcome=ok").json()[0]["query"] == "team"

    exercise_item_routes(api, "local2")  # the item editor's routes
    # the journal of those writes, and undo (tests/test_journal.py has more)
    write = next(h for h in api("GET", "/api/history?limit=20").json() if h["journal"])
    assert api("GET", f"/api/history/{write['id']}/journal").json()[0]["images"] is False
    refused = api("POST", f"/api/history/{write['id']}/undo", json={"confirm": True})
    assert refused.status_code == 400 and "--journal" in refused.json()["message"]

    exercise_user_routes(api, ds)

    assert api("DELETE", f"/api/datasources/{ds['id']}").status_code == 409
    assert api("DELETE", f"/api/queries/{q['id']}").status_code == 204
    assert api("GET", f"/api/queries/{q['id']}").status_code == 404
    assert api("DELETE", f"/api/datasources/{ds['id']}?with_queries=true").status_code == 204
    assert api("GET", "/api/datasources").json() == []

    missing = {(m, p) for p, m in api.routes} - api.called
    assert missing == set(), f"routes not exercised: {missing}"
    assert all(SECRET not in text for text in api.texts)


def exercise_user_routes(api, ds) -> None:
    """A team's routes: a user made, granted a data source, given a token; the page's session
    signed in and out; all undone."""
    made = api("POST", "/api/users", json={"name": "ann", "role": "runner", "password": "pw-12345"})
    assert made.status_code == 201 and made.json()["password"] is True
    assert api("GET", "/api/users").json()[0]["name"] == "ann"
    granted = api("PUT", f"/api/users/ann/grants/{ds['id']}", json={"read_only": True}).json()
    assert [g["read_only"] for g in granted["grants"]] == [True]
    assert api("PUT", "/api/users/ann", json={"role": "editor"}).json()["role"] == "editor"
    token = api("POST", "/api/users/ann/tokens").json()
    assert api("GET", "/api/session", token=token["token"]).json()["user"] == "ann"
    signed_in = api(
        "POST", "/api/session", token=None, json={"name": "ann", "password": "pw-12345"}
    )
    assert signed_in.json()["role"] == "editor" and "HttpOnly" in signed_in.headers["set-cookie"]
    csrf = {"X-CSRF-Token": signed_in.json()["csrf"]}
    assert api("GET", "/api/session", token=None).json()["user"] == "ann"  # the cookie
    assert api("DELETE", "/api/session", token=None, headers=csrf).status_code == 204
    assert api("GET", "/api/session", token=None).status_code == 401
    assert api("DELETE", f"/api/users/ann/tokens/{token['id']}").status_code == 204
    assert api("GET", "/api/session", token=token["token"]).status_code == 401
    assert api("DELETE", f"/api/users/ann/grants/{ds['id']}").json()["grants"] == []
    assert api("DELETE", "/api/users/ann").status_code == 204


def test_errors_are_json_with_the_line_and_the_right_status(api):
    ds = add_local(api)
    bad = api(
        "POST",
        "/api/queries",
        json={
            "name": "q",
            "datasource": ds["id"],
            "operation": "GetItem",
            "params": '{\n  "TableName": "users",\n  "Kye": {}\n}',
        },
    )
    assert bad.status_code == 400
    body = bad.json()
    assert body["error"] == "ValidationError" and body["line"] == 3
    kye = next(p for p in body["problems"] if p["path"] == "Kye")
    assert (kye["line"], kye["column"]) == (3, 3) and "unknown parameter" in kye["message"]
    syntax = api(
        "POST", "/api/check", json={"operation": "GetItem", "params": '{\n "a": 1\n "b": 2}'}
    )
    assert syntax.json()["error"]["line"] == 3 and syntax.json()["ok"] is False
    assert (
        api(
            "POST",
            "/api/queries",
            json={
                "name": "q",
                "datasource": "nope",
                "operation": "Scan",
                "params": '{"TableName": "tbl"}',
            },
        ).status_code
        == 404
    )
    assert api("POST", "/api/datasources", json={"name": "local", "region": "x"}).status_code == 409
    service = api(
        "POST",
        "/api/run",
        json={
            "datasource": ds["id"],
            "operation": "DescribeTable",
            "params": {"TableName": "nope"},
        },
    )
    assert service.status_code == 502 and service.json()["code"] == "ResourceNotFoundException"
    unknown = api(
        "POST",
        "/api/run",
        json={
            "datasource": ds["id"],
            "operation": "Scan",
            "params": '{"TableName": "{{ t }}"}',
            "values": {"x": 1},
        },
    )
    assert unknown.status_code == 400 and "Unknown parameter 'x'" in unknown.json()["message"]
    shape = api("POST", "/api/datasources", json={"name": "x", "regoin": "us-east-1"})
    assert shape.status_code == 400 and "regoin" in shape.json()["message"]
    unknown_route = api("GET", "/api/nothing-here")
    assert unknown_route.status_code == 404 and unknown_route.json()["error"] == "NotFound"
    not_json = api(
        "POST", "/api/run", content="datasource=x", headers={"Content-Type": "text/plain"}
    )
    assert not_json.status_code == 400 and "application/json" in not_json.json()["message"]
    assert all(SECRET not in text for text in api.texts)


def test_read_only_refusal_and_exact_numbers(api):
    ro = add_local(api, "ro", read_only=True)
    refused = api(
        "POST",
        "/api/run",
        json={"datasource": ro["id"], "operation": "DeleteTable", "params": {"TableName": "users"}},
    )
    assert refused.status_code == 403 and "read-only" in refused.json()["message"]
    rw = add_local(api, "rw")
    big = "12345678901234567890.123456789012345678"
    put = api(
        "POST",
        "/api/run",
        json={
            "datasource": rw["id"],
            "operation": "PutItem",
            "params": '{"TableName": "users", "Item": {"team_id": "n", '
            f'"employee_id": "n", "v": {big}, "b": {{"B": "AAEC"}}}}}}',
        },
    )
    assert put.status_code == 200, put.text
    got = api(
        "POST",
        "/api/run",
        json={
            "datasource": rw["id"],
            "operation": "GetItem",
            "params": {"TableName": "users", "Key": {"team_id": "n", "employee_id": "n"}},
        },
    )
    assert f'"v":{big}' in got.text.replace(" ", "")  # every digit, as a JSON number
    assert got.json()["data"]["Item"]["b"] == "AAEC" and got.json()["raw"]["Item"]["b"] == {
        "B": "AAEC"
    }
    # a secret cleared with "" is gone
    api(
        "PUT", f"/api/datasources/{rw['id']}", json={"secret_access_key": "", "access_key_id": None}
    )
    assert api("GET", f"/api/datasources/{rw['id']}").json()["secret_access_key"] is None


def test_a_download_link_works_once_within_its_time_and_names_no_table_but_its_own(api):
    import time

    add_local(api)
    links = api.http.app.state.download_links
    first = api("POST", "/api/tables/users/export/link?datasource=local").json()["url"]
    second = api("POST", "/api/tables/Thread/export/link?datasource=local&format=json").json()[
        "url"
    ]
    assert first != second
    thread = api("GET", second, token=None)
    assert thread.headers["content-type"] == "application/json"
    assert {i["ForumName"] for i in json.loads(thread.text)} == {"Amazon DynamoDB"}
    assert (
        api("GET", first.replace("/api/downloads/", "/api/downloads/x"), token=None).status_code
        == 404
    )
    assert len(api("GET", first, token=None).text.splitlines()) == 5  # users, as JSON lines
    links.seconds = 0.05
    late = api("POST", "/api/tables/users/export/link?datasource=local").json()["url"]
    time.sleep(0.2)
    expired = api("GET", late, token=None)
    assert expired.status_code == 404 and "export the table again" in expired.json()["message"]
    assert api("POST", "/api/tables/users/export/link?datasource=nope").status_code == 404


def test_testing_a_form_with_a_bad_region_is_a_failed_test_not_an_error(api):
    answer = api("POST", "/api/datasources/test", json={"region": "\u00c92\u00dd"})
    assert answer.status_code == 200
    assert answer.json()["ok"] is False and "is not a region name" in answer.json()["message"]


def test_download_links_are_kept_as_digests_and_bounded():
    from dynaquery.server import DownloadLinks

    links = DownloadLinks(max_links=3)
    tickets = [links.new({"name": f"t{i}"}) for i in range(4)]
    assert not any(t in repr(links._links) for t in tickets)  # only digests are kept
    assert links.take(tickets[0]) is None  # the oldest made room
    assert [links.take(t) for t in tickets[1:]] == [{"name": "t1"}, {"name": "t2"}, {"name": "t3"}]
    assert links.take(tickets[1]) is None


def test_openapi_describes_the_routes(api):
    schema = api("GET", "/openapi.json").json()
    documented = {(m.upper(), p) for p, item in schema["paths"].items() for m in item}
    assert documented == {(m, p) for p, m in api.routes}
    run = schema["paths"]["/api/run"]["post"]
    assert run["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "ResultOut"
    )
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


# -- `dynaquery serve` ------------------------------------------------------------------------


def _serve(home, *args, env_extra=None):
    env = clean_env(DYNAQUERY_HOME=str(home), **(env_extra or {}))
    return subprocess.Popen(
        [sys.executable, "-m", "dynaquery", "serve", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _first_lines(process, count: int) -> list[str]:
    return [process.stderr.readline() for _ in range(count)]


def _wait_listening(port: int, seconds: float = 30) -> None:
    import socket
    import time

    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"nothing listens on {port}"
            time.sleep(0.1)


def test_serve_prints_a_new_token_once_and_it_signs_in(tmp_path):
    port = free_port()
    server = _serve(tmp_path, "--port", str(port))
    try:
        lines = _first_lines(server, 2)
        match = re.search(r"open http://127\.0\.0\.1:\d+/#token=(\S+)", lines[0])
        assert match, lines
        token = match.group(1)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/session", headers={"Authorization": f"Bearer {token}"}
        )
        for _ in range(100):
            try:
                body = json.loads(urllib.request.urlopen(request, timeout=5).read())
                break
            except OSError:
                import time

                time.sleep(0.1)
        assert body["ok"] is True
    finally:
        server.terminate()
        server.wait(30)
    again_port = free_port()
    again = _serve(tmp_path, "--port", str(again_port))
    try:
        line = _first_lines(again, 1)[0]
        assert "sign in with the server's token" in line and token not in line
        _wait_listening(again_port)  # every start-up line is written before it listens
    finally:
        again.terminate()
        again.wait(30)
        rest = again.stderr.read()  # through the same reader: it may hold the line already
    assert "run `dynaquery serve --new-token`" in rest  # how to get one again
    with Workspace.open(home=tmp_path) as ws:
        assert ws.get_setting("server_token_sha256") == _digest(token)  # kept hashed only
    new = subprocess.run(
        [sys.executable, "-m", "dynaquery", "serve", "--new-token"],
        env=clean_env(DYNAQUERY_HOME=str(tmp_path)),
        capture_output=True,
        text=True,
    )
    assert new.returncode == 0 and new.stdout.strip() != token


def test_serve_refuses_a_public_address_without_a_token(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "dynaquery",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            str(free_port()),
        ],
        env=clean_env(DYNAQUERY_HOME=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "not a loopback address, without a token: set DYNAQUERY_TOKEN" in done.stderr


def test_demo_engine_is_registered_and_serves_the_spec_tables(tmp_path, monkeypatch):
    """`serve --demo`'s engine (moto in process here: the fallback when Java is missing)."""
    from dynaquery.demo import register
    from dynaquery.local import start_moto_in_process

    monkeypatch.delenv("DYNAQUERY_SECRET_KEY", raising=False)
    with start_moto_in_process() as engine, Workspace.open(home=tmp_path) as workspace:
        register(workspace, engine.endpoint_url)
        register(workspace, engine.endpoint_url)  # again: updated in place, not duplicated
        client = Client(create_app(workspace, _digest(TOKEN), demo=True))
        assert client("GET", "/api/session").json()["demo"] is True
        assert [d["name"] for d in client("GET", "/api/datasources").json()] == ["demo"]
        tables = client("GET", "/api/tables?datasource=demo").json()["tables"]
        assert set(tables) == {"users", "locations", "Thread", "Reply"}
        example = client("GET", "/api/operations/GetItem").json()["example"]
        result = client(
            "POST",
            "/api/run",
            json={"datasource": "demo", "operation": "GetItem", "params": example},
        )
        assert result.status_code == 200 and result.json()["data"]["Item"]["name"] == "Aman"


def exercise_item_routes(api, datasource: str) -> None:
    """The item editor's routes (tests/test_items.py has more): read, save on a condition, a
    conflict, create, delete (asked first); the runs are in the history. Called by
    test_the_whole_api, whose check that every route is called counts them."""
    base = "/api/tables/users"
    key = '{"team_id": "team_1", "employee_id": "emp_1"}'
    loaded = api("GET", f"{base}/item?datasource={datasource}&key={key}").json()
    assert loaded["plain"]["name"] == "Aman" and loaded["typed"]["name"] == {"S": "Aman"}
    edited = json.dumps({**loaded["plain"], "name": "Aman B."})
    body = {"datasource": datasource, "loaded": loaded["typed"], "item": edited}
    saved = api("PUT", f"{base}/item", json=body)
    assert saved.status_code == 200 and saved.json()["plain"]["name"] == "Aman B."
    again = api("PUT", f"{base}/item", json={**body, "item": json.dumps(loaded["plain"])})
    assert again.status_code == 409
    assert again.json()["current"]["plain"]["name"] == "Aman B."
    new = {"team_id": "team_9", "employee_id": "emp_9", "name": "New"}
    created = api("POST", f"{base}/items", json={"datasource": datasource, "item": json.dumps(new)})
    assert created.status_code == 200
    twice = api("POST", f"{base}/items", json={"datasource": datasource, "item": new})
    assert twice.status_code == 409
    keys = [{"team_id": "team_9", "employee_id": "emp_9"}]
    delete = {"datasource": datasource, "keys": keys}
    assert api("POST", f"{base}/items/delete", json=delete).status_code == 428
    deleted = api("POST", f"{base}/items/delete", json={**delete, "confirm": True}).json()
    assert deleted["deleted"] == 1 and deleted["complete"] is True
    gone = api("GET", f"{base}/item?datasource={datasource}&key={json.dumps(keys[0])}")
    assert gone.status_code == 404
    operations = [h["operation"] for h in api("GET", "/api/history?limit=20").json()]
    assert {"GetItem", "UpdateItem", "PutItem", "BatchWriteItem"} <= set(operations)
