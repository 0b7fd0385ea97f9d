"""Users and roles, enforced by the server (issue 15): every route of the application against
every role (admin, editor, runner, the server's token, no sign-in), on a data source granted and
on one not granted; what a runner or an editor may see (no secret, no setting of a data source,
no data source or query not granted to them, in any answer of any route); and grants: read-only,
revoked, a removed user, a role changed. Against DynamoDB Local, on SQLite and PostgreSQL.

The rule of each route is RULES, a table that names every route: a route the application has and
the table does not fails the matrix (so does a rule of a route the application lost)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace

import boto3
import pytest
import sqlalchemy as sa
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from dynaquery import Workspace, store
from dynaquery.server import _digest, create_app
from dynaquery.settings import NAMES

from support import Endpoint

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx`")  # starlette's own TestClient note

TOKEN = "roles-server-token-" + "Zr4Lk93PqT"
SECRET = "sentinel-roles-secret-" + "Qx81Wm"
SESSION_TOKEN = "sentinel-roles-session-" + "Vb27Np"
REGION = "eu-south-2"  # a region no answer names unless it shows a data source's settings
USERS = {"admin": "ada", "editor": "eddie", "runner": "rita"}
PASSWORDS = {"ada": "ada-pass-Hq62vR", "eddie": "eddie-pass-Tn05cW", "rita": "rita-pass-Lm38kD"}
ROLES = ("none", "runner", "editor", "admin", "token")  # "token": the server's own token
COOKIE = "dynaquery_session"
QUERY = (
    '{"TableName": "%s", "KeyConditionExpression": "pk = :p", '
    '"ExpressionAttributeValues": {":p": "{{ pk }}"}}'
)

# What each route needs: "public" (no sign-in), "run" (every role), "edit" (editor, admin),
# "manage" (admin); and what it acts on, when a data source or query not granted gives 404:
# "ds" (a data source), "query" (a saved query), "run" (a run of the history).
RULES: dict[tuple[str, str], tuple[str, str | None]] = {
    ("GET", "/"): ("public", None),
    ("GET", "/api/downloads/{ticket}"): ("public", None),
    ("POST", "/api/session"): ("public", None),
    ("GET", "/api/session"): ("run", None),
    ("DELETE", "/api/session"): ("run", None),
    ("GET", "/openapi.json"): ("run", None),
    ("GET", "/api/operations"): ("run", None),
    ("GET", "/api/operations/{name}"): ("run", None),
    ("GET", "/api/settings"): ("manage", None),
    ("GET", "/api/datasources"): ("run", None),
    ("POST", "/api/datasources"): ("manage", None),
    ("GET", "/api/datasources/{ds_id}"): ("run", "ds"),
    ("PUT", "/api/datasources/{ds_id}"): ("manage", "ds"),
    ("DELETE", "/api/datasources/{ds_id}"): ("manage", "ds"),
    ("POST", "/api/datasources/test"): ("manage", None),
    ("POST", "/api/datasources/{ds_id}/test"): ("manage", "ds"),
    ("GET", "/api/queries"): ("run", None),
    ("POST", "/api/queries"): ("edit", "ds"),
    ("GET", "/api/queries/{query_id}"): ("run", "query"),
    ("PUT", "/api/queries/{query_id}"): ("edit", "query"),
    ("DELETE", "/api/queries/{query_id}"): ("edit", "query"),
    ("POST", "/api/queries/{query_id}/run"): ("run", "query"),
    ("POST", "/api/run"): ("edit", "ds"),
    ("POST", "/api/check"): ("edit", None),
    ("POST", "/api/code"): ("edit", "ds"),
    ("POST", "/api/explain"): ("edit", "ds"),
    ("GET", "/api/tables"): ("edit", "ds"),
    ("GET", "/api/tables/{name}"): ("edit", "ds"),
    ("GET", "/api/request-form"): ("edit", None),
    ("POST", "/api/tables/{name}/request"): ("edit", "ds"),
    ("GET", "/api/tables/{name}/export"): ("edit", "ds"),
    ("POST", "/api/tables/{name}/export/link"): ("edit", "ds"),
    ("GET", "/api/tables/{name}/item"): ("edit", "ds"),
    ("PUT", "/api/tables/{name}/item"): ("edit", "ds"),
    ("POST", "/api/tables/{name}/items"): ("edit", "ds"),
    ("POST", "/api/tables/{name}/items/delete"): ("edit", "ds"),
    ("GET", "/api/history"): ("run", None),
    ("GET", "/api/history/{run_id}/journal"): ("edit", "run"),
    ("POST", "/api/history/{run_id}/undo"): ("edit", "run"),
    ("GET", "/api/users"): ("manage", None),
    ("POST", "/api/users"): ("manage", None),
    ("PUT", "/api/users/{name}"): ("manage", None),
    ("DELETE", "/api/users/{name}"): ("manage", None),
    ("POST", "/api/users/{name}/tokens"): ("manage", None),
    ("DELETE", "/api/users/{name}/tokens/{token_id}"): ("manage", None),
    ("PUT", "/api/users/{name}/grants/{datasource}"): ("manage", None),
    ("DELETE", "/api/users/{name}/grants/{datasource}"): ("manage", None),
}
NEEDED = {"edit": "editor", "manage": "admin"}
# An allowed request is answered 2xx, but for these (what REQUESTS sends them is no success): a
# made-up download link, an undo of a run without a journal, a delete not confirmed.
NOT_A_SUCCESS = {
    ("GET", "/api/downloads/{ticket}"): 404,
    ("POST", "/api/history/{run_id}/undo"): 400,
    ("POST", "/api/tables/{name}/items/delete"): 428,
}


def app_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every route the application answers (the static files' mount aside)."""
    return sorted(
        (method, route.path)
        for route in iter_route_contexts(app.routes)
        for method in getattr(route, "methods", None) or ()
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class Req:
    method: str
    url: str
    body: dict | None = None
    headers: dict = field(default_factory=dict)
    bearer: bool = True  # send the role's token (False: the request carries its own sign-in)
    check: Callable | None = None  # what a success must hold, beyond its status


class Team:
    """A workspace with a data source granted to the editor and the runner and one granted to
    no one ("the vault", on a DynamoDB Local database of its own), each with a table and a saved
    query; users of every role with an API token; the API over it, through a TestClient that
    keeps every answer each role got."""

    def __init__(self, workspace: Workspace, endpoint_url: str):
        self.workspace = workspace
        self.users = workspace.users
        self.app = create_app(workspace, _digest(TOKEN))
        self.http = TestClient(self.app)
        # each role's answers (text, headers), with what the request sent
        self.texts: dict[str, list[tuple[str, str]]] = {role: [] for role in ROLES}
        self.endpoint = Endpoint(endpoint_url, region=REGION)
        self.vault_endpoint = Endpoint(endpoint_url, region=REGION)
        self.table, self.vault_table = unique("roles"), unique("vault")
        self.vault_item = unique("vault-item")
        self.ddb = self._table(self.endpoint, self.table, [{"pk": "a", "name": "Ann"}])
        self._table(self.vault_endpoint, self.vault_table, [{"pk": "a", "name": self.vault_item}])
        self.granted = workspace.add_datasource(unique("shared"), **self.settings(self.endpoint))
        self.vault = workspace.add_datasource(
            unique("vault"), description=unique("vault-notes"), **self.settings(self.vault_endpoint)
        )
        self.tokens = {"token": TOKEN}
        for role, name in USERS.items():
            self.users.add(name, role, PASSWORDS[name])
            self.tokens[role] = self.users.new_token(name)[1]
        for name in ("eddie", "rita"):
            self.users.grant(name, self.granted.id)
        self.query = workspace.save_query(
            unique("team"), self.granted.id, "Query", QUERY % self.table
        )
        self.vault_query = workspace.save_query(
            unique("payroll"), self.vault.id, "Query", QUERY % self.vault_table
        )
        self.granted_run = self._write_run(self.granted.id, self.table)
        self.vault_run = self._write_run(self.vault.id, self.vault_table)
        workspace.run_query(self.vault_query.id, {"pk": "a"})  # the admin's run on the vault

    @staticmethod
    def settings(endpoint: Endpoint) -> dict:
        return {**endpoint.settings(), "secret_access_key": SECRET, "session_token": SESSION_TOKEN}

    @staticmethod
    def _table(endpoint: Endpoint, name: str, items: list[dict]):
        client = boto3.client(
            "dynamodb",
            endpoint_url=endpoint.endpoint_url,
            region_name=REGION,
            aws_access_key_id=endpoint.access_key,
            aws_secret_access_key=endpoint.secret_key,
        )
        client.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for item in items:
            client.put_item(TableName=name, Item={k: {"S": v} for k, v in item.items()})
        return client

    def _write_run(self, datasource: str, table: str) -> int:
        self.workspace.create_item(datasource, table, {"pk": unique("written")})
        return self.workspace.history(limit=1)[0].id

    # -- calling the API -----------------------------------------------------------------------

    def call(self, role: str, method: str, url: str, *, bearer: bool = True, **kwargs):
        headers = dict(kwargs.pop("headers", None) or {})
        if bearer and role in self.tokens:
            headers["Authorization"] = f"Bearer {self.tokens[role]}"
        answer = self.http.request(method, url, headers=headers, **kwargs)
        self.http.cookies.clear()  # a cookie goes only where a test sends it
        sent = url + json.dumps(kwargs.get("json")) + json.dumps(headers)
        self.texts[role] += [(sent, answer.text), (sent, json.dumps(dict(answer.headers)))]
        return answer

    def sign_in(self, role: str) -> tuple[str, str]:
        """A new session of the role's user (the server's token for "token"): (cookie, CSRF)."""
        body = {"token": TOKEN} if role == "token" else {"name": USERS[role]}
        if role != "token":
            body["password"] = PASSWORDS[USERS[role]]
        answer = self.call(role, "POST", "/api/session", bearer=False, json=body)
        assert answer.status_code == 200, answer.text
        return answer.cookies[COOKIE], answer.json()["csrf"]

    def item(self, pk: str = "a") -> dict | None:
        return self.ddb.get_item(TableName=self.table, Key={"pk": {"S": pk}}).get("Item")

    def snapshot(self) -> tuple:
        """What a refused request must leave as it was: the workspace's data sources, queries
        and users, and the granted table's items."""
        items = self.ddb.scan(TableName=self.table)["Items"]
        return (
            [ds.to_dict() for ds in self.workspace.datasources()],
            [q.to_dict() for q in self.workspace.queries()],
            self.users.list(),
            sorted(json.dumps(i, sort_keys=True) for i in items),
        )

    # -- what a route is sent --------------------------------------------------------------------

    def scope(self, granted: bool, role: str) -> SimpleNamespace:
        ds = self.granted if granted else self.vault
        return SimpleNamespace(
            ds=ds,
            table=self.table if granted else self.vault_table,
            query=self.query if granted else self.vault_query,
            run=self.granted_run if granted else self.vault_run,
            granted=granted,
            role=role,
        )

    def fresh_datasource(self, s) -> str:
        """A data source to remove: granted to the role's user in the granted scope."""
        ds = self.workspace.add_datasource(unique("spare"), **self.settings(self.endpoint))
        if s.granted and s.role in ("editor", "runner"):
            self.users.grant(USERS[s.role], ds.id)
        return ds.id

    def fresh_user(self, granted: str | None = None) -> str:
        """A runner to change or remove (granted the data source `granted`)."""
        name = unique("user")
        self.users.add(name, "runner")
        if granted:
            self.users.grant(name, granted)
        return name

    def fresh_token(self) -> tuple[str, str]:
        """(a new user, the id of their token), to revoke."""
        name = self.fresh_user()
        return name, self.users.new_token(name)[0]

    def request(self, route: tuple[str, str], s) -> Req:
        return REQUESTS[route](self, s)


def _session_in(team: Team, s) -> Req:
    if s.role == "none":  # no sign-in: the name and password are the sign-in
        body = {"name": "rita", "password": PASSWORDS["rita"]}
    else:
        body = {"token": team.tokens[s.role]}
    expected = "runner" if s.role == "none" else ("admin" if s.role == "token" else s.role)
    return Req("POST", "/api/session", body, check=_signed_in_as(expected))


def _session_out(team: Team, s) -> Req:
    if s.role == "none":
        return Req("DELETE", "/api/session")
    cookie, csrf = team.sign_in(s.role)
    headers = {"Cookie": f"{COOKIE}={cookie}", "X-CSRF-Token": csrf}
    return Req("DELETE", "/api/session", headers=headers, bearer=False)


def _signed_in_as(role: str):
    def check(answer):
        body = answer.json()
        assert body["role"] == role and body["can"]["run"] is True, body
        assert body["can"]["edit"] is (role != "runner") and body["can"]["manage"] is (
            role == "admin"
        ), body

    return check


def _ran_get_item(answer) -> None:
    assert answer.json()["data"]["Item"] == {"pk": "a", "name": "Ann"}, answer.text


def _ran_the_query(answer) -> None:
    assert answer.json()["data"]["Items"] == [{"pk": "a", "name": "Ann"}], answer.text


def _only_granted(team: Team, s):
    def check(answer):
        names = [d["name"] for d in answer.json()]
        if s.role in ("editor", "runner"):
            grants = team.users.get(USERS[s.role])["grants"]
            assert sorted(names) == sorted(g["datasource"] for g in grants), names
            assert team.granted.name in names and team.vault.name not in names, names
            assert all(d.get(n) is None for d in answer.json() for n in NAMES), answer.text
            assert all(d.get("settings") is None for d in answer.json()), answer.text
        else:
            assert team.vault.name in names, names

    return check


def _item_url(s, tail: str = "") -> str:
    return f"/api/tables/{s.table}{tail}?datasource={s.ds.id}"


def _get_item(s) -> dict:
    return {"TableName": s.table, "Key": {"pk": "a"}}


REQUESTS: dict[tuple[str, str], Callable[[Team, SimpleNamespace], Req]] = {
    ("GET", "/"): lambda t, s: Req("GET", "/"),
    ("GET", "/api/downloads/{ticket}"): lambda t, s: Req("GET", "/api/downloads/made-up"),
    ("POST", "/api/session"): _session_in,
    ("GET", "/api/session"): lambda t, s: Req(
        "GET",
        "/api/session",
        check=_signed_in_as("admin" if s.role == "token" else s.role),
    ),
    ("DELETE", "/api/session"): _session_out,
    ("GET", "/openapi.json"): lambda t, s: Req("GET", "/openapi.json"),
    ("GET", "/api/operations"): lambda t, s: Req("GET", "/api/operations"),
    ("GET", "/api/operations/{name}"): lambda t, s: Req("GET", "/api/operations/GetItem"),
    ("GET", "/api/settings"): lambda t, s: Req("GET", "/api/settings"),
    ("GET", "/api/datasources"): lambda t, s: Req(
        "GET", "/api/datasources", check=_only_granted(t, s)
    ),
    ("POST", "/api/datasources"): lambda t, s: Req(
        "POST", "/api/datasources", {"name": unique("new"), "region": REGION}
    ),
    ("GET", "/api/datasources/{ds_id}"): lambda t, s: Req("GET", f"/api/datasources/{s.ds.id}"),
    ("PUT", "/api/datasources/{ds_id}"): lambda t, s: Req(
        "PUT", f"/api/datasources/{s.ds.id}", {"description": "changed"}
    ),
    ("DELETE", "/api/datasources/{ds_id}"): lambda t, s: Req(
        "DELETE", f"/api/datasources/{t.fresh_datasource(s)}"
    ),
    ("POST", "/api/datasources/test"): lambda t, s: Req(
        "POST", "/api/datasources/test", t.settings(t.endpoint)
    ),
    ("POST", "/api/datasources/{ds_id}/test"): lambda t, s: Req(
        "POST", f"/api/datasources/{s.ds.id}/test"
    ),
    ("GET", "/api/queries"): lambda t, s: Req("GET", "/api/queries"),
    ("POST", "/api/queries"): lambda t, s: Req(
        "POST",
        "/api/queries",
        {
            "name": unique("saved"),
            "datasource": s.ds.id,
            "operation": "GetItem",
            "params": json.dumps(_get_item(s)),
        },
    ),
    ("GET", "/api/queries/{query_id}"): lambda t, s: Req("GET", f"/api/queries/{s.query.id}"),
    ("PUT", "/api/queries/{query_id}"): lambda t, s: Req(
        "PUT", f"/api/queries/{s.query.id}", {"description": "changed"}
    ),
    ("DELETE", "/api/queries/{query_id}"): lambda t, s: Req(
        "DELETE",
        "/api/queries/"
        + t.workspace.save_query(unique("spare"), s.ds.id, "GetItem", json.dumps(_get_item(s))).id,
    ),
    ("POST", "/api/queries/{query_id}/run"): lambda t, s: Req(
        "POST",
        f"/api/queries/{s.query.id}/run",
        {"values": {"pk": "a"}},
        check=_ran_the_query,
    ),
    ("POST", "/api/run"): lambda t, s: Req(
        "POST",
        "/api/run",
        {"datasource": s.ds.id, "operation": "GetItem", "params": _get_item(s)},
        check=_ran_get_item,
    ),
    ("POST", "/api/check"): lambda t, s: Req(
        "POST", "/api/check", {"operation": "GetItem", "params": json.dumps(_get_item(s))}
    ),
    ("POST", "/api/code"): lambda t, s: Req(
        "POST",
        "/api/code",
        {"datasource": s.ds.id, "operation": "GetItem", "params": _get_item(s)},
    ),
    ("POST", "/api/explain"): lambda t, s: Req(
        "POST",
        "/api/explain",
        {"datasource": s.ds.id, "operation": "GetItem", "params": _get_item(s)},
    ),
    ("GET", "/api/tables"): lambda t, s: Req("GET", f"/api/tables?datasource={s.ds.id}"),
    ("GET", "/api/tables/{name}"): lambda t, s: Req("GET", _item_url(s)),
    ("GET", "/api/request-form"): lambda t, s: Req("GET", "/api/request-form"),
    ("POST", "/api/tables/{name}/request"): lambda t, s: Req(
        "POST", _item_url(s, "/request"), {"operation": "Scan"}
    ),
    ("GET", "/api/tables/{name}/export"): lambda t, s: Req("GET", _item_url(s, "/export")),
    ("POST", "/api/tables/{name}/export/link"): lambda t, s: Req(
        "POST", _item_url(s, "/export/link")
    ),
    ("GET", "/api/tables/{name}/item"): lambda t, s: Req(
        "GET", _item_url(s, "/item") + '&key={"pk": "a"}'
    ),
    ("PUT", "/api/tables/{name}/item"): lambda t, s: Req(
        "PUT",
        f"/api/tables/{s.table}/item",
        {
            "datasource": s.ds.id,
            "loaded": {"pk": {"S": "a"}, "name": {"S": "Ann"}},
            "item": {"pk": "a", "name": "Ann"},
        },
    ),
    ("POST", "/api/tables/{name}/items"): lambda t, s: Req(
        "POST",
        f"/api/tables/{s.table}/items",
        {"datasource": s.ds.id, "item": {"pk": unique("created")}},
    ),
    ("POST", "/api/tables/{name}/items/delete"): lambda t, s: Req(
        "POST",
        f"/api/tables/{s.table}/items/delete",
        {"datasource": s.ds.id, "keys": [{"pk": "not-there"}]},  # 428: not confirmed
    ),
    ("GET", "/api/history"): lambda t, s: Req("GET", "/api/history?limit=1000"),
    ("GET", "/api/history/{run_id}/journal"): lambda t, s: Req(
        "GET", f"/api/history/{s.run}/journal"
    ),
    ("POST", "/api/history/{run_id}/undo"): lambda t, s: Req(
        "POST", f"/api/history/{s.run}/undo", {"confirm": False}
    ),
    ("GET", "/api/users"): lambda t, s: Req("GET", "/api/users"),
    ("POST", "/api/users"): lambda t, s: Req(
        "POST", "/api/users", {"name": unique("new"), "role": "runner"}
    ),
    ("PUT", "/api/users/{name}"): lambda t, s: Req(
        "PUT", f"/api/users/{t.fresh_user()}", {"role": "editor"}
    ),
    ("DELETE", "/api/users/{name}"): lambda t, s: Req("DELETE", f"/api/users/{t.fresh_user()}"),
    ("POST", "/api/users/{name}/tokens"): lambda t, s: Req(
        "POST", f"/api/users/{t.fresh_user()}/tokens"
    ),
    ("DELETE", "/api/users/{name}/tokens/{token_id}"): lambda t, s: Req(
        "DELETE", "/api/users/{}/tokens/{}".format(*t.fresh_token())
    ),
    ("PUT", "/api/users/{name}/grants/{datasource}"): lambda t, s: Req(
        "PUT", f"/api/users/{t.fresh_user()}/grants/{s.ds.name}", {"read_only": True}
    ),
    ("DELETE", "/api/users/{name}/grants/{datasource}"): lambda t, s: Req(
        "DELETE", f"/api/users/{t.fresh_user(s.ds.id)}/grants/{s.ds.name}"
    ),
}


@pytest.fixture
def team(tmp_path, dynamodb_local, monkeypatch, database_url):
    monkeypatch.delenv("DYNAQUERY_SECRET_KEY", raising=False)
    workspace = Workspace.open(database_url, home=tmp_path)
    yield Team(workspace, dynamodb_local.endpoint_url)
    workspace.close()


# -- every route x every role --------------------------------------------------------------------


def expected(rule: str, role: str, granted: bool) -> set[int] | None:
    """The statuses the role may get (None: allowed, any status but 401, 403, 429 or 5xx)."""
    if role == "none":
        return None if rule == "public" else {401}
    if role in ("admin", "token") or rule in ("public", "run") and granted:
        return None
    if granted:
        return {403} if rule == "manage" or (rule == "edit" and role == "runner") else None
    # not granted: a role refused the route may be told so (403) or not shown it (404)
    allowed = rule == "run" or (rule == "edit" and role == "editor")
    return {404} if allowed else {403, 404}


def send(team: Team, role: str, request: Req):
    return team.call(
        role,
        request.method,
        request.url,
        json=request.body,
        headers=request.headers,
        bearer=request.bearer,
    )


def _allowed(route, request: Req, answer, where: str, granted: bool) -> list[str]:
    """What is wrong with an allowed request's answer: on what is granted, a success (2xx, or
    NOT_A_SUCCESS's status) holding what the request's check wants; on what is not, any
    answer but a refusal (401, 403, 429) or a failure (5xx)."""
    status, text = answer.status_code, answer.text[:300]
    if status in (401, 403, 429) or status >= 500:
        return [f"{where}: {status}, expected allowed: {text}"]
    if not granted:
        return []
    if route in NOT_A_SUCCESS:
        good = status == NOT_A_SUCCESS[route]
        return [] if good else [f"{where}: {status}, expected {NOT_A_SUCCESS[route]}: {text}"]
    if not 200 <= status < 300:
        return [f"{where}: {status}, expected a success: {text}"]
    try:
        if request.check:
            request.check(answer)
    except AssertionError as error:
        return [f"{where}: {error}"]
    return []


def judge(team: Team, route: tuple[str, str], role: str, granted: bool) -> list[str]:
    """What is wrong with the role's answer to the route ([] when it is as RULES says)."""
    rule = RULES[route][0]
    wanted = expected(rule, role, granted)
    request = team.request(route, team.scope(granted, role))
    before = team.snapshot() if wanted is not None else None
    answer = send(team, role, request)
    where = f"{request.method} {request.url} as {role} ({'granted' if granted else 'not granted'})"
    status, text = answer.status_code, answer.text[:300]
    if wanted is None:
        return _allowed(route, request, answer, where, granted)
    problems = [] if status in wanted else [f"{where}: {status}, expected {wanted}: {text}"]
    error = answer.json().get("error") if "json" in answer.headers.get("content-type", "") else None
    named = {401: "Unauthorized", 403: "Forbidden", 404: "NotFound"}.get(status)
    if status in wanted and error != named:
        problems.append(f"{where}: error {error!r}, expected {named!r}")
    if status == 403 in wanted and f"needs the {NEEDED.get(rule, '?')} role" not in answer.text:
        problems.append(f"{where}: the refusal does not name the role needed: {text}")
    if team.snapshot() != before:
        problems.append(f"{where}: refused ({status}) but something changed")
    return problems


def test_every_route_against_every_role(team):
    """Each route of the application, called by every role on what is granted (and, when it
    acts on a data source, a query or a run, on what is not): allowed or refused as RULES says;
    a refusal changes nothing. The main successes are checked for their result: an editor's
    ad hoc GetItem, a runner's saved query run with a placeholder."""
    routes = app_routes(team.app)
    assert [r for r in routes if r not in RULES] == [], "routes without a rule in RULES"
    assert [r for r in RULES if r not in routes] == [], "RULES names routes the app lacks"
    problems = []
    for route in routes:
        for role in ROLES:
            problems += judge(team, route, role, granted=True)
            if RULES[route][1] and role != "none":
                problems += judge(team, route, role, granted=False)
    assert problems == [], "\n".join(problems)


def test_a_new_route_without_a_rule_fails_the_matrix(team):
    """The matrix's route list is the application's: a route added later, with no rule in
    RULES, is found."""
    from fastapi import APIRouter

    extra = APIRouter()
    extra.add_api_route("/api/new-thing", lambda: {}, methods=["GET"])
    team.app.include_router(extra)
    assert [r for r in app_routes(team.app) if r not in RULES] == [("GET", "/api/new-thing")]


# -- what a runner and an editor see --------------------------------------------------------------


def _probes(team: Team) -> list[tuple[str, str, dict | None]]:
    """Requests naming what is not granted, by near misses and unknown names: an answer must
    not say 'did you mean' one of them, nor list the saved ones."""
    near_ds, near_query = team.vault.name[:-1], team.vault_query.name[:-1]
    run = {"operation": "GetItem", "params": {"TableName": "t", "Key": {"pk": "a"}}}
    probes = []
    for ds in (near_ds, team.vault.name, "nothing-here"):
        probes += [
            ("GET", f"/api/datasources/{ds}", None),
            ("GET", f"/api/tables?datasource={ds}", None),
            ("POST", "/api/run", {"datasource": ds, **run}),
            ("GET", f"/api/queries?datasource={ds}", None),
            ("GET", f"/api/history?datasource={ds}", None),
        ]
    for query in (near_query, team.vault_query.name, "nothing-here"):
        probes += [
            ("GET", f"/api/queries/{query}", None),
            ("POST", f"/api/queries/{query}/run", {"values": {"pk": "a"}}),
            ("GET", f"/api/history?query={query}", None),
        ]
    return probes


def _unseen(team: Team, others: list[str]) -> list[str]:
    """What the role must never be shown."""
    db = store.transaction
    with db(team.workspace.engine) as conn:
        kept = [
            *conn.execute(sa.select(store.users.c.password_hash)).scalars(),
            *conn.execute(sa.select(store.api_tokens.c.digest)).scalars(),
            *conn.execute(sa.select(store.sessions.c.digest)).scalars(),
        ]
    ep, vault = team.endpoint, team.vault_endpoint
    return [
        *(s for s in kept if s),
        *others,
        SECRET,
        SESSION_TOKEN,
        TOKEN,
        *(token for r, token in team.tokens.items() if r != "token"),
        *PASSWORDS.values(),
        ep.endpoint_url,
        REGION,
        ep.access_key,
        vault.access_key,
        team.vault.name,
        team.vault.id,
        team.vault.description,
        team.vault_query.name,
        team.vault_query.id,
        team.vault_table,
        team.vault_item,
    ]


def test_a_runner_and_an_editor_never_see_what_is_not_theirs(team):
    """Every route (on what is granted and what is not) and the probes naming the vault, as a
    runner and as an editor: no secret, token, password, hash or digest, no other session's
    cookie or CSRF token, no data source setting, nothing of the data source and query not
    granted to them, in any answer's text or headers."""
    sessions = {role: team.sign_in(role) for role in ("admin", "editor", "runner")}
    routes = app_routes(team.app)
    for role in ("runner", "editor"):
        for route in routes:
            for granted in (True, False):
                send(team, role, team.request(route, team.scope(granted, role)))
        for method, url, body in _probes(team):
            team.call(role, method, url, json=body)
    leaks = []
    for role in ("runner", "editor"):
        others = [part for r, pair in sessions.items() if r != role for part in pair]
        unseen = _unseen(team, others)
        for sent, text in team.texts[role]:
            found = [s for s in unseen if s in text and s not in sent]  # not an echo of its own
            if found:
                leaks.append(f"{role} was shown {found[:3]} in: {text[:400]}")
    assert leaks == [], "\n".join(leaks)


def test_a_non_admin_sees_only_their_own_runs(team):
    """The history: the admin's and the command line's runs stay theirs; a runner sees the
    runs it made, each saying who ran it."""
    ran = team.call("runner", "POST", f"/api/queries/{team.query.id}/run", json={"values": {}})
    assert ran.status_code in (200, 400), ran.text  # {{ pk }} missing: a failed run is a run
    team.call("runner", "POST", f"/api/queries/{team.query.id}/run", json={"values": {"pk": "a"}})
    send(team, "editor", REQUESTS[("POST", "/api/run")](team, team.scope(True, "editor")))
    send(team, "token", REQUESTS[("POST", "/api/run")](team, team.scope(True, "token")))
    mine = team.call("runner", "GET", "/api/history?limit=1000").json()
    assert mine and {r["ran_by"] for r in mine} == {"rita"}, mine
    everyone = team.call("admin", "GET", "/api/history?limit=1000").json()
    assert {"rita", "eddie", "api"} <= {r["ran_by"] for r in everyone}  # api: the server's token
    assert len(everyone) > len(mine)


# -- grants ---------------------------------------------------------------------------------------


def _put_body(team: Team, name: str) -> dict:
    return {
        "datasource": team.granted.name,
        "operation": "PutItem",
        "params": {"TableName": team.table, "Item": {"pk": "a", "name": name}},
    }


def test_a_read_only_grant_runs_reads_and_refuses_every_write(team):
    granted = team.call(
        "admin",
        "PUT",
        f"/api/users/eddie/grants/{team.granted.name}",
        json={"read_only": True},
    )
    assert granted.status_code == 200, granted.text
    assert granted.json()["grants"] == [{"datasource": team.granted.name, "read_only": True}]
    team.users.grant("rita", team.granted.id, read_only=True)
    [shown] = team.call("editor", "GET", "/api/datasources").json()
    assert shown["read_only"] is True
    assert team.call("editor", "GET", f"/api/datasources/{team.granted.id}").json()["read_only"]
    read = REQUESTS[("POST", "/api/run")](team, team.scope(True, "editor"))
    _ran_get_item(team.call("editor", "POST", "/api/run", json=read.body))
    base = f"/api/tables/{team.table}"
    ds = team.granted.id
    loaded = {"pk": {"S": "a"}, "name": {"S": "Ann"}}
    writes = [
        ("POST", "/api/run", _put_body(team, "Changed")),
        (
            "PUT",
            f"{base}/item",
            {"datasource": ds, "loaded": loaded, "item": {"pk": "a", "x": "1"}},
        ),
        ("POST", f"{base}/items", {"datasource": ds, "item": {"pk": "new-one"}}),
        (
            "POST",
            f"{base}/items/delete",
            {"datasource": ds, "keys": [{"pk": "a"}], "confirm": True},
        ),
    ]
    for method, url, body in writes:
        answer = team.call("editor", method, url, json=body)
        assert answer.status_code == 403, (method, url, answer.text)
        assert answer.json()["error"] in ("ReadOnlyError", "Forbidden"), answer.text
    drop = {"datasource": ds, "operation": "DeleteTable", "params": {"TableName": team.table}}
    assert (
        team.call("editor", "POST", "/api/run", json={**drop, "confirm": True}).status_code == 403
    )
    assert team.item() == {"pk": {"S": "a"}, "name": {"S": "Ann"}}
    assert team.item("new-one") is None
    # a runner's saved write on a read-only grant: 403 ReadOnlyError, nothing written
    rename = team.workspace.save_query(
        unique("rename"),
        team.granted.id,
        "PutItem",
        json.dumps({"TableName": team.table, "Item": {"pk": "a", "name": "{{ name }}"}}),
    )
    refused = team.call(
        "runner", "POST", f"/api/queries/{rename.id}/run", json={"values": {"name": "Changed"}}
    )
    assert refused.status_code == 403 and refused.json()["error"] == "ReadOnlyError", refused.text
    assert team.item() == {"pk": {"S": "a"}, "name": {"S": "Ann"}}
    ran = team.call(
        "runner", "POST", f"/api/queries/{team.query.id}/run", json={"values": {"pk": "a"}}
    )
    _ran_the_query(ran)
    # the same write with the grant made writable again: it writes (the refusal was the grant's)
    team.users.grant("rita", team.granted.id, read_only=False)
    done = team.call(
        "runner", "POST", f"/api/queries/{rename.id}/run", json={"values": {"name": "Changed"}}
    )
    assert done.status_code == 200, done.text
    assert team.item()["name"] == {"S": "Changed"}


def test_a_read_only_data_source_stays_read_only_under_a_writable_grant(team):
    team.workspace.update_datasource(team.granted.id, read_only=True)
    [shown] = team.call("editor", "GET", "/api/datasources").json()
    assert shown["read_only"] is True and team.users.get("eddie")["grants"][0]["read_only"] is False
    read = REQUESTS[("POST", "/api/run")](team, team.scope(True, "editor"))
    _ran_get_item(send(team, "editor", read))
    refused = team.call("editor", "POST", "/api/run", json=_put_body(team, "Changed"))
    assert refused.status_code == 403 and refused.json()["error"] == "ReadOnlyError", refused.text
    assert team.item() == {"pk": {"S": "a"}, "name": {"S": "Ann"}}


def test_a_revoked_grant_takes_effect_at_once(team):
    cookie, csrf = team.sign_in("editor")
    page = {"Cookie": f"{COOKIE}={cookie}", "X-CSRF-Token": csrf}
    read = REQUESTS[("POST", "/api/run")](team, team.scope(True, "editor")).body
    for bearer in (True, False):
        answer = team.call("editor", "POST", "/api/run", json=read, headers=page, bearer=bearer)
        _ran_get_item(answer)
    _ran_the_query(
        team.call(
            "runner", "POST", f"/api/queries/{team.query.id}/run", json={"values": {"pk": "a"}}
        )
    )
    for name in ("eddie", "rita"):
        revoked = team.call("admin", "DELETE", f"/api/users/{name}/grants/{team.granted.name}")
        assert revoked.status_code == 200 and revoked.json()["grants"] == [], revoked.text
    for bearer in (True, False):  # the token and the page's session alike
        answer = team.call("editor", "POST", "/api/run", json=read, headers=page, bearer=bearer)
        assert answer.status_code == 404, answer.text
        listed = team.call("editor", "GET", "/api/datasources", headers=page, bearer=bearer)
        assert listed.json() == []
    assert team.call("runner", "GET", "/api/queries").json() == []
    for url in (f"/api/queries/{team.query.id}", f"/api/datasources/{team.granted.id}"):
        assert team.call("runner", "GET", url).status_code == 404
    gone = team.call(
        "runner", "POST", f"/api/queries/{team.query.id}/run", json={"values": {"pk": "a"}}
    )
    assert gone.status_code == 404, gone.text
    team.users.grant("eddie", team.granted.id)  # given again: at once too
    _ran_get_item(team.call("editor", "POST", "/api/run", json=read))


def test_a_removed_user_is_signed_out_everywhere(team):
    cookie, csrf = team.sign_in("runner")
    page = {"Cookie": f"{COOKIE}={cookie}"}
    assert team.call("runner", "GET", "/api/session").status_code == 200
    assert team.call("runner", "GET", "/api/session", headers=page, bearer=False).status_code == 200
    assert team.call("admin", "DELETE", "/api/users/rita").status_code == 204
    assert team.call("runner", "GET", "/api/session").status_code == 401
    assert team.call("runner", "GET", "/api/session", headers=page, bearer=False).status_code == 401
    team.users.add("rita", "admin", PASSWORDS["rita"])  # the same name again is someone else
    assert team.call("runner", "GET", "/api/queries").status_code == 401
    assert team.call("runner", "GET", "/api/queries", headers=page, bearer=False).status_code == 401


def test_a_role_change_ends_the_sessions_and_applies_to_tokens_at_once(team):
    cookie, csrf = team.sign_in("editor")
    page = {"Cookie": f"{COOKIE}={cookie}", "X-CSRF-Token": csrf}
    assert team.call("editor", "GET", "/api/session", headers=page, bearer=False).status_code == 200
    changed = team.call("admin", "PUT", "/api/users/eddie", json={"role": "runner"})
    assert changed.status_code == 200 and changed.json()["role"] == "runner", changed.text
    assert team.call("editor", "GET", "/api/session", headers=page, bearer=False).status_code == 401
    read = REQUESTS[("POST", "/api/run")](team, team.scope(True, "editor")).body
    assert (
        team.call("editor", "POST", "/api/run", json=read, headers=page, bearer=False).status_code
        == 401
    )
    assert team.call("editor", "GET", "/api/session").json()["role"] == "runner"  # the token
    refused = team.call("editor", "POST", "/api/run", json=read)
    assert refused.status_code == 403 and "needs the editor role" in refused.json()["message"]
    # a new password ends the sessions too
    cookie, _ = team.sign_in("runner")
    page = {"Cookie": f"{COOKIE}={cookie}"}
    reset = team.call("admin", "PUT", "/api/users/rita", json={"password": "rita-new-pass-9"})
    assert reset.status_code == 200, reset.text
    assert team.call("runner", "GET", "/api/session", headers=page, bearer=False).status_code == 401
    old = {"name": "rita", "password": PASSWORDS["rita"]}
    assert team.call("none", "POST", "/api/session", json=old).status_code == 401
    new = {"name": "rita", "password": "rita-new-pass-9"}
    assert team.call("none", "POST", "/api/session", json=new).status_code == 200
