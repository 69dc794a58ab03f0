"""Replay: a recorded video through exactly the live pipeline, with counts as a result."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from edge.capture.replay import ReplaySource
from edge.config import AppConfig, check_lines_inside
from edge.count.line_counter import LineCounter
from edge.detect.onnx import build_detector
from edge.pipeline import FrameResult, Pipeline, run
from edge.track.bytetrack import ByteTracker
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

    @property
    def fps(self) -> float:
        """Frames processed per second of wall time."""
        return self.processed_frames / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_json(self) -> dict[str, object]:
        """The replay JSON shape: ``{"lines": {...}, "processed_frames": N, "elapsed_s": T}``."""
        return {
            "lines": self.lines,
            "processed_frames": self.processed_frames,
            "dropped_frames": self.dropped_frames,
            "elapsed_s": round(self.elapsed_s, 3),
            "fps": round(self.fps, 2),
            "model": self.model,
        }


def build_pipeline(cfg: AppConfig, models_dir: Path) -> Pipeline:
    """Build detector, tracker and counter from the config (the composition of one camera)."""
    detector = build_detector(cfg.detector, models_dir)
    return Pipeline(detector, ByteTracker(cfg.tracker), LineCounter(cfg.lines))


def empty_totals(cfg: AppConfig) -> Totals:
    """Totals with every configured line and both directions present, all empty."""
    return {ln.name: {"in": {}, "out": {}} for ln in cfg.lines}


def replay(
    video: Path,
    cfg: AppConfig,
    models_dir: Path,
    on_result: Callable[[FrameResult], None] | None = None,
) -> ReplayResult:
    """Count the crossings in ``video`` with the lines and detector of ``cfg``.

    Args:
        video: the recorded file.
        cfg: lines, detector (incl. ``detect_fps``), tracker settings.
        models_dir: where model manifests and weights are.
        on_result: called with every processed frame (annotation, publishing, progress).

    Raises:
        SourceError: the video cannot be read. ConfigError: a line lies outside the frame.
        ModelError: the model cannot be loaded.
    """
    source = ReplaySource(video, detect_fps=cfg.detector.detect_fps)
    try:
        check_lines_inside(cfg.lines, *source.size_wh)
        pipeline = build_pipeline(cfg, models_dir)
        totals = empty_totals(cfg)
        crossings: list[Crossing] = []

        def collect(result: FrameResult) -> None:
            for c in result.crossings:
                per_class = totals[c.line][c.direction]
                per_class[c.class_name] = per_class.get(c.class_name, 0) + 1
                crossings.append(c)
            if on_result is not None:
                on_result(result)

        t0 = time.perf_counter()
        processed = run(source, pipeline, collect)
        elapsed = time.perf_counter() - t0
    finally:
        source.close()
    return ReplayResult(
        totals, processed, source.dropped, elapsed, pipeline.detector.name, crossings
    )
