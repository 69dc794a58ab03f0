"""Detection stage: the ``Detector`` protocol; ``onnx.py`` is the onnxruntime backend.

A detector works in three steps, so that the pipeline can run them in three threads and the
model never waits for pre-processing or decoding (``pipeline.DetectAhead``):

1. ``prepare``: frame → model input (letterbox, normalisation), a tensor of its own;
2. ``infer``: the model alone (``session.run``);
3. ``decode``: raw outputs → ``Detections`` in frame pixels (decode, NMS).

``detect`` runs the three in the caller's thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from edge.detect.preprocess import Letterbox
from edge.types import Detections, FloatArray, Frame


@dataclass(frozen=True)
class Prepared:
    """A frame made ready for the model.

    Attributes:
        frame: the source frame.
        tensor: the model input; owned by this object (not a buffer reused by the next call).
        letterbox: how model pixels map back to frame pixels.
        pre_ms: wall time of the prepare step.
    """

    frame: Frame
    tensor: FloatArray
    letterbox: Letterbox
    pre_ms: float


@dataclass(frozen=True)
class Inferred:
    """The model's raw outputs for one prepared frame, not yet decoded."""

    prepared: Prepared
    outputs: tuple[FloatArray, ...]
    infer_ms: float


class Detector(Protocol):
    """Turns one frame into detections of the counted classes, boxes in frame pixels."""

    @property
    def name(self) -> str: ...

    def prepare(self, frame: Frame) -> Prepared: ...

    def infer(self, prepared: Prepared) -> Inferred: ...

    def decode(self, inferred: Inferred) -> Detections: ...

    def detect(self, frame: Frame) -> Detections: ...
