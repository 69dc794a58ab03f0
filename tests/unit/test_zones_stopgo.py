"""Stop-and-go on a counting line: table tests through the real tracker and LineCounter (and a
zone beside it).

A vehicle that waits on or near the line for minutes, with its box flickering and detections
missing (for up to 0.8 s at a time), must still count once when it finally drives on. Keeping
its id through those gaps is the tracker's job (``max_lost_s``); the counter trusts the ids.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from edge.classes import CLASS_ID
from edge.config import LineConfig, TrackerConfig, ZoneConfig
from edge.count.line_counter import LineCounter
from edge.count.zones import ZoneCounter
from edge.track.bytetrack import ByteTracker
from edge.types import Detections, Frame

LINE = LineConfig(name="L", a=(0.0, 230.0), b=(640.0, 230.0))  # moving down = "in"
FPS = 10.0
TRACKER = TrackerConfig(optical_flow=False)  # synthetic boxes, no images
IMAGE = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (480, 640, 3))  # costs no memory


@dataclass(frozen=True)
class Leg:
    """A piece of the vehicle's path: from y0 to y1 (anchor) over duration_s."""

    y0: float
    y1: float
    duration_s: float
    jitter_px: float = 0.0
    miss_every: int = 0  # drop every n-th detection (0: none)


def simulate(legs: list[Leg], gap_s: dict[int, float] | None = None, seed: int = 0) -> int:
    """Run the legs through the tracker and a LineCounter at 10 fps; return the crossings.

    ``gap_s`` maps a leg index to seconds of no detection before that leg (where a tracker
    would switch ids if it did not bridge the gap). Boxes are 60×40 px with flickering size
    and position.
    """
    rng = np.random.default_rng(seed)
    tracker = ByteTracker(TRACKER)
    counter = LineCounter([LINE], TRACKER)
    zone = ZoneCounter(ZoneConfig(name="Z", polygon=((0, 180), (640, 180), (640, 280), (0, 280))))
    t, total = 0.0, 0
    for k, leg in enumerate(legs):
        t += (gap_s or {}).get(k, 0.0)
        n = max(1, round(leg.duration_s * FPS))
        for i in range(n):
            t += 1 / FPS
            if leg.miss_every and i % leg.miss_every == 0:
                continue
            y = leg.y0 + (leg.y1 - leg.y0) * (i + 1) / n + rng.uniform(-1, 1) * leg.jitter_px
            x = 320.0 + rng.uniform(-1, 1) * leg.jitter_px
            w, h = 60 * rng.uniform(0.9, 1.1), 40 * rng.uniform(0.9, 1.1)
            box = np.array([[x - w / 2, y - h, x + w / 2, y]], np.float32)
            dets = Detections(box, np.array([0.7], np.float32),
                              np.array([CLASS_ID["car"]], np.int64))  # fmt: skip
            tracks = tracker.update(dets, Frame(IMAGE, round(t, 3), 0))
            crossings = counter.update(tracks)
            zone.update(tracks, crossings)
            total += len(crossings)
    assert len(zone) <= 4  # the zone beside the counter stays bounded too
    return total


APPROACH = Leg(100, 226, 3.0)
LEAVE = Leg(232, 400, 3.0)

CASES: list[tuple[str, list[Leg], dict[int, float] | None]] = [
    ("drive through", [Leg(100, 400, 4.0)], None),
    ("stop on the line 3 min, jitter 4 px",
     [APPROACH, Leg(229, 231, 180, jitter_px=4), LEAVE], None),
    (
        "stop on the line 3 min, jitter and missed detections",
        [APPROACH, Leg(229, 231, 180, jitter_px=4, miss_every=3), LEAVE],
        None,
    ),
    (
        "detections lost 0.5 s while stopped on the line",
        [APPROACH, Leg(229, 231, 90, jitter_px=4), Leg(231, 229, 90, jitter_px=4),
         Leg(232, 400, 3.0)],
        {2: 0.5},
    ),
    (
        "two gaps while stopped",
        [APPROACH, Leg(230, 230, 60, jitter_px=4), Leg(230, 230, 60, jitter_px=4),
         Leg(230, 230, 60, jitter_px=4, miss_every=4), Leg(232, 400, 3.0)],
        {2: 0.8, 3: 0.6},
    ),
    (
        "stop short, creep over, stop after, drive on",
        [Leg(100, 215, 3.0), Leg(215, 215, 60, jitter_px=3), Leg(215, 245, 20, jitter_px=3),
         Leg(245, 245, 60, jitter_px=3), Leg(245, 400, 3.0)],
        None,
    ),
    (
        "detections lost 0.8 s on the line",
        [APPROACH, Leg(229, 231, 30, jitter_px=4), Leg(231, 400, 3.0)],
        {1: 0.8, 2: 0.8},
    ),
]  # fmt: skip


@pytest.mark.parametrize(("name", "legs", "gaps"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("seed", [0, 1])
def test_stop_and_go_counts_once(
    name: str, legs: list[Leg], gaps: dict[int, float] | None, seed: int
) -> None:
    assert simulate(legs, gaps, seed) == 1, name
