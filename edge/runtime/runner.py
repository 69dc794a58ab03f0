"""A built runtime's life: start in dependency order, supervise, stop in reverse, report.

``edge.app.build`` composes the parts; this module only runs them, the same way for the
device service and for a replay. Start: uplink (outbox + MQTT), feed (capture thread), frame
loop (prepare, detect, process threads), then ``READY=1``. Stop, on a signal, at the end of a
recording or when a worker died: the loop finishes its frame, the feed and source close, the
outputs close, and the outbox is flushed for at most the drain timeout.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

from edge.errors import EdgeError
from edge.runtime.annotate import Annotator
from edge.runtime.feed import Feed
from edge.runtime.loop import TICK_S, FrameLoop, WorkerFailed
from edge.runtime.notify import Notifier
from edge.runtime.sinks import CrossingRecord, Progress, Tally, Totals, ZoneStage
from edge.runtime.uplink import Uplink

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Parts:
    """Everything ``edge.app.build`` made for one camera (or one recording)."""

    description: str
    model: str
    device_id: str
    feed: Feed
    loop: FrameLoop
    notifier: Notifier
    tally: Tally
    zones: ZoneStage
    uplink: Uplink | None
    annotator: Annotator | None
    progress: Progress | None
    drain_timeout_s: float


@dataclass(frozen=True)
class Report:
    """What a run counted and how it went."""

    totals: Totals
    crossings: tuple[CrossingRecord, ...]
    processed_frames: int
    dropped_frames: int
    elapsed_s: float
    model: str
    zones: dict[str, Any]
    device_id: str
    remaining: int | None  # crossings left in the outbox; None without an uplink
    exit_code: int

    @property
    def fps(self) -> float:
        """Frames processed per second of wall time."""
        return self.processed_frames / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_json(self) -> dict[str, object]:
        """The replay JSON: totals per line, every crossing with its UTC time, figures."""
        out: dict[str, object] = {
            "lines": self.totals,
            "crossings": [c.to_json() for c in self.crossings],
            "processed_frames": self.processed_frames,
            "dropped_frames": self.dropped_frames,
            "elapsed_s": round(self.elapsed_s, 3),
            "fps": round(self.fps, 2),
            "model": self.model,
        }
        if self.zones:
            out["zones"] = self.zones
        if self.remaining is not None:
            out["published"] = {"device_id": self.device_id, "remaining": self.remaining}
        return out


class Runtime:
    """Runs the parts: ``run`` until a signal, the end of a recording or a worker's death."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts
        self.stop_requested = threading.Event()
        self.error: BaseException | None = None
        self._t0 = 0.0
        self._remaining: int | None = None

    def request_stop(self) -> None:
        """Ask ``run`` to stop (thread- and signal-safe)."""
        self.stop_requested.set()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("%s received: stopping", signal.Signals(signum).name)
        self.stop_requested.set()

    def start(self) -> None:
        """Start every thread in dependency order; READY=1 at the end."""
        p = self.parts
        self._t0 = time.perf_counter()
        if p.uplink is not None:
            p.uplink.start()
        p.feed.start()
        p.loop.start()
        p.notifier.ready(p.description)
        log.info("started: %s", p.description)

    def stop(self) -> None:
        """Stop in reverse order: finish the frame, close the source, outputs, flush."""
        p = self.parts
        p.notifier.stopping()
        p.notifier.status("stopping: finishing the frame, flushing the outbox")
        p.loop.stop()
        p.feed.stop()
        if p.annotator is not None:
            p.annotator.close()
        if p.progress is not None:
            p.progress.close(finished=p.loop.finished.is_set())
        if p.uplink is not None:
            self._remaining = p.uplink.finish(p.drain_timeout_s)
            p.notifier.status(f"stopped: {self._remaining} crossings kept in the outbox")

    def run(self) -> Report:
        """Start, wait, stop; the report (``exit_code`` 1 if a worker died).

        SIGTERM and SIGINT are handled (main thread only); the previous handlers come back.

        Raises:
            EdgeError: the source, the model or the outbox failed while running.
        """
        previous = self._install_signals()
        try:
            self.start()
            self._wait()
        finally:
            self.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return self._report()

    def _wait(self) -> None:
        loop = self.parts.loop
        while not self.stop_requested.wait(TICK_S):
            if loop.finished.is_set():
                break
            try:
                loop.parts.supervisor.check()
            except WorkerFailed as err:
                log.error("%s; stopping", err)
                self.error = err
                break

    def _install_signals(self) -> dict[int, signal.Handlers | Callable[..., object] | int | None]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        return {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}

    def _report(self) -> Report:
        p = self.parts
        error = p.loop.error or self.error
        if isinstance(error, EdgeError):
            raise error
        stats = p.feed.stats()
        return Report(
            p.tally.totals, tuple(p.tally.crossings), p.loop.processed, stats.dropped,
            time.perf_counter() - self._t0, p.model, p.zones.to_json() if p.zones.zones else {},
            p.device_id, self._remaining, 0 if error is None else 1,
        )  # fmt: skip
