"""Detection stage: the ``Detector`` protocol; ``onnx.py`` is the onnxruntime backend."""

from __future__ import annotations

from typing import Protocol

from edge.types import Detections, Frame


class Detector(Protocol):
    """Turns one frame into detections of the counted classes, boxes in frame pixels."""

    @property
    def name(self) -> str: ...

    def detect(self, frame: Frame) -> Detections: ...
