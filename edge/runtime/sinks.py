"""Result sinks: what watches each processed frame (totals, zones, progress), beside the journal.

A sink is called by the processing thread with every ``FrameResult``, after the crossings were
journaled (``runtime.uplink.Uplink.record``). Sinks only read results, so counts with or
without them are the same.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edge.config import ZoneConfig
from edge.count.zone_report import SnapshotClock, ZoneReport, ZoneSnapshot
from edge.count.zones import ZoneCounter
from edge.runtime.pipeline import FrameResult

Sink = Callable[[FrameResult], None]
#: line name -> direction -> class name -> crossings.
Totals = dict[str, dict[str, dict[str, int]]]


@dataclass(frozen=True)
class CrossingRecord:
    """A crossing as a run reports it: where, which way, what, and when in UTC.

    ``ts`` is the same UTC time the outbox journals and the collector stores (the source's
    UTC anchor plus the frame's source time), so replay and device output compare one to one.
    """

    line: str
    direction: str
    cls: str
    track_id: int
    ts: float

    def to_json(self) -> dict[str, object]:
        """The JSON shape, with the wire format's field names."""
        return {"line": self.line, "direction": self.direction, "class": self.cls,
                "track_id": self.track_id, "ts": round(self.ts, 6)}  # fmt: skip


class Tally:
    """Totals per line, direction and class, and every crossing with its UTC time.

    Args:
        lines: the configured line names (each appears in the totals, even with no crossing).
        utc_offset_s: the source's UTC anchor.
    """

    def __init__(self, lines: tuple[str, ...], utc_offset_s: float) -> None:
        self.totals: Totals = {name: {"in": {}, "out": {}} for name in lines}
        self.crossings: list[CrossingRecord] = []
        self._offset_s = utc_offset_s

    def __call__(self, result: FrameResult) -> None:
        for c in result.crossings:
            per_class = self.totals[c.line][c.direction]
            per_class[c.class_name] = per_class.get(c.class_name, 0) + 1
            self.crossings.append(
                CrossingRecord(
                    c.line, c.direction, c.class_name, c.track_id, self._offset_s + c.ts_s
                )
            )


ZoneSink = Callable[[ZoneSnapshot], None]


class ZoneStage:
    """Every configured zone of one camera: counters fed by each frame's tracks and crossings,
    run summaries, and snapshots handed to ``on_snapshot`` every zone's ``report_interval_s``.

    It only reads the pipeline's results, so counts with zones equal counts without them.
    """

    def __init__(self, zones: tuple[ZoneConfig, ...], on_snapshot: ZoneSink | None = None):
        self.zones = zones
        self.counters = [ZoneCounter(z) for z in zones]
        self.reports = [ZoneReport(z.report_interval_s) for z in zones]
        self.clocks = [SnapshotClock(z.report_interval_s) for z in zones]
        self.on_snapshot = on_snapshot

    def __call__(self, result: FrameResult) -> None:
        """Advance every zone by one processed frame."""
        for zone, counter, report, clock in zip(
            self.zones, self.counters, self.reports, self.clocks, strict=True
        ):
            state = counter.update(result.tracks, result.crossings)
            report.add(state)
            if self.on_snapshot is not None and clock.due(state.ts_s, state.reset):
                self.on_snapshot(
                    ZoneSnapshot(zone.name, zone.direction, state.ts_s, dict(state.occupancy),
                                 state.queue_length, state.wait)
                )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        """Run summaries per zone name."""
        return {z.name: r.to_json() for z, r in zip(self.zones, self.reports, strict=True)}


class Progress:
    """A progress bar on stderr, refreshed at most twice a second."""

    def __init__(self, total: int, enabled: bool):
        self._total, self._enabled = max(total, 1), enabled
        self._done, self._last = 0, 0.0

    def __call__(self, result: FrameResult) -> None:
        self._done = result.frame.seq + 1
        now = time.monotonic()
        if self._enabled and now - self._last >= 0.5:
            self._last = now
            pct = min(100.0, 100.0 * self._done / self._total)
            bar = "#" * int(pct / 4)
            print(
                f"\r[{bar:<25}] {pct:5.1f}% frame {self._done}/{self._total}",
                end="",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        if self._enabled:
            print(file=sys.stderr)
