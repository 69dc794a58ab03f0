"""Collector acknowledgements: per device outbox, the highest seq stored without a gap.

After each batch commits, the writer recomputes, in a transaction of its own, the acked seq
of every outbox the batch touched **from the database**, not from this process's memory: with
several collectors sharing one PostgreSQL, the one whose computation runs last sees every
commit, so the value converges. The start is the larger of the stored value and the device's
``base_seq`` (every seq at or below it is delivered or was dropped on purpose by the outbox
cap, so that gap is skipped); from there the run of consecutive stored seqs is followed.
The stored value only grows (``CASE`` in the upsert), and the retained ``.../ack`` message
carries it. Legacy events (``outbox_id ''``) are never acknowledged: old agents do not listen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Execute = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]

#: Newest outboxes of one device named in its ack (a wiped device adds one each time).
MAX_OUTBOXES = 8

_STORED = "SELECT acked_seq FROM outbox_acks WHERE device_id = ? AND outbox_id = ?"
_HAS = "SELECT 1 FROM events WHERE device_id = ? AND outbox_id = ? AND seq = ?"
_RUN_END = """SELECT MIN(e.seq) FROM events e
    WHERE e.device_id = ? AND e.outbox_id = ? AND e.seq > ? AND NOT EXISTS (
        SELECT 1 FROM events n WHERE n.device_id = e.device_id
        AND n.outbox_id = e.outbox_id AND n.seq = e.seq + 1)"""
_UPSERT = """INSERT INTO outbox_acks (device_id, outbox_id, acked_seq, site, updated_at)
    VALUES (?, ?, ?, ?, ?) ON CONFLICT (device_id, outbox_id) DO UPDATE SET
    acked_seq = CASE WHEN excluded.acked_seq > outbox_acks.acked_seq
        THEN excluded.acked_seq ELSE outbox_acks.acked_seq END,
    site = excluded.site, updated_at = excluded.updated_at"""
_LIST = """SELECT outbox_id, acked_seq FROM outbox_acks WHERE device_id = ?
    ORDER BY updated_at DESC, outbox_id LIMIT ?"""


def advance(execute: Execute, device_id: str, outbox_id: str, base_seq: int) -> int:
    """The acked seq of one outbox: from max(stored, ``base_seq``) along consecutive seqs."""
    stored = execute(_STORED, (device_id, outbox_id))
    start = max(int(stored[0][0]) if stored else 0, base_seq)
    if execute(_HAS, (device_id, outbox_id, start + 1)):
        start = int(execute(_RUN_END, (device_id, outbox_id, start))[0][0])
    return start


def record(execute: Execute, key: tuple[str, str, str], acked_seq: int, now_s: float) -> None:
    """Store ``acked_seq`` for ``(site, device_id, outbox_id)`` unless a larger one is there."""
    site, device_id, outbox_id = key
    execute(_UPSERT, (device_id, outbox_id, acked_seq, site, now_s))


def device_acks(execute: Execute, device_id: str) -> dict[str, int]:
    """Outbox id -> acked seq of a device's newest outboxes (as stored, after the upserts)."""
    return {str(o): int(s) for o, s in execute(_LIST, (device_id, MAX_OUTBOXES))}
