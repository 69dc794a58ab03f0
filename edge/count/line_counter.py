"""Counting stage: tracks crossing directed lines, with hysteresis, class vote and rider rule.

The rule is the one of the test clips (``assets/videos/README.md``): a crossing is counted when a
track's anchor changes side between two consecutive observations and its path meets the segment
between A and B (0 ≤ t ≤ 1). ``in`` = left → right of A→B. Side 0 (exactly on the line) keeps the
previous side. After a count the line is *disarmed* for that track until its anchor is at least
``hysteresis_px`` from the line (on either side), so jitter on the line counts once and a U-turn
counts again only if the object moved clearly away in between (the clips' ``debounce_px``).

Per-track state is fixed-size (no history lists) and evicted ``evict_after_s`` after the track was
last seen, measured on the frames' ``ts_s``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from edge.classes import CLASS_NAMES, PERSON, RIDEABLE
from edge.config import LineConfig
from edge.geometry import F64, Segment, anchors, intersection_matrix
from edge.types import Crossing, Direction, Tracks

#: Classes a tracker id may drift between without being another object: counted by vote.
_GROUP = np.array([0, 1, 2, 1, 2, 2])  # person | two-wheelers | four-wheelers, by class id
_MAX_STATES = 4096
#: A counted track re-arms once its anchor is this fraction of its box size (sqrt(w·h)) away
#: from the line, if that is more than ``hysteresis_px``: box jitter grows with the box, so a
#: large person dithering on the line counts once whatever the camera's scale.
_REARM_SIZE_FRAC = 0.2
_RIDER_MIN_FRAMES = 2
_RIDER_MIN_SHARE = 0.5


@dataclass(slots=True)
class _TrackState:
    """What the counter remembers of one track: fixed-size arrays, no history."""

    last_ts: float
    center: F64  # (2,) box centre at last_ts, pixels
    velocity: F64  # (2,) box centre velocity, pixels/s (smoothed)
    size: float  # sqrt(w*h) of the last box, pixels
    last_pt: F64  # (L, 2) last anchor per line
    side: npt.NDArray[np.int8]  # (L,) last non-zero side per line, 0 = never off the line
    armed: npt.NDArray[np.bool_]  # (L,) may the next side change be counted
    class_score: F64 = field(default_factory=lambda: np.zeros(len(CLASS_NAMES)))
    conf_sum: float = 0.0
    n_obs: int = 0
    rider_frames: int = 0

    @property
    def group(self) -> int:
        return int(_GROUP[int(np.argmax(self.class_score))])

    def voted_class(self) -> int:
        return int(np.argmax(self.class_score))

    def is_rider(self) -> bool:
        return self.rider_frames >= _RIDER_MIN_FRAMES and (
            self.rider_frames >= _RIDER_MIN_SHARE * self.n_obs
        )


def rider_mask(
    xyxy: npt.NDArray[np.floating], class_id: npt.NDArray[np.int64]
) -> npt.NDArray[np.bool_]:
    """Which boxes are persons riding a bicycle or motorcycle box of the same frame.

    A person rides a two-wheeler when the bottom-centre of the person box (feet on pedals or
    foot-rests) lies inside the two-wheeler box, away from its left/right tenth, and the person
    covers at least a fifth of it. A pedestrian walking past a parked bike matches for a few frames
    only, which the per-track share of rider frames absorbs.

    Args:
        xyxy: N×4 boxes in frame pixels.
        class_id: N class ids.

    Returns:
        N booleans, True for riding persons.
    """
    persons = np.flatnonzero(class_id == PERSON)
    wheels = np.flatnonzero(np.isin(class_id, list(RIDEABLE)))
    out = np.zeros(len(class_id), bool)
    if len(persons) == 0 or len(wheels) == 0:
        return out
    pb, wb = xyxy[persons].astype(np.float64), xyxy[wheels].astype(np.float64)
    foot = anchors(pb, "bottom_center")[:, None, :]
    ww, wh = wb[:, 2] - wb[:, 0], wb[:, 3] - wb[:, 1]
    inside_x = (foot[..., 0] >= wb[:, 0] + 0.1 * ww) & (foot[..., 0] <= wb[:, 2] - 0.1 * ww)
    inside_y = (foot[..., 1] >= wb[:, 1]) & (foot[..., 1] <= wb[:, 3] + 0.1 * wh)
    covered = intersection_matrix(pb, wb) >= 0.2 * np.maximum(ww * wh, 1e-9)
    out[persons] = (inside_x & inside_y & covered).any(axis=1)
    return out


class LineCounter:
    """Counts tracks crossing one or more directed lines.

    Args:
        lines: the counting lines; their ``anchor``, ``hysteresis_px`` and ``classes`` apply.
        evict_after_s: forget a track this long after it was last seen. Longer keeps state
            across longer gaps (a tracker that revives ids late); shorter bounds memory tighter.
            Keep it above the tracker's ``max_lost_s`` and above ``handover_s``.
        handover_s: when a new track id appears where a track vanished at most this long ago
            (same kind of object, near the vanished one's extrapolated box), the new id takes
            over the old one's line state: an id switch on the line then neither double counts
            nor loses the crossing. 0 disables it.
    """

    def __init__(
        self, lines: Sequence[LineConfig], *, evict_after_s: float = 5.0, handover_s: float = 1.0
    ) -> None:
        self._lines = tuple(lines)
        self._segments = [Segment.of(ln.a, ln.b) for ln in self._lines]
        self._evict_after_s = evict_after_s
        self._handover_s = handover_s
        self._states: dict[int, _TrackState] = {}
        self._last_sweep_s = -np.inf
        self._totals = {ln.name: _zero_totals() for ln in self._lines}

    def __len__(self) -> int:
        """Number of tracks the counter remembers (telemetry; bounded)."""
        return len(self._states)

    def reset(self) -> None:
        """Forget every track; the totals are kept."""
        self._states.clear()

    def totals(self) -> dict[str, dict[Direction, dict[str, int]]]:
        """Counts so far: line name → ``in``/``out`` → class name → crossings."""
        return {ln: {d: dict(c) for d, c in dirs.items()} for ln, dirs in self._totals.items()}

    def update(self, tracks: Tracks) -> list[Crossing]:
        """Advance by one frame of tracks and return the crossings completed in it.

        Args:
            tracks: confirmed tracks observed at ``tracks.ts_s``.

        Returns:
            Crossings in this frame, in track order then line order.
        """
        ts = tracks.ts_s
        riders = rider_mask(tracks.xyxy, tracks.class_id)
        seen = {int(t) for t in tracks.track_id}
        out: list[Crossing] = []
        for i in range(len(tracks)):
            tid = int(tracks.track_id[i])
            box = tracks.xyxy[i].astype(np.float64)
            pts = self._anchors(box)
            state = self._states.get(tid)
            if state is None:
                state = self._new_state(box, int(tracks.class_id[i]), pts, ts, seen)
                origin = tracks.previous(i)
                if origin is not None and state.n_obs == 0:
                    _start_at(state, self._anchors(origin.astype(np.float64)), self._segments)
                self._states[tid] = state
            _observe(state, box, ts, float(tracks.confidence[i]), int(tracks.class_id[i]))
            state.rider_frames += int(riders[i])
            out.extend(self._cross(tid, state, pts, ts))
        self._sweep(ts)
        return out

    def _anchors(self, box: F64) -> F64:
        """L×2 anchor of one box for every line (each line picks its own anchor)."""
        pts = [anchors(box, ln.anchor)[0] for ln in self._lines]
        return np.stack(pts) if pts else np.zeros((0, 2))

    def _cross(self, tid: int, st: _TrackState, pts: F64, ts: float) -> list[Crossing]:
        found: list[Crossing] = []
        for k, (ln, seg) in enumerate(zip(self._lines, self._segments, strict=True)):
            p = pts[k]
            dist = float(seg.signed_distance(p)[0])
            side = int(np.sign(dist))
            prev = int(st.side[k])
            if prev != 0 and side not in (0, prev):
                t = seg.crossing_t(st.last_pt[k], p)
                if t is not None and 0.0 <= t <= 1.0 and st.armed[k]:
                    st.armed[k] = False
                    direction: Direction = "in" if prev < 0 else "out"
                    crossing = self._emit(ln, direction, tid, st, ts)
                    if crossing is not None:
                        found.append(crossing)
            if abs(dist) >= max(ln.hysteresis_px, _REARM_SIZE_FRAC * st.size):
                st.armed[k] = True
            if side != 0:
                st.side[k] = side
            st.last_pt[k] = p
        return found

    def _emit(
        self, ln: LineConfig, direction: Direction, tid: int, st: _TrackState, ts: float
    ) -> Crossing | None:
        cls = st.voted_class()
        if cls == PERSON and st.is_rider():
            return None
        name = CLASS_NAMES[cls]
        if ln.classes is not None and name not in ln.classes:
            return None
        self._totals[ln.name][direction][name] += 1
        conf = st.conf_sum / max(st.n_obs, 1)
        return Crossing(ln.name, direction, name, tid, ts, conf)

    def _new_state(
        self, box: F64, class_id: int, pts: F64, ts: float, seen: set[int]
    ) -> _TrackState:
        n = len(self._lines)
        heir = self._find_vanished(box, class_id, ts, seen)
        if heir is not None:
            return self._states.pop(heir)
        w, h = box[2] - box[0], box[3] - box[1]
        return _TrackState(
            last_ts=ts,
            center=np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]),
            velocity=np.zeros(2),
            size=float(np.sqrt(max(w * h, 1.0))),
            last_pt=pts.copy(),
            side=np.array(
                [np.sign(seg.signed_distance(pts[k])[0]) for k, seg in enumerate(self._segments)],
                np.int8,
            ).reshape(n),
            armed=np.ones(n, bool),
        )

    def _find_vanished(self, box: F64, class_id: int, ts: float, seen: set[int]) -> int | None:
        """Id of the vanished track the new box most plausibly continues, if any."""
        if self._handover_s <= 0:
            return None
        center = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
        size = float(np.sqrt(max((box[2] - box[0]) * (box[3] - box[1]), 1.0)))
        best, best_d = None, np.inf
        for tid, st in self._states.items():
            gap = ts - st.last_ts
            if tid in seen or not 0 < gap <= self._handover_s or st.group != _GROUP[class_id]:
                continue
            if not 0.5 <= size / st.size <= 2.0:
                continue
            shift = st.velocity * gap
            d = float(np.hypot(*(st.center + shift - center)))
            if d <= 0.5 * (max(size, st.size) + float(np.hypot(*shift))) and d < best_d:
                best, best_d = tid, d
        return best

    def _sweep(self, ts: float) -> None:
        if ts - self._last_sweep_s < 1.0 and len(self._states) <= _MAX_STATES:
            return
        self._last_sweep_s = ts
        horizon = ts - self._evict_after_s
        for tid in [t for t, st in self._states.items() if st.last_ts < horizon]:
            del self._states[tid]
        if len(self._states) > _MAX_STATES:
            oldest = sorted(self._states, key=lambda t: self._states[t].last_ts)
            for tid in oldest[: len(self._states) - _MAX_STATES]:
                del self._states[tid]


def _start_at(st: _TrackState, pts: F64, segments: list[Segment]) -> None:
    """Make a new track's line state start at its traced origin (anchors ``pts``, L×2)."""
    st.last_pt = pts.copy()
    st.side = np.array(
        [np.sign(seg.signed_distance(pts[k])[0]) for k, seg in enumerate(segments)], np.int8
    ).reshape(len(segments))


def _observe(st: _TrackState, box: F64, ts: float, conf: float, class_id: int) -> None:
    """Fold one observation into the fixed-size state (vote, confidence, motion)."""
    center = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
    dt = ts - st.last_ts
    if dt > 0:
        st.velocity = 0.5 * st.velocity + 0.5 * (center - st.center) / dt
    st.center, st.last_ts = center, ts
    st.size = float(np.sqrt(max((box[2] - box[0]) * (box[3] - box[1]), 1.0)))
    st.class_score[class_id] += max(conf, 1e-3)
    st.conf_sum += conf
    st.n_obs += 1


def _zero_totals() -> dict[Direction, dict[str, int]]:
    return {"in": dict.fromkeys(CLASS_NAMES, 0), "out": dict.fromkeys(CLASS_NAMES, 0)}
