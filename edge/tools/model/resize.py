"""Model build (workstation only): an FP32 model with another input size, verified and installed.

``edge-counter model resize`` calls ``build_resized``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from edge.config import OnnxDetectorConfig, default_data_dir
from edge.detect.manifest import manifest_from_dict, resolve_model
from edge.detect.onnx import OnnxDetector
from edge.errors import ConfigError, ModelError
from edge.tools.model.agreement import CONFIDENT_SCORE, measure_agreement
from edge.tools.model.build import BuildOptions, BuildResult, derived_manifest, install
from edge.tools.model.calibration import public_clips, read_frames, sample_frames


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
    from edge.tools.model import quantize  # noqa: PLC0415 - build-time only (onnx)

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
        data = derived_manifest(models_dir / f"{name}.json", out_name, built, how, {})
        data["input"]["size_wh"] = [w, h]
        data["input"]["note"] = (
            f"as {name}, letterboxed into {w}x{h} instead of "
            f"{manifest.input.size_wh[0]}x{manifest.input.size_wh[1]}"
        )
        data["output_layout"] = f"as {name}, with one row per cell of the {w}x{h} input's grids"
        cfg = OnnxDetectorConfig(model=name, threads=opts.threads)
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
        model_path, manifest_path = install(work, built, data, out_dir)
    return BuildResult(model_path, manifest_path, agreement, ())
