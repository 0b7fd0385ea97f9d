"""The workspace: saved data sources and queries, and the history of runs.

    from dynaquery import Workspace

    ws = Workspace.open()                       # $DYNAQUERY_HOME/workspace.db, or DYNAQUERY_DATABASE_URL
    ws.add_datasource("local", endpoint_url="http://localhost:8000", region="us-east-1",
                      access_key_id="x", secret_access_key="y")
    ws.save_query("team", "local", "Query", '{"TableName": "users", ...{{ team }}...}')
    result = ws.run_query("team", {"team": "team_1"})

Secrets are sealed with the workspace's key (dynaquery.encryption) and only opened to connect.
Every run through the workspace is recorded in the history: what ran, where, when, how long, how
it ended, how many items; never item data, parameter values or secrets.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import sqlalchemy as sa

from . import store, templates
from .connection import Connection, ConnectionConfig, Diagnosis
from .errors import (
    ConfigurationError,
    Conflict,
    DynaqueryError,
    InputError,
    NotFound,
    ReadOnlyError,
    ServiceError,
    ValidationError,
)
from .settings import SECRET_FIELDS, keep_stored_secrets, masked
from .validation import did_you_mean

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from .request import Request

MAX_CONNECTIONS = 64
MAX_FOUND = 4096  # rows kept by _lookup
EXPORT_VERSION = 1
# The settings a data source keeps besides its secrets: every field of ConnectionConfig.
SETTING_FIELDS = tuple(
    f.name
    for f in dataclasses.fields(ConnectionConfig)
    if f.name not in SECRET_FIELDS and f.name != "read_only"
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class DataSource:
    """A saved connection. `config` holds no secrets; `secret_fields` names those stored."""

    id: str
    name: str
    config: ConnectionConfig
    read_only: bool = False
    description: str | None = None
    secret_fields: tuple[str, ...] = ()
    journal: bool = False  # the journal keeps written items' before and after images
    created_at: str = ""
    updated_at: str = ""

    def to_dict(self) -> dict:
        settings = {k: v for k, v in dataclasses.asdict(self.config).items() if k in SETTING_FIELDS}
        settings.update(masked({n: (n in self.secret_fields) or None for n in SECRET_FIELDS}))
        settings["auth"] = self.config.auth_method
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "read_only": self.read_only,
            "journal": self.journal,
            **settings,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass
class SavedQuery:
    id: str
    name: str
    datasource_id: str
    datasource: str
    operation: str
    params: str
    transform: str | None = None
    description: str | None = None
    defaults: dict = field(default_factory=dict)
    created_at: str = ""
    updated_at: str = ""

    @property
    def placeholders(self) -> list[str]:
        return list(templates.parse(self.params).names)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "datasource": self.datasource,
            "datasource_id": self.datasource_id,
            "operation": self.operation,
            "params": self.params,
            "transform": self.transform,
            "description": self.description,
            "defaults": self.defaults,
            "placeholders": self.placeholders,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass
class Run:
    """One entry of the history."""

    id: int
    started_at: str
    duration_ms: float | None
    operation: str
    outcome: str
    query: str | None = None
    datasource: str | None = None
    item_count: int | None = None
    error: str | None = None
    origin: str | None = None
    target: str | None = None  # what the call acted on: "table users", "tables a, b", ...
    ran_by: str | None = None  # a server's user, or "cli:<login>"
    # a write's journal: "undoable" (its items kept), "keys" (only its keys), "undone"
    journal: str | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class Workspace:
    """Saved data sources and queries, and the run history, in one database."""

    def __init__(self, engine: sa.Engine, key_file: Path, location: str):
        self.engine = engine
        self.key_file = key_file
        self.location = location  # the database, passwords hidden
        # Built connections by their settings: a botocore client costs far more than a call.
        self._connections: dict[tuple, Connection] = {}
        self._connections_lock = threading.Lock()
        self._box = None
        self.network_guard = None  # given to every Connection built (see Connection.network_guard)
        self._recorder = None  # a BackgroundRecorder once record_in_background() is called
        self._key_cache: dict[tuple, list[str]] = {}  # tables' key names (the journal's)
        # rows read by name or id, with the generation they were read under (_lookup)
        self._found: dict[tuple[str, str], tuple[str, Any]] = {}

    @classmethod
    def open(cls, url: str | None = None, home: str | Path | None = None) -> Workspace:
        """Open (creating or migrating as needed) the workspace at `url`, by default
        DYNAQUERY_DATABASE_URL, else workspace.db in `home` ($DYNAQUERY_HOME, or the user's data
        directory). The secrets key file lives in `home` too."""
        home_path = Path(home).expanduser() if home else store.default_home()
        url = url or store.default_url(home_path)
        engine = store.create_engine(url)
        store.migrate(engine)
        location = engine.url.render_as_string(hide_password=True)
        return cls(engine, home_path / "secret.key", location)

    def close(self) -> None:
        if self._recorder is not None:
            self._recorder.close()
        self.engine.dispose()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    # -- secrets -------------------------------------------------------------------------------

    @property
    def users(self):
        """The users of a team's server, their grants, tokens and sessions (users.py)."""
        from .users import Users

        return Users(self)

    @property
    def box(self):
        if self._box is None:
            from .encryption import open_box

            self._box = open_box(self.engine, self.key_file)
        return self._box

    def _seal(self, ds_id: str, secrets: dict[str, str]) -> str:
        return json.dumps(
            {
                name: self.box.seal(value, f"{ds_id}/{name}")
                for name, value in secrets.items()
                if value
            }
        )

    def _open_secrets(self, ds_id: str, sealed: str) -> dict[str, str]:
        stored = json.loads(sealed)
        return {name: self.box.open(value, f"{ds_id}/{name}") for name, value in stored.items()}

    # -- data sources --------------------------------------------------------------------------

    def add_datasource(
        self,
        name: str,
        *,
        read_only: bool = False,
        description: str | None = None,
        config: ConnectionConfig | None = None,
        journal: bool = False,
        **settings: Any,
    ) -> DataSource:
        """Save a new data source. Settings are ConnectionConfig's fields (secrets included)."""
        _check_text({"description": description})
        config = config or ConnectionConfig(**_known_settings(settings))
        config.read_only = read_only
        config.check()
        ds_id = str(uuid.uuid4())
        secrets = {n: getattr(config, n) for n in SECRET_FIELDS if getattr(config, n)}
        now = _now()
        row = {
            "id": ds_id,
            "name": name,
            "description": description,
            "settings": _settings_json(config),
            "secrets": self._seal(ds_id, secrets),
            "read_only": read_only,
            "journal": bool(journal),
            "created_at": now,
            "updated_at": now,
        }
        with store.transaction(self.engine, write=True) as db:
            self._claim_name(db, store.datasources, name)
            db.execute(store.datasources.insert().values(**row))
        return self._datasource_from_row(row)

    def datasources(self) -> list[DataSource]:
        with store.transaction(self.engine) as db:
            rows = db.execute(sa.select(store.datasources).order_by(store.datasources.c.name))
            return [self._datasource_from_row(r._mapping) for r in rows]

    def datasource(self, name_or_id: str) -> DataSource:
        return self._datasource_from_row(self._read(store.datasources, name_or_id))

    def update_datasource(
        self,
        name_or_id: str,
        *,
        name: str | None = None,
        read_only: bool | None = None,
        description: str | None = None,
        clear: Iterable[str] = (),
        journal: bool | None = None,
        **settings: Any,
    ) -> DataSource:
        """Change some settings of a data source. A secret not given keeps its stored value;
        `clear` names settings (secrets too) to reset."""
        settings = _known_settings(settings)
        _check_text({"description": description})
        _ = self.box  # checks the key in a transaction of its own: before this one starts
        with store.transaction(self.engine, write=True) as db:
            row = dict(self._get(db, store.datasources, name_or_id))
            ds_id = row["id"]
            current = self._datasource_from_row(row).config
            secrets = self._open_secrets(ds_id, row["secrets"])
            values = {**dataclasses.asdict(current), **secrets}
            for setting in clear:
                if setting not in values:
                    raise InputError(f"Unknown setting {setting!r} to clear.")
                values[setting] = ConnectionConfig.__dataclass_fields__[setting].default
            values.update({k: v for k, v in settings.items() if v is not None})
            if read_only is not None:
                values["read_only"] = read_only
            config = ConnectionConfig(**values)
            config.check()
            if name is not None and name != row["name"]:
                row["name"] = self._claim_name(db, store.datasources, name)
            if description is not None:
                row["description"] = description or None
            if journal is not None:
                row["journal"] = bool(journal)
            new_secrets = {n: getattr(config, n) for n in SECRET_FIELDS if getattr(config, n)}
            row.update(
                settings=_settings_json(config),
                secrets=self._seal(ds_id, new_secrets),
                read_only=config.read_only,
                updated_at=_now(),
            )
            db.execute(
                store.datasources.update().where(store.datasources.c.id == ds_id).values(**row)
            )
        return self._datasource_from_row(row)

    def remove_datasource(self, name_or_id: str, *, with_queries: bool = False) -> None:
        with store.transaction(self.engine, write=True) as db:
            row = self._get(db, store.datasources, name_or_id)
            used = (
                db.execute(
                    sa.select(store.queries.c.name)
                    .where(store.queries.c.datasource_id == row["id"])
                    .order_by(store.queries.c.name)
                )
                .scalars()
                .all()
            )
            if used and not with_queries:
                shown = ", ".join(used[:5]) + (
                    f" and {len(used) - 5} more" if len(used) > 5 else ""
                )
                raise Conflict(
                    f"The data source {row['name']!r} is used by {len(used)} saved "
                    f"quer{'y' if len(used) == 1 else 'ies'} ({shown}): remove them or "
                    "point them at another data source first, or remove them with it."
                )
            db.execute(store.queries.delete().where(store.queries.c.datasource_id == row["id"]))
            db.execute(store.datasources.delete().where(store.datasources.c.id == row["id"]))

    def connection_config(self, name_or_id: str, **overrides: Any) -> ConnectionConfig:
        """The data source's full settings, secrets opened; `overrides` replace saved settings."""
        with store.transaction(self.engine) as db:
            row = self._get(db, store.datasources, name_or_id)
        return self._config_from_row(row, overrides)

    def _datasource_and_row(self, name_or_id: str) -> tuple:
        """The data source and its stored row (for _config_from_row), read once: a run needs
        both."""
        row = self._read(store.datasources, name_or_id)
        return self._datasource_from_row(row), row

    def _config_from_row(self, row, overrides: dict) -> ConnectionConfig:
        narrowed = overrides.get("read_only") is True  # a read-only grant (users.py)
        if row["read_only"] and overrides.pop("read_only", True) is False:
            raise InputError(
                f"The data source {row['name']!r} is read-only; an override cannot "
                "lift that (change it with `datasource edit --read-write`)."
            )
        overrides.pop("read_only", None)
        values = {
            **dataclasses.asdict(self._datasource_from_row(row).config),
            **self._open_secrets(row["id"], row["secrets"]),
        }
        values.update({k: v for k, v in _known_settings(overrides).items() if v is not None})
        values["read_only"] = bool(row["read_only"]) or narrowed
        return ConnectionConfig(**values)

    def connect(self, name_or_id: str, **overrides: Any) -> Connection:
        """A connection to a saved data source, reused while its settings stay the same."""
        return self._connection_for(self.connection_config(name_or_id, **overrides))

    def _connection_for(self, config: ConnectionConfig) -> Connection:
        key = tuple(vars(config).values())  # flat values: astuple's deep copy cost more
        with self._connections_lock:
            connection = self._connections.get(key)
            if connection is None:
                connection = Connection(config)
                connection.network_guard = self.network_guard
                _ = connection.client  # built under the lock: a botocore session is not thread-safe
                if len(self._connections) >= MAX_CONNECTIONS:
                    self._connections.clear()
                self._connections[key] = connection
        return connection

    def test_datasource(self, name_or_id: str, **overrides: Any) -> Diagnosis:
        return self.connect(name_or_id, **overrides).test()

    def table_names(self, name_or_id: str) -> list[str]:
        """Every table the data source's credentials list (all pages)."""
        return (
            self.connect(name_or_id)
            .run("ListTables", {}, all_pages=True)
            .data.get("TableNames", [])
        )

    def describe_table(self, name_or_id: str, table: str) -> dict:
        """The table's keys, indexes, counts, and a Query and a Scan to start from
        (tables.describe_table)."""
        from .tables import describe_table

        answer = self.connect(name_or_id).run("DescribeTable", {"TableName": table})
        return describe_table(answer.data["Table"])

    def test_settings(
        self, settings: dict[str, Any], *, secrets_of: str | None = None
    ) -> Diagnosis:
        """Test connection for settings not saved (a form being edited). With `secrets_of`, a
        saved data source, a secret left out or masked is its stored one (the mask rule);
        settings that are incomplete are a failed test, not an error."""
        stored = dataclasses.asdict(self.connection_config(secrets_of)) if secrets_of else {}
        merged = keep_stored_secrets(_known_settings(settings), stored)
        try:
            connection = Connection(
                ConnectionConfig(**{k: v for k, v in merged.items() if v is not None})
            )
        except ConfigurationError as error:
            return Diagnosis(False, error.message)
        connection.network_guard = self.network_guard
        return connection.test()

    def _datasource_from_row(self, row) -> DataSource:
        settings = json.loads(row["settings"])
        config = ConnectionConfig(**_known_settings(settings), read_only=bool(row["read_only"]))
        return DataSource(
            id=row["id"],
            name=row["name"],
            config=config,
            read_only=bool(row["read_only"]),
            journal=bool(row["journal"]),
            description=row["description"],
            secret_fields=tuple(sorted(json.loads(row["secrets"]))),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    # -- queries -------------------------------------------------------------------------------

    def save_query(
        self,
        name: str,
        datasource: str,
        operation: str,
        params: str | None = None,
        *,
        transform: str | None = None,
        description: str | None = None,
        defaults: dict[str, Any] | None = None,
    ) -> SavedQuery:
        """Save a query. It must parse and validate (placeholders without a default are allowed
        wherever a value goes); the parameter text is kept verbatim."""
        _check_name(name, "query")
        _check_text(
            {
                "description": description,
                "params": params,
                "transform": transform,
                "defaults": defaults,
            }
        )
        op_name = check_query(operation, params or "", transform, defaults).operation
        now = _now()
        with store.transaction(self.engine, write=True) as db:
            ds = self._get(db, store.datasources, datasource)
            self._claim_name(db, store.queries, name)
            row = {
                "id": str(uuid.uuid4()),
                "name": name,
                "datasource_id": ds["id"],
                "operation": op_name,
                "params": params or "",
                "transform": transform or None,
                "description": description or None,
                "defaults": _dumps(defaults or {}),
                "created_at": now,
                "updated_at": now,
            }
            db.execute(store.queries.insert().values(**row))
        return self._query_from_row(row, ds["name"])

    def queries(self, datasource: str | None = None) -> list[SavedQuery]:
        q, ds = store.queries, store.datasources
        statement = (
            sa.select(q, ds.c.name.label("datasource_name"))
            .join(ds, q.c.datasource_id == ds.c.id)
            .order_by(q.c.name)
        )
        with store.transaction(self.engine) as db:
            if datasource is not None:
                statement = statement.where(
                    q.c.datasource_id == self._get(db, ds, datasource)["id"]
                )
            return [
                self._query_from_row(r._mapping, r.datasource_name) for r in db.execute(statement)
            ]

    def query(self, name_or_id: str) -> SavedQuery:
        row = self._read(store.queries, name_or_id)
        ds = self._reused(store.datasources, row["datasource_id"])
        if ds is None:
            with store.transaction(self.engine) as db:
                ds = self._lookup(db, store.datasources, row["datasource_id"])
        return self._query_from_row(row, ds["name"] if ds is not None else None)

    def update_query(
        self,
        name_or_id: str,
        *,
        name: str | None = None,
        datasource: str | None = None,
        operation: str | None = None,
        params: str | None = None,
        transform: str | None = None,
        description: str | None = None,
        defaults: dict[str, Any] | None = None,
    ) -> SavedQuery:
        """Change a saved query. `transform=""` / `description=""` clear them; the result must
        still parse and validate."""
        _check_text(
            {
                "description": description,
                "params": params,
                "transform": transform,
                "defaults": defaults,
            }
        )
        with store.transaction(self.engine, write=True) as db:
            row = dict(self._get(db, store.queries, name_or_id))
            if name is not None and name != row["name"]:
                row["name"] = self._claim_name(db, store.queries, name)
            if datasource is not None:
                row["datasource_id"] = self._get(db, store.datasources, datasource)["id"]
            for key, value in (("operation", operation), ("params", params)):
                if value is not None:
                    row[key] = value
            for key, value in (("transform", transform), ("description", description)):
                if value is not None:
                    row[key] = value or None
            if defaults is not None:
                row["defaults"] = _dumps(defaults)
            row["operation"] = check_query(
                row["operation"], row["params"], row["transform"], _loads(row["defaults"])
            ).operation
            row["updated_at"] = _now()
            db.execute(store.queries.update().where(store.queries.c.id == row["id"]).values(**row))
            ds_name = db.execute(
                sa.select(store.datasources.c.name).where(
                    store.datasources.c.id == row["datasource_id"]
                )
            ).scalar()
        return self._query_from_row(row, ds_name)

    def remove_query(self, name_or_id: str) -> None:
        with store.transaction(self.engine, write=True) as db:
            row = self._get(db, store.queries, name_or_id)
            db.execute(store.queries.delete().where(store.queries.c.id == row["id"]))

    @staticmethod
    def _query_from_row(row, datasource_name: str) -> SavedQuery:
        return SavedQuery(
            id=row["id"],
            name=row["name"],
            datasource_id=row["datasource_id"],
            datasource=datasource_name,
            operation=row["operation"],
            params=row["params"],
            transform=row["transform"],
            description=row["description"],
            defaults=_loads(row["defaults"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    # -- running -------------------------------------------------------------------------------

    def render_query(self, name_or_id: str | SavedQuery, values: dict[str, Any] | None = None):
        """The saved query (given, or read by name or id) and its parameters with every
        placeholder filled (nothing sent)."""
        from .request import prepare

        saved = name_or_id if isinstance(name_or_id, SavedQuery) else self.query(name_or_id)
        params, _ = templates.parse(saved.params).render(values, saved.defaults)
        return saved, prepare(saved.operation, params)

    def run_query(
        self,
        name_or_id: str | SavedQuery,
        values: dict[str, Any] | None = None,
        *,
        transform: str | None = None,
        origin: str = "library",
        confirm: Callable[[Request], None] | None = None,
        overrides: dict[str, Any] | None = None,
        **options: Any,
    ):
        """Run a saved query with its placeholders filled from `values` (then its defaults).
        Its saved transformation applies, then `transform` if given. Recorded in the history.
        `confirm(request)` is called before a destructive call is sent (see `_run`);
        `overrides` replace saved settings (`read_only=True` narrows a data source to reads)."""
        saved = name_or_id if isinstance(name_or_id, SavedQuery) else self.query(name_or_id)
        started = time.time()
        given = {**saved.defaults, **(values or {})}  # what the history must not keep
        try:
            saved, request = self.render_query(saved, values)
            expression = _compose(saved.transform, transform)
        except DynaqueryError as error:
            try:
                params = templates.parse(saved.params).render(values, saved.defaults)[0]
            except DynaqueryError:
                params = saved.params
            self._record(
                started,
                saved.operation,
                saved.datasource_id,
                saved.datasource,
                error=error,
                query=saved,
                origin=origin,
                params=params,
                values=given,
            )
            raise
        return self._run(
            saved.datasource_id,
            request,
            expression,
            options,
            started,
            query=saved,
            overrides=overrides,
            origin=origin,
            confirm=confirm,
            values=given,
        )

    def run(
        self,
        datasource: str,
        operation: Any,
        params: Any = None,
        *,
        values: dict[str, Any] | None = None,
        overrides: dict[str, Any] | None = None,
        origin: str = "library",
        confirm: Callable[[Request], None] | None = None,
        **options: Any,
    ):
        """Run an unsaved query against a saved data source. Recorded in the history.
        A parameter text may hold `{{ placeholders }}`, filled from `values`.
        `confirm(request)` is called before a destructive call is sent (see `_run`)."""
        started = time.time()
        ds = self.datasource(datasource)
        _check_text({"operation": operation if isinstance(operation, str) else None})
        request = self._unsaved_request(ds, operation, params, values, started, origin)
        transform = options.pop("transform", None)
        return self._run(
            ds.id,
            request,
            transform,
            options,
            started,
            overrides=overrides,
            origin=origin,
            confirm=confirm,
            values=values,
        )

    def _unsaved_request(
        self,
        ds: DataSource,
        operation: Any,
        params: Any,
        values: dict[str, Any] | None,
        started: float,
        origin: str,
    ) -> Request:
        """The request of `run`, its placeholders filled; a mistake in it is recorded as a run."""
        from .request import Request

        try:
            if isinstance(operation, Request):
                if values:
                    raise InputError("'values' fill {{ }} placeholders in a parameter text.")
                return operation
            return prepare_filled(operation, params, values)
        except DynaqueryError as error:
            if isinstance(params, str):  # the history scrubs the filled values from the message
                try:
                    params = templates.parse(params).render(values or {})[0]
                except DynaqueryError:
                    pass
            self._record(
                started,
                str(getattr(operation, "name", operation)),
                ds.id,
                ds.name,
                error=error,
                origin=origin,
                params=params,
                values=values,
            )
            raise

    def _run(
        self,
        ds_id: str,
        request,
        transform,
        options,
        started,
        *,
        query=None,
        overrides=None,
        origin: str,
        confirm=None,
        values: dict | None = None,
    ):
        config = None
        ds, ds_row = self._datasource_and_row(ds_id)
        name = query.datasource if query else ds.name
        read_only = ds.read_only or (overrides or {}).get("read_only") is True
        # The caller's question before a call that deletes data or changes a table (the command
        # asks, the API wants "confirm"); its refusal is not a run. A read-only data source
        # refuses such a call itself, so nothing is asked.
        if (
            confirm is not None
            and not read_only
            and request.operation.is_destructive(request.params)
        ):
            confirm(request)
        plan = after = None
        try:
            config = self._config_from_row(ds_row, dict(overrides or {}))
            connection = self._connection_for(config)
            plan = None if read_only else self._journal_plan(connection, ds, request)  # no write
            result = connection.run(request, transform=transform, **options)
            after = self._journal_after(connection, plan)
        except DynaqueryError as error:
            if isinstance(error, ReadOnlyError):
                whose = "the data source" if ds.read_only else "your grant of the data source"
                error = ReadOnlyError(error.operation, f"{whose} {name!r}")
            if config is not None:
                error.message = config.redact(error.message)
            self._record(
                started,
                request.name,
                ds_id,
                name,
                error=error,
                query=query,
                origin=origin,
                params=request.params,
                values=values,
                target=request.operation.target(request.params),
            )
            raise error from None
        self._record(
            started,
            request.name,
            ds_id,
            name,
            result=result,
            query=query,
            origin=origin,
            journal=(plan, after, ds) if plan is not None else None,
            target=request.operation.target(request.params),
        )
        return result

    # -- the journal of writes, and undo (journal.py) ------------------------------------------

    def _journal_plan(self, connection: Connection, ds: DataSource, request):
        """What a write is journaled as (None for a read); with the data source's journal on,
        the items as they are before it."""
        from . import journal

        return journal.plan(
            connection, request, lambda table: self._table_key_names(connection, table), ds.journal
        )

    def _journal_after(self, connection: Connection, plan):
        from . import journal

        if plan is None or plan.before is None:
            return None
        try:
            return journal.read_items(connection, plan.keys)
        except DynaqueryError as error:  # the write is done: the journal says what is missing
            plan.note = f"the items after the write could not be read: {error.message}"
            return None

    def _table_key_names(self, connection: Connection, table: str) -> list[str]:
        """A table's key attribute names, partition key first (DescribeTable, once a table)."""
        key = (id(connection), table)
        if key not in self._key_cache:
            schema = connection.call("DescribeTable", {"TableName": table})["Table"]["KeySchema"]
            names = [k["AttributeName"] for k in sorted(schema, key=lambda k: k["KeyType"])]
            self._key_cache[key] = names  # HASH sorts before RANGE
        return self._key_cache[key]

    def journal_of(self, run_id: int) -> list[dict]:
        """What the journal kept of a run: who, the tables, the keys (no item images)."""
        from . import journal

        self._flush_history()
        with store.transaction(self.engine) as db:
            rows = journal.entries_of(db, run_id)
        return [
            {
                "run": r.run_id,
                "at": r.at,
                "who": r.who,
                "datasource": r.datasource_name,
                "operation": r.operation,
                "tables": json.loads(r.tables),
                "keys": None if r.keys is None else [k for _, k in json.loads(r.keys)],
                "images": r.images is not None,
                "note": r.note,
                "undone_at": r.undone_at,
            }
            for r in rows
        ]

    def undo_plan(self, run_id: int) -> list[tuple[str, dict, Any, Any]]:
        """The items run `run_id` wrote, as (table, key, before, after); InputError when the
        journal cannot undo it (its journal was off, its keys unknown, undone already)."""
        from . import journal

        with store.transaction(self.engine) as db:
            rows = journal.entries_of(db, run_id)
        images = []
        for row in rows:
            images += journal.images_of(row, self.box.open)
        return images

    def undo(self, run_id: int, *, origin: str = "library") -> dict:
        """Put back every item run `run_id` wrote, each on the condition that it is still what the
        run left; an item changed since is left alone and listed with both versions."""
        from . import items, journal

        with store.transaction(self.engine) as db:
            rows = journal.entries_of(db, run_id)
        report = {"run": run_id, "restored": 0, "unchanged": 0, "conflicts": []}
        for row in rows:
            for table, key, before, after in journal.images_of(row, self.box.open):
                request = journal.undo_request(table, key, before, after)
                if request is None:
                    report["unchanged"] += 1
                    continue
                try:
                    self.run(row.datasource_id, *request, origin=origin)
                    report["restored"] += 1
                except ServiceError as error:
                    if not items.is_conflict(error):
                        raise
                    now = self.connect(row.datasource_id).call(*items.get_request(table, key))
                    conflict = {"table": table, "key": key, "left": after, "now": now.get("Item")}
                    report["conflicts"].append(conflict)
        with store.transaction(self.engine, write=True) as db:
            db.execute(
                store.journal.update()
                .where(store.journal.c.run_id == run_id)
                .values(undone_at=_now())
            )
        return report

    def transfer_journal(self, datasource: str, table: str, mode: str, *, resumed: bool = False):
        """What an import or a copy into a saved data source tells the journal as it writes
        (journal.Written): the keys, and the items too when the data source's journal is on."""
        from . import journal

        images = self.datasource(datasource).journal
        return journal.Written(table, mode, images=images, resumed=resumed)

    def record_transfer(
        self,
        datasource: str,
        operation: str,
        written,
        *,
        started: float,
        counts: str,
        failed: int = 0,
        error: DynaqueryError | None = None,
        origin: str = "cli",
    ) -> int | None:
        """Record an import or a copy (`operation`: "Import", "Copy") into a saved data source:
        a run (ok; incomplete when `failed` items failed; error) and, when it wrote anything, its
        journal entry (journal.transfer_entry, with `counts`). The run's id, None when the history
        could not keep it (said in the log: the items are written all the same)."""
        try:
            return self._record_transfer(
                datasource, operation, written, started, counts, failed, error, origin
            )
        except (DynaqueryError, sa.exc.SQLAlchemyError) as failure:
            reason = _history_failure(failure)
            logger.warning("The %s was not recorded in the history: %s", operation, reason)
            return None

    def _record_transfer(
        self, datasource, operation, written, started, counts, failed, error, origin
    ) -> int:
        from . import journal

        ds = self.datasource(datasource)
        params = {"TableName": written.table}
        row = _run_row(
            started,
            operation,
            ds.id,
            ds.name,
            outcome="error" if error else "incomplete" if failed else "ok",
            count=written.count,
            duration=round((time.time() - started) * 1000, 3),
            origin=origin,
            error=history_message(error, "BatchWriteItem", params) if error else None,
            target=f"table {written.table}",
        )
        entry = None
        if written.count:  # sealed first: the key's check opens a transaction of its own
            who = _who(origin)
            entry = journal.transfer_entry(
                written, who=who, ds=ds, operation=operation, counts=counts, seal=self.box.seal
            )
        with store.transaction(self.engine, write=True, append_only=True) as db:
            run_id = db.execute(store.runs.insert().values(**_fitted(store.runs, row)))
            run_id = run_id.inserted_primary_key[0]
            if entry is not None:
                journal.write_entry(db, {**entry, "run_id": run_id})
        return run_id

    # -- code and cost before running ----------------------------------------------------------

    def code(
        self,
        datasource: str,
        operation: str,
        params: Any,
        language: str,
        values: dict[str, Any] | None = None,
        *,
        with_connection: bool = True,
    ) -> str:
        """The program that sends the unsaved query, placeholders filled, to the data source's
        endpoint and region (codegen.for_config: no secret is opened or written). Nothing sent.
        `with_connection=False`: neither (the program takes the SDK's own region), for someone
        who may not see the data source's settings."""
        from .codegen import for_config, generate

        request = prepare_filled(operation, params, values)
        config = self.datasource(datasource).config
        if not with_connection:
            return generate(request, language, endpoint_url=None, region=None)
        return for_config(request, language, config)

    def explain(
        self,
        datasource: str,
        operation: str,
        params: Any,
        values: dict[str, Any] | None = None,
    ) -> dict:
        """What the unsaved query would do (explain.explain): the typed request and, for a Scan
        or a Query, its cost and advice. Sends DescribeTable only; not recorded in the history."""
        from .explain import explain

        request = prepare_filled(operation, params, values)
        return explain(self.connect(datasource), request)

    # -- history -------------------------------------------------------------------------------

    def _record(
        self,
        started: float,
        operation: str,
        ds_id: str | None,
        ds_name: str | None,
        *,
        result=None,
        error: DynaqueryError | None = None,
        query: SavedQuery | None = None,
        origin: str = "library",
        params: Any = None,
        values: dict[str, Any] | None = None,
        journal: tuple | None = None,
        target: str | None = None,
    ) -> None:
        """Record a run. An error is kept as `history_message` makes it of the request's
        `params` and placeholder `values`: never with a value in it. `journal`: (plan, the
        items after, the data source) of a write, journaled with its run in one transaction."""
        if result is not None:
            outcome = "ok" if result.complete else "incomplete"
            count = result.meta.get("count")
            duration = result.meta.get("duration_ms")
        else:
            outcome, count = "error", None
            duration = round((time.time() - started) * 1000, 3)
        row = _run_row(
            started,
            operation,
            ds_id,
            ds_name,
            outcome=outcome,
            count=count,
            duration=duration,
            origin=origin,
            error=history_message(error, operation, params, values) if error else None,
            target=target,
            query=query,
        )
        if self._recorder is not None and journal is None:
            self._recorder.record(_fitted(store.runs, row))
            return
        try:
            if journal is None:
                self._write_runs([_fitted(store.runs, row)])
            else:
                self._write_journaled_run(_fitted(store.runs, row), *journal, origin=origin)
        except (DynaqueryError, sa.exc.SQLAlchemyError) as failure:
            # The call itself is done (maybe a write): a history that cannot keep it must not
            # turn its result into an error. Said in the result's meta and the log.
            reason = _history_failure(failure)
            logger.warning("The run of %s was not recorded in the history: %s", operation, reason)
            if result is not None:
                result.meta["history"] = f"not recorded: {reason}"

    def record_in_background(self) -> None:
        """Write the history from a thread of its own, in batches (recorder.py): for a server,
        whose requests then never wait for the database's write lock to record a run."""
        from .recorder import BackgroundRecorder

        if self._recorder is None:
            self._recorder = BackgroundRecorder(self._write_runs)

    def _write_journaled_run(self, row: dict, plan, after, ds, *, origin: str) -> None:
        from . import journal

        # sealed first: the key's check opens a transaction of its own
        entry = journal.entry(
            plan, after, who=_who(origin), ds=ds, operation=row["operation"], seal=self.box.seal
        )
        with store.transaction(self.engine, write=True, append_only=True) as db:
            entry["run_id"] = db.execute(store.runs.insert().values(**row)).inserted_primary_key[0]
            journal.write_entry(db, entry)

    def _write_runs(self, rows: list[dict]) -> None:
        with store.transaction(self.engine, write=True, append_only=True) as db:
            db.execute(store.runs.insert(), rows)

    def _flush_history(self) -> None:
        if self._recorder is not None:
            self._recorder.flush()

    def history(
        self,
        *,
        limit: int | None = 50,
        query: str | None = None,
        datasource: str | None = None,
        operation: str | None = None,
        outcome: str | None = None,
        since: str | None = None,
        ran_by: str | None = None,
    ) -> list[Run]:
        """Runs, newest first. `since`: an ISO time or a span like 30m, 12h, 7d; `ran_by`: only
        the runs of that user."""
        r = store.runs
        statement = sa.select(r).order_by(r.c.started_at.desc(), r.c.id.desc())
        for condition in self._history_filters(query, datasource, operation, outcome, since):
            statement = statement.where(condition)
        if ran_by is not None:
            statement = statement.where(r.c.ran_by == ran_by)
        if limit:
            statement = statement.limit(limit)
        self._flush_history()
        with store.transaction(self.engine) as db:
            runs = [self._run_from_row(row) for row in db.execute(statement)]
            _add_journal_states(db, runs)
            return runs

    def _history_filters(
        self,
        query: str | None,
        datasource: str | None,
        operation: str | None,
        outcome: str | None,
        since: str | None,
    ) -> list[sa.ColumnElement[bool]]:
        """The conditions of `history`'s filters. A saved query or data source matches by the
        name or id it ran under, or by the id its name has now (history follows renames)."""
        r = store.runs
        conditions = []
        if query:
            conditions.append(self._ran_under(r.c.query_name, r.c.query_id, store.queries, query))
        if datasource:
            conditions.append(
                self._ran_under(
                    r.c.datasource_name, r.c.datasource_id, store.datasources, datasource
                )
            )
        if operation and operation.capitalize() in ("Import", "Copy"):  # journal.TRANSFERS
            conditions.append(r.c.operation == operation.capitalize())
        elif operation:
            from .catalog import catalog

            conditions.append(r.c.operation == catalog().get(operation).name)
        if outcome:
            if outcome not in ("ok", "incomplete", "error"):
                raise InputError(f"Unknown outcome {outcome!r}: use ok, incomplete or error.")
            conditions.append(r.c.outcome == outcome)
        if since:
            conditions.append(r.c.started_at >= _since(since))
        return conditions

    @staticmethod
    def _run_from_row(row) -> Run:
        """The entry of a row of the runs table."""
        return Run(
            id=row.id,
            started_at=row.started_at,
            duration_ms=row.duration_ms,
            operation=row.operation,
            outcome=row.outcome,
            query=row.query_name,
            datasource=row.datasource_name,
            item_count=row.item_count,
            error=row.error,
            origin=row.origin,
            target=row.target,
            ran_by=row.ran_by,
        )

    def clear_history(self, before: str | None = None) -> int:
        self._flush_history()
        with store.transaction(self.engine, write=True) as db:
            statement = store.runs.delete()
            if before:
                statement = statement.where(store.runs.c.started_at < _since(before))
            return db.execute(statement).rowcount

    # -- items (the item editor): items.py builds the requests, which run as any run does -------

    def get_item(
        self, datasource: str, table: str, key: str | dict, *, origin: str = "library"
    ) -> dict | None:
        """The item of `key` (typed or plain values) as it is now, typed; None if there is none."""
        from . import items
        from .request import prepare

        request = prepare(*items.get_request(table, items.typed_image(key, "key")))
        found = self.run(datasource, request, origin=origin).raw.get("Item")
        return items.typed_image(found) if found else None

    def save_item(
        self,
        datasource: str,
        table: str,
        loaded: dict,
        item: str | dict,
        *,
        view: str = "plain",
        origin: str = "library",
    ) -> dict:
        """Write `item` (edited in `view`, see items.edited_item) over `loaded` (the typed item
        as it was read): only what changed, on the condition that the item is still `loaded`.
        The item as saved, typed; ItemConflict, with both versions, when it is not."""
        from . import items

        self._writable(datasource, "UpdateItem")
        guide = items.typed_image(loaded, "loaded")
        edited = items.edited_item(view, item, guide)
        key_names = self._key_names(datasource, table)
        built = items.save_request(table, key_names, guide, edited)
        if built is None:  # nothing to write: the item as it is now, if it is still as loaded
            return self._unchanged_item(datasource, table, guide, key_names, origin)
        result = self._write_item(datasource, table, built, key_names, edited, origin)
        return items.typed_image(result.raw.get("Attributes") or {})

    def _unchanged_item(self, datasource, table, loaded, key_names, origin) -> dict:
        from . import items
        from .errors import ItemConflict

        key = items.key_of(loaded, key_names)
        current = self.get_item(datasource, table, key, origin=origin)
        if current is not None and items.same_item(current, loaded):
            return current
        message = "The item was changed or deleted by someone else since it was loaded."
        raise ItemConflict(message, items.views(current), items.views(loaded))

    def create_item(
        self,
        datasource: str,
        table: str,
        item: str | dict,
        *,
        view: str = "plain",
        like: dict | None = None,
        origin: str = "library",
    ) -> dict:
        """Put a new item, refused (ItemConflict) when one has its key. `like`: the typed item
        it duplicates, the guide of types of a plain view. The item written, typed."""
        from . import items

        self._writable(datasource, "PutItem")
        guide = items.typed_image(like, "like") if like else None
        typed = items.edited_item(view, item, guide)
        key_names = self._key_names(datasource, table)
        built = items.create_request(table, key_names, typed)
        self._write_item(datasource, table, built, key_names, typed, origin)
        return typed

    def delete_items(
        self,
        datasource: str,
        table: str,
        keys: list,
        *,
        confirm: Callable[[Request], None] | None = None,
        origin: str = "library",
        batch_timeout: float = 60.0,
    ):
        """Delete the items of `keys` with BatchWriteItem (split and retried by execution.py);
        `confirm(request)` is asked first, as for any destructive run. Its Result, with the
        number of delete requests in meta["requests"] (meta["unprocessed"]: those left)."""
        from . import items
        from .request import prepare

        self._writable(datasource, "BatchWriteItem")
        typed = [items.typed_image(key, f"keys[{i}]") for i, key in enumerate(keys)]
        request = prepare(*items.delete_request(table, self._key_names(datasource, table), typed))
        result = self.run(
            datasource, request, origin=origin, confirm=confirm, batch_timeout=batch_timeout
        )
        result.meta["requests"] = len(request.params["RequestItems"][table])  # keys, once each
        return result

    def _key_names(self, datasource: str, table: str) -> list[str]:
        return self._table_key_names(self.connect(datasource), table)

    def _writable(self, datasource: str, operation: str) -> None:
        """A read-only data source refuses the editor's writes before anything is read."""
        ds = self.datasource(datasource)
        if ds.read_only:
            raise ReadOnlyError(operation, f"the data source {ds.name!r}")

    def _write_item(self, datasource, table, built, key_names, yours, origin):
        """Run a conditional write; its condition failing is an ItemConflict carrying the item
        as it is now (read again, consistently) and what was to be written."""
        from . import items
        from .errors import ItemConflict
        from .request import prepare

        try:
            return self.run(datasource, prepare(*built), origin=origin)
        except DynaqueryError as error:
            if not items.is_conflict(error):
                raise
        key = items.key_of(yours, key_names)
        current = self.get_item(datasource, table, key, origin=origin)
        if built[0] == "PutItem":
            message = "An item with this key exists already: nothing was written."
        else:
            message = (
                "The item was changed or deleted by someone else since it was loaded: nothing "
                "was written. Compare the two versions, then save yours over the current one "
                "or keep the current one."
            )
        raise ItemConflict(message, items.views(current), items.views(yours))

    # -- export / import -----------------------------------------------------------------------

    def export(self) -> dict:
        """Data sources (without secrets) and queries, for version control."""
        sources = []
        for ds in self.datasources():
            settings = {
                k: v
                for k, v in dataclasses.asdict(ds.config).items()
                if k in SETTING_FIELDS and v != ConnectionConfig.__dataclass_fields__[k].default
            }
            entry = {
                "name": ds.name,
                **({"description": ds.description} if ds.description else {}),
                "read_only": ds.read_only,
                **({"journal": True} if ds.journal else {}),
                "settings": settings,
            }
            sources.append(entry)
        queries = []
        for q in self.queries():
            entry = {
                "name": q.name,
                "datasource": q.datasource,
                "operation": q.operation,
                "params": q.params,
            }
            for key in ("transform", "description"):
                if getattr(q, key):
                    entry[key] = getattr(q, key)
            if q.defaults:
                entry["defaults"] = q.defaults
            queries.append(entry)
        return {"dynaquery_workspace": EXPORT_VERSION, "datasources": sources, "queries": queries}

    def import_(self, data: Any, *, on_conflict: str = "error") -> dict[str, int]:
        """Import an export. on_conflict: 'error' (nothing is written if a name exists), 'skip'
        or 'replace' (a replaced data source keeps its stored secrets). All or nothing."""
        if on_conflict not in ("error", "skip", "replace"):
            raise InputError("on_conflict must be 'error', 'skip' or 'replace'.")
        sources, queries = _check_export(data)
        with store.transaction(self.engine, write=True) as db:
            writer = _ImportWriter(db, on_conflict)
            for entry in sources:
                writer.datasource(entry)
            for entry in queries:
                writer.query(entry)
        return writer.counts

    # -- settings (the server keeps its token here) --------------------------------------------

    def get_setting(self, key: str) -> str | None:
        with store.transaction(self.engine) as db:
            return db.execute(
                sa.select(store.settings.c.value).where(store.settings.c.key == key)
            ).scalar()

    def set_setting(self, key: str, value: str) -> None:
        with store.transaction(self.engine, write=True) as db:
            db.execute(store.settings.delete().where(store.settings.c.key == key))
            db.execute(store.settings.insert().values(key=key, value=value))

    # -- lookups -------------------------------------------------------------------------------

    def _ran_under(self, name_column, id_column, table: sa.Table, name: str):
        """Runs made under `name` (a name or an id), or under the id that name has now. A name
        that is not saved matches no id (comparing with None would match every run without one)."""
        alternatives = [name_column == name, id_column == name]
        saved_id = self._id_of(table, name)
        if saved_id is not None:
            alternatives.append(id_column == saved_id)
        return sa.or_(*alternatives)

    def _id_of(self, table: sa.Table, name: str) -> str | None:
        """The id of a saved name (history follows renames), or None."""
        with store.transaction(self.engine) as db:
            row = self._find(db, table, name)
        return row["id"] if row is not None else None

    @staticmethod
    def _find(db: sa.Connection, table: sa.Table, name_or_id: str):
        if (
            not isinstance(name_or_id, str)
            or not name_or_id.isascii()
            and not _storable(name_or_id)
        ):
            return None  # no saved name holds a lone surrogate
        # One statement for both: a row named so comes before one of that id.
        rows = db.execute(
            sa.select(table).where(sa.or_(table.c.name == name_or_id, table.c.id == name_or_id))
        ).all()
        rows.sort(key=lambda r: r.name != name_or_id)
        return rows[0]._mapping if rows else None

    def _claim_name(self, db: sa.Connection, table: sa.Table, name: str) -> str:
        """A valid name no other row of `table` has (inside the transaction that will use it)."""
        what = "data source" if table is store.datasources else "query"
        _check_name(name, what)
        if self._find(db, table, name) is not None:
            command = "datasource" if table is store.datasources else "query"
            raise Conflict(
                f"A {what} named {name!r} already exists (change it with "
                f"`{command} edit`, or remove it first)."
            )
        return name

    def _read(self, table: sa.Table, name_or_id: str):
        """The row of `table` named so (or of that id), NotFound otherwise; within a server's
        request, what it already read under the same generation is reused."""
        row = self._reused(table, name_or_id)
        if row is not None:
            return row
        with store.transaction(self.engine) as db:
            return self._get(db, table, name_or_id)

    def _reused(self, table: sa.Table, name_or_id: str):
        """What this request read already, when it knows its generation (no transaction)."""
        generation = store.known_generation()
        found = self._found.get((table.name, name_or_id))
        if generation is not None and found is not None and found[0] == generation:
            return found[1]
        return None

    def _lookup(self, db: sa.Connection, table: sa.Table, name_or_id: str):
        """_find, reusing within a server's request what was read under the same generation
        (store.request_scope); a writer always reads afresh."""
        writing = db.get_execution_options().get("write")
        generation = None if writing else store.scope_generation(db)
        if generation is None:
            return self._find(db, table, name_or_id)
        key = (table.name, name_or_id)
        found = self._found.get(key)
        if found is not None and found[0] == generation:
            return found[1]
        row = self._find(db, table, name_or_id)
        if row is not None:
            if len(self._found) > MAX_FOUND:
                self._found.clear()
            self._found[key] = (generation, row)
        return row

    def _get(self, db: sa.Connection, table: sa.Table, name_or_id: str):
        row = self._lookup(db, table, name_or_id)
        if row is None:
            what = "data source" if table is store.datasources else "query"
            names = db.execute(sa.select(table.c.name)).scalars().all()
            hint = did_you_mean(name_or_id, names)
            known = f" (saved: {', '.join(sorted(names)[:10])})" if names and not hint else ""
            # "did you mean 'x'?" ends the sentence itself
            ending = f"; {hint}" if hint else f"{known}."
            raise NotFound(f"No {what} named {name_or_id!r}{ending}")
        return row


class _ImportWriter:
    """The rows of one `import_`, written in its transaction: what was written and skipped, and
    the data sources' ids by name (the file's queries point at them)."""

    def __init__(self, db: sa.Connection, on_conflict: str):
        self.db = db
        self.on_conflict = on_conflict
        self.counts = {"datasources": 0, "queries": 0, "skipped": 0}
        self.ids: dict[str, str] = {}

    def datasource(self, entry: dict) -> None:
        existing = self._existing(store.datasources, "datasources", entry["name"])
        self.ids[entry["name"]] = existing["id"] if existing is not None else str(uuid.uuid4())
        if existing is not None and self.on_conflict == "skip":
            self.counts["skipped"] += 1
            return
        config = ConnectionConfig(**entry["settings"], read_only=entry["read_only"])
        now = _now()
        row = {
            "name": entry["name"],
            "description": entry.get("description"),
            "settings": _settings_json(config),
            "read_only": entry["read_only"],
            "journal": entry["journal"],
            "updated_at": now,
        }
        # A new data source has no secrets; a replaced one keeps its own.
        self._write(store.datasources, existing, row, self.ids[entry["name"]], secrets="{}")
        self.counts["datasources"] += 1

    def query(self, entry: dict) -> None:
        ds_id = self.ids.get(entry["datasource"])
        if ds_id is None:
            found = Workspace._find(self.db, store.datasources, entry["datasource"])
            if found is None:
                raise NotFound(
                    f"queries: {entry['name']!r} uses the data source "
                    f"{entry['datasource']!r}, which is neither in the file "
                    "nor in the workspace."
                )
            ds_id = found["id"]
        existing = self._existing(store.queries, "queries", entry["name"])
        if existing is not None and self.on_conflict == "skip":
            self.counts["skipped"] += 1
            return
        now = _now()
        row = {
            "name": entry["name"],
            "datasource_id": ds_id,
            "operation": entry["operation"],
            "params": entry["params"],
            "transform": entry.get("transform"),
            "description": entry.get("description"),
            "defaults": _dumps(entry.get("defaults") or {}),
            "updated_at": now,
        }
        self._write(store.queries, existing, row)
        self.counts["queries"] += 1

    def _existing(self, table: sa.Table, section: str, name: str):
        """The saved row of that name, or None; with on_conflict 'error', a Conflict."""
        existing = Workspace._find(self.db, table, name)
        if existing is not None and self.on_conflict == "error":
            raise Conflict(f"{section}: {name!r} already exists; import with skip or replace.")
        return existing

    def _write(
        self, table: sa.Table, existing, row: dict, new_id: str | None = None, **new_only: Any
    ) -> None:
        """Update the existing row, or insert a new one (with `new_only`'s columns too)."""
        if existing is None:
            self.db.execute(
                table.insert().values(
                    id=new_id or str(uuid.uuid4()), created_at=row["updated_at"], **new_only, **row
                )
            )
        else:
            self.db.execute(table.update().where(table.c.id == existing["id"]).values(**row))


# ---------------------------------------------------------------------------------------------
# helpers


def prepare_filled(operation: str, params: Any, values: dict[str, Any] | None = None) -> Request:
    """An unsaved query's request: a parameter text's {{ placeholders }} filled from `values`,
    then parsed and checked (request.prepare). What a run, its code and its explanation send."""
    from .request import prepare

    if isinstance(params, str):
        template = templates.parse(params)
        if template.names or values:
            params, _ = template.render(values or {})
    elif values:
        raise InputError(
            "'values' fill {{ }} placeholders in a parameter text; the parameters here are an "
            "object."
        )
    return prepare(operation, params)


class CheckedQuery(NamedTuple):
    operation: str  # the operation's API name
    placeholders: list[str]


def check_query(
    operation: str, params: str, transform: str | None, defaults: dict[str, Any] | None
) -> CheckedQuery:
    """Check a query for saving, as `run` would. Placeholders take their defaults; those without
    one are accepted wherever a value can go."""
    from .catalog import catalog
    from .request import prepare
    from .results import compile_transform

    op = catalog().get(operation)
    template = templates.parse(params)
    unknown = sorted(set(defaults or {}) - set(template.names))
    if unknown:
        raise InputError(
            f"A default is given for {unknown[0]!r}, which the query does not use "
            f"(it uses: {', '.join(template.names) or 'no placeholders'})."
        )
    tree, holes = template.render(None, defaults, missing_ok=True)
    open_holes = [path for path, name in holes if name not in (defaults or {})]
    try:
        prepare(op, tree)
    except ValidationError as error:
        kept = [p for p in error.problems if not any(_under(p.path, h) for h in open_holes)]
        if kept:
            raise ValidationError(op.name, kept) from None
    if transform:
        compile_transform(transform)
    return CheckedQuery(op.name, list(template.names))


def _under(path: str, hole: str) -> bool:
    return path == hole or path.startswith(hole + ".") or path.startswith(hole + "[")


def _compose(saved: str | None, extra: str | None) -> str | None:
    if saved and extra:
        return f"({saved}) | {extra}"
    return saved or extra


def _add_journal_states(db: sa.Connection, runs: list[Run]) -> None:
    """Each journaled write's state: undoable, keys (only), undone."""
    j = store.journal
    ids = [run.id for run in runs]
    statement = sa.select(j.c.run_id, j.c.images.is_not(None), j.c.undone_at).where(
        j.c.run_id.in_(ids)
    )
    states = {}
    for run_id, has_images, undone_at in db.execute(statement) if ids else ():
        states[run_id] = "undone" if undone_at else "undoable" if has_images else "keys"
    for run in runs:
        run.journal = states.get(run.id)


def _run_row(
    started: float,
    operation: str,
    ds_id: str | None,
    ds_name: str | None,
    *,
    outcome: str,
    count: int | None,
    duration: float | None,
    origin: str,
    error: str | None,
    target: str | None,
    query: SavedQuery | None = None,
) -> dict:
    """A row of the runs table (its error already scrubbed by history_message)."""
    return {
        "started_at": datetime.fromtimestamp(started, UTC)
        .isoformat(timespec="microseconds")
        .replace("+00:00", "Z"),
        "duration_ms": duration,
        "query_id": query.id if query else None,
        "query_name": query.name if query else None,
        "datasource_id": ds_id,
        "datasource_name": ds_name,
        "operation": operation,
        "outcome": outcome,
        "item_count": count,
        "origin": origin,
        "error": error,
        "target": target or None,
        "ran_by": _who(origin),
    }


def _who(origin: str) -> str:
    """Who made a run: the server's signed-in user (users.acting_as), else the API's token, or
    the command's (or library's) OS user."""
    from .users import acting

    if acting():
        return acting()
    if origin == "api":
        return "api"
    import getpass

    try:
        return f"{origin}:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in this environment
        return origin


def _fitted(table: sa.Table, row: dict[str, Any]) -> dict[str, Any]:
    """`row` with its text cut to its columns' lengths (PostgreSQL refuses longer text; a
    history row keeps what fits rather than nothing), and the NUL character dropped."""
    fitted = {}
    for name, value in row.items():
        if isinstance(value, str):
            value = value.replace("\x00", "")
            length = getattr(table.c[name].type, "length", None)
            if length and len(value) > length:
                value = value[: length - 1] + "…"
        fitted[name] = value
    return fitted


def _history_failure(failure: Exception) -> str:
    if isinstance(failure, sa.exc.SQLAlchemyError):
        orig = getattr(failure, "orig", None) or failure
        return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    return str(failure)


def _check_text(fields: dict[str, Any]) -> None:
    """Text the database can store: a lone surrogate (JSON's "\\ud800", or a command-line
    argument's bytes that were not UTF-8) is no character, and is refused naming its field."""
    from .inputs import lone_surrogate

    found = lone_surrogate(fields)
    if found:
        raise InputError(f"Invalid text in {found}.")


def _storable(text: str) -> bool:
    from .inputs import lone_surrogate

    return lone_surrogate(text) is None


# -- what the history keeps of an error ------------------------------------------------------

VALUE = "<value>"
# A quoted literal: 'x' or "x", not the apostrophe of "wasn't".
_QUOTED = re.compile(r"""(?<!\w)('[^'\n]*'|"[^"\n]*")(?!\w)""")
_PARTIQL_STRING = re.compile(r"'((?:[^']|'')*)'")
_PARTIQL_NAME = re.compile(r'"(?:[^"]|"")*"')
_PARTIQL_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])")


def history_message(
    error: DynaqueryError, operation: str, params: Any = None, values: dict[str, Any] | None = None
) -> str:
    """The error as the history keeps it: its message (with DynamoDB's error code) without any
    value of the request. Every value the request holds (item data, keys, PartiQL literals and
    parameters, placeholder values) is replaced by <value> wherever it occurs, and so is any
    other quoted literal that is not a name of the request (a table, an attribute, a parameter)."""
    try:
        return _history_message(error, operation, params, values)
    except Exception:  # noqa: BLE001 - recording must not fail the run; keep nothing then
        return f"{operation} failed: {getattr(error, 'code', None) or type(error).__name__}"


def _history_message(
    error: DynaqueryError, operation: str, params: Any, values: dict[str, Any] | None
) -> str:
    data: set[str] = set()
    names: set[str] = {operation}
    try:
        from .catalog import catalog

        shape = catalog().get(operation).input_shape
    except DynaqueryError:
        shape = None
    if isinstance(params, str):
        from .parsing import parse_params

        try:
            params = parse_params(params)
        except DynaqueryError:
            params = None
    if params is not None:
        _gather(params, shape, data, names)
    if shape is not None:
        names.update(_member_names(operation))
    _leaves(values or {}, data, names)
    return _scrub(error.message, data, names)


def _scrub(text: str, data: set[str], names: set[str]) -> str:
    found = sorted((v for v in data if v.strip()), key=len, reverse=True)
    if found:  # the longest first: a value inside another goes with it
        word = re.compile(r"\w")
        pattern = "|".join(
            (r"(?<!\w)" if word.match(v[0]) else "")
            + re.escape(v)
            + (r"(?!\w)" if word.match(v[-1]) else "")
            for v in found
        )
        text = re.sub(pattern, "\0", text)

    def quoted(match: re.Match) -> str:
        inner = match.group()[1:-1]
        if inner in names and inner not in data or not any(c.isalnum() for c in inner):
            return match.group()
        return match.group()[0] + "\0" + match.group()[-1]

    return _QUOTED.sub(quoted, text).replace("\0", VALUE)


def _gather(value: Any, shape: Any, data: set[str], names: set[str]) -> None:
    """The values (data) and names of a request's parameters, told apart by the service model:
    whatever stands where an AttributeValue goes, or where the model has no member, is data."""
    if shape is None or shape.name == "AttributeValue":
        _leaves(value, data, names)
    elif shape.type_name == "structure" and isinstance(value, dict):
        for key, member in value.items():
            names.add(key)
            _gather(member, shape.members.get(key), data, names)
    elif shape.type_name == "map" and isinstance(value, dict):
        for key, member in value.items():
            names.add(key)
            _gather(member, shape.value, data, names)
    elif shape.type_name == "list" and isinstance(value, list):
        for member in value:
            _gather(member, shape.member, data, names)
    elif shape.type_name == "string" and isinstance(value, str):
        if shape.name == "PartiQLStatement":
            _statement_literals(value, data, names)
        else:
            names.add(value)  # a table, index or attribute name, an expression, a token
    elif not (shape.type_name in ("integer", "long", "boolean") and isinstance(value, int)):
        _leaves(value, data, names)  # a Limit or a flag is no value; anything else may be


def _leaves(value: Any, data: set[str], names: set[str]) -> None:
    if isinstance(value, dict):
        names.update(k for k in value if isinstance(k, str))
        for member in value.values():
            _leaves(member, data, names)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for member in value:
            _leaves(member, data, names)
    elif isinstance(value, str):
        data.add(value)
    elif isinstance(value, (bytes, bytearray)):
        import base64

        data.add(base64.b64encode(value).decode())
    elif value is not None and not isinstance(value, bool):
        data.add(str(value))


def _statement_literals(statement: str, data: set[str], names: set[str]) -> None:
    """A PartiQL statement's string and number literals (its quoted names are names)."""
    for literal in _PARTIQL_STRING.findall(statement):
        data.update((literal, literal.replace("''", "'")))
    rest = _PARTIQL_NAME.sub(" ", _PARTIQL_STRING.sub(" ", statement))
    data.update(_PARTIQL_NUMBER.findall(rest))
    names.update(name[1:-1].replace('""', '"') for name in _PARTIQL_NAME.findall(statement))


@functools.cache
def _member_names(operation: str) -> frozenset[str]:
    """Every parameter name an operation's model knows (what a message may suggest)."""
    from .catalog import catalog

    found: set[str] = set()
    todo, seen = [catalog().get(operation).input_shape], set()
    while todo:
        shape = todo.pop()
        if shape is None or shape.name in seen or shape.name == "AttributeValue":
            continue
        seen.add(shape.name)
        if shape.type_name == "structure":
            found.update(shape.members)
            todo.extend(shape.members.values())
        elif shape.type_name == "list":
            todo.append(shape.member)
        elif shape.type_name == "map":
            todo.append(shape.value)
    return frozenset(found)


def _check_name(name: str, what: str) -> None:
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise InputError(f"A {what} name must be 1 to 200 characters.")
    _check_text({f"the {what} name": name})
    if name != name.strip() or any(c in name for c in "\n\r\t"):
        raise InputError(f"The {what} name {name!r} has leading/trailing spaces or a line break.")


_KEEP = object()  # a stored secret that a form left as it is


def settings_from_form(given: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A data source's settings as a form or a client sends them (the API's bodies): (the
    settings to set, the names to clear). A setting given as null is cleared; a secret follows
    the mask rule (settings.keep_stored_secrets): masked, null or left out keeps the stored
    one, "" clears it."""
    merged = keep_stored_secrets(given, {name: _KEEP for name in SECRET_FIELDS})
    settings = {k: v for k, v in merged.items() if v is not None and v is not _KEEP}
    return settings, [k for k, v in merged.items() if v is None and k in given]


def _known_settings(settings: dict[str, Any]) -> dict[str, Any]:
    known = sorted(set(SETTING_FIELDS) | set(SECRET_FIELDS))
    unknown = sorted(set(settings) - set(known))
    if unknown:
        hint = did_you_mean(unknown[0], known)
        ending = f"; {hint}" if hint else "."
        raise InputError(f"Unknown data source setting {unknown[0]!r}{ending}")
    return dict(settings)


def _settings_json(config: ConnectionConfig) -> str:
    return json.dumps({k: v for k, v in dataclasses.asdict(config).items() if k in SETTING_FIELDS})


def _dumps(value: Any) -> str:
    from .results import to_json

    return to_json(value, pretty=False)


def _dumps_pretty(value: Any) -> str:
    from .results import to_json

    return to_json(value)


def _loads(text: str | None) -> dict:
    from .parsing import loads

    return loads(text) if text else {}


def _since(value: str) -> str:
    import re

    match = re.fullmatch(r"(\d+)\s*([smhd])", value.strip())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        unit_name = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[unit]
        span = timedelta(**{unit_name: amount})
        return (datetime.now(UTC) - span).isoformat(timespec="microseconds").replace("+00:00", "Z")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"--since {value!r}: give a time (2026-11-23T10:00:00Z) or a span (30m, 12h, 7d)."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def dump_export(data: dict, fmt: str = "json") -> str:
    """An export as JSON or YAML text (parameter texts as YAML block scalars: diffs stay readable)."""
    if fmt == "json":
        from .results import to_json

        return to_json(data) + "\n"
    import yaml

    class _Dumper(yaml.SafeDumper):
        pass

    def text(dumper, value: str):
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    def decimal(dumper, value):
        return dumper.represent_scalar("tag:yaml.org,2002:float", str(value))

    from decimal import Decimal

    _Dumper.add_representer(str, text)
    _Dumper.add_representer(Decimal, decimal)
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=2**31)


def load_export(text: str, fmt: str = "json") -> Any:
    """Read an export's text; a syntax error names its line."""
    if fmt == "json":
        from .parsing import loads

        return loads(text)
    import yaml

    class _Loader(yaml.SafeLoader):
        pass

    def decimal(loader, node):  # exact numbers: 1.50 stays 1.50
        from decimal import Decimal, InvalidOperation

        value = loader.construct_scalar(node)
        try:
            number = Decimal(value.replace("_", ""))
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            raise InputError(
                f"Invalid YAML at line {node.start_mark.line + 1}: {value!r} is not "
                "a number DynamoDB can store."
            )
        return number

    _Loader.add_constructor("tag:yaml.org,2002:float", decimal)
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(
            f"Invalid YAML{where}: {getattr(error, 'problem', None) or error}"
        ) from None


def _check_export(data: Any) -> tuple[list[dict], list[dict]]:
    """Check an export's shape, naming the entry at fault."""
    if not isinstance(data, dict) or "dynaquery_workspace" not in data:
        raise InputError("Not a dynaquery workspace export (no 'dynaquery_workspace' key).")
    if data["dynaquery_workspace"] != EXPORT_VERSION:
        raise InputError(
            f"Unsupported export version {data['dynaquery_workspace']!r} "
            f"(this dynaquery reads version {EXPORT_VERSION})."
        )
    sources = data.get("datasources") or []
    queries = data.get("queries") or []
    if not isinstance(sources, list) or not isinstance(queries, list):
        raise InputError("'datasources' and 'queries' must be lists.")
    for i, entry in enumerate(sources):
        _check_export_datasource(f"datasources[{i}]", entry)
    names: set[str] = set()
    for i, entry in enumerate(queries):
        _check_export_query(f"queries[{i}]", entry, names)
    return sources, queries


def _check_export_datasource(where: str, entry: Any) -> None:
    """Check an exported data source; its settings and read_only are made ready to save."""
    _check_text({where: entry})
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise InputError(f"{where}: needs a 'name'.")
    _check_name(entry["name"], "data source")
    settings = entry.get("settings") or {}
    if not isinstance(settings, dict):
        raise InputError(f"{where}.settings must be an object.")
    from decimal import Decimal  # exports are read with exact numbers: timeouts are floats

    settings = {
        k: (int(v) if v == v.to_integral_value() else float(v)) if isinstance(v, Decimal) else v
        for k, v in settings.items()
    }
    secret = set(settings) & set(SECRET_FIELDS)
    if secret:
        raise InputError(
            f"{where}.settings holds {sorted(secret)[0]}: exports carry no "
            "secrets; add them after importing with `datasource edit`."
        )
    try:
        _known_settings(settings)
        ConnectionConfig(**settings).check_values()  # a URL or max_attempts that cannot work
    except InputError as error:
        raise InputError(f"{where}.settings: {error.message}") from None
    entry["settings"] = settings
    entry["read_only"] = bool(entry.get("read_only", False))
    entry["journal"] = bool(entry.get("journal", False))


def _check_export_query(where: str, entry: Any, names: set[str]) -> None:
    """Check an exported query (`names`: those of the queries before it, this one added); its
    params become text and its operation the API name."""
    _check_text({where: entry})
    if not isinstance(entry, dict):
        raise InputError(f"{where} must be an object.")
    for key in ("name", "datasource", "operation"):
        if not isinstance(entry.get(key), str):
            raise InputError(f"{where}: needs '{key}' (a string).")
    _check_name(entry["name"], "query")
    if entry["name"] in names:
        raise InputError(f"{where}: the name {entry['name']!r} appears twice.")
    names.add(entry["name"])
    params = entry.get("params", "")
    if not isinstance(params, str):  # a YAML/JSON object instead of text: keep it as JSON
        params = _dumps_pretty(params)
    entry["params"] = params
    defaults = entry.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise InputError(f"{where}.defaults must be an object.")
    try:
        entry["operation"] = check_query(
            entry["operation"], params, entry.get("transform"), defaults
        ).operation
    except InputError as error:
        raise InputError(f"{where} ({entry['name']}): {error.message}") from None
