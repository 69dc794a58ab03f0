#!/usr/bin/env python3
"""Peer comparison: our detector + supervision's ByteTrack and LineZone at library defaults.

Same clip, same detector (``OnnxDetector``, same model and config) as ``edge-counter replay``;
only tracking and line counting differ. Prints per-line counts (ground truth, ours, peer) and
processed fps of both, and optionally writes JSON.

Needs the optional dev dependency ``supervision`` in a version that still ships
``sv.ByteTrack`` (< 0.27; later versions moved trackers to the separate ``trackers`` package).

Usage::

    scripts/bench_peer.py --clip road_cctv_vehicles --model yolox-nano-int8 [--json-out f.json]

Directions: LineZone's "in"/"out" follow its own side convention for the segment start→end,
which need not match the clip's; compare totals per line when they look swapped.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from edge import app
from edge.capture.pacing import thinned
from edge.capture.replay import ReplaySource
from edge.classes import CLASS_NAMES, category_of
from edge.config import (
    AppConfig,
    LineConfig,
    ReplaySourceConfig,
    default_data_dir,
    default_models_dir,
)
from edge.detect.factory import build_detector
from edge.tools.evaluate import load_clip


def _truth(meta: dict[str, Any]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for ln in meta["lines"]:
        per_class = ln["ground_truth"]["per_class"]
        out[ln["id"]] = {
            d: sum(int(v.get(d, 0)) for v in per_class.values()) for d in ("in", "out")
        }
    return out


def run_peer(video: Path, cfg: AppConfig, models_dir: Path) -> dict[str, Any]:
    """Our detector, supervision ByteTrack() and LineZone(start, end) with default arguments."""
    import supervision as sv

    detector = build_detector(cfg.detector, models_dir)
    tracker = sv.ByteTrack()
    zones = {ln.name: _zone(sv, ln) for ln in cfg.lines}
    source = ReplaySource(video)
    frames = 0
    t0 = time.perf_counter()
    try:
        for frame in thinned(source.frames(), cfg.detector.detect_fps, keep_motion=False):
            dets = detector.detect(frame)
            sv_dets = sv.Detections(xyxy=dets.xyxy, confidence=dets.confidence,
                                    class_id=dets.class_id.astype(int))  # fmt: skip
            tracked = tracker.update_with_detections(sv_dets)
            for zone in zones.values():
                zone.trigger(tracked)
            frames += 1
    finally:
        source.close()
    elapsed = time.perf_counter() - t0
    lines = {name: {"in": z.in_count, "out": z.out_count, "in_per_class": _named(z, "in"),
                    "out_per_class": _named(z, "out")} for name, z in zones.items()}  # fmt: skip
    return {"lines": lines, "fps": frames / elapsed, "frames": frames}


def _zone(sv: Any, ln: LineConfig) -> Any:
    return sv.LineZone(start=sv.Point(*ln.a), end=sv.Point(*ln.b))


def _named(zone: Any, direction: str) -> dict[str, int]:
    counts = getattr(zone, f"{direction}_count_per_class", {}) or {}
    return {CLASS_NAMES[int(k)]: int(v) for k, v in counts.items()}


def run_ours(video: Path, cfg: AppConfig, models_dir: Path) -> dict[str, Any]:
    """The product's replay: same detector, our tracker and line counter."""
    source = ReplaySourceConfig(path=video)
    result = app.run(cfg.model_copy(update={"source": source}), app.Options(models_dir))
    lines = {name: {d: sum(per.values()) for d, per in dirs.items()}
             for name, dirs in result.totals.items()}  # fmt: skip
    cats = {name: {d: {category_of(c): n for c, n in per.items()} for d, per in dirs.items()}
            for name, dirs in result.totals.items()}  # fmt: skip
    return {"lines": lines, "per_category": cats, "fps": result.fps,
            "frames": result.processed_frames}  # fmt: skip


def main() -> int:
    """Parse options, run both, print the comparison."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clip", default="road_cctv_vehicles")
    p.add_argument("--model", default="yolox-nano")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--detect-fps", type=float, default=None)
    p.add_argument("--json-out", type=Path)
    args = p.parse_args()
    clip_dir = default_data_dir() / "videos" / args.clip
    meta, lines = load_clip(clip_dir)
    det = AppConfig().detector.model_copy(
        update={"model": args.model, "threads": args.threads, "detect_fps": args.detect_fps}
    )
    cfg = AppConfig().model_copy(update={"lines": lines, "detector": det})
    video, models_dir = clip_dir / "video.mp4", default_models_dir()
    ours, peer, truth = (
        run_ours(video, cfg, models_dir),
        run_peer(video, cfg, models_dir),
        _truth(meta),
    )
    print(
        f"clip {args.clip}, model {args.model}, {args.threads} threads, "
        f"detect_fps {args.detect_fps or 'all'}"
    )
    print(f"  {'line':<8}{'dir':<5}{'truth':>6}{'ours':>6}{'peer':>6}")
    for name in truth:
        for d in ("in", "out"):
            print(
                f"  {name:<8}{d:<5}{truth[name][d]:>6}{ours['lines'][name][d]:>6}"
                f"{peer['lines'][name][d]:>6}"
            )
    print(
        f"  fps: ours {ours['fps']:.1f} (read-ahead pipeline), peer {peer['fps']:.1f} "
        "(sequential loop)"
    )
    if args.json_out:
        figures = {"truth": truth, "ours": ours, "peer": peer, "model": args.model}
        args.json_out.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
