"""Checking parameters against the service model before anything is sent.

botocore's own ParamValidator does the walk (required members, unknown members, types, minimums,
unions); we add the string constraints the model states but botocore leaves to the server (enums,
maximum lengths, patterns), then turn its findings into Problems: a JSON path, what was expected,
and a "did you mean" for near misses.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from typing import Any

from botocore.validate import ParamValidator

from .errors import Problem, join_path
from .parsing import describe_type
from .values import ATTRIBUTE_VALUE_SHAPE

_TYPE_NAMES = {
    "dict": "an object",
    "list": "a list",
    "tuple": "a list",
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "Decimal": "a number",
    "bool": "true or false",
    "datetime": "a timestamp",
    "bytes": "binary (base64)",
    "bytearray": "binary (base64)",
}


def did_you_mean(word: str, choices: list[str]) -> str:
    matches = difflib.get_close_matches(word, choices, n=2, cutoff=0.6)
    if not matches:
        lowered = {c.lower(): c for c in choices}
        if word.lower() in lowered:
            matches = [lowered[word.lower()]]
    return f"did you mean {' or '.join(repr(m) for m in matches)}?" if matches else ""


def looks_like_placeholder(value: str) -> bool:
    return bool(re.fullmatch(r"\s*<[^<>]*>\s*", value))


class _ModelValidator(ParamValidator):
    """botocore's validator, plus the string constraints of the model."""

    def _validate_structure(self, params, shape, errors, name):
        if shape.name == ATTRIBUTE_VALUE_SHAPE:
            return  # built and checked by values.typed_params
        super()._validate_structure(params, shape, errors, name)
        if (
            isinstance(params, dict)
            and len(params) > 1
            and not shape.is_tagged_union
            and _ONE_OF.match(shape.documentation or "")
        ):
            errors.report(name, "more than one input", members=list(shape.members))

    def _validate_string(self, param, shape, errors, name):
        if (
            isinstance(param, str)
            and shape.name in _TABLE_NAME_SHAPES
            and not looks_like_placeholder(param)
            and not (shape.name == _NAME_OR_ARN and param.startswith("arn:"))
        ):
            problem = table_name_problem(param)
            if problem:
                errors.report(
                    name,
                    "table name",
                    param=param,
                    problem=problem,
                    arn_allowed=shape.name == _NAME_OR_ARN,
                )
            return
        super()._validate_string(param, shape, errors, name)
        if not isinstance(param, str):
            return
        if looks_like_placeholder(param):
            errors.report(name, "placeholder", param=param)
            return
        if shape.enum and param not in shape.enum:
            errors.report(name, "invalid enum", param=param, allowed=list(shape.enum))
        maximum = shape.metadata.get("max")
        if maximum is not None and len(param) > maximum:
            errors.report(name, "too long", param=param, max_allowed=maximum)
        pattern = shape.metadata.get("pattern")
        if pattern and param and len(param) >= shape.metadata.get("min", 0):
            try:
                matched = re.fullmatch(pattern, param) is not None
            except re.error:  # a pattern Python's re cannot read: leave it to the service
                matched = True
            if not matched:
                errors.report(name, "pattern mismatch", param=param, pattern=pattern)


# Table names. The model's TableName shape states DynamoDB's rule for a name; parameters that take
# a name or an ARN (TableName, RequestItems' keys, ...) have the TableArn shape, which states only
# 1-1024 characters: a value there that is no ARN is a name, and follows the TableName rule.
_TABLE_NAME = "TableName"
_NAME_OR_ARN = "TableArn"
_TABLE_NAME_SHAPES = (_TABLE_NAME, _NAME_OR_ARN)


@lru_cache(maxsize=1)
def _table_name_rule() -> tuple[int, int, str]:
    from .catalog import catalog

    metadata = catalog().service_model.shape_for(_TABLE_NAME).metadata
    return metadata.get("min", 1), metadata.get("max", 255), metadata.get("pattern", ".*")


def table_name_problem(name: str) -> str | None:
    """What is wrong with a plain table name, or None when DynamoDB's rule allows it."""
    low, high, pattern = _table_name_rule()
    rule = f"a table name is {low} to {high} characters of {pattern}"
    if not name:
        return f"must not be empty ({rule})"
    if len(name) < low:
        return f"too short: {len(name)} character{'s' if len(name) != 1 else ''}; {rule}"
    if len(name) > high:
        return f"too long: {len(name)} characters; {rule}"
    try:
        outside = [c for c in dict.fromkeys(name) if not re.fullmatch(pattern, c)]
    except re.error:
        return None
    if outside:
        shown = ", ".join(repr(c) for c in outside[:5])
        return f"{shown} {'is' if len(outside) == 1 else 'are'} not allowed; {rule}"
    return None


# The model documents some structures as "Represents one of the following" (ReplicaUpdate,
# GlobalSecondaryIndexUpdate, ...) without marking them as unions: the service takes one member.
_ONE_OF = re.compile(r"\s*(<p>)?\s*Represents one of the following")

_VALIDATOR = _ModelValidator()
_MAP_KEY = re.compile(r"(.*) \(key: (.*)\)", re.DOTALL)


def _expected(valid_types: list[str]) -> str:
    names = []
    for text in valid_types:
        match = re.search(r"'(?:[\w.]+\.)?(\w+)'", text)
        word = _TYPE_NAMES.get(match.group(1), match.group(1)) if match else text
        if word not in names:
            names.append(word)
    return " or ".join(names)


def _problem(reason: str, name: str, details: dict[str, Any]) -> Problem:
    """One of botocore's findings, said for a user: a path and what is wrong there."""
    path = name[1:] if name.startswith(".") else name
    map_key = _MAP_KEY.fullmatch(path)  # botocore names a map's key "RequestItems (key: users)"
    if map_key:
        path = join_path(*map_key.groups())
    if reason == "missing required field":
        return Problem(join_path(path, details["required_name"]), "required, but missing")
    if reason == "unknown field":
        return _unknown_field(path, details)
    if reason == "invalid type":
        return _invalid_type(path, details)
    if reason == "invalid range":
        return Problem(path, f"must be at least {details['min_allowed']}, got {details['param']}")
    if reason == "invalid length":
        count = details["param"]
        if count == 0:
            return Problem(path, f"must not be empty (at least {details['min_allowed']})")
        return Problem(path, f"too short: {count}, at least {details['min_allowed']}")
    if reason == "invalid enum":
        return _invalid_enum(path, details)
    if reason == "too long":
        return Problem(
            path, f"too long: {len(details['param'])} characters, at most {details['max_allowed']}"
        )
    if reason == "placeholder":
        return Problem(path, f"{details['param']!r} is a placeholder: replace it with a real value")
    if reason == "table name":
        return _invalid_table_name(path, details)
    if reason == "pattern mismatch":
        value = details["param"]
        return Problem(path, f"{value!r} does not match the pattern {details['pattern']}")
    if reason in ("more than one input", "empty input"):
        members = ", ".join(details["members"])
        message = f"set exactly one of: {members}"
        if reason == "more than one input" and re.search(r"\[\d+\]$", path):
            message += " (put each in its own element of the list)"
        return Problem(path, message)
    return Problem(path, reason)


def _unknown_field(path: str, details: dict[str, Any]) -> Problem:
    unknown = details["unknown_param"]
    hint = did_you_mean(unknown, details["valid_names"])
    valid = ", ".join(details["valid_names"])
    return Problem(join_path(path, unknown), f"unknown parameter; {hint or 'valid here: ' + valid}")


def _invalid_type(path: str, details: dict[str, Any]) -> Problem:
    """The expected type, and how to fix the two usual slips: a list around an object, and
    a number in quotes."""
    param = details["param"]
    message = f"expected {_expected(details['valid_types'])}, got {describe_type(param)}"
    if (
        isinstance(param, list)
        and len(param) == 1
        and isinstance(param[0], dict)
        and "dict" in str(details["valid_types"])
    ):
        message += " (remove the surrounding [ ] and give the object itself)"
    if isinstance(param, str) and any("int" in t or "float" in t for t in details["valid_types"]):
        message += " (write the number without quotes)"
    return Problem(path, message)


def _invalid_enum(path: str, details: dict[str, Any]) -> Problem:
    hint = did_you_mean(details["param"], details["allowed"])
    allowed = ", ".join(details["allowed"])
    return Problem(
        path,
        f"{details['param']!r} is not allowed; {hint + ' ' if hint else ''}valid values: {allowed}",
    )


def _invalid_table_name(path: str, details: dict[str, Any]) -> Problem:
    message = details["problem"]
    if details["arn_allowed"]:
        message += " (or give the table's ARN, arn:aws:dynamodb:REGION:ACCOUNT:table/NAME)"
    name = details["param"]
    shown = repr(name) if len(name) <= 60 else repr(name[:40]) + "..."
    return Problem(path, f"{shown} is not a valid table name: {message}" if name else message)


def validate(operation, params: dict) -> list[Problem]:
    """Every problem with `params` for `operation` (an Operation of the catalog)."""
    shape = operation.input_shape
    if shape is None:
        if params:
            return [
                Problem(key, f"unknown parameter; {operation.name} takes none") for key in params
            ]
        return []
    report = _VALIDATOR.validate(params, shape)
    # ValidationErrors keeps its findings as (reason, name, details); its public API only formats them.
    return [_problem(reason, name, details) for reason, name, details in report._errors]
