"""The real INT8 build of both models from the fetched FP32 weights, on frames of public clips.

Built once per session into a temporary directory, with fewer calibration frames than the
shipped default (48 instead of 150) to keep the suite short on two cores.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import OnnxDetectorConfig
from edge.detect.factory import build_detector
from edge.detect.manifest import load_manifest, resolve_model, sha256_file
from edge.errors import ModelError
from edge.tools.model import build as build_module
from edge.tools.model.build import BuildOptions, BuildResult, Recipe, build_int8
from tests.conftest import MODELS_DIR, require_asset
from tests.integration.test_detector import assert_sane, count, read_frames

MODELS = ("yolox-nano", "nanodet-m")
FAST = BuildOptions(calib_frames=48, verify_frames=40)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BuildResult]:
    out = tmp_path_factory.mktemp("int8")
    for name in MODELS:
        require_asset(MODELS_DIR / load_manifest(MODELS_DIR / f"{name}.json").file)
    return {name: build_int8(name, MODELS_DIR, out, FAST) for name in MODELS}


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_manifest_records_source_checksum_and_agreement(
    built: dict[str, BuildResult], name: str
) -> None:
    result = built[name]
    manifest = load_manifest(result.manifest_path)
    assert manifest.name == f"{name}-int8" and manifest.precision == "int8"
    assert manifest.source == name
    assert manifest.sha256 == sha256_file(result.model_path)
    assert manifest.agreement is not None
    assert manifest.agreement["frames"] == FAST.verify_frames
    assert min(manifest.agreement["recall"], manifest.agreement["precision"]) >= FAST.threshold
    assert sorted(p.name for p in result.model_path.parent.iterdir() if name in p.name) == [
        f"{name}-int8.json", f"{name}-int8.onnx"
    ], "no scratch files left behind"  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_int8_detects_people_and_vehicles(built: dict[str, BuildResult], name: str) -> None:
    cfg = OnnxDetectorConfig(model=str(built[name].manifest_path), threads=2)
    resolve_model(cfg.model, MODELS_DIR)  # sha256 of the built file is checked
    detector = build_detector(cfg, MODELS_DIR)
    for frame in read_frames("highway_dense_dusk"):
        dets = detector.detect(frame)
        assert_sane(dets, frame)
        assert count(dets, "car") >= 10, (name, frame.seq)
    for frame in read_frames("oxford_towncentre_walk", (0, 120, 240)):
        dets = detector.detect(frame)
        assert_sane(dets, frame)
        assert count(dets, "person") >= 8, (name, frame.seq)


@pytest.mark.slow
def test_plain_int8_yolox_is_rejected_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without its recipe (stem in float), YOLOX-Nano fails verification: the check works.

    With the build's default frame counts (150 calibration, 60 verification frames): plain INT8
    measures recall 79.7%. The small ``FAST`` sets are not used here: with 48/40 frames plain
    INT8 lands at 85.2%, right on the 85% threshold, which makes the outcome a coin toss.
    """
    monkeypatch.setitem(build_module.RECIPES, "yolox-nano", Recipe())
    out = tmp_path / "out"
    with pytest.raises(ModelError, match=r"agrees with FP32 on only recall .* nothing written"):
        build_int8("yolox-nano", MODELS_DIR, out, BuildOptions())
    assert list(out.iterdir()) == []
