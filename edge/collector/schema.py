"""Collector storage: versioned schema migrations, one list for SQLite and PostgreSQL.

A migration is applied once, in its own transaction, and recorded in ``schema_version``.
Never edit a released migration: append a new one. ``{id}`` and ``{float}`` are the only
dialect differences the schema needs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from edge.collector import labels

#: Runs one statement (``?`` placeholders) in the migration's transaction; returns its rows.
Execute = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]


@dataclass(frozen=True)
class Migration:
    """One schema step: ``version`` (1, 2, ...), what it does, its statements, and an
    optional ``backfill`` run after them in the same transaction (data SQL cannot move
    portably, e.g. out of stored JSON)."""

    version: int
    description: str
    statements: tuple[str, ...]
    backfill: Callable[[Execute], None] | None = None


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "events, per-minute and all-time aggregates, devices, reports, rejects",
        (
            # One row per crossing; the key makes redelivery a no-op.
            """CREATE TABLE events (
                device_id TEXT NOT NULL, epoch BIGINT NOT NULL, seq BIGINT NOT NULL,
                site TEXT NOT NULL, line TEXT NOT NULL, direction TEXT NOT NULL,
                cls TEXT NOT NULL, ts {float} NOT NULL, track_id BIGINT NOT NULL,
                confidence {float} NOT NULL, received_at {float} NOT NULL,
                PRIMARY KEY (device_id, epoch, seq))""",
            # Bumped only by rows actually inserted into events, in the same transaction.
            """CREATE TABLE counts_minute (
                minute BIGINT NOT NULL, site TEXT NOT NULL, device_id TEXT NOT NULL,
                line TEXT NOT NULL, direction TEXT NOT NULL, cls TEXT NOT NULL,
                n BIGINT NOT NULL,
                PRIMARY KEY (minute, site, device_id, line, direction, cls))""",
            """CREATE TABLE counts_total (
                site TEXT NOT NULL, device_id TEXT NOT NULL, line TEXT NOT NULL,
                direction TEXT NOT NULL, cls TEXT NOT NULL, n BIGINT NOT NULL,
                PRIMARY KEY (device_id, line, direction, cls, site))""",
            """CREATE TABLE devices (
                device_id TEXT PRIMARY KEY, site TEXT NOT NULL,
                first_seen {float} NOT NULL, last_seen {float})""",
            # Latest status, telemetry, state and per-zone figures of each device.
            """CREATE TABLE device_reports (
                device_id TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
                site TEXT NOT NULL, ts {float} NOT NULL, received_at {float} NOT NULL,
                state TEXT, body TEXT NOT NULL,
                PRIMARY KEY (device_id, kind, name))""",
            """CREATE TABLE zone_history (
                device_id TEXT NOT NULL, zone TEXT NOT NULL, ts {float} NOT NULL,
                site TEXT NOT NULL, body TEXT NOT NULL,
                PRIMARY KEY (device_id, zone, ts))""",
            # The device's own interval totals, kept to reconcile against the events.
            """CREATE TABLE interval_counts (
                device_id TEXT NOT NULL, line TEXT NOT NULL, start_s {float} NOT NULL,
                end_s {float} NOT NULL, direction TEXT NOT NULL, cls TEXT NOT NULL,
                site TEXT NOT NULL, n BIGINT NOT NULL,
                PRIMARY KEY (device_id, line, start_s, end_s, direction, cls))""",
            """CREATE TABLE rejects (
                id {id}, received_at {float} NOT NULL, topic TEXT NOT NULL,
                reason TEXT NOT NULL, excerpt TEXT NOT NULL)""",
        ),
    ),
    Migration(
        2,
        "queues: events by line and event time (cross-camera queue counts)",
        (
            """CREATE INDEX IF NOT EXISTS events_line_ts
                ON events (device_id, line, direction, ts)""",
        ),
    ),
    Migration(
        3,
        "events keyed by (device_id, outbox_id, seq); per-outbox acknowledged seq",
        (
            # The epoch stays in the key only so rows stored before outbox ids (outbox_id '')
            # keep their old identity (device_id, epoch, seq); a row's epoch never changes.
            """CREATE TABLE events_v3 (
                device_id TEXT NOT NULL, outbox_id TEXT NOT NULL, epoch BIGINT NOT NULL,
                seq BIGINT NOT NULL, site TEXT NOT NULL, line TEXT NOT NULL,
                direction TEXT NOT NULL, cls TEXT NOT NULL, ts {float} NOT NULL,
                track_id BIGINT NOT NULL, confidence {float} NOT NULL,
                received_at {float} NOT NULL,
                PRIMARY KEY (device_id, outbox_id, seq, epoch))""",
            """INSERT INTO events_v3 (device_id, outbox_id, epoch, seq, site, line, direction,
                cls, ts, track_id, confidence, received_at)
                SELECT device_id, '', epoch, seq, site, line, direction, cls, ts, track_id,
                confidence, received_at FROM events""",
            "DROP TABLE events",
            "ALTER TABLE events_v3 RENAME TO events",
            """CREATE INDEX IF NOT EXISTS events_line_ts
                ON events (device_id, line, direction, ts)""",
            # Highest seq of an outbox up to which every crossing is stored (or was given up
            # by the device): what the retained .../ack message tells the device.
            """CREATE TABLE outbox_acks (
                device_id TEXT NOT NULL, outbox_id TEXT NOT NULL, acked_seq BIGINT NOT NULL,
                site TEXT NOT NULL, updated_at {float} NOT NULL,
                PRIMARY KEY (device_id, outbox_id))""",
        ),
    ),
    Migration(
        4,
        "rejects: a code per reject (too_large, future_ts, invalid, ...), counted per code",
        ("ALTER TABLE rejects ADD COLUMN code TEXT NOT NULL DEFAULT 'invalid'",),
    ),
    Migration(
        5,
        "line_labels: the latest direction names of each device's lines (from its state)",
        (
            """CREATE TABLE line_labels (
                device_id TEXT NOT NULL, line TEXT NOT NULL, site TEXT NOT NULL,
                label_in TEXT NOT NULL, label_out TEXT NOT NULL, ts {float} NOT NULL,
                PRIMARY KEY (device_id, line))""",
        ),
        labels.backfill,
    ),
    Migration(
        6,
        "counts_hour, counts_day: per UTC hour and UTC day aggregates, from counts_minute",
        (
            # Bumped with counts_minute, by the same inserted rows, in the same transaction;
            # keyed by the UTC hour / UTC day start (epoch seconds).
            """CREATE TABLE counts_hour (
                hour BIGINT NOT NULL, site TEXT NOT NULL, device_id TEXT NOT NULL,
                line TEXT NOT NULL, direction TEXT NOT NULL, cls TEXT NOT NULL,
                n BIGINT NOT NULL,
                PRIMARY KEY (hour, site, device_id, line, direction, cls))""",
            """CREATE TABLE counts_day (
                day BIGINT NOT NULL, site TEXT NOT NULL, device_id TEXT NOT NULL,
                line TEXT NOT NULL, direction TEXT NOT NULL, cls TEXT NOT NULL,
                n BIGINT NOT NULL,
                PRIMARY KEY (day, site, device_id, line, direction, cls))""",
            """INSERT INTO counts_hour (hour, site, device_id, line, direction, cls, n)
                SELECT (minute / 3600) * 3600, site, device_id, line, direction, cls, SUM(n)
                FROM counts_minute GROUP BY 1, 2, 3, 4, 5, 6""",
            """INSERT INTO counts_day (day, site, device_id, line, direction, cls, n)
                SELECT (minute / 86400) * 86400, site, device_id, line, direction, cls, SUM(n)
                FROM counts_minute GROUP BY 1, 2, 3, 4, 5, 6""",
        ),
    ),
    Migration(
        7,
        "retention: cutoffs (retention_marks), crossings deleted per outbox, events by time",
        (
            # level ('events', 'minute', 'hour') -> every row before cutoff (epoch seconds)
            # may be gone; a cutoff only grows.
            """CREATE TABLE retention_marks (
                level TEXT PRIMARY KEY, cutoff {float} NOT NULL, updated_at {float} NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS events_ts ON events (ts)",
            # Crossings retention deleted per outbox, so reconciliation still counts them.
            """CREATE TABLE events_deleted (
                device_id TEXT NOT NULL, outbox_id TEXT NOT NULL, n BIGINT NOT NULL,
                PRIMARY KEY (device_id, outbox_id))""",
        ),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version

DIALECT_TYPES: dict[str, dict[str, str]] = {
    "sqlite": {"id": "INTEGER PRIMARY KEY", "float": "REAL"},
    "postgresql": {
        "id": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        "float": "DOUBLE PRECISION",
    },
}

VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at {float} NOT NULL)"""


def render(statement: str, dialect: str) -> str:
    """Fill a statement's dialect placeholders."""
    return statement.format(**DIALECT_TYPES[dialect])
