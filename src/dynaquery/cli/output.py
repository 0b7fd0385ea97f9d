"""What the command prints: results, records and diagnoses on stdout, messages on stderr, and
every error as a message and an exit code (never a traceback)."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..errors import DynaqueryError, InputError
from ..settings import SECRET_FIELDS

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2
EXIT_INTERRUPTED = 130


def fail(message: str, code: int) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def say(message: str) -> None:
    """A message for the person at the terminal: on stderr, so stdout stays the result."""
    click.echo(message, err=True)


def handle_errors(command: Callable) -> Callable:
    """Turn every error into a message on stderr and the exit code its class carries."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        redact = _redactor(kwargs)
        try:
            return command(*args, **kwargs)
        except DynaqueryError as error:
            fail(redact(error.message), error.exit_code)
        except KeyboardInterrupt:
            fail("interrupted", EXIT_INTERRUPTED)
        except click.Abort:  # a question answered with Ctrl-C or the end of the input
            fail("Stopped: nothing was done.", EXIT_INPUT)
        except (BrokenPipeError, click.exceptions.Exit, click.ClickException):
            raise
        except Exception as error:  # a bug of ours: say so, without a traceback
            fail(redact(f"unexpected {type(error).__name__}: {error}"), EXIT_FAILED)

    return wrapper


def _redactor(kwargs: dict[str, Any]) -> Callable[[str], str]:
    """Removes the secrets given as flags from a message."""
    from ..connection import ConnectionConfig

    return ConnectionConfig(**{name: kwargs.get(name) for name in SECRET_FIELDS}).redact


def print_result(result, output: str, transform: str | None = None) -> None:
    """Print a result as `--output` says (`transform` applied to what is printed); exit 1 when a
    batch left requests unprocessed."""
    from ..results import render

    print_text(render(result, output, transform))
    if not result.complete:
        count = result.meta.get("unprocessed", 0)
        fail(
            f"{count} request(s) stayed unprocessed after retrying; they are listed in the "
            "result (UnprocessedItems / UnprocessedKeys).",
            EXIT_FAILED,
        )


def print_diagnosis(diagnosis, as_json: bool) -> None:
    """A connection test: one line when it works, else the diagnosis and exit 1."""
    from ..results import to_json

    if as_json:
        click.echo(to_json(diagnosis.to_dict()))
    elif diagnosis.ok:
        click.echo(f"ok: {diagnosis.message}")
    if not diagnosis.ok:
        fail(diagnosis.message, EXIT_FAILED)


def print_records(records: list[dict], as_json: bool, columns: list[str]) -> None:
    """A listing: JSON, or a table of `columns`."""
    from ..results import to_json, to_table

    if as_json:
        click.echo(to_json(records))
    elif not records:
        click.echo("(none)", err=True)
    else:
        click.echo(to_table([{c: r.get(c) for c in columns} for r in records]), nl=False)


def print_record(record: dict, as_json: bool) -> None:
    """One record: JSON, or a line per field."""
    from ..results import cell, to_json

    if as_json:
        click.echo(to_json(record))
        return
    width = max(len(k) for k in record)
    for key, value in record.items():
        click.echo(f"{key:<{width}}  {'' if value is None else cell(value)}")


def print_text(text: str) -> None:
    """Text that may or may not end with a newline, printed with exactly one."""
    click.echo(text, nl=not text.endswith("\n"))


def write_atomically(path: Path, text: str) -> None:
    """Write a whole file or nothing: a reader never sees half of it."""
    import os
    import tempfile

    try:
        fd, temp = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temp, path)
    except OSError as error:
        raise InputError(f"Cannot write {str(path)!r}: {error.strerror or error}") from None
