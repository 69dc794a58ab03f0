"""Outbox stage, tallies: the journal's schema and meta values, totals and interval counts.

The functions take the caller's connection and run inside its transaction, so a crossing,
its totals and its interval count are committed together (``Outbox.append``).
"""

from __future__ import annotations

import logging
import math
import secrets
import sqlite3
from dataclasses import dataclass

from edge.types import Crossing

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE events (
    seq INTEGER PRIMARY KEY, epoch INTEGER NOT NULL, event_utc_s REAL NOT NULL,
    line TEXT NOT NULL, direction TEXT NOT NULL, class_name TEXT NOT NULL,
    track_id INTEGER NOT NULL, ts_s REAL NOT NULL, confidence REAL NOT NULL, sent_utc_s REAL);
CREATE INDEX events_unsent ON events (seq) WHERE sent_utc_s IS NULL;
CREATE INDEX events_sent ON events (sent_utc_s) WHERE sent_utc_s IS NOT NULL;
CREATE TABLE totals (line TEXT, direction TEXT, class_name TEXT, n INTEGER NOT NULL,
    PRIMARY KEY (line, direction, class_name)) WITHOUT ROWID;
CREATE TABLE intervals (line TEXT, start_s REAL, direction TEXT, class_name TEXT,
    n INTEGER NOT NULL, PRIMARY KEY (line, start_s, direction, class_name)) WITHOUT ROWID;
CREATE TABLE interval_revs (line TEXT, start_s REAL, end_s REAL NOT NULL, rev INTEGER NOT NULL,
    sent_rev INTEGER NOT NULL, PRIMARY KEY (line, start_s)) WITHOUT ROWID;
"""
#: direction -> class name -> count
Counts = dict[str, dict[str, int]]


def meta(con: sqlite3.Connection, key: str) -> int:
    """An integer from the ``meta`` table (0 when absent)."""
    row = con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return 0 if row is None else int(row[0])


def set_meta(con: sqlite3.Connection, key: str, value: object) -> None:
    """Set a value in the ``meta`` table (inside the caller's transaction)."""
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))


def identity(con: sqlite3.Connection) -> str:
    """The journal's random ``outbox_id`` (16 hex digits), created on first use: a journal
    from before outbox ids gets one when it is first opened (inside the caller's transaction).
    """
    row = con.execute("SELECT value FROM meta WHERE key = 'outbox_id'").fetchone()
    if row is not None:
        return str(row[0])
    outbox_id = secrets.token_hex(8)
    set_meta(con, "outbox_id", outbox_id)
    if meta(con, "last_seq"):
        log.warning("outbox had no id (written by an older version): it is now %s", outbox_id)
    return outbox_id


def _add(counts: Counts, direction: str, class_name: str, n: int) -> None:
    counts.setdefault(direction, {})[class_name] = n


@dataclass(frozen=True)
class IntervalCounts:
    """Totals of one line over the closed interval ``[start_s, end_s)`` (UTC seconds).

    ``rev`` grows with every crossing added to the interval; pass it back to
    ``Outbox.mark_interval_sent`` so a crossing that arrives after the publish triggers a
    republish of the whole interval (the collector upserts on device, line and start).
    """

    line: str
    start_s: float
    end_s: float
    rev: int
    counts: Counts


@dataclass(frozen=True)
class Totals:
    """Cumulative counts since the journal began: line -> direction -> class -> n."""

    lines: dict[str, Counts]
    last_seq: int
    dropped: int


def count(con: sqlite3.Connection, c: Crossing, event_utc_s: float, interval_s: float) -> None:
    """Add one crossing to the cumulative totals and to its UTC-aligned interval."""
    con.execute(
        "INSERT INTO totals VALUES (?, ?, ?, 1) ON CONFLICT DO UPDATE SET n = n + 1",
        (c.line, c.direction, c.class_name),
    )
    start = math.floor(event_utc_s / interval_s) * interval_s
    con.execute(
        "INSERT INTO intervals VALUES (?, ?, ?, ?, 1) ON CONFLICT DO UPDATE SET n = n + 1",
        (c.line, start, c.direction, c.class_name),
    )
    con.execute(
        "INSERT INTO interval_revs VALUES (?, ?, ?, 1, 0) ON CONFLICT DO UPDATE SET rev = rev + 1",
        (c.line, start, start + interval_s),
    )


def totals(con: sqlite3.Connection) -> dict[str, Counts]:
    """Cumulative counts: line -> direction -> class -> n."""
    lines: dict[str, Counts] = {}
    for line, direction, cls, n in con.execute("SELECT * FROM totals ORDER BY 1, 2, 3"):
        _add(lines.setdefault(line, {}), direction, cls, n)
    return lines


def closed_intervals(con: sqlite3.Connection, now_utc_s: float, limit: int) -> list[IntervalCounts]:
    """Closed intervals whose latest revision is not acknowledged yet, oldest first."""
    revs = con.execute(
        "SELECT line, start_s, end_s, rev FROM interval_revs WHERE rev > sent_rev AND"
        " (end_s <= ? OR end_s <= (SELECT MAX(start_s) FROM interval_revs))"
        " ORDER BY start_s, line LIMIT ?",
        (now_utc_s, limit),
    ).fetchall()
    out = []
    for line, start, end, rev in revs:
        counts: Counts = {}
        for direction, cls, n in con.execute(
            "SELECT direction, class_name, n FROM intervals WHERE line = ? AND start_s = ?",
            (line, start),
        ):
            _add(counts, direction, cls, n)
        out.append(IntervalCounts(line, start, end, rev, counts))
    return out


def mark_interval_sent(con: sqlite3.Connection, line: str, start_s: float, rev: int) -> None:
    """Record that revision ``rev`` of an interval was acknowledged."""
    con.execute(
        "UPDATE interval_revs SET sent_rev = MAX(sent_rev, ?) WHERE line = ? AND start_s = ?",
        (rev, line, start_s),
    )


def prune(con: sqlite3.Connection, cutoff_utc_s: float) -> None:
    """Delete acknowledged intervals that ended before ``cutoff_utc_s``."""
    con.execute(
        "DELETE FROM intervals WHERE (line, start_s) IN (SELECT line, start_s FROM"
        " interval_revs WHERE sent_rev = rev AND end_s < ?)",
        (cutoff_utc_s,),
    )
    con.execute("DELETE FROM interval_revs WHERE sent_rev = rev AND end_s < ?", (cutoff_utc_s,))
