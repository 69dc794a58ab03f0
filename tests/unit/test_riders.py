"""Riders: table tests of the per-track rider rule under occlusion (synthetic tracks, real
counter), and of the class vote by evidence."""

from __future__ import annotations

import numpy as np
import pytest

from edge.classes import CLASS_ID, ClassVote
from edge.count.line_counter import LineCounter
from edge.count.riders import DECIDE_AFTER_S, RiderEvidence, is_rider
from tests.unit.test_line_counter import LINE, Obs, frames, run, summary

#: Frame period of the synthetic clips, seconds (25 fps).
DT = 0.04


def moving(
    track_id: int,
    cls: str,
    y0: float,
    speed_px_s: float,
    frames: range,
    *,
    x: float = 100.0,
    **kw: float,
) -> list[Obs]:
    """A box moving down (towards "in" across the line y = 100), seen in ``frames`` only."""
    return [
        Obs(i * DT, track_id, x, y0 + speed_px_s * i * DT, cls, **kw)  # type: ignore[arg-type]
        for i in frames
    ]


ALL = range(0, 40)  # 1.6 s
#: A motorbike at 200 px/s (its rider, 60 px tall, moves 3.3 of its heights per second).
BIKE = {"w": 30.0, "h": 40.0}
RIDER = {"w": 24.0, "h": 60.0}
#: The rider sits on the bike: feet 10 px above the bike's bottom.
SEAT = -10.0
#: Walking: 40 px/s with a 60 px person = 0.7 heights per second.
WALK = 40.0

CASES = [
    (
        "rider and bike both seen: one motorcycle",
        moving(1, "motorcycle", 20, 200, ALL, **BIKE)
        + moving(2, "person", 20 + SEAT, 200, ALL, **RIDER),
        [("in", "motorcycle")],
    ),
    (
        "motorbike undetected for some frames around the line: one motorcycle",
        moving(1, "motorcycle", 20, 200, range(0, 8), **BIKE)
        + moving(1, "motorcycle", 20, 200, range(20, 40), **BIKE)
        + moving(2, "person", 20 + SEAT, 200, ALL, **RIDER),
        [("in", "motorcycle")],
    ),
    (
        "rider crosses while the bike box is hidden for good: the motorcycle counts once",
        moving(1, "motorcycle", 20, 200, range(0, 8), **BIKE)
        + moving(2, "person", 20 + SEAT, 200, ALL, **RIDER),
        [("in", "motorcycle")],
    ),
    (
        "bike never detected, only a fast person: a motorcycle, no pedestrian",
        moving(2, "person", 20, 200, ALL, **RIDER),
        [("in", "motorcycle")],
    ),
    (
        "rider and passenger on one motorbike: one motorcycle",
        moving(1, "motorcycle", 20, 200, ALL, **BIKE)
        + moving(2, "person", 20 + SEAT, 200, ALL, **RIDER)
        + moving(3, "person", 20 + SEAT - 4, 200, ALL, x=104, **RIDER),
        [("in", "motorcycle")],
    ),
    (
        "rider first seen on the line (hidden until then): decided later, one motorcycle",
        moving(1, "motorcycle", 20, 200, range(0, 6), **BIKE)
        + moving(2, "person", 20 + SEAT, 200, range(7, 40), **RIDER),
        [("in", "motorcycle")],
    ),
    (
        "pedestrian walking beside a slow motorbike: both count",
        moving(1, "motorcycle", 60, WALK, range(0, 60), **BIKE)
        + moving(2, "person", 60, WALK, range(0, 60), x=140, **RIDER),
        [("in", "motorcycle"), ("in", "person")],
    ),
    (
        "pedestrian pushing a bicycle (feet inside its box, walking pace): a pedestrian",
        moving(1, "bicycle", 60, WALK, range(0, 60), **BIKE)
        + moving(2, "person", 60 + SEAT, WALK, range(0, 60), **RIDER),
        [("in", "bicycle"), ("in", "person")],
    ),
    (
        "rider in a queue creeping over the line at walking pace: still a rider",
        moving(1, "motorcycle", 60, WALK, range(0, 60), **BIKE)
        + moving(2, "person", 60 + SEAT, WALK, range(0, 60), **RIDER),
        [("in", "motorcycle")],
    ),
    (
        "pedestrian first seen on the line, walking: counted once decided",
        moving(2, "person", 95, WALK, range(0, 30), **RIDER),
        [("in", "person")],
    ),
]


@pytest.mark.parametrize(("name", "observations", "expected"), CASES, ids=[c[0] for c in CASES])
def test_riders_under_occlusion(
    name: str, observations: list[Obs], expected: list[tuple[str, str]]
) -> None:
    assert sorted(summary(run(observations))) == expected, name


def test_a_hidden_riders_crossing_is_its_motorbike_track() -> None:
    obs = moving(1, "motorcycle", 20, 200, range(0, 8), **BIKE) + moving(
        2, "person", 20 + SEAT, 200, ALL, **RIDER
    )
    (crossing,) = run(obs)
    assert (crossing.class_name, crossing.track_id) == ("motorcycle", 1)


@pytest.mark.parametrize(
    ("name", "speeds_hps", "riding", "vehicle", "rider"),
    [
        ("fast, never on a box", [3.0], 0, -1, True),
        ("walking, never on a box", [0.8], 0, -1, False),
        ("walking on a motorbike box", [0.8], 10, CLASS_ID["motorcycle"], True),
        ("walking on a bicycle box: pushing it", [0.8], 10, CLASS_ID["bicycle"], False),
        ("cycling on a bicycle box", [2.0], 10, CLASS_ID["bicycle"], True),
        ("jogging past a parked motorbike", [1.8], 1, CLASS_ID["motorcycle"], False),
    ],
)
def test_rider_rule(
    name: str, speeds_hps: list[float], riding: int, vehicle: int, rider: bool
) -> None:
    vote = ClassVote()
    for i in range(10):
        vote.add(CLASS_ID["person"], 0.8, riding=i < riding)
    ev = RiderEvidence.start(np.zeros(2), 60.0, 0.0)
    y, ts = 0.0, 0.0
    for v in speeds_hps:
        ts += 0.5
        y += v * 60.0 * 0.5
        ev.observe(np.array([0.0, y]), 60.0, ts, -1)
    assert ev.settled(DECIDE_AFTER_S)
    assert is_rider(vote, ev, vehicle) is rider, name


@pytest.mark.parametrize(
    ("name", "observations", "voted"),
    [
        (
            "a car seen large and close outvotes a truck seen small and far",
            [("truck", 0.6, 20.0)] * 5 + [("car", 0.5, 90.0)] * 3,
            "car",
        ),
        (
            "same size: the more confident class",
            [("truck", 0.6, 40.0)] * 2 + [("car", 0.5, 40.0)] * 2,
            "truck",
        ),
        (
            "flow-placed boxes (score 0) weigh almost nothing",
            [("bus", 0.0, 100.0)] * 20 + [("car", 0.3, 30.0)],
            "car",
        ),
    ],
)
def test_class_vote_by_evidence(
    name: str, observations: list[tuple[str, float, float]], voted: str
) -> None:
    vote = ClassVote()
    for cls, conf, size in observations:
        vote.add(CLASS_ID[cls], conf, size_px=size)
    assert vote.voted() == CLASS_ID[voted], name


def test_a_crossing_waiting_for_rider_evidence_is_counted_when_the_stream_ends() -> None:
    """A walker first seen just before the line: its crossing waits ``DECIDE_AFTER_S``; if the
    recording ends (or the service stops) first, ``flush`` decides it, as a pedestrian."""
    walker = moving(1, "person", 95.0, 80.0, range(0, 4), w=24.0, h=60.0)  # 0.12 s, crosses
    counter = LineCounter((LINE,))
    held = [c for f in frames(walker) for c in counter.update(f)]
    assert held == []
    assert summary(counter.flush()) == [("in", "person")]
    assert counter.flush() == []
