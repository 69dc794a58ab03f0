"""Model build (workstation only): how well a built model reproduces its source's detections."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from edge.detect import Detector
from edge.errors import ModelError
from edge.types import Detections, FloatArray, Frame

#: Detections at or above this score must be reproduced by the other model; below it a box
#: only needs to be matched (score hysteresis: 0.46 vs 0.44 is not a disagreement).
CONFIDENT_SCORE = 0.45


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
    fp32: Detector, int8: Detector, frames: Iterable[Frame],
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
