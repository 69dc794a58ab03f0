"""Counting stage: zone occupancy, dwell time per track, queue state and wait of one polygon.

``ZoneCounter.update(tracks, crossings) -> ZoneState`` once per processed frame. Rules:

* **Member**: a track whose anchor (``ZoneConfig.anchor``) lies inside the polygon. Its
  *entry* is its first observation inside. A track already inside when observation starts
  (within ``warmup_s`` of the first frame or of a clock reset) has an unknown entry: it is
  *censored*, its dwell is a lower bound and it gives no measured wait.
* **Leaving**: the anchor is seen outside for ``leave_after_s`` in a row (so a box flickering
  on the polygon's edge does not split a dwell), or the track is not seen for ``lost_s``.
  The dwell is from entry to the first observation outside (to the last one inside when the
  track vanished).
* **Occupancy**: members inside seen within ``hold_s`` (a missed detection does not empty the
  zone), per voted class; persons riding a two-wheeler (the line counter's rider rule, by
  share of observations) are part of their vehicle and left out. **Queue**: occupied by a
  vehicle class whose anchor moved slower than ``stationary_px_s`` over ``speed_window_s``
  (displacement over the window, so box jitter of a few pixels averages out).
* **Identity** is the tracker's: a new id inside is a new member, never the continuation of
  one that vanished (measured: continuing them split fewer stays but merged more; see
  ``docs/tracking.md``). ``lost_s`` exceeds the longest time the tracker may still revive an
  id (``MAX_LOST_LIMIT_S``), so a member is never ended while its id can come back.
* **Departures**: crossings of ``exit_line`` (in ``exit_direction``), else members leaving.
* **Clock jumps** reset the members and the wait windows (``ZoneState.reset``).

State is bounded: members are evicted ``linger_s`` after they left (kept that long so an exit
line beyond the polygon still finds their entry time), and at most ``max_members`` are kept.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from edge.classes import CLASS_NAMES, IS_VEHICLE, VEHICLE_CLASSES, ClassVote, rider_mask
from edge.config import ZoneConfig
from edge.config.tracker import MAX_LOST_LIMIT_S
from edge.count.wait import WaitEstimate, WaitEstimator
from edge.count.windows import ClockGuard
from edge.geometry import anchors, points_in_polygon
from edge.types import Crossing, Tracks


@dataclass(frozen=True)
class ZoneTiming:
    """Time constants of the membership rules, seconds (see the module docstring)."""

    leave_after_s: float = 0.5
    hold_s: float = 1.0
    lost_s: float = 3.0
    linger_s: float = 30.0
    warmup_s: float = 1.0
    max_members: int = 1024

    def __post_init__(self) -> None:
        if self.lost_s <= MAX_LOST_LIMIT_S:
            raise ValueError(f"lost_s must exceed the tracker's limit {MAX_LOST_LIMIT_S} s")


@dataclass(frozen=True)
class Dwell:
    """One completed stay in a zone.

    Attributes:
        zone: zone name.
        track_id: tracker id.
        class_name: voted class.
        enter_s: first observation inside, source seconds.
        leave_s: first observation outside (or last inside if the track vanished).
        censored: the entry was not seen (inside at start): ``dwell_s`` is a lower bound.
        vanished: the track was lost inside rather than seen leaving.
        rider: a person riding a two-wheeler (dropped: the two-wheeler is the stay).
    """

    zone: str
    track_id: int
    class_name: str
    enter_s: float
    leave_s: float
    censored: bool
    vanished: bool
    rider: bool = False

    @property
    def dwell_s(self) -> float:
        """Seconds in the zone."""
        return self.leave_s - self.enter_s


@dataclass(frozen=True)
class ZoneState:
    """The zone after one frame.

    Attributes:
        zone: zone name.
        ts_s: source time of the frame.
        occupancy: members present per class name (classes with none are left out).
        queue_length: vehicles present and nearly stationary.
        wait: the wait estimate at ``ts_s``.
        dwells: stays completed in this frame.
        reset: a clock jump reset the zone in this frame.
    """

    zone: str
    ts_s: float
    occupancy: dict[str, int]
    queue_length: int
    wait: WaitEstimate
    dwells: tuple[Dwell, ...] = ()
    reset: bool = False


@dataclass(slots=True)
class _Member:
    enter_s: float
    last_s: float  # last observation (inside or out)
    last_in_s: float
    censored: bool
    out_since_s: float | None = None
    done: bool = False
    vote: ClassVote = field(default_factory=ClassVote)
    trail: deque[tuple[float, float, float]] = field(default_factory=lambda: deque(maxlen=12))


class ZoneCounter:
    """Occupancy, dwell, queue and wait of one zone.

    Args:
        zone: the polygon and its settings.
        timing: membership time constants; the defaults suit 2-30 fps.
    """

    def __init__(self, zone: ZoneConfig, timing: ZoneTiming | None = None) -> None:
        self.zone = zone
        self.timing = timing or ZoneTiming()
        self._polygon = np.asarray(zone.polygon, np.float64)
        self._members: dict[int, _Member] = {}
        self._clock = ClockGuard(max_gap_s=max(60.0, 2 * self.timing.lost_s))
        self._start_s: float | None = None
        self.wait = WaitEstimator(zone.wait_window_s, zone.capacity)

    def __len__(self) -> int:
        """Tracks remembered (bounded)."""
        return len(self._members)

    def update(self, tracks: Tracks, crossings: Sequence[Crossing] = ()) -> ZoneState:
        """Advance by one frame of tracks and the line crossings counted in the same frame."""
        now = tracks.ts_s
        jumped = self._clock.check(now) is not None
        if jumped or self._start_s is None:
            self._members.clear()
            self._start_s = now
            self.wait.reset(now)
        inside = points_in_polygon(anchors(tracks.xyxy, self.zone.anchor), self._polygon)
        riders = rider_mask(tracks.xyxy, tracks.class_id)
        dwells: list[Dwell] = []
        for i in range(len(tracks)):
            dwell = self._observe(tracks, i, (bool(inside[i]), bool(riders[i])))
            if dwell is not None:
                dwells.append(dwell)
        dwells.extend(self._expire(now))
        dwells = [d for d in dwells if not d.rider]
        self._departures(now, crossings, dwells)
        return self._state(now, tuple(dwells), jumped)

    def _observe(self, tracks: Tracks, i: int, flags: tuple[bool, bool]) -> Dwell | None:
        """Fold track ``i`` in; ``flags`` = (anchor inside the polygon, riding a two-wheeler)."""
        inside, rider = flags
        now, tid = tracks.ts_s, int(tracks.track_id[i])
        box = tracks.xyxy[i].astype(np.float64)
        cls = int(tracks.class_id[i])
        m = self._members.get(tid)
        if m is None or m.done:
            if not inside:
                return None
            m = self._new(now)
            self._members[tid] = m
        m.vote.add(cls, float(tracks.confidence[i]), rider)
        m.last_s = now
        pt = anchors(box, self.zone.anchor)[0]
        if not m.trail or now - m.trail[-1][0] >= self.zone.speed_window_s / 8:
            m.trail.append((now, float(pt[0]), float(pt[1])))
        if inside:
            m.last_in_s, m.out_since_s = now, None
            return None
        if m.out_since_s is None:
            m.out_since_s = now
        if now - m.out_since_s >= self.timing.leave_after_s:
            return self._leave(tid, m, m.out_since_s, vanished=False)
        return None

    def _new(self, now: float) -> _Member:
        assert self._start_s is not None
        censored = now - self._start_s < self.timing.warmup_s
        return _Member(now, now, now, censored)

    def _leave(self, tid: int, m: _Member, leave_s: float, vanished: bool) -> Dwell:
        m.done = True
        name = CLASS_NAMES[m.vote.voted()]
        return Dwell(
            self.zone.name, tid, name, m.enter_s, leave_s, m.censored, vanished, m.vote.is_rider()
        )

    def _expire(self, now: float) -> list[Dwell]:
        out: list[Dwell] = []
        t = self.timing
        for tid, m in list(self._members.items()):
            if not m.done and now - m.last_s >= t.lost_s:
                out.append(self._leave(tid, m, m.last_in_s, vanished=True))
            elif m.done and now - m.last_s >= t.linger_s:
                del self._members[tid]
        if len(self._members) > t.max_members:
            oldest = sorted(self._members, key=lambda k: self._members[k].last_s)
            for tid in oldest[: len(self._members) - t.max_members]:
                del self._members[tid]
        return out

    def _departures(self, now: float, crossings: Sequence[Crossing], dwells: list[Dwell]) -> None:
        z = self.zone
        if z.exit_line is None:
            for d in dwells:
                if d.class_name in VEHICLE_CLASSES:
                    self.wait.departure(d.leave_s, None if d.censored else d.dwell_s)
            return
        for c in crossings:
            if c.line != z.exit_line or (z.exit_direction and c.direction != z.exit_direction):
                continue
            m = self._members.get(c.track_id)
            waited = None if m is None or m.censored else c.ts_s - m.enter_s
            self.wait.departure(c.ts_s, waited)

    def _speed_px_s(self, m: _Member) -> float | None:
        """Anchor displacement over the speed window; None with too little history."""
        if len(m.trail) < 2:
            return None
        t1, x1, y1 = m.trail[-1]
        t0, x0, y0 = next(
            (p for p in m.trail if t1 - p[0] <= self.zone.speed_window_s), m.trail[-1]
        )
        if t1 - t0 < 0.5 * self.zone.speed_window_s:
            return None
        return float(np.hypot(x1 - x0, y1 - y0)) / (t1 - t0)

    def _state(self, now: float, dwells: tuple[Dwell, ...], jumped: bool) -> ZoneState:
        occupancy: dict[str, int] = {}
        queued, oldest = 0, None
        for m in self._members.values():
            if m.done or m.out_since_s is not None or now - m.last_in_s > self.timing.hold_s:
                continue
            if m.vote.is_rider():
                continue
            cls = m.vote.voted()
            occupancy[CLASS_NAMES[cls]] = occupancy.get(CLASS_NAMES[cls], 0) + 1
            speed = self._speed_px_s(m)
            if IS_VEHICLE[cls] and speed is not None and speed < self.zone.stationary_px_s:
                queued += 1
                oldest = max(oldest or 0.0, now - m.enter_s)
        wait = self.wait.estimate(now, queued, oldest)
        return ZoneState(self.zone.name, now, occupancy, queued, wait, dwells, jumped)
