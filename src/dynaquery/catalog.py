"""The operation catalog, read from botocore's DynamoDB service model.

The model is the single source of truth: which operations exist, their parameters and types, their
documentation, where AttributeValues sit and how they paginate. The few things the model does not say
are named here: the first platform's operation names (ALIASES), and which operations only read
(by the API's own verb convention, READ_VERBS).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from .errors import UnknownOperationError
from .values import attribute_value_plan

SERVICE = "dynamodb"

# The first platform's operation names that are not simply another spelling of the API's.
ALIASES = {
    "querytable": "Query",
    "scantable": "Scan",
}

# Operations named with these verbs only read. PartiQL operations depend on their statement.
READ_VERBS = ("Get", "BatchGet", "TransactGet", "Query", "Scan", "Describe", "List")
PARTIQL_OPERATIONS = ("ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction")
# Operations that delete data or change a table: asked for confirmation on the command line and
# in the page (with BatchWriteItem / TransactWriteItems holding deletes and PartiQL DELETE).
DESTRUCTIVE_VERBS = ("Delete",)
DESTRUCTIVE_OPERATIONS = ("UpdateTable",)


def _key(name: str) -> str:
    return name.replace("-", "").replace("_", "").replace(" ", "").lower()


def snake_case(name: str) -> str:
    from botocore import xform_name

    return xform_name(name)


def html_to_text(markup: str | None) -> str:
    import html  # here: its entity table takes a few ms to import, and `run` needs none

    if not markup:
        return ""
    text = re.sub(r"<[^>]+>", "", markup)
    return re.sub(r"\s+", " ", html.unescape(text)).strip()


def first_sentence(text: str) -> str:
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    return match.group(1) if match else text


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    required: bool
    documentation: str


class Operation:
    """One DynamoDB API operation, as the service model describes it."""

    def __init__(self, catalog: Catalog, name: str):
        self._catalog = catalog
        self.name = name
        self.model = catalog.service_model.operation_model(name)

    def __repr__(self) -> str:
        return f"<Operation {self.name}>"

    @cached_property
    def python_name(self) -> str:
        return snake_case(self.name)

    @cached_property
    def documentation(self) -> str:
        return html_to_text(self.model.documentation)

    @cached_property
    def summary(self) -> str:
        return first_sentence(self.documentation)

    @property
    def input_shape(self):
        return self.model.input_shape

    @property
    def output_shape(self):
        return self.model.output_shape

    @cached_property
    def input_plan(self):
        return attribute_value_plan(self.input_shape)

    @cached_property
    def output_plan(self):
        return attribute_value_plan(self.output_shape)

    @cached_property
    def parameters(self) -> list[Parameter]:
        shape = self.input_shape
        if shape is None:
            return []
        required = set(shape.required_members)
        return [
            Parameter(
                name,
                describe_shape(member),
                name in required,
                first_sentence(html_to_text(member.documentation)),
            )
            for name, member in shape.members.items()
        ]

    @cached_property
    def required_parameters(self) -> list[str]:
        return [p.name for p in self.parameters if p.required]

    @cached_property
    def pagination(self) -> dict | None:
        """The paginator's configuration (input/output tokens, result keys), if it paginates."""
        config = self._catalog.paginator_config.get(self.name)
        if config is None:
            return None
        as_list = lambda v: v if isinstance(v, list) else [v]  # noqa: E731
        return {
            "input_token": as_list(config["input_token"]),
            "output_token": as_list(config["output_token"]),
            "result_key": as_list(config.get("result_key", [])),
            "limit_key": config.get("limit_key"),
            "non_aggregate_keys": config.get("non_aggregate_keys", []),
        }

    @property
    def access(self) -> str:
        """'read', 'write', or 'statement' (PartiQL: decided by the statement)."""
        if self.name in PARTIQL_OPERATIONS:
            return "statement"
        return "read" if self.name.startswith(READ_VERBS) else "write"

    def reads_only(self, params: dict | None = None) -> bool:
        """True when this call, with these parameters, only reads (PartiQL: every statement is a
        SELECT). A read-only data source sends nothing else."""
        if self.access != "statement":
            return self.access == "read"
        statements = list(_statements(params or {}))
        return bool(statements) and all(is_select(s) for s in statements)

    def is_destructive(self, params: dict | None = None) -> bool:
        """True when this call deletes data or changes a table, so the command line and the page
        ask before sending it: every Delete* operation, UpdateTable, a BatchWriteItem holding a
        DeleteRequest, a TransactWriteItems holding a Delete, a PartiQL DELETE."""
        if self.name.startswith(DESTRUCTIVE_VERBS) or self.name in DESTRUCTIVE_OPERATIONS:
            return True
        if self.name == "BatchWriteItem":
            return "DeleteRequest" in _keys(params or {})
        if self.name == "TransactWriteItems":
            return "Delete" in _keys(params or {})
        if self.access == "statement":
            return any(is_delete(s) for s in _statements(params or {}))
        return False

    def target(self, params: dict | None = None) -> str:
        """What a call acts on, for a confirmation: 'table users', 'backup arn:...', or ''."""
        params = params or {}
        for key, label in (
            ("TableName", "table"),
            ("TableArn", "table"),
            ("BackupArn", "backup"),
            ("ResourceArn", "resource"),
        ):
            if isinstance(params.get(key), str):
                return f"{label} {params[key]}"
        tables = sorted(
            {name for name in (params.get("RequestItems") or {})}
            | {
                entry.get(kind, {}).get("TableName")
                for entry in params.get("TransactItems") or []
                if isinstance(entry, dict)
                for kind in entry
                if isinstance(entry.get(kind), dict)
            }
            - {None}
        )
        if tables:
            return ("table " if len(tables) == 1 else "tables ") + ", ".join(map(str, tables))
        return ""

    def confirmation(self, params: dict | None = None) -> str:
        """The question asked before a destructive call: 'Really run DeleteTable on table users?'"""
        target = self.target(params)
        return f"Really run {self.name}{' on ' + target if target else ''}?"

    @cached_property
    def example(self) -> str:
        """A parameter text to start from: the curated example, else one built from the model."""
        curated = self._catalog.examples.get(self.name)
        if curated is not None:
            return curated
        if not self.required_parameters:
            return "{}"
        skeleton = {
            name: example_value(self.input_shape.members[name], name)
            for name in self.required_parameters
        }
        return json.dumps(skeleton, indent=4)

    def to_dict(self, detail: bool = False) -> dict:
        info: dict[str, Any] = {
            "name": self.name,
            "python_name": self.python_name,
            "summary": self.summary,
            "access": self.access,
            "paginated": self.pagination is not None,
        }
        if detail:
            info["documentation"] = self.documentation
            info["parameters"] = [p.__dict__ for p in self.parameters]
            info["example"] = self.example
        return info


def _statements(value: Any) -> Iterator[Any]:
    """Every PartiQL statement in a request's parameters (wherever the model nests them)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Statement":
                yield inner
            else:
                yield from _statements(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _statements(inner)


_LEADING = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*[\s\S]*?\*/|\()*")


def _keys(value: Any) -> set[str]:
    """Every object key anywhere in a request's parameters."""
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.update(k for k in item if isinstance(k, str))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def is_delete(statement: Any) -> bool:
    """A PartiQL DELETE statement (after any comments, spaces and parentheses)."""
    if not isinstance(statement, str):
        return False
    rest = statement[_LEADING.match(statement).end() :]
    return re.match(r"delete\b", rest, re.I) is not None


def is_select(statement: Any) -> bool:
    """A PartiQL statement that only reads: SELECT, after any comments, spaces and parentheses."""
    if not isinstance(statement, str):
        return False
    rest = statement[_LEADING.match(statement).end() :]
    return re.match(r"select\b", rest, re.I) is not None


def describe_shape(shape) -> str:
    if shape.type_name == "structure":
        return "AttributeValue" if shape.name == "AttributeValue" else f"object ({shape.name})"
    if shape.type_name == "list":
        return f"list of {describe_shape(shape.member)}"
    if shape.type_name == "map":
        return f"map of {describe_shape(shape.value)}"
    if shape.type_name == "string" and shape.enum:
        return "string: " + " | ".join(shape.enum)
    return shape.type_name


def example_value(shape, name: str, depth: int = 0) -> Any:
    """A value of the right type, to fill a generated example."""
    if shape.name == "AttributeValue":
        return "value"
    kind = shape.type_name
    if kind == "structure":
        if depth > 3:
            return {}
        return {m: example_value(shape.members[m], m, depth + 1) for m in shape.required_members}
    if kind == "list":
        return [example_value(shape.member, name, depth + 1)]
    if kind == "map":
        return {"key": example_value(shape.value, name, depth + 1)}
    if kind == "string":
        return shape.enum[0] if shape.enum else f"<{name}>"
    if kind in ("integer", "long"):
        return shape.metadata.get("min", 1)
    if kind in ("float", "double"):
        return 1.0
    if kind == "boolean":
        return True
    if kind == "timestamp":
        return 0
    return None


class Catalog:
    """All operations of the installed botocore's DynamoDB model."""

    def __init__(self, loader=None):
        from botocore.model import ServiceModel

        from ._speed.botocore_data import create_loader

        self._loader = loader or create_loader()
        self.service_model = ServiceModel(
            self._loader.load_service_model(SERVICE, "service-2"), service_name=SERVICE
        )
        self._operations: dict[str, Operation] = {}

    @cached_property
    def paginator_config(self) -> dict:
        try:
            return self._loader.load_service_model(SERVICE, "paginators-1")["pagination"]
        except Exception:  # an install without paginators: nothing paginates
            return {}

    @cached_property
    def examples(self) -> dict[str, str]:
        from importlib import resources  # only here: it takes a while to import

        text = resources.files(__package__).joinpath("examples.json").read_text("utf-8")
        return json.loads(text)

    @cached_property
    def names(self) -> list[str]:
        return list(self.service_model.operation_names)

    @cached_property
    def _by_key(self) -> dict[str, str]:
        table = {_key(name): name for name in self.names}
        table.update(ALIASES)
        return table

    def __iter__(self) -> Iterator[Operation]:
        return (self.get(name) for name in self.names)

    def __len__(self) -> int:
        return len(self.names)

    def get(self, name: str) -> Operation:
        """Find an operation by any spelling: GetItem, get_item, get-item, or an alias."""
        canonical = self._by_key.get(_key(name))
        if canonical is None:
            raise UnknownOperationError(name, self.suggest(name))
        operation = self._operations.get(canonical)
        if operation is None:
            operation = self._operations[canonical] = Operation(self, canonical)
        return operation

    def suggest(self, name: str) -> list[str]:
        import difflib

        keys = difflib.get_close_matches(_key(name), list(self._by_key), n=3, cutoff=0.6)
        seen: list[str] = []
        for key in keys:
            if self._by_key[key] not in seen:
                seen.append(self._by_key[key])
        return seen


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    """The catalog of the installed botocore (loaded once)."""
    return Catalog()


def get_operation(name: str) -> Operation:
    return catalog().get(name)
