"""Collector read side: queues seen by two cameras (entry line at the back, exit at the front).

In the system at ``as_of`` = ``offset`` + entries − exits, counting stored events whose
*event time* lies in ``[since, as_of)``. ``as_of`` is the latest time both devices are known
to have reported up to: the earlier of their ``last_seen`` (and the request time). While a
device is offline its crossings wait in its outbox, so ``as_of`` stays at the time it was last
heard from instead of letting the other camera's counts run on alone; when it reconnects its
backlog arrives with the original event times and the figures catch up. Crossings older than
the ``events`` retention mark are counted from the aggregates (``_count_aggregated``): a
calibration point older than the raw crossings kept is rounded up to the next minute.

Expected wait (Little's law): in-system ÷ exit rate, the rate being exits over the last
``window_s`` before ``as_of`` (less after ``since``). 0 for an empty system; None when there
are vehicles and no exits in the window (stalled: ``since_exit_s`` tells for how long).
"""

from __future__ import annotations

from typing import Any

from edge.classes import VEHICLE_CLASSES
from edge.collector import queries, rollups
from edge.collector.config import LineRef, QueueConfig
from edge.collector.store import Reader


def _count(
    reader: Reader,
    ref: LineRef,
    classes: tuple[str, ...],
    span: tuple[float, float],
    kept_from: float | None = None,
) -> tuple[int, float | None]:
    """Crossings of ``ref`` with event time in ``[span)``, and the latest one's time.

    Before ``kept_from`` (the ``events`` retention mark: raw crossings may be deleted) they
    are counted from the aggregates instead (``_count_aggregated``).
    """
    start, end = span
    n, last = 0, None
    if kept_from is not None and start < kept_from:
        n, last = _count_aggregated(reader, ref, classes, (start, min(end, kept_from)))
        start = kept_from
    if start >= end:
        return n, last
    marks = ", ".join("?" for _ in classes)
    sql = (
        "SELECT COUNT(*), MAX(ts) FROM events WHERE device_id = ? AND line = ?"
        f" AND direction = ? AND ts >= ? AND ts < ? AND cls IN ({marks})"
    )
    k, latest = reader.query(sql, [ref.device, ref.line, ref.direction, start, end, *classes])[0]
    return n + int(k or 0), last if latest is None else float(latest)


def _count_aggregated(
    reader: Reader, ref: LineRef, classes: tuple[str, ...], span: tuple[float, float]
) -> tuple[int, float | None]:
    """``_count`` from the per-minute (hour, day) counts: ``span``'s start is rounded up to
    the next minute, or to the next whole hour (day) when retention deleted the minutes
    (hours) there; the latest time is the end of the latest bucket with a crossing."""
    end = int(span[1])
    filters = queries.Filters(
        {"device": (ref.device,), "line": (ref.line,), "direction": (ref.direction,),
         "class": classes}
    )  # fmt: skip
    marks = queries.retention_marks(reader)
    for step in (60, 3600, 86_400):
        start = -(-int(span[0]) // step) * step
        ranges = rollups.plan([(start, end)] if start < end else [])
        try:
            rollups.check_kept(ranges, marks)
        except ValueError:
            continue
        n, last = 0, None
        for lv, parts in ranges.items():
            for t, _, k in queries.sums(reader, lv, parts, lv.step_s, (filters, ())):
                n += k
                last = max(last or t, min(t + lv.step_s, end))
        return n, last
    return 0, None


def _last_seen(reader: Reader, devices: tuple[str, ...]) -> dict[str, float | None]:
    marks = ", ".join("?" for _ in devices)
    rows = reader.query(
        f"SELECT device_id, last_seen FROM devices WHERE device_id IN ({marks})", list(devices)
    )
    seen: dict[str, float | None] = dict.fromkeys(devices)
    seen.update({str(d): None if t is None else float(t) for d, t in rows})
    return seen


def queue_figures(reader: Reader, name: str, q: QueueConfig, now_s: float) -> dict[str, Any]:
    """Figures of queue ``name`` as of the latest time both of its devices reported (≤ now)."""
    classes = tuple(sorted(q.classes or VEHICLE_CLASSES))
    seen = _last_seen(reader, (q.entry.device, q.exit.device))
    heard = [t for t in seen.values() if t is not None]
    as_of = max(min([now_s, *heard]) if len(heard) == len(seen) else q.since, q.since)
    kept_from = queries.retention_marks(reader).get("events")
    entries, _ = _count(reader, q.entry, classes, (q.since, as_of), kept_from)
    exits, last_exit = _count(reader, q.exit, classes, (q.since, as_of), kept_from)
    span = min(q.window_s, as_of - q.since)
    recent = _count(reader, q.exit, classes, (as_of - span, as_of), kept_from)[0] if span > 0 else 0
    rate = recent / span if span > 0 else None
    in_system = q.offset + entries - exits
    return {
        "queue": name, "site": q.site, "direction": q.direction, "as_of": as_of,
        "lag_s": now_s - as_of, "entries": entries, "exits": exits, "offset": q.offset,
        "since": q.since, "in_system": in_system, "window_s": q.window_s,
        "exit_rate_per_min": None if rate is None else rate * 60,
        "expected_wait_s": expected_wait(in_system, rate), "wait_method": "littles_law",
        "since_exit_s": None if last_exit is None else as_of - last_exit,
        "devices": {
            "entry": {**q.entry.model_dump(), "last_seen": seen[q.entry.device]},
            "exit": {**q.exit.model_dump(), "last_seen": seen[q.exit.device]},
        },
    }  # fmt: skip


def expected_wait(in_system: int, rate_per_s: float | None) -> float | None:
    """Little's law: 0 for an empty system, None without exits (or history), else L / λ.

    A negative in-system count (the calibration drifted: more exits than entries) is
    treated as empty; the raw figure is still published so the drift is visible.
    """
    if in_system <= 0:
        return 0.0
    if not rate_per_s:
        return None
    return in_system / rate_per_s
