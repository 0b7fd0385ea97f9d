"""Query templates: `{{ name }}` placeholders filled at run time with JSON values.

The text is parsed once with each placeholder standing in as a marker, so the structure of the
query is fixed before any value is seen; values then replace markers in the parsed tree. A value
holding quotes, braces or `}}` is just a value: it can never change the shape of the query.

- `{{ name }}` where a JSON value goes (`"Limit": {{ limit }}`) takes the value as it is;
- a string that is only a placeholder (`"{{ team }}"`) takes the value as it is, too;
- a placeholder inside a longer string (`"team#{{ team }}"`) is replaced by the value's text.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .errors import InputError, join_path
from .parsing import _position, loads, parse_params, strip_comments
from .validation import did_you_mean

NAME = r"[A-Za-z_][A-Za-z0-9_.-]*"
PLACEHOLDER = re.compile(r"\{\{\s*(" + NAME + r")\s*\}\}")
# Anything that opens a placeholder but is not one: reported rather than sent as text.
_OPENING = re.compile(r"\{\{")
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
# Marks a bare placeholder once it is turned into a JSON string of the same length (so every line
# and column a parse error reports is still the user's). A private-use character: never typed.
_MARK = "\ue000"


@dataclass(frozen=True)
class Template:
    """A parsed query text and the placeholders it uses, in order of first use. Kept by
    `parse` for the next run of the same text: render builds a new tree each time."""

    text: str
    tree: Any
    names: tuple[str, ...] = ()

    def render(
        self,
        values: dict[str, Any] | None = None,
        defaults: dict[str, Any] | None = None,
        *,
        missing_ok: bool = False,
    ) -> tuple[Any, list[tuple[str, str]]]:
        """The parameters with every placeholder filled, and where each one was: (JSON path,
        placeholder name) pairs.

        values win over defaults. A placeholder with neither is an error, unless `missing_ok`
        (saving a query: the marker stays, and the caller ignores problems at those paths)."""
        values = dict(values or {})
        defaults = dict(defaults or {})
        unknown = sorted(set(values) - set(self.names))
        if unknown:
            name = unknown[0]
            hint = did_you_mean(name, self.names)
            takes = ", ".join(self.names) or "no parameters"
            raise InputError(
                f"Unknown parameter {name!r}{' (' + hint + ')' if hint else ''}; "
                f"this query takes: {takes}."
            )
        merged = {**defaults, **values}
        missing = [n for n in self.names if n not in merged]
        if missing and not missing_ok:
            flags = " ".join(f"--param {n}=VALUE" for n in missing)
            raise InputError(
                f"Missing value for parameter{'s' if len(missing) > 1 else ''} "
                f"{', '.join(repr(n) for n in missing)}: give {flags} "
                "(or declare a default when saving the query)."
            )
        holes: list[tuple[str, str]] = []
        try:
            return _fill(self.tree, merged, "", holes), holes
        except RecursionError:  # JSON nested nearly as deep as the parser allows
            raise InputError("The parameters are nested too deeply.") from None


@functools.lru_cache(maxsize=256)  # a saved query runs again and again (bench: tests/load.py)
def parse(text: str | None) -> Template:
    """Parse a query text that may hold `{{ name }}` placeholders."""
    if text is None or "{{" not in text:
        return Template(text or "", parse_params(text))
    clean, _ = strip_comments(text)
    names: list[str] = []
    pieces: list[str] = []
    last = 0
    # Walk the text outside strings (comments are already blanked in `clean`).
    for match in _STRING.finditer(clean):
        pieces.append(_mark_bare(text, clean, last, match.start(), names))
        literal = text[match.start() : match.end()]
        _check_string(literal, names)
        pieces.append(literal)
        last = match.end()
    pieces.append(_mark_bare(text, clean, last, len(clean), names))
    marked = "".join(pieces)
    tree = loads(marked, if_empty={})
    if not isinstance(tree, dict):
        raise InputError("The parameters must be a JSON object ({...}).")
    return Template(text, tree, tuple(names))


def _mark_bare(text: str, clean: str, start: int, end: int, names: list[str]) -> str:
    """Turn each bare `{{ name }}` between start and end into a marked JSON string."""
    out: list[str] = []
    last = start
    segment = clean[start:end]
    for match in PLACEHOLDER.finditer(segment):
        begin, finish = start + match.start(), start + match.end()
        out.append(text[last:begin])
        _remember(match.group(1), names)
        inner = text[begin + 2 : finish - 2]
        out.append(f'"{_MARK}{inner}{_MARK}"')  # as long as the placeholder it stands for
        last = finish
    rest = text[last:end]
    stray = _OPENING.search(clean[last:end])
    if stray:
        line, column = _position(text, last + stray.start())
        raise InputError(
            f"At line {line}, column {column}: '{{{{' opens a placeholder that is "
            "not '{{ name }}' (a name of letters, digits, '_', '.' or '-')."
        )
    out.append(rest)
    return "".join(out)


def _check_string(literal: str, names: list[str]) -> None:
    # Other "{{" text inside a string is data (a stored template, say), not a placeholder.
    for match in PLACEHOLDER.finditer(literal):
        _remember(match.group(1), names)


def _remember(name: str, names: list[str]) -> None:
    if name not in names:
        names.append(name)


def _marker_name(value: str) -> str | None:
    if len(value) >= 2 and value[0] == _MARK and value[-1] == _MARK:
        return value[1:-1].strip()
    return None


def _fill(node: Any, values: dict[str, Any], path: str, holes: list[tuple[str, str]]) -> Any:
    if isinstance(node, dict):
        filled = {}
        for key, value in node.items():
            key = _fill_text(key, values, join_path(path, key), holes)
            filled[key] = _fill(value, values, join_path(path, key), holes)
        return filled
    if isinstance(node, list):
        return [_fill(v, values, f"{path}[{i}]", holes) for i, v in enumerate(node)]
    if isinstance(node, str):
        name = _marker_name(node)
        if name is None:
            whole = PLACEHOLDER.fullmatch(node)
            name = whole.group(1) if whole else None
        if name is not None:
            holes.append((path, name))
            return values.get(name, node)
        return _fill_text(node, values, path, holes)
    return node


def _fill_text(text: str, values: dict[str, Any], path: str, holes: list[tuple[str, str]]) -> str:
    """Replace placeholders inside a longer string by the values' text (one pass: a value that
    contains `{{ x }}` is not expanded again)."""
    if "{{" not in text:
        return text

    def replace(match: re.Match) -> str:
        name = match.group(1)
        holes.append((path, name))
        return as_text(values[name]) if name in values else match.group(0)

    return PLACEHOLDER.sub(replace, text)


def as_text(value: Any) -> str:
    """A value's text inside a longer string: strings as they are, the rest as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, default=str)


def parse_assignment(item: str) -> tuple[str, Any]:
    """`--param name=text` (a string) or `--param name:=JSON` (any JSON value)."""
    match = re.fullmatch(r"(" + NAME + r")(:?=)(.*)", item, re.S)
    if not match:
        raise InputError(
            f"--param {item!r}: write NAME=VALUE (a string) or NAME:=JSON "
            "(a number, true, an object...)."
        )
    name, sign, raw = match.groups()
    if sign == "=":
        return name, raw
    try:
        return name, loads(raw)
    except InputError as error:
        raise InputError(f"--param {name}:= takes a JSON value: {error.message}") from None


def parse_values_json(text: str, what: str = "--params-json") -> dict[str, Any]:
    try:
        value = loads(text)
    except InputError as error:
        raise InputError(f"{what}: {error.message}") from None
    if not isinstance(value, dict):
        raise InputError(f"{what} must be a JSON object of parameter names and values.")
    for name in value:
        if not re.fullmatch(NAME, name):
            raise InputError(f"{what}: {name!r} is not a parameter name.")
    return value
