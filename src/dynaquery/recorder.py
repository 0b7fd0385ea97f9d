"""The history's writer for a server: runs are appended from a thread of its own, in batches, so
a request never waits for the database's write lock or its commit (under load those waits were
most of a request's time on SQLite). The command line records each run as it ends (the
workspace's default); a server turns this on (Workspace.record_in_background).

The history's readers call `flush()` first, so a run is in the history by the time anyone asks
for it in this process. A run that cannot be written is logged, never raised: the call itself is
done. What is still queued when the process ends is written by `close()` (and at exit).
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)

_STOP = object()


class BackgroundRecorder:
    def __init__(self, write_rows: Callable[[list[dict]], None], max_batch: int = 500):
        self._write_rows = write_rows  # inserts the rows in one transaction
        self._max_batch = max_batch
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def record(self, row: dict) -> None:
        self._start()
        self._queue.put(row)

    def flush(self) -> None:
        """Return once every run recorded so far is written (or given up on)."""
        if self._thread is not None:
            self._queue.join()

    def close(self) -> None:
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join(60)
        self._thread = None

    def _start(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="dynaquery-history", daemon=True
                )
                self._thread.start()
                atexit.register(self.close)

    def _loop(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            rows = [row for row in batch if row is not _STOP]
            try:
                if rows:
                    self._write_rows(rows)
            except Exception as failure:  # noqa: BLE001 - logged: the runs themselves are done
                logger.warning("%d runs were not recorded in the history: %s", len(rows), failure)
            finally:
                for _ in batch:
                    self._queue.task_done()
            if len(rows) < len(batch):
                return
