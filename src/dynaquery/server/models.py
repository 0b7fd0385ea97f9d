"""The API's shapes: they check request bodies and make /openapi.json.

A data source's settings are made from the settings table (settings.SETTINGS), field by field,
with their types, bounds, choices and help, so a new setting reaches the API with no change here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from ..codegen import LANGUAGES
from ..inputs import lone_surrogate
from ..settings import MASK, SETTINGS, Setting

SECRET_IN = f'"{MASK}", null or absent keeps the stored one; "" clears it'
SECRET_OUT = f'"{MASK}" when stored, else null'


class _Input(BaseModel):
    """A request body: its text must be Unicode, everywhere in it (a 400 naming the field)."""

    @model_validator(mode="before")
    @classmethod
    def _unicode_only(cls, data: Any) -> Any:
        found = lone_surrogate(data)
        if found:
            raise ValueError(found)
        return data


class ErrorOut(BaseModel):
    error: str
    message: str
    line: int | None = None
    column: int | None = None
    problems: list[dict[str, Any]] | None = None


# -- data sources ---------------------------------------------------------------------------


def _field_in(setting: Setting) -> tuple[Any, Any]:
    """A setting as a request may give it: optional, within its bounds and choices."""
    kind = Literal[setting.choices] if setting.choices else setting.type
    description = f"{setting.help} {SECRET_IN}." if setting.secret else setting.help
    return kind | None, Field(None, description=description, ge=setting.minimum, le=setting.maximum)


def _field_out(setting: Setting) -> tuple[Any, Any]:
    """A setting as an answer gives it: always present, secrets masked."""
    if setting.name == "auth":  # the method in force, decided when not set
        return str | None, Field(description=f"{setting.help} (null: only admins see settings)")
    return setting.type | None, Field(description=SECRET_OUT if setting.secret else setting.help)


class _SettingsIn(_Input):
    model_config = ConfigDict(extra="forbid")


Settings = create_model(
    "Settings",
    __base__=_SettingsIn,
    __doc__="A data source's settings; every field optional.",
    **{s.name: _field_in(s) for s in SETTINGS},
)


class DataSourceIn(Settings):
    name: str
    read_only: bool = False
    journal: bool = Field(
        False, description="keep written items' before and after images, so runs can be undone"
    )
    description: str | None = None


class DataSourceUpdate(Settings):
    name: str | None = None
    read_only: bool | None = None
    journal: bool | None = None
    description: str | None = None


class DataSourceTest(Settings):
    id: str | None = Field(
        None,
        description="a saved data source whose stored secrets fill the "
        "secret fields left out or masked",
    )


DataSourceOut = create_model(
    "DataSourceOut",
    id=(str, ...),
    name=(str, ...),
    description=(str | None, ...),
    read_only=(bool, ...),
    journal=(bool, ...),
    **{s.name: _field_out(s) for s in SETTINGS},
    created_at=(str, ...),
    updated_at=(str, ...),
)


class SettingOut(BaseModel):
    """One row of the settings table, as the page's form is made from it."""

    name: str
    type: Literal["str", "int", "float"]
    label: str
    help: str
    default: str | int | float | None
    secret: bool
    choices: list[str]
    minimum: int | float | None
    maximum: int | float | None
    methods: list[str] = Field(description="the auth methods whose form shows it")


class DiagnosisOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    ok: bool
    message: str


# -- queries and runs -------------------------------------------------------------------------


class QueryIn(_Input):
    model_config = ConfigDict(extra="forbid")

    name: str
    datasource: str = Field(description="data source id or name")
    operation: str
    params: str = Field("", description="the parameter text, kept verbatim")
    transform: str | None = None
    description: str | None = None
    defaults: dict[str, Any] | None = None


class QueryUpdate(_Input):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    datasource: str | None = None
    operation: str | None = None
    params: str | None = None
    transform: str | None = None
    description: str | None = None
    defaults: dict[str, Any] | None = None


class QueryOut(BaseModel):
    id: str
    name: str
    datasource: str
    datasource_id: str
    operation: str
    params: str
    transform: str | None
    description: str | None
    defaults: dict[str, Any]
    placeholders: list[str]
    created_at: str
    updated_at: str


class RunOptions(_Input):
    model_config = ConfigDict(extra="forbid")

    values: dict[str, Any] | None = Field(None, description="values of {{ }} placeholders")
    transform: str | None = None
    all_pages: bool = False
    max_items: int | None = Field(None, ge=1)
    starting_token: str | None = None
    batch_timeout: float = Field(60, ge=0)
    confirm: bool = Field(
        False,
        description="required (true) to run an operation that deletes "
        "data or changes a table; else the answer is 428",
    )


class RunIn(RunOptions):
    datasource: str
    operation: str
    params: str | dict[str, Any] | None = None


class ResultOut(BaseModel):
    data: Any
    meta: dict[str, Any] = Field(description="duration, count, pages, next_token, summary, ...")
    raw: dict[str, Any]
    complete: bool = Field(
        description="false only when a batch left requests unprocessed; "
        "more pages are told by meta.next_token"
    )


class CheckIn(_Input):
    operation: str
    params: str = ""
    transform: str | None = None


class CheckOut(BaseModel):
    ok: bool
    operation: str | None = None
    placeholders: list[str] = []
    error: ErrorOut | None = None


# -- the catalog ------------------------------------------------------------------------------


class OperationOut(BaseModel):
    name: str
    python_name: str
    summary: str
    access: str
    paginated: bool


class ParameterOut(BaseModel):
    name: str
    type: str
    required: bool
    documentation: str


class OperationDetail(OperationOut):
    documentation: str
    parameters: list[ParameterOut]
    example: str


# -- tables -----------------------------------------------------------------------------------


class TablesOut(BaseModel):
    tables: list[str]


class DownloadLinkOut(BaseModel):
    url: str = Field(description="where the export downloads, once, without the token")
    expires_in: float = Field(description="seconds the link stays valid")


class KeyOut(BaseModel):
    name: str
    type: str


class IndexOut(BaseModel):
    name: str
    kind: Literal["global", "local"]
    partition_key: KeyOut
    sort_key: KeyOut | None
    projection: str


class TableOut(BaseModel):
    name: str
    status: str | None
    item_count: int | None
    size_bytes: int | None
    partition_key: KeyOut
    sort_key: KeyOut | None
    indexes: list[IndexOut]
    query_template: str
    index_query_templates: dict[str, str] = Field(description="index name -> a Query on it")
    scan_template: str


# -- history and session ----------------------------------------------------------------------


class RunRecordOut(BaseModel):
    id: int
    started_at: str
    duration_ms: float | None
    operation: str
    outcome: str
    query: str | None
    datasource: str | None
    item_count: int | None
    error: str | None
    origin: str | None
    target: str | None = Field(None, description='what the call acted on: "table users", ...')
    ran_by: str | None = Field(
        None, description='who: a user, "api" (the server\'s token), "cli:<login>"'
    )
    journal: str | None = Field(
        None,
        description="a write's journal: undoable (its items kept), keys (only its keys), undone",
    )


class UndoIn(_Input):
    confirm: bool = Field(False, description="required (true), else the answer is 428")


class UndoOut(BaseModel):
    run: int
    restored: int = Field(description="items put back as they were before the run")
    unchanged: int = Field(description="items the run left as they were")
    conflicts: list[dict[str, Any]] = Field(
        description="items changed since the run, left alone: table, key, left (what the run "
        "left) and now, each {typed, plain}"
    )


class JournalOut(BaseModel):
    run: int
    at: str
    who: str
    datasource: str | None
    operation: str
    tables: list[str]
    keys: list[dict[str, Any]] | None = Field(description="typed keys; null: cannot be told")
    images: bool = Field(description="the items before and after are kept: undo can run")
    note: str | None
    undone_at: str | None


class SessionOut(BaseModel):
    ok: bool
    version: str
    demo: bool
    user: str = Field(description='who is signed in ("token": the server\'s token)')
    role: str = Field(description="admin, editor or runner")
    can: dict[str, bool] = Field(
        description="what the role may do: manage (users, data sources), edit (requests of "
        "one's own, queries, tables, items), run (saved queries)"
    )
    csrf: str | None = Field(
        None, description="the X-CSRF-Token header a change through this session sends"
    )


class SignInIn(_Input):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=200, description="a user's name, with a password")
    password: str | None = Field(None, max_length=1024)
    token: str | None = Field(
        None, max_length=1024, description="instead: the server's token or a user's API token"
    )


class UserIn(_Input):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=200)
    role: str = Field(description="admin, editor or runner")
    password: str | None = Field(
        None, max_length=1024, description="none: the user signs in with API tokens only"
    )


class UserUpdate(_Input):
    model_config = ConfigDict(extra="forbid")

    role: str | None = None
    password: str | None = Field(None, max_length=1024, description="a new password")


class GrantIn(_Input):
    model_config = ConfigDict(extra="forbid")

    read_only: bool = Field(False, description="reads only on this data source")


class UserTokenOut(BaseModel):
    id: str
    created_at: str


class UserGrantOut(BaseModel):
    datasource: str
    read_only: bool


class UserOut(BaseModel):
    name: str
    role: str
    password: bool = Field(description="whether the user has a password (else tokens only)")
    created_at: str
    tokens: list[UserTokenOut]
    grants: list[UserGrantOut]


class NewTokenOut(BaseModel):
    id: str
    token: str = Field(description="shown this once; kept hashed")


# -- code and cost before running -------------------------------------------------------------


class ExplainIn(_Input):
    """An unsaved request to a data source, as /api/explain and /api/code take it."""

    model_config = ConfigDict(extra="forbid")

    datasource: str = Field(description="data source id or name")
    operation: str
    params: str | dict[str, Any] | None = None
    values: dict[str, Any] | None = Field(None, description="values of {{ }} placeholders")


class CodeIn(ExplainIn):
    language: Literal[LANGUAGES] = "python"  # type: ignore[valid-type]


class CodeOut(BaseModel):
    language: str
    code: str = Field(description="the program making the same call; never any credentials")


class ExplainOut(BaseModel):
    operation: str
    request: dict[str, Any] = Field(description="the typed request as it would be sent")
    cost: dict[str, Any] | None = Field(
        None, description="Scan and Query: the read capacity from DescribeTable (explain.py)"
    )
    advice: list[dict[str, Any]] | None = Field(
        None, description="a Scan whose filter fixes a partition key: {message, caveats, query}"
    )


# -- the Query and Scan form (request_form.py) --------------------------------------------------


class SortKeyConditionIn(_Input):
    model_config = ConfigDict(extra="forbid")

    operator: str | None = Field(None, description="=, <, <=, >, >=, BETWEEN or begins_with")
    values: list[Any] = Field([], description="one value; two for BETWEEN")


class FilterIn(_Input):
    model_config = ConfigDict(extra="forbid")

    attribute: str = ""
    operator: str = Field(
        description="=, <>, <, <=, >, >=, BETWEEN, IN, begins_with, contains, attribute_exists, "
        "attribute_not_exists, attribute_type or size"
    )
    values: list[Any] = []
    type: str = Field("S", description="the values' type: S, N, B, BOOL or NULL")
    comparison: str | None = Field(None, description="with size: =, <>, <, <=, >, >= or BETWEEN")


class RequestFormIn(_Input):
    model_config = ConfigDict(extra="forbid")

    operation: Literal["Query", "Scan"]
    index: str | None = Field(None, description="an index of the table; none: the table")
    partition_key: Any = Field(None, description="the partition key's value (Query)")
    sort_key: SortKeyConditionIn | None = None
    filters: list[FilterIn] = []
    projection: list[str] | str = Field([], description='names, or one text: "name, status"')
    descending: bool = False
    limit: int | None = Field(None, ge=1)
    consistent_read: bool = False


class RequestFormOut(BaseModel):
    operation: str
    params: str = Field(description="the request as JSON text, with #name and :value aliases")


# -- the item editor (items.py) -----------------------------------------------------------------

ITEM_TEXT = (
    "the item: JSON text (read with exact numbers: send it so) or an object; in the view given"
)


class ItemOut(BaseModel):
    typed: dict[str, Any] = Field(
        description="the item with typed values: sets, binary (base64) and numbers exact"
    )
    plain: dict[str, Any] = Field(description="the same item with plain values")


class ItemSaveIn(_Input):
    model_config = ConfigDict(extra="forbid")

    datasource: str = Field(description="data source id or name")
    loaded: dict[str, Any] = Field(description="the item as it was loaded (its typed form)")
    item: str | dict[str, Any] = Field(description=ITEM_TEXT)
    view: Literal["plain", "typed", "form"] = Field(
        "plain",
        description="plain (types follow the loaded item), typed, or form (top-level values "
        "typed, the inside of maps and lists plain)",
    )


class ItemCreateIn(_Input):
    model_config = ConfigDict(extra="forbid")

    datasource: str = Field(description="data source id or name")
    item: str | dict[str, Any] = Field(description=ITEM_TEXT)
    view: Literal["plain", "typed", "form"] = "plain"
    like: dict[str, Any] | None = Field(
        None, description="the typed item duplicated: the guide of types of a plain view"
    )


class ItemsDeleteIn(_Input):
    model_config = ConfigDict(extra="forbid")

    datasource: str = Field(description="data source id or name")
    keys: list[dict[str, Any]] = Field(description="the items' keys (typed or plain values)")
    confirm: bool = Field(False, description="required (true), else the answer is 428")
    batch_timeout: float = Field(60, ge=0)


class ItemsDeletedOut(BaseModel):
    deleted: int = Field(description="delete requests DynamoDB processed")
    unprocessed: int = Field(description="left unprocessed after retrying (the rest)")
    complete: bool
    meta: dict[str, Any]


class ItemConflictOut(ErrorOut):
    current: ItemOut | None = Field(description="the item as it is now; null when there is none")
    yours: ItemOut | None = Field(description="what was to be written")


class RequestFormChoicesOut(BaseModel):
    operations: list[str]
    sort_key_operators: list[str]
    filter_operators: list[str]
    size_comparisons: list[str]
    value_types: list[str]
    type_names: list[str] = Field(description="the types attribute_type tests for")
    arity: dict[str, str] = Field(description='operator -> how many values: "0", "1", "2", "many"')
