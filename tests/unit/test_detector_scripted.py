"""The scripted detector (detections replayed from JSON lines) and the detector factory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge.classes import CLASS_ID
from edge.config import OnnxDetectorConfig, ScriptedDetectorConfig, parse_config
from edge.detect.factory import build_detector
from edge.detect.scripted import ScriptedDetector
from edge.errors import ModelError
from edge.types import Frame

ROOT = Path(__file__).resolve().parents[2]


def frame(seq: int) -> Frame:
    return Frame(np.zeros((360, 640, 3), np.uint8), seq / 10.0, seq)


def write_lines(tmp_path: Path, *lines: object) -> Path:
    path = tmp_path / "dets.jsonl"
    path.write_text("".join((ln if isinstance(ln, str) else json.dumps(ln)) + "\n" for ln in lines))
    return path


CAR_AND_PERSON = {
    "seq": 2,
    "boxes": [[10, 20, 50, 60], [100, 100, 120, 160]],
    "scores": [0.4, 0.9],
    "classes": ["car", "person"],
}


def test_replays_the_line_of_each_frame_best_first(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path,
        CAR_AND_PERSON,
        {"seq": 5, "boxes": [[1, 2, 3, 4]], "scores": [0.5], "classes": ["motorbike"]},
    )
    det = ScriptedDetector(path)
    assert [len(det.detect(frame(s))) for s in (0, 1)] == [0, 0]
    dets = det.detect(frame(2))
    np.testing.assert_array_equal(dets.xyxy, [[100, 100, 120, 160], [10, 20, 50, 60]])
    assert dets.confidence.tolist() == pytest.approx([0.9, 0.4])
    assert dets.class_id.tolist() == [CLASS_ID["person"], CLASS_ID["car"]]
    assert dets.xyxy.dtype == np.float32 and dets.class_id.dtype == np.int64
    assert len(det.detect(frame(3))) == 0
    assert det.detect(frame(5)).class_id.tolist() == [CLASS_ID["motorcycle"]]
    assert len(det.detect(frame(9))) == 0, "after the last line: nothing"
    assert len(det.detect(frame(2))) == 2, "a frame already read can be looked up again"
    assert det.name == "scripted:dets.jsonl"


def test_three_steps_give_what_detect_gives(tmp_path: Path) -> None:
    det = ScriptedDetector(write_lines(tmp_path, CAR_AND_PERSON))
    prepared = [det.prepare(frame(s)) for s in (1, 2, 3)]
    inferred = [det.infer(p) for p in prepared]
    staged = [det.decode(i) for i in inferred]
    assert [len(d) for d in staged] == [0, 2, 0]
    np.testing.assert_array_equal(staged[1].xyxy, det.detect(frame(2)).xyxy)


def test_frames_skipped_by_the_source_skip_their_lines(tmp_path: Path) -> None:
    lines = [{"seq": s, "boxes": [[0, 0, 5, 5]], "scores": [0.5], "classes": ["bus"]}
             for s in (1, 3, 7)]  # fmt: skip
    det = ScriptedDetector(write_lines(tmp_path, *lines))
    assert [len(det.detect(frame(s))) for s in (0, 4, 7, 8)] == [0, 0, 1, 0]


def test_empty_lines_and_empty_detections(tmp_path: Path) -> None:
    det = ScriptedDetector(write_lines(tmp_path, "", {"seq": 0, "boxes": [], "scores": [],
                                                      "classes": []}))  # fmt: skip
    assert len(det.detect(frame(0))) == 0


def test_missing_file_fails_at_construction_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"nope\.jsonl"):
        ScriptedDetector(tmp_path / "nope.jsonl")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", "Expecting property name"),
        ('{"seq": 4, "boxes": [[1, 2, 3, 4]], "scores": [0.5]}', "missing field 'classes'"),
        ('{"seq": 4, "boxes": [[1, 2, 3, 4]], "scores": [0.5], "classes": ["dog"]}',
         r"unknown classes \['dog'\]"),
        ('{"seq": 4, "boxes": [[1, 2, 3, 4]], "scores": [0.5, 0.6], "classes": ["car"]}',
         "1 boxes, 2 scores, 1 classes"),
        ('{"seq": 4, "boxes": [[5, 2, 3, 4]], "scores": [0.5], "classes": ["car"]}', "x2 > x1"),
        ('{"seq": "4", "boxes": [], "scores": [], "classes": []}', "seq must be"),
        ('{"seq": 1, "boxes": [], "scores": [], "classes": []}', "seq 1 after seq 2"),
        ("[1, 2]", "bad scripted detections"),
    ],
)  # fmt: skip
def test_malformed_line_fails_in_infer_naming_file_and_line(
    tmp_path: Path, bad: str, message: str
) -> None:
    path = write_lines(tmp_path, CAR_AND_PERSON, bad)
    det = ScriptedDetector(path)  # construction only checks the file is there
    assert len(det.detect(frame(2))) == 2, "frames before the bad line are fine"
    prepared = det.prepare(frame(4))  # prepare does not read the file ...
    with pytest.raises(ModelError, match=rf"dets\.jsonl:2: .*{message}"):
        det.infer(prepared)  # ... infer, the detect step, does


def test_factory_builds_the_backend_of_each_type(tmp_path: Path) -> None:
    path = write_lines(tmp_path, CAR_AND_PERSON)
    cfg = parse_config({"detector": {"type": "scripted", "path": str(path), "detect_fps": 5}})
    assert isinstance(cfg.detector, ScriptedDetectorConfig) and cfg.detector.detect_fps == 5
    assert cfg.detector.label == "scripted:dets.jsonl"
    det = build_detector(cfg.detector, tmp_path / "no-models-needed")
    assert isinstance(det, ScriptedDetector) and len(det.detect(frame(2))) == 2
    with pytest.raises(ModelError, match="yolox-huge"):
        build_detector(OnnxDetectorConfig(model="yolox-huge"), tmp_path)


def test_config_without_type_is_the_onnx_detector_as_before() -> None:
    cfg = parse_config({"detector": {"model": "nanodet-m", "threads": 1, "nms_iou": 0.6}})
    assert isinstance(cfg.detector, OnnxDetectorConfig)
    assert (cfg.detector.model, cfg.detector.threads, cfg.detector.nms_iou) == ("nanodet-m", 1, 0.6)
    assert parse_config({}).detector == OnnxDetectorConfig()
    dumped = parse_config({"detector": {"type": "scripted", "path": "d.jsonl"}}).model_dump()
    assert isinstance(parse_config(dumped).detector, ScriptedDetectorConfig), "round trip"


def test_scripted_detector_does_not_import_onnxruntime(tmp_path: Path) -> None:
    path = write_lines(tmp_path, CAR_AND_PERSON)
    code = (
        "import sys; from pathlib import Path\n"
        "from edge.config import ScriptedDetectorConfig\n"
        "from edge.detect.factory import build_detector\n"
        f"d = build_detector(ScriptedDetectorConfig(type='scripted', path=Path({str(path)!r})), "
        "Path('.'))\n"
        "assert 'onnxruntime' not in sys.modules, 'onnxruntime imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
