"""One-use links to a table's export, valid for a minute.

A link the browser follows cannot carry the Authorization header, and fetching the export with
it would hold the whole file in the page's memory; so the page asks (with its token) for a
link, and the browser's own download saves the stream to disk. A link holds a random 256-bit
ticket; only its digest is kept: in the workspace's database when the server has one (so a link
made by one server or worker is taken by another), else in memory."""

from __future__ import annotations

import json
import secrets
import threading
import time

import sqlalchemy as sa

from .. import store
from .auth import _digest


class DownloadLinks:
    def __init__(self, seconds: float = 60, max_links: int = 1000, engine: sa.Engine | None = None):
        self.seconds = seconds
        self.max_links = max_links
        self.engine = engine
        self._links: dict[str, tuple[float, dict]] = {}  # without an engine
        self._lock = threading.Lock()

    def new(self, export: dict) -> str:
        ticket = secrets.token_urlsafe(32)
        now = time.time()
        if self.engine is not None:
            self._store(_digest(ticket), export, now)
            return ticket
        with self._lock:
            for key in [k for k, (expires, _) in self._links.items() if expires <= now]:
                del self._links[key]
            if len(self._links) >= self.max_links:
                self._links.pop(next(iter(self._links)))
            self._links[_digest(ticket)] = (now + self.seconds, export)
        return ticket

    def take(self, ticket: str) -> dict | None:
        """The export a ticket stands for, once; None when it is unknown, used or expired."""
        if self.engine is not None:
            return self._take_stored(_digest(ticket))
        with self._lock:
            expires, export = self._links.pop(_digest(ticket), (0.0, None))
        return export if expires > time.time() else None

    def _store(self, digest: str, export: dict, now: float) -> None:
        links = store.download_links
        with store.transaction(self.engine, write=True) as db:
            db.execute(links.delete().where(links.c.expires_at <= now))
            kept = db.execute(sa.select(sa.func.count()).select_from(links)).scalar_one()
            if kept >= self.max_links:  # the oldest make room
                oldest = sa.select(links.c.digest).order_by(links.c.expires_at)
                doomed = oldest.limit(kept - self.max_links + 1).scalar_subquery()
                db.execute(links.delete().where(links.c.digest.in_(doomed)))
            row = {"digest": digest, "export": json.dumps(export), "expires_at": now + self.seconds}
            db.execute(links.insert().values(**row))

    def _take_stored(self, digest: str) -> dict | None:
        links = store.download_links
        with store.transaction(self.engine, write=True) as db:
            row = db.execute(sa.select(links).where(links.c.digest == digest)).first()
            if row is None:
                return None
            db.execute(links.delete().where(links.c.digest == digest))
        return json.loads(row.export) if row.expires_at > time.time() else None
