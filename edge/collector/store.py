"""Collector storage: one interface over SQLite (embedded) and PostgreSQL (scale-out).

``Store.write(batch)`` stores many ingested messages in ONE transaction: events are inserted
with ``ON CONFLICT DO NOTHING`` on ``(device_id, outbox_id, seq)`` (and the epoch, for rows of
agents older than outbox ids) and only the rows actually inserted bump the per-minute,
per-hour, per-day (UTC) and all-time aggregates, so a redelivered message never counts twice.
Every multi-row upsert is sorted by its key, so concurrent collectors writing the
same aggregate rows take their locks in the same order (and a rare deadlock is retried).
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from edge.collector import acks, labels, store_rows
from edge.collector import statements as sql
from edge.collector.ingest import EventRow, Ingested
from edge.collector.pinning import pin_sites
from edge.collector.retention import Deleted
from edge.collector.schema import LATEST_VERSION, MIGRATIONS, VERSION_TABLE, render
from edge.errors import StoreError

log = logging.getLogger(__name__)

Row = tuple[Any, ...]
_NO_MARKS: Mapping[str, float] = MappingProxyType({})


class StoreUnavailable(StoreError):
    """A transient failure (connection lost, lock timeout, deadlock): retry the same batch."""


class StoreDataError(StoreError):
    """The database refused the data itself: retry message by message to find the bad one."""


@dataclass(frozen=True)
class WriteResult:
    """What one ``write`` did: crossings newly stored, crossings already there, rejects kept."""

    inserted: int
    duplicates: int
    rejected: int


class Store(ABC):
    """A collector database. Not thread-safe for writing: one writer thread owns ``write``.

    Readers (the HTTP API) borrow their own connections with ``reading()``.

    ``max_future_skew_s`` (``ingest.max_future_skew_s``): a kept report dated further than
    this after its own arrival is replaced by the next one whatever its time, so a report
    stored before future times were refused cannot pin a device's latest figures.
    """

    dialect: str
    max_future_skew_s: float = 300.0
    #: Device id -> site from the collector config's ``[devices]``; set before writing.
    configured_sites: Mapping[str, str] = MappingProxyType({})

    @abstractmethod
    def _execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one statement in the current transaction; return its rows (if any)."""

    @abstractmethod
    def _executemany(self, sql: str, rows: Sequence[Row]) -> None:
        """Run one statement for many parameter rows in the current transaction."""

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[None]:
        """Open a write transaction; commit on exit, roll back and map errors on raise."""

    @abstractmethod
    def _lock_migrations(self) -> None:
        """Serialise concurrent migrators (inside the migration transaction)."""

    @abstractmethod
    def _lock_retention(self, exclusive: bool) -> None:
        """Hold the retention lock to the end of the transaction: shared by writes,
        exclusive by a retention batch (``retention.py``)."""

    @abstractmethod
    def _insert_events(self, rows: list[EventRow], received: list[float]) -> list[Row]:
        """Insert events, skipping known keys; return ``(site, device_id, line, direction,
        cls, ts)`` of the rows actually inserted."""

    @abstractmethod
    def _changed_events(self, rows: list[EventRow]) -> list[EventRow]:
        """Of ``rows``, those whose key is stored with other contents (after the insert)."""

    @abstractmethod
    def reading(self) -> AbstractContextManager[Reader]:
        """Borrow a read-only connection for queries."""

    @abstractmethod
    def close(self) -> None:
        """Close every connection."""

    def migrate(self) -> int:
        """Apply every missing migration; return the schema version now in force.

        Raises:
            StoreError: the database is newer than this collector, or cannot be migrated.
        """
        with self._transaction():
            self._lock_migrations()
            self._execute(render(VERSION_TABLE, self.dialect))
            found = self._execute("SELECT MAX(version) FROM schema_version")[0][0] or 0
            if found > LATEST_VERSION:
                raise StoreError(
                    f"database schema is v{found}, newer than this collector's v{LATEST_VERSION}"
                )
            for mig in MIGRATIONS:
                if mig.version > found:
                    log.info("applying schema migration v%d: %s", mig.version, mig.description)
                    for stmt in mig.statements:
                        self._execute(render(stmt, self.dialect))
                    if mig.backfill is not None:
                        mig.backfill(self._execute)
                    self._execute(
                        "INSERT INTO schema_version (version, description, applied_at)"
                        " VALUES (?, ?, ?)",
                        (mig.version, mig.description, time.time()),
                    )
        return LATEST_VERSION

    def schema_version(self) -> int:
        """The highest migration applied (0 for an empty database)."""
        with self.reading() as reader:
            return int(reader.query("SELECT MAX(version) FROM schema_version")[0][0] or 0)

    def write(self, batch: Sequence[Ingested]) -> WriteResult:
        """Store a batch of ingested messages atomically.

        A message of a device under another site than its pinned one is stored as a reject
        instead (``edge.collector.pinning``).

        Raises:
            StoreUnavailable: retry the same batch later (nothing was stored).
            StoreDataError: the database refused a value; nothing was stored.
        """
        with self._transaction():
            batch = pin_sites(self._execute, self._executemany, batch, self.configured_sites)
            rejects = [m.reject for m in batch if m.reject is not None]
            marks: dict[str, float] = {}
            if any(m.events for m in batch):
                self._lock_retention(exclusive=False)
                marks = {str(k): float(v) for k, v in self._execute(sql.MARKS)}
            events, received, acked = store_rows.unexpired(
                self._execute, batch, marks.get("events"), rejects
            )
            inserted = self._insert_events(events, received) if events else []
            if len(inserted) < len(events):
                store_rows.warn_changed(self._changed_events(events))
            self._bump_aggregates(inserted, marks)
            reports = [r for m in batch for r in m.reports]
            intervals = [i for m in batch for i in m.intervals]
            for statement, values in (
                (sql.UPSERT_DEVICE, store_rows.device_rows(batch)),
                *store_rows.report_rows(reports, self.max_future_skew_s),
                (sql.UPSERT_INTERVAL, store_rows.interval_rows(intervals)),
            ):
                if values:
                    self._executemany(statement, values)
            names = labels.latest(n for m in batch for n in m.labels)
            if names:
                self._executemany(labels.UPSERT, names)
            if rejects:
                self._executemany(
                    sql.INSERT_REJECT,
                    [(r.received_s, r.topic, r.reason, r.excerpt, r.code) for r in rejects],
                )
        return WriteResult(len(inserted), len(events) - len(inserted) + acked, len(rejects))

    def apply_retention(
        self, cutoffs: Mapping[str, float], batch_rows: int, stop: threading.Event | None = None
    ) -> Deleted:
        """Record each level's cutoff as its mark (marks only grow), then delete its rows
        before the mark, ``batch_rows`` per transaction, until none is left or ``stop`` is set.

        Crossings go only once acknowledged to their device (``retention.py``).

        Raises:
            StoreUnavailable: the database is away; rows deleted so far stay deleted.
        """
        now = time.time()
        with self._transaction():
            self._lock_retention(exclusive=True)
            for level, cutoff in sorted(cutoffs.items()):
                self._execute(sql.UPSERT_MARK, (level, cutoff, now))
            marks = {str(k): float(v) for k, v in self._execute(sql.MARKS)}
        done: dict[str, int] = {}
        for level, (select, delete) in sql.RETENTION_DELETES.items():
            done[level] = 0
            if level not in cutoffs:
                continue
            while stop is None or not stop.is_set():
                with self._transaction():
                    self._lock_retention(exclusive=True)
                    keys = self._execute(select, (marks[level], batch_rows))
                    if keys:
                        self._executemany(delete, keys)
                    if keys and level == "events":
                        per_outbox = Counter((str(k[0]), str(k[1])) for k in keys)
                        rows = [(*k, n) for k, n in sorted(per_outbox.items())]
                        self._executemany(sql.UPSERT_DELETED, rows)
                done[level] += len(keys)
                if len(keys) < batch_rows:
                    break
        return Deleted(done["events"], done["minute"], done["hour"], marks)

    def _bump_aggregates(self, inserted: list[Row], marks: Mapping[str, float] = _NO_MARKS) -> None:
        """Per-minute, per-hour, per-day (UTC) and all-time counts of the inserted rows
        (``store_rows.aggregate_rows``)."""
        for upsert, values in store_rows.aggregate_rows(inserted, marks):
            self._executemany(upsert, values)

    def update_acks(
        self, touched: dict[tuple[str, str, str], int]
    ) -> dict[tuple[str, str], dict[str, int]]:
        """Recompute the acked seq of outboxes a committed batch touched (``acks.py``).

        Args:
            touched: ``(site, device_id, outbox_id)`` -> the device's ``base_seq`` (0: none).

        Returns:
            ``(site, device_id)`` -> outbox id -> acked seq, for the ``.../ack`` messages.

        Raises:
            StoreUnavailable: nothing recomputed; the next batch of the device does it.
        """
        out: dict[tuple[str, str], dict[str, int]] = {}
        now = time.time()
        with self._transaction():
            for key, base in sorted(touched.items()):
                site, device_id, outbox_id = key
                acks.record(
                    self._execute, key, acks.advance(self._execute, device_id, outbox_id, base), now
                )
            for site, device_id, _ in touched:
                out[(site, device_id)] = acks.device_acks(self._execute, device_id)
        return out


class Reader(ABC):
    """A read-only connection borrowed from a store."""

    dialect: str

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a query written with ``?`` placeholders; return every row."""

    def iter_query(self, sql: str, params: Sequence[Any] = ()) -> Iterator[Row]:
        """Rows of a query, one by one (the default fetches them all first)."""
        yield from self.query(sql, params)


@dataclass(frozen=True)
class PgTimeouts:
    """PostgreSQL connection limits (``[store]``): see ``StoreConfig``."""

    connect_s: int = 10
    statement_s: float = 30.0
    keepalives_idle_s: int = 30


def open_store(url: str, pool_size: int = 4, timeouts: PgTimeouts | None = None) -> Store:
    """Open (not migrate) the store named by ``url``.

    Args:
        url: ``sqlite:///relative.db``, ``sqlite:////abs/path.db`` or ``postgresql://...``.
        pool_size: read connections kept for the HTTP API (PostgreSQL only).
        timeouts: connect, statement and keepalive limits (PostgreSQL only; default
            ``PgTimeouts()``).

    Raises:
        StoreError: unknown scheme, missing driver, or the database cannot be reached.
    """
    if url.startswith("sqlite:///"):
        from edge.collector.store_sqlite import SqliteStore  # noqa: PLC0415 - backend on use

        return SqliteStore(url.removeprefix("sqlite:///"))
    if url.startswith(("postgresql://", "postgres://")):
        from edge.collector.store_postgres import PostgresStore  # noqa: PLC0415 - psycopg optional

        return PostgresStore(url, pool_size, timeouts or PgTimeouts())
    raise StoreError(f"database URL {url!r}: expected sqlite:///PATH or postgresql://...")
