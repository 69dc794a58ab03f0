"""Configuration of the detector: one section per backend, chosen by ``type``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator

from edge.config.base import _Strict


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, which containers and ``taskset``
    narrow), at most 16."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        n = os.cpu_count() or 1
    return max(1, min(16, n))


class OnnxDetectorConfig(_Strict):
    """An ONNX model run with onnxruntime (``type = "onnx"``, the default).

    ``model`` is a name from ``models/`` (its manifest) or a path to a manifest or ``.onnx``.
    ``roi_xyxy`` crops the frame before the letterbox, so small far objects keep their pixels;
    detections are mapped back to full-frame pixels. ``detect_fps`` caps how many frames a
    second are detected (None: every frame the source delivers). ``threads`` (onnxruntime's
    intra-op threads) defaults to the cores this process may run on (2 here, 4 on a Pi 4/5).
    """

    type: Literal["onnx"] = "onnx"
    model: str = "yolox-nano"
    threads: int = Field(default_factory=usable_cores, ge=1, le=16)
    score_threshold: float = Field(0.25, gt=0, lt=1)
    nms_iou: float = Field(0.5, gt=0, lt=1)
    roi_xyxy: tuple[int, int, int, int] | None = None
    detect_fps: float | None = Field(None, gt=0)

    @property
    def label(self) -> str:
        """What status and summaries call this detector before it is built: ``model``."""
        return self.model

    @field_validator("roi_xyxy")
    @classmethod
    def _roi_ordered(cls, v: tuple[int, int, int, int] | None) -> tuple[int, int, int, int] | None:
        if v is not None and (v[2] <= v[0] or v[3] <= v[1]):
            raise ValueError("roi_xyxy must be x1,y1,x2,y2 with x2>x1 and y2>y1")
        return v


class ScriptedDetectorConfig(_Strict):
    """Detections replayed from a JSON-lines file keyed by frame ``seq`` (``type = "scripted"``).

    For tests and fault injection: no model, no onnxruntime. ``path`` is the detections file
    (format in ``edge.detect.scripted``); ``detect_fps`` as for the ONNX detector.
    """

    type: Literal["scripted"]
    path: Path
    detect_fps: float | None = Field(None, gt=0)

    @property
    def label(self) -> str:
        """What status and summaries call this detector: ``scripted:<file name>``."""
        return f"scripted:{self.path.name}"


def _detector_type(value: Any) -> str:
    """The backend of a ``[detector]`` table or config object; a table without ``type`` is onnx."""
    if isinstance(value, dict):
        return str(value.get("type", "onnx"))
    return str(getattr(value, "type", "onnx"))


#: The ``[detector]`` section: a union of the backends on ``type`` (absent means ``onnx``, so
#: configs written before there was a choice load unchanged). Unknown keys fail with their
#: dotted path, tagged with the backend (``detector.onnx.modle``).
DetectorConfig = Annotated[
    Annotated[OnnxDetectorConfig, Tag("onnx")] | Annotated[ScriptedDetectorConfig, Tag("scripted")],
    Discriminator(
        _detector_type,
        custom_error_type="detector_type",
        custom_error_message="type must be 'onnx' or 'scripted'",
    ),
]
