#!/usr/bin/env python3
"""Where a model's inference time goes: onnxruntime's profiler, kernel time per op type.

Runs the model on the first frames of a clip (through its own pre-processing) with profiling
on, and prints the kernel time per run summed by op type, with the process CPU time per run.
It shows, for instance, that YOLOX-Nano INT8 halves the convolutions but pays more for SiLU
(QLinearSigmoid + QLinearMul) than FP32 does for its fused float SiLU (QuickGelu).

Usage: python scripts/profile_model.py --model yolox-nano-int8 [--clip road_cctv_vehicles]
           [--frames 40] [--threads 1] [--onnx other.onnx]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

import onnxruntime as ort

from edge.capture.replay import ReplaySource
from edge.config import default_data_dir, default_models_dir
from edge.detect.manifest import resolve_model
from edge.detect.preprocess import Preprocessor

WARM_UP = 5


def main() -> None:
    """Profile one model and print its kernel time by op type."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default="yolox-nano-int8", help="manifest name")
    p.add_argument("--onnx", type=Path, help="profile this file instead (same input layout)")
    p.add_argument("--clip", default="road_cctv_vehicles")
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    manifest, path = resolve_model(args.model, default_models_dir())
    path = args.onnx or path
    pre = Preprocessor(manifest.input)
    source = ReplaySource(default_data_dir() / "videos" / args.clip / "video.mp4")
    try:
        tensors = [pre(f.image)[0] for f, _ in zip(source.frames(), range(args.frames),
                                                     strict=False)]  # fmt: skip
    finally:
        source.close()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = args.threads, 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.enable_profiling, opts.log_severity_level = True, 3
    with tempfile.TemporaryDirectory() as tmp:
        opts.profile_file_prefix = str(Path(tmp) / "profile")
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        feed = manifest.input.name
        for tensor in tensors[:WARM_UP]:
            session.run(None, {feed: tensor})
        cpu0 = time.process_time()
        for tensor in tensors:
            session.run(None, {feed: tensor})
        cpu_ms = (time.process_time() - cpu0) * 1e3 / len(tensors)
        events = json.loads(Path(session.end_profiling()).read_text())
    runs = len(tensors) + WARM_UP
    total_us: Counter[str] = Counter()
    nodes: Counter[str] = Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            total_us[e["args"]["op_name"]] += e["dur"]
            nodes[e["args"]["op_name"]] += 1
    kernel_ms = sum(total_us.values()) / runs / 1e3
    print(f"{path.name}: {args.threads} thread(s), CPU {cpu_ms:.2f} ms per run (profiling on), "
          f"kernel time {kernel_ms:.2f} ms per run")  # fmt: skip
    print(f"  {'op':<26}{'ms/run':>8}{'nodes':>7}")
    for op, us in total_us.most_common():
        print(f"  {op:<26}{us / runs / 1e3:>8.2f}{nodes[op] // runs:>7}")


if __name__ == "__main__":
    main()
