"""The errors dynaquery raises, all of them, in one tree:

    DynaqueryError                 exit 1, HTTP 500: every error raised on purpose
    ├── InputError                 exit 2, HTTP 400: the input is wrong, nothing was sent
    │   ├── ParseError             the parameter text is not JSON (line, column)
    │   ├── ValidationError        the parameters do not fit the operation (problems)
    │   ├── UnknownOperationError  no such operation (suggestions)
    │   ├── ConfigurationError     connection settings incomplete or contradictory
    │   ├── ReadOnlyError          HTTP 403: a write on a read-only data source
    │   ├── Forbidden              HTTP 403: the user's role or grants do not allow it
    │   ├── NotFound               HTTP 404: no data source or query of that name
    │   ├── KeysUnknown            which items a write touches cannot be told (the journal)
    │   └── Conflict               HTTP 409: a name taken, a data source still used
    │       ├── ItemsExist         keys already in the table (import, copy --mode fail-existing)
    │       └── ItemConflict       an item changed since it was loaded (both versions)
    ├── ServiceError               HTTP 502: DynamoDB answered with an error
    ├── ConnectionFailed           HTTP 502: DynamoDB or the credentials out of reach
    ├── ExportInterrupted          exit 130: an export stopped by Ctrl-C (its checkpoint stays)
    ├── ImportStopped              an import stopped early (exit code: that of its cause)
    ├── CopyStopped                a copy stopped early (Ctrl-C: exit 130); its checkpoint stays
    └── DemoPortTaken              the demo engine's port is held by something else

    RuntimeError
    └── LocalEngineUnavailable     DynamoDB Local or moto cannot be started (tests, the demo)

Each class carries `exit_code`, the command's exit code, and `http_status`, the API's answer.
The server's own refusals (401 sign in, 413 body too large, 428 confirm first, 429 too many
sign-ins) are no errors of the library: they belong to the server.

Messages are written for the person who typed the query: what is wrong, where, and what to do.
None of them ever contains a secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class DynaqueryError(Exception):
    """Base of every error dynaquery raises on purpose."""

    exit_code = 1
    http_status = 500
    resume_token: str | None = None  # where a paginated run that failed midway can go on

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict:
        return {"error": type(self).__name__, "message": self.message}


class InputError(DynaqueryError):
    """The user's input is wrong: nothing was sent. Exit code 2."""

    exit_code = 2
    http_status = 400


class ParseError(InputError):
    """The parameter text is not valid JSON (after comments and trailing commas are allowed)."""

    def __init__(self, message: str, line: int, column: int):
        super().__init__(f"Invalid JSON at line {line}, column {column}: {message}")
        self.reason = message
        self.line = line
        self.column = column

    def to_dict(self) -> dict:
        return {**super().to_dict(), "line": self.line, "column": self.column}


def join_path(path: str, key: str) -> str:
    """The JSON path of `key` inside the object at `path` ("" is the top level)."""
    return f"{path}.{key}" if path else key


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the parameters: where (a JSON path), and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ValidationError(InputError):
    """The parameters do not fit the operation's model."""

    def __init__(self, operation: str, problems: list[Problem]):
        self.operation = operation
        self.problems = problems
        lines = [f"Invalid parameters for {operation}:"] + [f"  - {p}" for p in problems]
        super().__init__("\n".join(lines))

    def to_dict(self) -> dict:
        return {
            **super().to_dict(),
            "operation": self.operation,
            "problems": [{"path": p.path, "message": p.message} for p in self.problems],
        }


class UnknownOperationError(InputError):
    def __init__(self, name: str, suggestions: list[str]):
        hint = f" Did you mean {' or '.join(suggestions)}?" if suggestions else ""
        super().__init__(
            f"Unknown operation {name!r}.{hint} Run 'dynaquery operations' to list them all."
        )
        self.name = name
        self.suggestions = suggestions


class ConfigurationError(InputError):
    """The connection settings are incomplete or contradictory."""


class ReadOnlyError(InputError):
    """A write or admin operation on a read-only data source: refused before anything is sent."""

    http_status = 403

    def __init__(self, operation: str, what: str = "the data source"):
        super().__init__(
            f"{what[:1].upper()}{what[1:]} is read-only: {operation} writes or administers, so it "
            "was not sent. Only reads (Get, BatchGet, TransactGet, Query, Scan, Describe, List, "
            "PartiQL SELECT) are allowed; use a data source that is not read-only for the rest."
        )
        self.operation = operation


class Forbidden(InputError):
    """The signed-in user's role (or grants) does not allow the request: nothing was done."""

    http_status = 403


class NotFound(InputError):
    """A data source or query that the workspace does not have (or a server's download link)."""

    http_status = 404


class KeysUnknown(InputError):
    """A write whose items cannot be told from its request (a PartiQL statement whose WHERE does
    not spell out the key): the journal keeps it without keys, and undo says why it cannot."""


class Conflict(InputError):
    """A name that is already taken, or a data source still used by queries."""

    http_status = 409


class ItemConflict(Conflict):
    """A conditional write refused: the item is not as it was loaded (someone else changed,
    created or deleted it), so nothing was written. `current`: the item as it is now, None when
    there is none; `yours`: what was to be written (each {"typed": ..., "plain": ...})."""

    def __init__(self, message: str, current: dict | None, yours: dict | None):
        super().__init__(message)
        self.current = current
        self.yours = yours

    def to_dict(self) -> dict:
        return {**super().to_dict(), "current": self.current, "yours": self.yours}


class ServiceError(DynaqueryError):
    """DynamoDB answered with an error. Exit code 1. (`status` is DynamoDB's HTTP status.)"""

    http_status = 502

    def __init__(
        self,
        operation: str,
        code: str,
        message: str,
        hint: str | None = None,
        status: int | None = None,
    ):
        text = f"{operation} failed: {code}: {message}"
        if hint:
            text += f"\nHint: {hint}"
        super().__init__(text)
        self.operation = operation
        self.code = code
        self.service_message = message
        self.hint = hint
        self.status = status

    def to_dict(self) -> dict:
        return {
            **super().to_dict(),
            "operation": self.operation,
            "code": self.code,
            "service_message": self.service_message,
            "hint": self.hint,
        }


class ConnectionFailed(DynaqueryError):
    """The service could not be reached or the credentials could not be obtained. Exit code 1."""

    http_status = 502


class ExportInterrupted(DynaqueryError):
    """An export stopped by Ctrl-C (KeyboardInterrupt); its checkpoint lets it go on.
    `result` is the transfer.ExportResult of what was written."""

    exit_code = 130

    def __init__(self, message: str, result: Any, checkpoint: str | None):
        super().__init__(message)
        self.result = result
        self.checkpoint = checkpoint


class ImportStopped(DynaqueryError):
    """An import stopped before the end (a bad line with strict, or a failure of the service).
    `result` is the transfer.ImportResult of what was written."""

    def __init__(self, message: str, result: Any, exit_code: int = 1):
        super().__init__(message)
        self.result = result
        self.exit_code = exit_code


class DemoPortTaken(DynaqueryError):
    """The demo engine's remembered port is held by something that is not this demo engine."""


class LocalEngineUnavailable(RuntimeError):
    """A local engine cannot be fetched or started; the message says what to do.
    Raised by the tools for the tests and the demo (local.py), not by the library: a
    RuntimeError, which the command reports as any unexpected error (exit 1, HTTP 500)."""

    exit_code = 1
    http_status = 500


class ItemsExist(Conflict):
    """An import with mode fail-existing whose file holds keys already in the table: nothing was
    written. `result` is the transfer.ImportResult of the check (its existing keys listed)."""

    def __init__(self, message: str, result: Any):
        super().__init__(message)
        self.result = result


class CopyStopped(DynaqueryError):
    """A copy stopped before the end (Ctrl-C: exit code 130; a failure: that of its cause); its
    checkpoint lets it go on. `result` is the transfer.CopyResult of what was done."""

    def __init__(self, message: str, result: Any, exit_code: int = 1):
        super().__init__(message)
        self.result = result
        self.exit_code = exit_code
