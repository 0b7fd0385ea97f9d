"""The page's sessions and users' API tokens (issue 15): signing in with a name and password sets
an HttpOnly, SameSite=Strict cookie; a change through the cookie needs the session's CSRF token;
signing out ends the session; wrong passwords count toward the sign-in limiter; a password is
never in an answer, the history or the database; API tokens are shown once, work as bearer
tokens and stop when revoked; two servers on one database share sessions. On SQLite and
PostgreSQL, against DynamoDB Local (the team of tests/test_roles.py)."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from test_roles import COOKIE, PASSWORDS, TOKEN, Team, unique

from dynaquery import Workspace, store
from dynaquery.server import _digest, create_app
from dynaquery.users import digest

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx`")  # starlette's own TestClient note


@pytest.fixture
def team(tmp_path, dynamodb_local, monkeypatch, database_url):
    monkeypatch.delenv("DYNAQUERY_SECRET_KEY", raising=False)
    workspace = Workspace.open(database_url, home=tmp_path)
    yield Team(workspace, dynamodb_local.endpoint_url)
    workspace.close()


def page(cookie: str, csrf: str | None = None) -> dict:
    """The headers of the page's request: its cookie, and the CSRF token when given."""
    return {"Cookie": f"{COOKIE}={cookie}", **({"X-CSRF-Token": csrf} if csrf else {})}


def as_page(team: Team, method: str, url: str, cookie: str, csrf: str | None = None, **kwargs):
    return team.call("none", method, url, headers=page(cookie, csrf), **kwargs)


def cookie_attributes(answer) -> dict[str, str]:
    """The attributes of the answer's Set-Cookie of the session, lower-cased names."""
    [header] = [h for h in answer.headers.get_list("set-cookie") if h.startswith(f"{COOKIE}=")]
    value, *attributes = [part.strip() for part in header.split(";")]
    found = {"value": value.split("=", 1)[1]}
    for attribute in attributes:
        name, _, setting = attribute.partition("=")
        found[name.lower()] = setting
    return found


def test_signing_in_sets_an_http_only_strict_cookie(team):
    password = PASSWORDS["eddie"]
    answer = team.call("none", "POST", "/api/session", json={"name": "eddie", "password": password})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["ok"], body["user"], body["role"]) == (True, "eddie", "editor")
    assert body["can"] == {"manage": False, "edit": True, "run": True}
    assert isinstance(body["csrf"], str) and len(body["csrf"]) >= 32
    cookie = cookie_attributes(answer)
    assert "httponly" in cookie, cookie
    assert cookie.get("samesite", "").lower() == "strict", cookie
    assert cookie.get("path") == "/", cookie
    assert cookie["value"] and cookie["value"] != body["csrf"]
    again = as_page(team, "GET", "/api/session", cookie["value"])
    assert again.status_code == 200 and again.json()["user"] == "eddie"
    assert again.json()["csrf"] == body["csrf"]  # the page finds it again after a reload
    assert team.call("editor", "GET", "/api/session").json()["csrf"] is None  # a bearer token
    with store.transaction(team.workspace.engine) as db:  # kept as a digest only
        kept = db.execute(sa.select(store.sessions.c.digest)).scalars().all()
    assert digest(cookie["value"]) in kept and cookie["value"] not in kept
    wrong = {"name": "eddie", "password": password + "x"}
    refused = team.call("none", "POST", "/api/session", json=wrong)
    assert refused.status_code == 401 and refused.json()["error"] == "Unauthorized"
    assert "set-cookie" not in refused.headers


def test_a_change_through_the_cookie_needs_the_csrf_token(team):
    cookie, csrf = team.sign_in("editor")
    _, other_csrf = team.sign_in("runner")  # another session's token is no better
    query = {
        "name": unique("page"),
        "datasource": team.granted.id,
        "operation": "GetItem",
        "params": json.dumps({"TableName": team.table, "Key": {"pk": "a"}}),
    }
    before = [q.id for q in team.workspace.queries()]
    for wrong in (None, "wrong", other_csrf, csrf + "x"):
        refused = as_page(team, "POST", "/api/queries", cookie, wrong, json=query)
        assert refused.status_code == 403 and refused.json()["error"] == "CsrfRefused", wrong
    assert [q.id for q in team.workspace.queries()] == before  # nothing done
    saved = as_page(team, "POST", "/api/queries", cookie, csrf, json=query)
    assert saved.status_code == 201, saved.text
    url = f"/api/queries/{saved.json()['id']}"
    changed = {"description": "changed"}
    assert as_page(team, "PUT", url, cookie, json=changed).status_code == 403
    assert team.workspace.query(saved.json()["id"]).description is None
    assert as_page(team, "PUT", url, cookie, csrf, json=changed).status_code == 200
    assert as_page(team, "DELETE", url, cookie, "wrong").status_code == 403
    assert as_page(team, "GET", url, cookie).status_code == 200  # a read needs no CSRF token
    assert as_page(team, "DELETE", url, cookie, csrf).status_code == 204
    put = {
        "datasource": team.granted.id,
        "operation": "PutItem",
        "params": {"TableName": team.table, "Item": {"pk": "a", "name": "Changed"}},
    }
    assert as_page(team, "POST", "/api/run", cookie, json=put).status_code == 403
    assert team.item() == {"pk": {"S": "a"}, "name": {"S": "Ann"}}  # nothing sent
    assert as_page(team, "POST", "/api/run", cookie, csrf, json=put).status_code == 200
    assert team.item()["name"] == {"S": "Changed"}
    # signing out is a change too: without the token, the session lives on
    assert as_page(team, "DELETE", "/api/session", cookie).status_code == 403
    assert as_page(team, "GET", "/api/session", cookie).status_code == 200


def test_signing_out_ends_the_session_and_only_it(team):
    cookie, csrf = team.sign_in("editor")
    other, other_csrf = team.sign_in("editor")  # the same user on another browser
    out = as_page(team, "DELETE", "/api/session", cookie, csrf)
    assert out.status_code == 204, out.text
    cleared = cookie_attributes(out)
    assert cleared["value"] in ("", '""') and (
        cleared.get("max-age") == "0" or "1970" in cleared.get("expires", "")
    ), cleared
    assert as_page(team, "GET", "/api/session", cookie).status_code == 401
    assert as_page(team, "GET", "/api/queries", cookie).status_code == 401
    assert as_page(team, "POST", "/api/check", cookie, csrf, json={}).status_code == 401
    assert as_page(team, "GET", "/api/session", other).json()["user"] == "eddie"


def test_wrong_passwords_count_toward_the_sign_in_limiter(team):
    limit = team.app.state.sign_ins.failures
    guesses = [
        {"name": "eddie", "password": "not-the-password"},
        {"name": "nobody", "password": "not-the-password"},
        {"token": "not-a-token"},
    ]
    for n in range(limit):
        answer = team.call("none", "POST", "/api/session", json=guesses[n % len(guesses)])
        assert answer.status_code == 401, (n, answer.text)
    right = {"name": "eddie", "password": PASSWORDS["eddie"]}
    blocked = team.call("none", "POST", "/api/session", json=right)
    assert blocked.status_code == 429, blocked.text
    assert int(blocked.headers["retry-after"]) >= 1 and "set-cookie" not in blocked.headers
    assert team.call("editor", "GET", "/api/session").status_code == 429  # the same address


def _stored_text(engine: sa.Engine) -> str:
    """Every row of every table of the workspace's database, as text."""
    rows = []
    with store.transaction(engine) as db:
        for table in store.metadata.sorted_tables:
            rows += [repr(tuple(row)) for row in db.execute(sa.select(table))]
    return "\n".join(rows)


def test_a_password_is_never_shown_nor_kept(team, tmp_path):
    first, second, short = "pat-first-Kd81Qz", "pat-second-Wm27Lc", "sh0Rt"
    made = team.call(
        "admin", "POST", "/api/users", json={"name": "pat", "role": "runner", "password": first}
    )
    assert made.status_code == 201 and made.json()["password"] is True, made.text
    bad = team.call(
        "admin", "POST", "/api/users", json={"name": "pet", "role": "runner", "password": short}
    )
    assert bad.status_code == 400, bad.text
    changed = team.call("admin", "PUT", "/api/users/pat", json={"password": second})
    assert changed.status_code == 200, changed.text
    for password, status in ((first, 401), (second + "x", 401), (second, 200)):
        answer = team.call(
            "none", "POST", "/api/session", json={"name": "pat", "password": password}
        )
        assert answer.status_code == status, (password, answer.text)
    team.users.grant("pat", team.granted.id)
    cookie = answer.cookies[COOKIE]
    run = as_page(
        team,
        "POST",
        f"/api/queries/{team.query.id}/run",
        cookie,
        answer.json()["csrf"],
        json={"values": {"pk": "a"}},
    )
    assert run.status_code == 200, run.text
    team.call("admin", "GET", "/api/users")
    team.call("admin", "GET", "/api/history?limit=1000")
    as_page(team, "GET", "/api/history", cookie)
    secrets = (first, second, short)
    shown = [text for role in team.texts.values() for sent, text in role]
    assert [t for t in shown if any(s in t for s in secrets)] == []
    history = json.dumps([r.to_dict() for r in team.workspace.history(limit=None)])
    assert "pat" in history and not any(s in history for s in secrets)
    kept = _stored_text(team.workspace.engine)
    assert "scrypt$" in kept and not any(s in kept for s in secrets)
    for path in tmp_path.rglob("*"):  # a SQLite database and its journal
        if path.is_file():
            assert not any(s.encode() in path.read_bytes() for s in secrets), path


def test_api_tokens_are_shown_once_work_as_bearer_and_stop_when_revoked(team):
    made = team.call("admin", "POST", "/api/users/rita/tokens")
    assert made.status_code == 201, made.text
    token_id, token = made.json()["id"], made.json()["token"]
    listed = team.call("admin", "GET", "/api/users")
    [rita] = [u for u in listed.json() if u["name"] == "rita"]
    assert token_id in [t["id"] for t in rita["tokens"]] and token not in listed.text
    assert token not in _stored_text(team.workspace.engine)
    bearer = {"Authorization": f"Bearer {token}"}
    session = team.call("none", "GET", "/api/session", headers=bearer)
    assert session.status_code == 200 and session.json()["user"] == "rita"
    signed_in = team.call("none", "POST", "/api/session", json={"token": token})
    assert signed_in.status_code == 200 and signed_in.json()["role"] == "runner"
    revoked = team.call("admin", "DELETE", f"/api/users/rita/tokens/{token_id}")
    assert revoked.status_code == 204, revoked.text
    assert team.call("none", "GET", "/api/session", headers=bearer).status_code == 401
    assert team.call("none", "POST", "/api/session", json={"token": token}).status_code == 401
    again = team.call("admin", "DELETE", f"/api/users/rita/tokens/{token_id}")
    assert again.status_code == 404
    assert team.call("runner", "GET", "/api/session").json()["user"] == "rita"  # her other token


class Other:
    """A second server (its own Workspace object and application) on the team's database."""

    def __init__(self, team: Team, home):
        self.workspace = Workspace.open(team.workspace.engine.url.render_as_string(False), home)
        self.http = TestClient(create_app(self.workspace, _digest(TOKEN)))

    def __call__(self, method: str, url: str, cookie: str, csrf: str | None = None, **kwargs):
        answer = self.http.request(method, url, headers=page(cookie, csrf), **kwargs)
        self.http.cookies.clear()
        return answer


def test_two_servers_on_one_database_share_sessions(team, tmp_path):
    other = Other(team, tmp_path)
    try:
        cookie, csrf = team.sign_in("editor")  # on the first server
        there = other("GET", "/api/session", cookie)
        assert there.status_code == 200 and there.json()["user"] == "eddie"
        assert there.json()["csrf"] == csrf
        check = {"operation": "GetItem", "params": "{}"}
        assert other("POST", "/api/check", cookie, json=check).status_code == 403  # no CSRF
        assert other("POST", "/api/check", cookie, csrf, json=check).status_code == 200
        assert as_page(team, "DELETE", "/api/session", cookie, csrf).status_code == 204
        assert other("GET", "/api/session", cookie).status_code == 401  # signed out on one
        # signed in on the second, out on it: refused on the first
        answer = other.http.post(
            "/api/session", json={"name": "rita", "password": PASSWORDS["rita"]}
        )
        cookie, csrf = answer.cookies[COOKIE], answer.json()["csrf"]
        other.http.cookies.clear()
        assert as_page(team, "GET", "/api/session", cookie).json()["user"] == "rita"
        assert other("DELETE", "/api/session", cookie, csrf).status_code == 204
        assert as_page(team, "GET", "/api/session", cookie).status_code == 401
        # a role changed through one ends the sessions on the other
        cookie, _ = team.sign_in("runner")
        admin = {"Authorization": f"Bearer {TOKEN}"}
        changed = other.http.put("/api/users/rita", json={"role": "editor"}, headers=admin)
        assert changed.status_code == 200, changed.text
        assert as_page(team, "GET", "/api/session", cookie).status_code == 401
        # a token made on one works on the other until revoked there
        made = team.call("admin", "POST", "/api/users/eddie/tokens").json()
        bearer = {"Authorization": f"Bearer {made['token']}"}
        assert other.http.get("/api/session", headers=bearer).json()["user"] == "eddie"
        url = f"/api/users/eddie/tokens/{made['id']}"
        assert other.http.delete(url, headers=admin).status_code == 204
        assert team.call("none", "GET", "/api/session", headers=bearer).status_code == 401
    finally:
        other.workspace.close()
