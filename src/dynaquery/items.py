"""One item at a time, as the item editor works on it: the requests it sends, built here.

    loaded = {"pk": {"S": "a"}, "tags": {"SS": ["x", "y"]}}     # the item as it was read
    edited = edited_item("plain", '{"pk": "a", "tags": ["x", "y", "z"]}', loaded)
    operation, params = save_request("users", ["pk"], loaded, edited)

- get_request: GetItem by key, strongly consistent (the editor must see the latest image).
- save_request: UpdateItem with SET / REMOVE of the attributes that changed only, on the
  condition that the item is still the one loaded (every loaded attribute equal, every new one
  absent). An attribute that someone else adds meanwhile is left alone (it is neither set nor
  removed); one they change or remove makes the condition fail: a conflict, nothing written.
  DynamoDB takes expressions of 4 KB at most (MAX_EXPRESSION_BYTES): when the condition on the
  whole image passes that (an item of a few hundred attributes), the condition covers the
  attributes that change only, and the item's existence; a change elsewhere is then not seen.
  More changed attributes than one UpdateExpression holds are refused, naming the limit.
- create_request: PutItem on the condition that no item has that key (attribute_not_exists).
- delete_request: BatchWriteItem of DeleteRequests (execution.py splits it into calls of 25
  and retries what is left unprocessed).
- is_conflict: a write refused by its condition (ConditionalCheckFailedException).

Values keep their types. The plain view is converted back with the loaded item as the guide
(`typed_like`): a list where a string set was stays a string set, base64 text where binary was
stays binary, an unchanged value is the loaded one exactly. A value the loaded item did not have
is converted as plain values always are (values.to_typed).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .errors import InputError, Problem, ServiceError, ValidationError, join_path
from .parsing import describe_type, loads
from .values import item_to_plain, to_plain, to_typed

MAX_EXPRESSION_BYTES = 4096  # DynamoDB's limit on any expression string
CONFLICT_CODE = "ConditionalCheckFailedException"
VIEWS = ("plain", "typed", "form")
SETS = ("SS", "NS", "BS")


# -- items as the editor gives them --------------------------------------------------------


def parse_item(item: str | dict, what: str = "item") -> dict:
    """An item given as JSON text (parsed with exact numbers) or as an object."""
    value = loads(item) if isinstance(item, str) else item
    if not isinstance(value, dict):
        raise InputError(f"The {what} must be a JSON object ({{...}}), not {describe_type(value)}.")
    return value


def typed_image(item: str | dict, what: str = "item") -> dict:
    """A typed item as JSON carries it (binary in base64), with every value checked."""
    value = parse_item(item, what)
    problems: list[Problem] = []
    typed = {name: to_typed(v, join_path(what, name), problems) for name, v in value.items()}
    _raise(problems)
    return typed


def edited_item(view: str, item: str | dict, guide: dict | None = None) -> dict:
    """The item as the editor sent it, typed. `view`: "typed" (every value tagged), "plain"
    (converted with `guide`, the loaded typed item, as the guide of types), or "form" (each
    top-level value tagged, the inside of a map or list plain, guided like the plain view)."""
    if view not in VIEWS:
        raise InputError(f"Unknown view {view!r}: use {', '.join(VIEWS)}.")
    value = parse_item(item)
    guide = guide or {}
    problems: list[Problem] = []
    if view == "typed":
        typed = {n: to_typed(v, join_path("item", n), problems) for n, v in value.items()}
    elif view == "plain":
        typed = {
            n: typed_like(v, guide.get(n), join_path("item", n), problems) for n, v in value.items()
        }
    else:
        typed = {
            n: _form_value(v, guide.get(n), join_path("item", n), problems)
            for n, v in value.items()
        }
    _raise(problems)
    return typed


def _form_value(value: Any, guide: dict | None, path: str, problems: list[Problem]) -> dict:
    """A form's attribute: {tag: value}; a map's or list's inside is plain, guided."""
    if isinstance(value, dict) and len(value) == 1:
        ((tag, inner),) = value.items()
        if tag in ("M", "L") and guide and _tag(guide) == tag:
            return typed_like(inner, guide, path, problems)
        if tag in SETS and inner == []:
            problems.append(Problem(path, f"a set ({tag}) cannot be empty: remove the attribute"))
    return to_typed(value, path, problems)


def typed_like(value: Any, guide: dict | None, path: str, problems: list[Problem]) -> dict:
    """A plain value typed as `guide` (the value it replaces) was, where it still fits."""
    if guide is None:
        return to_typed(value, path, problems)
    if _same_plain(to_plain(guide), value):
        return guide  # unchanged: exactly as loaded (a number's text, a set's order)
    tag = _tag(guide)
    if tag in SETS and isinstance(value, list):
        if not value:  # DynamoDB keeps no empty set
            problems.append(Problem(path, f"a set ({tag}) cannot be empty: remove the attribute"))
            return guide
        return to_typed({tag: value}, path, problems)
    if tag == "B" and isinstance(value, str):
        return to_typed({"B": value}, path, problems)
    if tag == "M" and isinstance(value, dict):
        members = guide["M"]
        return {
            "M": {
                k: typed_like(v, members.get(k), join_path(path, k), problems)
                for k, v in value.items()
            }
        }
    if tag == "L" and isinstance(value, list):
        old = guide["L"]
        return {
            "L": [
                typed_like(v, old[i] if i < len(old) else None, f"{path}[{i}]", problems)
                for i, v in enumerate(value)
            ]
        }
    return to_typed(value, path, problems)


def _tag(av: dict) -> str:
    return next(iter(av))


def _same_plain(a: Any, b: Any) -> bool:
    """Equal plain values, true and 1 told apart (Python's == would not)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_plain(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_plain(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, Decimal)) and isinstance(b, (int, Decimal)):
        return a == b
    return type(a) is type(b) and a == b


def canonical(av: dict) -> Any:
    """A typed value as DynamoDB compares it: sets unordered, 1.50 equal to 1.5."""
    ((tag, value),) = av.items()
    if tag == "N":
        return tag, Decimal(value)
    if tag == "NS":
        return tag, frozenset(Decimal(v) for v in value)
    if tag in ("SS", "BS"):
        return tag, frozenset(value)
    if tag == "M":
        return tag, frozenset((k, canonical(v)) for k, v in value.items())
    if tag == "L":
        return tag, tuple(canonical(v) for v in value)
    return tag, value


def key_identity(key: dict) -> frozenset:
    """A typed key (or item) as a value to look up or compare: 1.0 and 1 the same number."""
    return frozenset((name, canonical(value)) for name, value in key.items())


def same_item(a: dict, b: dict) -> bool:
    """Two typed items DynamoDB would find equal."""
    return a.keys() == b.keys() and all(canonical(a[n]) == canonical(b[n]) for n in a)


def views(typed: dict | None) -> dict | None:
    """An item as the editor shows it: typed (exact) and plain."""
    if typed is None:
        return None
    return {"typed": typed, "plain": item_to_plain(typed)}


def key_of(item: dict, key_names: list[str], what: str = "item") -> dict:
    """The key attributes of a typed item; one missing is an error naming it."""
    missing = [name for name in key_names if name not in item]
    if missing:
        raise InputError(f"The {what} has no {missing[0]!r}, a key attribute of the table.")
    return {name: item[name] for name in key_names}


def _raise(problems: list[Problem]) -> None:
    if problems:
        error = ValidationError("the item", problems)
        error.message = "\n".join(["The item is not valid:"] + [f"  - {p}" for p in problems])
        raise error


# -- the requests ---------------------------------------------------------------------------


def get_request(table: str, key: dict) -> tuple[str, dict]:
    return "GetItem", {"TableName": table, "Key": key, "ConsistentRead": True}


def save_request(
    table: str, key_names: list[str], loaded: dict, edited: dict
) -> tuple[str, dict] | None:
    """UpdateItem of what changed from `loaded` to `edited` (typed items), on the condition that
    the item is still `loaded`; None when nothing changed."""
    key = key_of(loaded, key_names, "loaded item")
    if {n: canonical(v) for n, v in key_of(edited, key_names).items()} != {
        n: canonical(v) for n, v in key.items()
    }:
        raise InputError(
            "The key attributes cannot be changed (that would be another item): "
            "use Duplicate to make a copy under a new key."
        )
    changed = {
        n: v for n, v in edited.items() if n not in loaded or canonical(loaded[n]) != canonical(v)
    }
    removed = [n for n in loaded if n not in edited]
    if not changed and not removed:
        return None
    expression = Expression()
    update = expression.update(changed, removed)
    if too_long(update):
        raise InputError(
            f"{len(changed) + len(removed)} attributes change at once: more than one "
            f"UpdateExpression holds ({MAX_EXPRESSION_BYTES} bytes); save fewer changes at a time."
        )
    condition = expression.condition(loaded, changed, list(loaded))
    if too_long(condition):  # a very large item: the changed attributes only (module doc)
        expression = Expression()
        update = expression.update(changed, removed)
        touched = [n for n in [*changed, *removed] if n in loaded]
        condition = expression.condition(loaded, changed, touched, exists=key_names[0])
        if too_long(condition):
            raise InputError(
                f"{len(changed) + len(removed)} attributes change at once: their condition "
                f"passes DynamoDB's {MAX_EXPRESSION_BYTES}-byte limit; save fewer at a time."
            )
    params = {
        "TableName": table,
        "Key": key,
        "UpdateExpression": update,
        "ConditionExpression": condition,
        "ExpressionAttributeNames": expression.names,
        "ExpressionAttributeValues": expression.values,
        "ReturnValues": "ALL_NEW",
    }
    if not expression.values:
        del params["ExpressionAttributeValues"]
    return "UpdateItem", params


def too_long(expression: str) -> bool:
    return len(expression.encode("utf-8")) > MAX_EXPRESSION_BYTES


class Expression:
    """The placeholders of one request's expressions (#a0 for names, :u0 / :c0 for values)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self._by_name: dict[str, str] = {}
        self.values: dict[str, dict] = {}
        self._counts = {"u": 0, "c": 0}

    def name(self, attribute: str) -> str:
        if attribute not in self._by_name:
            placeholder = f"#a{len(self._by_name)}"
            self._by_name[attribute] = placeholder
            self.names[placeholder] = attribute
        return self._by_name[attribute]

    def value(self, prefix: str, av: dict) -> str:
        placeholder = f":{prefix}{self._counts[prefix]}"
        self._counts[prefix] += 1
        self.values[placeholder] = av
        return placeholder

    def update(self, changed: dict, removed: list[str]) -> str:
        parts = []
        if changed:
            sets = [f"{self.name(n)} = {self.value('u', v)}" for n, v in changed.items()]
            parts.append("SET " + ", ".join(sets))
        if removed:
            parts.append("REMOVE " + ", ".join(self.name(n) for n in removed))
        return " ".join(parts)

    def condition(
        self, loaded: dict, changed: dict, equal: list[str], exists: str | None = None
    ) -> str:
        """Each of `equal` as loaded, each new attribute absent, `exists` present."""
        terms = [f"attribute_exists({self.name(exists)})"] if exists else []
        terms += [f"{self.name(n)} = {self.value('c', loaded[n])}" for n in equal]
        terms += [f"attribute_not_exists({self.name(n)})" for n in changed if n not in loaded]
        return " AND ".join(terms)


def create_request(table: str, key_names: list[str], item: dict) -> tuple[str, dict]:
    """PutItem of a new item, refused (a conflict) when an item has that key already."""
    key_of(item, key_names)
    return "PutItem", {
        "TableName": table,
        "Item": item,
        "ConditionExpression": "attribute_not_exists(#k)",
        "ExpressionAttributeNames": {"#k": key_names[0]},
    }


def delete_request(table: str, key_names: list[str], keys: list[dict]) -> tuple[str, dict]:
    """BatchWriteItem deleting the items of `keys` (typed; each cut to the key attributes, a key
    given twice sent once: one call refuses duplicates)."""
    if not keys:
        raise InputError("No item to delete: give at least one key.")
    unique: dict[Any, dict] = {}
    for i, key in enumerate(keys):
        own = key_of(key, key_names, f"key [{i}]")
        unique.setdefault(key_identity(own), own)
    requests = [{"DeleteRequest": {"Key": key}} for key in unique.values()]
    return "BatchWriteItem", {"RequestItems": {table: requests}}


def is_conflict(error: Exception) -> bool:
    """Whether a write was refused by its condition: the item is not as expected."""
    return isinstance(error, ServiceError) and error.code == CONFLICT_CODE
