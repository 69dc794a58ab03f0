"""The one frame loop, for the device and for replays alike, and the supervision of its workers.

Threads of a running device and their backpressure rules (``docs/architecture.md``):

- ``capture`` (``runtime.feed``): reads the source; newest frame kept for a camera, blocking
  queue for a file; thins to ``detect_fps``.
- ``prepare`` and ``detect`` (``runtime.ahead``): one-item hand-overs, frame order kept.
- ``process`` (``FrameLoop``): decode, track, count, journal, sinks; the only sender of the
  systemd watchdog ping.
- the publisher's drain thread (``publish``): drains the outbox; never blocks counting.

Supervision: an exception in capture, prepare or detect is handed on in frame order and raised
here; every other worker is polled through ``Supervisor.check`` before each ping. Either way
the loop ends with the error, no ping follows, and the service exits non-zero so systemd
restarts it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from edge.errors import EdgeError
from edge.runtime.ahead import DetectAhead
from edge.runtime.feed import EndOfFrames, Feed
from edge.runtime.health import Health
from edge.runtime.notify import Notifier
from edge.runtime.pipeline import FrameResult, Pipeline
from edge.runtime.sinks import Sink

log = logging.getLogger(__name__)

#: How long the loop waits for a frame before it looks around (stop, status, workers).
TICK_S = 0.25
_WATCHDOG_MIN_S = 1.0

#: A worker's health: None while it runs (or ended normally), the exception once it died.
FailureProbe = Callable[[], BaseException | None]


class WorkerFailed(Exception):
    """A supervised worker thread died; the process must end so that systemd restarts it."""

    def __init__(self, name: str, error: BaseException) -> None:
        super().__init__(f"the {name} thread failed: {error!r}")
        self.name = name
        self.error = error


class Supervisor:
    """The worker threads whose death must end the process (thread-safe to read)."""

    def __init__(self) -> None:
        self._probes: list[tuple[str, FailureProbe]] = []

    def watch(self, name: str, probe: FailureProbe) -> None:
        """Supervise a worker by its failure probe."""
        self._probes.append((name, probe))

    def check(self) -> None:
        """Raise ``WorkerFailed`` for the first worker that died."""
        for name, probe in self._probes:
            error = probe()
            if error is not None:
                raise WorkerFailed(name, error)


@dataclass(frozen=True)
class LoopParts:
    """What the loop drives: frames in, the pipeline, what watches results, health, systemd."""

    feed: Feed
    pipeline: Pipeline
    sinks: tuple[Sink, ...]
    health: Health
    notifier: Notifier
    supervisor: Supervisor


class FrameLoop:
    """The processing thread: decode → track → count → sinks, one frame at a time, with
    preparation and the model running ahead in their own threads (``DetectAhead``).

    It pings the systemd watchdog after each processed frame, and while the camera is lost (the
    loop itself is alive), but only after checking every supervised worker: a hung stage, a
    silent camera or a dead worker stops the pings, and systemd restarts the service.

    Args:
        parts: feed, pipeline, sinks, health, notifier, supervisor.
        status_interval_s: how often the ``STATUS=`` line is refreshed.
    """

    def __init__(self, parts: LoopParts, status_interval_s: float) -> None:
        self.parts = parts
        self.status_interval_s = status_interval_s
        self.stopping = threading.Event()
        self.finished = threading.Event()
        self.error: BaseException | None = None
        self.processed = 0
        self._pinged_at = float("-inf")
        self._status_at = time.monotonic()
        self._state = "ok"
        self._ahead: DetectAhead | None = None
        self._last: FrameResult | None = None
        self._thread = threading.Thread(target=self._run, name="process", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Let the current frame finish, then end the thread (waits up to ``timeout_s``)."""
        self.stopping.set()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.error("processing thread did not finish its frame within %g s", timeout_s)

    def _run(self) -> None:
        self._ahead = ahead = DetectAhead(self.parts.pipeline, self.parts.feed.next)
        try:
            while not self.stopping.is_set():
                self._step(ahead)
                self._report()
            self._flush()
        except EndOfFrames:
            log.info("the recorded source is finished")
            self._flush()
        except Exception as err:
            log.exception("processing stopped: %s", err)
            self.error = err
        finally:
            ahead.stop()
            self.finished.set()

    def _flush(self) -> None:
        """Hand the sinks the crossings the counter still holds back (end or stop)."""
        if self._last is None:
            return
        result = self.parts.pipeline.flush(self._last)
        if result is not None:
            for sink in self.parts.sinks:
                sink(result)

    def _step(self, ahead: DetectAhead) -> None:
        p = self.parts
        inferred = ahead.next(TICK_S)
        if inferred is None:
            stats = p.feed.stats()
            p.health.on_idle(stats)
            if stats.lost:
                self._ping()
            else:
                self._check()
            return
        result = self._last = p.pipeline.follow(inferred)
        for sink in p.sinks:
            sink(result)
        self.processed += 1
        p.health.on_frame(result, p.feed.stats())
        self._ping()

    def _ping(self) -> None:
        self._check()
        now = time.monotonic()
        if now - self._pinged_at >= _WATCHDOG_MIN_S:
            self._pinged_at = now
            self.parts.notifier.watchdog()

    def _check(self) -> None:
        """Raise the error of any worker that died (before a ping, so none follows it)."""
        failed = self._ahead.failure() if self._ahead is not None else None
        if isinstance(failed, EdgeError):
            raise failed  # bad input (a file, a model): its own clear message, exit 2
        if failed is not None:
            raise WorkerFailed("capture, prepare or detect", failed)
        self.parts.supervisor.check()

    def _report(self) -> None:
        now = time.monotonic()
        if now - self._status_at < self.status_interval_s:
            return
        self._status_at = now
        health = self.parts.health
        state, reasons = health.state()
        if state != self._state:
            log.warning("device state %s -> %s %s", self._state, state, reasons)
            self._state = state
        self.parts.notifier.status(health.status_line())
