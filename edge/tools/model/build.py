"""Model build (workstation only): FP32 → INT8, verified against FP32, installed with its manifest.

``edge-counter model build`` calls ``build_int8``. Quantisation itself is in
``edge.tools.model.quantize`` (the only module importing ``onnx``/``onnxruntime.quantization``);
the device never imports this package and only loads the built file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.config import OnnxDetectorConfig, default_data_dir
from edge.detect.manifest import (
    InputSpec,
    load_manifest,
    manifest_from_dict,
    resolve_model,
    sha256_file,
)
from edge.detect.onnx import OnnxDetector
from edge.detect.preprocess import Preprocessor
from edge.errors import ModelError
from edge.tools.model.agreement import CONFIDENT_SCORE, Agreement, measure_agreement
from edge.tools.model.calibration import (
    FrameRef,
    input_tensors,
    public_clips,
    read_frames,
    sample_frames,
    split_frames,
)  # fmt: skip


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


def derived_manifest(
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


def install(work: Path, built: Path, data: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
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
    from edge.tools.model import quantize  # noqa: PLC0415 - build-time only (onnx)

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
    from edge.tools.model import quantize  # noqa: PLC0415 - build-time only (onnx)

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
        int8 = manifest_from_dict(derived_manifest(models_dir / f"{name}.json", out_name, built,
                                                    how, precision), out_name)  # fmt: skip
        cfg = OnnxDetectorConfig(model=name, threads=opts.threads)
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
        data = derived_manifest(models_dir / f"{name}.json", out_name, built, how, extra)
        model_path, manifest_path = install(work, built, data, out_dir)
    return BuildResult(model_path, manifest_path, agreement, kept)
