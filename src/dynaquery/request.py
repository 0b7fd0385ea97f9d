"""Turning what the user wrote into a request botocore can send: parse, convert, check.

`prepare` needs no connection, so a query can be checked (and saved) without reaching DynamoDB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import hints
from .catalog import Operation, catalog
from .errors import InputError, Problem, ValidationError
from .parsing import parse_params
from .validation import validate
from .values import typed_params


@dataclass
class Request:
    """A checked request: the operation and its parameters in the typed form botocore sends."""

    operation: Operation
    params: dict
    source: Any = None  # what the user gave, before conversion

    @property
    def name(self) -> str:
        return self.operation.name


def prepare(operation: str | Operation, params: str | dict | None = None) -> Request:
    """Parse (if text), convert plain values to typed where the model takes AttributeValues, and
    check against the model. Raises InputError (ParseError, ValidationError, ...) on any problem."""
    op = operation if isinstance(operation, Operation) else catalog().get(operation)
    if params is None or isinstance(params, str):
        parsed = parse_params(params)
    elif isinstance(params, dict):
        parsed = params
    else:
        raise InputError(f"The parameters of {op.name} must be a JSON object.")
    problems: list[Problem] = []
    typed = typed_params(parsed, op.input_plan, "", problems) if op.input_plan else parsed
    if not problems:
        problems.extend(validate(op, typed))
        # Also beside the model's findings: a saved query's placeholder may stand where the model
        # finds fault (its table name, say), and the expressions still deserve their checks.
        problems.extend(p for p in hints.check(parsed, op.input_shape) if p not in problems)
    if problems:
        raise ValidationError(op.name, problems)
    return Request(op, typed, parsed)
