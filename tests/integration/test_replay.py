"""The replay command end to end: real model, real clips, counts against ground truth."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from edge.app import build_pipeline
from edge.capture.replay import ReplaySource
from edge.config import AppConfig
from edge.errors import SourceError
from edge.runtime.ahead import DetectAhead
from edge.types import Frame
from tests.conftest import CLIPS_DIR, MODELS_DIR, require_asset

pytestmark = pytest.mark.slow


def replay_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run ``edge-counter replay`` in a subprocess, as a user would."""
    cmd = [sys.executable, "-m", "edge.cli", "replay", *map(str, args), "--no-progress"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)


def clip_truth(clip: str) -> tuple[Path, dict[str, object]]:
    folder = CLIPS_DIR / clip
    require_asset(folder / "video.mp4")
    return folder / "video.mp4", json.loads((folder / "clip.json").read_text())


def category_totals(per_class: dict[str, dict[str, int]]) -> dict[str, int]:
    """Vehicles and pedestrians per direction, from a per-class table (either shape)."""
    out: dict[str, int] = {}
    for direction in ("in", "out"):
        for cls, n in per_class[direction].items():
            key = f"{'pedestrian' if cls == 'person' else 'vehicle'}_{direction}"
            out[key] = out.get(key, 0) + n
    return out


def test_replay_counts_road_clip_within_tolerance() -> None:
    """road_cctv_vehicles: 33 vehicles leave the camera, 1 comes towards it.

    Tolerance: every vehicle count within 10% of truth (3 of 33) and the rare
    direction within 1. The hand count is exact here, so the slack is the detector's: a
    scooter or a bus hidden behind another vehicle at the line.
    """
    video, meta = clip_truth("road_cctv_vehicles")
    line = meta["lines"][0]  # type: ignore[index]
    spec = f"L1:{line['A'][0]},{line['A'][1]},{line['B'][0]},{line['B'][1]}"
    proc = replay_cli(video, "--line", spec, "--json")
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["processed_frames"] == meta["frames"]  # type: ignore[index]
    counted = category_totals(got["lines"]["L1"])
    truth_table = {
        d: {c: v[d] for c, v in line["ground_truth"]["per_class"].items()} for d in ("in", "out")
    }
    truth = category_totals(truth_table)
    assert abs(counted.get("vehicle_out", 0) - truth["vehicle_out"]) <= 3, (counted, truth)
    assert abs(counted.get("vehicle_in", 0) - truth["vehicle_in"]) <= 1, (counted, truth)
    assert counted.get("pedestrian_in", 0) + counted.get("pedestrian_out", 0) <= 1


@pytest.mark.parametrize(("detect_fps", "max_wape"), [(None, 0.10), (5.0, 0.20)])
def test_dense_dusk_highway_within_the_accuracy_targets(
    detect_fps: float | None, max_wape: float
) -> None:
    """highway_dense_dusk: 301 vehicles in 16 s towards the camera, small and close together;
    the clip where IoU trackers fail, worst at 5 detections/s.

    Tolerance: the issue's accuracy targets for the category WAPE (missed or extra vehicles
    plus any counted in the wrong direction, over 301): 10% at full rate, 20% at 5 det/s.
    Measured 4.0% and 12.3%; the hand count itself is good to 1-2%.
    """
    video, meta = clip_truth("highway_dense_dusk")
    line = meta["lines"][0]  # type: ignore[index]
    spec = f"L1:{line['A'][0]},{line['A'][1]},{line['B'][0]},{line['B'][1]}"
    rate = [] if detect_fps is None else ["--detect-fps", str(detect_fps)]
    proc = replay_cli(video, "--line", spec, *rate, "--json")
    assert proc.returncode == 0, proc.stderr
    counted = category_totals(json.loads(proc.stdout)["lines"]["L1"])
    truth = sum(v["in"] for v in line["ground_truth"]["per_class"].values())  # type: ignore[index]
    error = abs(counted.get("vehicle_in", 0) - truth) + counted.get("vehicle_out", 0)
    assert error <= max_wape * truth, (counted, truth)
    assert counted.get("pedestrian_in", 0) + counted.get("pedestrian_out", 0) == 0


def test_detect_ahead_hands_results_over_in_order_and_passes_errors_on() -> None:
    """The prepare and detect threads run ahead; results still come in frame order, and an
    error of the frame source reaches the processing thread instead of dying with a thread."""
    video, _ = clip_truth("tud_campus_walk")
    pipeline = build_pipeline(AppConfig(), MODELS_DIR)
    source = ReplaySource(video)
    frames = source.frames()

    def next_frame(_timeout_s: float) -> Frame:
        frame = next(frames)
        if frame.seq == 20:
            raise SourceError("camera unplugged")
        return frame

    ahead = DetectAhead(pipeline, next_frame)
    seqs = []
    try:
        with pytest.raises(SourceError, match="unplugged"):
            while True:
                inferred = ahead.next(5.0)
                assert inferred is not None
                seqs.append(pipeline.follow(inferred).frame.seq)
    finally:
        ahead.stop()
        source.close()
    assert seqs == list(range(20))


def test_replay_annotates_video(tmp_path: Path) -> None:
    video, _ = clip_truth("tud_campus_walk")
    out = tmp_path / "annotated.mp4"
    proc = replay_cli(video, "--line", "L1:220,470,220,300", "--annotate", out, "--json")
    assert proc.returncode == 0, proc.stderr
    cap = cv2.VideoCapture(str(out))
    frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    assert frames == json.loads(proc.stdout)["processed_frames"] == 71


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["{missing}", "--line", "L1:1,1,5,5"], "no such video file"),
        (["{not_video}", "--line", "L1:1,1,5,5"], "not_video.mp4"),
        (["{video}", "--line", "L1:1,1,5000,5"], "lines.L1.b"),
        (["{video}", "--line", "L1:1,1,5"], "--line 'L1:1,1,5'"),
        (["{video}", "--line", "L1:1,1,5,5", "--model", "no-such-model"], "no-such-model"),
        (["{video}", "--line", "L1:1,1,5,5", "--model", "{corrupt}"], "corrupt.onnx"),
        (["{video}"], "no counting line"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path: Path, args: list[str], expected: str) -> None:
    video, _ = clip_truth("tud_campus_walk")
    not_video = tmp_path / "not_video.mp4"
    not_video.write_bytes(b"this is not a video" * 100)
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(require_asset(MODELS_DIR / "yolox_nano.onnx").read_bytes()[:5000])
    paths = {
        "missing": tmp_path / "missing.mp4",
        "not_video": not_video,
        "video": video,
        "corrupt": corrupt,
    }
    proc = replay_cli(*[a.format(**paths) for a in args])
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert expected in lines[0]
