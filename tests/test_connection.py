"""Test connection: ok, or a diagnosis a user can act on; never a secret in it.

Bad keys, a wrong secret, access denied and roles are checked against moto's server with its IAM
enforcement on (INITIAL_NO_AUTH_ACTION_COUNT lets the setup calls through, then every request is
authenticated and authorised).
"""

from __future__ import annotations

import json
import socket
import threading

import pytest

from dynaquery import Connection, ConfigurationError, ConnectionConfig
from dynaquery.local import free_port

from support import clean_env, dynaquery, iam_user, start_moto_with_iam

SETUP_CALLS = 9  # the free calls: moto's readiness probe and the eight setup calls below


@pytest.fixture(scope="module")
def iam_moto():
    server, iam = start_moto_with_iam(SETUP_CALLS)
    keys = {"reader": iam_user(iam, "reader", ["dynamodb:DescribeTable"]),
            "assumer": iam_user(iam, "assumer", ["sts:AssumeRole"])}
    iam.create_role(RoleName="dynamo", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}))
    iam.put_role_policy(RoleName="dynamo", PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["dynamodb:*"], "Resource": "*"}]}))
    try:
        yield server, keys
    finally:
        server.stop()


def flags(server, key_id, secret, *more):
    return ["--endpoint-url", server.endpoint_url, "--region", "us-east-1",
            "--access-key-id", key_id, "--secret-access-key", secret, *more]


def check_failure(result, *says, secret=None):
    assert result.code == 1, result
    assert result.stdout == ""
    for text in says:
        assert text in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    if secret:
        assert secret not in result.stderr


def test_ok(dynamodb_local):
    diagnosis = Connection(endpoint_url=dynamodb_local.endpoint_url, region="us-east-1",
                           access_key_id="a", secret_access_key="s3cr3t-value").test()
    assert diagnosis.ok and diagnosis.details["auth"] == "iam_credentials"
    assert "s3cr3t-value" not in json.dumps(diagnosis.to_dict())


def test_unknown_access_key(iam_moto):
    server, _ = iam_moto
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    result = dynaquery("test", *flags(server, "AKIAUNKNOWN000000000", secret))
    check_failure(result, "InvalidClientTokenId", "The access key id or the secret access key is wrong",
                  secret=secret)


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
    check_failure(result, "AccessDenied", "their IAM policy does not allow dynamodb:ListTables",
                  secret=secret)


def test_role_is_assumed_and_used(iam_moto):
    server, keys = iam_moto
    key_id, secret = keys["assumer"]
    role = "arn:aws:iam::123456789012:role/dynamo"
    args = flags(server, key_id, secret, "--role-arn", role, "--external-id", "ext-1",
                 "--sts-endpoint-url", server.endpoint_url)
    ok = dynaquery("test", "--json", *args)
    assert ok.code == 0, ok.stderr
    assert json.loads(ok.stdout)["auth"] == "role_arn"
    # Without the role, the same keys may not list tables: it was the role that did.
    check_failure(dynaquery("run", "ListTables", *flags(server, key_id, secret)), "AccessDenied")
    assert dynaquery("run", "ListTables", *args).code == 0


def test_role_that_cannot_be_assumed(iam_moto):
    server, keys = iam_moto
    key_id, secret = keys["reader"]  # may not call sts:AssumeRole
    result = dynaquery("test", *flags(server, key_id, secret, "--role-arn",
                                      "arn:aws:iam::123456789012:role/dynamo",
                                      "--sts-endpoint-url", server.endpoint_url))
    check_failure(result, "Cannot assume role arn:aws:iam::123456789012:role/dynamo",
                  "not authorized to perform: sts:AssumeRole", secret=secret)


def test_role_from_the_default_chain(iam_moto):
    server, keys = iam_moto
    key_id, secret = keys["assumer"]
    env = clean_env(AWS_ACCESS_KEY_ID=key_id, AWS_SECRET_ACCESS_KEY=secret)
    result = dynaquery("test", "--endpoint-url", server.endpoint_url, "--region", "us-east-1",
                       "--role-arn", "arn:aws:iam::123456789012:role/dynamo",
                       "--sts-endpoint-url", server.endpoint_url, env=env)
    assert result.code == 0, result.stderr


def test_no_credentials_anywhere(dynamodb_local):
    result = dynaquery("test", "--endpoint-url", dynamodb_local.endpoint_url, "--region", "us-east-1")
    check_failure(result, "No AWS credentials found")


def test_instance_profile_uses_the_default_chain(dynamodb_local):
    env = clean_env(AWS_ACCESS_KEY_ID="fromenv", AWS_SECRET_ACCESS_KEY="env-secret-123")
    result = dynaquery("test", "--auth", "instance_profile", "--endpoint-url",
                       dynamodb_local.endpoint_url, "--region", "us-east-1", env=env)
    assert result.code == 0, result.stderr
    assert "instance_profile" in result.stdout and "env-secret-123" not in result.stdout


def test_unknown_region():
    result = dynaquery("test", "--region", "mars-north-1", "--access-key-id", "a",
                       "--secret-access-key", "b", "--max-attempts", "1", "--connect-timeout", "3")
    check_failure(result, "Unknown region 'mars-north-1'")


def test_unreachable_endpoint():
    port = free_port()
    result = dynaquery("test", "--endpoint-url", f"http://127.0.0.1:{port}", "--region", "us-east-1",
                       "--access-key-id", "a", "--secret-access-key", "b", "--max-attempts", "1")
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
    result = dynaquery("test", "--endpoint-url", silent_server, "--region", "us-east-1",
                       "--access-key-id", "a", "--secret-access-key", "b", "--max-attempts", "1",
                       "--read-timeout", "1", timeout=30)
    check_failure(result, f"no answer from {silent_server} within 1s (read timeout)")


def test_incomplete_settings_are_configuration_errors():
    with pytest.raises(ConfigurationError, match="secret access key is missing"):
        Connection(auth="iam_credentials", access_key_id="a")
    with pytest.raises(ConfigurationError, match="needs a role ARN"):
        Connection(auth="role_arn")
    with pytest.raises(ConfigurationError, match="Unknown retry mode"):
        Connection(retry_mode="fast")


def test_secrets_stay_out_of_repr_and_dicts():
    conn = Connection(access_key_id="AKIA1", secret_access_key="top-secret", session_token="tok-123",
                      region="us-east-1")
    text = repr(conn) + json.dumps(conn.config.to_dict())
    assert "top-secret" not in text and "tok-123" not in text
    assert conn.config.to_dict()["secret_access_key"] == "********"


def test_a_region_that_is_no_region_name_is_a_configuration_error():
    for region in ("É2", "\u00a0", "us east 1", "-x"):
        with pytest.raises(ConfigurationError, match="is not a region name"):
            Connection(ConnectionConfig(region=region, access_key_id="a", secret_access_key="b"))
    assert Connection(ConnectionConfig(region="eu-west-3")).config.region == "eu-west-3"
