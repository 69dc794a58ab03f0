"""Model build without quantising: frame sampling, matching, and every early refusal (exit 2)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.cli import main
from edge.tools.model.agreement import match_count
from edge.tools.model.calibration import (
    FrameRef,
    public_clips,
    read_frames,
    sample_frames,
    split_frames,
)
from edge.types import Detections
from tests.conftest import MODELS_DIR, ROOT, require_asset


def tiny_video(path: Path, frames: int) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(frames):
        writer.write(np.full((48, 64, 3), i % 256, np.uint8))
    writer.release()
    return path


def dets(rows: list[tuple[float, float, float, float, float, int]]) -> Detections:
    arr = np.asarray(rows, np.float64).reshape(-1, 6)
    return Detections(arr[:, :4].astype(np.float32), arr[:, 4].astype(np.float32),
                      arr[:, 5].astype(np.int64))  # fmt: skip


def test_sampling_is_deterministic_even_and_disjoint(tmp_path: Path) -> None:
    a, b = tiny_video(tmp_path / "a.avi", 40), tiny_video(tmp_path / "b.avi", 10)
    refs = sample_frames([tmp_path], 30)
    assert refs == sample_frames([a, b], 30), "a directory is searched like its files"
    assert len({r for r in refs if r.path == a}) == 15  # equal share per video
    assert len({r for r in refs if r.path == b}) == 10  # capped by the video's length
    calib, verify = split_frames(refs, 8)
    assert len(verify) == 8 and not set(calib) & set(verify)
    assert {r.path for r in verify} == {a, b}, "verification spans every source"
    frames = list(read_frames(verify))
    assert [f.seq for f in frames] == [r.index for r in verify]
    assert int(frames[0].image[0, 0, 0]) == pytest.approx(verify[0].index % 256, abs=8)


def test_images_are_frames_too(tmp_path: Path) -> None:
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((20, 30, 3), 50 * i, np.uint8))
    refs = sample_frames([tmp_path], 10)
    assert refs == [FrameRef(tmp_path / f"{i}.png", 0) for i in range(3)]
    assert [f.image.shape for f in read_frames(refs)] == [(20, 30, 3)] * 3


def test_default_calibration_uses_public_clips_only() -> None:
    require_asset(ROOT / "data" / "clips.json")
    split = {k: v["split"] for k, v in json.loads((ROOT / "data/clips.json").read_text())
             ["clips"].items()}  # fmt: skip
    names = {p.parent.name for p in public_clips(ROOT / "data")}
    assert names and all(split[n] == "public" for n in names)
    assert not names & {"pets09_s2l1_walk", "intersection_mixed", "highway_dense_dusk_b",
                        "stopgo_hanoi_intersection"}  # fmt: skip


@pytest.mark.parametrize(
    ("ref", "test", "iou", "expected"),
    [
        ([(0, 0, 10, 10, 0.9, 0)], [(0, 0, 10, 10, 0.8, 0)], 0.5, 1),  # same box
        ([(0, 0, 10, 10, 0.9, 0)], [(0, 0, 10, 10, 0.8, 2)], 0.5, 0),  # other class
        ([(0, 0, 10, 10, 0.9, 0)], [(5, 0, 15, 10, 0.8, 0)], 0.5, 0),  # IoU 1/3
        ([(0, 0, 10, 10, 0.9, 0), (0, 0, 10, 9, 0.5, 0)], [(0, 0, 10, 10, 0.8, 0)], 0.5, 1),
        ([], [(0, 0, 10, 10, 0.8, 0)], 0.5, 0),
    ],
)
def test_match_count_is_one_to_one_same_class(
    ref: list[tuple[float, ...]], test: list[tuple[float, ...]], iou: float, expected: int
) -> None:
    assert match_count(dets(ref), dets(test), iou) == expected  # type: ignore[arg-type]


def models_copy(tmp_path: Path, name: str) -> Path:
    """A models dir holding one FP32 manifest and its weights (copied)."""
    manifest = json.loads(require_asset(MODELS_DIR / f"{name}.json").read_text())
    out = tmp_path / "models"
    out.mkdir()
    shutil.copy(MODELS_DIR / f"{name}.json", out)
    shutil.copy(require_asset(MODELS_DIR / manifest["file"]), out)
    return out / manifest["file"]


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["model", "build", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("edge-counter model: error:"), err
    return err


def test_unknown_model_name(capsys: pytest.CaptureFixture[str]) -> None:
    err = refused(capsys, "no-such-model", "--models-dir", str(MODELS_DIR))
    assert "unknown model 'no-such-model'" in err


def test_missing_source_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weights = models_copy(tmp_path, "nanodet-m")
    weights.unlink()
    err = refused(capsys, "nanodet-m", "--models-dir", str(weights.parent))
    assert "missing" in err and "assets fetch" in err
    assert sorted(p.name for p in weights.parent.iterdir()) == ["nanodet-m.json"]


def test_tampered_source_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weights = models_copy(tmp_path, "nanodet-m")
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    err = refused(capsys, "nanodet-m", "--models-dir", str(weights.parent))
    assert "sha256" in err and "corrupt" in err
    assert not list(weights.parent.glob("*int8*"))


@pytest.mark.parametrize("kind", ["empty dir", "no such path", "not a video"])
def test_calibration_source_without_frames(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    calib = tmp_path / "calib"
    if kind == "empty dir":
        calib.mkdir()
        (calib / "notes.txt").write_text("no frames here")
    elif kind == "not a video":
        calib = tmp_path / "broken.mp4"
        calib.write_bytes(b"\x00" * 100)
    out = tmp_path / "out"
    err = refused(capsys, "nanodet-m", "--calib", str(calib), "--out", str(out),
                  "--models-dir", str(MODELS_DIR))  # fmt: skip
    assert str(calib) in err
    assert not out.exists() or not any(out.iterdir())


def test_refuses_to_rebuild_from_int8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weights = models_copy(tmp_path, "nanodet-m")
    manifest = json.loads((weights.parent / "nanodet-m.json").read_text())
    manifest["precision"] = "int8"
    (weights.parent / "nanodet-m.json").write_text(json.dumps(manifest))
    assert "already int8" in refused(capsys, "nanodet-m", "--models-dir", str(weights.parent))


@pytest.mark.parametrize(
    ("size", "message"),
    [("416", "expected WxH"), ("416x", "expected WxH"), ("400x256", "multiples of 32"),
     ("416x0", "multiples of 32")],
)  # fmt: skip
def test_resize_refuses_a_bad_size(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, size: str, message: str
) -> None:
    out = tmp_path / "out"
    models = ["--models-dir", str(MODELS_DIR), "--out", str(out)]
    assert main(["model", "resize", "yolox-nano", size, *models]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("edge-counter model: error:") and message in err, err
    assert not out.exists() or list(out.iterdir()) == []


def test_resize_refuses_an_unknown_model(capsys: pytest.CaptureFixture[str]) -> None:
    models = ["--models-dir", str(MODELS_DIR)]
    assert main(["model", "resize", "no-such-model", "416x256", *models]) == 2
    assert "unknown model 'no-such-model'" in capsys.readouterr().err
