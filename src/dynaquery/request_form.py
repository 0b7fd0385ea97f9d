"""The Query and Scan form: a form's description and a table's (tables.describe_table) made into
the parameters of a Query or a Scan, every attribute name and value behind a #name or :value
alias, so that reserved words (`status`, `name`, `level`...) never break the request.

The form, as a dict (the API's RequestFormIn):

    operation        "Query" or "Scan"
    index            an index of the table, or None for the table itself
    partition_key    the partition key's value (Query), typed from the schema (S, N or B)
    sort_key         {"operator": "=|<|<=|>|>=|BETWEEN|begins_with", "values": [...]} (Query)
    filters          [{"attribute", "operator", "values", "type", "comparison"}], joined by AND;
                     `type` types the values (S, N, B, BOOL, NULL); `comparison` goes with `size`
    projection       attribute names to read (a list, or one text of names and commas)
    descending       newest sort keys first (Query)
    limit            items read per page
    consistent_read  on the table or a local index, never a global one

Attribute names are taken whole (`a.b` is the attribute named "a.b", not a path). Values are
typed by values.py; each problem names the form's field it comes from.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import Problem, ValidationError
from .results import to_json
from .values import TYPE_TAGS, to_plain, to_typed

OPERATIONS = ("Query", "Scan")
COMPARISONS = ("=", "<>", "<", "<=", ">", ">=")
SORT_KEY_OPERATORS = ("=", "<", "<=", ">", ">=", "BETWEEN", "begins_with")
FILTER_OPERATORS = (
    *COMPARISONS,
    "BETWEEN",
    "IN",
    "begins_with",
    "contains",
    "attribute_exists",
    "attribute_not_exists",
    "attribute_type",
    "size",
)
SIZE_COMPARISONS = (*COMPARISONS, "BETWEEN")
VALUE_TYPES = ("S", "N", "B", "BOOL", "NULL")
IN_LIMIT = 100  # DynamoDB's most values in one IN


# How many values each operator takes ("many": IN's 1 to IN_LIMIT); with `size`, its comparison's.
ARITY = {
    **{op: "1" for op in (*FILTER_OPERATORS, *SORT_KEY_OPERATORS)},
    "BETWEEN": "2",
    "IN": "many",
    "attribute_exists": "0",
    "attribute_not_exists": "0",
}


def form_choices() -> dict:
    """What the form offers: the operators, how many values each takes, the values' types and
    the type names of attribute_type."""
    return {
        "operations": list(OPERATIONS),
        "sort_key_operators": list(SORT_KEY_OPERATORS),
        "filter_operators": list(FILTER_OPERATORS),
        "size_comparisons": list(SIZE_COMPARISONS),
        "value_types": list(VALUE_TYPES),
        "type_names": sorted(TYPE_TAGS),
        "arity": ARITY,
    }


class _Aliases:
    """The #name and :value placeholders of one request, each made once, readable, unique."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}  # alias -> attribute name
        self.values: dict[str, Any] = {}  # alias -> value (plain, or typed when binary)
        self._of_name: dict[str, str] = {}

    def name(self, attribute: str) -> str:
        if attribute not in self._of_name:
            alias = _unique("#" + _token(attribute), self.names)
            self.names[alias] = attribute
            self._of_name[attribute] = alias
        return self._of_name[attribute]

    def value(self, hint: str, value: Any) -> str:
        alias = _unique(":" + _token(hint), self.values)
        self.values[alias] = value
        return alias


def _token(name: str) -> str:
    """A name as a placeholder may spell it: letters, digits and underscores."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name) or "attr"


def _unique(alias: str, taken: dict) -> str:
    candidate, n = alias, 1
    while candidate in taken:
        n += 1
        candidate = f"{alias}_{n}"
    return candidate


def build_request(form: dict, table: dict) -> dict:
    """The Query or Scan parameters the form describes, on `table` (tables.describe_table's
    answer). Raises ValidationError naming each field that is wrong."""
    operation = form.get("operation")
    if operation not in OPERATIONS:
        raise ValidationError(
            str(operation), [Problem("operation", "the form builds a Query or a Scan")]
        )
    problems: list[Problem] = []
    aliases = _Aliases()
    index = _index(form.get("index"), table, problems)
    params: dict[str, Any] = {"TableName": table["name"]}
    if index:
        params["IndexName"] = index["name"]
    keys = index or table
    if operation == "Query":
        params["KeyConditionExpression"] = _key_condition(form, keys, aliases, problems)
    else:
        _no_keys_on_scan(form, problems)
    key_names = {k["name"] for k in (keys["partition_key"], keys["sort_key"]) if k}
    query_keys = key_names if operation == "Query" else set()
    filters = _filters(form.get("filters") or [], query_keys, aliases, problems)
    if filters:
        params["FilterExpression"] = filters
    projection = _projection(form.get("projection") or [], aliases, problems)
    if projection:
        params["ProjectionExpression"] = projection
    if aliases.names:
        params["ExpressionAttributeNames"] = aliases.names
    if aliases.values:
        params["ExpressionAttributeValues"] = aliases.values
    params.update(_options(form, operation, index, problems))
    if problems:
        raise ValidationError(operation, problems)
    return params


def request_text(params: dict) -> str:
    """The parameters as the editor shows them."""
    return to_json(params) + "\n"


def _index(name: str | None, table: dict, problems: list[Problem]) -> dict | None:
    if not name:
        return None
    for index in table.get("indexes", []):
        if index["name"] == name:
            return index
    known = ", ".join(i["name"] for i in table.get("indexes", [])) or "none"
    problems.append(
        Problem("index", f"{table['name']} has no index {name!r} (its indexes: {known})")
    )
    return None


def _key_condition(form: dict, keys: dict, aliases: _Aliases, problems: list[Problem]) -> str:
    """`#pk = :pk`, and the sort key's condition when the form has one."""
    pk = keys["partition_key"]
    raw = form.get("partition_key")
    if raw is None or raw == "":
        problems.append(
            Problem("partition_key", f"a Query needs the value of the partition key {pk['name']}")
        )
        typed = None
    else:
        typed = _typed(raw, pk["type"], "partition_key", problems)
    condition = f"{aliases.name(pk['name'])} = {aliases.value(pk['name'], typed)}"
    sort = form.get("sort_key")
    if not sort or not sort.get("operator"):
        return condition
    sk = keys.get("sort_key")
    if not sk:
        where = f"the index {keys['name']}" if "kind" in keys else f"the table {keys['name']}"
        problems.append(Problem("sort_key", f"{where} has no sort key: leave its condition out"))
        return condition
    return f"{condition} AND {_sort_condition(sort, sk, aliases, problems)}"


def _sort_condition(sort: dict, key: dict, aliases: _Aliases, problems: list[Problem]) -> str:
    operator = sort["operator"]
    if operator not in SORT_KEY_OPERATORS:
        choices = ", ".join(SORT_KEY_OPERATORS)
        problems.append(Problem("sort_key.operator", f"{operator!r} is not one of {choices}"))
        return ""
    if operator == "begins_with" and key["type"] == "N":
        problems.append(
            Problem(
                "sort_key.operator",
                f"begins_with works on strings and binary; the sort key {key['name']} is a number",
            )
        )
    given = sort.get("values") or []
    empty = [i for i, v in enumerate(given) if v is None or v == ""]
    for i in empty:  # DynamoDB refuses an empty key value
        problems.append(Problem(f"sort_key.values[{i}]", f"give a value of {key['name']}"))
    if empty:
        return ""
    values = _values(given, key["type"], operator, "sort_key", key, aliases, problems)
    return _condition(aliases.name(key["name"]), operator, values)


def _no_keys_on_scan(form: dict, problems: list[Problem]) -> None:
    given = form.get("partition_key") not in (None, "")
    if given or (form.get("sort_key") or {}).get("operator"):
        field = "partition_key" if given else "sort_key"
        problems.append(
            Problem(field, "a Scan reads every item: key conditions belong to a Query (or filter)")
        )


def _filters(rows: list[dict], keys: set[str], aliases: _Aliases, problems: list[Problem]) -> str:
    conditions = []
    for i, row in enumerate(rows):
        where = f"filters[{i}]"
        attribute = row.get("attribute") or ""
        if not attribute:
            problems.append(Problem(f"{where}.attribute", "name the attribute to filter on"))
            continue
        if attribute in keys:
            problems.append(
                Problem(
                    f"{where}.attribute",
                    f"{attribute} is a key of this Query: put it in the key condition, "
                    "a Query cannot filter on its keys",
                )
            )
            continue
        condition = _filter(row, where, aliases, problems)
        if condition:
            conditions.append(condition)
    return " AND ".join(conditions)


def _filter(row: dict, where: str, aliases: _Aliases, problems: list[Problem]) -> str | None:
    operator, attribute = row.get("operator"), row["attribute"]
    if operator not in FILTER_OPERATORS:
        choices = ", ".join(FILTER_OPERATORS)
        problems.append(Problem(f"{where}.operator", f"{operator!r} is not one of {choices}"))
        return None
    name = aliases.name(attribute)
    key = {"name": attribute}
    raw = row.get("values")
    if operator in ("attribute_exists", "attribute_not_exists"):
        return f"{operator}({name})"
    if operator == "attribute_type":
        values = _values(raw, "S", "=", where, key, aliases, problems, tags=True)
        return f"attribute_type({name}, {values[0]})" if values else None
    if operator == "size":
        comparison = row.get("comparison")
        if comparison not in SIZE_COMPARISONS:
            choices = ", ".join(SIZE_COMPARISONS)
            problems.append(Problem(f"{where}.comparison", f"size needs a comparison: {choices}"))
            return None
        values = _values(raw, "N", comparison, where, key, aliases, problems)
        return _condition(f"size({name})", comparison, values)
    kind = row.get("type") or "S"
    if kind not in VALUE_TYPES:
        choices = ", ".join(VALUE_TYPES)
        problems.append(Problem(f"{where}.type", f"{kind!r} is not one of {choices}"))
        return None
    return _condition(name, operator, _values(raw, kind, operator, where, key, aliases, problems))


def _condition(name: str, operator: str, values: list[str]) -> str:
    if not values:
        return ""
    if operator == "BETWEEN":
        return f"{name} BETWEEN {values[0]} AND {values[1]}"
    if operator == "IN":
        return f"{name} IN ({', '.join(values)})"
    if operator in ("begins_with", "contains"):
        return f"{operator}({name}, {values[0]})"
    return f"{name} {operator} {values[0]}"


def _values(
    raw: Any,
    kind: str,
    operator: str,
    where: str,
    key: dict,
    aliases: _Aliases,
    problems: list[Problem],
    tags: bool = False,
) -> list[str]:
    """The operator's values, typed as `kind`, each behind its :alias ([] when wrong)."""
    values = list(raw) if isinstance(raw, (list, tuple)) else ([] if raw is None else [raw])
    wanted = _how_many(operator, len(values))
    if wanted:
        problems.append(Problem(f"{where}.values", f"{operator} needs {wanted}, got {len(values)}"))
        return []
    if tags and values[0] not in TYPE_TAGS:
        got, choices = values[0], ", ".join(sorted(TYPE_TAGS))
        problems.append(Problem(f"{where}.values", f"{got!r} is not a type: {choices}"))
        return []
    before = len(problems)
    typed = [_typed(v, kind, f"{where}.values[{i}]", problems) for i, v in enumerate(values)]
    if len(problems) > before:
        return []
    hints = _value_hints(key["name"], operator, len(typed))
    return [aliases.value(hint, value) for hint, value in zip(hints, typed)]


def _how_many(operator: str, count: int) -> str | None:
    """What is wrong with giving `count` values to `operator` (None: nothing)."""
    arity = ARITY[operator]
    if arity == "2":
        return None if count == 2 else "two values (low and high)"
    if arity == "many":
        return None if 1 <= count <= IN_LIMIT else f"from 1 to {IN_LIMIT} values"
    return None if count == 1 else "one value"


def _value_hints(name: str, operator: str, count: int) -> list[str]:
    if operator == "BETWEEN":
        return [f"{name}_low", f"{name}_high"]
    return [name] * count


def _typed(raw: Any, kind: str, where: str, problems: list[Problem]) -> Any:
    """A form's value (text mostly) typed as `kind` by values.py."""
    if kind == "NULL":
        raw = True
    elif kind == "BOOL" and isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        raw = raw.strip().lower() == "true"
    elif kind == "S" and isinstance(raw, (int, float)) and not isinstance(raw, bool):
        raw = str(raw)  # a key typed S whose value was given as a number
    found: list[Problem] = []
    typed = to_typed({kind: raw}, "", found)
    # "…: 'x' is not a number" is about the field, not the type tag values.py adds
    problems.extend(Problem(where, p.message) for p in found)
    # plain where plain says the same (42, "x", true, null), typed where it cannot (binary)
    return typed if found or kind == "B" else to_plain(typed)


def _projection(names: list[str] | str, aliases: _Aliases, problems: list[Problem]) -> str:
    if isinstance(names, str):  # as typed in one field: "name, status"
        names = [n for n in names.split(",") if n.strip()]
    aliased = []
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name.strip():
            problems.append(Problem(f"projection[{i}]", "an attribute name is empty"))
            continue
        alias = aliases.name(name.strip())
        if alias not in aliased:
            aliased.append(alias)
    return ", ".join(aliased)


def _options(form: dict, operation: str, index: dict | None, problems: list[Problem]) -> dict:
    """ScanIndexForward, Limit and ConsistentRead, where the operation and index allow them."""
    options: dict[str, Any] = {}
    if form.get("descending"):
        if operation == "Query":
            options["ScanIndexForward"] = False
        else:
            problems.append(Problem("descending", "only a Query reads in sort-key order"))
    limit = form.get("limit")
    if limit is not None and limit != "":
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            problems.append(Problem("limit", f"a whole number of items, 1 or more, not {limit!r}"))
        else:
            options["Limit"] = limit
    if form.get("consistent_read"):
        if index and index["kind"] == "global":
            problems.append(
                Problem(
                    "consistent_read",
                    f"the global secondary index {index['name']} cannot be read consistently "
                    "(only the table and its local indexes can)",
                )
            )
        else:
            options["ConsistentRead"] = True
    return options
