"""Model build (workstation only): sample frames, quantise, verify against FP32, write manifest.

``edge-counter model build`` calls ``build_int8``. Quantisation itself is in
``edge.detect.quantize`` (the only module importing ``onnx``/``onnxruntime.quantization``);
neither module is imported on the device, which only loads the built file.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge.config import DetectorConfig, default_data_dir
from edge.detect.calibration import (
    FrameRef,
    input_tensors,
    public_clips,
    read_frames,
    sample_frames,
    split_frames,
)  # fmt: skip
from edge.detect.manifest import (
    InputSpec,
    load_manifest,
    manifest_from_dict,
    resolve_model,
    sha256_file,
)
from edge.detect.onnx import OnnxDetector
from edge.detect.preprocess import Preprocessor
from edge.errors import ConfigError, ModelError
from edge.types import Detections, FloatArray, Frame

log = logging.getLogger(__name__)

#: Detections at or above this score must be reproduced by the other model; below it a box
#: only needs to be matched (score hysteresis: 0.46 vs 0.44 is not a disagreement).
CONFIDENT_SCORE = 0.45


@dataclass(frozen=True)
class Recipe:
    """Per-model quantisation choices, measured (see docs/model.md).

    Attributes:
        keep_float: Conv nodes (names in the source FP32 graph) left in float together with
            their activation ops. Each costs a float conv and a Q/DQ pair and buys back the
            accuracy a per-tensor 8-bit activation scale destroys in that layer.
    """

    keep_float: tuple[str, ...] = ()


#: Measured recipes by FP32 manifest name; other models use plain static INT8. YOLOX-Nano:
#: quantising only the stem (SpaceToDepth → Conv_41 → SiLU → depthwise Conv_44 → SiLU) already
#: drops recall against FP32 to ~0.5; any other quarter of the graph alone keeps ≥ 0.94.
RECIPES: dict[str, Recipe] = {"yolox-nano": Recipe(keep_float=("Conv_41", "Conv_44"))}


@dataclass(frozen=True)
class Agreement:
    """How well a built model's detections reproduce its source's (same class, IoU > ``iou``).

    The source is the FP32 model for an INT8 build, the original input size for a resize.

    Attributes:
        recall: share of source (e.g. FP32) detections a built-model detection matches.
        precision: share of built-model (e.g. INT8) detections that match a source detection.
        frames: verification frames (none used for calibration).
        iou: match threshold.
        min_score: detection score threshold of both detectors.
        confident_score: detections at or above it must be reproduced (``CONFIDENT_SCORE``).
    """

    recall: float
    precision: float
    frames: int
    iou: float
    min_score: float
    confident_score: float


def _iou(a: FloatArray, b: FloatArray) -> FloatArray:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    union = np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)
    result: FloatArray = (inter / union).astype(np.float32)
    return result


def match_count(ref: Detections, test: Detections, iou: float) -> int:
    """One-to-one greedy matches (best reference first) of same-class boxes above ``iou``."""
    if len(ref.xyxy) == 0 or len(test.xyxy) == 0:
        return 0
    overlap = _iou(ref.xyxy, test.xyxy)
    overlap[ref.class_id[:, None] != test.class_id[None, :]] = 0.0
    used = np.zeros(len(test.xyxy), bool)
    matched = 0
    for i in np.argsort(-ref.confidence):
        row = np.where(used, 0.0, overlap[i])
        j = int(np.argmax(row))
        if row[j] > iou:
            used[j] = True
            matched += 1
    return matched


def _confident(dets: Detections, score: float) -> Detections:
    keep = dets.confidence >= score
    return Detections(dets.xyxy[keep], dets.confidence[keep], dets.class_id[keep])


def measure_agreement(
    fp32: OnnxDetector, int8: OnnxDetector, frames: Iterable[Frame],
    scores: tuple[float, float], iou: float = 0.5,
) -> Agreement:  # fmt: skip
    """Run both detectors on the same frames and match their detections (see ``Agreement``).

    Recall counts the FP32 detections at or above the confident score (the ones that start
    tracks) that an INT8 detection of any kept score matches; precision is the same with the
    roles swapped. The hysteresis keeps a box scored 0.46 by one model and 0.44 by the other
    from counting as a disagreement, which a single cut-off would.

    Args:
        fp32: the reference detector. int8: the built one (same config).
        frames: verification frames, none used for calibration.
        scores: (the detectors' score threshold, the confident score), e.g. (0.25, 0.45).
        iou: minimum overlap of a same-class match.

    Raises:
        ModelError: no verification frame was read.
    """
    n_ref = n_test = hit_ref = hit_test = n_frames = 0
    for frame in frames:
        ref, test = fp32.detect(frame), int8.detect(frame)
        ref_hi, test_hi = _confident(ref, scores[1]), _confident(test, scores[1])
        n_ref, n_test = n_ref + len(ref_hi.xyxy), n_test + len(test_hi.xyxy)
        hit_ref += match_count(ref_hi, test, iou)
        hit_test += match_count(test_hi, ref, iou)
        n_frames += 1
    if n_frames == 0:
        raise ModelError("no verification frame could be read")
    return Agreement(
        recall=hit_ref / n_ref if n_ref else 1.0, precision=hit_test / n_test if n_test else 1.0,
        frames=n_frames, iou=iou, min_score=scores[0], confident_score=scores[1],
    )  # fmt: skip


@dataclass(frozen=True)
class BuildOptions:
    """What ``build_int8`` builds from and how strictly it checks the result.

    Attributes:
        calib: calibration sources (videos, images, directories); empty = public clips.
        calib_frames: frames the calibrator sees (MinMax: ~150 covers the scenes' ranges).
        verify_frames: further frames, disjoint from calibration, for the agreement check.
        threshold: minimum recall and precision against FP32; below it the build fails.
        threads: onnxruntime threads for calibration and verification.
    """

    calib: tuple[Path, ...] = ()
    calib_frames: int = 150
    verify_frames: int = 60
    threshold: float = 0.85
    threads: int = 2


@dataclass(frozen=True)
class BuildResult:
    """The files written and the figures measured."""

    model_path: Path
    manifest_path: Path
    agreement: Agreement
    kept_float: tuple[str, ...]


def _derived_manifest(
    src_json: Path, name: str, built: Path, how: str, extra: dict[str, Any]
) -> dict[str, Any]:
    """The source model's manifest, made over for a file derived from it (``how`` made it)."""
    data: dict[str, Any] = json.loads(src_json.read_text(encoding="utf-8"))
    digest = sha256_file(built)
    data.update(
        name=name, file=built.name, sha256=digest, size_bytes=built.stat().st_size,
        sha256_accepted={digest: f"built by `{how}` from {data['name']}"},
        source=data["name"], urls=[], **extra,
    )  # fmt: skip
    return data


def _install(work: Path, built: Path, data: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Move a verified model, then its manifest, from the scratch dir into ``out_dir``."""
    (work / "manifest.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    model_path, manifest_path = out_dir / built.name, out_dir / f"{data['name']}.json"
    os.replace(built, model_path)
    os.replace(work / "manifest.json", manifest_path)
    load_manifest(manifest_path)
    return model_path, manifest_path


def _quantise(
    prepared: Path, out: Path, refs: Sequence[FrameRef], spec: InputSpec, recipe: Recipe
) -> tuple[str, ...]:
    from edge.detect import quantize  # noqa: PLC0415 - build-time only (onnx)

    keep = quantize.head_nodes(prepared) + quantize.with_activations(prepared, recipe.keep_float)
    tensors = input_tensors(read_frames(refs), Preprocessor(spec))
    quantize.quantize_int8(prepared, out, tensors, spec.name, keep)
    return tuple(keep)


def build_int8(name: str, models_dir: Path, out_dir: Path, opts: BuildOptions) -> BuildResult:
    """Build ``out_dir/<name>-int8.onnx`` and its manifest from the FP32 model ``name``.

    Everything is written to a scratch directory first and moved into place only after the
    agreement check passed, so a failed build leaves no file behind.

    Raises:
        ModelError: unknown model, missing or corrupt source, not an FP32 manifest, or the
            agreement with FP32 below ``opts.threshold``.
        ConfigError: a calibration source is missing or holds no frame.
    """
    from edge.detect import quantize  # noqa: PLC0415 - build-time only (onnx)

    manifest, src = resolve_model(name, models_dir)
    if manifest.precision != "fp32":
        raise ModelError(f"{name} is already {manifest.precision}: build from an fp32 model")
    sources = list(opts.calib) or public_clips(default_data_dir())
    refs = sample_frames(sources, opts.calib_frames + opts.verify_frames)
    calib, verify = split_frames(refs, opts.verify_frames)
    recipe = RECIPES.get(manifest.name) or RECIPES.get(manifest.source or "", Recipe())
    out_name = f"{manifest.name}-int8"
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out_name}.", dir=out_dir) as tmp:
        work = Path(tmp)
        quantize.prepare_fp32(src, work / "prepared.onnx")
        built = work / f"{out_name}.onnx"
        kept = _quantise(work / "prepared.onnx", built, calib, manifest.input, recipe)
        how, precision = "edge-counter model build", {"precision": "int8"}
        int8 = manifest_from_dict(_derived_manifest(models_dir / f"{name}.json", out_name, built,
                                                    how, precision), out_name)  # fmt: skip
        cfg = DetectorConfig(model=name, threads=opts.threads)
        agreement = measure_agreement(
            OnnxDetector(manifest, src, cfg), OnnxDetector(int8, built, cfg),
            read_frames(verify), (cfg.score_threshold, CONFIDENT_SCORE),
        )  # fmt: skip
        if min(agreement.recall, agreement.precision) < opts.threshold:
            raise ModelError(
                f"{out_name}: INT8 agrees with FP32 on only recall {agreement.recall:.1%}, "
                f"precision {agreement.precision:.1%} over {agreement.frames} frames "
                f"(threshold {opts.threshold:.0%}); nothing written"
            )
        extra = {**precision, "agreement": agreement.__dict__, "quantization": {
            "format": "QDQ", "weights": "QInt8 per-channel", "activations": "QUInt8 per-tensor",
            "calibration": "MinMax", "calibration_frames": len(calib),
            "kept_float": list(kept), "recipe": recipe.__dict__}}  # fmt: skip
        data = _derived_manifest(models_dir / f"{name}.json", out_name, built, how, extra)
        model_path, manifest_path = _install(work, built, data, out_dir)
    return BuildResult(model_path, manifest_path, agreement, kept)


def build_resized(
    name: str, size_wh: tuple[int, int], models_dir: Path, out_dir: Path, opts: BuildOptions
) -> BuildResult:
    """Build ``out_dir/<name>-<W>x<H>.onnx``: the FP32 model ``name`` with another input size.

    A camera's frame is rarely square. Letterboxed into 416×416, a 16:9 frame leaves 44% of the
    input to padding, which the model computes all the same. With a 416×256 input the model
    sees the same frame pixels and runs about 1.65× faster (docs/model.md). The copy is checked
    against the source model on ``opts.verify_frames`` frames of the public clips (or
    ``opts.calib``), like an INT8 build, and installed only if it agrees.

    Raises:
        ModelError: unknown or non-FP32 model, a graph that fixes its input size, or
            agreement below ``opts.threshold``.
        ConfigError: a size that is not a multiple of the model's largest stride, or a
            frame source without frames.
    """
    from edge.detect import quantize  # noqa: PLC0415 - build-time only (onnx)

    manifest, src = resolve_model(name, models_dir)
    if manifest.precision != "fp32":
        raise ModelError(f"{name} is {manifest.precision}: resize the fp32 model, then build")
    w, h = size_wh
    step = max(manifest.strides, default=32)
    if min(w, h) < step or w % step or h % step:
        raise ConfigError(f"input size {w}x{h}: width and height must be multiples of {step} "
                          f"(the largest stride of {name})")  # fmt: skip
    out_name = f"{manifest.name}-{w}x{h}"
    refs = sample_frames(list(opts.calib) or public_clips(default_data_dir()), opts.verify_frames)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out_name}.", dir=out_dir) as tmp:
        work = Path(tmp)
        built = work / f"{out_name}.onnx"
        quantize.resize_input(src, built, size_wh)
        how = "edge-counter model resize"
        data = _derived_manifest(models_dir / f"{name}.json", out_name, built, how, {})
        data["input"]["size_wh"] = [w, h]
        data["input"]["note"] = (
            f"as {name}, letterboxed into {w}x{h} instead of "
            f"{manifest.input.size_wh[0]}x{manifest.input.size_wh[1]}"
        )
        data["output_layout"] = f"as {name}, with one row per cell of the {w}x{h} input's grids"
        cfg = DetectorConfig(model=name, threads=opts.threads)
        try:
            resized = OnnxDetector(manifest_from_dict(data, out_name), built, cfg)
            agreement = measure_agreement(
                OnnxDetector(manifest, src, cfg), resized, read_frames(refs),
                (cfg.score_threshold, CONFIDENT_SCORE),
            )  # fmt: skip
        except ModelError as err:
            raise ModelError(f"{name} cannot take a {w}x{h} input (its graph fixes the size): "
                             f"{err}") from None  # fmt: skip
        if min(agreement.recall, agreement.precision) < opts.threshold:
            raise ModelError(
                f"{out_name}: agrees with {name} on only recall {agreement.recall:.1%}, "
                f"precision {agreement.precision:.1%} over {agreement.frames} frames "
                f"(threshold {opts.threshold:.0%}); nothing written"
            )
        data["agreement"] = agreement.__dict__
        model_path, manifest_path = _install(work, built, data, out_dir)
    return BuildResult(model_path, manifest_path, agreement, ())
