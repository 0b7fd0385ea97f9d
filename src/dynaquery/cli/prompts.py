"""What the command asks on a terminal, and what it does without one."""

from __future__ import annotations

import sys
from typing import Any

import click

from .output import EXIT_INPUT, fail


def confirm_destructive(request, yes: bool) -> None:
    """Ask before a call that deletes data or changes a table (catalog.Operation.is_destructive):
    a prompt on a terminal; elsewhere, refuse unless --yes."""
    if yes or not request.operation.is_destructive(request.params):
        return
    question = request.operation.confirmation(request.params)
    if not sys.stdin.isatty():
        fail(
            f"{question} It deletes data or changes a table: pass --yes to run it without "
            "a terminal to confirm on.",
            EXIT_INPUT,
        )
    if not click.confirm(question, default=False, err=True):
        fail("Not run.", EXIT_INPUT)


def ask_secret(settings: dict[str, Any]) -> None:
    """Keys without a secret on a terminal: ask for it, so it stays out of the shell history."""
    if (
        settings.get("access_key_id")
        and not settings.get("secret_access_key")
        and sys.stdin.isatty()
    ):
        settings["secret_access_key"] = click.prompt("Secret access key", hide_input=True)
