"""The settings table is the one home of each connection setting and of the secret mask rule."""

from __future__ import annotations

import dataclasses

import pytest

from dynaquery.connection import ConnectionConfig
from dynaquery.errors import ConfigurationError
from dynaquery.settings import BY_NAME, MASK, NAMES, SECRET_FIELDS, keep_stored_secrets, masked


def test_every_setting_is_a_field_of_the_connection_config_and_back():
    # read_only is the data source's policy, not a way to connect: the one field outside the table.
    fields = {f.name for f in dataclasses.fields(ConnectionConfig)} - {"read_only"}
    assert fields == set(NAMES)
    for field in dataclasses.fields(ConnectionConfig):
        if field.name in BY_NAME and BY_NAME[field.name].default is not None:
            assert field.default == BY_NAME[field.name].default, field.name


def test_secrets_are_the_secret_settings():
    assert SECRET_FIELDS == ("secret_access_key", "session_token")
    assert all(BY_NAME[name].secret for name in SECRET_FIELDS)


@pytest.mark.parametrize(
    "name, value, says",
    [
        ("max_attempts", 11, "from 1 to 10"),
        ("max_attempts", 2.5, "whole number"),
        ("max_attempts", True, "whole number"),
        ("connect_timeout", 0.01, "at least 0.1"),
        ("retry_mode", "fast", "standard, adaptive, legacy"),
        ("role_duration_seconds", 60, "from 900 to 43200"),
        ("region", 5, "must be text"),
    ],
)
def test_the_config_refuses_what_the_table_refuses(name, value, says):
    assert says in BY_NAME[name].problem(value)
    with pytest.raises(ConfigurationError, match=says):
        ConnectionConfig(**{name: value}).check()


def test_values_inside_the_bounds_pass():
    for name, value in [
        ("max_attempts", 10),
        ("connect_timeout", 0.1),
        ("retry_mode", "legacy"),
        ("role_duration_seconds", 3600),
        ("region", "eu-west-1"),
    ]:
        assert BY_NAME[name].problem(value) is None
    ConnectionConfig(max_attempts=1, connect_timeout=0.5, role_duration_seconds=900).check()


def test_the_mask_rule():
    stored = {"secret_access_key": "stored-secret", "session_token": "stored-token"}
    # Sent back masked, as null, or left out: kept.
    assert keep_stored_secrets({"secret_access_key": MASK, "session_token": None}, stored) == stored
    assert keep_stored_secrets({"region": "x"}, stored) == {"region": "x", **stored}
    # "" clears; a new value replaces.
    assert keep_stored_secrets({"secret_access_key": "", "session_token": "new"}, stored) == {
        "secret_access_key": None,
        "session_token": "new",
    }


def test_masked_shows_each_stored_secret_as_the_mask():
    shown = masked({"access_key_id": "AKIA", "secret_access_key": "s", "session_token": None})
    assert shown == {"access_key_id": "AKIA", "secret_access_key": MASK, "session_token": None}
