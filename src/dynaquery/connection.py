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
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import (ConfigurationError, ConnectionFailed, DynaqueryError, InputError,
                     ReadOnlyError, ServiceError)

AuthMethod = Literal["iam_credentials", "instance_profile", "role_arn"]
AUTH_METHODS = ("iam_credentials", "instance_profile", "role_arn")
RETRY_MODES = ("standard", "adaptive", "legacy")
SECRET_FIELDS = ("secret_access_key", "session_token")
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
        return [s for s in (self.secret_access_key, self.session_token) if s and len(s) >= 8]

    def to_dict(self, mask: bool = True) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if mask:
            for name in SECRET_FIELDS:
                if data[name]:
                    data[name] = "********"
        return data

    def check(self) -> None:
        method = self.auth_method
        if method not in AUTH_METHODS:
            raise ConfigurationError(
                f"Unknown auth method {method!r}: use one of {', '.join(AUTH_METHODS)}.")
        if method == "iam_credentials" and not (self.access_key_id and self.secret_access_key):
            missing = "access key id" if not self.access_key_id else "secret access key"
            raise ConfigurationError(
                f"IAM credentials need both an access key id and a secret access key; the {missing} "
                "is missing (--access-key-id / --secret-access-key).")
        if method == "role_arn" and not self.role_arn:
            raise ConfigurationError("The role_arn method needs a role ARN (--role-arn).")
        if bool(self.access_key_id) != bool(self.secret_access_key) and method != "instance_profile":
            raise ConfigurationError(
                "Give both --access-key-id and --secret-access-key, or neither.")
        if self.retry_mode and self.retry_mode not in RETRY_MODES:
            raise ConfigurationError(
                f"Unknown retry mode {self.retry_mode!r}: use one of {', '.join(RETRY_MODES)}.")
        if self.endpoint_url and not self.endpoint_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"The endpoint URL {self.endpoint_url!r} must start with http:// or https://.")
        if self.region:
            from botocore.exceptions import InvalidRegionError
            from botocore.utils import validate_region_name

            try:  # botocore's own rule, checked now rather than when the client is made
                validate_region_name(self.region)
            except InvalidRegionError:
                raise ConfigurationError(
                    f"The region {self.region!r} is not a region name (like us-east-1).") from None

    def redact(self, text: str) -> str:
        """Remove every secret of this configuration from a text."""
        for secret in self.secrets():
            text = text.replace(secret, "********")
        return text


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

    def __init__(self, config: ConnectionConfig | None = None, **settings: Any):
        self.config = config or ConnectionConfig(**settings)
        self.config.check()
        self._session = None
        self._client = None

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
            # Share the catalog's loader, so the service model is read from disk only once.
            session.register_component("data_loader", catalog()._loader)
            session.user_agent_extra = USER_AGENT
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
                f"The profile {error.kwargs.get('profile')!r} is not in the AWS config files.") from None
        return session

    def _use_assumed_role(self, session) -> None:
        from botocore.credentials import (AssumeRoleCredentialFetcher, CredentialProvider,
                                          CredentialResolver, Credentials,
                                          DeferredRefreshableCredentials)

        cfg = self.config
        if cfg.access_key_id:
            source = Credentials(cfg.access_key_id, cfg.secret_access_key, cfg.session_token)
        else:
            import botocore.session

            # A session of its own: the main session must not cache these as its credentials.
            source = botocore.session.Session(profile=cfg.profile).get_credentials()
            if source is None:
                raise ConnectionFailed(
                    "Cannot assume the role: no source credentials were found to call STS with "
                    "(give keys, a profile, or run where the default credential chain has some).")
        extra: dict[str, Any] = {"RoleSessionName": cfg.role_session_name}
        if cfg.external_id:
            extra["ExternalId"] = cfg.external_id
        if cfg.role_duration_seconds:
            extra["DurationSeconds"] = cfg.role_duration_seconds
        region = cfg.region or os.environ.get("AWS_REGION") or session.get_config_variable("region")

        def sts_client(service_name, **kwargs):
            kwargs.setdefault("region_name", region)
            if cfg.sts_endpoint_url:
                kwargs["endpoint_url"] = cfg.sts_endpoint_url
            return session.create_client(service_name, **kwargs)

        fetcher = AssumeRoleCredentialFetcher(sts_client, source, cfg.role_arn, extra_args=extra)

        class _AssumedRole(CredentialProvider):
            METHOD = "assume-role"

            def load(self):
                return DeferredRefreshableCredentials(fetcher.fetch_credentials, "assume-role")

        session.register_component("credential_provider", CredentialResolver([_AssumedRole()]))

    @property
    def region(self) -> str:
        # AWS_REGION first, as the AWS CLI reads it; botocore itself knows AWS_DEFAULT_REGION.
        region = (self.config.region or os.environ.get("AWS_REGION")
                  or self.session.get_config_variable("region"))
        if not region:
            if self.config.endpoint_url:
                return "us-east-1"  # a local endpoint still needs a region to sign with
            raise ConfigurationError(
                "No region: give --region, or set AWS_REGION (or a region in your AWS profile).")
        return region

    @property
    def client(self):
        """The botocore DynamoDB client (built once)."""
        if self._client is None:
            from botocore.config import Config

            cfg = self.config
            retries: dict[str, Any] = {}
            if cfg.retry_mode:
                retries["mode"] = cfg.retry_mode
            if cfg.max_attempts is not None:
                retries["total_max_attempts"] = cfg.max_attempts
            config = Config(
                connect_timeout=cfg.connect_timeout,
                read_timeout=cfg.read_timeout,
                retries=retries or None,
                # Parameters are checked by dynaquery's own validation (botocore's validator
                # plus the model's enums and patterns) before they reach the client.
                parameter_validation=False,
                user_agent_extra=USER_AGENT,
            )
            client = self.session.create_client(
                "dynamodb", region_name=self.region, endpoint_url=cfg.endpoint_url, config=config)
            if cfg.read_only:
                # In botocore's own call path, so paginators and every other caller are covered.
                client.meta.events.register("before-parameter-build.dynamodb", _refuse_writes)
            # botocore reads bodies without enforcing Content-Length; a body cut off on the last
            # attempt would be parsed as it is ({} for a GetItem, a last page for a Scan).
            client.meta.events.register("after-call.dynamodb", _check_crc32)
            self._client = client
        return self._client

    @property
    def endpoint(self) -> str:
        return self.client.meta.endpoint_url

    # -- using ---------------------------------------------------------------------------------

    def run(self, operation, params=None, **options):
        """Run one operation. See dynaquery.execution.run for the options."""
        from .execution import run

        return run(self, operation, params, **options)

    def test(self) -> Diagnosis:
        """Check that the data source works: credentials, region, endpoint, and a real call."""
        details = {"auth": self.config.auth_method}
        started = time.perf_counter()
        try:
            details["region"] = self.region
            details["endpoint"] = self.endpoint
            credentials = self.session.get_credentials()
            if credentials is None:
                raise ConnectionFailed(no_credentials_message())
            try:
                credentials.get_frozen_credentials()
            except Exception as error:  # the role could not be assumed, a profile source failed...
                raise translate_error(error, "AssumeRole" if self.config.role_arn else "credentials",
                                      self) from None
            self.call("ListTables", {"Limit": 1})
        except DynaqueryError as error:
            return Diagnosis(False, self.config.redact(error.message), details)
        details["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
        return Diagnosis(True, f"Connected to DynamoDB at {details['endpoint']} "
                               f"({details['region']}, {details['auth']}).", details)

    def call(self, operation: str, params: dict) -> dict:
        """One API call, its errors translated (no pagination, no batch handling)."""
        from botocore import xform_name

        try:
            return getattr(self.client, xform_name(operation))(**params)
        except DynaqueryError:
            raise
        except Exception as error:
            raise translate_error(error, operation, self, params) from None


def _check_crc32(http_response, **_: Any) -> None:
    """A DynamoDB answer must match its x-amz-crc32 (botocore retries a mismatch, but lets the
    last attempt's damaged answer through in the standard and adaptive modes)."""
    import zlib

    expected = http_response.headers.get("x-amz-crc32") if http_response is not None else None
    if expected and expected.isdigit():
        actual = zlib.crc32(http_response.content) & 0xFFFFFFFF
        if actual != int(expected):
            from botocore.exceptions import ChecksumError

            raise ChecksumError(checksum_type="crc32", expected_checksum=expected,
                                actual_checksum=actual)


def _refuse_writes(params: dict, model, **_: Any) -> None:
    from .catalog import catalog

    if not catalog().get(model.name).reads_only(params):
        raise ReadOnlyError(model.name)


def no_credentials_message() -> str:
    return ("No AWS credentials found. Give an access key id and secret access key, a profile, "
            "or a role ARN; or run where the default chain has credentials (environment, "
            "~/.aws/credentials, web identity token, ECS or EC2 instance metadata).")


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


def translate_error(error: Exception, operation: str, connection: Connection | None = None,
                    params: dict | None = None) -> DynaqueryError:
    """A botocore exception, as an error a user can act on. Never includes a secret."""
    from botocore import exceptions as bx

    cfg = connection.config if connection else ConnectionConfig()
    redact = cfg.redact
    if isinstance(error, bx.ClientError):
        info = error.response.get("Error", {})
        code = str(info.get("Code", "Unknown"))
        message = redact(info.get("Message", str(error)))
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
                message = f"the server answered HTTP {status or code} with no DynamoDB error in the body"
        if error.operation_name == "AssumeRole":
            return ConnectionFailed(f"Cannot assume role {cfg.role_arn}: {code}: {message}")
        from .hints import advise

        hint = advise(code, message, params or {},
                      _describer(connection) if connection else (lambda _t: None))
        return ServiceError(operation, code, message, hint, status)
    if isinstance(error, bx.NoCredentialsError):
        return ConnectionFailed(no_credentials_message())
    if isinstance(error, bx.PartialCredentialsError):
        return ConnectionFailed(redact(f"Incomplete credentials: {error}"))
    if isinstance(error, bx.InvalidRegionError):  # from AWS_REGION or a profile
        return ConfigurationError(f"The region {error.kwargs.get('region_name')!r} is not a "
                                  "region name (like us-east-1).")
    if isinstance(error, bx.NoRegionError):
        return ConfigurationError(
            "No region: give --region, or set AWS_REGION (or a region in your AWS profile).")
    endpoint = None
    if connection is not None and connection._client is not None:
        endpoint = connection._client.meta.endpoint_url
    where = endpoint or getattr(error, "kwargs", {}).get("endpoint_url") or "the endpoint"
    if isinstance(error, (bx.ConnectTimeoutError,)):
        return ConnectionFailed(
            f"Timed out after {cfg.connect_timeout:g}s connecting to {where}: is the endpoint "
            "reachable from here (network, firewall, proxy)?")
    if isinstance(error, bx.ReadTimeoutError):
        return ConnectionFailed(
            f"{operation}: no answer from {where} within {cfg.read_timeout:g}s (read timeout); "
            "the endpoint is slow or stuck. Raise the read timeout or try again.")
    if isinstance(error, bx.EndpointConnectionError):
        region = cfg.region
        if not cfg.endpoint_url and region and not _known_region(region):
            return ConnectionFailed(
                f"Unknown region {region!r}: DynamoDB has no endpoint there (for example us-east-1, "
                "eu-west-1). Check the region.")
        return ConnectionFailed(f"Could not connect to {where}: the endpoint is unreachable "
                                "(wrong URL or port, the server is down, or no network).")
    if isinstance(error, (bx.ConnectionClosedError, bx.ProxyConnectionError, bx.SSLError,
                          bx.HTTPClientError)):
        return ConnectionFailed(redact(f"{operation}: connection to {where} failed: {error}"))
    if isinstance(error, bx.ChecksumError):
        return ConnectionFailed(
            f"{operation}: the answer from {where} was cut off or damaged on the way (its CRC32 "
            "checksum does not match) and the retries did not get a whole one; nothing of it "
            "was used. Try again.")
    if isinstance(error, bx.ParamValidationError):
        return InputError(redact(str(error)))
    if isinstance(error, bx.BotoCoreError):
        return ConnectionFailed(redact(f"{operation}: {error}"))
    return ConnectionFailed(redact(f"{operation}: {type(error).__name__}: {error}"))


def _describer(connection: Connection):
    """For hints: a table's key schema, or the table names, without raising."""

    def describe(table: str | None):
        try:
            if table is None:
                return connection.client.list_tables(Limit=100).get("TableNames", [])
            found = connection.client.describe_table(TableName=table)["Table"]
            types = {d["AttributeName"]: d["AttributeType"]
                     for d in found.get("AttributeDefinitions", [])}
            keys = [(k["AttributeName"], "partition" if k["KeyType"] == "HASH" else "sort")
                    for k in found["KeySchema"]]
            return keys, types
        except Exception:
            return None

    return describe


def connect(**settings: Any) -> Connection:
    """A Connection from keyword settings (those of ConnectionConfig)."""
    return Connection(ConnectionConfig(**settings))
