"""``edge-counter model build|resize|choose``: derived detectors, and the choice among them.

``build`` quantises an FP32 model to INT8; ``resize`` gives an FP32 model another input size
(e.g. 416x256 for 16:9 cameras: no compute spent on letterbox padding). Workstation steps
(they need the ``build`` extra: onnx, sympy); the Pi only loads the results. ``choose`` runs on
the device: it times the installed variants of the configured model, checks their counts
against FP32 on a recording, and writes the fastest that agrees into the config.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edge.config import default_models_dir
from edge.errors import ConfigError
from edge.tools.model.build import BuildOptions, build_int8
from edge.tools.model.choice import ChooseOptions, run_choice, table
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
    _add_choose(sub)


def _add_choose(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    choose = sub.add_parser(
        "choose", help="time the installed variants of the configured model, check their "
        "counts against FP32 on a recording, configure the fastest that agrees",
    )  # fmt: skip
    choose.add_argument("--config", type=Path, default=Path("/etc/edge-counter/config.toml"),
                        help="device config (default: /etc/edge-counter/config.toml)")  # fmt: skip
    choose.add_argument(
        "--recording", type=Path, metavar="VIDEO",
        help="a recording of this camera for the count check (default: the configured "
        "source when it is a file; without one a live camera keeps its model)",
    )  # fmt: skip
    choose.add_argument(
        "--seconds",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds of the recording replayed per candidate (default 60)",
    )
    choose.add_argument(
        "--frames",
        type=int,
        default=50,
        metavar="N",
        help="frames of the source each candidate is timed on (default 50)",
    )
    choose.add_argument(
        "--tolerance", type=float, metavar="T",
        help="allowed disagreement with FP32's crossings, a share (default: 0.05 or one "
        "crossing, whichever is larger)",
    )  # fmt: skip
    choose.add_argument("--dry-run", action="store_true", help="measure and print, write nothing")
    choose.add_argument("--models-dir", type=Path, default=None)


def _run_choose(args: argparse.Namespace) -> int:
    if args.frames < 1:
        raise ConfigError(f"--frames must be at least 1, got {args.frames}")
    if args.tolerance is not None and not 0 <= args.tolerance < 1:
        raise ConfigError(f"--tolerance must be in [0, 1), got {args.tolerance:g}")
    opts = ChooseOptions(args.recording, args.seconds, args.frames, args.tolerance, args.dry_run)
    choice = run_choice(args.config, opts, args.models_dir or default_models_dir())
    rec = choice.recording
    if rec is not None:
        span = "all" if rec.seconds < args.seconds else "first"
        print(f"counts: {span} {rec.seconds:.1f} s ({rec.frames} frames) of {rec.path}; allowed "
              f"disagreement {choice.allowed:.1%} of FP32's crossings")  # fmt: skip
    print(f"speed: median/p90 ms of inference over {choice.rows[0].timing.frames} frames")
    print(table(choice))
    for note in choice.notes:
        print(f"note: {note}")
    print(choice.reason)
    if choice.chosen == choice.current:
        print(f"{args.config}: unchanged (detector.model = {choice.current!r})")
    elif args.dry_run:
        print(f"--dry-run: {args.config} not written (would set detector.model = "
              f"{choice.chosen!r})")  # fmt: skip
    else:
        kept = f"; the previous file is {choice.backup}" if choice.backup else ""
        print(f"{args.config}: detector.model = {choice.chosen!r}{kept}; restart the "
              "service to use it")  # fmt: skip
    return 0


def _size(text: str) -> tuple[int, int]:
    w, sep, h = text.lower().partition("x")
    if not (sep and w.isdigit() and h.isdigit()):
        raise ConfigError(f"size {text!r}: expected WxH, e.g. 416x256")
    return int(w), int(h)


def run(args: argparse.Namespace) -> int:
    """Build, verify and install ``<name>-int8`` (build) or ``<name>-<W>x<H>`` (resize), or choose.

    Raises:
        ModelError: unknown name, missing or corrupt source, or agreement below threshold.
        ConfigError: bad option, or a calibration source without frames.
    """
    if args.action == "choose":
        return _run_choose(args)
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
