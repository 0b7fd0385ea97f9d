"""`dynaquery user`: a team server's users, their roles, grants and API tokens (users.py).

The command works on the workspace itself: whoever can open its database and key manages its
users. Passwords are asked on a terminal (hidden, twice) or read from stdin's first line; they
are never printed, and neither are the digests of tokens.
"""

from __future__ import annotations

import sys

import click

from . import prompts
from .options import json_option, open_workspace
from .output import EXIT_INPUT, fail, handle_errors, print_record, print_records, say

COLUMNS = ["name", "role", "password", "tokens", "grants", "created_at"]


def password_options(command):
    """How a password is given: asked on a terminal, --password-stdin, or --no-password."""
    command = click.option(
        "--no-password",
        is_flag=True,
        help="No password: the user signs in with API tokens only (`dynaquery user token`).",
    )(command)
    return click.option(
        "--password-stdin",
        is_flag=True,
        help="Read the password from the first line of stdin (for scripts).",
    )(command)


def read_password(password_stdin: bool, no_password: bool) -> str | None:
    """The password given the way the flags say (None: none); checked by users.py's rule."""
    from ..users import check_password

    if password_stdin and no_password:
        fail("Pass --password-stdin or --no-password, not both.", EXIT_INPUT)
    if no_password:
        return None
    if password_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            fail("No password on the first line of stdin (--password-stdin).", EXIT_INPUT)
        return check_password(line)
    if not prompts.on_a_terminal():
        fail(
            "No terminal to ask the password on: pass --password-stdin (the password on "
            "stdin's first line) or --no-password (API tokens only).",
            EXIT_INPUT,
        )
    try:
        return click.prompt(
            "Password",
            hide_input=True,
            confirmation_prompt="Password again",
            value_proc=_checked,
            err=True,
        )
    except click.Abort:  # Ctrl-C, or the input ended
        fail("Stopped: no password was given.", EXIT_INPUT)


def _checked(password: str) -> str:
    """A password the prompt accepts; a short one is asked again."""
    from ..errors import InputError
    from ..users import check_password

    try:
        return check_password(password)
    except InputError as error:
        raise click.UsageError(error.message) from None


def _grants(user: dict) -> str:
    return ", ".join(
        g["datasource"] + (" (read-only)" if g["read_only"] else "") for g in user["grants"]
    )


def _summary(user: dict) -> str:
    grants = _grants(user)
    password = "password set" if user["password"] else "no password: API tokens only"
    return f"{user['name']!r} ({user['role']}, {password}; grants: {grants or 'none'})"


def _row(user: dict) -> dict:
    """A user as a row of the table: the password only as yes/no, tokens by their ids."""
    return {
        "name": user["name"],
        "role": user["role"],
        "password": "yes" if user["password"] else "no",
        "tokens": ", ".join(t["id"] for t in user["tokens"]),
        "grants": _grants(user),
        "created_at": user["created_at"],
    }


def _done(user: dict, as_json: bool, message: str) -> None:
    if as_json:
        print_record(user, True)
    else:
        say(f"{message}: {_summary(user)}.")


@click.group()
def user() -> None:
    """A team server's users: add, list, remove, reset, role, token, grant, revoke.

    Roles: admin (users, data sources and their settings, every data source), editor (queries,
    tables, items, exports, undo, on the data sources granted to them), runner (runs the saved
    queries of the data sources granted to them). With no users, `serve` is single-user: its
    token is the admin.
    """


@user.command("add")
@click.argument("name")
@click.option("--role", required=True, metavar="ROLE", help="admin, editor or runner.")
@password_options
@json_option
@handle_errors
def user_add(name: str, role: str, password_stdin: bool, no_password: bool, as_json: bool) -> None:
    """Add the user NAME with a ROLE; the password is asked twice (hidden) on a terminal."""
    from ..users import check_name, check_role

    workspace = open_workspace()
    check_name(name)  # both before the password is asked
    check_role(role)
    password = read_password(password_stdin, no_password)
    _done(workspace.users.add(name, role, password), as_json, "Added user")


@user.command("list")
@json_option
@handle_errors
def user_list(as_json: bool) -> None:
    """List the users: role, password (yes/no), API token ids, grants."""
    users = open_workspace().users.list()
    print_records(users if as_json else [_row(u) for u in users], as_json, COLUMNS)


@user.command("remove")
@click.argument("name")
@click.option("-y", "--yes", is_flag=True, help="Do not ask first.")
@handle_errors
def user_remove(name: str, yes: bool) -> None:
    """Remove the user NAME, their API tokens, grants and sessions (asks first)."""
    users = open_workspace().users
    users.get(name)  # an unknown name is said before anything is asked
    question = f"Remove the user {name!r}, their API tokens and grants?"
    prompts.confirm(question, yes, action="remove them", refused="Not removed.")
    users.remove(name)
    say(f"Removed user {name!r}.")


@user.command("reset")
@click.argument("name")
@password_options
@handle_errors
def user_reset(name: str, password_stdin: bool, no_password: bool) -> None:
    """Give NAME a new password (or none: --no-password); their page sessions end."""
    users = open_workspace().users
    users.get(name)
    users.reset(name, read_password(password_stdin, no_password))
    say(
        f"{'New password' if not no_password else 'No password'} for {name!r}; "
        "their sessions ended."
    )


@user.command("role")
@click.argument("name")
@click.argument("role")
@json_option
@handle_errors
def user_role(name: str, role: str, as_json: bool) -> None:
    """Give NAME another ROLE (admin, editor or runner); their page sessions end."""
    _done(open_workspace().users.set_role(name, role), as_json, "Role changed")


@user.command("token")
@click.argument("name")
@click.option(
    "--revoke", "token_id", metavar="TOKEN_ID", help="Revoke this token (its id: `user list`)."
)
@handle_errors
def user_token(name: str, token_id: str | None) -> None:
    """Make an API token for NAME, printed this once on stdout (Authorization: Bearer TOKEN);
    or revoke one with --revoke TOKEN_ID."""
    users = open_workspace().users
    if token_id is not None:
        users.revoke_token(name, token_id)
        say(f"Revoked the API token {token_id} of {name!r}.")
        return
    new_id, token = users.new_token(name)
    click.echo(token)
    say(f"API token {new_id} for {name!r}: shown this once, kept hashed.")


@user.command("grant")
@click.argument("name")
@click.argument("datasource")
@click.option("--read-only", is_flag=True, help="Reads only, on this data source.")
@json_option
@handle_errors
def user_grant(name: str, datasource: str, read_only: bool, as_json: bool) -> None:
    """Let NAME use DATASOURCE (--read-only: send reads only); given again, it is replaced."""
    _done(open_workspace().users.grant(name, datasource, read_only=read_only), as_json, "Granted")


@user.command("revoke")
@click.argument("name")
@click.argument("datasource")
@json_option
@handle_errors
def user_revoke(name: str, datasource: str, as_json: bool) -> None:
    """Take DATASOURCE away from NAME."""
    _done(open_workspace().users.revoke(name, datasource), as_json, "Revoked")
