"""Test connection: ok, or a diagnosis a user can act on; never a secret in it.

Bad keys, a wrong secret, access denied and roles are checked against moto's server with its IAM
enforcement on (INITIAL_NO_AUTH_ACTION_COUNT lets the setup calls through, then every request is
authenticated and authorised).
"""

from __future__ import annotations

import json
import re
import socket
import threading

import pytest

from dynaquery import ConfigurationError, Connection, ConnectionConfig, InputError
from dynaquery.local import free_port
from dynaquery.workspace import EXPORT_VERSION

from support import Endpoint, clean_env, dynaquery, iam_user, start_moto_with_iam

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx`")

SETUP_CALLS = 9  # the free calls: moto's readiness probe and the eight setup calls below


@pytest.fixture(scope="module")
def iam_moto():
    server, iam = start_moto_with_iam(SETUP_CALLS)
    keys = {
        "reader": iam_user(iam, "reader", ["dynamodb:DescribeTable"]),
        "assumer": iam_user(iam, "assumer", ["sts:AssumeRole"]),
    }
    iam.create_role(
        RoleName="dynamo",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )
    iam.put_role_policy(
        RoleName="dynamo",
        PolicyName="p",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": ["dynamodb:*"], "Resource": "*"}],
            }
        ),
    )
    try:
        yield server, keys
    finally:
        server.stop()


def flags(server, key_id, secret, *more):
    return [
        "--endpoint-url",
        server.endpoint_url,
        "--region",
        "us-east-1",
        "--access-key-id",
        key_id,
        "--secret-access-key",
        secret,
        *more,
    ]


def check_failure(result, *says, secret=None):
    assert result.code == 1, result
    assert result.stdout == ""
    for text in says:
        assert text in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    if secret:
        assert secret not in result.stderr


def test_ok(dynamodb_local):
    diagnosis = Connection(
        endpoint_url=dynamodb_local.endpoint_url,
        region="us-east-1",
        access_key_id="a",
        secret_access_key="s3cr3t-value",
    ).test()
    assert diagnosis.ok and diagnosis.details["auth"] == "iam_credentials"
    assert "s3cr3t-value" not in json.dumps(diagnosis.to_dict())


def test_unknown_access_key(iam_moto):
    server, _ = iam_moto
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    result = dynaquery("test", *flags(server, "AKIAUNKNOWN000000000", secret))
    check_failure(
        result,
        "InvalidClientTokenId",
        "The access key id or the secret access key is wrong",
        secret=secret,
    )


def test_wrong_secret(iam_moto):
    server, keys = iam_moto
    key_id, real = keys["reader"]
    wrong = real[:-4] + "XXXX"
    result = dynaquery("test", *flags(server, key_id, wrong))
    check_failure(result, "SignatureDoesNotMatch", "secret access key is wrong", secret=wrong)
    assert real not in result.stderr


def test_access_denied_names_the_action(iam_moto):
    server, keys = iam_moto
    key_id, secret = keys["reader"]
    result = dynaquery("test", *flags(server, key_id, secret))
    check_failure(
        result, "AccessDenied", "their IAM policy does not allow dynamodb:ListTables", secret=secret
    )


def test_role_is_assumed_and_used(iam_moto):
    server, keys = iam_moto
    key_id, secret = keys["assumer"]
    role = "arn:aws:iam::123456789012:role/dynamo"
    args = flags(
        server,
        key_id,
        secret,
        "--role-arn",
        role,
        "--external-id",
        "ext-1",
        "--sts-endpoint-url",
        server.endpoint_url,
    )
    ok = dynaquery("test", "--json", *args)
    assert ok.code == 0, ok.stderr
    assert json.loads(ok.stdout)["auth"] == "role_arn"
    # Without the role, the same keys may not list tables: it was the role that did.
    check_failure(dynaquery("run", "ListTables", *flags(server, key_id, secret)), "AccessDenied")
    assert dynaquery("run", "ListTables", *args).code == 0


def test_role_that_cannot_be_assumed(iam_moto):
    server, keys = iam_moto
    key_id, secret = keys["reader"]  # may not call sts:AssumeRole
    result = dynaquery(
        "test",
        *flags(
            server,
            key_id,
            secret,
            "--role-arn",
            "arn:aws:iam::123456789012:role/dynamo",
            "--sts-endpoint-url",
            server.endpoint_url,
        ),
    )
    check_failure(
        result,
        "Cannot assume role arn:aws:iam::123456789012:role/dynamo",
        "not authorized to perform: sts:AssumeRole",
        secret=secret,
    )


def test_role_from_the_default_chain(iam_moto):
    server, keys = iam_moto
    key_id, secret = keys["assumer"]
    env = clean_env(AWS_ACCESS_KEY_ID=key_id, AWS_SECRET_ACCESS_KEY=secret)
    result = dynaquery(
        "test",
        "--endpoint-url",
        server.endpoint_url,
        "--region",
        "us-east-1",
        "--role-arn",
        "arn:aws:iam::123456789012:role/dynamo",
        "--sts-endpoint-url",
        server.endpoint_url,
        env=env,
    )
    assert result.code == 0, result.stderr


def test_no_credentials_anywhere(dynamodb_local):
    result = dynaquery(
        "test", "--endpoint-url", dynamodb_local.endpoint_url, "--region", "us-east-1"
    )
    check_failure(result, "No AWS credentials found")


def test_instance_profile_uses_the_default_chain(dynamodb_local):
    env = clean_env(AWS_ACCESS_KEY_ID="fromenv", AWS_SECRET_ACCESS_KEY="env-secret-123")
    result = dynaquery(
        "test",
        "--auth",
        "instance_profile",
        "--endpoint-url",
        dynamodb_local.endpoint_url,
        "--region",
        "us-east-1",
        env=env,
    )
    assert result.code == 0, result.stderr
    assert "instance_profile" in result.stdout and "env-secret-123" not in result.stdout


def test_unknown_region():
    result = dynaquery(
        "test",
        "--region",
        "mars-north-1",
        "--access-key-id",
        "a",
        "--secret-access-key",
        "b",
        "--max-attempts",
        "1",
        "--connect-timeout",
        "3",
    )
    check_failure(result, "Unknown region 'mars-north-1'")


def test_unreachable_endpoint():
    port = free_port()
    result = dynaquery(
        "test",
        "--endpoint-url",
        f"http://127.0.0.1:{port}",
        "--region",
        "us-east-1",
        "--access-key-id",
        "a",
        "--secret-access-key",
        "b",
        "--max-attempts",
        "1",
    )
    check_failure(result, f"Could not connect to http://127.0.0.1:{port}", "unreachable")


@pytest.fixture
def silent_server():
    """Accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def test_slow_endpoint_times_out(silent_server):
    result = dynaquery(
        "test",
        "--endpoint-url",
        silent_server,
        "--region",
        "us-east-1",
        "--access-key-id",
        "a",
        "--secret-access-key",
        "b",
        "--max-attempts",
        "1",
        "--read-timeout",
        "1",
        timeout=30,
    )
    check_failure(result, f"no answer from {silent_server} within 1s (read timeout)")


def test_incomplete_settings_are_configuration_errors():
    with pytest.raises(ConfigurationError, match="secret access key is missing"):
        Connection(auth="iam_credentials", access_key_id="a")
    with pytest.raises(ConfigurationError, match="needs a role ARN"):
        Connection(auth="role_arn")
    with pytest.raises(ConfigurationError, match="Unknown retry mode"):
        Connection(retry_mode="fast")


def test_secrets_stay_out_of_repr_and_dicts():
    conn = Connection(
        access_key_id="AKIA1",
        secret_access_key="top-secret",
        session_token="tok-123",
        region="us-east-1",
    )
    text = repr(conn) + json.dumps(conn.config.to_dict())
    assert "top-secret" not in text and "tok-123" not in text
    assert conn.config.to_dict()["secret_access_key"] == "********"


def test_a_region_that_is_no_region_name_is_a_configuration_error():
    for region in ("É2", "\u00a0", "us east 1", "-x"):
        with pytest.raises(ConfigurationError, match="is not a region name"):
            Connection(ConnectionConfig(region=region, access_key_id="a", secret_access_key="b"))
    assert Connection(ConnectionConfig(region="eu-west-3")).config.region == "eu-west-3"


# ---------------------------------------------------------------------------------------------
# peers that are not what they should be, and connection tests with their own bounds


@pytest.fixture
def web_server():
    """A web server that is no AWS service: /405 answers 405 with a page, /404 plain text, any
    other path 200 with a page."""
    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = (
                405
                if self.path.startswith("/405")
                else 404
                if self.path.startswith("/404")
                else 200
            )
            body = {
                405: b"<html><body>Method Not Allowed</body></html>",
                404: b"Not Found",
                200: b"<html><body>Welcome</body></html>",
            }[status]
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


KEYS = {"region": "us-east-1", "access_key_id": "a", "secret_access_key": "b"}


@pytest.mark.parametrize(
    "path, answer",
    [
        ("/405", "HTTP 405 Method Not Allowed"),
        ("/404", "HTTP 404 Not Found"),
        ("/", "HTTP 200 and a body that is not DynamoDB's JSON"),
    ],
)
def test_a_web_server_is_no_dynamodb_endpoint(web_server, path, answer):
    from dynaquery import ConnectionFailed

    url = web_server + path
    connection = Connection(endpoint_url=url, max_attempts=1, **KEYS)
    diagnosis = connection.test()
    assert not diagnosis.ok and diagnosis.details["step"] == "dynamodb"
    assert "is not a DynamoDB endpoint: it answered ListTables with " + answer in diagnosis.message
    assert web_server in diagnosis.message
    with pytest.raises(ConnectionFailed, match="is not a DynamoDB endpoint") as error:
        connection.run("Scan", {"TableName": "users"})
    assert "answered Scan with " + answer in error.value.message


def test_a_connection_test_has_its_own_short_bounds(silent_server, tmp_path, monkeypatch):
    """Saved for runs: 60 s to read and 10 attempts. The test: one attempt of a few seconds."""
    import time

    from fastapi.testclient import TestClient

    from dynaquery import Workspace
    from dynaquery.server import _digest, create_app

    settings = {
        "endpoint_url": silent_server,
        "read_timeout": 60,
        "max_attempts": 10,
        "retry_mode": "legacy",
        **KEYS,
    }
    started = time.monotonic()
    diagnosis = Connection(**settings).test()
    assert time.monotonic() - started < 15
    assert not diagnosis.ok and diagnosis.details["step"] == "dynamodb"
    assert (
        f"no answer from {silent_server} within 3s (read timeout, the connection test's "
        "bound; runs wait 60s)"
    ) in diagnosis.message

    monkeypatch.delenv("DYNAQUERY_SECRET_KEY", raising=False)
    with Workspace.open(home=tmp_path) as workspace:
        saved = workspace.add_datasource("silent", **settings)
        api = TestClient(
            create_app(workspace, _digest("t" * 20)),
            headers={"Authorization": "Bearer " + "t" * 20},
        )
        for path, body in (
            (f"/api/datasources/{saved.id}/test", None),
            ("/api/datasources/test", settings),
        ):
            started = time.monotonic()
            answer = api.post(path, json=body)
            assert time.monotonic() - started < 15
            assert answer.status_code == 200 and not answer.json()["ok"], answer.text
            assert (
                "within 3s (read timeout, the connection test's bound" in answer.json()["message"]
            )
        # the saved bounds are still the run's
        assert workspace.connection_config("silent").read_timeout == 60


def test_a_connection_test_answers_by_its_deadline_whatever_a_step_does(silent_server):
    import time

    started = time.monotonic()
    diagnosis = Connection(endpoint_url=silent_server, **KEYS).test(deadline=0.5)
    assert time.monotonic() - started < 2.5
    assert not diagnosis.ok
    assert diagnosis.message.startswith(
        f"No answer within 0.5 s: DynamoDB at {silent_server} did not finish"
    )


ROLE = "arn:aws:iam::123456789012:role/reader"


def _sts_cases(web_server):
    closed = f"http://127.0.0.1:{free_port()}"
    return [
        (closed, f"Could not connect to {closed}: the endpoint is unreachable"),
        (web_server + "/", "its answer is not an STS answer: is it an STS endpoint?"),
        (web_server + "/404", "its answer is not an STS answer: is it an STS endpoint?"),
        (web_server + "/405", "it answered HTTP 405 Method Not Allowed with no STS error"),
    ]


def test_a_failing_sts_endpoint_is_named_as_the_step_that_failed(dynamodb_local, web_server):
    from dynaquery import ConnectionFailed

    ddb = dynamodb_local.endpoint_url
    for sts, says in _sts_cases(web_server):
        connection = Connection(
            endpoint_url=ddb, role_arn=ROLE, sts_endpoint_url=sts, max_attempts=1, **KEYS
        )
        diagnosis = connection.test()
        assert not diagnosis.ok
        assert diagnosis.details["step"] == "sts_assume_role"
        assert diagnosis.details["step_endpoint"] == sts
        assert diagnosis.message.startswith(
            f"Cannot assume role {ROLE} (STS AssumeRole at {sts}): "
        )
        assert says in diagnosis.message, diagnosis.message
        assert ddb not in diagnosis.message and "ResponseParserError" not in diagnosis.message
        # a run says the same: the role, not DynamoDB, failed
        with pytest.raises(ConnectionFailed) as error:
            connection.run("ListTables")
        assert error.value.message.startswith(
            f"Cannot assume role {ROLE} (STS AssumeRole at {sts})"
        )
        assert says in error.value.message and ddb not in error.value.message


def test_max_attempts_is_one_to_ten_everywhere(tmp_path, monkeypatch):
    from click.testing import CliRunner
    from fastapi.testclient import TestClient

    from dynaquery import Workspace
    from dynaquery.cli import cli
    from dynaquery.server import _digest, create_app

    for bad in (0, 11, 409, -1, True, "3", 2.5):
        with pytest.raises(
            ConfigurationError,
            match=r"max_attempts \(--max-attempts\) must be a "
            r"whole number from 1 to 10",
        ):
            Connection(max_attempts=bad, **KEYS)
    for good in (1, 10):
        assert (
            Connection(max_attempts=good, **KEYS).client.meta.config.retries["total_max_attempts"]
            == good
        )

    monkeypatch.delenv("DYNAQUERY_SECRET_KEY", raising=False)
    monkeypatch.setenv("DYNAQUERY_HOME", str(tmp_path))
    done = CliRunner().invoke(cli, ["test", "--max-attempts", "11", "--region", "us-east-1"])
    assert done.exit_code == 2 and "--max-attempts" in done.stderr and "1<=x<=10" in done.stderr

    with Workspace.open(home=tmp_path) as workspace:
        api = TestClient(
            create_app(workspace, _digest("t" * 20)),
            headers={"Authorization": "Bearer " + "t" * 20},
        )
        for body in ({"name": "x", "max_attempts": 11}, {"name": "x", "max_attempts": 0}):
            answer = api.post("/api/datasources", json=body)
            assert answer.status_code == 400 and "max_attempts" in answer.json()["message"]
        answer = api.post("/api/datasources/test", json={"max_attempts": 50, **KEYS})
        assert answer.status_code == 400 and "max_attempts" in answer.json()["message"]
        with pytest.raises(ConfigurationError, match="max_attempts"):
            workspace.add_datasource("x", max_attempts=11, **KEYS)
        with pytest.raises(InputError, match=r"datasources\[0\]\.settings: max_attempts"):
            workspace.import_(
                {
                    "dynaquery_workspace": EXPORT_VERSION,
                    "queries": [],
                    "datasources": [{"name": "x", "settings": {"max_attempts": 50}}],
                }
            )


@pytest.mark.parametrize("mode", ["legacy", "standard", "adaptive"])
def test_the_retry_backoff_is_capped(monkeypatch, mode):
    """botocore's legacy mode doubles 0.05 s without limit: 409.6 s before the 14th attempt
    (AWS_MAX_ATTEMPTS, or a config file, can ask for that many). No delay passes the cap."""
    from botocore.exceptions import EndpointConnectionError

    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "20")
    client = Connection(endpoint_url="http://127.0.0.1:9", retry_mode=mode, **KEYS).client
    found = []
    for attempt in range(1, 20):  # the delay botocore sleeps before each retry
        answers = client.meta.events.emit(
            "needs-retry.dynamodb.ListTables",
            response=None,
            endpoint=None,
            operation=client.meta.service_model.operation_model("ListTables"),
            attempts=attempt,
            request_dict={"context": {}},
            caught_exception=EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
        )
        found.append(next((a for _, a in answers if a is not None), None))
    assert all(d is not None for d in found)  # 20 attempts: 19 retries
    assert max(found) <= 20  # the cap of botocore's standard mode, for every mode
    if mode == "legacy":
        assert found[:3] == [0.05, 0.1, 0.2]  # botocore's own delays below the cap
        assert found[13] == 20  # 409.6 s uncapped


BAD_URLS = [
    "http://127.0.0.1 :1/",
    "http://[::1",
    "http://127.0.0.1:99999",
    "http://host:port",
    "http://",
    "http://a b.example",
    "http://under_score:1",
    "http://x\r\n:1",
]


def test_an_endpoint_url_that_is_no_url_is_refused_with_the_settings(tmp_path, monkeypatch):
    import sqlalchemy as sa
    from click.testing import CliRunner
    from fastapi.testclient import TestClient

    from dynaquery import Workspace, store
    from dynaquery.cli import cli
    from dynaquery.server import _digest, create_app

    for url in BAD_URLS:
        for setting, label in (
            ("endpoint_url", "endpoint URL (--endpoint-url)"),
            ("sts_endpoint_url", "STS endpoint URL (--sts-endpoint-url)"),
        ):
            with pytest.raises(ConfigurationError, match=re.escape(f"The {label} ")) as error:
                Connection(**{setting: url}, **KEYS)
            assert "\n" not in error.value.message and "\r" not in error.value.message
    assert Connection(endpoint_url="http://[::1]:8000", **KEYS).config.endpoint_url

    monkeypatch.delenv("DYNAQUERY_SECRET_KEY", raising=False)
    monkeypatch.setenv("DYNAQUERY_HOME", str(tmp_path))
    runner = CliRunner()
    for args in (
        ["datasource", "add", "x", "--endpoint-url", BAD_URLS[0], "--region", "us-east-1"],
        ["run", "ListTables", "--endpoint-url", BAD_URLS[0], "--region", "us-east-1"],
        ["test", "--sts-endpoint-url", BAD_URLS[0], "--role-arn", ROLE],
    ):
        done = runner.invoke(cli, args)
        assert done.exit_code == 2, (args, done.output)
        assert "is not a valid URL" in done.stderr and "unexpected" not in done.stderr

    with Workspace.open(home=tmp_path) as workspace:
        api = TestClient(
            create_app(workspace, _digest("t" * 20)),
            headers={"Authorization": "Bearer " + "t" * 20},
        )
        answer = api.post(
            "/api/datasources", json={"name": "x", "endpoint_url": BAD_URLS[0], **KEYS}
        )
        assert answer.status_code == 400, answer.text
        assert "is not a valid URL" in answer.json()["message"]
        saved = api.post("/api/datasources", json={"name": "ok", **KEYS}).json()
        answer = api.put(f"/api/datasources/{saved['id']}", json={"endpoint_url": BAD_URLS[0]})
        assert answer.status_code == 400 and "is not a valid URL" in answer.json()["message"]
        with pytest.raises(InputError, match=r"datasources\[0\]\.settings: The endpoint URL"):
            workspace.import_(
                {
                    "dynaquery_workspace": EXPORT_VERSION,
                    "queries": [],
                    "datasources": [{"name": "y", "settings": {"endpoint_url": BAD_URLS[0]}}],
                }
            )

        # Saved before the check existed: every use is a clear input error, not a 500.
        with workspace.engine.begin() as db:
            db.execute(
                sa.update(store.datasources).values(
                    settings=json.dumps(
                        {"region": "us-east-1", "access_key_id": "a", "endpoint_url": BAD_URLS[0]}
                    )
                )
            )
        for method, path, body in (
            ("POST", f"/api/datasources/{saved['id']}/test", None),
            ("POST", "/api/run", {"datasource": saved["id"], "operation": "ListTables"}),
            ("GET", f"/api/tables?datasource={saved['id']}", None),
        ):
            answer = api.request(method, path, json=body)
            assert answer.status_code == 400, (path, answer.text)
            assert "is not a valid URL" in answer.json()["message"]
        done = runner.invoke(cli, ["run", "ListTables", "--datasource", "ok"])
        assert done.exit_code == 2 and "is not a valid URL" in done.stderr, done.output


def test_the_user_agent_names_dynaquery_once(dynamodb_local):
    # Read off the request as it is sent to DynamoDB Local (an observer, nothing replaced).
    conn = Endpoint(dynamodb_local.endpoint_url).connection()
    seen = []
    conn.client.meta.events.register(
        "before-send.dynamodb", lambda request, **_: seen.append(request.headers["User-Agent"])
    )
    conn.run("ListTables", {})
    user_agent = seen[0].decode() if isinstance(seen[0], bytes) else seen[0]
    assert user_agent.endswith(" dynaquery/0.1") and user_agent.count("dynaquery/0.1") == 1
