"""``edge-counter bench``: per-stage latency, processed fps, bare inference fps and peak memory.

Argument parsing only; the measurements are ``edge.tools.bench``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edge.config import default_models_dir
from edge.errors import ConfigError
from edge.tools import bench


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the bench command."""
    p.add_argument("--clip", default="road_cctv_vehicles", help="clip name or video path")
    p.add_argument("--models", default="yolox-nano,yolox-nano-int8", help="comma-separated")
    p.add_argument("--threads", default="1,2", help="comma-separated intra-op thread counts")
    p.add_argument("--frames", type=int, default=300, help="frames of the clip to process")
    p.add_argument(
        "--ab-rounds",
        type=int,
        default=8,
        help="rounds of the interleaved bare comparison (0: skip it)",
    )
    p.add_argument("--json-out", type=Path, help="write every figure here as JSON")
    p.add_argument("--models-dir", type=Path, default=None)
    p.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # child process mode


def run(args: argparse.Namespace) -> int:
    """Run every (model, threads) case in a child process, print the table, write JSON."""
    if args.frames < 1:
        raise ConfigError("--frames must be at least 1")
    if args.one:
        print(json.dumps(bench.one_case(args)))
        return 0
    video, _ = bench.clip_video(args.clip)  # fail fast on a bad clip
    models = [m.strip() for m in args.models.split(",")]
    threads = [t.strip() for t in args.threads.split(",")]
    cases = [bench.child_case(args, m, t) for m in models for t in threads]
    bench.print_table(cases)
    interleaved: dict[str, dict[str, float]] = {}
    if args.ab_rounds > 0:
        models_dir = args.models_dir or default_models_dir()
        interleaved = {t: bench.interleaved(video, models, int(t), models_dir, args.ab_rounds)
                       for t in threads}  # fmt: skip
        bench.print_interleaved(interleaved, args.ab_rounds)
    if args.json_out:
        out = {"cases": cases, "interleaved_ms": interleaved, "ab_rounds": args.ab_rounds}
        args.json_out.write_text(json.dumps(out, indent=1) + "\n")
    return 0
