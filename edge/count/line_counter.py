"""Counting stage: tracks crossing directed lines, with hysteresis, class vote and rider rule.

The rule is the one of the test clips (``assets/videos/README.md``): a crossing is counted when a
track's anchor changes side between two consecutive observations and its path meets the segment
between A and B (0 ≤ t ≤ 1). ``in`` = left → right of A→B. Side 0 (exactly on the line) keeps the
previous side. After a count the line is *disarmed* for that track until its anchor is at least
``hysteresis_px`` from the line (on either side), so jitter on the line counts once and a U-turn
counts again only if the object moved clearly away in between (the clips' ``debounce_px``).

Riders are never pedestrians: a person track is judged over time (``riders.py``), a crossing
of a track first seen near the line waits up to ``riders.DECIDE_AFTER_S`` for that evidence, and
a rider's crossing counts its two-wheeler once (as that vehicle, when only the rider was seen at
the line).

Identity is the tracker's: each track id has its own line state, and a new id starts afresh
(at its traced origin, ``Tracks.previous_xyxy``, when the tracker gives one). The counter never
hands one id's state to another; measured on the public clips, doing so counted worse at 5 and
10 detections/s (``docs/tracking.md``).

Per-track state is fixed-size (no history lists) and evicted ``evict_after_s`` after the track was
last seen, measured on the frames' ``ts_s``; the tracker's configuration sets that horizon.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from edge.classes import CLASS_NAMES, PERSON, RIDEABLE, ClassVote, ridden
from edge.config import LineConfig, TrackerConfig
from edge.count.riders import Claim, Claims, RiderEvidence, is_rider
from edge.geometry import F64, Segment, anchors
from edge.types import Crossing, Direction, Tracks

_MAX_STATES = 4096
#: Per-track state is kept at least this long after a track was last seen...
_MIN_EVICT_S = 5.0
#: ...and this long beyond the longest time the tracker may still revive the id.
_EVICT_MARGIN_S = 1.0
#: A counted track re-arms once its anchor is this fraction of its box size (sqrt(w·h)) away
#: from the line, if that is more than ``hysteresis_px``: box jitter grows with the box, so a
#: large person dithering on the line counts once whatever the camera's scale.
_REARM_SIZE_FRAC = 0.2


@dataclass(slots=True)
class _TrackState:
    """What the counter remembers of one track: fixed-size arrays, no history."""

    last_ts: float
    size: float  # sqrt(w*h) of the last box, pixels
    last_pt: F64  # (L, 2) last anchor per line
    side: npt.NDArray[np.int8]  # (L,) last non-zero side per line, 0 = never off the line
    armed: npt.NDArray[np.bool_]  # (L,) may the next side change be counted
    rider: RiderEvidence
    pending: list[Claim | None]  # (L,) a person's crossing waiting for rider evidence
    vote: ClassVote = field(default_factory=ClassVote)
    conf_sum: float = 0.0


class LineCounter:
    """Counts tracks crossing one or more directed lines.

    Args:
        lines: the counting lines; their ``anchor``, ``hysteresis_px`` and ``classes`` apply.
        tracker: the configuration of the tracker feeding the counter (default: the defaults).
            A track's state is forgotten ``evict_after_s`` after it was last seen.
    """

    def __init__(self, lines: Sequence[LineConfig], tracker: TrackerConfig | None = None) -> None:
        self._lines = tuple(lines)
        self._segments = [Segment.of(ln.a, ln.b) for ln in self._lines]
        self.evict_after_s = evict_horizon_s(tracker or TrackerConfig())
        self._states: dict[int, _TrackState] = {}
        self._claims = [Claims(seg.length) for seg in self._segments]
        self._pending: set[int] = set()  # ids of tracks with a crossing waiting for evidence
        self._last_sweep_s = -np.inf
        self._totals = {ln.name: _zero_totals() for ln in self._lines}

    def __len__(self) -> int:
        """Number of tracks the counter remembers (telemetry; bounded)."""
        return len(self._states)

    def reset(self) -> None:
        """Forget every track; the totals are kept."""
        self._states.clear()
        self._pending.clear()

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
        rides = ridden(tracks.xyxy, tracks.class_id)
        out: list[Crossing] = []
        for i in range(len(tracks)):
            tid = int(tracks.track_id[i])
            box = tracks.xyxy[i].astype(np.float64)
            pts = self._anchors(box)
            state = self._states.get(tid)
            if state is None:
                state = self._new_state(box, pts, ts)
                origin = tracks.previous(i)
                if origin is not None:
                    _start_at(state, self._anchors(origin.astype(np.float64)), self._segments)
                self._states[tid] = state
            mate = int(tracks.track_id[rides[i]]) if rides[i] >= 0 else -1
            _observe(state, box, ts, (float(tracks.confidence[i]), int(tracks.class_id[i]), mate))
            out.extend(self._cross(tid, state, pts, ts))
        out.extend(self._settle(ts))
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
                    claim = Claim(ts, "in" if prev < 0 else "out", t, tid, False)
                    if st.vote.voted() == PERSON and not st.rider.settled(ts):
                        st.pending[k] = claim
                        self._pending.add(tid)
                    else:
                        found.extend(self._decide(k, claim, st))
            if abs(dist) >= max(ln.hysteresis_px, _REARM_SIZE_FRAC * st.size):
                st.armed[k] = True
            if side != 0:
                st.side[k] = side
            st.last_pt[k] = p
        return found

    def flush(self) -> list[Crossing]:
        """Decide every crossing still waiting for rider evidence, with what is known now
        (the end of a recording, or the service stopping): a count is never left behind."""
        found: list[Crossing] = []
        for tid in sorted(self._pending):
            st = self._states[tid]
            for k, claim in enumerate(st.pending):
                if claim is not None:
                    st.pending[k] = None
                    found.extend(self._decide(k, claim, st))
        self._pending.clear()
        return found

    def _settle(self, ts: float) -> list[Crossing]:
        """Decide the waiting crossings of tracks now judged, or about to be forgotten."""
        found: list[Crossing] = []
        for tid in sorted(self._pending):
            st = self._states[tid]
            if not (st.rider.settled(ts) or st.last_ts < ts - self.evict_after_s):
                continue
            for k, claim in enumerate(st.pending):
                if claim is not None:
                    st.pending[k] = None
                    found.extend(self._decide(k, claim, st))
            self._pending.discard(tid)
        return found

    def _decide(self, k: int, claim: Claim, st: _TrackState) -> list[Crossing]:
        """Count one crossing: a rider's as its two-wheeler (once), any other as its class."""
        cls, claims = st.vote.voted(), self._claims[k]
        mate = self._states.get(st.rider.companion)
        vehicle = mate.vote.voted() if mate is not None else -1
        if is_rider(st.vote, st.rider, vehicle):
            mate_id = st.rider.companion if mate is not None else -1
            rider = Claim(claim.ts_s, claim.direction, claim.t_along, mate_id, True)
            if claims.counted_for(rider, st.size):
                return []
            claims.add(rider)
            name = CLASS_NAMES[vehicle] if vehicle in RIDEABLE else "motorcycle"
            return self._emit(self._lines[k], rider if mate_id >= 0 else claim, name, st)
        if cls in RIDEABLE:
            if claims.taken_by_rider(claim, st.size):
                return []
            claims.add(claim)
        return self._emit(self._lines[k], claim, CLASS_NAMES[cls], st)

    def _emit(self, ln: LineConfig, claim: Claim, name: str, st: _TrackState) -> list[Crossing]:
        if ln.classes is not None and name not in ln.classes:
            return []
        direction: Direction = "in" if claim.direction == "in" else "out"
        self._totals[ln.name][direction][name] += 1
        conf = st.conf_sum / max(st.vote.observations, 1)
        return [Crossing(ln.name, direction, name, claim.vehicle_id, claim.ts_s, conf)]

    def _new_state(self, box: F64, pts: F64, ts: float) -> _TrackState:
        n = len(self._lines)
        w, h = box[2] - box[0], box[3] - box[1]
        return _TrackState(
            last_ts=ts,
            size=float(np.sqrt(max(w * h, 1.0))),
            last_pt=pts.copy(),
            side=np.array(
                [np.sign(seg.signed_distance(pts[k])[0]) for k, seg in enumerate(self._segments)],
                np.int8,
            ).reshape(n),
            armed=np.ones(n, bool),
            rider=RiderEvidence.start(anchors(box, "bottom_center")[0], box[3] - box[1], ts),
            pending=[None] * n,
        )

    def _sweep(self, ts: float) -> None:
        if ts - self._last_sweep_s < 1.0 and len(self._states) <= _MAX_STATES:
            return
        self._last_sweep_s = ts
        horizon = ts - self.evict_after_s
        for tid in [t for t, st in self._states.items() if st.last_ts < horizon]:
            del self._states[tid]
            self._pending.discard(tid)
        if len(self._states) > _MAX_STATES:
            oldest = sorted(self._states, key=lambda t: self._states[t].last_ts)
            for tid in oldest[: len(self._states) - _MAX_STATES]:
                del self._states[tid]
                self._pending.discard(tid)


def _start_at(st: _TrackState, pts: F64, segments: list[Segment]) -> None:
    """Make a new track's line state start at its traced origin (anchors ``pts``, L×2)."""
    st.last_pt = pts.copy()
    st.side = np.array(
        [np.sign(seg.signed_distance(pts[k])[0]) for k, seg in enumerate(segments)], np.int8
    ).reshape(len(segments))


def _observe(st: _TrackState, box: F64, ts: float, obs: tuple[float, int, int]) -> None:
    """Fold one observation (confidence, class id, the ridden track's id or -1) into the
    fixed-size state."""
    conf, class_id, mate = obs
    st.last_ts = ts
    st.size = float(np.sqrt(max((box[2] - box[0]) * (box[3] - box[1]), 1.0)))
    st.vote.add(class_id, conf, mate >= 0, st.size)
    st.rider.observe(anchors(box, "bottom_center")[0], float(box[3] - box[1]), ts, mate)
    st.conf_sum += conf


def evict_horizon_s(tracker: TrackerConfig) -> float:
    """How long the counter keeps a track's state after it was last seen: at least
    ``_MIN_EVICT_S``, and always beyond the time the tracker may still revive the id
    (``TrackerConfig.id_hold_s``, itself bounded by ``MAX_LOST_LIMIT_S``)."""
    return max(_MIN_EVICT_S, tracker.id_hold_s + _EVICT_MARGIN_S)


def _zero_totals() -> dict[Direction, dict[str, int]]:
    return {"in": dict.fromkeys(CLASS_NAMES, 0), "out": dict.fromkeys(CLASS_NAMES, 0)}
