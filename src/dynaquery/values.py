"""Converting between DynamoDB's typed AttributeValues and plain JSON values.

Typed:  {"S": "x"}, {"N": "42"}, {"M": {"a": {"BOOL": true}}}, {"B": <bytes>} ...
Plain:  "x", 42, {"a": true} ...

Where AttributeValues sit is read from the service model (see `attribute_value_plan`): conversion
happens there and nowhere else, so a parameter that merely looks like `{"S": ...}` elsewhere is untouched.

Plain to typed: str -> S, int/Decimal -> N, bool -> BOOL, null -> NULL, list -> L, object -> M.
An object whose only key is one of the ten type tags is read as a typed value, so typed and plain
can be mixed freely. Binary and sets have no plain form: write them typed (B and BS as base64).

Typed to plain: N -> int when integral, else Decimal (never float, so no digit is lost),
B -> base64 text, SS/NS/BS -> lists.
"""

from __future__ import annotations

import base64
import binascii
import math
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import Problem, join_path
from .parsing import describe_type

TYPE_TAGS = frozenset({"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"})
ATTRIBUTE_VALUE_SHAPE = "AttributeValue"

# A plan says where AttributeValues sit inside a shape:
#   AV                      this value is an AttributeValue
#   ("struct", {name: plan}) only the members that lead to one
#   ("list", plan) / ("map", plan)
AV = "AV"
Plan = Any


def attribute_value_plan(shape, _seen: dict | None = None) -> Plan | None:
    """Walk a botocore shape and return the plan of where AttributeValues sit, or None."""
    if shape is None:
        return None
    if shape.name == ATTRIBUTE_VALUE_SHAPE:
        return AV
    seen = {} if _seen is None else _seen
    if shape.name in seen:
        return seen[shape.name]
    seen[shape.name] = None  # guards recursive shapes
    plan: Plan | None = None
    if shape.type_name == "structure":
        members = {}
        for name, member in shape.members.items():
            sub = attribute_value_plan(member, seen)
            if sub is not None:
                members[name] = sub
        plan = ("struct", members) if members else None
    elif shape.type_name == "list":
        sub = attribute_value_plan(shape.member, seen)
        plan = ("list", sub) if sub is not None else None
    elif shape.type_name == "map":
        sub = attribute_value_plan(shape.value, seen)
        plan = ("map", sub) if sub is not None else None
    seen[shape.name] = plan
    return plan


# ---------------------------------------------------------------------------------------------
# plain or typed -> typed (request side)


def _number_text(value: Any, path: str, problems: list[Problem]) -> str | None:
    if isinstance(value, bool):
        problems.append(Problem(path, f"expected a number, got {describe_type(value)}"))
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            problems.append(Problem(path, f"{value} is not a number DynamoDB can store"))
            return None
        return repr(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            problems.append(Problem(path, f"{value} is not a number DynamoDB can store"))
            return None
        return str(value)
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite() or not value.strip():
            problems.append(Problem(path, f"{value!r} is not a number"))
            return None
        return value.strip()
    problems.append(Problem(path, f"expected a number, got {describe_type(value)}"))
    return None


def _binary(value: Any, path: str, problems: list[Problem]) -> bytes | None:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            problems.append(Problem(path, "binary values must be written in base64"))
            return None
    problems.append(Problem(path, f"expected base64 text, got {describe_type(value)}"))
    return None


def _typed_list(tag: str, value: Any, path: str, problems: list[Problem], element) -> dict | None:
    if not isinstance(value, (list, tuple, set, frozenset)):
        problems.append(Problem(path, f"{tag} takes a list, got {describe_type(value)}"))
        return None
    items = [element(v, f"{path}[{i}]", problems) for i, v in enumerate(value)]
    return {tag: items}


def _string(value: Any, path: str, problems: list[Problem]) -> str | None:
    if isinstance(value, str):
        return value
    problems.append(Problem(path, f"expected a string, got {describe_type(value)}"))
    return None


def _from_tagged(tag: str, value: Any, path: str, problems: list[Problem]) -> dict | None:
    tag_path = join_path(path, tag)
    if tag == "S":
        return {"S": _string(value, tag_path, problems)}
    if tag == "N":
        return {"N": _number_text(value, tag_path, problems)}
    if tag == "B":
        return {"B": _binary(value, tag_path, problems)}
    if tag == "BOOL":
        if not isinstance(value, bool):
            problems.append(Problem(tag_path, f"expected true or false, got {describe_type(value)}"))
        return {"BOOL": value}
    if tag == "NULL":
        if value is not True:
            problems.append(Problem(tag_path, "NULL must be true"))
        return {"NULL": True}
    if tag == "SS":
        return _typed_list("SS", value, tag_path, problems, _string)
    if tag == "NS":
        return _typed_list("NS", value, tag_path, problems, _number_text)
    if tag == "BS":
        return _typed_list("BS", value, tag_path, problems, _binary)
    if tag == "L":
        if not isinstance(value, list):
            problems.append(Problem(tag_path, f"L takes a list, got {describe_type(value)}"))
            return None
        return {"L": [_to_typed(v, f"{tag_path}[{i}]", problems) for i, v in enumerate(value)]}
    # M
    if not isinstance(value, dict):
        problems.append(Problem(tag_path, f"M takes an object, got {describe_type(value)}"))
        return None
    return {"M": {k: _to_typed(v, join_path(tag_path, k), problems) for k, v in value.items()}}


def to_typed(value: Any, path: str = "", problems: list[Problem] | None = None) -> dict:
    """Turn a plain or typed value into the typed form botocore sends.

    Problems are appended to `problems` (raised as ValueError when none is given)."""
    own = problems is None
    problems = [] if own else problems
    result = _to_typed(value, path, problems)
    if own and problems:
        raise ValueError("; ".join(str(p) for p in problems))
    return result


def _to_typed(value: Any, path: str, problems: list[Problem]) -> dict:
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bool):
        return {"BOOL": value}
    if value is None:
        return {"NULL": True}
    if isinstance(value, (int, Decimal, float)):
        return {"N": _number_text(value, path, problems)}
    if isinstance(value, dict):
        if len(value) == 1:
            (tag, inner), = value.items()
            if tag in TYPE_TAGS:
                return _from_tagged(tag, inner, path, problems)
        return {"M": {k: _to_typed(v, join_path(path, k), problems) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"L": [_to_typed(v, f"{path}[{i}]", problems) for i, v in enumerate(value)]}
    if isinstance(value, (bytes, bytearray)):
        return {"B": bytes(value)}
    if isinstance(value, (set, frozenset)):
        return _typed_set(value, path, problems)
    problems.append(Problem(path, f"{type(value).__name__} cannot be stored in DynamoDB"))
    return {"NULL": True}


def _typed_set(value: set | frozenset, path: str, problems: list[Problem]) -> dict:
    if all(isinstance(v, str) for v in value):
        return {"SS": sorted(value)}
    if all(isinstance(v, (bytes, bytearray)) for v in value):
        return {"BS": sorted(bytes(v) for v in value)}
    if all(isinstance(v, (int, Decimal, float)) and not isinstance(v, bool) for v in value):
        return {"NS": [_number_text(v, path, problems) for v in value]}
    problems.append(Problem(path, "a set must hold only strings, only numbers or only binary"))
    return {"NULL": True}


def typed_params(value: Any, plan: Plan, path: str, problems: list[Problem]) -> Any:
    """Convert every AttributeValue that `plan` points at inside `value`; leave the rest alone."""
    if plan is AV:
        return _to_typed(value, path, problems)
    kind, sub = plan
    if kind == "struct":
        if not isinstance(value, dict):
            return value  # the validator reports the wrong type
        return {k: typed_params(v, sub[k], join_path(path, k), problems) if k in sub else v
                for k, v in value.items()}
    if kind == "list":
        if not isinstance(value, list):
            return value
        return [typed_params(v, sub, f"{path}[{i}]", problems) for i, v in enumerate(value)]
    if not isinstance(value, dict):
        return value
    return {k: typed_params(v, sub, join_path(path, k), problems) for k, v in value.items()}


# ---------------------------------------------------------------------------------------------
# typed -> plain (response side)


def number(text: str) -> int | Decimal:
    """A DynamoDB number as an exact Python number: int when integral, else Decimal."""
    digits = text[1:] if text[:1] == "-" else text
    if digits.isdigit():
        return int(text)
    return Decimal(text)


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def to_plain(av: dict) -> Any:
    """Turn one typed AttributeValue (as botocore parses it) into a plain value."""
    (tag, value), = av.items()
    if tag == "S":
        return value
    if tag == "N":
        return number(value)
    if tag == "M":
        return {k: to_plain(v) for k, v in value.items()}
    if tag == "L":
        return [to_plain(v) for v in value]
    if tag == "BOOL":
        return value
    if tag == "NULL":
        return None
    if tag == "SS":
        return list(value)
    if tag == "NS":
        return [number(v) for v in value]
    if tag == "B":
        return _b64(value)
    if tag == "BS":
        return [_b64(v) for v in value]
    raise ValueError(f"unknown AttributeValue type {tag!r}")


def plain_response(value: Any, plan: Plan) -> Any:
    """Convert every AttributeValue that `plan` points at inside a response to plain."""
    if plan is AV:
        return to_plain(value)
    kind, sub = plan
    if kind == "struct":
        return {k: plain_response(v, sub[k]) if k in sub else v for k, v in value.items()}
    if kind == "list":
        return [plain_response(v, sub) for v in value]
    if sub is AV:  # the common case: an item
        return {k: to_plain(v) for k, v in value.items()}
    return {k: plain_response(v, sub) for k, v in value.items()}
