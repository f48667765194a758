"""What the admin API shows survives a restart: discovery, accounts, campaigns and alerts (the webhook deliveries still
pending, the last events, each trigger's episodes) saved to an embedded SQLite database under `--state-dir`, in batches
off the request path.

Every `interval` seconds the records that changed since the last batch (each registry keeps their keys) are turned into
rows on the event loop (a few microseconds each) and written by a worker thread in one transaction (upserts, then the
records that ended, such as a delivered webhook delivery, and rows older than the retention deleted). A crash loses at
most the last interval; SIGTERM writes a last batch. At start-up the rows come back, the most recently seen first, up
to each registry's bound. A directory that cannot be created or written, or a file that is not a sound SQLite
database, is an error before botwall serves, never a crash later; a failed batch later on is logged, kept dirty, and
retried.

With `--workers N`, each worker keeps its own file (`botwall-<i>.db`), as each counts what it judged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import structlog

from botwall.errors import BotwallError

log = structlog.get_logger("botwall.edge.persist")

TABLES = ("endpoints", "accounts", "campaigns", "alert_deliveries", "alert_events", "alert_triggers")


class StateDirError(BotwallError):
    """A state directory or database botwall cannot use; the message says which and why."""


class Persistent(Protocol):
    """A registry whose changed records can be saved and restored."""

    def take_dirty(self) -> list[tuple[str, float, dict[str, Any]]]:
        """The records changed since the last call: (key, last seen, data)."""
        ...

    def restore(self, rows: Iterable[tuple[str, dict[str, Any]]]) -> int:
        """Put saved records back (most recently seen first); returns how many were kept."""
        ...


@runtime_checkable
class Forgetting(Persistent, Protocol):
    """A registry whose records can end before the retention does (a webhook delivery once delivered)."""

    def take_deleted(self) -> list[str]:
        """The keys of the records that ended since the last call."""
        ...


class StateDb:
    """One SQLite file: a table per registry, rows of (key, last_seen, JSON data)."""

    def __init__(self, directory: Path, worker: int = 0) -> None:
        self.path = directory / f"botwall-{worker}.db"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            if not os.access(directory, os.W_OK):
                raise PermissionError(13, "not writable")
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            check = self._db.execute("PRAGMA quick_check").fetchone()
            if check is None or check[0] != "ok":
                raise sqlite3.DatabaseError(f"integrity check: {check[0] if check else 'no answer'}")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            for table in TABLES:
                self._db.execute(
                    f"CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, last_seen REAL NOT NULL, data TEXT)"
                )
        except (OSError, sqlite3.Error) as exc:
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise StateDirError(
                f"--state-dir: cannot use {self.path}: {detail} (a damaged file can be moved away to start afresh)"
            ) from None
        self._lock = threading.Lock()

    def load(self, table: str, limit: int) -> list[tuple[str, dict[str, Any]]]:
        """The rows of `table`, most recently seen first, at most `limit`; unreadable rows are skipped."""
        out = []
        with self._lock:
            rows = self._db.execute(
                f"SELECT key, data FROM {table} ORDER BY last_seen DESC LIMIT ?",  # noqa: S608 - a fixed table name
                (limit,),
            ).fetchall()
        for key, data in rows:
            with contextlib.suppress(ValueError, TypeError):
                value = json.loads(data)
                if isinstance(value, dict):
                    out.append((key, value))
        return out

    def save(
        self, table: str, rows: list[tuple[str, float, dict[str, Any]]], keep_after: float, deleted: Sequence[str] = ()
    ) -> None:
        """Upsert `rows`, then delete the `deleted` keys and the rows last seen before `keep_after`, in one transaction
        (run in a thread)."""
        encoded = [(key, seen, json.dumps(data, separators=(",", ":"))) for key, seen, data in rows]
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    f"INSERT INTO {table} (key, last_seen, data) VALUES (?, ?, ?) "  # noqa: S608 - a fixed name
                    "ON CONFLICT(key) DO UPDATE SET last_seen = excluded.last_seen, data = excluded.data",
                    encoded,
                )
                self._db.executemany(f"DELETE FROM {table} WHERE key = ?", [(k,) for k in deleted])  # noqa: S608
                self._db.execute(f"DELETE FROM {table} WHERE last_seen < ?", (keep_after,))  # noqa: S608
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()


class Persister:
    """Restores the registries at start, then saves what changed every `interval` seconds until stopped."""

    def __init__(
        self,
        db: StateDb,
        registries: dict[str, tuple[Persistent, int]],  # table -> (registry, how many rows to restore at most)
        interval: float = 10.0,
        retention_days: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.registries = registries
        self.interval = interval
        self.retention = retention_days * 86400.0
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._pending: dict[str, list[tuple[str, float, dict[str, Any]]]] = {}
        self._pending_deleted: dict[str, list[str]] = {}
        self.saved = 0  # rows written since start
        self.failures = 0

    def restore(self) -> dict[str, int]:
        """Put the saved rows back into each registry; returns how many each kept."""
        return {
            table: registry.restore(self.db.load(table, limit)) for table, (registry, limit) in self.registries.items()
        }

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="botwall-state-save")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.save()

    async def save(self) -> None:
        """One batch: the changed records of every registry, written by a worker thread."""
        loop = asyncio.get_running_loop()
        keep_after = self._clock() - self.retention
        for table, (registry, _) in self.registries.items():
            rows = self._pending.pop(table, []) + registry.take_dirty()
            deleted = self._pending_deleted.pop(table, [])
            if isinstance(registry, Forgetting):
                deleted += registry.take_deleted()
            if not rows and not deleted:
                continue
            try:
                await loop.run_in_executor(None, self.db.save, table, rows, keep_after, deleted)
                self.saved += len(rows)
            except Exception as exc:  # a full disk, a file gone: keep them for the next batch, and say so
                self.failures += 1
                self._pending[table] = rows[-100_000:]
                self._pending_deleted[table] = deleted[-100_000:]
                log.warning("state_save_failed", table=table, rows=len(rows), error=str(exc)[:300])

    async def stop(self) -> None:
        """Write the last batch, then close the file."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self.save()
        self.db.close()
