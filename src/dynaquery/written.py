"""The items a write request touches: (table, typed key) pairs, read from the request's typed
parameters where the service model puts them, and the tables' key schemas.

PutItem's `Item`, UpdateItem's and DeleteItem's `Key`, BatchWriteItem's `PutRequest` /
`DeleteRequest`, TransactWriteItems' `Put` / `Update` / `Delete` (a `ConditionCheck` writes
nothing). A PartiQL statement names its key in its text: an `INSERT ... VALUE {...}`, or an
`UPDATE` / `DELETE` whose `WHERE` sets every key attribute with `=` (literal or `?`); one that
does not (a `WHERE` with `OR`, a range...) makes the keys unknown, and says why.

Used by the journal (journal.py), which keeps what a run wrote so that it can be undone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

from .catalog import is_select
from .errors import KeysUnknown
from .items import key_identity

KeyNames = Callable[[str], list[str]]  # a table's key attribute names, partition key first


def written_items(operation: str, params: dict, key_names: KeyNames) -> list[tuple[str, dict]]:
    """Each (table, key) the request writes, in order, each once; [] for a request that writes
    no item (a read, or a table operation). Raises KeysUnknown for a PartiQL write whose key is
    not spelled out."""
    found: list[tuple[str, dict]] = []
    for table, item_or_key in _targets(operation, params):
        names = key_names(table)
        key = {n: item_or_key[n] for n in names if n in item_or_key}
        if len(key) == len(names):
            found.append((table, key))
    unique: dict[tuple, tuple[str, dict]] = {}
    for table, key in found:
        unique.setdefault((table, key_identity(key)), (table, key))
    return list(unique.values())


def _targets(operation: str, params: dict):
    if operation == "PutItem":
        yield params["TableName"], params.get("Item", {})
    elif operation in ("UpdateItem", "DeleteItem"):
        yield params["TableName"], params.get("Key", {})
    elif operation == "BatchWriteItem":
        for table, requests in params.get("RequestItems", {}).items():
            for request in requests:
                if "PutRequest" in request:
                    yield table, request["PutRequest"].get("Item", {})
                elif "DeleteRequest" in request:
                    yield table, request["DeleteRequest"].get("Key", {})
    elif operation == "TransactWriteItems":
        for entry in params.get("TransactItems", []):
            for kind, field in (("Put", "Item"), ("Update", "Key"), ("Delete", "Key")):
                if kind in entry:
                    yield entry[kind]["TableName"], entry[kind].get(field, {})
    elif operation == "ExecuteStatement":
        yield from _statement_targets(params)
    elif operation in ("BatchExecuteStatement", "ExecuteTransaction"):
        listed = params.get("Statements") or params.get("TransactStatements") or []
        for statement in listed:
            yield from _statement_targets(statement)


# -- PartiQL -----------------------------------------------------------------------------------

_NAME = r'"(?:[^"]|"")+"|[A-Za-z_][\w.-]*'
_VALUE = r"\?|'(?:[^']|'')*'|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
_TABLE = re.compile(rf"^\s*(?:insert\s+into|update|delete\s+from)\s+({_NAME})", re.I)
_WHERE = re.compile(r"\bwhere\b(.*)$", re.I | re.S)
_EQUALS = re.compile(rf"^\s*({_NAME})\s*=\s*({_VALUE})\s*$", re.S)
_FIELD = re.compile(rf"'((?:[^']|'')*)'\s*:\s*({_VALUE})")


def _statement_targets(entry: dict):
    statement, parameters = entry.get("Statement", ""), list(entry.get("Parameters") or [])
    if is_select(statement):
        return
    table_match = _TABLE.match(statement)
    if not table_match:
        raise KeysUnknown(f"Which items this statement writes cannot be told: {statement[:80]!r}")
    table = _unquote(table_match.group(1))
    if re.match(r"^\s*insert\b", statement, re.I):
        yield table, _inserted_fields(statement, parameters)
        return
    where = _WHERE.search(statement)
    if not where:
        raise KeysUnknown(f"This statement names no key (no WHERE): {statement[:80]!r}")
    before_where = statement[: where.start()].count("?")
    yield table, _where_fields(where.group(1), parameters[before_where:], statement)


def _where_fields(where: str, parameters: list, statement: str) -> dict:
    fields: dict[str, dict] = {}
    for term in re.split(r"\band\b", where, flags=re.I):
        match = _EQUALS.match(term)
        if not match:
            raise KeysUnknown(
                f"Which items this statement writes cannot be told (its WHERE is not key = value "
                f"terms joined by AND): {statement[:80]!r}"
            )
        fields[_unquote(match.group(1))] = _value(match.group(2), parameters)
    return fields


def _inserted_fields(statement: str, parameters: list) -> dict:
    body = statement[statement.find("{") :]
    fields: dict[str, dict] = {}
    for match in _FIELD.finditer(body):
        fields[match.group(1).replace("''", "'")] = _value(match.group(2), parameters)
    return fields


def _value(text: str, parameters: list) -> dict:
    if text == "?":
        if not parameters:
            raise KeysUnknown("A statement has more ? than Parameters.")
        return parameters.pop(0)
    if text.startswith("'"):
        return {"S": text[1:-1].replace("''", "'")}
    return {"N": str(Decimal(text))}


def _unquote(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') else name
