"""Tracking stage helper: association cost and assignment of tracks to detections.

The cost is ``(1 - IoU) + d²/gate`` where ``d`` is the Mahalanobis distance between the
detection centre and the Kalman-predicted centre. A pair is allowed when the boxes overlap
enough (IoU ≥ ``match_iou``) *or* the centre lies inside the predicted gate with a similar size.
The second rule keeps fast objects at low detection rates (a car moving more than its own
length between detections, where IoU is zero) on one id; the gate widens with elapsed time and
with the track's velocity uncertainty, so it stays tight for well-tracked objects at full frame
rate. Boxes of different groups (``edge.classes.GROUP``) never match. With images, the
appearance distance gates pairs and adds to the cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from edge.classes import GROUP
from edge.geometry import F64, box_area, iou_matrix
from edge.track.flow import BoolArray, appearance_distance
from edge.track.state import TrackState
from edge.types import Detections

IntArray = npt.NDArray[np.int64]

#: χ² gate on the 2-D centre distance (99.9 %).
_GATE_CHI2 = 13.8
#: A distance-only match needs sizes within this factor (square root of the area ratio).
_SIZE_RATIO = 2.0
_INFEASIBLE = 1e6
#: Same-group boxes overlapping this much are one object reported twice (per-class NMS).
_DUPLICATE_IOU = 0.75
#: Appearance: pairs farther apart than the gate never match; the distance adds to the cost
#: with this weight (``flow.appearance_distance``: 0 same look, about 0.5 unrelated).
_LOOK_GATE = 0.6
_LOOK_WEIGHT = 1.0


@dataclass(frozen=True)
class FrameDetections:
    """One frame's detections as association sees them.

    Attributes:
        dets: the detections kept for association (above ``low_score``, duplicates dropped).
        looks: N×D appearance descriptors of ``dets`` (``BoxFlow.describe``); None without
            images.
        match_iou: overlap that allows a match on its own (``TrackerConfig.match_iou``).
    """

    dets: Detections
    looks: npt.NDArray[np.float32] | None
    match_iou: float


def match(
    tracks: Sequence[TrackState], det_idx: IntArray, frame: FrameDetections
) -> list[tuple[int, int]]:
    """Optimal one-to-one assignment of ``tracks`` to the detections ``det_idx``.

    Returns:
        (position in ``tracks``, detection index) of every allowed pair of the assignment.
    """
    if not tracks or len(det_idx) == 0:
        return []
    cost, valid = _cost(tracks, frame, det_idx)
    rows, cols = linear_sum_assignment(np.where(valid, cost, _INFEASIBLE))
    return [(int(r), int(det_idx[c])) for r, c in zip(rows, cols, strict=True) if valid[r, c]]


def _cost(
    tracks: Sequence[TrackState], frame: FrameDetections, det_idx: IntArray
) -> tuple[F64, BoolArray]:
    """Association cost and feasibility of tracks with ``frame.dets[det_idx]``, both T×D."""
    dets = frame.dets.select(det_idx)
    pred = np.stack([t.kf.box for t in tracks])
    iou = iou_matrix(pred, dets.xyxy)
    det_c = (dets.xyxy[:, :2] + dets.xyxy[:, 2:]).astype(np.float64) / 2
    m2 = _mahalanobis2(
        np.stack([t.kf.x[:2] for t in tracks]),
        np.stack([t.kf.center_cov() for t in tracks]),
        det_c,
    )
    ratio = np.sqrt(
        np.maximum(box_area(pred)[:, None], 1) / np.maximum(box_area(dets.xyxy)[None, :], 1)
    )
    size_ok = (ratio <= _SIZE_RATIO) & (ratio >= 1 / _SIZE_RATIO)
    same = np.array([t.group for t in tracks])[:, None] == GROUP[dets.class_id][None, :]
    valid = same & ((iou >= frame.match_iou) | ((m2 <= _GATE_CHI2) & size_ok))
    cost = (1 - iou) + np.minimum(m2 / _GATE_CHI2, 1.0)
    if frame.looks is not None and len(frame.looks) > 0:
        _add_looks(tracks, frame.looks[det_idx], cost, valid)
    return cost, valid


def _add_looks(
    tracks: Sequence[TrackState], looks: npt.NDArray[np.float32], cost: F64, valid: BoolArray
) -> None:
    """Add the appearance term to ``cost`` and gate ``valid`` in place."""
    have = [i for i, t in enumerate(tracks) if t.look is not None]
    if have:
        track_looks = np.stack([look for i in have if (look := tracks[i].look) is not None])
        d = appearance_distance(track_looks, looks)
        valid[have] &= d <= _LOOK_GATE
        cost[have] += _LOOK_WEIGHT * d


def _mahalanobis2(mean: F64, cov: F64, points: F64) -> F64:
    """Squared Mahalanobis distances T×D of D points from T 2-D Gaussians (T×2, T×2×2)."""
    a, b, c = cov[:, 0, 0], cov[:, 0, 1], cov[:, 1, 1]
    det = np.maximum(a * c - b * b, 1e-9)
    dx = points[None, :, 0] - mean[:, 0, None]
    dy = points[None, :, 1] - mean[:, 1, None]
    m2 = (c[:, None] * dx * dx - 2 * b[:, None] * dx * dy + a[:, None] * dy * dy) / det[:, None]
    return np.asarray(m2, np.float64)


def dedupe(dets: Detections) -> Detections:
    """Drop boxes that repeat a higher-scoring box of the same group (IoU ≥ ``_DUPLICATE_IOU``).

    Detectors with per-class NMS report one vehicle as both ``car`` and ``bus`` (or ``truck``);
    the copy would start a second track and be counted twice.
    """
    if len(dets) < 2:
        return dets
    order = np.argsort(-dets.confidence, kind="stable")
    iou = iou_matrix(dets.xyxy[order], dets.xyxy[order])
    group = GROUP[dets.class_id[order]]
    dup = np.triu((iou >= _DUPLICATE_IOU) & (group[:, None] == group[None, :]), k=1)
    keep = np.ones(len(order), bool)
    for i in range(len(order)):
        if keep[i]:
            keep[np.flatnonzero(dup[i])] = False
    return dets.select(np.sort(order[keep]))
