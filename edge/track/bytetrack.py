"""Tracking stage: ByteTrack-style association with time-based Kalman motion and distance gating.

Each call associates one frame of detections with the live tracks in three passes (after
ByteTrack): confident detections with confirmed tracks (active and lost), then weak detections
with the confirmed tracks still unmatched and not lost, then the remaining confident detections
with tentative tracks. Confident detections left over start tentative tracks.

The association cost is ``(1 - IoU) + d²/gate`` where ``d`` is the Mahalanobis distance between
the detection centre and the Kalman-predicted centre. A pair is allowed when the boxes overlap
enough (IoU ≥ ``match_iou``) *or* the centre lies inside the predicted gate with a similar size.
The second rule keeps fast objects at low detection rates (a car moving more than its own length
between detections, where IoU is zero) on one id; the gate widens with elapsed time and with the
track's velocity uncertainty, so it stays tight for well-tracked objects at full frame rate.
Persons never match vehicles; car, bus and truck interchange, as do bicycle and motorcycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from edge.classes import CLASS_NAMES
from edge.config import TrackerConfig
from edge.geometry import F64, box_area, iou_matrix
from edge.track import Motion
from edge.track.flow import BoolArray, appearance_distance
from edge.track.kalman import BoxKalman, predict_many
from edge.types import Detections, Tracks

#: Class id → association group: person | two-wheelers | four-wheelers.
_GROUP = np.array([0, 1, 2, 1, 2, 2])
#: χ² gate on the 2-D centre distance (99.9 %).
_GATE_CHI2 = 13.8
#: A distance-only match needs sizes within this factor (square root of the area ratio).
_SIZE_RATIO = 2.0
_INFEASIBLE = 1e6
#: Same-group boxes overlapping this much are one object reported twice (per-class NMS).
_DUPLICATE_IOU = 0.75
#: Neighbours within this many box sizes lend a new track their velocity.
_PRIOR_RADIUS = 3.0
#: The prior holds when neighbours of this share of the weight move within ``_PRIOR_AGREE``
#: times the median speed (or one box size per second) of the median velocity: a robust vote,
#: so one neighbour on a wrong track does not veto it, while crossing flows do.
_PRIOR_AGREE = 0.5
_PRIOR_SHARE = 0.6
#: Appearance: pairs farther apart than the gate never match; the distance adds to the cost
#: with this weight (``flow.appearance_distance``: 0 same look, about 0.5 unrelated).
_LOOK_GATE = 0.6
_LOOK_WEIGHT = 1.0
#: A track placed by optical flow alone is reported only if its detections span this long: a
#: track started by one stray box (often a second box on an object another track holds) is
#: not trusted to move on its own.
_FLOW_SPAN_S = 0.05
#: Standard deviation of an optical-flow position, as a fraction of the box size.
_FLOW_POS = 0.08


@dataclass(slots=True)
class _Track:
    """Mutable per-track state; lives only inside the tracker."""

    track_id: int
    kf: BoxKalman
    first_ts: float
    last_ts: float  # time of the last matched detection
    pred_ts: float  # time the filter was last advanced to
    seen_ts: float  # time the box was last placed by the image (a detection or optical flow)
    hits: int = 1
    confirmed: bool = False
    class_score: F64 = field(default_factory=lambda: np.zeros(len(CLASS_NAMES)))
    look: npt.NDArray[np.float32] | None = None  # appearance at the last detection
    det_wh: F64 = field(default_factory=lambda: np.zeros(2))  # size of the last detected box
    origin: F64 | None = None  # where it started, until first reported (``Tracks.previous_xyxy``)

    @property
    def group(self) -> int:
        return int(_GROUP[int(np.argmax(self.class_score))])

    @property
    def detected_span_s(self) -> float:
        """Time from the first to the latest matched detection."""
        return self.last_ts - self.first_ts


@dataclass(frozen=True)
class _Match:
    """Result of one association pass: matched (track, detection) index pairs and leftovers."""

    pairs: list[tuple[int, int]]
    free_tracks: list[int]
    free_dets: list[int]


class ByteTracker:
    """Time-based ByteTrack tracker.

    Args:
        config: thresholds; every duration is in seconds of source time.
    """

    def __init__(self, config: TrackerConfig) -> None:
        self._cfg = config
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._prev_ts = -np.inf
        self._looks: npt.NDArray[np.float32] | None = None  # this frame's detections

    def __len__(self) -> int:
        """Live tracks (tentative, active and lost): telemetry, bounded by ``max_tracks``."""
        return len(self._tracks)

    def reset(self) -> None:
        """Drop every track. Ids keep increasing, so they stay unique within this instance."""
        self._tracks.clear()
        self._prev_ts = -np.inf

    @property
    def uses_motion(self) -> bool:
        """Whether ``update`` wants image motion (``TrackerConfig.optical_flow``)."""
        return self._cfg.optical_flow

    def update(
        self,
        detections: Detections,
        ts_s: float,
        motion: Motion | None = None,
        frame_wh: tuple[int, int] | None = None,
    ) -> Tracks:
        """Associate one frame of detections and return the confirmed tracks seen in it.

        Args:
            detections: the frame's detections, frame pixels.
            ts_s: source time of the frame in seconds; differences drive the motion model.
            motion: image motion since the previous call's frame; tracks whose box was placed
                by the image in that frame are moved by it before association.
            frame_wh: the frame's size; an unmatched track whose predicted centre has left it
                is dropped at once (it cannot be seen again, and kept alive its widening gate
                would grab the next object to appear).

        Returns:
            Confirmed tracks seen in this frame: matched ones with the detection's box, score and
            class; unmatched ones that optical flow placed (an object the detector missed in
            this frame, often half hidden behind the one ahead) with the filter's centre and
            their last detected size, score 0 and their voted class. A track reported for the
            first time carries where it started (``Tracks.previous_xyxy``).
        """
        moved = self._measure_motion(motion, ts_s)
        predict_many(
            [t.kf for t in self._tracks], np.array([ts_s - t.pred_ts for t in self._tracks])
        )
        for t in self._tracks:
            t.pred_ts = max(t.pred_ts, ts_s)
        for t, center in moved:
            t.kf.update_center(center, _FLOW_POS)
            t.seen_ts = ts_s
        dets = _dedupe(detections.select(detections.confidence >= self._cfg.low_score))
        self._looks = None if motion is None else motion.describe(dets.xyxy)
        high = np.flatnonzero(dets.confidence >= self._cfg.high_score)
        low = np.flatnonzero(dets.confidence < self._cfg.high_score)
        confirmed = [i for i, t in enumerate(self._tracks) if t.confirmed]
        m1 = self._associate(confirmed, high, dets)
        active = [i for i in m1.free_tracks if self._tracks[i].last_ts >= self._prev_ts]
        m2 = self._associate(active, low, dets)
        tentative = [i for i, t in enumerate(self._tracks) if not t.confirmed]
        m3 = self._associate(tentative, np.array(m1.free_dets, np.int64), dets)
        reported = self._apply(m1.pairs + m2.pairs + m3.pairs, dets, ts_s)
        reported += self._spawn(m3.free_dets, dets, ts_s, motion)
        self._evict(ts_s, frame_wh)
        alive = {t.track_id for t in self._tracks}
        flowed = [
            t
            for t, _ in moved
            if t.confirmed
            and t.last_ts < ts_s
            and t.detected_span_s >= _FLOW_SPAN_S
            and t.track_id in alive
        ]
        self._prev_ts = ts_s
        origins = {
            t.track_id: t.origin for t in self._tracks if t.origin is not None and t.confirmed
        }
        for t in self._tracks:
            t.origin = None if t.confirmed else t.origin
        return _to_tracks(reported, dets, ts_s, origins).extend(_flow_only(flowed, ts_s))

    def _measure_motion(self, motion: Motion | None, ts_s: float) -> list[tuple[_Track, F64]]:
        """Where the image moved the boxes of tracks placed in the previous frame.

        Each track's filter is still at the previous frame's time, so its box is the one to move.
        Returns (track, centre now) for the reliable moves.
        """
        if motion is None or ts_s <= self._prev_ts:
            return []
        live = [t for t in self._tracks if t.seen_ts >= self._prev_ts]
        if not live:
            return []
        boxes, ok = motion.displace(np.stack([t.kf.box for t in live]))
        centers = (boxes[:, :2] + boxes[:, 2:]) / 2
        return [(t, centers[i]) for i, t in enumerate(live) if ok[i]]

    def _associate(
        self, track_idx: list[int], det_idx: npt.NDArray[np.int64], dets: Detections
    ) -> _Match:
        if not track_idx or len(det_idx) == 0:
            return _Match([], list(track_idx), [int(d) for d in det_idx])
        cost, valid = self._cost([self._tracks[i] for i in track_idx], dets, det_idx)
        rows, cols = linear_sum_assignment(np.where(valid, cost, _INFEASIBLE))
        pairs = [
            (track_idx[r], int(det_idx[c])) for r, c in zip(rows, cols, strict=True) if valid[r, c]
        ]
        used_t, used_d = {p[0] for p in pairs}, {p[1] for p in pairs}
        return _Match(
            pairs,
            [i for i in track_idx if i not in used_t],
            [int(d) for d in det_idx if int(d) not in used_d],
        )

    def _cost(
        self, tracks: list[_Track], all_dets: Detections, det_idx: npt.NDArray[np.int64]
    ) -> tuple[F64, BoolArray]:
        """Association cost and feasibility of tracks with ``all_dets[det_idx]``, both T×D."""
        dets = all_dets.select(det_idx)
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
        same = np.array([t.group for t in tracks])[:, None] == _GROUP[dets.class_id][None, :]
        valid = same & ((iou >= self._cfg.match_iou) | ((m2 <= _GATE_CHI2) & size_ok))
        cost = (1 - iou) + np.minimum(m2 / _GATE_CHI2, 1.0)
        self._add_looks(tracks, det_idx, cost, valid)
        return cost, valid

    def _add_looks(
        self, tracks: list[_Track], det_idx: npt.NDArray[np.int64], cost: F64, valid: BoolArray
    ) -> None:
        """Add the appearance term to ``cost`` and gate ``valid`` in place (images seen)."""
        if self._looks is None or len(self._looks) == 0:
            return
        have = [i for i, t in enumerate(tracks) if t.look is not None]
        if have:
            track_looks = np.stack([look for i in have if (look := tracks[i].look) is not None])
            d = appearance_distance(track_looks, self._looks[det_idx])
            valid[have] &= d <= _LOOK_GATE
            cost[have] += _LOOK_WEIGHT * d

    def _apply(
        self, pairs: list[tuple[int, int]], dets: Detections, ts_s: float
    ) -> list[tuple[int, int]]:
        """Fold matches into the tracks; return (track id, detection) of those to report."""
        reported = []
        for ti, di in pairs:
            t = self._tracks[ti]
            t.kf.update(dets.xyxy[di].astype(np.float64))
            t.last_ts, t.seen_ts, t.hits = ts_s, ts_s, t.hits + 1
            t.det_wh = dets.xyxy[di, 2:].astype(np.float64) - dets.xyxy[di, :2]
            t.class_score[int(dets.class_id[di])] += float(dets.confidence[di])
            t.look = None if self._looks is None else self._looks[di]
            if not t.confirmed and ts_s - t.first_ts >= self._cfg.min_confirm_s:
                t.confirmed = True
            if t.confirmed:
                reported.append((t.track_id, di))
        return reported

    def _spawn(
        self, free_dets: list[int], dets: Detections, ts_s: float, motion: Motion | None
    ) -> list[tuple[int, int]]:
        """Start tracks on unmatched confident detections.

        Where optical flow can trace a new box back to the previous processed frame, that
        movement gives the track its starting speed and its origin (a box there); otherwise
        the speed is borrowed from moving neighbours (``_velocity_prior``) or left unknown.

        Returns:
            (track id, detection) of the tracks confirmed at once. Each new track's ``origin``
            is the traced box, else (if it must wait for confirmation) its first box: its
            first report then tells the counter where it came from.
        """
        cfg = self._cfg
        movers = [t for t in self._tracks if t.confirmed and t.hits >= 3 and t.last_ts >= ts_s]
        starts = [di for di in free_dets if dets.confidence[di] >= cfg.new_track_score]
        starts = starts[: max(0, cfg.max_tracks - len(self._tracks))]
        traced = self._retrace(motion, dets.xyxy[starts], ts_s)
        reported = []
        for di, origin in zip(starts, traced, strict=True):
            box = dets.xyxy[di].astype(np.float64)
            if origin is not None:
                prior: F64 | None = (_center(box) - _center(origin)) / (ts_s - self._prev_ts)
            else:
                prior = _velocity_prior(box, int(_GROUP[dets.class_id[di]]), movers)
            t = _Track(self._next_id, BoxKalman.start(box, prior), ts_s, ts_s, ts_s, ts_s)
            t.det_wh = box[2:] - box[:2]
            t.origin = origin if origin is not None or cfg.min_confirm_s <= 0 else box
            t.class_score[int(dets.class_id[di])] += float(dets.confidence[di])
            t.look = None if self._looks is None else self._looks[di]
            t.confirmed = cfg.min_confirm_s <= 0
            if t.confirmed:
                reported.append((t.track_id, di))
            self._next_id += 1
            self._tracks.append(t)
        return reported

    def _retrace(
        self, motion: Motion | None, boxes: npt.NDArray[np.floating], ts_s: float
    ) -> list[F64 | None]:
        """Each box traced back to the previous processed frame, None where flow cannot tell."""
        gap_s = ts_s - self._prev_ts  # inf before the first frame
        if motion is None or len(boxes) == 0 or not 0 < gap_s < np.inf:
            return [None] * len(boxes)
        back, ok = motion.retrace(boxes)
        return [back[i] if ok[i] else None for i in range(len(boxes))]

    def _evict(self, ts_s: float, frame_wh: tuple[int, int] | None) -> None:
        cfg = self._cfg
        self._tracks = [
            t
            for t in self._tracks
            if ts_s - t.last_ts
            <= (cfg.max_lost_s if t.confirmed else cfg.max_tentative_lost_s) + 1e-9
            and (t.last_ts >= ts_s or frame_wh is None or _inside(t.kf.x[:2], frame_wh))
        ]


def _flow_only(flowed: list[_Track], ts_s: float) -> Tracks:
    """Tracks placed by optical flow alone, reported with the filter's box and score 0."""
    if not flowed:
        return Tracks.empty(ts_s)
    return Tracks(
        np.array([_flow_box(t) for t in flowed], np.float32).reshape(-1, 4),
        np.zeros(len(flowed), np.float32),
        np.array([int(np.argmax(t.class_score)) for t in flowed], np.int64),
        np.array([t.track_id for t in flowed], np.int64),
        ts_s,
    )


def _flow_box(t: _Track) -> F64:
    """A track's box placed by flow alone: the filter's centre, the last detected size (the
    filter's size keeps its last growth rate, which shrinks or swells boxes while coasting)."""
    half = t.det_wh / 2
    return np.concatenate([t.kf.x[:2] - half, t.kf.x[:2] + half])


def _inside(center: F64, frame_wh: tuple[int, int]) -> bool:
    return 0.0 <= float(center[0]) <= frame_wh[0] and 0.0 <= float(center[1]) <= frame_wh[1]


def _mahalanobis2(mean: F64, cov: F64, points: F64) -> F64:
    """Squared Mahalanobis distances T×D of D points from T 2-D Gaussians (T×2, T×2×2)."""
    a, b, c = cov[:, 0, 0], cov[:, 0, 1], cov[:, 1, 1]
    det = np.maximum(a * c - b * b, 1e-9)
    dx = points[None, :, 0] - mean[:, 0, None]
    dy = points[None, :, 1] - mean[:, 1, None]
    m2 = (c[:, None] * dx * dx - 2 * b[:, None] * dx * dy + a[:, None] * dy * dy) / det[:, None]
    return np.asarray(m2, np.float64)


def _velocity_prior(box: F64, group: int, movers: list[_Track]) -> F64 | None:
    """Expected centre velocity (pixels/s) of a new object, from confirmed neighbours.

    Traffic near a new object usually moves like it (lanes, walkways). Neighbours of the same
    group within ``_PRIOR_RADIUS`` box sizes vote with weights falling off with distance, their
    speeds rescaled to the new box size (perspective). No prior when there are no neighbours or
    they disagree (crossing flows), so an intersection falls back to "speed unknown".
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


def _weighted_median(values: F64, weights: F64) -> float:
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, cum[-1] / 2)])


def _dedupe(dets: Detections) -> Detections:
    """Drop boxes that repeat a higher-scoring box of the same group (IoU ≥ ``_DUPLICATE_IOU``).

    Detectors with per-class NMS report one vehicle as both ``car`` and ``bus`` (or ``truck``);
    the copy would start a second track and be counted twice.
    """
    if len(dets) < 2:
        return dets
    order = np.argsort(-dets.confidence, kind="stable")
    iou = iou_matrix(dets.xyxy[order], dets.xyxy[order])
    group = _GROUP[dets.class_id[order]]
    dup = np.triu((iou >= _DUPLICATE_IOU) & (group[:, None] == group[None, :]), k=1)
    keep = np.ones(len(order), bool)
    for i in range(len(order)):
        if keep[i]:
            keep[np.flatnonzero(dup[i])] = False
    return dets.select(np.sort(order[keep]))


def _center(box: F64) -> F64:
    return (box[:2] + box[2:]) / 2


def _to_tracks(
    reported: list[tuple[int, int]], dets: Detections, ts_s: float, origins: dict[int, F64]
) -> Tracks:
    if not reported:
        return Tracks.empty(ts_s)
    ids = np.array([r[0] for r in reported], np.int64)
    di = np.array([r[1] for r in reported], np.int64)
    previous = np.full((len(ids), 4), np.nan, np.float32)
    for row, tid in enumerate(ids):
        if int(tid) in origins:
            previous[row] = origins[int(tid)]
    return Tracks(dets.xyxy[di], dets.confidence[di], dets.class_id[di], ids, ts_s, previous)
