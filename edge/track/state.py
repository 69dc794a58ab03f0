"""Tracking stage helper: the mutable state of one track and how tracks are reported."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from edge.classes import ClassVote
from edge.geometry import F64
from edge.track.kalman import BoxKalman
from edge.types import Detections, Tracks


@dataclass(slots=True)
class TrackState:
    """Mutable per-track state; lives only inside the tracker. Fixed size, no history."""

    track_id: int
    kf: BoxKalman
    first_ts: float
    last_ts: float  # time of the last matched detection
    pred_ts: float  # time the filter was last advanced to
    seen_ts: float  # time the box was last placed by the image (a detection or optical flow)
    hits: int = 1
    confirmed: bool = False
    vote: ClassVote = field(default_factory=ClassVote)
    look: npt.NDArray[np.float32] | None = None  # appearance at the last detection
    det_wh: F64 = field(default_factory=lambda: np.zeros(2))  # size of the last detected box
    origin: F64 | None = None  # where it started, until first reported (``Tracks.previous_xyxy``)

    @property
    def group(self) -> int:
        """Association group of the voted class (``edge.classes.GROUP``)."""
        return self.vote.group()

    @property
    def detected_span_s(self) -> float:
        """Time from the first to the latest matched detection."""
        return self.last_ts - self.first_ts


def matched_tracks(
    reported: list[tuple[int, int]], dets: Detections, ts_s: float, origins: dict[int, F64]
) -> Tracks:
    """Tracks matched in this frame, each with its detection's box, score and class.

    Args:
        reported: (track id, detection index) pairs.
        dets: the frame's detections.
        ts_s: the frame's time.
        origins: track id → where the track started, for tracks reported for the first time.
    """
    if not reported:
        return Tracks.empty(ts_s)
    ids = np.array([r[0] for r in reported], np.int64)
    di = np.array([r[1] for r in reported], np.int64)
    previous = np.full((len(ids), 4), np.nan, np.float32)
    for row, tid in enumerate(ids):
        if int(tid) in origins:
            previous[row] = origins[int(tid)]
    return Tracks(dets.xyxy[di], dets.confidence[di], dets.class_id[di], ids, ts_s, previous)


def flow_only_tracks(flowed: list[TrackState], ts_s: float) -> Tracks:
    """Tracks placed by optical flow alone, reported with the filter's box and score 0."""
    if not flowed:
        return Tracks.empty(ts_s)
    return Tracks(
        np.array([_flow_box(t) for t in flowed], np.float32).reshape(-1, 4),
        np.zeros(len(flowed), np.float32),
        np.array([t.vote.voted() for t in flowed], np.int64),
        np.array([t.track_id for t in flowed], np.int64),
        ts_s,
    )


def _flow_box(t: TrackState) -> F64:
    """A track's box placed by flow alone: the filter's centre, the last detected size (the
    filter's size keeps its last growth rate, which shrinks or swells boxes while coasting)."""
    half = t.det_wh / 2
    return np.concatenate([t.kf.x[:2] - half, t.kf.x[:2] + half])
