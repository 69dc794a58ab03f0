"""Outbox stage, journal: the durable SQLite journal each crossing is written to before publishing.

Durability: WAL with ``synchronous=FULL``. In WAL mode ``NORMAL`` only fsyncs at checkpoints, so
a power cut can roll back the last commits; ``FULL`` fsyncs the WAL on every commit, so once
``append`` returns the crossing survives power loss. It costs one fsync per crossing (a few ms
on an SD card), far below the crossing rate of a checkpoint.

Cap policy (``OutboxConfig.max_rows``): see ``cap.py``.

Identity: a random ``outbox_id`` per journal (``tallies.identity``), so a wiped device starts a
fresh key space ``(device_id, outbox_id, seq)``. A row is pending until *delivered*
(``sent_utc_s`` set): acked by the collector (``mark_delivered``) or, in broker-only delivery,
by the broker (``mark_sent``); ``claims.py`` holds what is in flight or awaiting the ack.

Threads: each thread gets its own SQLite connection (WAL lets a reader and a writer run at once);
writes take ``BEGIN IMMEDIATE`` so two writers queue on the busy timeout instead of deadlocking.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from edge.config import OutboxConfig
from edge.errors import OutboxError
from edge.outbox import tallies
from edge.outbox.cap import CapLog, enforce_cap
from edge.outbox.claims import Claims
from edge.outbox.tallies import SCHEMA, SCHEMA_VERSION, IntervalCounts, Totals, meta, set_meta
from edge.types import CountRecord, Crossing

log = logging.getLogger(__name__)

_BUSY_TIMEOUT_MS = 10_000
_COLS = "seq, epoch, event_utc_s, line, direction, class_name, track_id, ts_s, confidence"


class Outbox:
    """A durable per-device queue of crossings, with cumulative and per-interval totals."""

    def __init__(
        self, path: Path, device_id: str, config: OutboxConfig, counts_interval_s: float
    ) -> None:
        """Use ``Outbox.open``; this only stores settings."""
        self.path = path
        self.device_id = device_id
        self.config = config
        self.counts_interval_s = counts_interval_s
        self.epoch = 0
        self.outbox_id = ""
        self._local = threading.local()
        self._cons: list[sqlite3.Connection] = []
        self._lock = threading.RLock()
        #: rows in flight and awaiting the collector's ack (``took``, ``rewind``).
        self.claims = Claims()
        self._appended = threading.Event()
        self._cap_log = CapLog(config.max_rows)

    @classmethod
    def open(
        cls,
        path: Path,
        device_id: str,
        config: OutboxConfig,
        *,
        counts_interval_s: float = 60.0,
        new_epoch: bool = True,
    ) -> Outbox:
        """Open or create the journal at ``path``; a new epoch starts unless ``new_epoch=False``.

        Args:
            path: SQLite file, normally ``<state_dir>/outbox.sqlite``; parents are created.
            device_id: the journal remembers its device and refuses another one.
            config: row cap and how long sent rows are kept for inspection.
            counts_interval_s: length of the UTC-aligned intervals of the ``counts`` topic.
            new_epoch: False for a second handle on a journal another component opened.

        Raises:
            OutboxError: the file cannot be created or opened, is not an outbox, or belongs to
                another device.
        """
        box = cls(path, device_id, config, counts_interval_s)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            box._init(new_epoch)
        except (OSError, sqlite3.Error) as err:
            box.close()
            raise OutboxError(f"{path}: cannot open outbox: {err}") from None
        return box

    def _init(self, new_epoch: bool) -> None:
        con = self._con()
        con.execute("PRAGMA journal_mode=WAL")
        with self._write() as con:
            if con.execute("PRAGMA user_version").fetchone()[0] == 0:
                con.executescript(f"{SCHEMA}\nPRAGMA user_version={SCHEMA_VERSION};")
                con.execute("BEGIN IMMEDIATE")
            row = con.execute("SELECT value FROM meta WHERE key = 'device_id'").fetchone()
            owner = None if row is None else str(row[0])
            if owner is None:
                con.execute("INSERT INTO meta VALUES ('device_id', ?)", (self.device_id,))
            elif owner != self.device_id:
                raise OutboxError(
                    f"{self.path}: journal of device {owner!r}, not {self.device_id!r}"
                )
            self.epoch = meta(con, "epoch") + int(new_epoch)
            set_meta(con, "epoch", self.epoch)
            self.outbox_id = tallies.identity(con)
        log.info(
            "outbox %s opened: device %s outbox %s epoch %d",
            self.path, self.device_id, self.outbox_id, self.epoch,
        )  # fmt: skip

    def _con(self) -> sqlite3.Connection:
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            con.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            con.execute("PRAGMA synchronous=FULL")
            self._local.con = con
            with self._lock:
                self._cons.append(con)
        return con

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        con = self._con()
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    def append(self, crossing: Crossing, event_utc_s: float) -> CountRecord:
        """Journal one crossing and commit (fsync) before returning.

        Args:
            crossing: what was counted.
            event_utc_s: wall-clock time of the crossing, seconds since the Unix epoch.

        Returns:
            The record with its ``(device_id, epoch, seq)`` identity.

        Raises:
            OutboxError: the journal cannot be written (disk full, I/O error).
        """
        try:
            with self._write() as con:
                seq = meta(con, "last_seq") + 1
                set_meta(con, "last_seq", seq)
                c = crossing
                con.execute(
                    f"INSERT INTO events ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (seq, self.epoch, event_utc_s, c.line, c.direction, c.class_name,
                     c.track_id, c.ts_s, c.confidence),
                )  # fmt: skip
                tallies.count(con, crossing, event_utc_s, self.counts_interval_s)
                set_meta(con, "rows", meta(con, "rows") + 1)
                self._cap_log(*enforce_cap(con, self.config.max_rows))
        except sqlite3.Error as err:
            raise OutboxError(f"{self.path}: cannot journal crossing: {err}") from None
        self._appended.set()
        return CountRecord(self.device_id, self.epoch, seq, event_utc_s, crossing, self.outbox_id)

    def pending(self, limit: int) -> list[CountRecord]:
        """Claim up to ``limit`` undelivered records, oldest first, skipping those in flight
        and those the broker already took (``claims.py``: until ``rewind``).

        Claimed records stay in flight (in memory only) until ``mark_sent``, ``claims.took``
        or ``release``; after a restart every undelivered row is pending again.
        """
        cl = self.claims
        with cl.lock:
            sql = f"SELECT {_COLS} FROM events WHERE sent_utc_s IS NULL AND seq > ? ORDER BY seq"
            rows = self._con().execute(f"{sql} LIMIT ?", (cl.cursor, limit + len(cl.inflight)))
            out = [self._record(r) for r in rows if r[0] not in cl.inflight][:limit]
            cl.claim([r.seq for r in out])
        return out

    def _record(self, r: tuple[int, int, float, str, str, str, int, float, float]) -> CountRecord:
        crossing = Crossing(r[3], r[4], r[5], r[6], r[7], r[8])  # type: ignore[arg-type]
        return CountRecord(self.device_id, r[1], r[0], r[2], crossing, self.outbox_id)

    def release(self, seqs: Iterable[int]) -> None:
        """Return claimed records to the pending queue (the broker did not take them)."""
        self.claims.release(seqs)

    def mark_delivered(self, up_to_seq: int) -> int:
        """Record that the collector stored every record up to ``up_to_seq``; return rows."""
        with self._write() as con:
            n = con.execute(
                "UPDATE events SET sent_utc_s = ? WHERE seq <= ? AND sent_utc_s IS NULL",
                (time.time(), up_to_seq),
            ).rowcount
        return int(n)

    def floor(self) -> int:
        """Highest seq at or below which every record is delivered or was dropped by the cap
        (sent as ``base_seq``: the collector's ack skips the gaps the device made)."""
        con = self._con()
        row = con.execute("SELECT MIN(seq) FROM events WHERE sent_utc_s IS NULL").fetchone()
        if row[0] is not None:
            return int(row[0]) - 1
        return meta(con, "last_seq")

    def mark_sent(self, seqs: Iterable[int]) -> None:
        """Record these records as delivered without a collector's ack (broker-only delivery,
        or a record that cannot be encoded); call only then."""
        seqs = list(seqs)
        if not seqs:
            return
        now = time.time()
        with self._write() as con:
            con.executemany(
                "UPDATE events SET sent_utc_s = ? WHERE seq = ? AND sent_utc_s IS NULL",
                [(now, s) for s in seqs],
            )
        self.release(seqs)

    def inflight(self) -> int:
        """Number of records claimed by ``pending`` and not yet taken or released."""
        with self.claims.lock:
            return len(self.claims.inflight)

    def wait_appended(self, timeout_s: float) -> bool:
        """Block until this handle appends a record (or ``timeout_s``); resets the signal."""
        hit = self._appended.wait(timeout_s)
        self._appended.clear()
        return hit

    def prune(self, now_utc_s: float | None = None) -> int:
        """Delete sent rows and published intervals older than ``keep_sent_s``; return rows."""
        cutoff = (time.time() if now_utc_s is None else now_utc_s) - self.config.keep_sent_s
        with self._write() as con:
            n = con.execute(
                "DELETE FROM events WHERE sent_utc_s IS NOT NULL AND sent_utc_s < ?", (cutoff,)
            ).rowcount
            set_meta(con, "rows", max(0, meta(con, "rows") - n))
            tallies.prune(con, cutoff)
        return n

    def depth(self) -> int:
        """Number of rows not yet delivered (in flight and awaiting the collector included)."""
        row = self._con().execute("SELECT COUNT(*) FROM events WHERE sent_utc_s IS NULL")
        return int(row.fetchone()[0])

    def oldest_unsent_age_s(self, now_utc_s: float | None = None) -> float | None:
        """Age in seconds of the oldest unsent crossing, or None when all are sent."""
        row = (
            self._con()
            .execute("SELECT event_utc_s FROM events WHERE sent_utc_s IS NULL ORDER BY seq LIMIT 1")
            .fetchone()
        )
        if row is None:
            return None
        return max(0.0, (time.time() if now_utc_s is None else now_utc_s) - float(row[0]))

    def totals(self) -> Totals:
        """Cumulative counts per line, direction and class, with the last seq they include."""
        con = self._con()
        con.execute("BEGIN")  # one snapshot for the counts and the meta row
        try:
            lines = tallies.totals(con)
            return Totals(lines, meta(con, "last_seq"), meta(con, "dropped"))
        finally:
            con.execute("COMMIT")

    def closed_intervals(self, now_utc_s: float, limit: int = 100) -> list[IntervalCounts]:
        """Intervals to publish: closed and changed since their last acknowledged publish.

        An interval is closed once ``now_utc_s`` reaches its end, or once a crossing of a later
        interval was journaled (crossings arrive in time order, so a replay running faster than
        real time closes its intervals too).
        """
        return tallies.closed_intervals(self._con(), now_utc_s, limit)

    def mark_interval_sent(self, line: str, start_s: float, rev: int) -> None:
        """Record that revision ``rev`` of an interval was acknowledged by the broker."""
        with self._write() as con:
            tallies.mark_interval_sent(con, line, start_s, rev)

    def close(self) -> None:
        """Close every thread's connection; the handle is unusable afterwards."""
        with self._lock:
            cons, self._cons = self._cons, []
        for con in cons:
            con.close()
        self._local = threading.local()
