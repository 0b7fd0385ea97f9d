"""A real PostgreSQL server on loopback for the tests: Debian's package (scripts/test installs
it), a cluster made with initdb in a temporary folder, run as the `postgres` user (the server
refuses root), trusting loopback connections. Each test gets a database of its own.

DYNAQUERY_TEST_POSTGRES_URL points the tests at a server already running instead (a URL whose
user may CREATE DATABASE).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from dynaquery.local import free_port

URL_ENV = "DYNAQUERY_TEST_POSTGRES_URL"


def postgres_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


@dataclass
class PostgresServer:
    url: str  # the maintenance database, postgresql+psycopg://...
    process: subprocess.Popen | None = None
    directory: Path | None = None

    def new_database(self) -> str:
        """A fresh, empty database on this server; its URL."""
        name = "dq_" + uuid.uuid4().hex[:16]
        engine = sa.create_engine(self.url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        engine.dispose()
        return str(sa.engine.make_url(self.url).set(database=name))

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)


def start_postgres() -> PostgresServer:
    if os.environ.get(URL_ENV):
        return PostgresServer(os.environ[URL_ENV])
    initdb, postgres = postgres_bin("initdb"), postgres_bin("postgres")
    if not initdb or not postgres:
        raise RuntimeError("PostgreSQL is not installed (scripts/test installs Debian's package)")
    directory = Path(tempfile.mkdtemp(prefix="dq-postgres-"))
    as_user = _postgres_user()
    if as_user:
        os.chown(directory, as_user.pw_uid, as_user.pw_gid)
    data, port = directory / "data", free_port()
    run_as = ["runuser", "-u", "postgres", "--"] if as_user else []
    subprocess.run(
        [*run_as, initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    process = subprocess.Popen(
        [*run_as, postgres, "-D", str(data), "-p", str(port), "-k", str(directory)]
        + ["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200"],
        stdout=subprocess.DEVNULL,
        stderr=open(directory / "server.log", "wb"),  # noqa: SIM115 - the server holds it
    )
    server = PostgresServer(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", process)
    server.directory = directory
    _wait_until_ready(server)
    return server


def _postgres_user():
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise RuntimeError("running as root needs the `postgres` user (Debian's package)") from None


def _wait_until_ready(server: PostgresServer, seconds: float = 60) -> None:
    engine = sa.create_engine(server.url)
    deadline = time.monotonic() + seconds
    try:
        while True:
            if server.process.poll() is not None:
                log = (server.directory / "server.log").read_text(errors="replace")
                raise RuntimeError(f"PostgreSQL exited:\n{log}")
            try:
                with engine.connect():
                    return
            except sa.exc.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError("PostgreSQL did not answer within 60 s") from None
                time.sleep(0.1)
    finally:
        engine.dispose()
