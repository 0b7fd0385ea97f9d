"""Advice for the mistakes people (and the documentation's own examples) make.

Two kinds, both named here and nowhere else:
- checks before sending, for mistakes the model cannot see: expression placeholders that are not
  defined or not used, and attribute definitions that are no key;
- advice added to an error DynamoDB returned, saying what to change (the table's real key, the
  reserved word to alias, the tables that do exist, what a backup ARN looks like).
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable

from .errors import Problem, join_path

_VALUE_TOKEN = re.compile(r":[A-Za-z0-9_]+")
_NAME_TOKEN = re.compile(r"#[A-Za-z0-9_]+")


# ---------------------------------------------------------------------------------------------
# before sending


def _expression_problems(scope: dict, path: str) -> list[Problem]:
    expressions = {k: v for k, v in scope.items() if k.endswith("Expression") and isinstance(v, str)}
    if not expressions:
        return []
    problems: list[Problem] = []
    for map_name, token_re in (("ExpressionAttributeValues", _VALUE_TOKEN),
                               ("ExpressionAttributeNames", _NAME_TOKEN)):
        defined = scope.get(map_name)
        defined = defined if isinstance(defined, dict) else {}
        used: set[str] = set()
        for expr_name, expression in expressions.items():
            for token in token_re.findall(expression):
                used.add(token)
                if token not in defined:
                    problems.append(Problem(
                        join_path(path, expr_name),
                        f"uses {token}, which {map_name} does not define: "
                        f"add \"{map_name}\": {{\"{token}\": ...}}"))
        for token in defined:
            if token not in used:
                problems.append(Problem(
                    join_path(path, f"{map_name}.{token}"),
                    "not used in any expression: use it or remove it"))
    return list(dict.fromkeys(problems))


def _key_schema_problems(params: dict) -> list[Problem]:
    definitions = params.get("AttributeDefinitions")
    if not isinstance(definitions, list) or not isinstance(params.get("KeySchema"), list):
        return []
    key_names: dict[str, str] = {}
    schemas = [("KeySchema", params["KeySchema"])]
    for index_kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        for i, index in enumerate(params.get(index_kind) or []):
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
            problems.append(Problem(
                f"AttributeDefinitions[{i}]",
                f"{name!r} is not a key of the table or of any index. Declare only key attributes "
                f"here (other attributes need no declaration): remove this entry"))
    for name, where in key_names.items():
        if name not in defined:
            problems.append(Problem(
                where,
                f"{name!r} is not declared in AttributeDefinitions: add "
                f"{{\"AttributeName\": \"{name}\", \"AttributeType\": \"S\"}} (S, N or B)"))
    return problems


def _scopes(value: Any, path: str = ""):
    """Every object in the parameters that holds an expression (top level, TransactItems, ...)."""
    if isinstance(value, dict):
        if any(k.endswith("Expression") for k in value):
            yield value, path
        for key, sub in value.items():
            if isinstance(sub, (dict, list)) and not key.startswith("ExpressionAttribute"):
                yield from _scopes(sub, join_path(path, key))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from _scopes(sub, f"{path}[{i}]")


RESTORE_WINDOW_DAYS = 35  # DynamoDB keeps point-in-time recovery data this long


def _restore_time_problems(params: dict) -> list[Problem]:
    when = params.get("RestoreDateTime")
    if when is None:
        return []
    import datetime

    now = datetime.datetime.now(datetime.timezone.utc)
    try:
        if isinstance(when, (int, float)) or (hasattr(when, "is_finite") and when.is_finite()):
            moment = datetime.datetime.fromtimestamp(float(when), datetime.timezone.utc)
        elif isinstance(when, str):
            moment = datetime.datetime.fromisoformat(when.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=datetime.timezone.utc)
        else:
            return []
    except (ValueError, OverflowError, OSError):
        return []
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if moment > now:
        return [Problem("RestoreDateTime", f"{stamp} is in the future")]
    if now - moment > datetime.timedelta(days=RESTORE_WINDOW_DAYS):
        return [Problem("RestoreDateTime",
                        f"{stamp} is more than {RESTORE_WINDOW_DAYS} days ago: a table can only be "
                        "restored to a time inside its restorable window (DescribeContinuousBackups "
                        "shows EarliestRestorableDateTime); give a later time, or use "
                        "\"UseLatestRestorableTime\": true instead")]
    return []


def check(params: dict) -> list[Problem]:
    """Problems the service model cannot see, found before sending."""
    problems = _key_schema_problems(params) + _restore_time_problems(params)
    for scope, path in _scopes(params):
        problems.extend(_expression_problems(scope, path))
    return problems


# ---------------------------------------------------------------------------------------------
# after an error


def _reserved_word(code: str, message: str, params: dict, describe: Callable) -> str | None:
    match = re.search(r"reserved keyword: (\w+)", message)
    if not match:
        return None
    word = match.group(1)
    alias = f"#{word}"
    hint = (f"{word!r} is a reserved word in expressions: write {alias} instead, and add "
            f"\"ExpressionAttributeNames\": {{\"{alias}\": \"{word}\"}}.")
    update = params.get("UpdateExpression")
    if isinstance(update, str):
        assignment = re.search(rf"(?i)\bset\s+{re.escape(word)}\s*=\s*([A-Za-z_][\w]*)\s*$", update)
        if assignment:
            value = assignment.group(1)
            fixed = {
                "UpdateExpression": f"SET {alias} = :{word}",
                "ExpressionAttributeNames": {alias: word},
                "ExpressionAttributeValues": {f":{word}": value},
            }
            hint += (f" A value such as {value} goes in through a placeholder too; to set {word} "
                     f"to {value!r}, write: {json.dumps(fixed)[1:-1]}")
    return hint


def _key_mismatch(code: str, message: str, params: dict, describe: Callable) -> str | None:
    if ("key element does not match the schema" not in message
            and "required keys was not given a value" not in message):
        return None
    table = params.get("TableName")
    key = params.get("Key")
    if not isinstance(table, str):
        return None
    schema = describe(table)
    if schema is None:
        return None
    attributes, types = schema
    wanted = ", ".join(f"{name} ({kind}, {types.get(name, '?')})" for name, kind in attributes)
    given = ", ".join(key) if isinstance(key, dict) else "none"
    return f"The key of table {table!r} is {wanted}; the Key given has {given}."


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
    return ("This endpoint does not implement the operation. Local engines (DynamoDB Local, moto) "
            "cover only part of the API; against AWS DynamoDB this request is valid as written.")


def _backup_arn(code: str, message: str, params: dict, describe: Callable) -> str | None:
    arn = params.get("BackupArn")
    if not isinstance(arn, str) or "/backup/" in arn:
        return None
    return (f"{arn!r} is not a backup's ARN (that of a table, or something else). A backup ARN "
            "looks like arn:aws:dynamodb:REGION:ACCOUNT:table/TABLE/backup/ID: ListBackups lists them.")


def _restore_time(code: str, message: str, params: dict, describe: Callable) -> str | None:
    if "RestoreDateTime" not in params and code != "PointInTimeRecoveryUnavailableException":
        return None
    return ("A point-in-time restore needs point-in-time recovery enabled on the source table "
            "(UpdateContinuousBackups) and a RestoreDateTime inside its restorable window "
            "(DescribeContinuousBackups shows EarliestRestorableDateTime and "
            "LatestRestorableDateTime), or \"UseLatestRestorableTime\": true.")


def _credentials(code: str, message: str, params: dict, describe: Callable) -> str | None:
    if code in ("UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException",
                "SignatureDoesNotMatch", "IncompleteSignature", "MissingAuthenticationToken"):
        return ("The access key id or the secret access key is wrong, or the key was deactivated: "
                "check both, and the session token if the keys are temporary.")
    if code in ("ExpiredTokenException", "ExpiredToken"):
        return "The temporary credentials have expired: get new ones (or a new session token)."
    if code in ("AccessDeniedException", "AccessDenied"):
        action = re.search(r"perform: ([\w:]+)", message)
        what = action.group(1) if action else "this action"
        return f"The credentials are valid, but their IAM policy does not allow {what}."
    return None


ADVISORS = [_unimplemented, _credentials, _reserved_word, _key_mismatch, _missing_table, _backup_arn, _restore_time]


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
