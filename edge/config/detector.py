"""Configuration of the detector."""

from __future__ import annotations

from pydantic import Field, field_validator

from edge.config.base import _Strict


class DetectorConfig(_Strict):
    """The ONNX detector.

    ``model`` is a name from ``models/`` (its manifest) or a path to a manifest or ``.onnx``.
    ``roi_xyxy`` crops the frame before the letterbox, so small far objects keep their pixels;
    detections are mapped back to full-frame pixels.
    """

    model: str = "yolox-nano"
    threads: int = Field(2, ge=1, le=16)
    score_threshold: float = Field(0.25, gt=0, lt=1)
    nms_iou: float = Field(0.5, gt=0, lt=1)
    roi_xyxy: tuple[int, int, int, int] | None = None
    detect_fps: float | None = Field(None, gt=0)

    @field_validator("roi_xyxy")
    @classmethod
    def _roi_ordered(cls, v: tuple[int, int, int, int] | None) -> tuple[int, int, int, int] | None:
        if v is not None and (v[2] <= v[0] or v[3] <= v[1]):
            raise ValueError("roi_xyxy must be x1,y1,x2,y2 with x2>x1 and y2>y1")
        return v
