"""What a table already holds, for imports and copies that respect it: which keys are there
(BatchGetItem, consistent reads), items compared whatever their spelling, and an item's size as
DynamoDB counts it.

Items come in two spellings: as botocore parses them (binary as bytes) and as the wire carries
them (binary as base64 text, the scan's raw pages). `canonical` makes both the same text.
"""

from __future__ import annotations

import base64
import json
import time
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from ..catalog import get_operation
from ..errors import ServiceError
from ..execution import batch_limit, send_until_processed

if TYPE_CHECKING:
    from ..connection import Connection

MAX_ITEM_SIZE = 400 * 1024  # DynamoDB's limit on an item, names and values together


def _binary_text(value: Any) -> str:
    return value if isinstance(value, str) else base64.b64encode(value).decode("ascii")


def _number_text(text: str) -> str:
    try:
        return str(Decimal(text).normalize())
    except InvalidOperation:
        return text


def canonical_value(av: dict) -> Any:
    """A typed value in one spelling: binary as base64, numbers normalized, sets sorted."""
    ((tag, value),) = av.items()
    if tag == "N":
        return {"N": _number_text(value)}
    if tag == "B":
        return {"B": _binary_text(value)}
    if tag == "NS":
        return {"NS": sorted(_number_text(v) for v in value)}
    if tag == "BS":
        return {"BS": sorted(_binary_text(v) for v in value)}
    if tag == "SS":
        return {"SS": sorted(value)}
    if tag == "M":
        return {"M": {k: canonical_value(v) for k, v in value.items()}}
    if tag == "L":
        return {"L": [canonical_value(v) for v in value]}
    return {tag: value}


def canonical(item: dict) -> str:
    """An item (or a key) as text that is the same for the same item in either spelling."""
    return json.dumps(
        {name: canonical_value(av) for name, av in item.items()},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )


def botocore_value(av: dict) -> dict:
    """A typed value as botocore's serializer takes it: binary as the wire carries it (base64
    text, which botocore would encode again) made bytes."""
    ((tag, value),) = av.items()
    if tag == "B" and isinstance(value, str):
        return {"B": base64.b64decode(value)}
    if tag == "BS":
        return {"BS": [base64.b64decode(v) if isinstance(v, str) else v for v in value]}
    if tag == "M":
        return {"M": {k: botocore_value(v) for k, v in value.items()}}
    if tag == "L":
        return {"L": [botocore_value(v) for v in value]}
    return av


def key_of(item: dict, keys: list[str]) -> dict:
    """An item's key, as botocore's serializer takes it."""
    return {name: botocore_value(item[name]) for name in keys}


def key_text(item: dict, keys: list[str]) -> str:
    """The canonical text of an item's key."""
    return canonical(key_of(item, keys))


def found_items(
    connection: Connection,
    table: str,
    keys: list[str],
    items: list[dict],
    *,
    keys_only: bool = False,
    timeout: float = 60.0,
) -> dict[str, dict]:
    """The items of `table` with the keys of `items`, by key text (consistent reads; with
    keys_only, only their keys are read). Unprocessed keys are retried as writes are."""
    limit = batch_limit(get_operation("BatchGetItem"))
    unique = list({key_text(item, keys): key_of(item, keys) for item in items}.values())
    spec: dict[str, Any] = {"ConsistentRead": True}
    if keys_only:
        names = {f"#k{n}": name for n, name in enumerate(keys)}
        spec["ProjectionExpression"] = ", ".join(names)
        spec["ExpressionAttributeNames"] = names
    found: dict[str, dict] = {}

    def send(pending: list[dict]) -> list[dict]:
        request = {"RequestItems": {table: {**spec, "Keys": pending}}}
        response = connection.call("BatchGetItem", request)
        for item in response.get("Responses", {}).get(table, []):
            found[key_text(item, keys)] = item
        return (response.get("UnprocessedKeys") or {}).get(table, {}).get("Keys", [])

    deadline = time.monotonic() + timeout
    for start in range(0, len(unique), limit):
        left, _ = send_until_processed(send, unique[start : start + limit], deadline)
        if left:
            raise ServiceError(
                "BatchGetItem",
                "UnprocessedKeys",
                f"{len(left)} key(s) still unprocessed after retrying for {timeout:g}s",
            )
    return found


def _value_size(av: dict) -> int:
    ((tag, value),) = av.items()
    if tag == "S":
        return len(value.encode("utf-8", "surrogatepass"))
    if tag == "N":
        return _number_size(value)
    if tag == "B":
        return _binary_size(value)
    if tag in ("BOOL", "NULL"):
        return 1
    if tag == "SS":
        return sum(len(v.encode("utf-8", "surrogatepass")) for v in value)
    if tag == "NS":
        return sum(_number_size(v) for v in value)
    if tag == "BS":
        return sum(_binary_size(v) for v in value)
    if tag == "M":
        return 3 + sum(len(k.encode("utf-8")) + 1 + _value_size(v) for k, v in value.items())
    return 3 + sum(1 + _value_size(v) for v in value)  # L


def _number_size(text: str) -> int:
    """About 1 byte per two significant digits, plus 1 (DynamoDB's documented rule)."""
    digits = text.lstrip("-+").split("e")[0].split("E")[0].replace(".", "").strip("0")
    return (len(digits) + 1) // 2 + 1


def _binary_size(value: Any) -> int:
    if isinstance(value, str):  # base64 text, as the wire carries it
        return len(value) * 3 // 4 - value.count("=", -2)
    return len(value)


def item_size(item: dict) -> int:
    """An item's size as DynamoDB counts it against its 400 KB: names and values (numbers
    approximately, as DynamoDB documents them)."""
    return sum(len(name.encode("utf-8")) + _value_size(av) for name, av in item.items())
