"""``edge-counter bench``: per-stage latency, processed fps, bare inference fps and peak memory.

Each (model, threads) case runs in its own child process so peak RSS and warm caches of one
case never leak into the next. Per case:

* the real pipeline (``ReplaySource`` → read-ahead thread → detect → track → count) on the
  first ``--frames`` frames of the clip: median/p95 ms of pre-processing, inference,
  decode+NMS, tracking and counting, and end-to-end processed fps;
* bare ``session.run`` on the same frames, input tensors computed beforehand: the ceiling
  the pipeline is compared with (ratio e2e/bare);
* peak RSS (``resource.getrusage``) after the pipeline, before the tensors are allocated;
* CPU ms per bare run (process CPU time, all threads): unlike wall time it barely moves when
  other processes share the cores, so it is the figure to compare models on a busy machine.

Then, in one process, bare ``session.run`` of every model with their rounds interleaved
(``--ab-rounds``): a change in the machine's load or clock between cases hits every model
alike, so the speed ratios between models (e.g. INT8 against FP32) come from this table.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from edge import app
from edge.capture.replay import ReplaySource
from edge.config import AppConfig, ReplaySourceConfig, default_data_dir, default_models_dir
from edge.detect.manifest import InputSpec, resolve_model
from edge.detect.onnx import open_session
from edge.detect.preprocess import Preprocessor
from edge.errors import ConfigError
from edge.runtime.pipeline import FrameResult
from edge.tools.evaluate import load_clip
from edge.types import FloatArray

STAGES = ("pre_ms", "infer_ms", "post_ms", "track_ms", "count_ms")
BARE_FRAMES_MAX = 150  # pre-computed 416² float tensors cost 2 MB each
AB_FRAMES = 20  # frames per model and round of the interleaved comparison


def clip_video(clip: str) -> tuple[Path, AppConfig]:
    path = Path(clip)
    clip_dir = path.parent if path.suffix else default_data_dir() / "videos" / clip
    video = path if path.suffix else clip_dir / "video.mp4"
    if not video.is_file():
        raise ConfigError(f"--clip {clip}: no video at {video}")
    lines = load_clip(clip_dir)[1] if (clip_dir / "clip.json").is_file() else ()
    return video, AppConfig().model_copy(update={"lines": lines})


def _stats(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, np.float64)
    return {"median": float(np.median(arr)), "p95": float(np.percentile(arr, 95))}


def _pipeline_case(video: Path, cfg: AppConfig, frames: int, models_dir: Path) -> dict[str, Any]:
    """The device's own runtime (``edge.app``) on the first ``frames`` frames of the clip."""
    times: dict[str, list[float]] = {s: [] for s in STAGES}

    def collect(result: FrameResult) -> None:
        for key in STAGES:
            times[key].append(getattr(result.times, key))

    cfg = cfg.model_copy(update={"source": ReplaySourceConfig(path=video), "mqtt": None})
    report = app.run(cfg, app.Options(models_dir, max_frames=frames, sinks=(collect,)))
    return {
        "stages_ms": {k: _stats(v) for k, v in times.items()},
        "frames": report.processed_frames, "e2e_fps": report.fps,
        "crossings": len(report.crossings),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }  # fmt: skip


def _tensors(video: Path, spec: InputSpec, n: int) -> list[FloatArray]:
    """The model inputs of the first ``n`` frames."""
    pre = Preprocessor(spec)
    source = ReplaySource(video)
    try:
        return [pre(f.image)[0] for f, _ in zip(source.frames(), range(n), strict=False)]
    finally:
        source.close()


def _bare(video: Path, spec: InputSpec, path: Path, threads: int, n: int) -> dict[str, float]:
    """Bare ``session.run`` fps and CPU ms per run (all threads; robust to a busy machine)."""
    tensors = _tensors(video, spec, n)
    session = open_session(path, threads)
    feed = spec.name
    for tensor in tensors[:5]:  # warm-up
        session.run(None, {feed: tensor})
    t0, cpu0 = time.perf_counter(), time.process_time()
    for tensor in tensors:
        session.run(None, {feed: tensor})
    cpu_ms = (time.process_time() - cpu0) * 1e3 / len(tensors)
    return {"bare_fps": len(tensors) / (time.perf_counter() - t0), "bare_cpu_ms": cpu_ms}


def one_case(args: argparse.Namespace) -> dict[str, Any]:
    """Bench one model at one thread count (child process)."""
    video, cfg = clip_video(args.clip)
    models_dir = args.models_dir or default_models_dir()
    threads = int(args.threads)
    det = cfg.detector.model_copy(update={"model": args.models, "threads": threads})
    cfg = cfg.model_copy(update={"detector": det})
    case = _pipeline_case(video, cfg, args.frames, models_dir)
    manifest, path = resolve_model(args.models, models_dir)
    case.update(_bare(video, manifest.input, path, threads, min(args.frames, BARE_FRAMES_MAX)))
    case["e2e_over_bare"] = case["e2e_fps"] / case["bare_fps"]
    case.update(model=args.models, threads=threads, clip=str(video))
    return case


def child_case(args: argparse.Namespace, model: str, threads: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "edge.cli", "bench", "--one", "--clip", args.clip,
           "--models", model, "--threads", threads, "--frames", str(args.frames)]  # fmt: skip
    if args.models_dir:
        cmd += ["--models-dir", str(args.models_dir)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ConfigError(f"bench of {model} ({threads} threads) failed: {done.stderr.strip()}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def interleaved(
    video: Path, models: list[str], threads: int, models_dir: Path, rounds: int
) -> dict[str, float]:
    """Median ms per bare ``session.run`` of each model, the models taking turns each round."""
    runs = []
    for name in models:
        manifest, path = resolve_model(name, models_dir)
        session, feed = open_session(path, threads), manifest.input.name
        tensors = _tensors(video, manifest.input, AB_FRAMES)
        for tensor in tensors[:5]:  # warm-up
            session.run(None, {feed: tensor})
        runs.append((name, session, feed, tensors))
    ms: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(rounds):
        for name, session, feed, tensors in runs:
            t0 = time.perf_counter()
            for tensor in tensors:
                session.run(None, {feed: tensor})
            ms[name].append((time.perf_counter() - t0) * 1e3 / len(tensors))
    return {name: float(np.median(values)) for name, values in ms.items()}


def print_interleaved(table: dict[str, dict[str, float]], rounds: int) -> None:
    threads = list(table)
    print(f"\ninterleaved bare session.run, median ms per run over {rounds} rounds of "
          f"{AB_FRAMES} frames (speed relative to the first model)")  # fmt: skip
    width = max(17, *(len(m) + 1 for m in table[threads[0]]))
    print(f"{'model':<{width}}" + "".join(f"{t + ' thr':>16}" for t in threads))
    for model in table[threads[0]]:
        cells = "".join(
            f"{table[t][model]:>9.2f} {table[t][next(iter(table[t]))] / table[t][model]:>5.2f}x"
            for t in threads
        )
        print(f"{model:<{width}}{cells}")


def print_table(cases: list[dict[str, Any]]) -> None:
    head = "".join(f"{s[:-3]:>13}" for s in STAGES)
    tail = f"{'e2e fps':>9}{'bare fps':>9}{'ratio':>6}{'cpu ms':>7}{'RSS MB':>8}"
    width = max(17, *(len(c["model"]) + 1 for c in cases))
    print(f"{'model':<{width}}{'thr':>3}{head}{tail}")
    print(f"{'':<{width + 3}}" + "".join(f"{'med / p95':>13}" for _ in STAGES))
    for c in cases:
        cells = "".join(
            f"{c['stages_ms'][s]['median']:>7.2f}/{c['stages_ms'][s]['p95']:<5.2f}" for s in STAGES
        )
        figures = (f"{c['e2e_fps']:>9.1f}{c['bare_fps']:>9.1f}{c['e2e_over_bare']:>6.2f}"
                   f"{c['bare_cpu_ms']:>7.1f}{c['peak_rss_mb']:>8.0f}")  # fmt: skip
        print(f"{c['model']:<{width}}{c['threads']:>3}{cells}{figures}")
