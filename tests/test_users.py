"""A team's users as a library (users.py), on SQLite and on a real PostgreSQL (the `database_url`
fixture runs each test on both): adding, listing, removing; signing in by password and by API
token; sessions ended by a reset, a new role or a removal; grants, read-only or not, gone with
their data source; what is stored (scrypt hashes and digests, never a password or a token); a
name taken twice at once; and who made each run in the history."""

from __future__ import annotations

import getpass
import hashlib
import json

import pytest
import sqlalchemy as sa

from dynaquery import store
from dynaquery.errors import Conflict, InputError, NotFound
from dynaquery.users import SERVER_TOKEN, acting_as, password_matches
from dynaquery.workspace import Workspace

from support import Endpoint, all_at_once

PASSWORD = "correct horse battery"
SETTINGS = {"region": "us-east-1", "endpoint_url": "http://127.0.0.1:9"}


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    monkeypatch.delenv("DYNAQUERY_SECRET_KEY", raising=False)
    monkeypatch.delenv("DYNAQUERY_DATABASE_URL", raising=False)


@pytest.fixture
def ws(tmp_path, database_url):
    workspace = Workspace.open(database_url, home=tmp_path)
    yield workspace
    workspace.close()


def rows(ws, table: sa.Table) -> list[dict]:
    with ws.engine.connect() as db:
        return [dict(r._mapping) for r in db.execute(sa.select(table))]


def test_add_list_get_remove(ws):
    assert ws.users.list() == [] and not ws.users.any()
    alice = ws.users.add("alice", "editor", PASSWORD)
    assert alice["name"] == "alice" and alice["role"] == "editor" and alice["password"] is True
    assert alice["tokens"] == [] and alice["grants"] == [] and alice["created_at"].endswith("Z")
    bob = ws.users.add("bob.smith@example", "runner")  # no password: API tokens only
    assert bob["password"] is False
    assert [u["name"] for u in ws.users.list()] == ["alice", "bob.smith@example"]
    assert ws.users.any() and ws.users.get("alice") == alice
    ws.users.remove("alice")
    assert [u["name"] for u in ws.users.list()] == ["bob.smith@example"]
    with pytest.raises(NotFound, match="No user named 'alice'"):
        ws.users.get("alice")
    with pytest.raises(NotFound, match="No user named 'alice'"):
        ws.users.remove("alice")


def test_bad_input_is_refused_and_nothing_is_added(ws):
    for name in ["", "-alice", "a b", "x" * 65, "al/ice", "alïce"]:
        with pytest.raises(InputError, match="Invalid user name"):
            ws.users.add(name, "editor")
    with pytest.raises(InputError, match="Unknown role 'boss': choose admin, editor, runner"):
        ws.users.add("alice", "boss")
    with pytest.raises(InputError, match="too short: at least 8 characters"):
        ws.users.add("alice", "editor", "1234567")
    with pytest.raises(InputError, match="NUL"):
        ws.users.add("alice", "editor", "pass\x00word!")
    with pytest.raises(InputError, match="too short"):  # "" is no password: None is
        ws.users.add("alice", "editor", "")
    assert ws.users.list() == []
    ws.users.add("alice", "editor", PASSWORD)
    with pytest.raises(Conflict, match="A user named 'alice' already exists"):
        ws.users.add("alice", "admin")
    with pytest.raises(InputError, match="Unknown role"):
        ws.users.set_role("alice", "root")
    for short in ["short", ""]:
        with pytest.raises(InputError, match="too short"):
            ws.users.reset("alice", short)
    assert ws.users.get("alice")["role"] == "editor"
    assert ws.users.sign_in("alice", PASSWORD) is not None  # the password stayed


def test_sign_in_right_wrong_unknown(ws):
    ws.users.add("alice", "editor", PASSWORD)
    ws.users.add("bob", "runner")
    alice = ws.users.sign_in("alice", PASSWORD)
    assert (alice.name, alice.role, dict(alice.grants)) == ("alice", "editor", {})
    assert alice.may("edit") and alice.may("run") and not alice.may("manage")
    assert ws.users.sign_in("alice", PASSWORD + "x") is None
    assert ws.users.sign_in("alice", "") is None
    assert ws.users.sign_in("nobody", PASSWORD) is None
    assert ws.users.sign_in("bad name!", PASSWORD) is None
    assert ws.users.sign_in("bob", "") is None  # no password: no sign-in by password
    assert ws.users.sign_in("bob", PASSWORD) is None


def test_the_password_is_stored_as_a_scrypt_hash_and_tokens_as_digests(ws):
    ws.users.add("alice", "editor", PASSWORD)
    _, token = ws.users.new_token("alice")
    [row] = rows(ws, store.users)
    assert row["password_hash"].startswith("scrypt$16384$8$1$")
    assert PASSWORD not in repr(row) and password_matches(PASSWORD, row["password_hash"])
    [stored] = rows(ws, store.api_tokens)
    assert stored["digest"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(stored)
    listed = json.dumps(ws.users.list())
    assert "scrypt" not in listed and stored["digest"] not in listed and token not in listed
    # Two users with one password: different salts, different hashes.
    ws.users.add("bob", "editor", PASSWORD)
    hashes = {r["password_hash"] for r in rows(ws, store.users)}
    assert len(hashes) == 2


def test_sessions_end_with_a_reset_a_new_role_and_a_removal(ws):
    ws.users.add("alice", "editor", PASSWORD)
    session, csrf = ws.users.start_session(ws.users.sign_in("alice", PASSWORD))
    who, kept_csrf = ws.users.session(session)
    assert (who.name, who.role, kept_csrf) == ("alice", "editor", csrf)
    assert ws.users.session("not a session") is None

    ws.users.reset("alice", "a new password")
    assert ws.users.session(session) is None
    assert ws.users.sign_in("alice", PASSWORD) is None
    assert ws.users.sign_in("alice", "a new password") is not None

    session, _ = ws.users.start_session(ws.users.sign_in("alice", "a new password"))
    assert ws.users.set_role("alice", "runner")["role"] == "runner"
    assert ws.users.session(session) is None
    assert ws.users.sign_in("alice", "a new password").role == "runner"

    session, _ = ws.users.start_session(ws.users.sign_in("alice", "a new password"))
    other, _ = ws.users.start_session(SERVER_TOKEN)  # the server token's session stays
    ws.users.end_session("not a session")
    assert ws.users.session(session) is not None
    ws.users.remove("alice")
    assert ws.users.session(session) is None
    assert ws.users.session(other)[0] == SERVER_TOKEN
    ws.users.end_session(other)
    assert ws.users.session(other) is None


def test_a_reset_without_a_password_leaves_tokens_only(ws):
    ws.users.add("alice", "editor", PASSWORD)
    _, token = ws.users.new_token("alice")
    ws.users.reset("alice", None)
    assert ws.users.get("alice")["password"] is False
    assert ws.users.sign_in("alice", PASSWORD) is None
    assert ws.users.by_token(token).name == "alice"


def test_an_expired_session_is_no_session(ws):
    ws.users.add("alice", "editor", PASSWORD)
    session, _ = ws.users.start_session(ws.users.sign_in("alice", PASSWORD))
    with store.transaction(ws.engine, write=True) as db:
        db.execute(store.sessions.update().values(expires_at=1.0))
    assert ws.users.session(session) is None


def test_api_tokens_sign_in_until_revoked(ws):
    ws.users.add("alice", "editor", PASSWORD)
    ws.users.add("bob", "runner")
    first_id, first = ws.users.new_token("alice")
    second_id, second = ws.users.new_token("alice")
    bob_id, bob_token = ws.users.new_token("bob")
    assert first.startswith("dq_") and first != second
    assert [t["id"] for t in ws.users.get("alice")["tokens"]] == [first_id, second_id]
    assert ws.users.by_token(first).name == "alice" and ws.users.by_token(bob_token).name == "bob"
    assert ws.users.by_token("dq_not-a-token") is None

    ws.users.revoke_token("alice", first_id)
    assert ws.users.by_token(first) is None and ws.users.by_token(second).name == "alice"
    with pytest.raises(NotFound, match="'alice' has no token"):
        ws.users.revoke_token("alice", first_id)
    with pytest.raises(NotFound, match="'alice' has no token"):
        ws.users.revoke_token("alice", bob_id)  # another user's token, by its id
    assert ws.users.by_token(bob_token).name == "bob"
    with pytest.raises(NotFound, match="No user named 'carol'"):
        ws.users.new_token("carol")

    ws.users.remove("bob")
    assert ws.users.by_token(bob_token) is None


def test_grants_read_only_or_not_and_gone_with_their_data_source(ws):
    prod = ws.add_datasource("prod", **SETTINGS)
    ws.add_datasource("staging", **SETTINGS)
    ws.users.add("alice", "editor", PASSWORD)
    ws.users.add("root", "admin", PASSWORD)
    ws.users.grant("alice", "prod", read_only=True)
    alice = ws.users.grant("alice", "staging")
    assert alice["grants"] == [
        {"datasource": "prod", "read_only": True},
        {"datasource": "staging", "read_only": False},
    ]
    principal = ws.users.sign_in("alice", PASSWORD)
    assert principal.may_use(prod.id) and principal.read_only_on(prod.id)
    assert not principal.may_use("another id")
    root = ws.users.sign_in("root", PASSWORD)  # an admin needs no grant
    assert root.grants is None and root.may_use(prod.id) and not root.read_only_on(prod.id)

    # Given again, a grant is replaced, not doubled.
    assert ws.users.grant("alice", "prod")["grants"][0] == {
        "datasource": "prod",
        "read_only": False,
    }
    assert len(rows(ws, store.grants)) == 2
    assert ws.users.revoke("alice", "staging")["grants"] == [
        {"datasource": "prod", "read_only": False}
    ]
    with pytest.raises(NotFound):
        ws.users.grant("alice", "nowhere")
    with pytest.raises(NotFound, match="No user named 'carol'"):
        ws.users.grant("carol", "prod")

    ws.remove_datasource("prod")
    assert ws.users.get("alice")["grants"] == []
    assert rows(ws, store.grants) == []
    assert ws.users.sign_in("alice", PASSWORD).grants == {}


def test_one_name_added_by_several_at_once_is_refused_once_as_a_conflict(database_url, tmp_path):
    """Each writer a Workspace of its own (its own engine), as separate servers are."""
    writers = 4
    opened = [Workspace.open(database_url, home=tmp_path) for _ in range(writers)]
    try:
        for round_ in range(3):
            name = f"same-{round_}"
            outcomes = all_at_once(
                writers, lambda i, name=name: opened[i].users.add(name, "editor", PASSWORD)
            )
            refused = [o for o in outcomes if isinstance(o, Exception)]
            assert len(refused) == writers - 1, outcomes
            assert all(isinstance(e, Conflict) for e in refused), refused
            assert all("already exists" in str(e) for e in refused)
        assert [u["name"] for u in opened[0].users.list()] == ["same-0", "same-1", "same-2"]
    finally:
        for workspace in opened:
            workspace.close()


def test_who_made_each_run_is_in_the_history(ws, dynamodb_local):
    ws.add_datasource("local", **Endpoint(dynamodb_local.endpoint_url).settings())
    ws.run("local", "ListTables", {}, origin="cli")
    with acting_as("alice"):
        ws.run("local", "ListTables", {}, origin="api")
    ws.run("local", "ListTables", {}, origin="api")
    runs = ws.history()
    assert [r.ran_by for r in runs] == ["api", "alice", f"cli:{getpass.getuser()}"]
    assert runs[1].to_dict()["ran_by"] == "alice"
