"""Collector storage, embedded backend: one SQLite file in WAL mode.

``synchronous=FULL``: the collector acknowledges a message to the broker only after its
transaction commits, so a commit must survive a power cut, not only a process crash.
Batching many messages per transaction keeps the fsync cost per event small.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from edge.collector.ingest import EventRow
from edge.collector.store import Reader, Row, Store, StoreDataError, StoreUnavailable
from edge.errors import StoreError

_TRANSIENT_WORDS = ("locked", "busy", "disk i/o", "database or disk is full")
_INSERT_EVENT = """INSERT INTO events (device_id, outbox_id, epoch, seq, site, line, direction,
    cls, ts, track_id, confidence, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (device_id, outbox_id, seq, epoch) DO NOTHING"""

_STORED_EVENT = """SELECT line, direction, cls, ts, track_id FROM events
    WHERE device_id = ? AND outbox_id = ? AND seq = ? AND epoch = ?"""


def _connect(path: str, busy_timeout_s: float = 10.0) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(
            path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
    except sqlite3.Error as err:
        raise StoreError(f"sqlite:///{path}: cannot open database: {err}") from None
    return conn


class SqliteReader(Reader):
    """A read-only SQLite connection."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a query; return every row."""
        return list(self._conn.execute(sql, tuple(params)).fetchall())


class SqliteStore(Store):
    """The embedded store. One process writes; readers open their own connections."""

    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._conn = _connect(path)
        self._lock = threading.Lock()

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(self._conn.execute(sql, tuple(params)).fetchall())

    def _executemany(self, sql: str, rows: Sequence[Row]) -> None:
        self._conn.executemany(sql, rows)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as err:
                raise StoreUnavailable(f"sqlite: cannot begin: {err}") from None
            try:
                yield
                self._conn.execute("COMMIT")
            except BaseException as err:
                self._conn.execute("ROLLBACK")
                _raise_mapped(err)
                raise

    def _lock_migrations(self) -> None:
        """``BEGIN IMMEDIATE`` already holds the database's write lock."""

    def _lock_retention(self, exclusive: bool) -> None:
        """``BEGIN IMMEDIATE`` already holds the database's write lock."""

    def _insert_events(self, rows: list[EventRow], received: list[float]) -> list[Row]:
        inserted: list[Row] = []
        cur = self._conn.cursor()
        for e, rx in zip(rows, received, strict=True):
            cur.execute(_INSERT_EVENT, e.values(rx))
            if cur.rowcount == 1:
                inserted.append((e.site, e.device_id, e.line, e.direction, e.cls, e.ts_s))
        return inserted

    def _changed_events(self, rows: list[EventRow]) -> list[EventRow]:
        changed = []
        for e in rows:
            stored = self._conn.execute(_STORED_EVENT, (e.device_id, e.outbox_id, e.seq, e.epoch))
            if stored.fetchone() != (e.line, e.direction, e.cls, e.ts_s, e.track_id):
                changed.append(e)
        return changed

    @contextmanager
    def reading(self) -> Iterator[Reader]:
        """A fresh connection with ``query_only`` on, closed afterwards (opening is cheap)."""
        conn = _connect(self._path)
        try:
            conn.execute("PRAGMA query_only=ON")
            yield SqliteReader(conn)
        finally:
            conn.close()

    def close(self) -> None:
        """Close the writer connection."""
        self._conn.close()


def _raise_mapped(err: BaseException) -> None:
    """Re-raise a database error as ``StoreUnavailable`` or ``StoreDataError``."""
    if isinstance(err, sqlite3.OperationalError) and any(
        w in str(err).lower() for w in _TRANSIENT_WORDS
    ):
        raise StoreUnavailable(f"sqlite: {err}") from err
    if isinstance(err, sqlite3.IntegrityError | sqlite3.DataError | OverflowError):
        raise StoreDataError(f"sqlite: {err}") from err
