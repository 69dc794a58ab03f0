"""Detection stage: frame → model input tensor (optional ROI crop, letterbox, normalisation)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.detect.manifest import InputSpec
from edge.errors import ConfigError
from edge.types import FloatArray, ImageArray

_INTERPOLATION = {"linear": cv2.INTER_LINEAR, "area": cv2.INTER_AREA}

RoiXyxy = tuple[int, int, int, int]


@dataclass(frozen=True)
class Letterbox:
    """How model-input pixels map back to frame pixels.

    ``x_frame = (x_model - pad_x) / scale + origin_x`` (and likewise for y).

    Attributes:
        scale: model-input pixels per source pixel (``r`` of the letterbox).
        pad_xy: where the resized image starts on the model canvas, model pixels.
        origin_xy: top-left of the crop (ROI) in frame pixels; (0, 0) without an ROI.
        frame_wh: full frame width and height, for clipping.
    """

    scale: float
    pad_xy: tuple[int, int]
    origin_xy: tuple[int, int]
    frame_wh: tuple[int, int]

    def to_frame(self, xyxy_model: FloatArray) -> FloatArray:
        """Map N×4 boxes from model-input pixels to frame pixels, clipped to the frame."""
        px, py = self.pad_xy
        ox, oy = self.origin_xy
        shift_in = np.array([px, py, px, py], np.float32)
        shift_out = np.array([ox, oy, ox, oy], np.float32)
        xyxy = (xyxy_model - shift_in) * np.float32(1.0 / self.scale) + shift_out
        w, h = self.frame_wh
        np.clip(xyxy[:, 0::2], 0, w, out=xyxy[:, 0::2])
        np.clip(xyxy[:, 1::2], 0, h, out=xyxy[:, 1::2])
        return xyxy.astype(np.float32, copy=False)


def clip_roi(roi_xyxy: RoiXyxy, frame_wh: tuple[int, int]) -> RoiXyxy:
    """Intersect an ROI with the frame.

    Raises:
        ConfigError: the ROI does not overlap the frame.
    """
    w, h = frame_wh
    x1, y1 = max(0, roi_xyxy[0]), max(0, roi_xyxy[1])
    x2, y2 = min(w, roi_xyxy[2]), min(h, roi_xyxy[3])
    if x2 <= x1 or y2 <= y1:
        raise ConfigError(f"detector.roi_xyxy: {list(roi_xyxy)} lies outside the {w}x{h} frame")
    return x1, y1, x2, y2


class Preprocessor:
    """Letterboxes frames into NCHW float32 tensors, as a model's manifest says.

    Each call returns a new tensor, so a prepared frame can wait for the model while the next
    one is prepared (``pipeline.DetectAhead``); the letterbox canvas is reused, so one
    ``Preprocessor`` serves one thread.
    """

    def __init__(self, spec: InputSpec) -> None:
        """Allocate the canvas and tensor for ``spec.size_wh``."""
        self._spec = spec
        w, h = spec.size_wh
        self._canvas: ImageArray = np.full((h, w, 3), spec.pad_value, np.uint8)
        self._interp = _INTERPOLATION[spec.interpolation]
        self._last_region: tuple[int, int, int, int] | None = None
        self._mean = None if spec.mean is None else np.asarray(spec.mean, np.float32)[:, None, None]
        std = spec.std
        self._inv_std = None if std is None else (1.0 / np.asarray(std, np.float32))[:, None, None]

    def __call__(
        self, image: ImageArray, roi_xyxy: RoiXyxy | None = None
    ) -> tuple[FloatArray, Letterbox]:
        """Turn one BGR frame into the model's input.

        Args:
            image: H×W×3 uint8 BGR frame.
            roi_xyxy: optional crop (frame pixels) fed to the model instead of the whole
                frame; boxes still map back to full-frame pixels. A crop around the counting
                area spends the model's 416 px on the objects that count, so small far
                objects keep enough pixels to be detected.

        Returns:
            A new 1×3×H×W float32 tensor and the ``Letterbox`` mapping.
        """
        frame_wh = (int(image.shape[1]), int(image.shape[0]))
        origin = (0, 0)
        if roi_xyxy is not None:
            x1, y1, x2, y2 = clip_roi(roi_xyxy, frame_wh)
            image, origin = image[y1:y2, x1:x2], (x1, y1)
        scale, pad = self._letterbox(image)
        return self._to_tensor(), Letterbox(scale, pad, origin, frame_wh)

    def _letterbox(self, image: ImageArray) -> tuple[float, tuple[int, int]]:
        in_w, in_h = self._spec.size_wh
        h, w = image.shape[:2]
        r = min(in_w / w, in_h / h)
        nw, nh = max(1, int(w * r)), max(1, int(h * r))
        if self._spec.letterbox == "centre":
            px, py = (in_w - nw) // 2, (in_h - nh) // 2
        else:
            px, py = 0, 0
        region = (px, py, nw, nh)
        if region != self._last_region:  # pad only when the layout changes
            self._canvas[:] = self._spec.pad_value
            self._last_region = region
        dst = self._canvas[py : py + nh, px : px + nw]
        if (nw, nh) == (w, h):
            dst[:] = image
        else:
            dst[:] = cv2.resize(image, (nw, nh), interpolation=self._interp)
        return r, (px, py)

    def _to_tensor(self) -> FloatArray:
        canvas = self._canvas if self._spec.colour == "BGR" else self._canvas[:, :, ::-1]
        tensor: FloatArray = np.empty((1, *canvas.shape[2:], *canvas.shape[:2]), np.float32)
        chw = tensor[0]
        np.copyto(chw, canvas.transpose(2, 0, 1), casting="unsafe")
        if self._mean is not None:
            chw -= self._mean
        if self._inv_std is not None:
            chw *= self._inv_std
        return tensor
