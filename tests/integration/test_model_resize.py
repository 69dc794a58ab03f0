"""``model resize``: the real FP32 model with a 16:9-friendly input, verified on public clips."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import OnnxDetectorConfig
from edge.detect.factory import build_detector
from edge.detect.manifest import load_manifest, resolve_model, sha256_file
from edge.errors import ModelError
from edge.tools.model.build import BuildOptions, BuildResult, build_int8
from edge.tools.model.resize import build_resized
from tests.conftest import MODELS_DIR, require_asset
from tests.integration.test_detector import assert_sane, count, read_frames

SIZE = (416, 256)
FAST = BuildOptions(calib_frames=48, verify_frames=30)


@pytest.fixture(scope="module")
def resized(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    require_asset(MODELS_DIR / load_manifest(MODELS_DIR / "yolox-nano.json").file)
    out = tmp_path_factory.mktemp("resized")
    return build_resized("yolox-nano", SIZE, MODELS_DIR, out, FAST)


def test_manifest_records_size_source_checksum_and_agreement(resized: BuildResult) -> None:
    manifest = load_manifest(resized.manifest_path)
    assert manifest.name == "yolox-nano-416x256" and manifest.precision == "fp32"
    assert manifest.source == "yolox-nano" and manifest.input.size_wh == SIZE
    assert manifest.sha256 == sha256_file(resized.model_path)
    assert manifest.agreement is not None and manifest.agreement["frames"] == FAST.verify_frames
    assert min(manifest.agreement["recall"], manifest.agreement["precision"]) >= FAST.threshold
    assert sorted(p.name for p in resized.model_path.parent.iterdir()) == [
        "yolox-nano-416x256.json", "yolox-nano-416x256.onnx"
    ], "no scratch files left behind"  # fmt: skip


def test_resized_model_detects_cars_and_people_in_frame_pixels(resized: BuildResult) -> None:
    cfg = OnnxDetectorConfig(model=str(resized.manifest_path), threads=2)
    resolve_model(cfg.model, MODELS_DIR)  # the sha256 of the written file is checked
    detector = build_detector(cfg, MODELS_DIR)
    for frame in read_frames("highway_dense_dusk"):
        dets = detector.detect(frame)
        assert_sane(dets, frame)
        assert count(dets, "car") >= 10, frame.seq
        assert dets.xyxy[:, 3].max() > 0.8 * frame.size_wh[1], "boxes reach the frame's bottom"
    for frame in read_frames("oxford_towncentre_walk", (0, 120, 240)):
        assert count(detector.detect(frame), "person") >= 8, frame.seq


def test_int8_of_the_resized_model_keeps_its_source_recipe(
    resized: BuildResult, tmp_path: Path
) -> None:
    """The resized graph has the source's node names, so YOLOX's stem stays in float."""
    result = build_int8("yolox-nano-416x256", resized.model_path.parent, tmp_path, FAST)
    assert {"Conv_41", "Conv_44"} <= set(result.kept_float)
    assert load_manifest(result.manifest_path).input.size_wh == SIZE
    assert min(result.agreement.recall, result.agreement.precision) >= FAST.threshold


def test_a_graph_that_fixes_its_input_size_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    require_asset(MODELS_DIR / load_manifest(MODELS_DIR / "nanodet-m.json").file)
    with pytest.raises(ModelError, match="nanodet-m cannot take a 416x256 input"):
        build_resized("nanodet-m", SIZE, MODELS_DIR, tmp_path, FAST)
    assert list(tmp_path.iterdir()) == []
