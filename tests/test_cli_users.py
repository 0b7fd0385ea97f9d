"""`dynaquery user`: a team server's users from the command line (in process, through
support.dynaquery): add with the password asked twice, read from stdin or none; list; remove;
reset; role; API tokens shown once; grants; bad input as messages and exit 2; never a password or
a token's digest in the output. And `history` saying who made each run."""

from __future__ import annotations

import getpass
import hashlib
import importlib
import os
import pty
import select
import subprocess
import sys

import pytest

from dynaquery.workspace import Workspace

from support import Endpoint, clean_env, dynaquery

PASSWORD = "sentinel-password-" + "Hq8vR3"


class Home:
    """A workspace directory and the `dynaquery` command pointed at it; every output kept."""

    def __init__(self, path):
        self.path = path
        self.outputs: list[str] = []

    def __call__(self, *args: str, stdin: str | None = None):
        done = dynaquery(*args, stdin=stdin, env=clean_env(DYNAQUERY_HOME=str(self.path)))
        self.outputs += [done.stdout, done.stderr]
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def workspace(self) -> Workspace:
        return Workspace.open(home=self.path)


@pytest.fixture
def home(tmp_path):
    h = Home(tmp_path / "home")
    done = h(
        "datasource", "add", "prod", "--endpoint-url", "http://127.0.0.1:9", "--region",
        "us-east-1", "--access-key-id", "a", "--secret-access-key", "b",
    )  # fmt: skip
    assert done.code == 0, done.stderr
    return h


@pytest.fixture
def terminal(monkeypatch):
    """The command believing stdin is a terminal: it asks (CliRunner's input is the keyboard)."""
    # `dynaquery.cli.user` is also the group's name in the package: reach the module itself.
    monkeypatch.setattr(
        importlib.import_module("dynaquery.cli.prompts"), "on_a_terminal", lambda: True
    )


def users_of(home) -> dict:
    return {u["name"]: u for u in home("user", "list", "--json").json()}


def test_add_with_the_password_on_stdin_or_none(home):
    done = home("user", "add", "alice", "--role", "editor", "--password-stdin", stdin=PASSWORD)
    assert done.code == 0, done.stderr
    assert done.stdout == "" and "Added user: 'alice' (editor, password set" in done.stderr
    done = home("user", "add", "bob", "--role", "runner", "--no-password", "--json")
    assert done.code == 0 and done.json()["password"] is False and done.json()["role"] == "runner"
    users = users_of(home)
    assert (users["alice"]["role"], users["alice"]["password"]) == ("editor", True)
    workspace = home.workspace()
    assert workspace.users.sign_in("alice", PASSWORD).name == "alice"  # stdin's line, no newline
    workspace.close()
    # A password line ending with CRLF is the line without it.
    home("user", "add", "carol", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\r\n")
    workspace = home.workspace()
    assert workspace.users.sign_in("carol", PASSWORD).role == "admin"
    workspace.close()


def test_add_asks_the_password_twice_hidden(home, terminal):
    done = home("user", "add", "alice", "--role", "editor", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert done.code == 0, done.stderr
    assert "Password: " in done.stderr and "Password again: " in done.stderr
    # A confirmation that differs is asked again; a short password too.
    done = home(
        "user", "add", "bob", "--role", "editor",
        stdin=f"1234567\n{PASSWORD}\n{PASSWORD}x\n{PASSWORD}\n{PASSWORD}\n",
    )  # fmt: skip
    assert done.code == 0, done.stderr
    assert "too short" in done.stderr and "do not match" in done.stderr
    workspace = home.workspace()
    assert workspace.users.sign_in("bob", PASSWORD) is not None
    workspace.close()
    # The input ends (or Ctrl-C) before the confirmation: nothing is added.
    done = home("user", "add", "carol", "--role", "editor", stdin=f"{PASSWORD}\n")
    assert done.code == 2 and "Stopped: no password was given." in done.stderr
    assert set(users_of(home)) == {"alice", "bob"}
    assert not any(PASSWORD in text for text in home.outputs)  # hidden: never echoed


def test_without_a_terminal_the_password_must_be_given_a_way(home):
    done = home("user", "add", "alice", "--role", "editor")
    assert done.code == 2 and "--password-stdin" in done.stderr and "--no-password" in done.stderr
    done = home("user", "add", "alice", "--role", "editor", "--password-stdin", stdin="")
    assert done.code == 2 and "No password on the first line of stdin" in done.stderr
    done = home("user", "add", "alice", "--role", "editor", "--password-stdin", "--no-password")
    assert done.code == 2 and "not both" in done.stderr
    assert users_of(home) == {}


def test_bad_input_is_a_message_and_exit_2(home):
    done = home("user", "add", "alice", "--role", "boss", "--no-password")
    assert done.code == 2 and "Unknown role 'boss': choose admin, editor, runner." in done.stderr
    done = home("user", "add", "alice", "--role", "editor", "--password-stdin", stdin="1234567")
    assert done.code == 2 and "too short: at least 8 characters" in done.stderr
    done = home("user", "add", "a b", "--role", "editor", "--no-password")
    assert done.code == 2 and "Invalid user name 'a b'" in done.stderr
    assert users_of(home) == {}
    home("user", "add", "alice", "--role", "editor", "--no-password")
    done = home("user", "add", "alice", "--role", "admin", "--no-password")
    assert done.code == 2 and "A user named 'alice' already exists." in done.stderr
    for args in [
        ("remove", "zed", "--yes"),
        ("reset", "zed", "--no-password"),
        ("role", "zed", "admin"),
        ("token", "zed"),
        ("grant", "zed", "prod"),
        ("revoke", "zed", "prod"),
    ]:
        done = home("user", *args)
        assert done.code == 2 and "No user named 'zed'" in done.stderr, args
    done = home("user", "role", "alice", "root")
    assert done.code == 2 and "Unknown role 'root'" in done.stderr
    done = home("user", "grant", "alice", "nowhere")
    assert done.code == 2 and "nowhere" in done.stderr
    done = home("user", "token", "alice", "--revoke", "not-an-id")
    assert done.code == 2 and "'alice' has no token 'not-an-id'" in done.stderr
    done = home("user", "reset", "alice", "--password-stdin", stdin="short")
    assert done.code == 2 and "too short" in done.stderr
    assert users_of(home)["alice"]["role"] == "editor"


def test_list_shows_roles_passwords_tokens_and_grants_never_secrets(home):
    home("user", "add", "alice", "--role", "editor", "--password-stdin", stdin=PASSWORD)
    home("user", "add", "bob", "--role", "runner", "--no-password")
    token = home("user", "token", "bob").stdout.strip()
    home("user", "grant", "bob", "prod", "--read-only")
    listed = home("user", "list")
    assert listed.code == 0
    lines = {line.split()[1]: line for line in listed.stdout.splitlines() if "│ " in line}
    assert "editor" in lines["alice"] and " yes " in lines["alice"]
    assert (
        "runner" in lines["bob"] and " no " in lines["bob"] and "prod (read-only)" in lines["bob"]
    )
    [token_id] = [t["id"] for t in users_of(home)["bob"]["tokens"]]
    assert token_id in listed.stdout
    as_json = home("user", "list", "--json")
    assert as_json.json()[1]["grants"] == [{"datasource": "prod", "read_only": True}]
    digest = hashlib.sha256(token.encode()).hexdigest()
    for text in (listed.stdout, listed.stderr, as_json.stdout):
        assert PASSWORD not in text and token not in text and digest not in text
        assert "scrypt" not in text
    assert not any(PASSWORD in text for text in home.outputs)


def test_a_token_printed_once_signs_in(home):
    home("user", "add", "bob", "--role", "runner", "--no-password")
    done = home("user", "token", "bob")
    assert done.code == 0
    token = done.stdout.strip()
    assert done.stdout == token + "\n" and token.startswith("dq_")  # alone on its line
    assert "shown this once, kept hashed" in done.stderr and token not in done.stderr
    [listed] = users_of(home)["bob"]["tokens"]
    assert listed["id"] in done.stderr
    workspace = home.workspace()
    assert workspace.users.by_token(token).name == "bob"
    workspace.close()
    done = home("user", "token", "bob", "--revoke", listed["id"])
    assert done.code == 0 and "Revoked" in done.stderr
    assert users_of(home)["bob"]["tokens"] == []
    workspace = home.workspace()
    assert workspace.users.by_token(token) is None
    workspace.close()


def test_remove_asks_first(home, terminal):
    home("user", "add", "alice", "--role", "editor", "--no-password")
    done = home("user", "remove", "alice", stdin="n\n")
    assert done.code == 2 and "Remove the user 'alice'" in done.stderr
    assert "Not removed." in done.stderr and "alice" in users_of(home)
    done = home("user", "remove", "alice", stdin="")  # the input ends: no
    assert done.code == 2 and "Not removed." in done.stderr and "alice" in users_of(home)
    done = home("user", "remove", "alice", stdin="y\n")
    assert done.code == 0 and "Removed user 'alice'." in done.stderr
    assert users_of(home) == {}


def test_remove_without_a_terminal_needs_yes(home):
    home("user", "add", "alice", "--role", "editor", "--no-password")
    done = home("user", "remove", "alice")
    assert done.code == 2 and "--yes" in done.stderr and "alice" in users_of(home)
    done = home("user", "remove", "alice", "--yes")
    assert done.code == 0 and users_of(home) == {}


def test_reset_sets_a_new_password_and_ends_sessions(home, terminal):
    home("user", "add", "alice", "--role", "editor", "--password-stdin", stdin=PASSWORD)
    workspace = home.workspace()
    session, _ = workspace.users.start_session(workspace.users.sign_in("alice", PASSWORD))
    workspace.close()
    done = home("user", "reset", "alice", stdin="the new one!\nthe new one!\n")
    assert done.code == 0 and "sessions ended" in done.stderr
    workspace = home.workspace()
    assert workspace.users.session(session) is None
    assert workspace.users.sign_in("alice", PASSWORD) is None
    assert workspace.users.sign_in("alice", "the new one!").name == "alice"
    workspace.close()
    done = home("user", "reset", "alice", "--no-password")
    assert done.code == 0 and users_of(home)["alice"]["password"] is False


def test_role_grant_and_revoke(home):
    home("user", "add", "alice", "--role", "runner", "--no-password")
    done = home("user", "role", "alice", "editor")
    assert done.code == 0 and "(editor," in done.stderr
    done = home("user", "grant", "alice", "prod", "--read-only")
    assert done.code == 0 and "prod (read-only)" in done.stderr
    done = home("user", "grant", "alice", "prod", "--json")  # given again: replaced
    assert done.json()["grants"] == [{"datasource": "prod", "read_only": False}]
    done = home("user", "revoke", "alice", "prod")
    assert done.code == 0 and "grants: none" in done.stderr
    assert users_of(home)["alice"] == {**users_of(home)["alice"], "role": "editor", "grants": []}


def test_every_user_command_has_help(home):
    for command in ["add", "list", "remove", "reset", "role", "token", "grant", "revoke"]:
        done = home("user", command, "--help")
        assert done.code == 0 and "Usage: dynaquery user " + command in done.stdout


def test_history_says_who_made_each_run(home, dynamodb_local):
    endpoint = Endpoint(dynamodb_local.endpoint_url)
    home("datasource", "add", "local", *endpoint.flags)
    assert home("run", "ListTables", "-d", "local").code == 0
    [run] = home("history", "--json").json()
    assert run["ran_by"] == f"cli:{getpass.getuser()}"
    table = home("history")
    assert "ran_by" in table.stdout and f"cli:{getpass.getuser()}" in table.stdout


def test_on_a_real_terminal_the_password_is_asked_twice_and_not_echoed(tmp_path):
    """Only a process on a terminal shows the input hidden: the command on a pseudo-terminal,
    in a session of its own (no controlling terminal of the tests' is ever asked)."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "dynaquery", "user", "add", "alice", "--role", "editor"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=clean_env(DYNAQUERY_HOME=str(tmp_path)),
        start_new_session=True,
    )
    os.close(slave)
    shown = bytearray()

    def read_until(text: bytes) -> None:
        while text not in shown:
            ready, _, _ = select.select([master], [], [], 60)
            chunk = os.read(master, 4096) if ready else b""
            if not chunk:
                process.kill()
                pytest.fail(f"{text!r} never shown; the terminal showed {bytes(shown)!r}")
            shown.extend(chunk)

    try:
        read_until(b"Password: ")
        os.write(master, PASSWORD.encode() + b"\n")
        read_until(b"Password again: ")
        os.write(master, PASSWORD.encode() + b"\n")
        read_until(b"Added user: 'alice'")
        assert process.wait(60) == 0
    finally:
        os.close(master)
    assert PASSWORD.encode() not in shown
    workspace = Workspace.open(home=tmp_path)
    assert workspace.users.sign_in("alice", PASSWORD).name == "alice"
    workspace.close()
