"""The API's shapes: they check request bodies and make /openapi.json.

A data source's settings are made from the settings table (settings.SETTINGS), field by field,
with their types, bounds, choices and help, so a new setting reaches the API with no change here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

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
        return str, Field(description=setting.help)
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
    description: str | None = None


class DataSourceUpdate(Settings):
    name: str | None = None
    read_only: bool | None = None
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


class SessionOut(BaseModel):
    ok: bool
    version: str
    demo: bool
