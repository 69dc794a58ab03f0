"""The composition root: the only module that builds a pipeline, an uplink and a runtime.

Every command that counts goes through here: ``run`` (the device service), ``replay``,
``demo``, ``evaluate``, ``bench``, and ``setup``, whose live view (``build_preview``) is a
pipeline and a feed with no uplink and no outbox. They differ only in their config (a file
source, or a camera) and their ``Options`` (annotated video, progress bar, a frame limit); the
frame loop, the feed, the sinks and the UTC anchor are the same.

Factories are keyed by the config's ``type``: sources here, detectors in
``edge.detect.factory``, trackers in ``edge.track``. Build order: detector (fail fast on a bad
model), source (its size checks the lines and zones, its clock gives the UTC anchor), uplink,
feed, sinks, loop. ``Runtime.run`` starts them in that order and stops them in reverse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from edge.capture import FrameSource
from edge.capture.replay import ReplaySource
from edge.config import (
    AppConfig,
    OpenCVSourceConfig,
    PicameraSourceConfig,
    ReplaySourceConfig,
    SourceConfig,
    check_lines_inside,
    check_zones_inside,
)
from edge.count.line_counter import LineCounter
from edge.detect.factory import build_detector
from edge.errors import ConfigError
from edge.publish import Announce, HomeAssistantSettings, LineInfo
from edge.runtime.annotate import Annotator
from edge.runtime.feed import Feed
from edge.runtime.health import Health, SystemProbe
from edge.runtime.loop import FrameLoop, LoopParts, Supervisor
from edge.runtime.notify import Notifier
from edge.runtime.pipeline import Pipeline
from edge.runtime.runner import Parts, Report, Runtime
from edge.runtime.sinks import Progress, Sink, Tally, ZoneStage
from edge.runtime.uplink import Uplink
from edge.setup.live import Preview
from edge.setup.options import SetupOptions
from edge.track import build_tracker

if TYPE_CHECKING:
    from edge.setup.server import SetupPage

__all__ = [
    "Options", "Preview", "Report", "Runtime", "SetupOptions", "announce", "build",
    "build_pipeline", "build_preview", "open_setup_page", "open_source", "run",
]  # fmt: skip


@dataclass(frozen=True)
class Options:
    """What differs between the commands that count.

    Attributes:
        models_dir: where model manifests and weights are.
        annotate: write an annotated video here.
        progress: show a progress bar on stderr (recorded sources only).
        max_frames: stop after this many source frames (benchmarks).
        drain_timeout_s: how long the stop waits for the broker (default: the config's).
        sinks: more watchers of each processed frame (benchmarks).
        notifier: sd_notify sender (default: from ``$NOTIFY_SOCKET``).
    """

    models_dir: Path
    annotate: Path | None = None
    progress: bool = False
    max_frames: int | None = None
    drain_timeout_s: float | None = None
    sinks: tuple[Sink, ...] = ()
    notifier: Notifier | None = None


def _replay(cfg: ReplaySourceConfig) -> FrameSource:
    start = cfg.start_utc.timestamp() if cfg.start_utc is not None else None
    return ReplaySource(
        cfg.path, realtime=cfg.realtime, start_utc_s=start, start_frame=cfg.start_frame
    )


def _opencv(cfg: OpenCVSourceConfig) -> FrameSource:
    from edge.capture.opencv import OpenCVSource  # noqa: PLC0415 - only when configured

    return OpenCVSource(cfg)


def _picamera(cfg: PicameraSourceConfig) -> FrameSource:
    from edge.capture.picamera import PicameraSource  # noqa: PLC0415 - only on a Pi

    return PicameraSource(cfg)


_SOURCES: dict[str, Callable[..., FrameSource]] = {
    "replay": _replay,
    "opencv": _opencv,
    "picamera": _picamera,
}


def open_source(cfg: SourceConfig) -> FrameSource:
    """Open the configured source; picamera2 is imported only when the Pi camera is used.

    Raises:
        SourceError: the camera, stream or file cannot be opened.
    """
    return _SOURCES[cfg.type](cfg)


def build_pipeline(cfg: AppConfig, models_dir: Path) -> Pipeline:
    """Detector, tracker and counter of one camera.

    Raises:
        ModelError: the model cannot be loaded.
    """
    detector = build_detector(cfg.detector, models_dir)
    tracker = build_tracker(cfg.tracker)
    return Pipeline(detector, tracker, LineCounter(cfg.lines, cfg.tracker))


def build(cfg: AppConfig, options: Options) -> Runtime:
    """Build every part of a run from the config, failing fast on any bad part.

    Raises:
        ConfigError: no source, or a line or zone outside the frame. SourceError, ModelError,
            OutboxError: a part cannot be opened.
    """
    if cfg.source is None:
        raise ConfigError("source: no camera or video configured (add a [source] section)")
    pipeline = build_pipeline(cfg, options.models_dir)
    source = open_source(cfg.source)
    try:
        return _assemble(cfg, options, pipeline, source)
    except BaseException:
        source.close()
        raise


def _assemble(cfg: AppConfig, options: Options, pipeline: Pipeline, source: FrameSource) -> Runtime:
    check_lines_inside(cfg.lines, *source.size_wh)
    check_zones_inside(cfg.zones, *source.size_wh)
    model, offset_s = pipeline.detector.name, source.utc_offset_s()
    health = Health(cfg.health, cfg.min_processed_fps, SystemProbe(cfg.device.state_dir))
    supervisor = Supervisor()
    uplink = None
    if cfg.mqtt is not None:
        uplink = Uplink(cfg, model, offset_s, health, announce(cfg))
        supervisor.watch("MQTT drain", uplink.failure)
    keep_motion = pipeline.tracker.wants_motion_images
    feed = Feed(source, cfg.detector.detect_fps, keep_motion, options.max_frames)
    tally = Tally(tuple(ln.name for ln in cfg.lines), offset_s)
    zones = ZoneStage(cfg.zones, uplink.publish_zone if uplink is not None else None)
    sinks: list[Sink] = [uplink.record] if uplink is not None else []  # journaled first
    sinks += [tally, zones, *options.sinks]
    annotator = _annotator(cfg, options, source)
    progress = _progress(options, source)
    sinks += [annotator.write] if annotator is not None else []
    sinks += [progress] if progress is not None else []
    notifier = options.notifier if options.notifier is not None else Notifier.from_env()
    loop = FrameLoop(
        LoopParts(feed, pipeline, tuple(sinks), health, notifier, supervisor),
        cfg.service.status_interval_s,
    )
    w, h = source.size_wh
    assert cfg.source is not None
    drain_s = options.drain_timeout_s
    return Runtime(Parts(
        f"counting: {cfg.source.type} {w}x{h}, model {model}", model, cfg.device.id, feed, loop,
        notifier, tally, zones, uplink, annotator, progress,
        cfg.service.drain_timeout_s if drain_s is None else drain_s,
    ))  # fmt: skip


def announce(cfg: AppConfig) -> Announce:
    """What the device tells subscribers besides the counts: its lines' direction names and
    classes, its zones, and the Home Assistant discovery settings."""
    ha = cfg.homeassistant
    record = Path(cfg.device.state_dir) / "homeassistant.json"
    settings = HomeAssistantSettings(ha.enabled, ha.discovery_prefix, ha.support_url, record)
    lines = tuple(
        LineInfo(ln.name, ln.in_name, ln.out_name, ln.counted_classes) for ln in cfg.lines
    )
    return Announce(lines, tuple(z.name for z in cfg.zones), settings)


def _annotator(cfg: AppConfig, options: Options, source: FrameSource) -> Annotator | None:
    if options.annotate is None:
        return None
    fps = source.fps if isinstance(source, ReplaySource) else 0.0
    return Annotator(options.annotate, source.size_wh, cfg.detector.detect_fps or fps or 25.0,
                     cfg.lines)  # fmt: skip


def _progress(options: Options, source: FrameSource) -> Progress | None:
    if not options.progress or not isinstance(source, ReplaySource):
        return None
    total = source.frame_count
    return Progress(total, enabled=total > 250)


def run(cfg: AppConfig, options: Options) -> Report:
    """Build and run until a signal, the end of a recording, or a worker's death."""
    return build(cfg, options).run()


def build_preview(cfg: AppConfig, models_dir: Path) -> Preview:
    """Build the setup page's live view from a config (its lines may still be outside the frame).

    Raises:
        ConfigError: no source. SourceError, ModelError: a part cannot be opened.
    """
    if cfg.source is None:
        raise ConfigError("source: no camera or video configured (pass --source or add [source])")
    pipeline = build_pipeline(cfg, models_dir)
    source = open_source(cfg.source)
    feed = Feed(source, cfg.detector.detect_fps, pipeline.tracker.wants_motion_images)
    return Preview(pipeline, feed, source.size_wh)


def open_setup_page(options: SetupOptions) -> SetupPage:
    """Open the setup page's source, model and HTTP socket (``edge.setup``); serve with
    ``SetupPage.serve_forever``.

    Raises:
        ConfigError, SourceError, ModelError: as for a run; OSError-based ConfigError: the
            address cannot be bound.
    """
    from edge.setup.server import SetupPage  # noqa: PLC0415 - only the setup command serves it

    return SetupPage.open(options, build_preview)
