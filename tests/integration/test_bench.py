"""``edge-counter bench``: the real pipeline and bare inference on a real clip, run by a user."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import CLIPS_DIR, MODELS_DIR, require_asset


def bench_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "edge.cli", "bench", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)


def test_bench_reports_every_stage_and_the_interleaved_comparison(tmp_path: Path) -> None:
    require_asset(CLIPS_DIR / "road_cctv_vehicles" / "video.mp4")
    require_asset(MODELS_DIR / "yolox_nano.onnx")
    out = tmp_path / "bench.json"
    proc = bench_cli("--clip", "road_cctv_vehicles", "--models", "yolox-nano", "--threads", "1",
                     "--frames", "12", "--ab-rounds", "2", "--json-out", out)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    (case,) = data["cases"]
    assert case["model"] == "yolox-nano" and case["threads"] == 1
    assert case["frames"] == 12
    for stage in ("pre_ms", "infer_ms", "post_ms", "track_ms", "count_ms"):
        assert case["stages_ms"][stage]["median"] > 0, stage
        assert case["stages_ms"][stage]["p95"] >= case["stages_ms"][stage]["median"], stage
    assert case["e2e_fps"] > 0 and case["bare_fps"] > 0
    assert case["e2e_over_bare"] == case["e2e_fps"] / case["bare_fps"]
    assert data["interleaved_ms"]["1"]["yolox-nano"] > 0
    assert "interleaved bare session.run" in proc.stdout
    assert "yolox-nano" in proc.stdout


def test_bench_names_a_missing_clip_and_exits_non_zero(tmp_path: Path) -> None:
    proc = bench_cli("--clip", str(tmp_path / "nowhere.mp4"), "--frames", "5")
    assert proc.returncode == 2
    assert "nowhere.mp4" in proc.stderr
