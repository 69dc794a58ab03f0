"""Collector storage, scale-out backend: PostgreSQL through psycopg 3.

Events are copied (``COPY``) into a per-connection temporary table, then moved with one
``INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING``: one round trip for thousands of
crossings, and the returned rows are exactly the ones to count.

No call waits for ever (``PgTimeouts``): every connection has a connect timeout, a
``statement_timeout`` and TCP keepalives (with ``tcp_user_timeout``); and since a hung
server cannot enforce its own statement timeout, a watchdog shuts the writer's socket down
when one ``write`` outlasts ``WRITE_DEADLINE_STATEMENTS`` statement timeouts: the write
fails as a lost connection and the writer retries it with backoff on a new connection.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from edge.collector.ingest import EventRow, Ingested
from edge.collector.store import (
    PgTimeouts,
    Reader,
    Row,
    Store,
    StoreDataError,
    StoreUnavailable,
    WriteResult,
)
from edge.errors import StoreError

log = logging.getLogger(__name__)

#: Any constant: collectors starting together take turns to migrate.
_MIGRATION_LOCK_KEY = 0x6564676543
#: Writes hold it shared, a retention batch exclusively (``retention.py``).
_RETENTION_LOCK_KEY = 0x6564676552
_COLUMNS = (
    "device_id, outbox_id, epoch, seq, site, line, direction, cls, ts, track_id, confidence,"
    " received_at"
)
_STAGE = "CREATE TEMP TABLE IF NOT EXISTS stage_events (LIKE events) ON COMMIT DELETE ROWS"
_MOVE = f"""INSERT INTO events ({_COLUMNS})
    SELECT {_COLUMNS} FROM stage_events ORDER BY device_id, outbox_id, seq, epoch
    ON CONFLICT (device_id, outbox_id, seq, epoch) DO NOTHING
    RETURNING site, device_id, line, direction, cls, ts"""
_CHANGED = """SELECT s.device_id, s.outbox_id, s.seq, s.epoch FROM stage_events s JOIN events e
    USING (device_id, outbox_id, seq, epoch)
    WHERE (e.line, e.direction, e.cls, e.ts, e.track_id)
        IS DISTINCT FROM (s.line, s.direction, s.cls, s.ts, s.track_id)"""


def _pg(sql: str) -> str:
    """Our SQL uses ``?`` placeholders (and never a literal ``?`` or ``%``)."""
    return sql.replace("?", "%s")


#: A write (a few statements) may take this many statement timeouts before the watchdog
#: cuts its connection.
WRITE_DEADLINE_STATEMENTS = 3
_KEEPALIVE_INTERVAL_S, _KEEPALIVE_COUNT = 10, 3


def _connect(url: str, t: PgTimeouts) -> psycopg.Connection[Any]:
    """A connection with every limit of ``t`` (keepalives: idle, then 3 probes 10 s apart)."""
    dead_after_s = t.keepalives_idle_s + _KEEPALIVE_INTERVAL_S * _KEEPALIVE_COUNT
    try:
        conn = psycopg.connect(
            url, autocommit=True, connect_timeout=t.connect_s, keepalives=1,
            keepalives_idle=t.keepalives_idle_s, keepalives_interval=_KEEPALIVE_INTERVAL_S,
            keepalives_count=_KEEPALIVE_COUNT, tcp_user_timeout=dead_after_s * 1000,
        )  # fmt: skip
        # set_config, not the ``options`` parameter, so options in the URL are kept.
        conn.execute(
            "SELECT set_config('statement_timeout', %s, false)", (f"{int(t.statement_s * 1000)}",)
        )
    except psycopg.Error as err:
        raise StoreUnavailable(f"postgresql: cannot connect: {err}".strip()) from None
    return conn


def _sever(conn: psycopg.Connection[Any], after_s: float) -> None:
    """Shut the connection's socket down: a call blocked on it fails as a lost connection."""
    log.warning("postgresql: a write took over %.0f s; cutting its connection", after_s)
    try:
        sock = socket.socket(fileno=os.dup(conn.fileno()))
    except (OSError, psycopg.Error):  # already closed: nothing is blocked on it
        return
    with sock, suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class PostgresReader(Reader):
    """A pooled autocommit connection with read-only transactions."""

    dialect = "postgresql"

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a query; return every row."""
        with self._conn.cursor() as cur:
            cur.execute(_pg(sql), tuple(params))
            return list(cur.fetchall()) if cur.description else []


class PostgresStore(Store):
    """The shared store of N collectors; each holds one writer connection and a read pool."""

    dialect = "postgresql"

    def __init__(self, url: str, pool_size: int = 4, timeouts: PgTimeouts | None = None) -> None:
        self._url = url
        self._t = timeouts or PgTimeouts()
        try:
            self._conn: psycopg.Connection[Any] | None = _connect(url, self._t)
        except StoreUnavailable as err:
            raise StoreError(str(err)) from None
        self._pool: queue.LifoQueue[psycopg.Connection[Any]] = queue.LifoQueue()
        self._pool_free = threading.Semaphore(pool_size)

    def _writer(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = _connect(self._url, self._t)
        return self._conn

    def write(self, batch: Sequence[Ingested]) -> WriteResult:
        """``Store.write`` under the watchdog (see the module's docstring)."""
        conn = self._writer()
        after_s = self._t.statement_s * WRITE_DEADLINE_STATEMENTS + self._t.connect_s
        timer = threading.Timer(after_s, _sever, (conn, after_s))
        timer.daemon = True
        timer.start()
        try:
            return super().write(batch)
        finally:
            timer.cancel()

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._writer().cursor() as cur:
            cur.execute(_pg(sql), tuple(params))
            return list(cur.fetchall()) if cur.description else []

    def _executemany(self, sql: str, rows: Sequence[Row]) -> None:
        with self._writer().cursor() as cur:
            cur.executemany(_pg(sql), rows)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        conn = self._writer()
        try:
            with conn.transaction():
                yield
        except psycopg.OperationalError as err:
            # Connection lost, deadlock, serialisation failure, lock timeout: retryable.
            if conn.broken:
                conn.close()
            raise StoreUnavailable(f"postgresql: {err}".strip()) from err
        except (psycopg.DataError, psycopg.IntegrityError) as err:
            raise StoreDataError(f"postgresql: {err}".strip()) from err

    def _lock_migrations(self) -> None:
        # Waiting for another copy's migration, or building an index, may take long.
        self._execute("SET LOCAL statement_timeout = 0")
        self._execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK_KEY,))

    def _lock_retention(self, exclusive: bool) -> None:
        """A transaction-level advisory lock: shared for writes, exclusive for retention."""
        fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        self._execute(f"SELECT {fn}(?)", (_RETENTION_LOCK_KEY,))

    def _insert_events(self, rows: list[EventRow], received: list[float]) -> list[Row]:
        with self._writer().cursor() as cur:
            cur.execute(_STAGE)
            with cur.copy(f"COPY stage_events ({_COLUMNS}) FROM STDIN") as copy:
                for e, rx in zip(rows, received, strict=True):
                    copy.write_row(e.values(rx))
            cur.execute(_MOVE)
            return list(cur.fetchall())

    def _changed_events(self, rows: list[EventRow]) -> list[EventRow]:
        """Compares the staged rows (still there: they go ``ON COMMIT``) with the stored."""
        keys = {tuple(r) for r in self._execute(_CHANGED)}
        return [e for e in rows if (e.device_id, e.outbox_id, e.seq, e.epoch) in keys]

    @contextmanager
    def reading(self) -> Iterator[Reader]:
        """Borrow a pooled connection (at most ``pool_size`` at once; others wait)."""
        if not self._pool_free.acquire(timeout=30):
            raise StoreUnavailable("postgresql: every read connection is busy")
        conn = None
        try:
            conn = self._pool.get_nowait() if not self._pool.empty() else None
            if conn is None or conn.closed:
                conn = _connect(self._url, self._t)
                conn.execute("SET default_transaction_read_only = on")
            yield PostgresReader(conn)
        except psycopg.OperationalError as err:
            raise StoreUnavailable(f"postgresql: {err}".strip()) from err
        finally:
            if conn is not None:
                self._give_back(conn)
            self._pool_free.release()

    def _give_back(self, conn: psycopg.Connection[Any]) -> None:
        """Pool a healthy idle connection, close anything else."""
        if conn.broken or conn.closed or conn.info.transaction_status != TransactionStatus.IDLE:
            conn.close()
        else:
            self._pool.put(conn)

    def close(self) -> None:
        """Close the writer and every pooled connection."""
        if self._conn is not None:
            self._conn.close()
        while not self._pool.empty():
            self._pool.get_nowait().close()
