"""``edge-counter replay``: count crossings in a recorded video, exactly as the device would."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from edge.annotate import Annotator
from edge.capture.replay import ReplaySource
from edge.config import (
    AppConfig,
    DetectorConfig,
    default_models_dir,
    load_config,
    parse_config,
    parse_line_option,
)
from edge.errors import ConfigError
from edge.pipeline import FrameResult
from edge.replay import ReplayResult, replay


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the replay command."""
    p.add_argument("video", type=Path, help="recorded video file")
    p.add_argument("--config", type=Path, help="TOML config (lines, detector, tracker)")
    p.add_argument(
        "--line",
        action="append",
        default=[],
        metavar="NAME:AX,AY,BX,BY",
        help="counting line in frame pixels; in = left side of A->B to its right side",
    )
    p.add_argument("--model", help="model name in the models dir, or a manifest/.onnx path")
    p.add_argument("--models-dir", type=Path, default=None, help="default: ./models")
    p.add_argument("--detect-fps", type=float, help="detect at this rate (emulate a slower device)")
    p.add_argument("--roi", metavar="X1,Y1,X2,Y2", help="detect on this crop of the frame")
    p.add_argument("--threads", type=int, help="onnxruntime threads")
    p.add_argument("--json", action="store_true", help="print counts as JSON on stdout")
    p.add_argument("--annotate", type=Path, metavar="OUT.mp4", help="write an annotated video")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def _detector_overrides(args: argparse.Namespace, base: DetectorConfig) -> dict[str, object]:
    over: dict[str, object] = base.model_dump()
    if args.model:
        over["model"] = args.model
    if args.detect_fps is not None:
        over["detect_fps"] = args.detect_fps
    if args.threads is not None:
        over["threads"] = args.threads
    if args.roi:
        try:
            over["roi_xyxy"] = tuple(int(v) for v in args.roi.split(","))
        except ValueError:
            raise ConfigError(f"--roi {args.roi!r}: expected four integers X1,Y1,X2,Y2") from None
    return over


def effective_config(args: argparse.Namespace) -> AppConfig:
    """The config file (if any) with command-line options applied on top.

    Raises:
        ConfigError: an invalid option or file, or no counting line at all.
    """
    base = load_config(args.config) if args.config else AppConfig()
    data = base.model_dump()
    data["detector"] = _detector_overrides(args, base.detector)
    if args.line:
        data["lines"] = [parse_line_option(t).model_dump() for t in args.line]
    cfg = parse_config(data, str(args.config or "command line"))
    if not cfg.lines:
        raise ConfigError("no counting line: pass --line NAME:AX,AY,BX,BY or [[lines]] in --config")
    return cfg


class Progress:
    """A progress bar on stderr, refreshed at most twice a second."""

    def __init__(self, total: int, enabled: bool):
        self._total, self._enabled = max(total, 1), enabled
        self._done, self._last = 0, 0.0

    def __call__(self, result: FrameResult) -> None:
        self._done = result.frame.seq + 1
        now = time.monotonic()
        if self._enabled and now - self._last >= 0.5:
            self._last = now
            pct = min(100.0, 100.0 * self._done / self._total)
            bar = "#" * int(pct / 4)
            print(
                f"\r[{bar:<25}] {pct:5.1f}% frame {self._done}/{self._total}",
                end="",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        if self._enabled:
            print(file=sys.stderr)


def _print_text(result: ReplayResult) -> None:
    for name, dirs in result.lines.items():
        for direction in ("in", "out"):
            counts = ", ".join(f"{k}={v}" for k, v in sorted(dirs[direction].items())) or "-"
            print(f"{name} {direction}: {counts}")
    print(
        f"processed {result.processed_frames} frames in {result.elapsed_s:.1f} s "
        f"({result.fps:.1f} fps), model {result.model}"
    )


def run(args: argparse.Namespace) -> int:
    """Replay the video and print its counts; exit 0."""
    cfg = effective_config(args)
    models_dir = args.models_dir or default_models_dir()
    probe = ReplaySource(args.video)  # learn length and size up front
    total, size_wh = probe.frame_count, probe.size_wh
    probe.close()
    progress = Progress(total, enabled=not args.no_progress and total > 250)
    annotator = None
    if args.annotate:
        fps = cfg.detector.detect_fps or 25.0
        annotator = Annotator(args.annotate, size_wh, fps, cfg.lines)

    def on_result(r: FrameResult) -> None:
        progress(r)
        if annotator is not None:
            annotator.write(r)

    try:
        result = replay(args.video, cfg, models_dir, on_result)
    finally:
        progress.close()
        if annotator is not None:
            annotator.close()
    if args.json:
        print(json.dumps(result.to_json(), sort_keys=True))
    else:
        _print_text(result)
    return 0
