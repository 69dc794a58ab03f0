"""Model build (workstation only): FP32 ONNX → static INT8 QDQ, or another input size; never
imported on the device.

This is the one module that imports ``onnx`` and ``onnxruntime.quantization`` (the ``build``
extra). The device path (``edge.detect.onnx``) loads only the result. ``edge.tools.model.build``
drives it: frame sampling, verification against the source model and the manifest.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from edge.errors import ModelError
from edge.types import FloatArray

log = logging.getLogger(__name__)

#: Opset needed for per-channel QDQ (DequantizeLinear has ``axis`` from opset 13).
QDQ_OPSET = 13
#: Ops walked through, from the graph outputs back to the last convolutions, to find the decode
#: tail kept in float (layout and activation ops; quantising them only adds error and Q/DQ pairs).
HEAD_OPS = frozenset({"Reshape", "Transpose", "Concat", "Sigmoid", "Softmax", "Split", "Slice"})
#: Element-wise ops that form a conv's activation (SiLU is Sigmoid + Mul after export).
ACTIVATION_OPS = frozenset({"Sigmoid", "Mul", "Relu", "LeakyRelu", "Clip", "HardSigmoid"})


def _onnx() -> Any:
    try:
        import onnx  # noqa: PLC0415 - build-time only
        import onnxruntime.quantization  # noqa: F401, PLC0415
    except ImportError as err:
        raise ModelError(
            f"building INT8 models needs the build extra (pip install -e '.[build]'): {err}"
        ) from None
    return onnx


def prepare_fp32(src: Path, dst: Path) -> None:
    """Make a float model quantisable and write it to ``dst``.

    Steps: drop graph inputs that are also initializers (old exporters list every weight as an
    input, which blocks constant folding), convert to opset 13 when older (per-channel QDQ needs
    ``DequantizeLinear.axis``), then onnxruntime's ``quant_pre_process`` (shape inference and
    graph optimisation, e.g. folding BatchNorm into Conv).

    Raises:
        ModelError: the file is not a readable ONNX model or cannot be converted.
    """
    onnx = _onnx()
    from onnxruntime.quantization.shape_inference import quant_pre_process  # noqa: PLC0415

    try:
        model = onnx.load(str(src))
        inits = {i.name for i in model.graph.initializer}
        keep = [i for i in model.graph.input if i.name not in inits]
        del model.graph.input[:]
        model.graph.input.extend(keep)
        opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
        if opset < QDQ_OPSET:
            model = onnx.version_converter.convert_version(model, QDQ_OPSET)
        quant_pre_process(model, str(dst), skip_symbolic_shape=False)
    except (OSError, ValueError, RuntimeError, onnx.onnx_cpp2py_export.checker.ValidationError,
            onnx.onnx_cpp2py_export.shape_inference.InferenceError) as err:  # fmt: skip
        raise ModelError(f"{src}: cannot prepare the model for quantisation: {err}") from None


def resize_input(src: Path, dst: Path, size_wh: tuple[int, int]) -> None:
    """Write a copy of ``src`` whose one 1×3×H×W input is ``size_wh`` (w, h) instead.

    Only the declared shapes change: the input's, the outputs' row counts (left to inference)
    and the intermediate shapes (dropped). A graph whose layers fix the size themselves (a
    Reshape to constant dimensions) loads, but fails when it runs: the caller must try it.

    Raises:
        ModelError: the file is not a readable ONNX model with one 4-D input.
    """
    onnx = _onnx()
    try:
        model = onnx.load(str(src))
    except (OSError, ValueError, onnx.onnx_cpp2py_export.checker.ValidationError) as err:
        raise ModelError(f"{src}: cannot read the model: {err}") from None
    inits = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    dims = inputs[0].type.tensor_type.shape.dim if len(inputs) == 1 else []
    if len(dims) != 4:
        raise ModelError(f"{src}: needs one 1x3xHxW input to resize, found {len(inputs)} inputs")
    dims[2].dim_value, dims[3].dim_value = size_wh[1], size_wh[0]
    for out in model.graph.output:
        for k, dim in enumerate(out.type.tensor_type.shape.dim):
            if k > 0:
                dim.dim_param = f"{out.name}_{k}"
    del model.graph.value_info[:]
    onnx.save(model, str(dst))


def head_nodes(model_path: Path) -> list[str]:
    """Names of the decode-tail nodes: reached from the outputs through ``HEAD_OPS`` only.

    The walk stops at the first non-layout op (the head's last convolutions), so the convs stay
    quantised while the reshape/concat/sigmoid tail that feeds the decoder stays float.
    """
    graph = _onnx().load(str(model_path)).graph
    producer = {out: n for n in graph.node for out in n.output}
    found: list[str] = []
    todo = [o.name for o in graph.output]
    while todo:
        node = producer.get(todo.pop())
        if node is None or node.op_type not in HEAD_OPS or node.name in found:
            continue
        found.append(node.name)
        todo.extend(node.input)
    return found


def with_activations(model_path: Path, convs: Iterable[str]) -> list[str]:
    """The named Conv nodes plus the element-wise ops of their activation (SiLU = Sigmoid, Mul).

    Keeping a conv in float only helps when its output tensor stays float too, so its
    activation ops must be excluded with it (otherwise they quantise that tensor anyway).

    Raises:
        ModelError: a named node is not a Conv of the model.
    """
    graph = _onnx().load(str(model_path)).graph
    by_name = {n.name: n for n in graph.node}
    found: list[str] = []
    for name in convs:
        node = by_name.get(name)
        if node is None or node.op_type != "Conv":
            raise ModelError(f"{model_path}: recipe names {name!r}, which is not a Conv node")
        found.append(name)
        found += [n.name for n in graph.node if node.output[0] in n.input
                  and n.op_type in ACTIVATION_OPS]  # fmt: skip
    return found


def _reader(tensors: Iterable[FloatArray], input_name: str) -> Any:
    from onnxruntime.quantization import CalibrationDataReader  # noqa: PLC0415

    class _Reader(CalibrationDataReader):  # type: ignore[misc]
        """Feeds pre-processed frames to the calibrator, one at a time."""

        def __init__(self) -> None:
            self._it: Iterator[FloatArray] = iter(tensors)

        def get_next(self) -> dict[str, FloatArray] | None:
            tensor = next(self._it, None)
            return None if tensor is None else {input_name: tensor}

    return _Reader()


def quantize_int8(
    prepared: Path, out: Path, tensors: Iterable[FloatArray], input_name: str,
    keep_float: Iterable[str],
) -> None:  # fmt: skip
    """Static INT8 QDQ: per-channel QInt8 weights, QUInt8 activations, MinMax calibration.

    Args:
        prepared: the output of ``prepare_fp32``.
        out: where to write the INT8 model.
        tensors: calibration inputs (1×3×H×W float32), each through the model's own
            pre-processing; MinMax over ~150 real frames is what the recipe was measured with.
        input_name: the graph input to feed.
        keep_float: node names left in float (decode tail, sensitive convs).

    Raises:
        ModelError: the calibrator saw no data.
    """
    _onnx()
    from onnxruntime.quantization import (  # noqa: PLC0415
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )  # fmt: skip

    reader = _reader(_counted(tensors), input_name)
    quantize_static(
        str(prepared), str(out), reader, quant_format=QuantFormat.QDQ, per_channel=True,
        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax, nodes_to_exclude=sorted(set(keep_float)),
    )  # fmt: skip
    if _counted.last == 0:
        raise ModelError("no calibration frames reached the calibrator")


class _Counter:
    """Counts the items an iterator yields (the calibrator consumes it out of sight)."""

    last = 0

    def __call__(self, items: Iterable[FloatArray]) -> Iterator[FloatArray]:
        self.last = 0
        for item in items:
            self.last += 1
            yield item


_counted = _Counter()
