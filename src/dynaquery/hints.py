"""Advice for the mistakes people (and the documentation's own examples) make.

Two kinds, both named here and nowhere else:
- checks before sending, for mistakes the model cannot see: expression placeholders that are not
  defined or not used, reserved words used as attribute names in expressions, and attribute
  definitions that are no key;
- advice added to an error DynamoDB returned, saying what to change (the table's real key and
  what the key given lacks or mistypes, the reserved word to alias, the tables that do exist, what
  a backup ARN looks like).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from typing import Any

from .errors import Problem, join_path
from .values import ATTRIBUTE_VALUE_SHAPE, TYPE_TAGS

_VALUE_TOKEN = re.compile(r":[A-Za-z0-9_]+")
_NAME_TOKEN = re.compile(r"#[A-Za-z0-9_]+")

# ---------------------------------------------------------------------------------------------
# before sending

# The expression grammar's own words are no attribute names: a name followed by "(" is a function
# (attribute_exists, begins_with, size, if_not_exists, list_append...; DynamoDB checks which), and
# the keywords are read as syntax wherever they stand.
KEYWORDS = frozenset({"and", "or", "not", "between", "in", "set", "remove", "add", "delete"})
# On the published list, but DynamoDB's parser takes them as attribute names (DynamoDB Local
# executes "SET size = :v" and "ProjectionExpression": "convert"): refusing them would block
# requests that work.
ACCEPTED_ANYWAY = frozenset({"size", "convert"})
# Placeholders first, so the names inside #n and :v are never read as attribute names.
_EXPRESSION_TOKEN = re.compile(r"[#:][A-Za-z0-9_]+|([A-Za-z_][A-Za-z0-9_]*)(\s*\()?")


@lru_cache(maxsize=1)
def reserved_words() -> frozenset[str]:
    """DynamoDB's reserved words, lower case (from reserved_words.json, which names its source)."""
    from importlib import resources

    text = resources.files(__package__).joinpath("reserved_words.json").read_text("utf-8")
    return frozenset(word.lower() for word in json.loads(text)["words"])


def reserved_in(expression: str) -> list[str]:
    """The reserved words an expression uses as attribute names (path elements), in order."""
    words = reserved_words()
    found: list[str] = []
    for match in _EXPRESSION_TOKEN.finditer(expression):
        word, call = match.group(1), match.group(2)
        if word is None or call:  # a placeholder, or a function call (DynamoDB checks its name)
            continue
        lowered = word.lower()
        if lowered in words and lowered not in KEYWORDS and lowered not in ACCEPTED_ANYWAY:
            if word not in found:
                found.append(word)
    return found


def _alias_for(word: str, names: Any) -> tuple[str, bool]:
    """The #alias to write for `word`: one ExpressionAttributeNames already maps to it, else a
    new one (True when it still has to be added)."""
    names = names if isinstance(names, dict) else {}
    for alias, name in names.items():
        if name == word and _NAME_TOKEN.fullmatch(str(alias)):
            return alias, False
    alias, n = f"#{word}", 1
    while alias in names:
        n += 1
        alias = f"#{word}{n}"
    return alias, True


def reserved_word_advice(word: str, scope: dict) -> str:
    """How to write `word` in the expressions of `scope` (the object holding them)."""
    alias, new = _alias_for(word, scope.get("ExpressionAttributeNames"))
    if not new:
        return f"write {alias} instead (ExpressionAttributeNames already maps it to {word!r})."
    advice = f'write {alias} instead, and add "ExpressionAttributeNames": {{"{alias}": "{word}"}}.'
    update = scope.get("UpdateExpression")
    if isinstance(update, str):
        # "SET name = Amal": a bare word after = is read as another attribute, not as text.
        assignment = re.fullmatch(
            rf"(?is)\s*set\s+{re.escape(word)}\s*=\s*([A-Za-z_]\w*)\s*", update
        )
        if assignment:
            value = assignment.group(1)
            fixed = {
                "UpdateExpression": f"SET {alias} = :{word}",
                "ExpressionAttributeNames": {alias: word},
                "ExpressionAttributeValues": {f":{word}": value},
            }
            advice += (
                f" A value such as {value} goes in through a placeholder too (written bare, "
                f"{value} names another attribute); to set {word} to {value!r}, write: "
                f"{json.dumps(fixed)[1:-1]}"
            )
    return advice


def _reserved_word_problems(scope: dict, path: str, members) -> list[Problem]:
    problems = []
    for member in members:
        expression = scope.get(member)
        if not isinstance(expression, str):
            continue
        for word in reserved_in(expression):
            problems.append(
                Problem(
                    join_path(path, member),
                    f"{word!r} is a reserved word in DynamoDB expressions: "
                    + reserved_word_advice(word, scope),
                )
            )
    return problems


def _expression_problems(scope: dict, path: str, members) -> list[Problem]:
    expressions = {k: scope[k] for k in members if isinstance(scope.get(k), str)}
    if not expressions:
        return []
    problems: list[Problem] = []
    for map_name, token_re in (
        ("ExpressionAttributeValues", _VALUE_TOKEN),
        ("ExpressionAttributeNames", _NAME_TOKEN),
    ):
        defined = scope.get(map_name)
        defined = defined if isinstance(defined, dict) else {}
        used: set[str] = set()
        for expr_name, expression in expressions.items():
            for token in token_re.findall(expression):
                used.add(token)
                if token not in defined:
                    problems.append(
                        Problem(
                            join_path(path, expr_name),
                            f"uses {token}, which {map_name} does not define: "
                            f'add "{map_name}": {{"{token}": ...}}',
                        )
                    )
        for token in defined:
            if token not in used:
                problems.append(
                    Problem(
                        join_path(path, f"{map_name}.{token}"),
                        "not used in any expression: use it or remove it",
                    )
                )
    return list(dict.fromkeys(problems))


def _key_schema_problems(params: dict) -> list[Problem]:
    definitions = params.get("AttributeDefinitions")
    if not isinstance(definitions, list) or not isinstance(params.get("KeySchema"), list):
        return []
    key_names: dict[str, str] = {}
    schemas = [("KeySchema", params["KeySchema"])]
    for index_kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        indexes = params.get(index_kind)
        for i, index in enumerate(indexes if isinstance(indexes, list) else []):
            if isinstance(index, dict) and isinstance(index.get("KeySchema"), list):
                schemas.append((f"{index_kind}[{i}].KeySchema", index["KeySchema"]))
    for schema_path, schema in schemas:
        for j, element in enumerate(schema):
            if isinstance(element, dict) and isinstance(element.get("AttributeName"), str):
                key_names.setdefault(element["AttributeName"], f"{schema_path}[{j}].AttributeName")
    defined = {}
    problems = []
    for i, definition in enumerate(definitions):
        name = definition.get("AttributeName") if isinstance(definition, dict) else None
        if not isinstance(name, str):
            continue
        defined[name] = i
        if name not in key_names:
            problems.append(
                Problem(
                    f"AttributeDefinitions[{i}]",
                    f"{name!r} is not a key of the table or of any index. Declare only key attributes "
                    f"here (other attributes need no declaration): remove this entry",
                )
            )
    for name, where in key_names.items():
        if name not in defined:
            problems.append(
                Problem(
                    where,
                    f"{name!r} is not declared in AttributeDefinitions: add "
                    f'{{"AttributeName": "{name}", "AttributeType": "S"}} (S, N or B)',
                )
            )
    return problems


def _expression_members(shape) -> tuple[str, ...]:
    """The expression parameters of a structure: those the model names *Expression beside an
    ExpressionAttributeNames (KeyCondition, Filter, Projection, Update, Condition...)."""
    if shape.type_name != "structure" or "ExpressionAttributeNames" not in shape.members:
        return ()
    return tuple(
        m
        for m, sub in shape.members.items()
        if m.endswith("Expression") and sub.type_name == "string"
    )


def _scopes(value: Any, shape, path: str = ""):
    """Every object in the parameters that holds expressions (top level, TransactItems,
    RequestItems, ...), with its expression members: found by following the model's shapes, so
    an item's own attributes are never taken for parameters."""
    if shape is None or shape.name == ATTRIBUTE_VALUE_SHAPE:
        return
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = _expression_members(shape)
        if members and any(m in value for m in members):
            yield value, path, members
        for key, sub in value.items():
            if key in shape.members and isinstance(sub, (dict, list)):
                yield from _scopes(sub, shape.members[key], join_path(path, key))
    elif kind == "list" and isinstance(value, list):
        for i, sub in enumerate(value):
            yield from _scopes(sub, shape.member, f"{path}[{i}]")
    elif kind == "map" and isinstance(value, dict):
        for key, sub in value.items():
            yield from _scopes(sub, shape.value, join_path(path, str(key)))


RESTORE_WINDOW_DAYS = 35  # DynamoDB keeps point-in-time recovery data this long


def _restore_time_problems(params: dict) -> list[Problem]:
    when = params.get("RestoreDateTime")
    if when is None:
        return []
    import datetime

    now = datetime.datetime.now(datetime.UTC)
    try:
        if isinstance(when, (int, float)) or (hasattr(when, "is_finite") and when.is_finite()):
            moment = datetime.datetime.fromtimestamp(float(when), datetime.UTC)
        elif isinstance(when, str):
            moment = datetime.datetime.fromisoformat(when.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=datetime.UTC)
        else:
            return []
    except (ValueError, OverflowError, OSError):
        return []
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if moment > now:
        return [Problem("RestoreDateTime", f"{stamp} is in the future")]
    if now - moment > datetime.timedelta(days=RESTORE_WINDOW_DAYS):
        return [
            Problem(
                "RestoreDateTime",
                f"{stamp} is more than {RESTORE_WINDOW_DAYS} days ago: a table can only be "
                "restored to a time inside its restorable window (DescribeContinuousBackups "
                "shows EarliestRestorableDateTime); give a later time, or use "
                '"UseLatestRestorableTime": true instead',
            )
        ]
    return []


def check(params: dict, shape=None) -> list[Problem]:
    """Problems the service model cannot see, found before sending. `shape` is the operation's
    input shape: it says where expressions are."""
    problems = _key_schema_problems(params) + _restore_time_problems(params)
    for scope, path, members in _scopes(params, shape):
        problems.extend(_expression_problems(scope, path, members))
        problems.extend(_reserved_word_problems(scope, path, members))
    return problems


# ---------------------------------------------------------------------------------------------
# after an error


def _reserved_word(code: str, message: str, params: dict, describe: Callable) -> str | None:
    match = re.search(r"reserved keyword: (\w+)", message)
    if not match:
        return None
    word = match.group(1)
    return f"{word!r} is a reserved word in expressions: " + reserved_word_advice(word, params)


# DynamoDB's answers to a key that does not fit the table: a wrong name, a missing part, an
# extra attribute, a value of the wrong type.
_KEY_ERRORS = (
    "key element does not match the schema",
    "required keys was not given a value",
    "number of conditions on the keys is invalid",
    "type mismatch for key",
)
_TYPE_NAMES = {
    "S": "a string",
    "N": "a number",
    "B": "binary",
    "BOOL": "true or false",
    "NULL": "null",
    "M": "a map",
    "L": "a list",
    "SS": "a string set",
    "NS": "a number set",
    "BS": "a binary set",
}


def _value_type(value: Any) -> str | None:
    """The AttributeValue type of a value, typed ({"N": "1"}) or plain (1)."""
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in TYPE_TAGS:
        return next(iter(value))
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, str):
        return "S"
    if isinstance(value, (int, float, Decimal)):
        return "N"
    if isinstance(value, (bytes, bytearray)):
        return "B"
    if value is None:
        return "NULL"
    return "M" if isinstance(value, dict) else "L" if isinstance(value, list) else None


def _keys_given(params: dict) -> list[tuple[str, str, dict, bool]]:
    """(table, where, key or item, whether an item) for every key the parameters give: Key and
    Item beside a TableName, in TransactItems, in RequestItems (batches). A batch may have been
    split before sending, so its keys are named by table, not by position."""
    found: list[tuple[str, str, dict, bool]] = []

    def beside_table(scope: Any, path: str) -> None:
        if isinstance(scope, dict) and isinstance(scope.get("TableName"), str):
            for member, is_item in (("Key", False), ("Item", True)):
                if isinstance(scope.get(member), dict):
                    found.append(
                        (scope["TableName"], join_path(path, member), scope[member], is_item)
                    )

    beside_table(params, "")
    transact = params.get("TransactItems")
    for i, entry in enumerate(transact if isinstance(transact, list) else []):
        if isinstance(entry, dict):
            for kind, inner in entry.items():
                beside_table(inner, f"TransactItems[{i}].{kind}")
    requests = params.get("RequestItems")
    for table, request in requests.items() if isinstance(requests, dict) else []:
        where = join_path("RequestItems", str(table))
        if isinstance(request, dict) and isinstance(request.get("Keys"), list):
            found.extend(
                (table, f"a key in {where}.Keys", key, False)
                for key in request["Keys"]
                if isinstance(key, dict)
            )
        for write in request if isinstance(request, list) else []:
            put = write.get("PutRequest") if isinstance(write, dict) else None
            delete = write.get("DeleteRequest") if isinstance(write, dict) else None
            if isinstance(put, dict) and isinstance(put.get("Item"), dict):
                found.append((table, f"an item in {where} (PutRequest)", put["Item"], True))
            if isinstance(delete, dict) and isinstance(delete.get("Key"), dict):
                found.append((table, f"a key in {where} (DeleteRequest)", delete["Key"], False))
    return found


def _key_faults(given: dict, attributes: list, types: dict, is_item: bool) -> list[str]:
    """What is missing, mistyped or extra in a key (or in an item's key attributes)."""
    missing, mistyped = [], []
    key_names = [name for name, _ in attributes]
    for name, kind in attributes:
        wanted = types.get(name)
        if name not in given:
            missing.append(f"{name} (the {kind} key, {_TYPE_NAMES.get(wanted, wanted)})")
            continue
        actual = _value_type(given[name])
        if wanted and actual and actual != wanted:
            mistyped.append(
                f"{name} is {_TYPE_NAMES.get(actual, actual)} ({actual}), the "
                f"table's {name} is {_TYPE_NAMES.get(wanted, wanted)} ({wanted})"
            )
    extra = [] if is_item else [name for name in given if name not in key_names]
    faults = []
    if missing:
        faults.append("Missing: " + ", ".join(missing) + ".")
    if mistyped:
        faults.append("Wrong type: " + "; ".join(mistyped) + ".")
    if extra:
        faults.append(
            f"Not part of the key: {', '.join(extra)} (a key names exactly "
            f"{' and '.join(key_names)}, nothing else)."
        )
    return faults


def _key_mismatch(code: str, message: str, params: dict, describe: Callable) -> str | None:
    if not any(text in message.lower() for text in _KEY_ERRORS):
        return None
    schemas: dict[str, Any] = {}
    fallback = None
    for table, where, given, is_item in _keys_given(params):
        if table not in schemas:
            schemas[table] = describe(table)
        if schemas[table] is None:
            continue
        attributes, types = schemas[table]
        wanted = ", ".join(f"{name} ({kind}, {types.get(name, '?')})" for name, kind in attributes)
        subject = f"the {where} given" if where in ("Key", "Item") else where
        # An item's other attributes are not the point: name only the key attributes it has.
        names = [n for n in given if not is_item or n in dict(attributes)]
        has = ", ".join(names) or "no key attribute"
        hint = f"The key of table {table!r} is {wanted}; {subject} has {has}."
        faults = _key_faults(given, attributes, types, is_item)
        if faults:
            return " ".join([hint, *faults])
        fallback = fallback or hint  # nothing found wrong here: still say what the key is
    return fallback


_KEY_COMPARISON = re.compile(
    r"(#?[A-Za-z0-9_]+)\s*(?:=|<=|>=|<|>|(?i:between))\s*(:[A-Za-z0-9_]+)"
    r"(?:\s+(?i:and)\s+(:[A-Za-z0-9_]+))?"
    r"|(?i:begins_with)\s*\(\s*(#?[A-Za-z0-9_]+)\s*,\s*(:[A-Za-z0-9_]+)\s*\)"
)


def _key_condition_types(code: str, message: str, params: dict, describe: Callable) -> str | None:
    """Query's "Condition parameter type does not match schema type": which value, which key."""
    if "condition parameter type does not match schema type" not in message.lower():
        return None
    table, condition = params.get("TableName"), params.get("KeyConditionExpression")
    if not isinstance(table, str) or not isinstance(condition, str):
        return None
    schema = describe(table)
    if schema is None:
        return None
    attributes, types = schema
    names = params.get("ExpressionAttributeNames") or {}
    values = params.get("ExpressionAttributeValues") or {}
    faults = []
    for match in _KEY_COMPARISON.finditer(condition):
        operand = match.group(1) or match.group(4)
        attribute = names.get(operand, operand) if operand.startswith("#") else operand
        wanted = types.get(attribute)
        for token in filter(None, (match.group(2), match.group(3), match.group(5))):
            actual = _value_type(values.get(token)) if token in values else None
            if wanted and actual and actual != wanted:
                faults.append(
                    f"{token} is {_TYPE_NAMES.get(actual, actual)} ({actual}), but "
                    f"{attribute} is {_TYPE_NAMES.get(wanted, wanted)} ({wanted})"
                )
    wanted_key = ", ".join(f"{name} ({kind}, {types.get(name, '?')})" for name, kind in attributes)
    hint = f"The key of table {table!r} is {wanted_key}."
    if faults:
        hint += " Wrong type in KeyConditionExpression: " + "; ".join(faults) + "."
    return hint


def _table_names(value: Any) -> list[str]:
    """Every table name the parameters mention, at any depth (TransactItems, RequestItems...)."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, sub in value.items():
            if key.endswith("TableName") and isinstance(sub, str):
                found.append(sub)
            elif key == "RequestItems" and isinstance(sub, dict):
                found.extend(sub)
            else:
                found.extend(_table_names(sub))
    elif isinstance(value, list):
        for sub in value:
            found.extend(_table_names(sub))
    return list(dict.fromkeys(found))


def _missing_table(code: str, message: str, params: dict, describe: Callable) -> str | None:
    if code not in ("ResourceNotFoundException", "TableNotFoundException"):
        return None
    names = _table_names(params)
    if not names:
        return None
    existing = describe(None)
    if existing is not None:
        names = [n for n in names if n not in existing] or names
    hint = "Check the table name" + ("s " if len(names) > 1 else " ") + ", ".join(map(repr, names))
    if "string" in names:
        hint += " ('string' is the API reference's placeholder, not a table)"
    if existing:
        hint += "; the tables here are: " + ", ".join(existing[:20])
    elif existing is not None:
        hint += "; there are no tables here yet"
    return hint + "."


def _unimplemented(code: str, message: str, params: dict, describe: Callable) -> str | None:
    if code != "UnknownOperationException" and not (code.isdigit() and int(code) >= 500):
        return None
    return (
        "This endpoint does not implement the operation. Local engines (DynamoDB Local, moto) "
        "cover only part of the API; against AWS DynamoDB this request is valid as written."
    )


def _backup_arn(code: str, message: str, params: dict, describe: Callable) -> str | None:
    arn = params.get("BackupArn")
    if not isinstance(arn, str) or "/backup/" in arn:
        return None
    return (
        f"{arn!r} is not a backup's ARN (that of a table, or something else). A backup ARN "
        "looks like arn:aws:dynamodb:REGION:ACCOUNT:table/TABLE/backup/ID: ListBackups lists them."
    )


def _restore_time(code: str, message: str, params: dict, describe: Callable) -> str | None:
    if "RestoreDateTime" not in params and code != "PointInTimeRecoveryUnavailableException":
        return None
    return (
        "A point-in-time restore needs point-in-time recovery enabled on the source table "
        "(UpdateContinuousBackups) and a RestoreDateTime inside its restorable window "
        "(DescribeContinuousBackups shows EarliestRestorableDateTime and "
        'LatestRestorableDateTime), or "UseLatestRestorableTime": true.'
    )


def _credentials(code: str, message: str, params: dict, describe: Callable) -> str | None:
    if code in (
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "MissingAuthenticationToken",
    ):
        return (
            "The access key id or the secret access key is wrong, or the key was deactivated: "
            "check both, and the session token if the keys are temporary."
        )
    if code in ("ExpiredTokenException", "ExpiredToken"):
        return "The temporary credentials have expired: get new ones (or a new session token)."
    if code in ("AccessDeniedException", "AccessDenied"):
        action = re.search(r"perform: ([\w:]+)", message)
        what = action.group(1) if action else "this action"
        return f"The credentials are valid, but their IAM policy does not allow {what}."
    return None


ADVISORS = [
    _unimplemented,
    _credentials,
    _reserved_word,
    _key_mismatch,
    _key_condition_types,
    _missing_table,
    _backup_arn,
    _restore_time,
]


def advise(code: str, message: str, params: dict, describe: Callable) -> str | None:
    """Advice for an error DynamoDB returned, or None.

    `describe(table)` returns (key attributes [(name, HASH|RANGE)], {name: type}) for a table, or
    with None the list of table names; it returns None when it cannot tell.
    """
    for advisor in ADVISORS:
        try:
            hint = advisor(code, message, params, describe)
        except Exception:  # advice is best effort; the error itself is what matters
            hint = None
        if hint:
            return hint
    return None
