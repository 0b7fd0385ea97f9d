"""The workspace's database: SQLite by default, any SQLAlchemy URL otherwise.

Schema changes go through Alembic migrations (src/dynaquery/migrations), run when a workspace is
opened, so a workspace made by an older version opens in a newer one.

Writes queue up instead of racing, so two processes (or servers) writing at once lose nothing: on
SQLite a writer takes the database lock up front (BEGIN IMMEDIATE); on PostgreSQL it takes a
transaction-level advisory lock, so every check-then-insert and read-then-rewrite runs alone.
Appends that cannot race (a run in the history) skip the PostgreSQL lock.

Text the database cannot hold is refused before it is sent, on every database alike: PostgreSQL
text cannot hold the NUL character, so it is refused everywhere, naming the field.
"""

from __future__ import annotations

import contextvars
import os
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from .errors import ConfigurationError, Conflict, InputError

DATABASE_URL_ENV = "DYNAQUERY_DATABASE_URL"
HOME_ENV = "DYNAQUERY_HOME"
SCHEMA_REVISION = "0005"  # the newest migration; a test checks it against the migrations
BUSY_TIMEOUT_S = 60
CONNECT_TIMEOUT_S = 10  # an unreachable database host fails in this time, not the OS's minutes
WRITE_LOCK = 4242424241  # PostgreSQL advisory lock: one writer at a time
MIGRATION_LOCK = 4242424242
DRIVERS = {"psycopg": "psycopg[binary]", "psycopg2": "psycopg2-binary", "asyncpg": "asyncpg"}

metadata = sa.MetaData()

datasources = sa.Table(
    "datasources",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("description", sa.Text),
    sa.Column("settings", sa.Text, nullable=False),  # JSON: the ConnectionConfig, without secrets
    sa.Column("secrets", sa.Text, nullable=False),  # JSON: field -> sealed value
    sa.Column("read_only", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.String(32), nullable=False),
    # the journal keeps each written item's before and after images (journal.py)
    sa.Column("journal", sa.Boolean, nullable=False, server_default=sa.false()),
)

queries = sa.Table(
    "queries",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("datasource_id", sa.String(36), sa.ForeignKey("datasources.id"), nullable=False),
    sa.Column("operation", sa.String(100), nullable=False),
    sa.Column("params", sa.Text, nullable=False),  # verbatim, comments and all
    sa.Column("transform", sa.Text),
    sa.Column("description", sa.Text),
    sa.Column("defaults", sa.Text, nullable=False),  # JSON: placeholder -> default value
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.String(32), nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    # 8 bytes on PostgreSQL (SQLite's INTEGER already is; its rowid must stay INTEGER)
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("started_at", sa.String(32), nullable=False, index=True),
    sa.Column("duration_ms", sa.Float),
    sa.Column("query_id", sa.String(36)),  # no foreign key: history outlives removed queries
    sa.Column("query_name", sa.String(200)),
    sa.Column("datasource_id", sa.String(36)),
    sa.Column("datasource_name", sa.String(200)),
    sa.Column("operation", sa.String(100), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),  # ok | incomplete | error
    sa.Column("item_count", sa.BigInteger),
    sa.Column("error", sa.Text),
    sa.Column("origin", sa.String(16)),  # cli | api | library
    sa.Column("target", sa.String(200)),  # what the call acted on: "table users", "backup ..."
    sa.Column("ran_by", sa.String(200)),  # a server's user, or "cli:<login>" (users.py)
)

# Every write run through dynaquery: who, when, where, the keys written; with the data source's
# journal on, the items before and after (sealed like secrets), so that the run can be undone.
journal = sa.Table(
    "journal",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("run_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("at", sa.String(32), nullable=False, index=True),
    sa.Column("who", sa.String(200), nullable=False),
    sa.Column("datasource_id", sa.String(36)),
    sa.Column("datasource_name", sa.String(200)),
    sa.Column("operation", sa.String(100), nullable=False),
    sa.Column("tables", sa.Text, nullable=False),  # JSON: the tables written
    sa.Column("keys", sa.Text),  # JSON: [[table, typed key]...]; NULL when they cannot be told
    sa.Column("note", sa.Text),  # why the keys are unknown, or the images missing
    sa.Column("images", sa.Text),  # sealed JSON: [[table, key, before, after]...]
    sa.Column("undone_at", sa.String(32)),  # when `undo` put its items back
)

# What the servers on one workspace share, so that two of them (or a server's workers) act as
# one: the one-use download links (digests only) and the recent wrong sign-ins per address.
download_links = sa.Table(
    "download_links",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),  # SHA-256 of the ticket
    sa.Column("export", sa.Text, nullable=False),  # JSON: what the link downloads
    sa.Column("expires_at", sa.Float, nullable=False, index=True),  # Unix time
)

sign_in_failures = sa.Table(
    "sign_in_failures",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("address", sa.String(64), nullable=False, index=True),
    sa.Column("at", sa.Float, nullable=False, index=True),  # Unix time
)

# A team's server (users.py): its users, their API tokens (digests only), which data sources each
# may use (read-only or not), and the page's sessions (digests only), shared by every server.
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),  # admin | editor | runner
    sa.Column("password_hash", sa.Text),  # scrypt; NULL: signs in with API tokens only
    sa.Column("created_at", sa.String(32), nullable=False),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column(
        "user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),  # SHA-256 of the token
    sa.Column("created_at", sa.String(32), nullable=False),
)

grants = sa.Table(
    "grants",
    metadata,
    sa.Column(
        "user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column(
        "datasource_id",
        sa.String(36),
        sa.ForeignKey("datasources.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("read_only", sa.Boolean, nullable=False),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),  # SHA-256 of the cookie's value
    sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE")),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False, index=True),  # Unix time
)

settings = sa.Table(
    "settings",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)


def default_home() -> Path:
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "dynaquery"


def default_url(home: Path | None = None) -> str:
    if os.environ.get(DATABASE_URL_ENV):
        return os.environ[DATABASE_URL_ENV]
    return f"sqlite:///{(home or default_home()) / 'workspace.db'}"


def create_engine(url: str) -> sa.Engine:
    """An engine for the workspace at `url`; a new SQLite file is made readable by its owner only."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise ConfigurationError(f"Not a database URL: {url!r} ({DATABASE_URL_ENV}).") from None
    if parsed.get_backend_name() != "sqlite":
        return _create_server_engine(parsed)
    database = parsed.database
    if database and database != ":memory:":
        _create_private_file(Path(database))
    # A server's threads each hold a connection while they work: the pool must not make them
    # queue for one (SQLite connections are cheap; the database lock is what orders writers).
    engine = sa.create_engine(
        url, connect_args={"timeout": BUSY_TIMEOUT_S}, pool_size=16, max_overflow=64
    )
    sa.event.listen(engine, "before_cursor_execute", _refuse_unstorable_text)
    sa.event.listen(engine, "connect", _sqlite_connect)
    sa.event.listen(engine, "begin", _sqlite_begin)
    return engine


def _create_server_engine(parsed: sa.URL) -> sa.Engine:
    shown = parsed.render_as_string(hide_password=True)
    postgres = parsed.get_backend_name() == "postgresql"
    try:
        engine = sa.create_engine(
            parsed,
            pool_pre_ping=True,
            connect_args={"connect_timeout": CONNECT_TIMEOUT_S} if postgres else {},
        )
    except (ImportError, sa.exc.NoSuchModuleError) as error:
        driver = parsed.get_driver_name()
        package = DRIVERS.get(driver, driver)
        raise ConfigurationError(
            f"Cannot use the database {shown}: {error}. Install its driver: pip install "
            f"'{package}' (or pip install 'dynaquery[postgres]' for psycopg)."
        ) from None
    sa.event.listen(engine, "before_cursor_execute", _refuse_unstorable_text)
    if postgres:
        sa.event.listen(engine, "begin", _postgres_begin)
    return engine


def _postgres_begin(connection) -> None:
    # Serialise writers: without it every check-then-insert races (two data sources of one
    # name, or one of two edits lost). Released when the transaction ends.
    if connection.get_execution_options().get("write") == "exclusive":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")


def _refuse_unstorable_text(connection, cursor, statement, parameters, context, many) -> None:
    rows = parameters if many else [parameters]
    for row in rows:
        named = row.items() if isinstance(row, dict) else enumerate(row or ())
        for name, value in named:
            if isinstance(value, str) and "\x00" in value:
                field = re.sub(r"_\d+$", "", str(name)).replace("_", " ")
                raise InputError(
                    f"Invalid text in {field}: the NUL character (U+0000) cannot be stored; "
                    "remove it."
                )


def _create_private_file(path: Path) -> None:
    if path.exists():
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    except OSError as error:
        raise ConfigurationError(f"Cannot create the workspace {path}: {error.strerror}") from None


def _sqlite_connect(dbapi_connection, _record) -> None:
    # The driver's own transaction handling is off: transactions begin in _sqlite_begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
    _use_wal(cursor)
    # In WAL mode NORMAL cannot corrupt the database; a power cut may lose the last commits.
    # FULL made every commit wait for the disk, with the write lock held.
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _use_wal(cursor) -> None:
    """Readers do not wait for a writer. Another process's first open can make the switch fail
    (SQLite then keeps the old mode, or answers busy at once): try again until the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            mode = cursor.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError:
            mode = None
            if time.monotonic() > deadline:
                raise
        if mode in ("wal", "memory") or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def _sqlite_begin(connection) -> None:
    # A writer takes the lock when it starts: it cannot fail later on a lock upgrade.
    write = connection.get_execution_options().get("write")
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


# The workspace's generation: a new value with every write that runs alone (every change of a
# data source, query, user, grant or setting; not the history, sessions, links or sign-ins,
# which are append-only). A server reads it once a request (request_scope) and reuses what it
# read under the same generation: a change made by any process is seen by the next request.
GENERATION_KEY = "generation"
_scope: contextvars.ContextVar[dict | None] = contextvars.ContextVar("scope", default=None)


@contextmanager
def request_scope() -> Iterator[None]:
    """One request: the generation is read at most once within it (scope_generation)."""
    reset = _scope.set({})
    try:
        yield
    finally:
        _scope.reset(reset)


def scope_generation(connection: sa.Connection) -> str | None:
    """The generation this request works under (None outside a request: nothing is reused)."""
    scope = _scope.get()
    if scope is None:
        return None
    if "generation" not in scope:
        scope["generation"] = (
            connection.execute(
                sa.select(settings.c.value).where(settings.c.key == GENERATION_KEY)
            ).scalar()
            or ""
        )
    return scope["generation"]


def known_generation() -> str | None:
    """The generation this request read already (None: not yet, or outside a request)."""
    scope = _scope.get()
    return scope.get("generation") if scope is not None else None


def _next_generation(connection: sa.Connection) -> None:
    connection.execute(settings.delete().where(settings.c.key == GENERATION_KEY))
    connection.execute(settings.insert().values(key=GENERATION_KEY, value=uuid.uuid4().hex))
    scope = _scope.get()
    if scope is not None:  # this request reads what it wrote
        scope.pop("generation", None)


@contextmanager
def transaction(
    engine: sa.Engine, write: bool = False, *, append_only: bool = False
) -> Iterator[sa.Connection]:
    """A transaction; `write`: it writes, and runs alone among writers (see the module's
    docstring); `append_only`: it only inserts rows nothing else reads to decide, so it need not
    wait for the other writers on PostgreSQL."""
    mode = ("append" if append_only else "exclusive") if write else None
    try:
        with engine.connect() as connection:
            connection = connection.execution_options(write=mode)
            with connection.begin():
                yield connection
                if mode == "exclusive":
                    _next_generation(connection)
    except sa.exc.IntegrityError as error:  # the lock makes this rare: a row changed outside us
        raise Conflict(f"The workspace refused the change: {_first_line(error.orig)}") from None
    except sa.exc.ProgrammingError as error:
        raise ConfigurationError(_privilege_message(engine, error)) from None
    except sa.exc.OperationalError as error:
        if _is_connection_failure(error):
            raise ConfigurationError(
                f"Cannot reach the workspace's database {_shown(engine)}: {_first_line(error.orig)}"
            ) from None
        raise


def _first_line(error: BaseException | None) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _shown(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _privilege_message(engine: sa.Engine, error: sa.exc.ProgrammingError) -> str:
    reason = _first_line(error.orig)
    if "permission denied" in reason.lower():
        return (
            f"The workspace's database {_shown(engine)} refused: {reason}. Its user needs to "
            "create, read and write dynaquery's tables (GRANT CREATE, USAGE ON SCHEMA public, "
            "and ALL on its tables), or an administrator runs the first start."
        )
    return f"The workspace's database {_shown(engine)} refused a statement: {reason}."


def _is_connection_failure(error: sa.exc.OperationalError) -> bool:
    return bool(error.connection_invalidated) or "connect" in str(error.orig).lower()


def migrate(engine: sa.Engine) -> None:
    """Bring the schema to the newest revision. Cheap when it already is."""
    if _revision_is_current(engine):
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    with transaction(engine, write=True) as connection:
        if engine.dialect.name == "postgresql":  # one migrating process at a time
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _revision_is_current(engine: sa.Engine) -> bool:
    # A fresh SQLite file opened by several processes at once can answer "locked" without
    # waiting for the busy timeout: wait here instead.
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            with transaction(engine) as connection:
                return _revision(connection) == SCHEMA_REVISION
        except sa.exc.OperationalError as error:
            if "locked" not in str(error.orig) or time.monotonic() > deadline:
                raise ConfigurationError(f"Cannot open the workspace: {error.orig}") from None
            time.sleep(0.05)


def _revision(connection: sa.Connection) -> str | None:
    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
