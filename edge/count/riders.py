"""Counting stage helper: is a person track a rider, and which two-wheeler does it belong to.

The per-frame geometry (``classes.ridden``: feet inside a two-wheeler box) fails in dense
traffic: the motorbike is half hidden by the one ahead, or not detected at all at the moment
its rider crosses the line. So a person track is judged over time, from evidence a rider has
and a walker lacks:

- **riding**: how many of its observations stood on a two-wheeler box (``classes.rides``:
  at least two, and at least half of them);
- **speed**: the fastest it moved over a window of at least ``SPEED_WINDOW_S``, in its own box
  heights per second. Walking is about 0.8 heights/s (1.4 m/s for 1.7 m) and running about 2;
  ``RIDER_SPEED_HPS`` (2.5) is beyond any pedestrian and below a motorbike turning at a
  junction (about 3 to 6). Measured in box heights, the rule needs no camera calibration;
- **companion**: the two-wheeler track it last rode, so its crossing can be given to its
  vehicle.

A person on a bicycle box who never goes beyond ``PUSH_SPEED_HPS`` (1.5 heights/s, a brisk
walk) is walking it: a pedestrian pushing a bicycle, counted as a pedestrian. The exception is
for bicycles only: a motorbike is ridden, even at walking pace in a queue.

A person's crossing is decided once the track has ``DECIDE_AFTER_S`` of evidence (a track
first seen on the line waits that long; one seen before is decided at once). A rider is never
counted as a pedestrian. Its vehicle is counted once: ``Claims`` remembers the two-wheeler
crossings of each line for ``CLAIM_S``, so a rider crossing whose vehicle (its companion, or
a two-wheeler crossing at the same place and time) already counted adds nothing, and one whose
vehicle did not count yet counts it (as the companion's class, else ``motorcycle``) and keeps
the vehicle's own crossing from counting again.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from edge.classes import CLASS_ID, PERSON, ClassVote
from edge.geometry import F64

#: A person faster than this (its box heights per second) is riding something.
RIDER_SPEED_HPS = 2.5
#: A person on a bicycle never faster than this (box heights per second) is pushing it.
PUSH_SPEED_HPS = 1.5
#: Speed is measured over windows at least this long (box jitter over one frame is no speed)...
SPEED_WINDOW_S = 0.4
#: ...and at most this long (a longer gap may hide an identity switch).
SPEED_MAX_WINDOW_S = 1.5
#: A person crossing is decided once its track has this much evidence (seconds of life).
DECIDE_AFTER_S = 0.5
#: A rider's crossing and its vehicle's crossing of the same line are one when this close in time.
CLAIM_S = 2.0
#: Without a known companion, a two-wheeler crossing is the rider's when this close in time...
NEAR_S = 0.5
#: ...and this close along the line, in the person box's sizes.
NEAR_SIZES = 1.0
#: Recent two-wheeler crossings remembered per line (bounded).
_MAX_CLAIMS = 64


@dataclass(slots=True)
class RiderEvidence:
    """What one track has shown of riding: fixed size, no history.

    Attributes:
        first_ts: time of the track's first observation, seconds.
        ref_pt: anchor at the start of the current speed window, pixels.
        ref_ts: start of the current speed window, seconds.
        ref_h: box height then, pixels.
        max_speed_hps: fastest speed over a finished window, box heights per second.
        companion: track id of the two-wheeler it last rode; -1 for none.
    """

    first_ts: float
    ref_pt: F64
    ref_ts: float
    ref_h: float
    max_speed_hps: float = 0.0
    companion: int = -1

    @classmethod
    def start(cls, pt: F64, height: float, ts: float) -> RiderEvidence:
        """Evidence of a track first seen at ``pt`` (anchor) with a box ``height`` at ``ts``."""
        return cls(ts, pt.copy(), ts, max(height, 1.0))

    def observe(self, pt: F64, height: float, ts: float, companion: int) -> None:
        """Fold one observation in: anchor ``pt``, box ``height``, the two-wheeler it rides."""
        if companion >= 0:
            self.companion = companion
        dt = ts - self.ref_ts
        if dt < SPEED_WINDOW_S:
            return
        if dt <= SPEED_MAX_WINDOW_S:
            dist = float(np.hypot(*(pt - self.ref_pt)))
            speed = dist / dt / max((height + self.ref_h) / 2, 1.0)
            self.max_speed_hps = max(self.max_speed_hps, speed)
        self.ref_pt, self.ref_ts, self.ref_h = pt.copy(), ts, max(height, 1.0)

    def settled(self, ts: float) -> bool:
        """Whether the track has been seen long enough to judge it."""
        return ts - self.first_ts >= DECIDE_AFTER_S

    def fast(self) -> bool:
        """Faster than any pedestrian at some point."""
        return self.max_speed_hps >= RIDER_SPEED_HPS


def is_rider(vote: ClassVote, evidence: RiderEvidence, vehicle: int) -> bool:
    """The rider rule over a person track's life.

    Args:
        vote: the track's class vote (with its riding observations).
        evidence: its speed and companion.
        vehicle: the voted class id of its companion two-wheeler, -1 when unknown.

    Returns:
        True for a rider (riding most of the time, or faster than any pedestrian), unless it
        only ever walked beside or with a bicycle.
    """
    if vote.voted() != PERSON:
        return False
    if evidence.fast():
        return True
    if vehicle == CLASS_ID["bicycle"] and evidence.max_speed_hps < PUSH_SPEED_HPS:
        return False
    return vote.is_rider()


@dataclass(frozen=True, slots=True)
class Claim:
    """One two-wheeler counted on a line: by its own track or on behalf of its rider."""

    ts_s: float
    direction: str
    t_along: float  # where it crossed, 0 = A .. 1 = B
    vehicle_id: int  # the two-wheeler's track id (-1 when unknown)
    by_rider: bool


@dataclass
class Claims:
    """Recent two-wheeler crossings of one line (bounded), to count each vehicle once.

    Args:
        length_px: the line's length in pixels.
    """

    length_px: float
    recent: deque[Claim] = field(default_factory=lambda: deque(maxlen=_MAX_CLAIMS))

    def counted_for(self, rider: Claim, size_px: float) -> bool:
        """Whether the vehicle of a rider's crossing (``rider.vehicle_id``: its companion, or
        -1) was already counted: its companion crossed, or (no companion) a two-wheeler crossed
        at the same place and time."""
        for c in self.recent:
            if c.direction != rider.direction or abs(c.ts_s - rider.ts_s) > CLAIM_S:
                continue
            if rider.vehicle_id >= 0 and c.vehicle_id == rider.vehicle_id:
                return True
            if rider.vehicle_id < 0 and self._near(c, rider, size_px):
                return True
        return False

    def taken_by_rider(self, vehicle: Claim, size_px: float) -> bool:
        """Whether a rider already counted this two-wheeler's crossing (and take it)."""
        for c in self.recent:
            if not c.by_rider or c.direction != vehicle.direction:
                continue
            if abs(c.ts_s - vehicle.ts_s) > CLAIM_S:
                continue
            same = c.vehicle_id == vehicle.vehicle_id >= 0
            if same or (c.vehicle_id < 0 and self._near(c, vehicle, size_px)):
                self.recent.remove(c)
                return True
        return False

    def add(self, claim: Claim) -> None:
        """Remember a two-wheeler counted on this line."""
        self.recent.append(claim)

    def _near(self, a: Claim, b: Claim, size_px: float) -> bool:
        along_px = abs(a.t_along - b.t_along) * self.length_px
        return abs(a.ts_s - b.ts_s) <= NEAR_S and along_px <= NEAR_SIZES * size_px
