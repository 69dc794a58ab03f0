"""The real FP32 models on real frames of the public clips (after `edge-counter assets fetch`)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.classes import CLASS_ID
from edge.config import OnnxDetectorConfig
from edge.detect.manifest import load_manifest, resolve_model
from edge.detect.onnx import OnnxDetector, open_detector
from edge.errors import ModelError
from edge.types import Detections, Frame
from tests.conftest import CLIPS_DIR, MODELS_DIR, require_asset

MODELS = ("yolox-nano", "nanodet-m")
FRAMES = (0, 150, 300)


def read_frames(clip: str, indices: tuple[int, ...] = FRAMES) -> list[Frame]:
    path = require_asset(CLIPS_DIR / clip / "video.mp4")
    cap = cv2.VideoCapture(str(path))
    frames = []
    for i in indices:
        cap.set(cv2.CAP_PROP_POS_FRAMES, i)
        ok, image = cap.read()
        assert ok, f"{path}: cannot read frame {i}"
        frames.append(Frame(image, i / 25.0, i))
    cap.release()
    return frames


@pytest.fixture(scope="module", params=MODELS)
def detector(request: pytest.FixtureRequest) -> Iterator[OnnxDetector]:
    name = request.param
    manifest = load_manifest(require_asset(MODELS_DIR / f"{name}.json"))
    require_asset(MODELS_DIR / manifest.file)
    yield open_detector(OnnxDetectorConfig(model=name, threads=1), MODELS_DIR)


def count(dets: Detections, name: str) -> int:
    return int((dets.class_id == CLASS_ID[name]).sum())


def assert_sane(dets: Detections, frame: Frame) -> None:
    w, h = frame.size_wh
    assert np.all(dets.xyxy[:, [0, 1]] >= 0) and np.all(dets.xyxy[:, 2] <= w)
    assert np.all(dets.xyxy[:, 3] <= h)
    assert np.all(dets.xyxy[:, 2:] > dets.xyxy[:, :2])
    assert np.all(np.diff(dets.confidence) <= 0), "best first"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("clip", "cls", "min_per_frame"),
    [("road_cctv_vehicles", "car", 2), ("highway_dense_dusk", "car", 10)],
)
def test_cars_on_the_road_clips(detector: OnnxDetector, clip: str, cls: str, min_per_frame: int):
    for frame in read_frames(clip):
        dets = detector.detect(frame)
        assert_sane(dets, frame)
        assert count(dets, cls) >= min_per_frame, (detector.name, clip, frame.seq)
        assert count(dets, "person") <= 2
    t = detector.last_timings
    assert t.pre_ms > 0 and t.infer_ms > 0 and t.post_ms > 0


def test_steps_run_ahead_give_what_detect_gives(detector: OnnxDetector) -> None:
    """The pipeline prepares frame k+2 and infers k+1 before decoding k: each step's output
    must be its own (no buffer shared with the next call), so the results equal ``detect``."""
    frames = read_frames("highway_dense_dusk")
    prepared = [detector.prepare(f) for f in frames]  # all prepared before any inference
    inferred = [detector.infer(p) for p in prepared]  # all inferred before any decoding
    for frame, inf in zip(frames, inferred, strict=True):
        assert inf.prepared.frame is frame and inf.prepared.pre_ms > 0 and inf.infer_ms > 0
        staged, direct = detector.decode(inf), detector.detect(frame)
        assert len(direct) >= 5, frame.seq
        np.testing.assert_array_equal(staged.xyxy, direct.xyxy)
        np.testing.assert_array_equal(staged.class_id, direct.class_id)


@pytest.mark.slow
def test_persons_on_the_pedestrian_street(detector: OnnxDetector) -> None:
    for frame in read_frames("oxford_towncentre_walk", (0, 120, 240)):
        dets = detector.detect(frame)
        assert_sane(dets, frame)
        assert count(dets, "person") >= 8, (detector.name, frame.seq)
        assert count(dets, "car") + count(dets, "truck") <= 3


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
def test_roi_boxes_land_inside_the_crop_in_frame_pixels(model: str) -> None:
    roi = (40, 140, 632, 360)  # the band around the counting line y=250
    det = open_detector(OnnxDetectorConfig(model=model, threads=1, roi_xyxy=roi), MODELS_DIR)
    (frame,) = read_frames("highway_dense_dusk", (100,))
    dets = det.detect(frame)
    assert count(dets, "car") >= 8
    assert np.all(dets.xyxy[:, [0, 1]] >= np.array(roi[:2]) - 1)
    assert np.all(dets.xyxy[:, [2, 3]] <= np.array(roi[2:]) + 1)


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
def test_corrupt_model_file_is_a_model_error(model: str, tmp_path: Path) -> None:
    manifest = load_manifest(require_asset(MODELS_DIR / f"{model}.json"))
    good = require_asset(MODELS_DIR / manifest.file)
    shutil.copy(MODELS_DIR / f"{model}.json", tmp_path / f"{model}.json")
    cut = tmp_path / manifest.file
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ModelError, match=r"sha256.*corrupt"):  # caught by the checksum ...
        resolve_model(model, tmp_path)
    with pytest.raises(ModelError, match=manifest.file):  # ... and by onnxruntime
        OnnxDetector(manifest, cut, OnnxDetectorConfig(model=model))


@pytest.mark.slow
def test_unknown_model_name_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="yolox-huge"):
        open_detector(OnnxDetectorConfig(model="yolox-huge"), MODELS_DIR)
