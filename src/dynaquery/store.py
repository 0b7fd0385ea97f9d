"""The workspace's database: SQLite by default, any SQLAlchemy URL otherwise.

Schema changes go through Alembic migrations (src/dynaquery/migrations), run when a workspace is
opened, so a workspace made by an older version opens in a newer one. On SQLite, writes take the
database lock up front (BEGIN IMMEDIATE) and wait for it, so two processes writing at once queue up
instead of failing, and nothing is lost.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from .errors import ConfigurationError

DATABASE_URL_ENV = "DYNAQUERY_DATABASE_URL"
HOME_ENV = "DYNAQUERY_HOME"
SCHEMA_REVISION = "0001"  # the newest migration; a test checks it against the migrations
BUSY_TIMEOUT_S = 60

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
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("started_at", sa.String(32), nullable=False, index=True),
    sa.Column("duration_ms", sa.Float),
    sa.Column("query_id", sa.String(36)),  # no foreign key: history outlives removed queries
    sa.Column("query_name", sa.String(200)),
    sa.Column("datasource_id", sa.String(36)),
    sa.Column("datasource_name", sa.String(200)),
    sa.Column("operation", sa.String(100), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),  # ok | incomplete | error
    sa.Column("item_count", sa.Integer),
    sa.Column("error", sa.Text),
    sa.Column("origin", sa.String(16)),  # cli | api | library
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
        try:
            return sa.create_engine(url, pool_pre_ping=True)
        except (ImportError, sa.exc.NoSuchModuleError) as error:
            raise ConfigurationError(
                f"Cannot use the database {parsed.render_as_string(hide_password=True)}: "
                f"{error}. Install its driver (for PostgreSQL: pip install psycopg)."
            ) from None
    database = parsed.database
    if database and database != ":memory:":
        _create_private_file(Path(database))
    engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})
    sa.event.listen(engine, "connect", _sqlite_connect)
    sa.event.listen(engine, "begin", _sqlite_begin)
    return engine


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
    cursor.execute("PRAGMA journal_mode = WAL")  # readers do not wait for a writer
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _sqlite_begin(connection) -> None:
    # A writer takes the lock when it starts: it cannot fail later on a lock upgrade.
    write = connection.get_execution_options().get("write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


@contextmanager
def transaction(engine: sa.Engine, write: bool = False) -> Iterator[sa.Connection]:
    with engine.connect() as connection:
        connection = connection.execution_options(write=write)
        with connection.begin():
            yield connection


def migrate(engine: sa.Engine) -> None:
    """Bring the schema to the newest revision. Cheap when it already is."""
    try:
        with transaction(engine) as connection:
            if _revision(connection) == SCHEMA_REVISION:
                return
    except sa.exc.OperationalError as error:
        raise ConfigurationError(f"Cannot open the workspace: {error.orig}") from None
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    with transaction(engine, write=True) as connection:
        if engine.dialect.name == "postgresql":  # one migrating process at a time
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(4242424242)")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _revision(connection: sa.Connection) -> str | None:
    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
