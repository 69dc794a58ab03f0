"""Replay tracker and counter over cached detections (``scripts/cache_detections.py``).

The real ``Pipeline``, tracker and counter run on the real frames (decoded for the optical flow),
thinned by the runtime's own schedule (``capture.pacing``), in this one thread; only the
detector is replaced by the cache, so a run over every public clip takes seconds and matches
``edge-counter evaluate`` for the same settings.

Usage: python scripts/tune_offline.py --model yolox-nano [--detect-fps 5] [--score 0.1]
       [--set tracker.high_score=0.3 ...] [-v]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from edge.capture.pacing import thinned
from edge.capture.replay import ReplaySource
from edge.commands.evaluate import report
from edge.config import AppConfig, default_data_dir
from edge.count.line_counter import LineCounter
from edge.detect import Inferred, Prepared
from edge.detect.preprocess import Letterbox
from edge.runtime.pipeline import FrameResult, Pipeline
from edge.tools.evaluate import ClipScore, load_clip, score_clip
from edge.track import build_tracker
from edge.types import Detections, Frame

_NO_TENSOR = np.empty((0,), np.float32)


class CachedDetector:
    """A ``Detector`` that returns the cached detections of a frame, above a score."""

    def __init__(self, path: Path, score: float) -> None:
        data = np.load(path)
        ends = np.cumsum(data["count"])
        starts = ends - data["count"]
        self._by_seq = {
            int(s): Detections(
                data["xyxy"][a:b], data["confidence"][a:b], data["class_id"][a:b]
            ).select(data["confidence"][a:b] >= score)
            for s, a, b in zip(data["seq"], starts, ends, strict=True)
        }

    @property
    def name(self) -> str:
        """The cache stands in for a model."""
        return "cache"

    def prepare(self, frame: Frame) -> Prepared:
        """No model input: the frame is all ``decode`` needs."""
        return Prepared(frame, _NO_TENSOR, Letterbox(1.0, (0, 0), (0, 0), frame.size_wh), 0.0)

    def infer(self, prepared: Prepared) -> Inferred:
        """No model to run."""
        return Inferred(prepared, (), 0.0)

    def decode(self, inferred: Inferred) -> Detections:
        """The cached detections of the frame."""
        return self._by_seq[inferred.prepared.frame.seq]

    def detect(self, frame: Frame) -> Detections:
        """The cached detections of ``frame.seq``."""
        return self._by_seq[frame.seq]


def _override(cfg: AppConfig, assignments: list[str]) -> AppConfig:
    for item in assignments:
        key, value = item.split("=", 1)
        section, name = key.split(".", 1)
        sub = getattr(cfg, section)
        cfg = cfg.model_copy(
            update={section: sub.model_validate({**sub.model_dump(), name: value})}
        )
    return cfg


def replay_cached(clip_dir: Path, cfg: AppConfig, cache: Path, verbose: bool) -> ClipScore:
    """Replay one clip over its cached detections and score it."""
    meta, lines = load_clip(clip_dir)
    cfg = cfg.model_copy(update={"lines": lines})
    tracker = build_tracker(cfg.tracker)
    source = ReplaySource(clip_dir / "video.mp4")
    pipe = Pipeline(
        CachedDetector(cache, cfg.detector.score_threshold),
        tracker,
        LineCounter(cfg.lines, cfg.tracker),
    )
    totals: dict[str, dict[str, dict[str, int]]] = {ln.name: {"in": {}, "out": {}} for ln in lines}
    track_ms: list[float] = []

    def collect(res: FrameResult) -> None:
        track_ms.append(res.times.track_ms)
        for c in res.crossings:
            per = totals[c.line][c.direction]
            per[c.class_name] = per.get(c.class_name, 0) + 1
            if verbose:
                print(f"    {c.ts_s:6.2f}s {c.line} {c.direction} {c.class_name} #{c.track_id}")

    t0, n = time.perf_counter(), 0
    try:
        for frame in thinned(source.frames(), cfg.detector.detect_fps, tracker.wants_motion_images):
            collect(pipe.process(frame))
            n += 1
    finally:
        source.close()
    elapsed = time.perf_counter() - t0
    p95 = np.percentile(track_ms, 95)
    print(f"  {meta['clip']}: track {np.mean(track_ms):.2f} ms/frame mean, p95 {p95:.2f}")
    return score_clip(meta, totals, n / elapsed, n)


def main() -> None:
    """Score every public clip with cached detections."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default="yolox-nano")
    p.add_argument("--detect-fps", type=float)
    p.add_argument("--score", type=float)
    p.add_argument("--set", action="append", default=[], help="section.key=value")
    p.add_argument("--cache", type=Path, default=Path("artifacts/dets"))
    p.add_argument("--only", help="one clip name")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args()
    cfg = _override(AppConfig(), args.set)
    det = {**cfg.detector.model_dump(), "detect_fps": args.detect_fps}
    if args.score:
        det["score_threshold"] = args.score
    cfg = cfg.model_copy(update={"detector": cfg.detector.model_validate(det)})
    scores = []
    for clip_json in sorted((default_data_dir() / "videos").glob("*/clip.json")):
        if args.only and clip_json.parent.name != args.only:
            continue
        cache = args.cache / f"{args.model}_{clip_json.parent.name}.npz"
        scores.append(replay_cached(clip_json.parent, cfg, cache, args.verbose))
    report(scores)


if __name__ == "__main__":
    main()
