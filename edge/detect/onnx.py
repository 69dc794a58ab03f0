"""Detection stage: the onnxruntime backend (the only module that imports onnxruntime)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.config import OnnxDetectorConfig
from edge.detect import Inferred, Prepared
from edge.detect.decoders import make_decoder
from edge.detect.labels import COCO_CLASSES
from edge.detect.manifest import InputSpec, ModelManifest, resolve_model
from edge.detect.postprocess import to_detections
from edge.detect.preprocess import Preprocessor
from edge.errors import ModelError
from edge.types import Detections, FloatArray, Frame

log = logging.getLogger(__name__)

_ORT_ERROR_NAMES = (
    "Fail", "InvalidArgument", "NoSuchFile", "NoModel", "InvalidProtobuf", "InvalidGraph",
    "RuntimeException", "NotImplemented", "ModelLoaded", "EngineError",
)  # fmt: skip
#: Strides of an Ultralytics detect head (a bare .onnx is checked against them).
ULTRALYTICS_STRIDES = (8, 16, 32)


def _ort() -> Any:
    try:
        import onnxruntime  # noqa: PLC0415 - lazy: the Pi imports it only when detecting
    except ImportError as err:
        raise ModelError(f"the onnxruntime package is not installed: {err}") from None
    return onnxruntime


def _ort_errors(ort: Any) -> tuple[type[BaseException], ...]:
    state = ort.capi.onnxruntime_pybind11_state
    found = (getattr(state, n, None) for n in _ORT_ERROR_NAMES)
    return (*(e for e in found if isinstance(e, type)), RuntimeError)


def open_session(path: Path, threads: int) -> Any:
    """Open an onnxruntime CPU session tuned for a small shared CPU.

    ``threads`` intra-op threads, sequential execution (one inter-op thread), full graph
    optimisation; warnings about initializers listed as inputs are silenced.

    Raises:
        ModelError: naming ``path`` when the file is missing or not a valid model.
    """
    ort = _ort()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except _ort_errors(ort) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ModelError(f"{path}: cannot load the model: {first}") from None


@dataclass(frozen=True)
class StageTimings:
    """Wall time of the last ``detect`` call per step, in milliseconds."""

    pre_ms: float
    infer_ms: float
    post_ms: float

    @property
    def total_ms(self) -> float:
        """Sum of the three steps."""
        return self.pre_ms + self.infer_ms + self.post_ms


def _check_io(session: Any, manifest: ModelManifest, path: Path) -> None:
    inputs = {i.name: i.shape for i in session.get_inputs()}
    outputs = {o.name for o in session.get_outputs()}
    spec = manifest.input
    if spec.name not in inputs:
        raise ModelError(f"{path}: no input {spec.name!r} (model has {sorted(inputs)})")
    shape = inputs[spec.name]
    static = len(shape) == 4 and all(isinstance(d, int) for d in shape[2:])
    if static and (shape[3], shape[2]) != spec.size_wh:
        raise ModelError(f"{path}: input is {shape}, manifest says {spec.size_wh} (w, h)")
    missing = [o for o in manifest.outputs if o not in outputs]
    if missing:
        raise ModelError(f"{path}: outputs {missing} missing (model has {sorted(outputs)})")


class OnnxDetector:
    """A model run with onnxruntime; implements ``edge.detect.Detector``.

    Attributes:
        last_timings: ``StageTimings`` of the most recent ``detect`` call (for benchmarks
            and health telemetry, no profiler needed).
    """

    def __init__(
        self, manifest: ModelManifest, onnx_path: Path, config: OnnxDetectorConfig
    ) -> None:
        """Open the session and prepare buffers.

        Args:
            manifest: what the model is and how to feed and decode it.
            onnx_path: the model file.
            config: threads, thresholds and optional ROI. ``score_threshold`` is the lowest
                score kept (a tracker with a low-score second pass wants it low);
                ``nms_iou`` trades duplicate boxes against merging close neighbours.

        Raises:
            ModelError: the file is missing or corrupt, or its inputs/outputs do not match
                the manifest.
        """
        self._manifest = manifest
        self._session = open_session(onnx_path, config.threads)
        self._path = onnx_path
        self._run_errors = _ort_errors(_ort())
        _check_io(self._session, manifest, onnx_path)
        self._pre = Preprocessor(manifest.input)
        self._decode = make_decoder(manifest)
        self._config = config
        self._outputs = list(manifest.outputs)
        self.last_timings = StageTimings(0.0, 0.0, 0.0)

    @property
    def name(self) -> str:
        """The model's manifest name, e.g. ``yolox-nano``."""
        return self._manifest.name

    @property
    def manifest(self) -> ModelManifest:
        """The manifest this detector was built from."""
        return self._manifest

    def prepare(self, frame: Frame) -> Prepared:
        """Letterbox and normalise one frame into a model input tensor of its own."""
        t0 = time.perf_counter()
        tensor, letterbox = self._pre(frame.image, self._config.roi_xyxy)
        return Prepared(frame, tensor, letterbox, (time.perf_counter() - t0) * 1e3)

    def infer(self, prepared: Prepared) -> Inferred:
        """Run the model on a prepared frame (``session.run`` and nothing else).

        Raises:
            ModelError: naming the file, when onnxruntime fails to run the graph.
        """
        t0 = time.perf_counter()
        try:
            outputs: list[FloatArray] = self._session.run(
                self._outputs, {self._manifest.input.name: prepared.tensor}
            )
        except self._run_errors as err:
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise ModelError(f"{self._path}: the model failed to run: {first}") from None
        return Inferred(prepared, tuple(outputs), (time.perf_counter() - t0) * 1e3)

    def decode(self, inferred: Inferred) -> Detections:
        """Decode the raw outputs, keep the counted classes, NMS; boxes in frame pixels."""
        cands = self._decode(inferred.outputs, self._config.score_threshold)
        return to_detections(cands, inferred.prepared.letterbox, self._config.nms_iou)

    def detect(self, frame: Frame) -> Detections:
        """Detect the counted classes in one frame; boxes in full-frame pixels."""
        inferred = self.infer(self.prepare(frame))
        t0 = time.perf_counter()
        dets = self.decode(inferred)
        post_ms = (time.perf_counter() - t0) * 1e3
        self.last_timings = StageTimings(inferred.prepared.pre_ms, inferred.infer_ms, post_ms)
        return dets


def open_detector(config: OnnxDetectorConfig, models_dir: Path) -> OnnxDetector:
    """Resolve ``config.model`` (name, manifest or .onnx path) and open the detector.

    Raises:
        ModelError: unknown model, missing or corrupt file, or undecidable family.
    """
    manifest, path = resolve_model(config.model, models_dir)
    log.info("detector %s (%s, %s) from %s", manifest.name, manifest.family,
             manifest.precision, path)  # fmt: skip
    return OnnxDetector(manifest, path, config)


def _ultralytics_rows(size_wh: tuple[int, int]) -> int:
    return sum((size_wh[0] // s) * (size_wh[1] // s) for s in ULTRALYTICS_STRIDES)


def probe_bare_model(path: Path) -> ModelManifest:
    """Manifest for an ``.onnx`` that has none: accepted only for the Ultralytics layout.

    The family decides the decoder, so it is never guessed: the model must have one static
    ``1×3×H×W`` input and one ``[1, 84, N]`` output with N = Σ (H/s)(W/s) over strides
    8/16/32 (80 COCO classes, no objectness).

    Raises:
        ModelError: the file is corrupt, or its layout is not unambiguously the Ultralytics
            YOLOv8/YOLO11 one.
    """
    session = open_session(path, 1)
    ins, outs = session.get_inputs(), session.get_outputs()
    in_shape = ins[0].shape if len(ins) == 1 else []
    out_shape = outs[0].shape if len(outs) == 1 else []
    static = all(isinstance(d, int) for d in [*in_shape, *out_shape])
    if static and len(in_shape) == 4 and len(out_shape) == 3:
        size_wh = (int(in_shape[3]), int(in_shape[2]))
        if out_shape[:2] == [1, 4 + len(COCO_CLASSES)] and out_shape[2] == _ultralytics_rows(
            size_wh
        ):
            return ModelManifest(
                name=path.stem, family="ultralytics", precision="fp32", file=path.name, sha256="",
                input=InputSpec(name=ins[0].name, size_wh=size_wh, letterbox="centre",
                                colour="RGB", mean=(0.0, 0.0, 0.0), std=(255.0, 255.0, 255.0)),
                outputs=(outs[0].name,), strides=ULTRALYTICS_STRIDES,
            )  # fmt: skip
    raise ModelError(
        f"{path}: no manifest beside it and its layout (inputs {[i.shape for i in ins]}, "
        f"outputs {[o.shape for o in outs]}) is not the YOLOv8 [1, 84, N] one: write a "
        "manifest .json naming its family"
    )
