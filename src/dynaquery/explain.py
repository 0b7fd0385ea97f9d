"""What a request would do, before it is sent: the request as it would go (typed), and for a Scan
or a Query what it would cost, from DescribeTable (the only call made); and where a Scan's filter
fixes the partition key of the table or of an index with `=`, the Query it should be.

Reads cost one read capacity unit (RCU) per 4 KB strongly consistent, half that eventually
consistent. A Scan reads the whole table (or index) whatever its filter: its cost is the size
DescribeTable reports (DynamoDB updates it about every six hours) over 4 KB. A Query reads only
the items of one partition key value, whose size DescribeTable does not give.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from . import hints
from .catalog import catalog
from .errors import InputError
from .request import Request, prepare
from .results import to_json
from .tables import describe_table

RCU_BYTES = 4096
# A condition with its attribute on the right reads as this operator with the attribute on the left.
_FLIP = {"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_KEY_OPERATORS = frozenset({"=", "<", "<=", ">", ">=", "between", "begins_with"})
# hints.py's expression tokens skip operators and parentheses; a filter's structure needs them.
_TOKEN = re.compile(r"\s*(?:([#:]?[A-Za-z0-9_]+)|(<>|<=|>=|[=<>(),.\[\]]))")
# Scan parameters a Query does not take from it: replaced (the expressions, the index), or
# meaningless there (a Scan's position). The rest is kept where the model's Query has it.
_NOT_CARRIED = frozenset(
    {"FilterExpression", "ExpressionAttributeNames", "ExpressionAttributeValues", "IndexName"}
    | {"ExclusiveStartKey"}
)


def explain(connection, request: Request) -> dict:
    """The request that would be sent, and for a Scan or a Query its cost and advice. Sends
    DescribeTable (for Scan and Query only) and nothing else."""
    explanation: dict[str, Any] = {"operation": request.name, "request": request.params}
    if request.name not in ("Scan", "Query"):
        return explanation
    params = request.params
    table = connection.call("DescribeTable", {"TableName": params["TableName"]})["Table"]
    source = _source(table, params.get("IndexName"))
    if request.name == "Query":
        explanation["cost"] = _query_cost(params, table, source)
        return explanation
    explanation["cost"] = _scan_cost(params, table, source)
    advice = _query_advice(params, table)
    if advice:
        explanation["advice"] = [advice]
    return explanation


def _source(table: dict, index: str | None) -> dict:
    """What the request reads: the table's description, or its index's."""
    if index is None:
        return table
    indexes = table.get("GlobalSecondaryIndexes", []) + table.get("LocalSecondaryIndexes", [])
    for entry in indexes:
        if entry["IndexName"] == index:
            return entry
    names = ", ".join(e["IndexName"] for e in indexes) or "none"
    raise InputError(f"Table {table['TableName']!r} has no index {index!r} (its indexes: {names}).")


def _rcu(size: int, consistent: bool) -> int:
    """Read capacity units to read `size` bytes, rounded up."""
    return -(-size // (RCU_BYTES if consistent else 2 * RCU_BYTES))


def _scan_cost(params: dict, table: dict, source: dict) -> dict:
    size = source.get("IndexSizeBytes", source.get("TableSizeBytes")) or 0
    consistent = bool(params.get("ConsistentRead"))
    is_gsi = source in table.get("GlobalSecondaryIndexes", [])
    what = f"table {table['TableName']!r}"
    if "IndexName" in params:
        what = f"index {params['IndexName']!r} of {what}"
    notes = [
        f"An estimate: a full Scan reads the whole {what}, "
        f"{size} bytes as DescribeTable reports them (DynamoDB updates that size about every "
        "six hours), at 1 RCU per 4 KB strongly consistent, half that eventually consistent.",
        "A FilterExpression does not lower it: a Scan reads every item, then filters.",
    ]
    if not size:
        notes.append("0 bytes: the table is empty, or DynamoDB has not updated its size yet.")
    if params.get("TotalSegments"):
        notes.append(f"One Segment reads about 1/{params['TotalSegments']} of it.")
    if params.get("Limit"):
        notes.append(f"Limit ends a page after {params['Limit']} items read; every page reads all.")
    if is_gsi:
        notes.append("A global secondary index is read eventually consistent only.")
    return {
        "kind": "scan",
        "table": table["TableName"],
        "index": params.get("IndexName"),
        "size_bytes": size,
        "item_count": source.get("ItemCount"),
        "consistent_read": consistent,
        "read_capacity_units": _rcu(size, consistent),
        "strongly_consistent_rcu": None if is_gsi else _rcu(size, True),
        "eventually_consistent_rcu": _rcu(size, False),
        "notes": notes,
    }


def _query_cost(params: dict, table: dict, source: dict) -> dict:
    size = source.get("IndexSizeBytes", source.get("TableSizeBytes")) or 0
    consistent = bool(params.get("ConsistentRead"))
    return {
        "kind": "query",
        "table": table["TableName"],
        "index": params.get("IndexName"),
        "consistent_read": consistent,
        "read_capacity_units": None,
        "at_most_rcu": _rcu(size, consistent),
        "notes": [
            "A Query reads only the items of the partition key value it names (narrowed by its "
            "sort-key condition), at 1 RCU per 4 KB strongly consistent, half that eventually "
            "consistent. DescribeTable gives the size of the whole table or index, not of one "
            "partition: no estimate of this Query's cost can be made from it, only the bound "
            f"of reading everything ({size} bytes, {_rcu(size, consistent)} RCU).",
        ]
        + (
            ["A FilterExpression does not lower it: the Query reads the partition, then filters."]
            if params.get("FilterExpression")
            else []
        ),
    }


# ---------------------------------------------------------------------------------------------
# a Scan that is a Query


@dataclass
class _Part:
    """One of a filter's AND-joined conditions: its text, and what it says of one attribute."""

    text: str
    attribute: str | None = None  # a top-level attribute, names resolved
    operator: str = ""  # "=", "<", ..., "between", "begins_with"; "" for anything else
    condition: str = ""  # as a key condition, attribute first
    values: tuple[str, ...] = ()


@dataclass
class _Candidate:
    """A key schema the filter fixes: of the table (index None) or of an index."""

    index: dict | None
    partition: _Part
    sort: _Part | None
    caveats: list[str] = field(default_factory=list)


def _tokens(expression: str) -> list[tuple[str, int, int]] | None:
    """(token, start, end) each; None when the text holds something no filter token is."""
    tokens, position = [], 0
    while match := _TOKEN.match(expression, position):
        group = 1 if match.group(1) else 2
        tokens.append((match.group(group), match.start(group), match.end()))
        position = match.end()
    return tokens if not expression[position:].strip() else None


def _wrapped(tokens: list) -> bool:
    """Whether the whole of `tokens` is in one pair of parentheses."""
    if not tokens or tokens[0][0] != "(" or tokens[-1][0] != ")":
        return False
    depth = 0
    for i, (token, _, _) in enumerate(tokens):
        depth += {"(": 1, ")": -1}.get(token, 0)
        if depth == 0:
            return i == len(tokens) - 1
    return False


def _conjuncts(tokens: list) -> list[list] | None:
    """The top-level AND-joined parts (a part in parentheses opened up when it is ANDs too);
    None when an OR joins at the top level, a part is empty or a parenthesis unmatched."""
    parts: list[list] = [[]]
    depth, between = 0, False
    for token in tokens:
        word = token[0].lower()
        depth += {"(": 1, ")": -1}.get(word, 0)
        if depth == 0 and word == "or":
            return None
        if depth == 0 and word == "between":
            between = True
        elif depth == 0 and word == "and" and not between:
            parts.append([])
            continue
        elif depth == 0 and word == "and":
            between = False
        parts[-1].append(token)
    if depth != 0 or not all(parts):
        return None
    result = []
    for part in parts:
        inner = _conjuncts(part[1:-1]) if _wrapped(part) else None
        result.extend(inner or [part])
    return result


def _is_path(word: str) -> bool:
    return word.startswith("#") or (word[:1].isalpha() or word[:1] == "_")


def _part(tokens: list, expression: str, names: dict) -> _Part:
    """A condition, read: `a op :v` (either way round), `a BETWEEN :x AND :y`,
    `begins_with(a, :v)`; anything else is kept as its text only."""
    text = expression[tokens[0][1] : tokens[-1][2]]
    words = [t[0] for t in tokens]
    low = [w.lower() for w in words]
    path, operator, values = None, "", ()
    if len(words) == 3 and words[1] in _FLIP:
        if words[2].startswith(":") and _is_path(words[0]):
            path, operator, values = words[0], words[1], (words[2],)
        elif words[0].startswith(":") and _is_path(words[2]):
            path, operator, values = words[2], _FLIP[words[1]], (words[0],)
    elif len(words) == 5 and low[1] == "between" and low[3] == "and" and _is_path(words[0]):
        path, operator, values = words[0], "between", (words[2], words[4])
    elif len(words) == 6 and low[0] == "begins_with" and words[1::2] == ["(", ",", ")"]:
        path, operator, values = words[2], "begins_with", (words[4],)
    if path is None or not _is_path(path) or not all(v.startswith(":") for v in values):
        return _Part(text)
    attribute = names.get(path) if path.startswith("#") else path
    if operator == "between":
        condition = f"{path} BETWEEN {values[0]} AND {values[1]}"
    elif operator == "begins_with":
        condition = f"begins_with({path}, {values[0]})"
    else:
        condition = f"{path} {operator} {values[0]}"
    return _Part(text, attribute, operator, condition, values)


def _filter_parts(params: dict) -> list[_Part] | None:
    expression = params.get("FilterExpression")
    tokens = _tokens(expression) if isinstance(expression, str) else None
    conjuncts = _conjuncts(tokens) if tokens else None
    if not conjuncts:
        return None
    names = params.get("ExpressionAttributeNames") or {}
    return [_part(c, expression, names) for c in conjuncts]


def _typed_as(part: _Part, key: dict, values: dict) -> bool:
    """Whether each value of the condition has the key's type (S, N or B)."""
    return all(
        isinstance(values.get(v), dict) and list(values[v]) == [key["type"]] for v in part.values
    )


def _candidate(parts: list[_Part], keys: dict, values: dict) -> _Candidate | None:
    """The key conditions the filter gives for one key schema (`keys`: describe_table's
    partition_key and sort_key, of the table or of an index), if it fixes the partition key."""
    partition = next(
        (
            p
            for p in parts
            if p.attribute == keys["partition_key"]["name"]
            and p.operator == "="
            and _typed_as(p, keys["partition_key"], values)
        ),
        None,
    )
    if partition is None:
        return None
    sort_key = keys.get("sort_key")
    sort = None
    if sort_key:
        operators = _KEY_OPERATORS - ({"begins_with"} if sort_key["type"] == "N" else set())
        sort = next(
            (
                p
                for p in parts
                if p is not partition
                and p.attribute == sort_key["name"]
                and p.operator in operators
                and _typed_as(p, sort_key, values)
            ),
            None,
        )
    return _Candidate(keys if keys.get("kind") else None, partition, sort)


def _caveats(candidate: _Candidate, params: dict) -> list[str]:
    """Where the Query on an index would not return what the Scan of the table returns."""
    index = candidate.index
    caveats = []
    if index is None:
        return caveats
    if "IndexName" not in params and index["projection"] != "ALL":
        caveats.append(
            f"index {index['name']!r} projects {index['projection']} attributes: the Query "
            "returns those, the Scan every attribute"
        )
    if "IndexName" not in params and index["sort_key"] and candidate.sort is None:
        caveats.append(
            f"items without {index['sort_key']['name']!r} are not in index {index['name']!r}: "
            "the Query misses them, the Scan finds them"
        )
    if index["kind"] == "global" and params.get("ConsistentRead"):
        caveats.append("a global secondary index reads eventually consistent only")
    return caveats


def _query_advice(params: dict, table: dict) -> dict | None:
    """ "This is a Query": the best Query the filter allows (the table's or an index's), or None."""
    parts = _filter_parts(params)
    if not parts:
        return None
    described = describe_table(table)
    schemas = [] if "IndexName" in params else [described]
    schemas += [i for i in described["indexes"] if i["name"] == params.get("IndexName", i["name"])]
    values = params.get("ExpressionAttributeValues") or {}
    candidates = [c for keys in schemas if (c := _candidate(parts, keys, values))]
    if not candidates:
        return None
    for candidate in candidates:
        candidate.caveats = _caveats(candidate, params)
    best = min(candidates, key=lambda c: (len(c.caveats), c.sort is None))
    query = _query_params(params, best, parts)
    try:
        query = prepare("Query", query).params  # checked as any request: it must be sendable
    except InputError:
        return None
    return {"message": _advice_message(best, table), "caveats": best.caveats, "query": query}


def _query_params(params: dict, best: _Candidate, parts: list[_Part]) -> dict:
    """The Scan as a Query: the key conditions out of the filter, names and values kept where
    used, the other parameters the model's Query takes carried over."""
    query: dict[str, Any] = {"TableName": params["TableName"]}
    if best.index is not None:
        query["IndexName"] = best.index["name"]
    keys = [best.partition] + ([best.sort] if best.sort else [])
    query["KeyConditionExpression"] = " AND ".join(p.condition for p in keys)
    rest = [p.text for p in parts if not any(p is k for k in keys)]
    if rest:
        query["FilterExpression"] = " AND ".join(rest)
    members = catalog().get("Query").input_shape.members
    query.update(
        {k: v for k, v in params.items() if k in members and k not in _NOT_CARRIED | set(query)}
    )
    if best.index is not None and best.index["kind"] == "global":
        query.pop("ConsistentRead", None)
    expressions = " ".join(v for k, v in query.items() if k.endswith("Expression"))
    for name, token in (
        ("ExpressionAttributeNames", hints._NAME_TOKEN),
        ("ExpressionAttributeValues", hints._VALUE_TOKEN),
    ):
        used = set(token.findall(expressions))
        kept = {k: v for k, v in (params.get(name) or {}).items() if k in used}
        if kept:
            query[name] = kept
    return query


def _advice_message(best: _Candidate, table: dict) -> str:
    where = f"index {best.index['name']!r}" if best.index else f"table {table['TableName']!r}"
    message = (
        f"this is a Query: the filter fixes the partition key of {where} with = "
        f"({best.partition.text})"
    )
    if best.sort:
        message += f" and gives a sort-key condition ({best.sort.text})"
    message += ", so a Query reads only that partition instead of everything the Scan reads"
    if best.caveats:
        return message + "; but " + "; ".join(best.caveats) + "."
    return message + ", and returns the same items."


# ---------------------------------------------------------------------------------------------
# as text


def to_text(explanation: dict) -> str:
    """An explanation for a person: the request, the cost, the advice."""
    lines = [f"{explanation['operation']}, as it would be sent (nothing is sent):"]
    lines.append(to_json(explanation["request"]))
    cost = explanation.get("cost")
    if cost and cost["kind"] == "scan":
        consistency = "strongly" if cost["consistent_read"] else "eventually"
        lines.append(
            f"\nCost: about {cost['read_capacity_units']} RCU (read capacity units) for a full "
            f"Scan, {consistency} consistent ({cost['eventually_consistent_rcu']} eventually, "
            + (
                f"{cost['strongly_consistent_rcu']} strongly consistent)."
                if cost["strongly_consistent_rcu"] is not None
                else "no strongly consistent read on this index)."
            )
        )
    elif cost:
        lines.append("\nCost: no estimate (a Query reads one partition).")
    lines.extend("  " + note for note in (cost or {}).get("notes", []))
    for advice in explanation.get("advice", []):
        lines.append(f"\nAdvice: {advice['message']} The Query:")
        lines.append(to_json(advice["query"]))
    return "\n".join(lines) + "\n"
