"""What a run returns, and how it is shown.

- `data`: the response with every AttributeValue plain and ResponseMetadata dropped;
- `raw`: the service response as botocore parsed it (typed); for several calls (pages, batch
  chunks) the responses merged into one of the same shape;
- `meta`: operation, duration, pages, retries, count, scanned count, consumed capacity, next token,
  and for a single-item write a `summary` of what it did ("1 item written").

Output: exact JSON (numbers keep every digit, binary is base64), a table, or CSV.
"""

from __future__ import annotations

import base64
import csv
import datetime
import io
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

import simplejson

from .errors import InputError

OUTPUT_FORMATS = ("json", "raw", "full", "table", "csv")


@dataclass
class Result:
    operation: str
    data: Any
    raw: dict
    meta: dict = field(default_factory=dict)
    unprocessed: dict | None = None  # typed requests/keys left after retries (batches)

    @property
    def complete(self) -> bool:
        """False when a batch left requests unprocessed (they are in data and `unprocessed`)."""
        return not self.unprocessed

    def to_dict(self) -> dict:
        return {"data": self.data, "meta": self.meta}


# ---------------------------------------------------------------------------------------------
# what a single-item write did (its data alone is `{}` unless ReturnValues asked for more)

# The verbs of the single-item writes, as the model names them (PutItem, UpdateItem, DeleteItem).
_WRITTEN = {"Put": "written", "Update": "updated", "Delete": "deleted"}
_RETURNED = {
    "ALL_OLD": "the old item",
    "UPDATED_OLD": "the old values of the updated attributes",
    "ALL_NEW": "the new item",
    "UPDATED_NEW": "the new values of the updated attributes",
}


def write_summary(operation, params: dict | None, body: dict) -> str | None:
    """One line saying what a single-item write did ("1 item written · 1 write capacity unit"),
    or None for any other operation. A single-item write is one whose input takes a table and an
    Item or Key and whose output is the item's Attributes; its verb says what happened."""
    model = getattr(operation, "model", None)
    verb = next((v for v in _WRITTEN if operation.name.startswith(v)), None)
    if verb is None or model is None or model.input_shape is None or model.output_shape is None:
        return None
    members = model.input_shape.members
    if (
        "TableName" not in members
        or not ({"Item", "Key"} & set(members))
        or "Attributes" not in model.output_shape.members
    ):
        return None
    params = params if isinstance(params, dict) else {}
    asked = params.get("ReturnValues")
    asked = asked if isinstance(asked, str) and asked in _RETURNED else None
    returned = bool(body.get("Attributes"))
    if verb == "Delete" and asked == "ALL_OLD" and not returned:
        parts = ["0 items deleted: no item had this key"]
    elif verb == "Delete" and not returned:
        # DynamoDB answers the same whether the key existed or not
        parts = ["1 item deleted, if it existed (ReturnValues ALL_OLD says whether it did)"]
    elif verb == "Put" and asked == "ALL_OLD":
        parts = [
            "1 item written, replacing the item with this key"
            if returned
            else "1 item written (a new item: none had this key)"
        ]
    else:
        parts = [f"1 item {_WRITTEN[verb]}"]
    if returned and asked:
        parts.append(f"returned: {_RETURNED[asked]} ({asked})")
    units = _capacity_units(body.get("ConsumedCapacity"))
    if units is not None:
        parts.append(f"{units} write capacity unit{'' if units == 1 else 's'}")
    return " · ".join(parts)


def _capacity_units(consumed: Any) -> Any:
    if not isinstance(consumed, dict):
        return None
    for key in ("CapacityUnits", "WriteCapacityUnits"):
        value = consumed.get(key)
        if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
            return int(value) if value == int(value) else value
    return None


# ---------------------------------------------------------------------------------------------
# transformations (JMESPath)


@lru_cache(maxsize=1)
def _functions():
    import jmespath.functions

    class ExactFunctions(jmespath.functions.Functions):
        """JMESPath's functions, with Decimal counted as a number (our numbers are exact)."""

        def _get_allowed_pytypes(self, types):
            allowed, subtypes = super()._get_allowed_pytypes(types)
            if "float" in allowed:
                allowed = [*allowed, "Decimal"]
            subtypes = [[*s, "Decimal"] if "float" in s else s for s in subtypes]
            return allowed, subtypes

        @jmespath.functions.signature({"types": []})
        def _func_type(self, arg):
            if isinstance(arg, Decimal):
                return "number"
            return super()._func_type(arg)

    return ExactFunctions()


def compile_transform(expression: str):
    """Compile a JMESPath expression, or raise InputError saying where it is wrong."""
    import jmespath
    from jmespath import exceptions

    try:
        return jmespath.compile(expression)
    except exceptions.ParseError as error:
        column = getattr(error, "lex_position", None)
        where = f" at column {column + 1}" if isinstance(column, int) else ""
        raise InputError(
            f"Invalid transformation {expression!r}{where}: "
            f"{error.msg if hasattr(error, 'msg') else error}"
        ) from None
    except exceptions.JMESPathError as error:
        raise InputError(f"Invalid transformation {expression!r}: {error}") from None


def apply_transform(data: Any, expression: str | None) -> Any:
    """Apply a JMESPath expression to a result's data."""
    if not expression:
        return data
    import jmespath
    from jmespath import exceptions

    compiled = compile_transform(expression)
    try:
        return compiled.search(data, options=jmespath.Options(custom_functions=_functions()))
    except exceptions.JMESPathError as error:
        raise InputError(f"Transformation {expression!r} failed: {error}") from None


# ---------------------------------------------------------------------------------------------
# rendering


def _default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if hasattr(value, "read"):  # a streaming body
        return base64.b64encode(value.read()).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def to_json(value: Any, pretty: bool = True) -> str:
    """JSON text with exact numbers (Decimal written digit for digit) and binary as base64."""
    return simplejson.dumps(
        value,
        use_decimal=True,
        encoding=None,  # bytes go to _default (base64), not decoded as text
        default=_default,
        ensure_ascii=False,
        indent=2 if pretty else None,
        separators=None if pretty else (",", ":"),
    )


def rows_of(value: Any) -> list[dict]:
    """The rows a value shows as in a table: its items, or the value itself."""
    if isinstance(value, dict):
        if isinstance(value.get("Items"), list):
            return rows_of(value["Items"])
        if isinstance(value.get("Item"), dict):
            return [value["Item"]]
        responses = value.get("Responses")
        if isinstance(responses, dict):  # BatchGetItem: table -> items
            return [
                {"_table": table, **item}
                for table, items in responses.items()
                for item in items
                if isinstance(item, dict)
            ]
        lists = [v for v in value.values() if isinstance(v, list)]
        if len(lists) == 1:
            return rows_of(lists[0])
        return [value]
    if isinstance(value, list):
        if all(isinstance(v, dict) for v in value):
            return list(value)
        return [{"value": v} for v in value]
    return [{"value": value}]


def columns_of(rows: list[dict]) -> list[str]:
    """The union of the rows' keys, in order of first appearance."""
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            seen.setdefault(key, None)
    return list(seen)


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    return to_json(value, pretty=False)


def to_csv(value: Any) -> str:
    rows = rows_of(value)
    columns = columns_of(rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(row.get(c)) for c in columns])
    return buffer.getvalue()


def to_table(value: Any, width: int | None = None) -> str:
    from rich.console import Console
    from rich.table import Table

    rows = rows_of(value)
    columns = columns_of(rows)
    table = Table(show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(cell(row.get(c)) for c in columns))
    console = Console(file=io.StringIO(), width=width or 160, color_system=None)
    console.print(table)
    return console.file.getvalue()


def render(result: Result, output: str = "json", transform: str | None = None) -> str:
    """The text the CLI prints for a result."""
    if output not in OUTPUT_FORMATS:
        raise InputError(f"Unknown output {output!r}: use one of {', '.join(OUTPUT_FORMATS)}.")
    if output == "raw":
        return to_json(apply_transform(result.raw, transform))
    data = apply_transform(result.data, transform)
    if output == "full":
        return to_json({"data": data, "meta": result.meta})
    if output == "table":
        return to_table(data)
    if output == "csv":
        return to_csv(data)
    return to_json(data)
