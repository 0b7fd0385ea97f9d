"""Converting between DynamoDB's typed AttributeValues and plain JSON values.

Typed:  {"S": "x"}, {"N": "42"}, {"M": {"a": {"BOOL": true}}}, {"B": <bytes>} ...
Plain:  "x", 42, {"a": true} ...

Where AttributeValues sit is read from the service model (see `attribute_value_plan`): conversion
happens there and nowhere else, so a parameter that merely looks like `{"S": ...}` elsewhere is
untouched.

Plain to typed: str -> S, int/Decimal -> N, bool -> BOOL, null -> NULL, list -> L, object -> M.
An object whose only key is one of the ten type tags is read as a typed value, so typed and plain
can be mixed freely. Binary and sets have no plain form: write them typed (B and BS as base64).

Typed to plain: N -> int when integral, else Decimal (never float, so no digit is lost),
B -> base64 text, SS/NS/BS -> lists.

Each conversion has one Python implementation here (`_py_to_typed`, `_py_to_plain` and the
`_py_` functions built on them): exact numbers, and each problem reported with its path. These
conversions run once per attribute of every item a scan reads or an import writes, so the C
module `_codec` (see `_speed/codec.py`) does the regular cases when it is built, and hands
anything else to that Python code: the results and problems are the same (tests/test_codec.py).
"""

from __future__ import annotations

import base64
import binascii
import math
from decimal import Decimal, InvalidOperation
from typing import Any

from ._speed.codec import load_codec
from .errors import InputError, Problem, join_path
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
            return _strict_b64decode(value)
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
            got = describe_type(value)
            problems.append(Problem(tag_path, f"expected true or false, got {got}"))
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


def item_to_typed(item: dict, path: str = "", problems: list[Problem] | None = None) -> dict:
    """A whole item (attribute name -> plain or typed value) with every value typed.

    Problems are appended to `problems` (raised as ValueError when none is given)."""
    own = problems is None
    problems = [] if own else problems
    result = _codec.fast_item_typed(item) if _codec is not None else None
    if result is None:
        result = {
            name: _to_typed(value, join_path(path, name), problems) for name, value in item.items()
        }
    if own and problems:
        raise ValueError("; ".join(str(p) for p in problems))
    return result


def _to_typed(value: Any, path: str, problems: list[Problem]) -> dict:
    """The typed form of a plain or typed value; what is wrong goes to `problems`, with its path.
    The C module, when built, does the regular cases (it answers None for the others)."""
    if _fast_typed is not None:
        typed = _fast_typed(value)
        if typed is not None:
            return typed
    return _py_to_typed(value, path, problems)


def _py_to_typed(value: Any, path: str, problems: list[Problem]) -> dict:
    """_to_typed in Python, for every case (the C module's included)."""
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
            ((tag, inner),) = value.items()
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


def _strict_b64decode(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def typed_params(value: Any, plan: Plan, path: str, problems: list[Problem]) -> Any:
    """Convert every AttributeValue that `plan` points at inside `value`; leave the rest alone."""
    if plan is AV:
        return _to_typed(value, path, problems)
    kind, sub = plan
    if kind == "struct":
        if not isinstance(value, dict):
            return value  # the validator reports the wrong type
        return {
            k: typed_params(v, sub[k], join_path(path, k), problems) if k in sub else v
            for k, v in value.items()
        }
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
    try:
        digits = text[1:] if text[:1] == "-" else text
        if digits.isdigit():
            return int(text)
        return Decimal(text)
    except (ArithmeticError, ValueError, TypeError):  # not a number, or past Decimal's range
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise InputError(f"{shown!r} is not a number DynamoDB can hold") from None


def _plain_binary(value: Any) -> str:
    """B as botocore parses it (bytes) becomes base64 text; as it comes on the wire (base64
    text already), it stays as it is."""
    if isinstance(value, str):
        return value
    return base64.b64encode(value).decode("ascii")


def _py_to_plain(av: dict) -> Any:
    ((tag, value),) = av.items()
    if tag == "S":
        return value
    if tag == "N":
        return number(value)
    if tag == "M":
        return {k: _py_to_plain(v) for k, v in value.items()}
    if tag == "L":
        return [_py_to_plain(v) for v in value]
    if tag == "BOOL":
        return value
    if tag == "NULL":
        return None
    if tag == "SS":
        return list(value)
    if tag == "NS":
        return [number(v) for v in value]
    if tag == "B":
        return _plain_binary(value)
    if tag == "BS":
        return [_plain_binary(v) for v in value]
    raise ValueError(f"unknown AttributeValue type {tag!r}")


def _py_item_to_plain(item: dict) -> dict:
    return {k: _py_to_plain(v) for k, v in item.items()}


def _py_items_to_plain(items) -> list[dict]:
    return [_py_item_to_plain(item) for item in items]


def _py_item_json(plain: Any) -> str:
    from .results import to_json

    return to_json(plain, pretty=False)


def _py_items_jsonl(items, separator: str = "\n", lossy: list | None = None) -> bytes:
    from .results import to_json

    items = list(items)
    if lossy is not None:
        lossy.append(sum(1 for item in items if any(_lossy(v) for v in item.values())))
    return "".join(
        to_json(_py_item_to_plain(item), pretty=False) + separator for item in items
    ).encode("utf-8")


def _lossy(av: Any) -> bool:
    """Whether a typed value's plain form reads back as something else: sets (as lists), binary
    (as strings), maps whose only key is a type tag (as typed values)."""
    if type(av) is not dict or len(av) != 1:
        return False
    for tag, value in av.items():
        if tag in ("SS", "NS", "BS", "B"):
            return True
        if tag == "M":
            if len(value) == 1 and next(iter(value)) in TYPE_TAGS:
                return True
            return any(_lossy(v) for v in value.values())
        if tag == "L":
            return any(_lossy(v) for v in value)
    return False


def typed_json_default(value: Any) -> Any:
    """json.dumps' `default` for typed values: binary in base64, Decimal as its text."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} cannot be written as JSON")


def _py_typed_json(av: Any) -> str:
    """A typed value as JSON text, binary in base64: what botocore's serializer sends."""
    import json

    return json.dumps(av, ensure_ascii=False, separators=(",", ":"), default=typed_json_default)


def _py_typed_json_items(items, before: bytes, after: bytes, separator: bytes) -> bytes:
    return separator.join(before + _py_typed_json(item).encode("utf-8") + after for item in items)


_codec = load_codec(Decimal, _py_to_plain, number, _py_item_json, _strict_b64decode, _py_typed_json)
ACCELERATED = _codec is not None  # whether the C module does the hot paths

if _codec is not None:
    _fast_typed = _codec.fast_typed
    to_plain = _codec.to_plain
    item_to_plain = _codec.item_to_plain
    items_to_plain = _codec.items_to_plain
    items_jsonl = _codec.items_jsonl
    typed_json_items = _codec.typed_json_items
else:
    _fast_typed = None
    to_plain = _py_to_plain
    item_to_plain = _py_item_to_plain
    items_to_plain = _py_items_to_plain
    items_jsonl = _py_items_jsonl
    typed_json_items = _py_typed_json_items

# to_plain(av): one typed AttributeValue (as botocore parses it, or as JSON carries it, with B as
#   base64 text) as a plain value.
# item_to_plain(item) / items_to_plain(items): items (maps of AttributeValues) as plain dicts.
# items_jsonl(items, separator="\n", lossy=None) -> bytes: typed items as plain JSON (UTF-8), each
#   followed by the separator; each is what results.to_json(item_to_plain(item), pretty=False)
#   writes. A list given as `lossy` gets the number of items with values whose plain form reads
#   back as something else (sets, binary, maps whose only key is a type tag).
# typed_json_items(items, before, after, separator) -> bytes: typed items as JSON (binary in
#   base64), each between `before` and `after`, `separator` between them.


def item_json(item: dict) -> str:
    """A typed item as compact plain JSON text, numbers digit for digit, binary as base64."""
    return items_jsonl([item], "").decode("utf-8")


def plain_response(value: Any, plan: Plan) -> Any:
    """Convert every AttributeValue that `plan` points at inside a response to plain."""
    if plan is AV:
        return to_plain(value)
    kind, sub = plan
    if kind == "struct":
        return {k: plain_response(v, sub[k]) if k in sub else v for k, v in value.items()}
    if kind == "list":
        if sub == ("map", AV):  # a list of items
            return items_to_plain(value)
        return [plain_response(v, sub) for v in value]
    if sub is AV:  # the common case: an item
        return item_to_plain(value)
    return {k: plain_response(v, sub) for k, v in value.items()}
