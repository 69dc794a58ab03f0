"""Counting stage, reporting half: zone states summed up over a run, and periodic snapshots.

``ZoneReport.add(state)`` per frame keeps bounded figures: occupancy maximum and time-weighted
mean per class, a series sampled every ``sample_s`` of source time, and the completed dwells
(at most ``max_dwells``, the latest kept). ``to_json()`` is the replay's ``zones.<name>``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from edge.count.wait import WaitEstimate
from edge.count.windows import percentile
from edge.count.zones import Dwell, ZoneState


@dataclass(frozen=True)
class ZoneSnapshot:
    """What is published about one zone every ``report_interval_s`` (see ``wire.ZoneMsg``).

    Attributes:
        zone: zone name.
        direction: the traffic direction label of the zone, if configured.
        ts_s: source time of the snapshot.
        occupancy: members present per class.
        queue_length: vehicles queued.
        wait: the wait estimate.
    """

    zone: str
    direction: str | None
    ts_s: float
    occupancy: dict[str, int]
    queue_length: int
    wait: WaitEstimate


class SnapshotClock:
    """Says when a snapshot is due: every ``interval_s`` of source time, and after a reset."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._next_s: float | None = None

    def due(self, ts_s: float, reset: bool = False) -> bool:
        """True when a snapshot should be taken at ``ts_s``."""
        if (
            reset
            or self._next_s is None
            or ts_s >= self._next_s
            or ts_s < self._next_s - 2 * self.interval_s
        ):
            self._next_s = ts_s + self.interval_s
            return True
        return False


def _round(v: float | None, nd: int = 2) -> float | None:
    return None if v is None else round(v, nd)


def dwell_stats(dwells: list[float]) -> dict[str, Any]:
    """Count, median, p90 and max of dwell times in seconds (None when there are none)."""
    return {
        "count": len(dwells),
        "median_s": _round(percentile(dwells, 50)),
        "p90_s": _round(percentile(dwells, 90)),
        "max_s": _round(max(dwells) if dwells else None),
    }


def wait_json(w: WaitEstimate) -> dict[str, Any]:
    """A wait estimate as JSON (seconds rounded to 0.01, rate per minute)."""
    rate = w.exit_rate_per_s
    return {
        "wait_s": _round(w.wait_s),
        "method": w.method,
        "window_s": w.window_s,
        "measured_s": _round(w.measured_s),
        "littles_s": _round(w.littles_s),
        "exit_rate_per_min": None if rate is None else round(rate * 60, 3),
        "departures": w.departures,
        "lower_bound_s": _round(w.lower_bound_s),
    }


class ZoneReport:
    """Figures of one zone over a whole run (bounded).

    Args:
        sample_s: spacing of the time series, seconds of source time.
        max_dwells: dwells kept for the statistics and the per-track list.
        max_samples: points kept in the series (the latest).
    """

    def __init__(self, sample_s: float = 5.0, max_dwells: int = 10_000, max_samples: int = 2000):
        self.clock = SnapshotClock(sample_s)
        self.dwells: deque[Dwell] = deque(maxlen=max_dwells)
        self.series: deque[dict[str, Any]] = deque(maxlen=max_samples)
        self._max: dict[str, int] = {}
        self._area: dict[str, float] = {}
        self._queue_max = 0
        self._span_s = 0.0
        self._last: ZoneState | None = None

    def add(self, state: ZoneState) -> None:
        """Fold one frame's state in."""
        prev = self._last
        if prev is not None and not state.reset and state.ts_s > prev.ts_s:
            dt = state.ts_s - prev.ts_s
            self._span_s += dt
            for cls, n in prev.occupancy.items():
                self._area[cls] = self._area.get(cls, 0.0) + n * dt
        for cls, n in state.occupancy.items():
            self._max[cls] = max(self._max.get(cls, 0), n)
        self._queue_max = max(self._queue_max, state.queue_length)
        self.dwells.extend(state.dwells)
        if self.clock.due(state.ts_s, state.reset):
            self.series.append(
                {"t": round(state.ts_s, 2), "occupancy": dict(state.occupancy),
                 "queue_length": state.queue_length, **wait_json(state.wait)}
            )  # fmt: skip
        self._last = state

    def to_json(self) -> dict[str, Any]:
        """The replay's summary of this zone."""
        seen = [d for d in self.dwells if not d.censored]
        span = self._span_s
        dwells = [
            {"track_id": d.track_id, "class": d.class_name, "enter_s": round(d.enter_s, 2),
             "leave_s": round(d.leave_s, 2), "dwell_s": round(d.dwell_s, 2),
             "censored": d.censored, "vanished": d.vanished}
            for d in self.dwells
        ]  # fmt: skip
        return {
            "occupancy": {
                "max": dict(sorted(self._max.items())),
                "mean": {c: round(a / span, 3) for c, a in sorted(self._area.items())}
                if span > 0
                else {},
            },
            "queue_length_max": self._queue_max,
            "dwell": dwell_stats([d.dwell_s for d in seen]),
            "dwell_censored": len(self.dwells) - len(seen),
            "dwells": dwells,
            "series": list(self.series),
        }
