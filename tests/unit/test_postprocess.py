"""Decoders, letterbox/ROI mapping, class mapping and NMS on hand-built tensors, plus a tiny
synthetic Ultralytics-layout (YOLOv8/YOLO11) ONNX model run end to end.

No real Ultralytics export is available offline: the Ultralytics decoder is checked on
hand-built ``[1, 4 + C, N]`` tensors and a constant-output ONNX graph of that layout."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edge.classes import CLASS_ID, DROPPED, class_map
from edge.config import OnnxDetectorConfig
from edge.detect.decoders import NanoDetDecoder, UltralyticsDecoder, YoloxDecoder, make_decoder
from edge.detect.factory import build_detector
from edge.detect.labels import COCO_CLASSES
from edge.detect.manifest import InputSpec, ModelManifest, load_manifest, resolve_model
from edge.detect.postprocess import Candidates, nms, to_detections
from edge.detect.preprocess import Letterbox, Preprocessor
from edge.errors import ConfigError, ModelError
from edge.types import Frame

COCO = {name: i for i, name in enumerate(COCO_CLASSES)}
YOLOX_SPEC = InputSpec(name="images", size_wh=(416, 416), letterbox="top_left", pad_value=114)
NANODET_SPEC = InputSpec(
    name="input.1", size_wh=(416, 416), letterbox="centre", pad_value=0, interpolation="area",
    mean=(103.53, 116.28, 123.675), std=(57.375, 57.12, 58.395),
)  # fmt: skip
STRIDES = (8, 16, 32)


def manifest(family: str, spec: InputSpec) -> ModelManifest:
    return ModelManifest(
        name=f"test-{family}",
        family=family,  # type: ignore[arg-type]
        precision="fp32",
        file="m.onnx",
        sha256="",
        input=spec,
        outputs=("out",),
        strides=STRIDES,
    )


def letterbox_for(spec: InputSpec, frame_wh: tuple[int, int], roi=None) -> Letterbox:
    image = np.zeros((frame_wh[1], frame_wh[0], 3), np.uint8)
    return Preprocessor(spec)(image, roi)[1]


# ---- YOLOX -------------------------------------------------------------------------------


def yolox_output(rows: dict[int, tuple[list[float], dict[int, float]]]) -> np.ndarray:
    """[1, 3549, 85]; rows maps row index -> ([dx, dy, log_w, log_h, obj], {coco id: score})."""
    out = np.zeros((1, 3549, 85), np.float32)
    for r, (box, classes) in rows.items():
        out[0, r, :5] = box
        for c, s in classes.items():
            out[0, r, 5 + c] = s
    return out


def test_yolox_one_box_decodes_to_frame_pixels() -> None:
    # stride 16, cell (gx=5, gy=3): row 2704 + 3*26 + 5; centre (5.5, 3.5)*16 = (88, 56)
    row = 2704 + 3 * 26 + 5
    out = yolox_output({row: ([0.5, 0.5, np.log(4), np.log(2), 0.9], {COCO["car"]: 0.8})})
    m = manifest("yolox", YOLOX_SPEC)
    cands = YoloxDecoder(m)([out], 0.25)
    np.testing.assert_allclose(cands.xyxy_model, [[56, 40, 120, 72]], atol=1e-4)
    # 832x468 frame: r = 0.5, pasted top-left, so frame = model / 0.5
    dets = to_detections(cands, letterbox_for(YOLOX_SPEC, (832, 468)), 0.5)
    np.testing.assert_allclose(dets.xyxy, [[112, 80, 240, 144]], atol=1e-3)
    np.testing.assert_allclose(dets.confidence, [0.72], atol=1e-6)
    assert dets.class_id.tolist() == [CLASS_ID["car"]]


def test_yolox_score_is_objectness_times_class() -> None:
    out = yolox_output({0: ([0, 0, 0, 0, 0.4], {COCO["person"]: 0.5})})
    m = manifest("yolox", YOLOX_SPEC)
    assert len(YoloxDecoder(m)([out], 0.25).score) == 0  # 0.2 < 0.25
    assert YoloxDecoder(m)([out], 0.15).score.tolist() == pytest.approx([0.2])


# ---- NanoDet -----------------------------------------------------------------------------


def nanodet_outputs(level: int, cell: int, cls: int, score: float, bins: list[int]) -> list:
    sizes = (2704, 676, 169)
    scores = [np.zeros((1, n, 80), np.float32) for n in sizes]
    dists = [np.full((1, n, 32), -20.0, np.float32) for n in sizes]
    scores[level][0, cell, cls] = score
    for side, b in enumerate(bins):  # one-hot logits: distance = bin * stride
        dists[level][0, cell, side * 8 + b] = 20.0
    return scores + dists


def test_nanodet_one_box_decodes_to_frame_pixels() -> None:
    # stride 8, cell (x=10, y=20): centre (10*8 + 3.5, 20*8 + 3.5) = (83.5, 163.5)
    outs = nanodet_outputs(0, 20 * 52 + 10, COCO["bus"], 0.7, [2, 3, 4, 1])
    m = manifest("nanodet", NANODET_SPEC)
    cands = NanoDetDecoder(m)(outs, 0.3)
    np.testing.assert_allclose(cands.xyxy_model, [[67.5, 139.5, 115.5, 171.5]], atol=1e-3)
    # 832x468 frame: r = 0.5, 416x234 centred, so 91 px padding on top
    dets = to_detections(cands, letterbox_for(NANODET_SPEC, (832, 468)), 0.5)
    np.testing.assert_allclose(dets.xyxy, [[135, 97, 231, 161]], atol=1e-2)
    assert dets.class_id.tolist() == [CLASS_ID["bus"]]
    assert dets.confidence.tolist() == pytest.approx([0.7])


# ---- Ultralytics YOLOv8 / YOLO11 ---------------------------------------------------------


def ultralytics_output(n: int, cols: dict[int, tuple[list[float], dict[int, float]]]) -> np.ndarray:
    out = np.zeros((1, 84, n), np.float32)
    for col, (box, classes) in cols.items():
        out[0, :4, col] = box
        for c, s in classes.items():
            out[0, 4 + c, col] = s
    return out


def test_ultralytics_one_box_decodes_to_frame_pixels() -> None:
    spec = InputSpec(name="images", size_wh=(416, 416), letterbox="centre")
    out = ultralytics_output(3549, {100: ([200, 150, 40, 20], {COCO["motorcycle"]: 0.6})})
    cands = UltralyticsDecoder(manifest("ultralytics", spec))([out], 0.25)
    np.testing.assert_allclose(cands.xyxy_model, [[180, 140, 220, 160]])
    dets = to_detections(cands, letterbox_for(spec, (832, 468)), 0.5)
    np.testing.assert_allclose(dets.xyxy, [[360, 98, 440, 138]], atol=1e-3)
    assert dets.class_id.tolist() == [CLASS_ID["motorcycle"]]


def test_ultralytics_best_class_and_threshold_on_a_synthetic_tensor() -> None:
    """Three columns: one counted class above threshold, one below, one best an uncounted class."""
    spec = InputSpec(name="images", size_wh=(64, 64), letterbox="centre")
    out = ultralytics_output(84, {
        5: ([10, 20, 4, 8], {COCO["truck"]: 0.7, COCO["car"]: 0.6}),
        9: ([30, 30, 10, 10], {COCO["person"]: 0.2}),
        11: ([40, 40, 10, 10], {COCO["dog"]: 0.9, COCO["person"]: 0.5}),
    })  # fmt: skip
    cands = UltralyticsDecoder(manifest("ultralytics", spec))([out], 0.25)
    np.testing.assert_allclose(cands.xyxy_model, [[8, 16, 12, 24]])
    assert cands.score.tolist() == pytest.approx([0.7])
    assert cands.class_id.tolist() == [CLASS_ID["truck"]]


def test_ultralytics_model_with_its_own_class_list_needs_only_a_manifest() -> None:
    """A model trained on 3 classes: ``[1, 4 + 3, N]``, names mapped through the manifest."""
    spec = InputSpec(name="images", size_wh=(64, 64), letterbox="centre")
    m = replace(manifest("ultralytics", spec), classes=("pedestrian", "motorbike", "sign"))
    out = np.zeros((1, 7, 4), np.float32)
    out[0, :4, 0], out[0, 4 + 0, 0] = [10, 10, 4, 4], 0.8  # pedestrian -> person
    out[0, :4, 1], out[0, 4 + 1, 1] = [30, 30, 4, 4], 0.6  # motorbike -> motorcycle
    out[0, :4, 2], out[0, 4 + 2, 2] = [50, 50, 4, 4], 0.9  # sign: not counted
    cands = UltralyticsDecoder(m)([out], 0.25)
    assert cands.class_id.tolist() == [CLASS_ID["person"], CLASS_ID["motorcycle"]]
    with pytest.raises(ModelError, match=r"test-ultralytics.*80 class scores.*3 classes"):
        UltralyticsDecoder(m)([ultralytics_output(4, {})], 0.25)


@pytest.mark.parametrize("family", ["yolox", "nanodet"])
def test_class_count_of_the_output_must_match_the_manifest(family: str) -> None:
    m = replace(manifest(family, YOLOX_SPEC), classes=("person", "car"))
    outs = [yolox_output({})] if family == "yolox" else nanodet_outputs(0, 0, 0, 0.5, [0, 0, 0, 0])
    with pytest.raises(ModelError, match="80 class scores but its manifest lists 2"):
        make_decoder(m)(outs, 0.25)


# ---- class mapping and NMS -----------------------------------------------------------------


def test_class_map_keeps_only_counted_classes() -> None:
    cmap = class_map(COCO_CLASSES)
    assert [cmap[COCO[n]] for n in ("person", "bicycle", "car", "motorcycle", "bus", "truck")] == [
        0, 1, 2, 3, 4, 5,
    ]  # fmt: skip
    assert cmap[COCO["train"]] == DROPPED and cmap[COCO["dog"]] == DROPPED
    assert class_map(["motorbike", "tree"]).tolist() == [CLASS_ID["motorcycle"], DROPPED]


@pytest.mark.parametrize(
    ("classes", "kept"),
    [
        ({COCO["dog"]: 0.9, COCO["car"]: 0.3}, []),  # best class is not counted: dropped
        ({COCO["train"]: 0.8}, []),
        ({COCO["truck"]: 0.6, COCO["car"]: 0.5}, [CLASS_ID["truck"]]),
    ],
)
def test_uncounted_best_class_is_dropped_not_relabelled(classes: dict, kept: list) -> None:
    out = yolox_output({0: ([0, 0, 0, 0, 1.0], classes)})
    cands = YoloxDecoder(manifest("yolox", YOLOX_SPEC))([out], 0.25)
    assert cands.class_id.tolist() == kept


def cands(boxes: list[list[float]], scores: list[float], classes: list[int]) -> Candidates:
    return Candidates(
        np.asarray(boxes, np.float32), np.asarray(scores, np.float32), np.asarray(classes)
    )


@pytest.mark.parametrize(
    ("boxes", "scores", "classes", "kept"),
    [
        # same class, IoU 0.82: only the best survives, whatever the input order
        ([[0, 0, 100, 100], [5, 5, 105, 105]], [0.6, 0.9], [2, 2], [1]),
        # rider (person) on a motorcycle: different groups, both kept, best first
        ([[0, 0, 100, 100], [5, 5, 105, 105]], [0.6, 0.9], [0, 3], [1, 0]),
        # one vehicle boxed as car and as truck: same group, kept once as its best class
        ([[0, 0, 100, 100], [5, 5, 105, 105]], [0.6, 0.9], [2, 5], [1]),
        ([[0, 0, 100, 100], [2, 2, 100, 100]], [0.5, 0.4], [1, 3], [0]),  # bicycle/motorcycle
        # same class, IoU 0.33 (close-following cars): both kept
        ([[0, 0, 100, 100], [50, 0, 150, 100]], [0.8, 0.7], [2, 2], [0, 1]),
    ],
)
def test_nms_keeps_the_best(boxes, scores, classes, kept) -> None:
    assert nms(cands(boxes, scores, classes), 0.5).tolist() == kept


def test_no_candidates_gives_empty_detections() -> None:
    out = yolox_output({})
    c = YoloxDecoder(manifest("yolox", YOLOX_SPEC))([out], 0.25)
    assert len(to_detections(c, letterbox_for(YOLOX_SPEC, (640, 360)), 0.5)) == 0


# ---- letterbox and ROI ---------------------------------------------------------------------


@pytest.mark.parametrize("spec", [YOLOX_SPEC, NANODET_SPEC], ids=["top_left", "centre"])
@pytest.mark.parametrize("roi", [None, (100, 50, 420, 290)])
def test_letterbox_round_trips_a_drawn_box(spec: InputSpec, roi) -> None:
    """A bright rectangle drawn in the frame, found in the tensor, maps back to itself."""
    image = np.zeros((360, 640, 3), np.uint8)
    image[120:200, 200:280] = 255  # frame box (200, 120, 280, 200)
    tensor, lb = Preprocessor(spec)(image, roi)
    bright = tensor[0, 0] > tensor[0, 0].max() * 0.5 if spec.mean is None else tensor[0, 0] > 2
    ys, xs = np.nonzero(bright)
    box_model = np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32)
    np.testing.assert_allclose(lb.to_frame(box_model), [[200, 120, 280, 200]], atol=2.5)


def test_tensor_padding_and_normalisation_follow_the_manifest() -> None:
    image = np.full((360, 640, 3), 200, np.uint8)
    t, lb = Preprocessor(YOLOX_SPEC)(image)
    assert t.shape == (1, 3, 416, 416) and t.dtype == np.float32
    assert lb.pad_xy == (0, 0) and t[0, 0, 0, 0] == 200 and t[0, 0, -1, 0] == 114
    t, lb = Preprocessor(NANODET_SPEC)(image)
    assert lb.pad_xy == (0, 91)  # 416x234 centred
    assert t[0, 0, 0, 0] == pytest.approx((0 - 103.53) / 57.375, rel=1e-5)
    assert t[0, 2, 200, 200] == pytest.approx((200 - 123.675) / 58.395, rel=1e-5)


def test_roi_offsets_boxes_to_full_frame_pixels() -> None:
    lb = letterbox_for(YOLOX_SPEC, (640, 360), (100, 200, 308, 304))  # 208x104 crop: r = 2
    assert lb.scale == 2 and lb.origin_xy == (100, 200)
    out = lb.to_frame(np.array([[0, 0, 416, 208], [-50, -50, 1000, 1000]], np.float32))
    np.testing.assert_allclose(out, [[100, 200, 308, 304], [75, 175, 600, 360]])  # clipped


def test_roi_outside_the_frame_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="roi_xyxy"):
        letterbox_for(YOLOX_SPEC, (640, 360), (700, 0, 800, 100))


def test_unknown_family_has_no_decoder() -> None:
    with pytest.raises(ModelError, match="family"):
        make_decoder(manifest("ssd", YOLOX_SPEC))


def manifest_json(tmp_path: Path, **fields: object) -> Path:
    data = {"family": "yolox", "file": "m.onnx", "outputs": ["output"], "strides": [8, 16, 32],
            "input": {"name": "images", "size_wh": [416, 416]}, **fields}  # fmt: skip
    path = tmp_path / "m.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("family", ["yolov8", "yolo11", "ultralytics"])
def test_manifest_names_the_ultralytics_family_by_any_of_its_names(
    tmp_path: Path, family: str
) -> None:
    assert load_manifest(manifest_json(tmp_path, family=family)).family == "ultralytics"


def test_manifest_classes_default_to_coco_and_are_read_in_order(tmp_path: Path) -> None:
    assert load_manifest(manifest_json(tmp_path)).classes == COCO_CLASSES
    m = load_manifest(manifest_json(tmp_path, classes=["car", "pedestrian"]))
    assert class_map(m.classes).tolist() == [CLASS_ID["car"], CLASS_ID["person"]]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"classes": ["cat", "dog"]}, "none of .* is a counted class"),
        ({"family": "ssd"}, "family must be one of"),
    ],
)
def test_invalid_manifest_is_a_model_error_naming_it(
    tmp_path: Path, fields: dict, message: str
) -> None:
    with pytest.raises(ModelError, match=rf"m\.json: invalid model manifest.*{message}"):
        load_manifest(manifest_json(tmp_path, **fields))


# ---- a tiny synthetic Ultralytics-layout ONNX model ---------------------------------------------


def write_constant_model(path: Path, size: int, out_shape: list[int], value: np.ndarray) -> None:
    """images [1,3,size,size] -> output = value + 0 * sum(images)."""
    axes = numpy_helper.from_array(np.array([1, 2, 3], np.int64), "axes")
    const = numpy_helper.from_array(value.astype(np.float32), "const")
    zero = numpy_helper.from_array(np.zeros(1, np.float32), "zero")
    nodes = [
        helper.make_node("ReduceSum", ["images", "axes"], ["s"], keepdims=0),
        helper.make_node("Mul", ["s", "zero"], ["z"]),
        helper.make_node("Add", ["const", "z"], ["output0"]),
    ]
    images = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])
    output = helper.make_tensor_value_info("output0", TensorProto.FLOAT, out_shape)
    graph = helper.make_graph(nodes, "tiny", [images], [output], [axes, const, zero])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


def test_bare_ultralytics_onnx_runs_end_to_end(tmp_path: Path) -> None:
    n = 8 * 8 + 4 * 4 + 2 * 2  # 64x64 input, strides 8/16/32
    value = ultralytics_output(n, {
        3: ([32, 32, 16, 24], {COCO["person"]: 0.9}),
        7: ([10, 10, 8, 8], {COCO["dog"]: 0.95}),
    })  # fmt: skip
    path = tmp_path / "tiny_yolov8.onnx"
    write_constant_model(path, 64, [1, 84, n], value)
    m, resolved = resolve_model(str(path), tmp_path)
    assert (m.family, m.input.size_wh, resolved) == ("ultralytics", (64, 64), path)
    det = build_detector(OnnxDetectorConfig(model=str(path), threads=1), tmp_path)
    dets = det.detect(Frame(np.zeros((128, 128, 3), np.uint8), 0.0, 0))
    # r = 0.5, no padding for a square frame: model box (24, 20, 40, 44) -> x2
    np.testing.assert_allclose(dets.xyxy, [[48, 40, 80, 88]], atol=1e-3)
    assert dets.class_id.tolist() == [CLASS_ID["person"]]
    assert det.last_timings.infer_ms > 0


def test_bare_onnx_of_another_layout_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mystery.onnx"
    write_constant_model(path, 64, [1, 84, 85], np.zeros((1, 84, 85), np.float32))
    with pytest.raises(ModelError, match=r"mystery\.onnx.*not the YOLOv8"):
        resolve_model(str(path), tmp_path)


def test_truncated_bare_onnx_is_a_model_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.onnx"
    n = 84
    write_constant_model(path, 64, [1, 84, n], np.zeros((1, 84, n), np.float32))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ModelError, match=r"cut\.onnx"):
        resolve_model(str(path), tmp_path)


@pytest.mark.parametrize("name", ["no-such-model", "missing.onnx", "missing.json"])
def test_unknown_or_missing_model_is_a_model_error(tmp_path: Path, name: str) -> None:
    with pytest.raises(ModelError, match=re.escape(name)):
        resolve_model(str(tmp_path / name) if "." in name else name, tmp_path)
