"""Tracking stage helper: the starting speed of a new track, borrowed from moving neighbours."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edge.geometry import F64, box_area
from edge.track.state import TrackState

#: Neighbours within this many box sizes lend a new track their velocity.
_PRIOR_RADIUS = 3.0
#: The prior holds when neighbours of this share of the weight move within ``_PRIOR_AGREE``
#: times the median speed (or one box size per second) of the median velocity: a robust vote,
#: so one neighbour on a wrong track does not veto it, while crossing flows do.
_PRIOR_AGREE = 0.5
_PRIOR_SHARE = 0.6


def velocity_prior(box: F64, group: int, movers: Sequence[TrackState]) -> F64 | None:
    """Expected centre velocity (pixels/s) of a new object, from confirmed neighbours.

    Traffic near a new object usually moves like it (lanes, walkways). Neighbours of the same
    group within ``_PRIOR_RADIUS`` box sizes vote with weights falling off with distance, their
    speeds rescaled to the new box size (perspective). No prior when there are no neighbours or
    they disagree (crossing flows), so an intersection falls back to "speed unknown".

    Args:
        box: the new box (x1, y1, x2, y2), frame pixels.
        group: its association group (``edge.classes.GROUP``).
        movers: confirmed tracks that are moving and matched in this frame.
    """
    size = float(np.sqrt(max(box_area(box)[0], 1.0)))
    center = (box[:2] + box[2:]) / 2
    vels, weights = [], []
    for t in movers:
        if t.group != group:
            continue
        t_size = float(np.sqrt(max(t.kf.x[2] * t.kf.x[3], 1.0)))
        dist = float(np.hypot(*(t.kf.x[:2] - center))) / max(size, t_size)
        if dist <= _PRIOR_RADIUS:
            vels.append(t.kf.x[4:6] * size / t_size)
            weights.append(1.0 / (0.5 + dist) ** 2)
    if not vels:
        return None
    v, w = np.array(vels), np.array(weights)
    median = np.array([_weighted_median(v[:, 0], w), _weighted_median(v[:, 1], w)])
    near = np.hypot(*(v - median).T) <= _PRIOR_AGREE * max(float(np.hypot(*median)), size)
    return median if w[near].sum() >= _PRIOR_SHARE * w.sum() else None


def traced_velocity(box: F64, origin: F64, gap_s: float) -> F64:
    """Centre velocity (pixels/s) of a box traced back to ``origin`` ``gap_s`` earlier."""
    return (_center(box) - _center(origin)) / gap_s


def _weighted_median(values: F64, weights: F64) -> float:
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, cum[-1] / 2)])


def _center(box: F64) -> F64:
    return (box[:2] + box[2:]) / 2
