"""dynaquery: a DynamoDB data source and query manager.

    import dynaquery

    conn = dynaquery.connect(region="us-east-1", endpoint_url="http://localhost:8000")
    result = conn.run("GetItem", '{"TableName": "users", "Key": {"team_id": "team_1"}}')
    result.data   # plain JSON values, exact numbers
    result.meta   # duration, pages, retries, count, consumed capacity, next token

`__all__` is the library: connections, requests, results, the catalog, the workspace and the
errors. The modules behind it (whole tables: `dynaquery.transfer`) are imported by name; the
command (`dynaquery.cli`) and the API (`dynaquery.server`) are no part of it.
"""

from typing import TYPE_CHECKING

from .catalog import Catalog, Operation, catalog
from .connection import Connection, ConnectionConfig, Diagnosis, connect
from .errors import (
    ConfigurationError,
    Conflict,
    ConnectionFailed,
    CopyStopped,
    DynaqueryError,
    ExportInterrupted,
    Forbidden,
    ImportStopped,
    InputError,
    ItemConflict,
    ItemsExist,
    NotFound,
    ParseError,
    Problem,
    ReadOnlyError,
    ServiceError,
    UnknownOperationError,
    ValidationError,
)
from .request import Request, prepare
from .results import Result

if TYPE_CHECKING:
    from .workspace import Workspace

__version__ = "0.1.0"

__all__ = [
    "connect",
    "Connection",
    "ConnectionConfig",
    "Diagnosis",
    "prepare",
    "Request",
    "Result",
    "catalog",
    "Catalog",
    "Operation",
    "Workspace",
    "DynaqueryError",
    "InputError",
    "ParseError",
    "ValidationError",
    "Problem",
    "UnknownOperationError",
    "ConfigurationError",
    "ReadOnlyError",
    "Forbidden",
    "NotFound",
    "Conflict",
    "ItemConflict",
    "ItemsExist",
    "ServiceError",
    "ConnectionFailed",
    "ExportInterrupted",
    "ImportStopped",
    "CopyStopped",
]


def __getattr__(name: str):
    # The workspace brings SQLAlchemy: imported when first used, not by every `dynaquery` start.
    if name == "Workspace":
        from .workspace import Workspace

        return Workspace
    raise AttributeError(f"module 'dynaquery' has no attribute {name!r}")
