"""A data source: region, how to authenticate, and where DynamoDB is.

The three ways to authenticate are the ones the spec names:
- iam_credentials: an access key id and secret (and a session token for temporary keys);
- instance_profile: botocore's default chain (environment, shared config and profile, web identity
  token, ECS container and EC2 instance metadata);
- role_arn: STS AssumeRole on top of the given keys or the default chain, refreshed by botocore
  before it expires.

Everything else (environment variables, config files, retries, timeouts) is botocore's own.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from .errors import (
    ConfigurationError,
    ConnectionFailed,
    DynaqueryError,
    InputError,
    ReadOnlyError,
    ServiceError,
)
from .settings import BY_NAME, MASK, SECRET_FIELDS, SETTINGS, masked

AuthMethod = Literal["iam_credentials", "instance_profile", "role_arn"]
KEY_FIELDS = ("access_key_id", *SECRET_FIELDS)  # pasted from files: surrounding whitespace goes
TEXT_FIELDS = (
    "region",
    *KEY_FIELDS,
    "profile",
    "role_arn",
    "external_id",
    "role_session_name",
    "endpoint_url",
    "sts_endpoint_url",
)
URL_FIELDS = ("endpoint_url", "sts_endpoint_url")
# Between two attempts, at most this long: botocore's standard and adaptive modes stop at 20 s,
# its legacy mode has no limit (0.05 s doubling: 409 s before the 14th attempt).
MAX_BACKOFF = 20.0
# Test connection: its own short bounds (one attempt), whatever the saved ones are for runs.
TEST_CONNECT_TIMEOUT = 3.0
TEST_READ_TIMEOUT = 3.0
TEST_DEADLINE = 10.0
MAX_POOL_CONNECTIONS = 64  # HTTP connections per DynamoDB client
USER_AGENT = "dynaquery/0.1"


@dataclass
class ConnectionConfig:
    """The settings of one data source. Secrets are kept out of repr()."""

    region: str | None = None
    auth: AuthMethod | None = None  # None: decided from what is given
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    profile: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    role_session_name: str = "dynaquery"
    role_duration_seconds: int | None = None
    endpoint_url: str | None = None
    sts_endpoint_url: str | None = None
    connect_timeout: float = 10
    read_timeout: float = 60
    max_attempts: int | None = None
    retry_mode: str | None = None
    read_only: bool = False  # only operations that read are sent

    @property
    def auth_method(self) -> str:
        if self.auth:
            return self.auth
        if self.role_arn:
            return "role_arn"
        if self.access_key_id or self.secret_access_key:
            return "iam_credentials"
        return "instance_profile"

    def secrets(self) -> list[str]:
        # Shorter strings are no AWS secret, and replacing them would garble every message.
        found = []
        for value in (self.secret_access_key, self.session_token):
            if isinstance(value, str):
                found += [v for v in {value, value.strip()} if len(v) >= 8]
        return found

    def to_dict(self, mask: bool = True) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        return masked(data) if mask else data

    def check(self) -> None:
        """Refuse settings that cannot work, naming the setting; trim whitespace around keys."""
        self.check_values()
        method = self.auth_method
        if method == "iam_credentials" and not (self.access_key_id and self.secret_access_key):
            missing = "access key id" if not self.access_key_id else "secret access key"
            raise ConfigurationError(
                f"IAM credentials need both an access key id and a secret access key; the {missing} "
                "is missing (--access-key-id / --secret-access-key)."
            )
        if method == "role_arn" and not self.role_arn:
            raise ConfigurationError("The role_arn method needs a role ARN (--role-arn).")
        if (
            bool(self.access_key_id) != bool(self.secret_access_key)
            and method != "instance_profile"
        ):
            raise ConfigurationError(
                "Give both --access-key-id and --secret-access-key, or neither."
            )

    def check_values(self) -> None:
        """Each setting on its own (check() also wants them complete): an export's settings,
        which carry no secrets, are checked with this. Types, bounds and choices are the
        settings table's (settings.Setting.problem)."""
        for setting in SETTINGS:
            problem = setting.problem(getattr(self, setting.name))
            if problem:
                raise ConfigurationError(problem)
        self._check_text()
        for name in URL_FIELDS:
            if getattr(self, name):
                _check_url(name, getattr(self, name))
        if self.region:
            from botocore.exceptions import InvalidRegionError
            from botocore.utils import validate_region_name

            try:  # botocore's own rule, checked now rather than when the client is made
                validate_region_name(self.region)
            except InvalidRegionError:
                raise ConfigurationError(
                    f"The region {self.region!r} is not a region name (like us-east-1)."
                ) from None

    def _check_text(self) -> None:
        for name in KEY_FIELDS:
            value = getattr(self, name)
            if isinstance(value, str) and value != value.strip():
                # A key read from a file with CRLF line ends: the CR is no part of it.
                setattr(self, name, value.strip() or None)
        for name in TEXT_FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            label = _label(name)
            bad = next(
                (c for c in value if unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp")), None
            )
            if bad is None:
                continue
            what = (
                "a lone surrogate, which is no character"
                if unicodedata.category(bad) == "Cs"
                else "a control character"
            )
            if name in SECRET_FIELDS:  # the secret itself is never shown
                raise ConfigurationError(
                    f"The {label} contains {what} (U+{ord(bad):04X}), which no AWS secret has: "
                    "give it again without it (or clear it)."
                )
            raise ConfigurationError(
                f"The {label} {_escaped(value)} contains {what} (U+{ord(bad):04X})."
            )

    def redact(self, text: str) -> str:
        """Remove every secret of this configuration from a text, also in its escaped forms
        (repr, bytes, JSON, URL), as error messages quote header values."""
        forms = set()
        for secret in self.secrets():
            for form in _escaped_forms(secret):
                forms.update(_escaped_forms(form))  # escaped twice: JSON of a repr...
        for form in sorted((f for f in forms if len(f) >= 8), key=len, reverse=True):
            text = text.replace(form, MASK)
        return text


def _label(name: str) -> str:
    """A setting as messages name it: its label from the settings table, then its flag."""
    setting = BY_NAME[name]
    label = (
        setting.label
        if setting.label[:2].isupper()
        else setting.label[0].lower() + setting.label[1:]
    )
    return f"{label} ({setting.flag})"


def _escaped(value: str) -> str:
    """A setting quoted with its control characters escaped, so it prints on one line."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "backslashreplace").decode()


def _escaped_forms(text: str) -> set[str]:
    forms = {
        text,
        repr(text)[1:-1],
        text.encode("unicode_escape").decode("ascii"),
        json.dumps(text)[1:-1],
        json.dumps(text, ensure_ascii=False)[1:-1],
        quote(text, safe=""),
    }
    raw = text.encode("utf-8", "backslashreplace")
    forms.add(repr(raw)[2:-1])
    return forms


def _check_url(name: str, url: str) -> None:
    """An endpoint botocore would refuse, or could not connect to, is refused with the settings
    (else it is saved, and every later use fails)."""
    from botocore.utils import is_valid_endpoint_url, is_valid_ipv6_endpoint_url

    label = _label(name)
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"The {label} {_escaped(url)} must start with http:// or https://."
        )
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port that is no number, or out of range, raises here
        valid = bool(parts.hostname) and bool(
            is_valid_endpoint_url(url) or is_valid_ipv6_endpoint_url(url)
        )
    except ValueError:
        valid = False
    if not valid:
        raise ConfigurationError(
            f"The {label} {_escaped(url)} is not a valid URL: write it as "
            "http(s)://host[:port], with no spaces (for example http://localhost:8000)."
        )


@dataclass
class Diagnosis:
    """The answer to "Test connection"."""

    ok: bool
    message: str
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"ok": self.ok, "message": self.message, **self.details}


class Connection:
    """A live data source: a botocore session and DynamoDB client built from a ConnectionConfig."""

    # Called with each botocore session as it is built (the server's network guard), or None.
    network_guard = None

    def __init__(self, config: ConnectionConfig | None = None, **settings: Any):
        self.config = config or ConnectionConfig(**settings)
        self.config.check()
        self._session = None
        self._client = None
        self._sts_endpoint: str | None = None
        self._saved: ConnectionConfig | None = None  # a test's probe: the saved bounds

    def __repr__(self) -> str:
        return f"<Connection {self.config!r}>"

    # -- building ------------------------------------------------------------------------------

    @property
    def session(self):
        if self._session is None:
            self._session = self._build_session()
        return self._session

    def _build_session(self):
        import botocore.session
        from botocore.exceptions import ProfileNotFound

        from .catalog import catalog

        cfg = self.config
        try:
            session = botocore.session.Session(profile=cfg.profile)
            if self.network_guard is not None:
                self.network_guard(session)
            # Share the catalog's loader, so the service model is read from disk only once.
            session.register_component("data_loader", catalog()._loader)
            session.user_agent_extra = USER_AGENT  # once, for every client of the session
            session.get_scoped_config()  # a missing profile fails here, whatever the method
            method = cfg.auth_method
            if method == "iam_credentials":
                session.set_credentials(cfg.access_key_id, cfg.secret_access_key, cfg.session_token)
            elif method == "role_arn":
                self._use_assumed_role(session)
            else:
                session.get_scoped_config()  # a missing profile fails here, with its name
        except ProfileNotFound as error:
            raise ConfigurationError(
                f"The profile {error.kwargs.get('profile')!r} is not in the AWS config files."
            ) from None
        return session

    def _use_assumed_role(self, session) -> None:
        """Give the session credentials from STS AssumeRole, fetched when first needed."""
        from botocore.credentials import (
            AssumeRoleCredentialFetcher,
            CredentialProvider,
            CredentialResolver,
            DeferredRefreshableCredentials,
        )

        cfg = self.config
        source = self._role_source_credentials()
        extra: dict[str, Any] = {"RoleSessionName": cfg.role_session_name}
        if cfg.external_id:
            extra["ExternalId"] = cfg.external_id
        if cfg.role_duration_seconds:
            extra["DurationSeconds"] = cfg.role_duration_seconds
        region = cfg.region or os.environ.get("AWS_REGION") or session.get_config_variable("region")
        fetcher = AssumeRoleCredentialFetcher(
            self._sts_client_maker(session, region), source, cfg.role_arn, extra_args=extra
        )

        def fetch_credentials():
            try:
                return fetcher.fetch_credentials()
            except DynaqueryError:
                raise
            except Exception as error:  # whatever STS did, said as the AssumeRole step's failure
                raise translate_error(
                    error, "AssumeRole", self, endpoint=self._sts_endpoint or "the STS endpoint"
                ) from None

        class _AssumedRole(CredentialProvider):
            METHOD = "assume-role"

            def load(self):
                return DeferredRefreshableCredentials(fetch_credentials, "assume-role")

        session.register_component("credential_provider", CredentialResolver([_AssumedRole()]))

    def _role_source_credentials(self):
        """The credentials to call STS with: the given keys, or the default chain's."""
        from botocore.credentials import Credentials

        cfg = self.config
        if cfg.access_key_id:
            return Credentials(cfg.access_key_id, cfg.secret_access_key, cfg.session_token)
        import botocore.session

        # A session of its own: the main session must not cache these as its credentials.
        source = botocore.session.Session(profile=cfg.profile).get_credentials()
        if source is None:
            raise ConnectionFailed(
                "Cannot assume the role: no source credentials were found to call STS with "
                "(give keys, a profile, or run where the default credential chain has some)."
            )
        return source

    def _sts_client_maker(self, session, region):
        """What AssumeRoleCredentialFetcher makes its STS client with: this data source's
        bounds, STS endpoint and region; it notes the endpoint the client uses."""
        from botocore.config import Config

        cfg = self.config

        def sts_client(service_name, **kwargs):
            kwargs.setdefault("region_name", region)
            if cfg.sts_endpoint_url:
                kwargs["endpoint_url"] = cfg.sts_endpoint_url
            # The data source's bounds hold for STS too (a connection test's short ones included).
            kwargs["config"] = self._client_config().merge(kwargs.get("config") or Config())
            client = session.create_client(service_name, **kwargs)
            _cap_legacy_backoff(client, session.get_component("data_loader"))
            self._sts_endpoint = client.meta.endpoint_url
            return client

        return sts_client

    @property
    def region(self) -> str:
        # AWS_REGION first, as the AWS CLI reads it; botocore itself knows AWS_DEFAULT_REGION.
        region = (
            self.config.region
            or os.environ.get("AWS_REGION")
            or self.session.get_config_variable("region")
        )
        if not region:
            if self.config.endpoint_url:
                return "us-east-1"  # a local endpoint still needs a region to sign with
            raise ConfigurationError(
                "No region: give --region, or set AWS_REGION (or a region in your AWS profile)."
            )
        return region

    @property
    def client(self):
        """The botocore DynamoDB client (built once)."""
        if self._client is None:
            from botocore.config import Config

            cfg = self.config
            config = self._client_config().merge(
                Config(
                    # Parameters are checked by dynaquery's own validation (botocore's validator
                    # plus the model's enums and patterns) before they reach the client.
                    parameter_validation=False,
                    # One client serves a server's threads (and a transfer's): botocore's default
                    # pool of 10 connections made them queue for a socket.
                    max_pool_connections=MAX_POOL_CONNECTIONS,
                )
            )
            client = self.session.create_client(
                "dynamodb", region_name=self.region, endpoint_url=cfg.endpoint_url, config=config
            )
            _cap_legacy_backoff(client, self.session.get_component("data_loader"))
            # A web server that is not DynamoDB may answer 200 with a page botocore reads as {}.
            client.meta.events.register("after-call.dynamodb", _check_is_dynamodb)
            if cfg.read_only:
                # In botocore's own call path, so paginators and every other caller are covered.
                client.meta.events.register("before-parameter-build.dynamodb", _refuse_writes)
            # botocore reads bodies without enforcing Content-Length; a body cut off on the last
            # attempt would be parsed as it is ({} for a GetItem, a last page for a Scan).
            client.meta.events.register("after-call.dynamodb", _check_crc32)
            self._client = client
        return self._client

    def _client_config(self):
        """Timeouts and retries, for DynamoDB and STS alike."""
        from botocore.config import Config

        cfg = self.config
        retries: dict[str, Any] = {}
        if cfg.retry_mode:
            retries["mode"] = cfg.retry_mode
        if cfg.max_attempts is not None:
            retries["total_max_attempts"] = cfg.max_attempts
        return Config(
            connect_timeout=cfg.connect_timeout,
            read_timeout=cfg.read_timeout,
            retries=retries or None,
        )

    @property
    def endpoint(self) -> str:
        return self.client.meta.endpoint_url

    # -- using ---------------------------------------------------------------------------------

    def run(self, operation, params=None, **options):
        """Run one operation. See dynaquery.execution.run for the options."""
        from .execution import run

        return run(self, operation, params, **options)

    def test(self, deadline: float = TEST_DEADLINE) -> Diagnosis:
        """Check that the data source works: credentials, STS AssumeRole for a role, DynamoDB.

        With its own short bounds (one attempt, TEST_CONNECT_TIMEOUT and TEST_READ_TIMEOUT per
        call), whatever the saved ones for runs are, and an answer within `deadline` seconds
        even when a step is not bounded by them (a DNS lookup, a credential source)."""
        cfg = self.config
        probe = Connection(
            dataclasses.replace(
                cfg,
                connect_timeout=min(cfg.connect_timeout, TEST_CONNECT_TIMEOUT),
                read_timeout=min(cfg.read_timeout, TEST_READ_TIMEOUT),
                max_attempts=1,
            )
        )
        probe._saved = cfg
        probe.network_guard = self.network_guard
        details: dict[str, Any] = {"auth": cfg.auth_method, "step": "credentials"}
        answer: list[Diagnosis] = []
        worker = threading.Thread(
            target=lambda: answer.append(probe._diagnose(details)),
            name="dynaquery-test",
            daemon=True,
        )
        worker.start()
        worker.join(deadline)
        if answer:
            return answer[0]
        # The worker stops by itself at its bounds; nobody waits for it.
        details = dict(details)
        where = details.get("step_endpoint")
        return Diagnosis(
            False,
            cfg.redact(
                f"No answer within {deadline:g} s: {STEPS[details['step']]}"
                f"{f' at {where}' if where else ''} did not finish (a name that does not resolve, "
                "or an endpoint or credential source that does not answer)."
            ),
            details,
        )

    def _diagnose(self, details: dict) -> Diagnosis:
        """The steps of a test, each named in `details` while it runs."""
        cfg = self.config
        started = time.perf_counter()
        try:
            details["region"] = self.region
            details["endpoint"] = self.endpoint
            credentials = self.session.get_credentials()
            if credentials is None:
                raise ConnectionFailed(no_credentials_message())
            if cfg.auth_method == "role_arn":
                details.update(step="sts_assume_role", step_endpoint=cfg.sts_endpoint_url)
            credentials.get_frozen_credentials()
            details.update(step="dynamodb", step_endpoint=details["endpoint"])
            self.call("ListTables", {"Limit": 1})
        except Exception as error:  # a credential source may fail in its own way
            if not isinstance(error, DynaqueryError):
                error = translate_error(error, STEPS[details["step"]], self)
            details = dict(details)
            if self._sts_endpoint:
                details["sts_endpoint"] = self._sts_endpoint
                if details["step"] == "sts_assume_role":
                    details["step_endpoint"] = self._sts_endpoint
            return Diagnosis(False, cfg.redact(error.message), details)
        details = {k: v for k, v in details.items() if k not in ("step", "step_endpoint")}
        details["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
        return Diagnosis(
            True,
            f"Connected to DynamoDB at {details['endpoint']} "
            f"({details['region']}, {details['auth']}).",
            details,
        )

    def call(self, operation: str, params: dict) -> dict:
        """One API call, its errors translated (no pagination, no batch handling)."""
        from botocore import xform_name

        try:
            return getattr(self.client, xform_name(operation))(**params)
        except DynaqueryError:
            raise
        except Exception as error:
            raise translate_error(error, operation, self, params) from None

    def translate_error(
        self, error: Exception, operation: str, params: dict | None = None
    ) -> DynaqueryError:
        """translate_error for this connection. execution translates its paginators' errors
        with it, and so never imports this module (which imports execution, in run)."""
        return translate_error(error, operation, self, params)


STEPS = {
    "credentials": "getting the credentials",
    "sts_assume_role": "STS AssumeRole",
    "dynamodb": "DynamoDB",
}


def _cap_legacy_backoff(client, loader) -> None:
    """botocore's legacy retry handler (of DynamoDB or STS), with its delay capped at
    MAX_BACKOFF (its doubling has no limit; the standard and adaptive modes have their own)."""
    from botocore import retryhandler, translate

    retries = dict(client.meta.config.retries or {})
    if retries.get("mode", "legacy") != "legacy":
        return
    if "total_max_attempts" in retries:  # as botocore's client does for this mode
        retries["max_attempts"] = retries.pop("total_max_attempts") - 1
    prefix = client.meta.service_model.endpoint_prefix
    event = f"needs-retry.{client.meta.service_model.service_id.hyphenize()}"
    model = loader.load_data("_retry")
    config = translate.build_retry_config(
        prefix, model.get("retry", {}), model.get("definitions", {}), retries
    )
    checker = retryhandler.create_checker_from_retry_config(config, prefix)
    delay = retryhandler.create_retry_action_from_config(config, prefix)
    handler = retryhandler.RetryHandler(
        checker, lambda attempts: min(delay(attempts=attempts), MAX_BACKOFF)
    )
    # Under the id botocore registers its own handler with: it replaces that one.
    unique_id = f"retry-config-{client.meta.service_model.service_id.hyphenize()}"
    client.meta.events.unregister(event, unique_id=unique_id)
    client.meta.events.register(event, handler, unique_id=unique_id)


def _check_is_dynamodb(http_response, model, **_: Any) -> None:
    """DynamoDB answers JSON objects; botocore reads any other 200 (a web page) as {}."""
    if http_response is None or http_response.status_code >= 300:
        return
    body = http_response.content.lstrip()
    if body and not body.startswith(b"{"):
        raise ConnectionFailed(
            _not_dynamodb(
                _endpoint_of(http_response.url),
                model.name,
                f"HTTP {http_response.status_code} and a body that is not DynamoDB's JSON",
            )
        )


def _test_bound(used: float, saved: float) -> str:
    return f"the connection test's bound; runs wait {saved:g}s" if used < saved else ""


def _endpoint_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _not_dynamodb(where: str, operation: str, answer: str) -> str:
    return (
        f"{where} is not a DynamoDB endpoint: it answered {operation} with {answer}. Check "
        "the endpoint URL (scheme, host, port and path of a DynamoDB API, such as "
        "DynamoDB Local's)."
    )


def _status_text(status) -> str:
    import http

    try:
        return f"HTTP {status} {http.HTTPStatus(int(status)).phrase}"
    except (TypeError, ValueError):
        return f"HTTP {status}"


def _check_crc32(http_response, **_: Any) -> None:
    """A DynamoDB answer must match its x-amz-crc32 (botocore retries a mismatch, but lets the
    last attempt's damaged answer through in the standard and adaptive modes)."""
    import zlib

    expected = http_response.headers.get("x-amz-crc32") if http_response is not None else None
    if expected and expected.isdigit():
        actual = zlib.crc32(http_response.content) & 0xFFFFFFFF
        if actual != int(expected):
            from botocore.exceptions import ChecksumError

            raise ChecksumError(
                checksum_type="crc32", expected_checksum=expected, actual_checksum=actual
            )


def _refuse_writes(params: dict, model, **_: Any) -> None:
    from .catalog import catalog

    if not catalog().get(model.name).reads_only(params):
        raise ReadOnlyError(model.name)


def no_credentials_message() -> str:
    return (
        "No AWS credentials found. Give an access key id and secret access key, a profile, "
        "or a role ARN; or run where the default chain has credentials (environment, "
        "~/.aws/credentials, web identity token, ECS or EC2 instance metadata)."
    )


def _known_region(region: str) -> bool:
    from botocore.session import get_session

    try:
        session = get_session()
        known = set(session.get_available_regions("dynamodb"))
        for partition in ("aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b"):
            known.update(session.get_available_regions("dynamodb", partition))
    except Exception:
        return True
    return region in known


def translate_error(
    error: Exception,
    operation: str,
    connection: Connection | None = None,
    params: dict | None = None,
    endpoint: str | None = None,
) -> DynaqueryError:
    """A botocore exception, as an error a user can act on. Never includes a secret.

    `endpoint` is where the failed call went, when it is not the DynamoDB endpoint (STS)."""
    from botocore import exceptions as bx
    from botocore.parsers import ResponseParserError

    cfg = connection.config if connection else ConnectionConfig()
    redact = cfg.redact
    sts = operation == "AssumeRole"
    where = _failed_endpoint(error, connection, endpoint)
    if isinstance(error, bx.ClientError):
        return _answered_error(error, operation, connection, cfg, params, where)
    translated = _credentials_or_region_error(error, redact)
    if translated is not None:
        return translated
    translated = _connection_error(
        error, operation, cfg, where, getattr(connection, "_saved", None) or cfg
    )
    if translated is not None:
        return _assume_failed(cfg, where, translated.message) if sts else translated
    if sts:  # STS answered, but not as STS does (a web page, text that is no XML...)
        return _assume_failed(
            cfg,
            where,
            "its answer is not an STS answer: is it an STS endpoint? Check the STS endpoint URL.",
        )
    if isinstance(error, ResponseParserError):
        return ConnectionFailed(_not_dynamodb(where, operation, "an answer that is not DynamoDB's"))
    if isinstance(error, bx.ParamValidationError):
        return InputError(redact(str(error)))
    if isinstance(error, bx.BotoCoreError):
        return ConnectionFailed(redact(f"{operation}: {error}"))
    return ConnectionFailed(redact(f"{operation}: {type(error).__name__}: {error}"))


def _failed_endpoint(error: Exception, connection: Connection | None, endpoint: str | None) -> str:
    """Where the failed call went, for the message: the given endpoint, the client's, or
    the one botocore names in the error."""
    where = endpoint
    if where is None and connection is not None and connection._client is not None:
        where = connection._client.meta.endpoint_url
    return where or getattr(error, "kwargs", {}).get("endpoint_url") or "the endpoint"


def _assume_failed(cfg: ConnectionConfig, where: str, reason: str) -> ConnectionFailed:
    return ConnectionFailed(
        cfg.redact(f"Cannot assume role {cfg.role_arn} (STS AssumeRole at {where}): {reason}")
    )


def _answered_error(
    error: Exception,
    operation: str,
    connection: Connection | None,
    cfg: ConnectionConfig,
    params: dict | None,
    where: str,
) -> DynaqueryError:
    """An error answer (botocore's ClientError): the service's, or another server's."""
    code, message, status = _error_code_and_message(error, cfg.redact)
    if code == "Unknown" or code.isdigit():
        # No error code in the body: the answer of some other server, not of the service.
        return _not_a_service_answer(operation, cfg, where, code, status)
    if operation == "AssumeRole":
        return _assume_failed(cfg, where, f"{code}: {message}")
    from .hints import advise

    hint = advise(
        code, message, params or {}, _describer(connection) if connection else (lambda _t: None)
    )
    return ServiceError(operation, code, message, hint, status)


def _error_code_and_message(error: Exception, redact) -> tuple[str, str, Any]:
    """The error code, its message (redacted) and the HTTP status of an error answer."""
    info = error.response.get("Error") or {}
    code = str(info.get("Code") or "Unknown")
    message = redact(str(info.get("Message") or ""))
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if message.lstrip().startswith("<"):
        # Not DynamoDB's JSON: an XML ErrorResponse (gateways, moto) or an HTML error page.
        xml_code = re.search(r"<Code>([^<]+)</Code>", message)
        xml_message = re.search(r"<Message>([^<]*)</Message>", message)
        if xml_code:
            import html  # only here: see catalog.html_to_text

            code = xml_code.group(1)
            message = html.unescape(xml_message.group(1)) if xml_message else ""
        else:
            code = str(status or code)
    return code, message, status


def _not_a_service_answer(
    operation: str, cfg: ConnectionConfig, where: str, code: str, status
) -> ConnectionFailed:
    """An error answer with no error code of DynamoDB (or STS) in it."""
    if operation == "AssumeRole":
        return _assume_failed(
            cfg,
            where,
            f"it answered {_status_text(status or code)} with no STS "
            "error: is it an STS endpoint? Check the STS endpoint URL.",
        )
    answer = f"{_status_text(status or code)} and no DynamoDB error in its body"
    if status and int(status) >= 500:
        return ConnectionFailed(
            f"{where} answered {operation} with {answer}: it is not a DynamoDB endpoint, "
            "or something in front of it (a proxy, a load balancer) failed."
        )
    return ConnectionFailed(_not_dynamodb(where, operation, answer))


def _credentials_or_region_error(error: Exception, redact) -> DynaqueryError | None:
    """Missing or incomplete credentials, a missing or malformed region; else None."""
    from botocore import exceptions as bx

    if isinstance(error, bx.NoCredentialsError):
        return ConnectionFailed(no_credentials_message())
    if isinstance(error, bx.PartialCredentialsError):
        return ConnectionFailed(redact(f"Incomplete credentials: {error}"))
    if isinstance(error, bx.InvalidRegionError):  # from AWS_REGION or a profile
        return ConfigurationError(
            f"The region {error.kwargs.get('region_name')!r} is not a region name (like us-east-1)."
        )
    if isinstance(error, bx.NoRegionError):
        return ConfigurationError(
            "No region: give --region, or set AWS_REGION (or a region in your AWS profile)."
        )
    return None


def _connection_error(
    error: Exception, operation: str, cfg: ConnectionConfig, where: str, saved: ConnectionConfig
) -> DynaqueryError | None:
    """The network's failures: timeouts, refused connections, TLS, a cut-off answer.
    `saved` has the timeouts of runs, when a connection test used shorter ones."""
    from botocore import exceptions as bx

    if isinstance(error, (bx.ConnectTimeoutError,)):
        note = _test_bound(cfg.connect_timeout, saved.connect_timeout)
        return ConnectionFailed(
            f"Timed out after {cfg.connect_timeout:g}s{f' ({note})' if note else ''} "
            f"connecting to {where}: "
            "is the endpoint reachable from here (network, firewall, proxy)?"
        )
    if isinstance(error, bx.ReadTimeoutError):
        note = _test_bound(cfg.read_timeout, saved.read_timeout)
        return ConnectionFailed(
            f"{operation}: no answer from {where} within {cfg.read_timeout:g}s (read timeout"
            f"{f', {note}' if note else ''}); the endpoint is slow or stuck. "
            f"{'Try again.' if note else 'Raise the read timeout or try again.'}"
        )
    if isinstance(error, bx.EndpointConnectionError):
        region = cfg.region
        if not cfg.endpoint_url and region and not _known_region(region):
            return ConnectionFailed(
                f"Unknown region {region!r}: DynamoDB has no endpoint there (for example us-east-1, "
                "eu-west-1). Check the region."
            )
        return ConnectionFailed(
            f"Could not connect to {where}: the endpoint is unreachable "
            "(wrong URL or port, the server is down, or no network)."
        )
    if isinstance(
        error, (bx.ConnectionClosedError, bx.ProxyConnectionError, bx.SSLError, bx.HTTPClientError)
    ):
        return ConnectionFailed(cfg.redact(f"{operation}: connection to {where} failed: {error}"))
    if isinstance(error, bx.ChecksumError):
        return ConnectionFailed(
            f"{operation}: the answer from {where} was cut off or damaged on the way (its CRC32 "
            "checksum does not match) and the retries did not get a whole one; nothing of it "
            "was used. Try again."
        )
    return None


def _describer(connection: Connection):
    """For hints: a table's key schema, or the table names, without raising."""

    def describe(table: str | None):
        try:
            if table is None:
                return connection.client.list_tables(Limit=100).get("TableNames", [])
            found = connection.client.describe_table(TableName=table)["Table"]
            types = {
                d["AttributeName"]: d["AttributeType"]
                for d in found.get("AttributeDefinitions", [])
            }
            keys = [
                (k["AttributeName"], "partition" if k["KeyType"] == "HASH" else "sort")
                for k in found["KeySchema"]
            ]
            return keys, types
        except Exception:
            return None

    return describe


def connect(**settings: Any) -> Connection:
    """A Connection from keyword settings (those of ConnectionConfig)."""
    return Connection(ConnectionConfig(**settings))
