"""Tracking stage: ByteTrack-style association with time-based Kalman motion and optical flow.

Each call associates one frame of detections with the live tracks in three passes (after
ByteTrack): confident detections with confirmed tracks (active and lost), then weak detections
with the confirmed tracks still unmatched and not lost, then the remaining confident detections
with tentative tracks. Confident detections left over start tentative tracks. The cost and its
gates are in ``association.py``; the starting speed of new tracks in ``prior.py``.

The tracker owns its motion model: with ``TrackerConfig.optical_flow`` it follows boxes through
the frame's image and the skipped frames (``Frame.between``) with its own ``BoxFlow``, and
reports ``wants_motion_images`` so that the frame feed keeps those skipped frames.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from edge.classes import GROUP
from edge.config import TrackerConfig
from edge.geometry import F64
from edge.track.association import FrameDetections, dedupe, match
from edge.track.flow import BoxFlow
from edge.track.kalman import BoxKalman, predict_many
from edge.track.prior import traced_velocity, velocity_prior
from edge.track.state import TrackState, flow_only_tracks, matched_tracks
from edge.types import Detections, Frame, Tracks

#: A track placed by optical flow alone is reported only if its detections span this long: a
#: track started by one stray box (often a second box on an object another track holds) is
#: not trusted to move on its own.
_FLOW_SPAN_S = 0.05
#: Standard deviation of an optical-flow position, as a fraction of the box size.
_FLOW_POS = 0.08

Pairs = list[tuple[int, int]]


class ByteTracker:
    """Time-based ByteTrack tracker.

    Args:
        config: thresholds; every duration is in seconds of source time.
    """

    def __init__(self, config: TrackerConfig) -> None:
        self._cfg = config
        self._flow = BoxFlow() if config.optical_flow else None
        self._tracks: list[TrackState] = []
        self._next_id = 1
        self._prev_ts = -np.inf
        self._looks: npt.NDArray[np.float32] | None = None  # this frame's detections

    def __len__(self) -> int:
        """Live tracks (tentative, active and lost): telemetry, bounded by ``max_tracks``."""
        return len(self._tracks)

    @property
    def wants_motion_images(self) -> bool:
        """Whether frames should carry the skipped frames' motion images (``Frame.between``)."""
        return self._flow is not None

    def reset(self) -> None:
        """Drop every track and the flow's images. Ids keep increasing, so they stay unique
        within this instance."""
        self._tracks.clear()
        self._prev_ts = -np.inf
        if self._flow is not None:
            self._flow.reset()

    def update(self, detections: Detections, frame: Frame) -> Tracks:
        """Associate one frame of detections and return the confirmed tracks seen in it.

        Time comes from ``frame.ts_s`` (source seconds; differences drive the motion model).
        With optical flow, tracks the image placed in the previous frame are moved by the
        image motion since then before association. An unmatched track whose predicted centre
        has left the frame is dropped at once (it cannot be seen again, and kept alive its
        widening gate would grab the next object to appear).

        Args:
            detections: the frame's detections, frame pixels.
            frame: the frame they were found in (time, size, image, skipped motion images).

        Returns:
            Confirmed tracks seen in this frame: matched ones with the detection's box, score and
            class; unmatched ones that optical flow placed (an object the detector missed in
            this frame, often half hidden behind the one ahead) with the filter's centre and
            their last detected size, score 0 and their voted class. A track reported for the
            first time carries where it started (``Tracks.previous_xyxy``).
        """
        ts_s = frame.ts_s
        if self._flow is not None:
            self._flow.update(frame.image, frame.between)
        moved = self._measure_motion(ts_s)
        predict_many(
            [t.kf for t in self._tracks], np.array([ts_s - t.pred_ts for t in self._tracks])
        )
        for t in self._tracks:
            t.pred_ts = max(t.pred_ts, ts_s)
        for t, center in moved:
            t.kf.update_center(center, _FLOW_POS)
            t.seen_ts = ts_s
        dets = dedupe(detections.select(detections.confidence >= self._cfg.low_score))
        self._looks = None if self._flow is None else self._flow.describe(dets.xyxy)
        reported = self._apply(self._passes(dets), dets, ts_s)
        self._evict(ts_s, frame.size_wh)
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
        return matched_tracks(reported, dets, ts_s, origins).extend(flow_only_tracks(flowed, ts_s))

    def _passes(self, dets: Detections) -> tuple[Pairs, list[int]]:
        """The three association passes: matched (track index, detection) pairs, and the
        confident detections left over."""
        frame = FrameDetections(dets, self._looks, self._cfg.match_iou)
        high = np.flatnonzero(dets.confidence >= self._cfg.high_score)
        low = np.flatnonzero(dets.confidence < self._cfg.high_score)
        confirmed = [i for i, t in enumerate(self._tracks) if t.confirmed]
        p1, free_tracks, free_high = self._associate(confirmed, high, frame)
        active = [i for i in free_tracks if self._tracks[i].last_ts >= self._prev_ts]
        p2, _, _ = self._associate(active, low, frame)
        tentative = [i for i, t in enumerate(self._tracks) if not t.confirmed]
        p3, _, left = self._associate(tentative, np.array(free_high, np.int64), frame)
        return p1 + p2 + p3, left

    def _associate(
        self, track_idx: list[int], det_idx: npt.NDArray[np.int64], frame: FrameDetections
    ) -> tuple[Pairs, list[int], list[int]]:
        """One pass: (track index, detection) pairs, unmatched tracks, unmatched detections."""
        found = match([self._tracks[i] for i in track_idx], det_idx, frame)
        pairs = [(track_idx[pos], di) for pos, di in found]
        used_t, used_d = {p[0] for p in pairs}, {p[1] for p in pairs}
        return (
            pairs,
            [i for i in track_idx if i not in used_t],
            [int(d) for d in det_idx if int(d) not in used_d],
        )

    def _measure_motion(self, ts_s: float) -> list[tuple[TrackState, F64]]:
        """Where the image moved the boxes of tracks placed in the previous frame.

        Each track's filter is still at the previous frame's time, so its box is the one to move.
        Returns (track, centre now) for the reliable moves.
        """
        if self._flow is None or ts_s <= self._prev_ts:
            return []
        live = [t for t in self._tracks if t.seen_ts >= self._prev_ts]
        if not live:
            return []
        boxes, ok = self._flow.displace(np.stack([t.kf.box for t in live]))
        centers = (boxes[:, :2] + boxes[:, 2:]) / 2
        return [(t, centers[i]) for i, t in enumerate(live) if ok[i]]

    def _apply(
        self, passes: tuple[Pairs, list[int]], dets: Detections, ts_s: float
    ) -> list[tuple[int, int]]:
        """Fold matches into the tracks and start new ones on the confident leftovers; return
        (track id, detection) of those to report."""
        pairs, left = passes
        reported = []
        for ti, di in pairs:
            t = self._tracks[ti]
            t.kf.update(dets.xyxy[di].astype(np.float64))
            t.last_ts, t.seen_ts, t.hits = ts_s, ts_s, t.hits + 1
            t.det_wh = dets.xyxy[di, 2:].astype(np.float64) - dets.xyxy[di, :2]
            t.vote.add(*_evidence(dets, di))
            t.look = None if self._looks is None else self._looks[di]
            if not t.confirmed and ts_s - t.first_ts >= self._cfg.min_confirm_s:
                t.confirmed = True
            if t.confirmed:
                reported.append((t.track_id, di))
        return reported + self._spawn(left, dets, ts_s)

    def _spawn(self, free_dets: list[int], dets: Detections, ts_s: float) -> list[tuple[int, int]]:
        """Start tracks on unmatched confident detections.

        Where optical flow can trace a new box back to the previous processed frame, that
        movement gives the track its starting speed and its origin (a box there); otherwise
        the speed is borrowed from moving neighbours (``prior.velocity_prior``) or left unknown.

        Returns:
            (track id, detection) of the tracks confirmed at once. Each new track's ``origin``
            is the traced box, else (if it must wait for confirmation) its first box: its
            first report then tells the counter where it came from.
        """
        cfg = self._cfg
        movers = [t for t in self._tracks if t.confirmed and t.hits >= 3 and t.last_ts >= ts_s]
        starts = [di for di in free_dets if dets.confidence[di] >= cfg.new_track_score]
        starts = starts[: max(0, cfg.max_tracks - len(self._tracks))]
        traced = self._retrace(dets.xyxy[starts], ts_s)
        reported = []
        for di, origin in zip(starts, traced, strict=True):
            box = dets.xyxy[di].astype(np.float64)
            if origin is not None:
                prior: F64 | None = traced_velocity(box, origin, ts_s - self._prev_ts)
            else:
                prior = velocity_prior(box, int(GROUP[dets.class_id[di]]), movers)
            t = TrackState(self._next_id, BoxKalman.start(box, prior), ts_s, ts_s, ts_s, ts_s)
            t.det_wh = box[2:] - box[:2]
            t.origin = origin if origin is not None or cfg.min_confirm_s <= 0 else box
            t.vote.add(*_evidence(dets, di))
            t.look = None if self._looks is None else self._looks[di]
            t.confirmed = cfg.min_confirm_s <= 0
            if t.confirmed:
                reported.append((t.track_id, di))
            self._next_id += 1
            self._tracks.append(t)
        return reported

    def _retrace(self, boxes: npt.NDArray[np.floating], ts_s: float) -> list[F64 | None]:
        """Each box traced back to the previous processed frame, None where flow cannot tell."""
        gap_s = ts_s - self._prev_ts  # inf before the first frame
        if self._flow is None or len(boxes) == 0 or not 0 < gap_s < np.inf:
            return [None] * len(boxes)
        back, ok = self._flow.retrace(boxes)
        return [back[i] if ok[i] else None for i in range(len(boxes))]

    def _evict(self, ts_s: float, frame_wh: tuple[int, int]) -> None:
        cfg = self._cfg
        self._tracks = [
            t
            for t in self._tracks
            if ts_s - t.last_ts
            <= (cfg.max_lost_s if t.confirmed else cfg.max_tentative_lost_s) + 1e-9
            and (t.last_ts >= ts_s or _inside(t.kf.x[:2], frame_wh))
        ]


def _evidence(dets: Detections, i: int) -> tuple[int, float, bool, float]:
    """Detection ``i`` as a class vote: class, confidence, not riding, size sqrt(w·h)."""
    w, h = dets.xyxy[i, 2:] - dets.xyxy[i, :2]
    return int(dets.class_id[i]), float(dets.confidence[i]), False, float(np.sqrt(max(w * h, 1.0)))


def _inside(center: F64, frame_wh: tuple[int, int]) -> bool:
    return 0.0 <= float(center[0]) <= frame_wh[0] and 0.0 <= float(center[1]) <= frame_wh[1]
