"""The rows one ``Store.write`` adds, worked out from an ingested batch.

``store.py`` owns the transaction and the order of the statements; this module says what
goes into them: the crossings still to insert (retention), the aggregate rows of the
crossings inserted, and the device, report and interval upserts. Every list is sorted by its
key, so concurrent collectors take their row locks in the same order.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from edge.collector import statements as sql
from edge.collector.ingest import EXPIRED, DeviceReport, EventRow, Ingested, IntervalRow, Reject
from edge.wire import LEGACY_OUTBOX_ID

log = logging.getLogger(__name__)

Row = tuple[Any, ...]
#: Runs one statement (``?`` placeholders) in the write's transaction; returns its rows.
Execute = Callable[[str, Sequence[Any]], list[Row]]
#: Aggregate upsert -> its bucket in seconds (UTC minute, hour, day).
LEVEL_UPSERTS = {sql.UPSERT_MINUTE: 60, sql.UPSERT_HOUR: 3600, sql.UPSERT_DAY: 86_400}
#: Aggregate upsert -> its retention level (``retention.LEVELS``; days are kept for ever).
LEVEL_NAMES = {sql.UPSERT_MINUTE: "minute", sql.UPSERT_HOUR: "hour", sql.UPSERT_DAY: "day"}


def unexpired(
    execute: Execute, batch: Sequence[Ingested], mark: float | None, rejects: list[Reject]
) -> tuple[list[EventRow], list[float], int]:
    """The crossings to insert, their arrival times, and how many were dropped as
    duplicates: older than the ``events`` retention mark (perhaps deleted) with their seq
    acknowledged. Crossings without an outbox id older than the mark are refused
    (``expired``, added to ``rejects``)."""
    events: list[EventRow] = []
    received: list[float] = []
    dropped = 0
    acked: dict[tuple[str, str], int] = {}
    for m in batch:
        expired = 0
        for e in m.events:
            if mark is not None and e.ts_s < mark:
                if e.outbox_id == LEGACY_OUTBOX_ID:
                    expired += 1
                    continue
                key = (e.device_id, e.outbox_id)
                if key not in acked:
                    rows = execute(sql.ACKED, key)
                    acked[key] = int(rows[0][0]) if rows else -1
                if e.seq <= acked[key]:
                    dropped += 1
                    continue
            events.append(e)
            received.append(m.received_s)
        if expired:
            why = (
                f"{expired} crossing(s) without an outbox id older than the retention "
                f"cutoff {mark:.0f} (retention.events_days): not counted"
            )
            rejects.append(Reject(m.topic, why, m.received_s, "", EXPIRED))
    return events, received, dropped


def aggregate_rows(inserted: list[Row], marks: Mapping[str, float]) -> list[tuple[str, list[Row]]]:
    """Per-minute, per-hour, per-day (UTC) and all-time upserts of the inserted crossings
    ``(site, device_id, line, direction, cls, ts)``; a level's rows before its retention mark
    are left out (that range is deleted)."""
    levels: dict[str, Counter[Row]] = {s: Counter() for s in LEVEL_UPSERTS}
    totals: Counter[Row] = Counter()
    for site, device_id, line, direction, cls, ts in inserted:
        for upsert, step in LEVEL_UPSERTS.items():
            if ts < marks.get(LEVEL_NAMES[upsert], float("-inf")):
                continue
            levels[upsert][(int(ts // step) * step, site, device_id, line, direction, cls)] += 1
        totals[(device_id, line, direction, cls, site)] += 1
    out = [(upsert, [(*k, n) for k, n in sorted(c.items())]) for upsert, c in levels.items() if c]
    if totals:
        out.append((sql.UPSERT_TOTAL, [(*k, n) for k, n in sorted(totals.items())]))
    return out


def device_rows(batch: Sequence[Ingested]) -> list[Row]:
    """``devices`` upserts: first seen and, for live (not retained) messages, last seen."""
    seen: dict[str, Row] = {}
    for m in batch:
        if m.reject is not None:
            continue
        last = m.received_s if m.live else None
        prev = seen.get(m.device_id)
        if prev is not None and prev[3] is not None and (last is None or prev[3] > last):
            last = prev[3]
        seen[m.device_id] = (m.device_id, m.site, m.received_s, last)
    return [seen[k] for k in sorted(seen)]


def report_rows(
    reports: list[DeviceReport], max_future_skew_s: float
) -> list[tuple[str, list[Row]]]:
    """The latest report per (device, kind, name), and every zone snapshot for its history."""
    latest: dict[Row, DeviceReport] = {}
    zones: list[Row] = []
    for r in reports:
        key = (r.device_id, r.kind, r.name or "")
        if key not in latest or r.ts_s >= latest[key].ts_s:
            latest[key] = r
        if r.kind == "zones":
            zones.append((r.device_id, r.name, r.ts_s, r.site, r.body_json))
    rows = [
        (*k, r.site, r.ts_s, r.received_s, r.state, r.body_json, max_future_skew_s)
        for k, r in sorted(latest.items())
    ]
    return [(sql.UPSERT_REPORT, rows), (sql.INSERT_ZONE, sorted(zones))]


def interval_rows(intervals: list[IntervalRow]) -> list[Row]:
    """The device's own interval totals, the last one per key."""
    rows = {
        (i.device_id, i.line, i.start_s, i.end_s, i.direction, i.cls): (i.site, i.n)
        for i in intervals
    }
    return [(*k, *v) for k, v in sorted(rows.items())]


def warn_changed(rows: list[EventRow]) -> None:
    """Log crossings that came again under a stored key with other contents (kept as stored)."""
    if rows:
        e = rows[0]
        log.warning(
            "%d crossing(s) arrived again under a stored key with other contents; the stored "
            "ones are kept (first: device %s outbox %r seq %d)",
            len(rows), e.device_id, e.outbox_id, e.seq,
        )  # fmt: skip
