"""Secrets with control characters: a session token read from a file with CRLF line ends, a secret
with a control character inside. Surrounding whitespace is trimmed when the settings are checked,
other control characters are refused without showing the secret, and no output of the library,
the command or the API holds the secret in any form: raw, repr, bytes, JSON-escaped.

Each secret carries a canary in its middle; every text that leaves dynaquery is searched for it,
which finds the secret whatever escaping was applied around it.
"""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from fastapi.testclient import TestClient

from dynaquery import ConfigurationError, Connection, ConnectionConfig, Workspace, store
from dynaquery.cli import cli
from dynaquery.server import _digest, create_app

from support import Endpoint

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx`")

CANARY = "Canary" + uuid.uuid4().hex
TOKEN_CRLF = "FwoGZXIvYXdzEJr//" + CANARY + "t0k3n\r\n"  # from a file with CRLF line ends
TOKEN_CR = "FwoGZXIvYXdzEJr//" + CANARY + "t0k3n\r"
SECRET_CR = "wJalrXUtnFEMI/" + CANARY + "s3cr3t\r"
TOKEN_CTRL = "FwoGZXIvYXdz" + CANARY + "\x01in\x1bside"  # a control character inside
SECRET_LF_INSIDE = "wJalrXUt\n" + CANARY + "s3cr3t"
TOKEN = "api-token-" + uuid.uuid4().hex


def clean(*texts: str) -> None:
    for text in texts:
        assert CANARY not in text, f"a secret leaked: {text[:400]!r}"


@pytest.fixture
def ddb(dynamodb_local):
    return Endpoint(dynamodb_local.endpoint_url)


@pytest.fixture
def home(tmp_path, monkeypatch):
    for name in (
        "DYNAQUERY_SECRET_KEY",
        "DYNAQUERY_DATABASE_URL",
        "DYNAQUERY_TOKEN",
        "DYNAQUERY_SESSION_TOKEN",
        "DYNAQUERY_SECRET_ACCESS_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DYNAQUERY_HOME", str(tmp_path))
    return tmp_path


def test_the_library_trims_refuses_and_redacts(ddb, home):
    # Trimmed when checked: the token works, and no diagnosis or error quotes it.
    for token in (TOKEN_CRLF, TOKEN_CR):
        connection = Connection(**ddb.settings(), session_token=token)
        assert connection.config.session_token == token.strip()
        diagnosis = connection.test()
        assert diagnosis.ok, diagnosis.message
        clean(
            json.dumps(diagnosis.to_dict()),
            repr(connection),
            json.dumps(connection.config.to_dict()),
        )
    connection = Connection(**{**ddb.settings(), "secret_access_key": SECRET_CR})
    assert connection.config.secret_access_key == SECRET_CR.strip()
    # Refused inside, without showing it.
    for settings in ({"session_token": TOKEN_CTRL}, {"secret_access_key": SECRET_LF_INSIDE}):
        with pytest.raises(ConfigurationError, match="contains a control character") as error:
            Connection(**{**ddb.settings(), **settings})
        clean(error.value.message, str(error.value))
    with pytest.raises(ConfigurationError, match=r"access key id \(--access-key-id\) .* control"):
        Connection(**{**ddb.settings(), "access_key_id": "AKIA\x00X"})

    # Redaction finds the escaped forms error messages quote a header value in.
    for secret in (TOKEN_CTRL, SECRET_CR, TOKEN_CRLF):
        redact = ConnectionConfig(session_token=secret).redact
        texts = [
            f"Invalid header value {secret.encode()!r}",
            repr(secret),
            json.dumps(secret),
            json.dumps(repr(secret)),
            json.dumps({"m": f"{secret.encode()!r}"}),
            secret,
            secret.strip(),
            secret.encode("unicode_escape").decode(),
        ]
        clean(*(redact(t) for t in texts))

    # The workspace keeps the trimmed token; runs and the history hold nothing of it.
    with Workspace.open(home=home) as ws:
        ws.add_datasource("crlf", **ddb.settings(), session_token=TOKEN_CRLF)
        assert ws.connection_config("crlf").session_token == TOKEN_CRLF.strip()
        assert ws.run("crlf", "ListTables", {}).complete
        with pytest.raises(ConfigurationError) as error:
            ws.add_datasource("ctrl", **ddb.settings(), session_token=TOKEN_CTRL)
        clean(error.value.message)
        with pytest.raises(ConfigurationError) as error:
            ws.update_datasource("crlf", session_token=TOKEN_CTRL)
        clean(error.value.message, json.dumps([r.to_dict() for r in ws.history(limit=None)]))


def test_the_command_never_shows_them(ddb, home):
    runner = CliRunner()
    outputs = []

    def invoke(*args, env=None):
        done = runner.invoke(cli, list(args), env=env)
        outputs.append(done.output)  # stdout and stderr
        return done

    for token in (TOKEN_CRLF, TOKEN_CR):
        done = invoke("test", *ddb.flags, "--session-token", token)
        assert done.exit_code == 0, done.output
        done = invoke("run", "ListTables", *ddb.flags, "--session-token", token)
        assert done.exit_code == 0, done.output
        done = invoke(
            "run",
            "GetItem",
            '{"TableName": "nope", "Key": {"k": 1}}',
            *ddb.flags,
            "--session-token",
            token,
        )
        assert done.exit_code == 1 and "ResourceNotFoundException" in done.stderr, done.output
    done = invoke("test", *ddb.flags, env={"DYNAQUERY_SESSION_TOKEN": TOKEN_CRLF})
    assert done.exit_code == 0, done.output
    for flag, secret in (
        ("--session-token", TOKEN_CTRL),
        ("--secret-access-key", SECRET_LF_INSIDE),
    ):
        for command in (["test"], ["run", "ListTables"], ["datasource", "add", "bad"]):
            done = invoke(*command, *ddb.flags, flag, secret)
            assert done.exit_code == 2 and "contains a control character" in done.stderr, (
                done.output
            )
            assert "Traceback" not in done.output

    assert (
        invoke(
            "datasource", "add", "crlf", *ddb.flags, "--session-token", TOKEN_CRLF, "--test"
        ).exit_code
        == 0
    )
    assert invoke("datasource", "test", "crlf").exit_code == 0
    assert invoke("run", "ListTables", "--datasource", "crlf").exit_code == 0
    assert invoke("datasource", "edit", "crlf", "--session-token", TOKEN_CTRL).exit_code == 2
    for listing in (
        ["datasource", "show", "crlf", "--json"],
        ["datasource", "list"],
        ["history"],
        ["workspace", "export"],
    ):
        assert invoke(*listing).exit_code == 0
    clean(*outputs)


def _api(home) -> tuple[TestClient, Workspace]:
    workspace = Workspace.open(home=home)
    client = TestClient(create_app(workspace, _digest(TOKEN)))
    client.headers["Authorization"] = f"Bearer {TOKEN}"
    return client, workspace


def test_the_api_never_answers_with_them(ddb, home):
    api, workspace = _api(home)
    texts = []

    def call(method, path, body=None):
        answer = api.request(method, path, json=body)
        texts.extend([answer.text, json.dumps(dict(answer.headers))])
        return answer

    settings = {**ddb.settings(), "session_token": TOKEN_CRLF}
    with workspace:
        saved = call("POST", "/api/datasources", {"name": "crlf", **settings})
        assert saved.status_code == 201, saved.text
        ds = saved.json()["id"]
        assert call("POST", f"/api/datasources/{ds}/test").json()["ok"]
        assert call("POST", "/api/datasources/test", settings).json()["ok"]
        assert (
            call("POST", "/api/run", {"datasource": ds, "operation": "ListTables"}).status_code
            == 200
        )
        assert (
            call(
                "POST",
                "/api/run",
                {
                    "datasource": ds,
                    "operation": "GetItem",
                    "params": {"TableName": "nope", "Key": {"k": 1}},
                },
            ).status_code
            == 502
        )
        for body in (
            {"name": "ctrl", **ddb.settings(), "session_token": TOKEN_CTRL},
            {"name": "lf", **ddb.settings(), "secret_access_key": SECRET_LF_INSIDE},
        ):
            answer = call("POST", "/api/datasources", body)
            assert answer.status_code == 400 and "control character" in answer.json()["message"]
            answer = call(
                "POST", "/api/datasources/test", {k: v for k, v in body.items() if k != "name"}
            )
            assert not answer.json()["ok"] and "control character" in answer.json()["message"]
        assert (
            call("PUT", f"/api/datasources/{ds}", {"session_token": TOKEN_CTRL}).status_code == 400
        )
        call("GET", "/api/datasources")
        call("GET", f"/api/datasources/{ds}")
        call("GET", "/api/history")
        clean(*texts, json.dumps([r.to_dict() for r in workspace.history(limit=None)]))


def test_a_secret_stored_before_the_check_does_not_leak(ddb, home):
    """Saved by an older version, unchecked: a token with a CR at its end, one with a control
    character inside. The first works (trimmed at use), the second is refused; neither shows."""
    api, workspace = _api(home)
    texts = []
    with workspace:
        for name, token in (("crlf", TOKEN_CRLF), ("ctrl", TOKEN_CTRL)):
            ds = workspace.add_datasource(name, **ddb.settings())
            sealed = workspace._seal(
                ds.id, {"secret_access_key": ddb.secret_key, "session_token": token}
            )
            with workspace.engine.begin() as db:
                db.execute(
                    sa.update(store.datasources)
                    .where(store.datasources.c.id == ds.id)
                    .values(secrets=sealed)
                )
        ids = {ds.name: ds.id for ds in workspace.datasources()}

        def call(method, path, body=None):
            answer = api.request(method, path, json=body)
            texts.append(answer.text)
            return answer

        assert call("POST", f"/api/datasources/{ids['crlf']}/test").json()["ok"]
        assert (
            call(
                "POST", "/api/run", {"datasource": ids["crlf"], "operation": "ListTables"}
            ).status_code
            == 200
        )
        assert call(
            "POST",
            "/api/datasources/test",
            {
                "id": ids["crlf"],
                **{k: v for k, v in ddb.settings().items() if k != "secret_access_key"},
            },
        ).json()["ok"]
        answer = call("POST", f"/api/datasources/{ids['ctrl']}/test")
        assert answer.status_code == 400 and "control character" in answer.text
        answer = call("POST", "/api/run", {"datasource": ids["ctrl"], "operation": "ListTables"})
        assert answer.status_code == 400 and "control character" in answer.text
        call("GET", "/api/datasources")
        call("GET", "/api/history")
        texts.append(json.dumps(workspace.test_datasource("crlf").to_dict()))
        assert workspace.run("crlf", "ListTables", {}).complete
        for run in (
            lambda: workspace.test_datasource("ctrl"),
            lambda: workspace.run("ctrl", "ListTables", {}),
        ):
            with pytest.raises(ConfigurationError) as error:
                run()
            texts.append(error.value.message)
        runner = CliRunner()
        for args in (
            ["datasource", "test", "crlf"],
            ["datasource", "test", "ctrl"],
            ["run", "ListTables", "--datasource", "ctrl"],
            ["history"],
        ):
            done = runner.invoke(cli, args)
            assert done.exit_code == (0 if args[-1] in ("crlf", "history") else 2), done.output
            texts.append(done.output)
        clean(*texts, json.dumps([r.to_dict() for r in workspace.history(limit=None)]))
