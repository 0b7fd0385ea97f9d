"""What the command asks on a terminal, and what it does without one."""

from __future__ import annotations

import sys
from typing import Any

import click

from .output import EXIT_INPUT, fail


def on_a_terminal() -> bool:
    return sys.stdin.isatty()


def confirm(question: str, yes: bool, *, action: str, refused: str, why: str = "") -> None:
    """Ask `question` on a terminal (no answer, or the input ending, is no: exit 2 with
    `refused`); elsewhere refuse unless --yes, saying `why` and that --yes would `action`."""
    if yes:
        return
    if not on_a_terminal():
        fail(
            f"{question} {why}Pass --yes to {action} without a terminal to confirm on.", EXIT_INPUT
        )
    try:
        agreed = click.confirm(question, default=False, err=True)
    except click.Abort:  # Ctrl-C, or the input ended
        agreed = False
    if not agreed:
        fail(refused, EXIT_INPUT)


def confirm_destructive(request, yes: bool) -> None:
    """Ask before a call that deletes data or changes a table (catalog.Operation.is_destructive):
    a prompt on a terminal; elsewhere, refuse unless --yes."""
    if not request.operation.is_destructive(request.params):
        return
    question = request.operation.confirmation(request.params)
    why = "It deletes data or changes a table. "
    confirm(question, yes, action="run it", refused="Not run.", why=why)


def ask_secret(settings: dict[str, Any]) -> None:
    """Keys without a secret on a terminal: ask for it, so it stays out of the shell history."""
    if (
        settings.get("access_key_id")
        and not settings.get("secret_access_key")
        and sys.stdin.isatty()
    ):
        settings["secret_access_key"] = click.prompt("Secret access key", hide_input=True)
