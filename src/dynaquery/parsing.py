"""Reading query parameters as people write them: JSON with comments and trailing commas.

Comments (`//` and `/* */`) and trailing commas are blanked out with spaces rather than removed, so
every line and column the JSON decoder reports is still the position in the text the user wrote.
Numbers are read exactly: integers as `int`, everything else as `Decimal`.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from .errors import InputError, ParseError

# Strings first, so that "//" inside a string is not taken for a comment.
_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|//[^\n]*|/\*[\s\S]*?\*/|/\*|[{}\[\],]')
_CLOSER = {"{": "}", "[": "]"}


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _blank(segment: str) -> str:
    return re.sub(r"[^\n]", " ", segment)


def strip_comments(text: str) -> tuple[str, list[tuple[str, int]]]:
    """Blank out comments and trailing commas. Returns the clean text and the brackets left open."""
    pieces: list[str] = []
    last = 0
    pending_comma: int | None = None  # index in pieces of a comma that may turn out to be trailing
    stack: list[tuple[str, int]] = []
    for match in _TOKEN.finditer(text):
        token = match.group()
        gap = text[last : match.start()]
        if not gap.isspace() and gap:
            pending_comma = None  # a number or literal came after the comma
        pieces.append(gap)
        last = match.end()
        if token.startswith("//") or (
            token.startswith("/*") and token.endswith("*/") and len(token) >= 4
        ):
            pieces.append(_blank(token))
            continue
        if token == "/*":
            line, column = _position(text, match.start())
            raise ParseError("comment '/*' is never closed with '*/'", line, column)
        if token == ",":
            pending_comma = len(pieces)
            pieces.append(token)
            continue
        if token in "}]":
            if pending_comma is not None:
                pieces[pending_comma] = " "
            if stack and _CLOSER[stack[-1][0]] == token:
                stack.pop()
        elif token in "{[":
            stack.append((token, match.start()))
        pending_comma = None
        pieces.append(token)
    pieces.append(text[last:])
    return "".join(pieces), stack


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def exact_number(text: str) -> Decimal:
    """A JSON number that is not an integer, exactly (json's parse_float); ValueError when it is
    past what Decimal holds."""
    try:
        return Decimal(text)
    except ArithmeticError:  # an exponent past what Decimal holds (about 10**18)
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise ValueError(f"the number {shown} is out of range") from None


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    result: dict = {}
    for key, value in pairs:
        if key in result:
            raise InputError(
                f"The key {key!r} appears twice in one object; JSON keeps only the last one. "
                "Remove or rename one of them."
            )
        result[key] = value
    return result


_NOTHING = object()


def _decode(text: str) -> Any:
    """json.loads with exact numbers, duplicate keys refused; a JSONDecodeError propagates."""
    try:
        return json.loads(
            text,
            parse_float=exact_number,
            parse_constant=_reject_constant,
            object_pairs_hook=_object_without_duplicates,
        )
    except json.JSONDecodeError:
        raise
    except ValueError as error:  # NaN / Infinity
        raise InputError(f"Invalid JSON: {error}") from None
    except RecursionError:
        raise InputError("Invalid JSON: nested too deeply") from None


def loads(text: str, *, if_empty: Any = _NOTHING) -> Any:
    """Parse JSON text with comments and trailing commas, keeping numbers exact. A text with
    nothing in it but blanks and comments gives `if_empty` when that is given."""
    try:
        # Plain JSON first: it is what most texts are, and its result is the same as the text's
        # with comments blanked (there are none). Only a text that fails is looked at closely.
        return _decode(text)
    except json.JSONDecodeError:
        pass
    clean, open_brackets = strip_comments(text)
    if if_empty is not _NOTHING and not clean.strip():
        return if_empty
    try:
        return _decode(clean)
    except json.JSONDecodeError as error:
        reason = error.msg
        if not clean[error.pos :].strip() and open_brackets:
            bracket, offset = open_brackets[-1]
            line, column = _position(text, offset)
            reason = (
                f"Unexpected end of input: the '{bracket}' opened at line {line}, column {column} "
                f"is never closed (add a '{_CLOSER[bracket]}')"
            )
        elif reason.startswith("Expecting property name"):
            reason += " (keys must be strings in double quotes)"
        raise ParseError(reason, error.lineno, error.colno) from None


def parse_params(text: str | None) -> dict:
    """Parse the parameter text of a query. Empty text (or only comments) means no parameters."""
    if text is None or not text.strip():
        return {}
    value = loads(text, if_empty={})
    if not isinstance(value, dict):
        raise InputError(
            f"The parameters must be a JSON object ({{...}}), not {describe_type(value)}."
        )
    return value


def describe_type(value: Any) -> str:
    """Name a parsed JSON value's type the way JSON does."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, Decimal, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (bytes, bytearray)):
        return "binary"
    return type(value).__name__


_LEXEME = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+')


def locate(text: str, path: str) -> tuple[int, int] | None:
    """Where the value at a JSON path (as errors name it: `Key.id`, `Items[2]`) starts in the text
    the user wrote, as (line, column); None when the text does not parse that far."""
    from .errors import join_path

    clean, _ = strip_comments(text)
    tokens = [(m.group(), m.start()) for m in _LEXEME.finditer(clean)]
    found: dict[str, int] = {}
    position = 0

    def value(at: str) -> None:
        nonlocal position
        if position >= len(tokens):
            raise IndexError
        token, offset = tokens[position]
        found.setdefault(at, offset)
        position += 1
        if token == "{":
            while position < len(tokens) and tokens[position][0] != "}":
                key = tokens[position][0]
                if key == ",":
                    position += 1
                    continue
                name = json.loads(key) if key.startswith('"') else key
                found.setdefault(join_path(at, name), tokens[position][1])
                position += 2  # the key and the colon
                value(join_path(at, name))
            position += 1
        elif token == "[":
            index = 0
            while position < len(tokens) and tokens[position][0] != "]":
                if tokens[position][0] == ",":
                    position += 1
                    continue
                value(f"{at}[{index}]")
                index += 1
            position += 1

    try:
        value("")
    except (IndexError, ValueError, RecursionError):
        pass
    if path not in found:
        return None
    return _position(text, found[path])
