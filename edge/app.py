"""Composition root of the device service: build from config, start, supervise, stop.

Threads and the backpressure rule on each edge:

- capture → process. Live camera (``opencv``, ``picamera``): the source's reader thread
  keeps only the newest frame in a one-frame slot and counts what it overwrites; the camera
  never waits for us. Recorded file (``replay``): a reader thread fills a queue of
  ``feeds.QUEUE_FRAMES`` and blocks when it is full: nothing dropped, runs repeatable.
- process → publish: each crossing is committed to the SQLite outbox by the processing thread
  (``Uplink.record``); the publisher thread drains the outbox. The outbox is the queue, bounded
  by ``outbox.max_rows``; a broker outage never blocks counting.

Start order: detector, source (its clock gives the frame-time → UTC offset), uplink (outbox
+ MQTT), processing thread, then READY=1. Stop order is the reverse: the processing thread
finishes its frame, the source closes, the outbox is flushed for at most
``service.drain_timeout_s`` and ``stopped`` is published.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from edge.capture import FrameSource
from edge.capture.live import LiveSource
from edge.capture.replay import ReplaySource
from edge.config import (
    AppConfig,
    OpenCVSourceConfig,
    ReplaySourceConfig,
    SourceConfig,
    check_lines_inside,
    check_zones_inside,
)
from edge.errors import ConfigError, EdgeError
from edge.feeds import EndOfFrames, Feed, LiveFeed, RecordedFeed
from edge.health import Health, SystemProbe
from edge.notify import Notifier
from edge.pipeline import DetectAhead, FrameResult, Pipeline
from edge.publish import MetricValue
from edge.replay import ZoneStage, build_pipeline
from edge.uplink import Uplink

log = logging.getLogger(__name__)

#: How long the processing loop waits for a frame before it looks around (stop, status).
TICK_S = 0.25
_WATCHDOG_MIN_S = 1.0


def open_source(
    cfg: SourceConfig, detect_fps: float | None, keep_skipped: bool = False
) -> FrameSource:
    """Open the configured source; picamera2 is imported only when the Pi camera is used.

    ``keep_skipped`` makes the source hand over motion images of the frames the pipeline did
    not process (``Frame.between``), for the tracker's optical flow.

    Raises:
        SourceError: the camera, stream or file cannot be opened.
    """
    if isinstance(cfg, ReplaySourceConfig):
        return ReplaySource(
            cfg.path, detect_fps=detect_fps, realtime=cfg.realtime, keep_skipped=keep_skipped
        )
    if isinstance(cfg, OpenCVSourceConfig):
        from edge.capture.opencv import OpenCVSource  # noqa: PLC0415 - cv2 only when used

        return OpenCVSource(cfg, keep_skipped)
    from edge.capture.picamera import PicameraSource  # noqa: PLC0415 - only on a Pi

    return PicameraSource(cfg, keep_skipped=keep_skipped)


@dataclasses.dataclass(frozen=True)
class Stages:
    """What the processing loop drives: the feed in, the pipeline, the outputs."""

    feed: Feed
    pipeline: Pipeline
    record: Callable[[FrameResult], None]
    health: Health
    notifier: Notifier


class Processor:
    """The processing thread: decode → track → count → journal, one frame at a time, with
    pre-processing and the model running ahead in their own threads (``pipeline.DetectAhead``).

    It is also the only sender of ``WATCHDOG=1``: after each processed frame, and while the
    source reports the camera lost (the reconnect is being handled; the loop itself is alive).
    A hung stage or a silent camera therefore stops the pings and systemd restarts the service.

    Args:
        stages: feed, pipeline, journal, health, notifier.
        status_interval_s: how often the ``STATUS=`` line and the state are refreshed.
    """

    def __init__(self, stages: Stages, status_interval_s: float) -> None:
        self.stages = stages
        self.status_interval_s = status_interval_s
        self.stopping = threading.Event()
        self.finished = threading.Event()
        self.error: BaseException | None = None
        self._pinged_at = float("-inf")
        self._status_at = time.monotonic()
        self._state = "ok"
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
        ahead = DetectAhead(self.stages.pipeline, self.stages.feed.next)
        try:
            while not self.stopping.is_set():
                self._step(ahead)
                self._report()
        except EndOfFrames:
            log.info("the recorded source is finished")
        except Exception as err:
            log.exception("processing thread failed")
            self.error = err
        finally:
            ahead.stop()
            self.finished.set()

    def _step(self, ahead: DetectAhead) -> None:
        s = self.stages
        inferred = ahead.next(TICK_S)
        if inferred is None:
            stats = s.feed.stats()
            s.health.on_idle(stats)
            if stats.lost:
                self._ping()
            return
        result = s.pipeline.follow(inferred)
        s.record(result)
        s.health.on_frame(result, s.feed.stats())
        self._ping()

    def _ping(self) -> None:
        now = time.monotonic()
        if now - self._pinged_at >= _WATCHDOG_MIN_S:
            self._pinged_at = now
            self.stages.notifier.watchdog()

    def _report(self) -> None:
        now = time.monotonic()
        if now - self._status_at < self.status_interval_s:
            return
        self._status_at = now
        health = self.stages.health
        state, reasons = health.state()
        if state != self._state:
            log.warning("device state %s -> %s %s", self._state, state, reasons)
            self._state = state
        self.stages.notifier.status(health.status_line())


class App:
    """The device service: one camera, one pipeline, one outbox, one broker connection.

    Args:
        cfg: the whole config; ``source`` and ``mqtt`` are required.
        models_dir: where the detector's manifest and weights are.
        notifier: sd_notify sender (default: from ``$NOTIFY_SOCKET``).
    """

    def __init__(self, cfg: AppConfig, models_dir: Path, notifier: Notifier | None = None):
        self.cfg = cfg
        self.models_dir = models_dir
        self.notifier = notifier if notifier is not None else Notifier.from_env()
        self.stop_requested = threading.Event()
        self.source: FrameSource | None = None
        self.feed: Feed | None = None
        self.uplink: Uplink | None = None
        self.processor: Processor | None = None
        self.remaining: int | None = None

    def request_stop(self) -> None:
        """Ask ``run`` to stop (thread- and signal-safe)."""
        self.stop_requested.set()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("%s received: stopping", signal.Signals(signum).name)
        self.stop_requested.set()

    def start(self) -> None:
        """Build and start everything, in dependency order; READY=1 at the end.

        Raises:
            ConfigError, ModelError, SourceError, OutboxError: start-up failed (fail fast).
        """
        cfg = self.cfg
        if cfg.source is None:
            raise ConfigError("source: no camera or video configured (add a [source] section)")
        pipeline = build_pipeline(cfg, self.models_dir)
        self.source = source = open_source(
            cfg.source, cfg.detector.detect_fps, keep_skipped=cfg.tracker.optical_flow
        )
        check_lines_inside(cfg.lines, *source.size_wh)
        check_zones_inside(cfg.zones, *source.size_wh)
        live = isinstance(source, LiveSource)
        offset_s = source.utc_offset_s() if isinstance(source, LiveSource) else time.time()
        self.uplink = uplink = Uplink(cfg, pipeline.detector.name, utc_offset_s=offset_s)
        health = Health(cfg.health, cfg.min_processed_fps, SystemProbe(cfg.device.state_dir))
        self._attach_metrics(uplink, health)
        uplink.start()
        self.feed = (
            LiveFeed(source, cfg.detector.detect_fps, cfg.tracker.optical_flow)
            if isinstance(source, LiveSource)
            else RecordedFeed(source)
        )
        zones = ZoneStage(cfg.zones, uplink.publish_zone)

        def record(result: FrameResult) -> None:
            uplink.record(result)  # the count is journaled first
            zones(result)

        stages = Stages(self.feed, pipeline, record, health, self.notifier)
        self.processor = Processor(stages, cfg.service.status_interval_s)
        self.processor.start()
        w, h = source.size_wh
        self.notifier.ready(f"counting: {cfg.source.type} {w}x{h}, model {pipeline.detector.name}")
        log.info("started: %s source %dx%d (live: %s)", cfg.source.type, w, h, live)

    @staticmethod
    def _attach_metrics(uplink: Uplink, health: Health) -> None:
        def metrics() -> dict[str, MetricValue]:
            return {**health.metrics(), "crossings_journaled": uplink.journaled}

        drainer = uplink.publisher.drainer
        drainer.info = dataclasses.replace(drainer.info, metrics=metrics)

    def stop(self) -> None:
        """Stop in reverse order: finish the frame, close the source, flush the outbox."""
        self.notifier.stopping()
        self.notifier.status("stopping: finishing the frame, flushing the outbox")
        if self.processor is not None:
            self.processor.stop()
        if isinstance(self.feed, RecordedFeed):
            self.feed.stop()
        if self.source is not None:
            self.source.close()
        if self.uplink is not None:
            self.remaining = self.uplink.finish(self.cfg.service.drain_timeout_s)
            self.notifier.status(f"stopped: {self.remaining} crossings kept in the outbox")

    def run(self) -> int:
        """Start, wait for a signal (or the end of a recording), stop; the exit code.

        SIGTERM and SIGINT are handled (main thread only); the previous handlers come back.

        Raises:
            EdgeError: start-up failed, or the camera failed while running.
        """
        previous = self._install_signals()
        try:
            self.start()
            assert self.processor is not None
            while not self.stop_requested.wait(TICK_S):
                if self.processor.finished.is_set():
                    break
        finally:
            self.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return self._exit_code()

    def _install_signals(self) -> dict[int, signal.Handlers | Callable[..., object] | int | None]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        return {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}

    def _exit_code(self) -> int:
        error = self.processor.error if self.processor is not None else None
        if error is None:
            return 0
        if isinstance(error, EdgeError):
            raise error
        return 1
