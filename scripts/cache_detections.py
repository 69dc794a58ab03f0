"""Run the detector once per public clip at a low threshold and save the detections (.npz).

The tracker and counter can then be replayed offline in seconds (``scripts/tune_offline.py``).
Greedy NMS keeps the same boxes above any higher threshold, so filtering the cache by score later
gives exactly what the detector would report at that threshold.

Usage: python scripts/cache_detections.py --model yolox-nano [--score 0.05] [--out artifacts/dets]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from edge.capture.replay import ReplaySource
from edge.config import DetectorConfig, OnnxDetectorConfig, default_data_dir, default_models_dir
from edge.detect.factory import build_detector


def cache_clip(video: Path, cfg: DetectorConfig, out: Path) -> int:
    """Detect every frame of ``video`` and write ``out``; return the number of frames."""
    detector = build_detector(cfg, default_models_dir())
    source = ReplaySource(video)
    ts, seq, count, xyxy, conf, cls = [], [], [], [], [], []
    try:
        for frame in source.frames():
            dets = detector.detect(frame)
            ts.append(frame.ts_s)
            seq.append(frame.seq)
            count.append(len(dets))
            xyxy.append(dets.xyxy)
            conf.append(dets.confidence)
            cls.append(dets.class_id)
    finally:
        source.close()
    np.savez_compressed(
        out,
        ts_s=np.array(ts),
        seq=np.array(seq),
        count=np.array(count),
        xyxy=np.concatenate(xyxy),
        confidence=np.concatenate(conf),
        class_id=np.concatenate(cls),
    )
    return len(ts)


def main() -> None:
    """Cache every clip that has a ``clip.json`` (public clips only)."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default="yolox-nano")
    p.add_argument("--score", type=float, default=0.05)
    p.add_argument("--nms-iou", type=float, default=0.5)
    p.add_argument("--out", type=Path, default=Path("artifacts/dets"))
    args = p.parse_args()
    cfg = OnnxDetectorConfig(model=args.model, score_threshold=args.score, nms_iou=args.nms_iou)
    args.out.mkdir(parents=True, exist_ok=True)
    for clip_json in sorted((default_data_dir() / "videos").glob("*/clip.json")):
        out = args.out / f"{args.model}_{clip_json.parent.name}.npz"
        n = cache_clip(clip_json.parent / "video.mp4", cfg, out)
        print(f"{out}: {n} frames")


if __name__ == "__main__":
    main()
