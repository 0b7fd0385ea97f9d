"""The settings of a connection: each one once, with its type, help, bounds and whether it is secret.

`ConnectionConfig`'s fields, the command's flags, the API's models and the page's form are made
from this table (the page reads it from `GET /api/settings`), so adding a setting is adding a row
here and a field of the same name to `ConnectionConfig` (a test checks that they match).
The mask rule for secrets lives here too: `keep_stored_secrets` and `masked`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

AUTH_METHODS = ("iam_credentials", "instance_profile", "role_arn")
RETRY_MODES = ("standard", "adaptive", "legacy")
MASK = "********"  # a stored secret, as every answer and listing shows it


@dataclass(frozen=True)
class Setting:
    name: str
    type: type  # str, int or float
    help: str
    label: str  # as the page's form names it
    default: Any = None
    secret: bool = False
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    # The auth methods whose form shows it (every method when empty).
    methods: tuple[str, ...] = ()
    envvar: str | None = None  # the command also reads it from this variable

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def problem(self, value: Any) -> str | None:
        """What is wrong with a value of this setting (None: nothing). Text is checked further
        by ConnectionConfig (control characters, URLs, regions)."""
        if value is None:
            return None
        if self.type is str:
            if not isinstance(value, str):
                return f"{self.name} ({self.flag}) must be text."
            if self.choices and value not in self.choices:
                return (
                    f"Unknown {self.label.lower()} {value!r} ({self.flag}): use one of "
                    f"{', '.join(self.choices)}."
                )
            return None
        wrong_type = (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or (self.type is int and not isinstance(value, int))
        )
        low, high = self.minimum, self.maximum
        if wrong_type or (low is not None and value < low) or (high is not None and value > high):
            kind = "a whole number" if self.type is int else "a number"
            return f"{self.name} ({self.flag}) must be {kind}{self._bounds()}, not {value!r}."
        return None

    def _bounds(self) -> str:
        low, high = self.minimum, self.maximum
        if low is not None and high is not None:
            return f" from {_number(low)} to {_number(high)}"
        if low is not None:
            return f" of at least {_number(low)}"
        return f" of at most {_number(high)}" if high is not None else ""

    def to_dict(self) -> dict[str, Any]:
        """As `GET /api/settings` gives it to the page."""
        return {
            "name": self.name,
            "type": self.type.__name__,
            "label": self.label,
            "help": self.help,
            "default": self.default,
            "secret": self.secret,
            "choices": list(self.choices),
            "minimum": self.minimum,
            "maximum": self.maximum,
            "methods": list(self.methods or AUTH_METHODS),
        }


def _number(value: float | None) -> str:
    return f"{value:g}"


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "auth",
        str,
        "Auth method (default: decided from the settings given).",
        "Auth method",
        choices=AUTH_METHODS,
    ),
    Setting("region", str, "AWS region (else AWS_REGION / the profile's region).", "Region"),
    Setting(
        "endpoint_url", str, "Endpoint URL: DynamoDB Local, Alternator, LocalStack.", "Endpoint URL"
    ),
    Setting(
        "access_key_id",
        str,
        "Access key id (iam_credentials).",
        "Access key id",
        methods=("iam_credentials", "role_arn"),
    ),
    Setting(
        "secret_access_key",
        str,
        "Secret access key (iam_credentials).",
        "Secret access key",
        secret=True,
        methods=("iam_credentials", "role_arn"),
        envvar="DYNAQUERY_SECRET_ACCESS_KEY",
    ),
    Setting(
        "session_token",
        str,
        "Session token for temporary keys.",
        "Session token",
        secret=True,
        methods=("iam_credentials", "role_arn"),
        envvar="DYNAQUERY_SESSION_TOKEN",
    ),
    Setting(
        "profile",
        str,
        "AWS profile from ~/.aws/config (else AWS_PROFILE).",
        "Profile",
        methods=("instance_profile", "role_arn"),
    ),
    Setting(
        "role_arn", str, "Role to assume through STS (role_arn).", "Role ARN", methods=("role_arn",)
    ),
    Setting("external_id", str, "External id for the role.", "External id", methods=("role_arn",)),
    Setting(
        "role_session_name",
        str,
        "Session name of the assumed role.",
        "Role session name",
        default="dynaquery",
        methods=("role_arn",),
    ),
    Setting(
        "role_duration_seconds",
        int,
        "Lifetime of the role's credentials, in seconds.",
        "Role duration (s)",
        minimum=900,
        maximum=43200,
        methods=("role_arn",),
    ),
    Setting(
        "sts_endpoint_url",
        str,
        "STS endpoint for the role (else the default).",
        "STS endpoint URL",
        methods=("role_arn",),
    ),
    Setting(
        "connect_timeout",
        float,
        "Seconds to wait for a connection.",
        "Connect timeout (s)",
        default=10,
        minimum=0.1,
    ),
    Setting(
        "read_timeout",
        float,
        "Seconds to wait for an answer.",
        "Read timeout (s)",
        default=60,
        minimum=0.1,
    ),
    Setting(
        "max_attempts",
        int,
        "Total attempts per call, retries included (1 to 10).",
        "Max attempts",
        minimum=1,
        maximum=10,
    ),
    Setting("retry_mode", str, "botocore's retry mode.", "Retry mode", choices=RETRY_MODES),
)

BY_NAME: dict[str, Setting] = {setting.name: setting for setting in SETTINGS}
NAMES: tuple[str, ...] = tuple(BY_NAME)
SECRET_FIELDS: tuple[str, ...] = tuple(s.name for s in SETTINGS if s.secret)


def keep_stored_secrets(given: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """The mask rule, for settings sent back by a form or a client: a secret given as MASK, as
    null, or left out, keeps its stored value; "" clears it; anything else replaces it."""
    merged = dict(given)
    for name in SECRET_FIELDS:
        value = given.get(name)
        if value is None or value == MASK:
            merged[name] = stored.get(name)
        elif value == "":
            merged[name] = None
    return merged


def masked(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings as they may be shown: each stored secret as MASK."""
    return {
        name: (MASK if name in SECRET_FIELDS and value else value)
        for name, value in settings.items()
    }
