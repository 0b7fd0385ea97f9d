"""One-use links to a table's export, valid for a minute.

A link the browser follows cannot carry the Authorization header, and fetching the export with
it would hold the whole file in the page's memory; so the page asks (with its token) for a
link, and the browser's own download saves the stream to disk. A link holds a random 256-bit
ticket; only its digest is kept, in memory."""

from __future__ import annotations

import secrets
import threading
import time

from .auth import _digest


class DownloadLinks:
    def __init__(self, seconds: float = 60, max_links: int = 1000):
        self.seconds = seconds
        self.max_links = max_links
        self._links: dict[str, tuple[float, dict]] = {}
        self._lock = threading.Lock()

    def new(self, export: dict) -> str:
        ticket = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            for key in [k for k, (expires, _) in self._links.items() if expires <= now]:
                del self._links[key]
            if len(self._links) >= self.max_links:
                self._links.pop(next(iter(self._links)))
            self._links[_digest(ticket)] = (now + self.seconds, export)
        return ticket

    def take(self, ticket: str) -> dict | None:
        """The export a ticket stands for, once; None when it is unknown, used or expired."""
        with self._lock:
            expires, export = self._links.pop(_digest(ticket), (0.0, None))
        return export if expires > time.monotonic() else None
