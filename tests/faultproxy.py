"""A fault-injecting HTTP proxy for DynamoDB, on loopback, for the fault tests.

It sits between a client and a DynamoDB endpoint (DynamoDB Local in the tests) and forwards every
request, except that, at a chosen rate, it answers with a fault instead:

- "throttle":   HTTP 400, ProvisionedThroughputExceededException, as DynamoDB sends it;
- "throttling": HTTP 400, ThrottlingException;
- "500":        HTTP 500, InternalServerError;
- "reset":      the request is read, then the socket is closed with SO_LINGER 0 (a TCP reset);
- "slow":       the request is forwarded after `slow_seconds`;
- "cutoff":     the request is forwarded, but only half of the answer's body is sent (with the
                full Content-Length), then the connection is closed.

Which requests: those whose X-Amz-Target operation is in `operations` (all if None), after the
first `skip` of them, and only among the `first` next ones (all if None); each of those gets a
fault with probability `rate`, drawn from a random.Random(seed), so a run with one client thread
is the same every time. Settings change while it runs: `proxy.configure(rate=0)`.

Counts: `proxy.stats()` gives requests seen (in all and per operation), forwarded, and the faults
injected by kind (in all and per operation).

    with FaultProxy(upstream, kinds="500", rate=1.0, first=2, operations={"GetItem"}) as proxy:
        connection = Connection(endpoint_url=proxy.endpoint_url, ...)
"""

from __future__ import annotations

import http.client
import http.server
import json
import random
import socket
import struct
import threading
import uuid
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

KINDS = ("throttle", "throttling", "500", "reset", "slow", "cutoff")
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "proxy-connection",
    "content-length",
}

# (status, error type, __type, message): what DynamoDB answers.
ERRORS = {
    "throttle": (
        400,
        "ProvisionedThroughputExceededException",
        "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded. "
        "Consider increasing your provisioning level with the UpdateTable API.",
    ),
    "throttling": (
        400,
        "ThrottlingException",
        "com.amazon.coral.availability#ThrottlingException",
        "Rate of requests exceeds the allowed throughput.",
    ),
    "500": (
        500,
        "InternalServerError",
        "com.amazonaws.dynamodb.v20120810#InternalServerError",
        "Internal server error",
    ),
}


@dataclass
class Settings:
    kinds: tuple[str, ...] = ()  # faults to choose from (uniformly); () injects nothing
    rate: float = 0.0  # probability of a fault for an eligible request
    operations: frozenset[str] | None = None  # X-Amz-Target operations eligible (None: all)
    skip: int = 0  # let this many eligible requests through first
    first: int | None = None  # then only this many are eligible (None: all)
    slow_seconds: float = 5.0  # the delay of "slow"
    seed: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False)


class FaultProxy:
    """The proxy: a threading HTTP server on 127.0.0.1, a context manager."""

    def __init__(
        self,
        upstream: str,
        kinds: str | Iterable[str] = (),
        rate: float = 0.0,
        *,
        operations: Iterable[str] | None = None,
        skip: int = 0,
        first: int | None = None,
        slow_seconds: float = 5.0,
        seed: int = 0,
        upstream_timeout: float = 60.0,
    ):
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the upstream must be an http:// URL, not {upstream!r}")
        self.upstream = (parts.hostname, parts.port or 80)
        self.upstream_timeout = upstream_timeout
        self._lock = threading.Lock()
        self._settings = Settings()
        self._eligible = 0  # eligible requests seen since the last configure()
        self._requests: Counter = Counter()
        self._faults: Counter = Counter()
        self._fault_ops: Counter = Counter()
        self._forwarded = 0
        self._statuses: Counter = Counter()  # of the forwarded answers
        self._closing = threading.Event()
        self._sockets: set[socket.socket] = set()
        self.configure(
            kinds=kinds,
            rate=rate,
            operations=operations,
            skip=skip,
            first=first,
            slow_seconds=slow_seconds,
            seed=seed,
        )
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.proxy = self
        self._thread: threading.Thread | None = None

    # -- settings and counts ---------------------------------------------------------------------

    _UNSET: Any = object()

    def configure(
        self,
        kinds: Any = _UNSET,
        rate: Any = _UNSET,
        *,
        operations: Any = _UNSET,
        skip: Any = _UNSET,
        first: Any = _UNSET,
        slow_seconds: Any = _UNSET,
        seed: Any = _UNSET,
    ) -> None:
        """Change the settings (those given); the skip/first window and the seed start over."""
        with self._lock:
            changes: dict[str, Any] = {}
            if kinds is not self._UNSET:
                kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
                unknown = [k for k in kinds if k not in KINDS]
                if unknown:
                    raise ValueError(f"unknown fault kinds {unknown}: use {KINDS}")
                changes["kinds"] = kinds
            if rate is not self._UNSET:
                if not 0 <= rate <= 1:
                    raise ValueError("rate must be between 0 and 1")
                changes["rate"] = rate
            if operations is not self._UNSET:
                changes["operations"] = None if operations is None else frozenset(operations)
            for name, value in (
                ("skip", skip),
                ("first", first),
                ("slow_seconds", slow_seconds),
                ("seed", seed),
            ):
                if value is not self._UNSET:
                    changes[name] = value
            settings = replace(self._settings, **changes)
            settings.rng = random.Random(settings.seed)
            self._settings = settings
            self._eligible = 0

    def stats(self) -> dict:
        with self._lock:
            return {
                "requests": sum(self._requests.values()),
                "by_operation": dict(self._requests),
                "forwarded": self._forwarded,
                "statuses": dict(self._statuses),
                "faults": dict(self._faults),
                "faults_by_operation": dict(self._fault_ops),
                "injected": sum(self._faults.values()),
            }

    def requests(self, operation: str | None = None) -> int:
        with self._lock:
            return self._requests[operation] if operation else sum(self._requests.values())

    def faults(self, kind: str | None = None) -> int:
        with self._lock:
            return self._faults[kind] if kind else sum(self._faults.values())

    def reset_counts(self) -> None:
        with self._lock:
            self._requests.clear()
            self._faults.clear()
            self._fault_ops.clear()
            self._statuses.clear()
            self._forwarded = 0

    def _decide(self, operation: str) -> tuple[str | None, float]:
        """The fault for this request (None: forward it), and the slow delay."""
        with self._lock:
            self._requests[operation] += 1
            s = self._settings
            if not s.kinds or (s.operations is not None and operation not in s.operations):
                return None, 0.0
            self._eligible += 1
            n = self._eligible - s.skip  # 1-based position in the window
            if n < 1 or (s.first is not None and n > s.first):
                return None, 0.0
            if s.rate < 1 and s.rng.random() >= s.rate:
                return None, 0.0
            kind = s.kinds[0] if len(s.kinds) == 1 else s.rng.choice(s.kinds)
            self._faults[kind] += 1
            self._fault_ops[(operation, kind)] += 1
            return kind, s.slow_seconds

    def _count_forwarded(self, status: int) -> None:
        with self._lock:
            self._forwarded += 1
            self._statuses[status] += 1

    # -- running ---------------------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            daemon=True,
            name="faultproxy",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            open_sockets = list(self._sockets)
        for sock in open_sockets:  # wake the handlers waiting on idle keep-alive connections
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    proxy: FaultProxy

    def handle_error(self, request, client_address) -> None:
        pass  # a client that went away (after a reset, a cut-off or a timeout) is expected


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as DynamoDB
    disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms delayed ACK
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.upstream: http.client.HTTPConnection | None = None
        with self.server.proxy._lock:
            self.server.proxy._sockets.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.proxy._lock:
                self.server.proxy._sockets.discard(self.connection)
            if self.upstream is not None:
                self.upstream.close()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._relay()

    def do_POST(self) -> None:
        self._relay()

    def _relay(self) -> None:
        proxy = self.server.proxy
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if len(body) < length:  # the client went away mid-request
            self.close_connection = True
            return
        target = self.headers.get("X-Amz-Target", "")
        operation = target.rsplit(".", 1)[-1] if target else self.command
        kind, delay = proxy._decide(operation)
        if kind in ERRORS:
            self._send_error(*ERRORS[kind])
            return
        if kind == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if kind == "slow" and proxy._closing.wait(delay):
            self.close_connection = True
            return
        try:
            status, reason, headers, answer = self._forward(body)
        except (OSError, http.client.HTTPException) as error:
            self._send_plain(502, f"faultproxy: the upstream failed: {error}")
            return
        proxy._count_forwarded(status)
        self.send_response(status, reason)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        if kind == "cutoff":
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(answer[: len(answer) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.end_headers()
        self.wfile.write(answer)

    def _forward(self, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        """The request to the upstream, on this client connection's own upstream connection
        (kept alive; opened again once if the upstream had closed it)."""
        proxy = self.server.proxy
        for attempt in (1, 2):
            if self.upstream is None:
                self.upstream = http.client.HTTPConnection(
                    *proxy.upstream, timeout=proxy.upstream_timeout
                )
            try:
                self.upstream.putrequest(
                    self.command, self.path, skip_host=True, skip_accept_encoding=True
                )
                for name, value in self.headers.items():
                    if name.lower() not in HOP_BY_HOP:
                        self.upstream.putheader(name, value)
                self.upstream.putheader("Content-Length", str(len(body)))
                if self.upstream.sock is None:
                    self.upstream.connect()
                    self.upstream.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.upstream.endheaders(body)
                response = self.upstream.getresponse()
                answer = response.read()
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
                self.upstream.close()
                self.upstream = None
                if attempt == 2:
                    raise
                continue
            headers = [
                (k, v)
                for k, v in response.getheaders()
                if k.lower() not in HOP_BY_HOP and k.lower() not in ("date", "server")
            ]
            if response.will_close:
                self.upstream.close()
                self.upstream = None
            return response.status, response.reason, headers, answer
        raise AssertionError("unreachable")

    def _send_error(self, status: int, error_type: str, type_: str, message: str) -> None:
        body = json.dumps({"__type": type_, "message": message}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("x-amzn-RequestId", uuid.uuid4().hex.upper())
        self.send_header(
            "x-amzn-ErrorType",
            f"{error_type}:http://internal.amazon.com/coral/com.amazonaws.dynamodb.v20120810/",
        )
        self.send_header("x-amz-crc32", str(zlib.crc32(body)))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_plain(self, status: int, text: str) -> None:
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
