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
from typing import Any, TextIO

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
    """How far a replay is, on stderr: a bar on a terminal, plain lines in a log.

    On a terminal the bar (frames, percent, fps, ETA) is redrawn in place at most twice a
    second. Anywhere else (a log file, a pipe, journald) it writes one plain line every
    ``log_every_s`` and never a carriage return, so the log stays readable.

    Args:
        total: frames in the recording (its header's count; an estimate for some formats).
        enabled: False shows nothing (short clips, ``--no-progress``).
        stream: where to write; default ``sys.stderr`` at the time of writing.
        log_every_s: seconds between plain lines when ``stream`` is not a terminal.
        clock: monotonic seconds (tests pass a fake one).
    """

    def __init__(
        self,
        total: int,
        enabled: bool,
        stream: TextIO | None = None,
        log_every_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._total, self._enabled, self._stream = max(total, 1), enabled, stream
        self._every_s, self._clock = log_every_s, clock
        self._done, self._t0, self._last = 0, 0.0, 0.0

    def _out(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    def _tty(self) -> bool:
        isatty = getattr(self._out(), "isatty", None)
        return bool(isatty and isatty())

    def __call__(self, result: FrameResult) -> None:
        now = self._clock()
        if self._done == 0:
            self._t0 = self._last = now
        self._done = result.frame.seq + 1
        if not self._enabled:
            return
        if self._tty() and now - self._last >= 0.5:
            self._last = now
            self._draw(now)
        elif not self._tty() and now - self._last >= self._every_s:
            self._last = now
            print(f"replay: {self._figures(now)}", file=self._out(), flush=True)

    def _fps(self, now: float) -> float:
        return (self._done - 1) / (now - self._t0) if now > self._t0 else 0.0

    def _figures(self, now: float, final: bool = False) -> str:
        done = min(self._done, self._total)
        fps = self._fps(now)
        text = f"{done}/{self._total} frames ({100 * done // self._total}%), {fps:.0f} fps"
        if final:
            return f"{text}, {now - self._t0:.0f} s"
        eta_s = (self._total - done) / fps if fps > 0 else None
        return f"{text}, ETA {_clock_text(eta_s)}"

    def _draw(self, now: float, final: bool = False) -> None:
        filled = int(25 * min(self._done, self._total) / self._total)
        bar = "#" * filled + "-" * (25 - filled)
        text = f"\r[{bar}] {self._figures(now, final)}   "
        print(text, end="\n" if final else "", file=self._out(), flush=True)

    def close(self, finished: bool = False) -> None:
        """End the bar with a newline (terminal) or write the last line (log).

        Args:
            finished: the recording was read to its end (the last frames may not have been
                processed at a reduced detection rate, yet the replay is complete).
        """
        if not self._enabled or self._done == 0:
            return
        now = self._clock()
        if finished:
            self._done = max(self._done, self._total)
        if self._tty():
            self._draw(now, final=True)
        else:
            print(f"replay: {self._figures(now, final=True)}", file=self._out(), flush=True)


def _clock_text(seconds: float | None) -> str:
    """``1:05`` for 65 s, ``?`` when unknown."""
    if seconds is None:
        return "?"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}:{secs:02d}"
