"""Publish stage, zone half: zone snapshots as ``wire.ZoneMsg`` (measurements, not journaled).

Zone snapshots are periodic measurements (``ZoneConfig.report_interval_s``, 5 s by default):
the newest one per zone replaces an unsent older one, they are published QoS 1 without retain
and with a message expiry, and they are never written to the outbox. A snapshot lost in an
outage is replaced by the next one; the queue figures that must survive outages (crossings of
the queue's entry and exit lines) travel as events through the outbox.
"""

from __future__ import annotations

import threading

from edge import wire
from edge.count.zone_report import ZoneSnapshot


def zone_message(snap: ZoneSnapshot, device_id: str, utc_offset_s: float) -> wire.ZoneMsg:
    """The wire message of a snapshot; ``utc_offset_s`` turns source time into UTC seconds."""
    w = snap.wait
    rate = w.exit_rate_per_s
    return wire.ZoneMsg(
        v=1, type="zones", device_id=device_id, zone=snap.zone, ts=utc_offset_s + snap.ts_s,
        occupancy=dict(snap.occupancy), queue_length=snap.queue_length,
        wait_s=None if w.wait_s is None else round(w.wait_s, 2), wait_method=w.method,
        window_s=w.window_s, direction=snap.direction,
        wait_measured_s=None if w.measured_s is None else round(w.measured_s, 2),
        wait_littles_s=None if w.littles_s is None else round(w.littles_s, 2),
        wait_lower_bound_s=None if w.lower_bound_s is None else round(w.lower_bound_s, 2),
        exit_rate_per_min=None if rate is None else round(rate * 60, 3),
        departures=w.departures,
    )  # fmt: skip


class LatestZones:
    """The newest unsent message per zone; thread-safe (counting thread in, drain thread out)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str, wire.ZoneMsg] = {}

    def offer(self, msg: wire.ZoneMsg) -> None:
        """Keep ``msg`` as the zone's next message, replacing an unsent older one."""
        with self._lock:
            self._latest[msg.zone] = msg

    def take(self) -> list[wire.ZoneMsg]:
        """Every waiting message, oldest zone name first; the holder is empty afterwards."""
        with self._lock:
            out = [self._latest[k] for k in sorted(self._latest)]
            self._latest.clear()
        return out

    def __len__(self) -> int:
        with self._lock:
            return len(self._latest)
