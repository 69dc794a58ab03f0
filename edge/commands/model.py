"""``edge-counter model build``: the INT8 detector from the FP32 weights, verified against FP32.

A workstation step (needs the ``build`` extra: onnx, sympy); the Pi only loads the result.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edge.config import default_models_dir
from edge.detect.build import BuildOptions, build_int8
from edge.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``model build`` and its options."""
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    build = sub.add_parser("build", help="quantise an FP32 model to INT8 and verify it")
    build.add_argument("name", nargs="?", default="yolox-nano", help="FP32 model name")
    build.add_argument(
        "--calib", type=Path, action="append", default=[], metavar="DIR|VIDEO",
        help="calibration frames: a video, an image, or a directory of them (repeatable; "
        "default: the public clips of data/clips.json, never the held-out ones)",
    )  # fmt: skip
    build.add_argument("--models-dir", type=Path, default=None, help="FP32 manifests/weights")
    build.add_argument("--out", type=Path, default=None, help="output dir (default: models dir)")
    build.add_argument("--threshold", type=float, default=0.85,
                       help="minimum recall and precision against FP32 (default 0.85)")  # fmt: skip
    build.add_argument("--calib-frames", type=int, default=150)
    build.add_argument("--verify-frames", type=int, default=60)
    build.add_argument("--threads", type=int, default=2)


def run(args: argparse.Namespace) -> int:
    """Build, verify and install ``models/<name>-int8.onnx`` and its manifest.

    Raises:
        ModelError: unknown name, missing or corrupt source, or agreement below threshold.
        ConfigError: bad option, or a calibration source without frames.
    """
    if not 0 < args.threshold <= 1:
        raise ConfigError(f"--threshold must be in (0, 1], got {args.threshold}")
    if args.calib_frames < 1 or args.verify_frames < 1:
        raise ConfigError("--calib-frames and --verify-frames must be at least 1")
    models_dir = args.models_dir or default_models_dir()
    opts = BuildOptions(
        calib=tuple(args.calib), calib_frames=args.calib_frames,
        verify_frames=args.verify_frames, threshold=args.threshold, threads=args.threads,
    )  # fmt: skip
    result = build_int8(args.name, models_dir, args.out or models_dir, opts)
    a = result.agreement
    print(f"built {result.model_path} and {result.manifest_path}")
    print(f"agreement with FP32 over {a.frames} frames (same class, IoU > {a.iou}, confident "
          f"score >= {a.confident_score} vs kept >= {a.min_score}): recall {a.recall:.1%}, "
          f"precision {a.precision:.1%}")  # fmt: skip
    print(f"kept in float: {', '.join(result.kept_float)}")
    return 0
