"""dynaquery: a DynamoDB data source and query manager.

    import dynaquery

    conn = dynaquery.connect(region="us-east-1", endpoint_url="http://localhost:8000")
    result = conn.run("GetItem", '{"TableName": "users", "Key": {"team_id": "team_1"}}')
    result.data   # plain JSON values, exact numbers
    result.meta   # duration, pages, retries, count, consumed capacity, next token
"""

from .catalog import Catalog, Operation, catalog, get_operation
from .connection import Connection, ConnectionConfig, Diagnosis, connect
from .errors import (ConfigurationError, ConnectionFailed, DynaqueryError, InputError, ParseError,
                     Problem, ReadOnlyError, ServiceError, UnknownOperationError, ValidationError)
from .request import Request, prepare
from .results import Result, apply_transform, render, to_json
from .values import to_plain, to_typed

__version__ = "0.1.0"

__all__ = [
    "Catalog", "Operation", "catalog", "get_operation",
    "Connection", "ConnectionConfig", "Diagnosis", "connect",
    "ConfigurationError", "ConnectionFailed", "DynaqueryError", "InputError", "ParseError",
    "Problem", "ReadOnlyError", "ServiceError", "UnknownOperationError", "ValidationError",
    "Request", "prepare",
    "Result", "apply_transform", "render", "to_json",
    "to_plain", "to_typed",
    "Workspace",
]


def __getattr__(name: str):
    # The workspace brings SQLAlchemy: imported when first used, not by every `dynaquery` start.
    if name == "Workspace":
        from .workspace import Workspace

        return Workspace
    raise AttributeError(f"module 'dynaquery' has no attribute {name!r}")
