"""The errors dynaquery raises. Each carries the exit code the CLI uses for it.

Messages are written for the person who typed the query: what is wrong, where, and what to do.
None of them ever contains a secret.
"""

from __future__ import annotations

from dataclasses import dataclass


class DynaqueryError(Exception):
    """Base of every error dynaquery raises on purpose."""

    exit_code = 1
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

    def __init__(self, operation: str, what: str = "the data source"):
        super().__init__(
            f"{what[:1].upper()}{what[1:]} is read-only: {operation} writes or administers, so it "
            "was not sent. Only reads (Get, BatchGet, TransactGet, Query, Scan, Describe, List, "
            "PartiQL SELECT) are allowed; use a data source that is not read-only for the rest.")
        self.operation = operation


class ServiceError(DynaqueryError):
    """DynamoDB answered with an error. Exit code 1."""

    def __init__(self, operation: str, code: str, message: str, hint: str | None = None,
                 status: int | None = None):
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
