"""``edge-counter model build|resize``: derived detectors, each verified against its source.

``build`` quantises an FP32 model to INT8; ``resize`` gives an FP32 model another input size
(e.g. 416x256 for 16:9 cameras: no compute spent on letterbox padding). Workstation steps
(they need the ``build`` extra: onnx, sympy); the Pi only loads the results.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edge.config import default_models_dir
from edge.errors import ConfigError
from edge.tools.model.build import BuildOptions, build_int8
from edge.tools.model.resize import build_resized


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

    resize = sub.add_parser("resize", help="give an FP32 model another input size and verify it")
    resize.add_argument("name", help="FP32 model name, e.g. yolox-nano")
    resize.add_argument("size", help="new input size WxH, e.g. 416x256 for 16:9 frames")
    resize.add_argument(
        "--frames",
        type=Path,
        action="append",
        default=[],
        dest="calib",
        metavar="DIR|VIDEO",
        help="verification frames (default: public clips)",
    )
    resize.add_argument("--models-dir", type=Path, default=None)
    resize.add_argument("--out", type=Path, default=None, help="output dir (default: models dir)")
    resize.add_argument(
        "--threshold",
        type=float,
        default=0.85,
        help="minimum recall and precision against the source (default 0.85)",
    )
    resize.add_argument("--verify-frames", type=int, default=60)
    resize.add_argument("--threads", type=int, default=2)  # fmt: skip


def _size(text: str) -> tuple[int, int]:
    w, sep, h = text.lower().partition("x")
    if not (sep and w.isdigit() and h.isdigit()):
        raise ConfigError(f"size {text!r}: expected WxH, e.g. 416x256")
    return int(w), int(h)


def run(args: argparse.Namespace) -> int:
    """Build, verify and install ``<name>-int8`` (build) or ``<name>-<W>x<H>`` (resize).

    Raises:
        ModelError: unknown name, missing or corrupt source, or agreement below threshold.
        ConfigError: bad option, or a calibration source without frames.
    """
    if not 0 < args.threshold <= 1:
        raise ConfigError(f"--threshold must be in (0, 1], got {args.threshold}")
    if getattr(args, "calib_frames", 1) < 1 or args.verify_frames < 1:
        raise ConfigError("--calib-frames and --verify-frames must be at least 1")
    models_dir = args.models_dir or default_models_dir()
    if args.action == "resize":
        size = _size(args.size)
        opts = BuildOptions(calib=tuple(args.calib), verify_frames=args.verify_frames,
                            threshold=args.threshold, threads=args.threads)  # fmt: skip
        result = build_resized(args.name, size, models_dir, args.out or models_dir, opts)
        a = result.agreement
        print(f"built {result.model_path} and {result.manifest_path}")
        print(f"agreement with {args.name} over {a.frames} frames: recall {a.recall:.1%}, "
              f"precision {a.precision:.1%}")  # fmt: skip
        return 0
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
