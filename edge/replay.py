"""Replay: a recorded video through exactly the live pipeline, with counts as a result."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.capture.replay import ReplaySource
from edge.config import AppConfig, ZoneConfig, check_lines_inside, check_zones_inside
from edge.count.line_counter import LineCounter
from edge.count.zone_report import SnapshotClock, ZoneReport, ZoneSnapshot
from edge.count.zones import ZoneCounter
from edge.detect.onnx import build_detector
from edge.pipeline import FrameResult, Pipeline, run
from edge.track import build_tracker
from edge.types import Crossing

log = logging.getLogger(__name__)

Totals = dict[str, dict[str, dict[str, int]]]


@dataclass
class ReplayResult:
    """Counts and figures of one replay."""

    lines: Totals
    processed_frames: int
    dropped_frames: int
    elapsed_s: float
    model: str
    crossings: list[Crossing] = field(default_factory=list)
    zones: dict[str, Any] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        """Frames processed per second of wall time."""
        return self.processed_frames / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_json(self) -> dict[str, object]:
        """The replay JSON shape: ``{"lines": {...}, "processed_frames": N, "elapsed_s": T}``,
        plus ``"zones": {name: ZoneReport.to_json()}`` when zones are configured."""
        out: dict[str, object] = {
            "lines": self.lines,
            "processed_frames": self.processed_frames,
            "dropped_frames": self.dropped_frames,
            "elapsed_s": round(self.elapsed_s, 3),
            "fps": round(self.fps, 2),
            "model": self.model,
        }
        if self.zones:
            out["zones"] = self.zones
        return out


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


def build_pipeline(cfg: AppConfig, models_dir: Path) -> Pipeline:
    """Build detector, tracker and counter from the config (the composition of one camera)."""
    detector = build_detector(cfg.detector, models_dir)
    return Pipeline(detector, build_tracker(cfg.tracker), LineCounter(cfg.lines, cfg.tracker))


def empty_totals(cfg: AppConfig) -> Totals:
    """Totals with every configured line and both directions present, all empty."""
    return {ln.name: {"in": {}, "out": {}} for ln in cfg.lines}


def replay(
    video: Path,
    cfg: AppConfig,
    models_dir: Path,
    on_result: Callable[[FrameResult], None] | None = None,
    on_zone: ZoneSink | None = None,
) -> ReplayResult:
    """Count the crossings in ``video`` with the lines and detector of ``cfg``.

    Args:
        video: the recorded file.
        cfg: lines, detector (incl. ``detect_fps``), tracker settings.
        models_dir: where model manifests and weights are.
        on_result: called with every processed frame (annotation, publishing, progress).
        on_zone: called with every zone snapshot (each zone's ``report_interval_s``).

    Raises:
        SourceError: the video cannot be read. ConfigError: a line lies outside the frame.
        ModelError: the model cannot be loaded.
    """
    source = ReplaySource(
        video, detect_fps=cfg.detector.detect_fps, keep_skipped=cfg.tracker.optical_flow
    )
    try:
        check_lines_inside(cfg.lines, *source.size_wh)
        check_zones_inside(cfg.zones, *source.size_wh)
        pipeline = build_pipeline(cfg, models_dir)
        zones = ZoneStage(cfg.zones, on_zone)
        totals = empty_totals(cfg)
        crossings: list[Crossing] = []

        def collect(result: FrameResult) -> None:
            for c in result.crossings:
                per_class = totals[c.line][c.direction]
                per_class[c.class_name] = per_class.get(c.class_name, 0) + 1
                crossings.append(c)
            zones(result)
            if on_result is not None:
                on_result(result)

        t0 = time.perf_counter()
        processed = run(source, pipeline, collect)
        elapsed = time.perf_counter() - t0
    finally:
        source.close()
    return ReplayResult(
        totals, processed, source.dropped, elapsed, pipeline.detector.name, crossings,
        zones.to_json() if cfg.zones else {},
    )  # fmt: skip
