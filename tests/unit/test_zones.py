"""Zone occupancy, dwell, queue state and wait: table tests with synthetic tracks, fake clock."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pytest

from edge.classes import CLASS_ID
from edge.config import ZoneConfig
from edge.config.tracker import MAX_LOST_LIMIT_S
from edge.count.zone_report import ZoneReport
from edge.count.zones import Dwell, ZoneCounter, ZoneState, ZoneTiming
from edge.types import Crossing, Tracks

# Zone: x 100..300, y 100..300 (bottom-centre anchors inside count).
SQUARE = ((100.0, 100.0), (300.0, 100.0), (300.0, 300.0), (100.0, 300.0))
Obs = tuple[int, str, float, float]  # track id, class, anchor x, anchor y


def make_tracks(ts: float, obs: Sequence[Obs], size: float = 40.0) -> Tracks:
    """Boxes of ``size`` px whose bottom-centre anchor is at (x, y)."""
    if not obs:
        return Tracks.empty(ts)
    xyxy = np.array([[x - size / 2, y - size, x + size / 2, y] for _, _, x, y in obs], np.float32)
    return Tracks(
        xyxy,
        np.full(len(obs), 0.8, np.float32),
        np.array([CLASS_ID[c] for _, c, _, _ in obs], np.int64),
        np.array([t for t, _, _, _ in obs], np.int64),
        ts,
    )


def run(
    counter: ZoneCounter,
    frames: Iterable[tuple[float, Sequence[Obs]]],
    crossings: dict[float, list[Crossing]] | None = None,
) -> tuple[list[ZoneState], list[Dwell]]:
    states, dwells = [], []
    for ts, obs in frames:
        st = counter.update(make_tracks(ts, obs), (crossings or {}).get(ts, []))
        states.append(st)
        dwells.extend(st.dwells)
    return states, dwells


def zone(**kw: object) -> ZoneCounter:
    return ZoneCounter(ZoneConfig(name="Z", polygon=SQUARE, **kw))  # type: ignore[arg-type]


def times(t0: float, t1: float, fps: float = 10.0) -> list[float]:
    return [round(t0 + k / fps, 4) for k in range(round((t1 - t0) * fps))]


def drive(tid: int, t0: float, t1: float, y0: float, y1: float) -> dict[float, Obs]:
    """A car moving in a straight line down x=200 from y0 at t0 to y1 at t1 (10 fps)."""
    return {t: (tid, "car", 200.0, y0 + (y1 - y0) * (t - t0) / (t1 - t0)) for t in times(t0, t1)}


def merge(*tracks: dict[float, Obs]) -> list[tuple[float, list[Obs]]]:
    keys = sorted({t for tr in tracks for t in tr})
    return [(t, [tr[t] for tr in tracks if t in tr]) for t in keys]


def test_occupancy_per_class_and_outside_ignored() -> None:
    c = zone()
    frame: list[Obs] = [
        (1, "car", 150, 150), (2, "car", 250, 250), (3, "person", 200, 200), (4, "car", 50, 50)
    ]  # fmt: skip
    states, _ = run(c, [(0.0, frame), (0.1, frame)])
    assert states[-1].occupancy == {"car": 2, "person": 1}


def test_empty_zone_has_zero_wait() -> None:
    states, _ = run(zone(), [(t, []) for t in times(0, 30)])
    last = states[-1]
    assert last.occupancy == {} and last.queue_length == 0
    assert (last.wait.wait_s, last.wait.method) == (0.0, "littles_law")


@pytest.mark.parametrize(("pass_s", "expected_dwell"), [(3.0, 2.0), (60.0, 40.0)])
def test_dwell_from_entry_to_leaving(pass_s: float, expected_dwell: float) -> None:
    # Inside (y 100..300) for two thirds of pass_s.
    # y 50 -> 410 over 1.2 pass_s: the same speed, seen for a while after leaving.
    empty: list[tuple[float, list[Obs]]] = [(t, []) for t in times(0, 2)]
    _, dwells = run(zone(), empty + merge(drive(7, 2.0, 2.0 + 1.2 * pass_s, 50, 410)))
    assert len(dwells) == 1
    d = dwells[0]
    assert d.dwell_s == pytest.approx(expected_dwell, abs=0.21)
    assert not d.censored and not d.vanished and d.class_name == "car"


def test_flicker_on_the_edge_does_not_split_a_dwell() -> None:
    frames = []
    for k, t in enumerate(times(0, 20)):
        y = 300.0 + (3.0 if k % 3 == 0 else -3.0)  # anchor jitters across the bottom edge
        frames.append((t, [(1, "car", 200.0, y)]))
    frames += [(t, [(1, "car", 200.0, 400.0)]) for t in times(20, 22)]
    _, dwells = run(zone(), frames)
    assert len(dwells) == 1 and dwells[0].dwell_s == pytest.approx(20.0, abs=0.2)


def test_queue_counts_stopped_vehicles_with_jitter_not_moving_ones_or_people() -> None:
    rng = np.random.default_rng(1)
    frames = []
    for t in times(0, 10):
        jx, jy = rng.normal(0, 2.0, 2)  # detector box jitter, pixels
        frames.append(
            (t, [(1, "car", 150 + jx, 250 + jy), (2, "car", 110 + 18 * t, 150.0),
                 (3, "person", 200 + jy, 200 + jx), (4, "truck", 120.0, 120 + 40 * t)])
        )  # fmt: skip
    states, _ = run(zone(stationary_px_s=15.0, speed_window_s=2.0), frames)
    assert states[5].queue_length == 0  # not enough history yet (0.5 s)
    assert states[-1].queue_length == 1  # car 1 only: car 2 moves at 18 px/s
    assert states[30].occupancy == {"car": 2, "person": 1, "truck": 1}
    assert states[30].queue_length == 1  # the truck (40 px/s) is not queued either


def test_missed_detections_keep_occupancy() -> None:
    frames = [(t, [] if 3.0 <= t < 3.6 else [(1, "car", 200.0, 200.0)]) for t in times(0, 6)]
    states, dwells = run(zone(), frames)
    assert all(s.occupancy == {"car": 1} for s in states)
    assert dwells == []


def test_a_new_id_is_a_new_stay_identity_is_the_trackers() -> None:
    """An id switch the tracker did not bridge: the zone does not guess that the new id is
    the old car (measured: guessing merged more stays than it mended, docs/tracking.md). The
    old id's stay ends, vanished, at its last sight; the new id's starts when it appears."""
    approach = drive(1, 0.0, 2.0, 50, 200)
    stop1 = {t: (1, "car", 200.0, 200.0) for t in times(2.0, 60.0)}
    stop2 = {t: (2, "car", 201.0, 201.0) for t in times(61.0, 120.0)}  # new id after 1 s gap
    leave = drive(2, 120.0, 122.0, 201, 350)
    _, dwells = run(zone(), merge(approach, stop1, stop2, leave))
    assert [(d.track_id, d.vanished) for d in dwells] == [(1, True), (2, False)]
    assert dwells[0].leave_s == pytest.approx(59.9)
    assert dwells[1].enter_s == pytest.approx(61.0)


def test_members_outlive_every_id_the_tracker_may_still_revive() -> None:
    assert ZoneTiming().lost_s > MAX_LOST_LIMIT_S
    with pytest.raises(ValueError, match="lost_s"):
        ZoneTiming(lost_s=MAX_LOST_LIMIT_S)


def test_inside_at_start_is_censored_and_vanished_track_ends_at_last_sight() -> None:
    frames = [(t, [(1, "car", 200.0, 200.0)]) for t in times(0, 10)]
    frames += [(t, []) for t in times(10, 15)]
    _, dwells = run(zone(), frames)
    (d,) = dwells
    assert d.censored and d.vanished
    assert d.leave_s == pytest.approx(9.9)


def test_measured_wait_from_entry_to_exit_line() -> None:
    cars = [drive(k, 10.0 * k, 10.0 * k + 20.0, 50, 350) for k in range(1, 6)]
    crossings = {}
    for k in range(1, 6):  # exit line at the zone's bottom edge, crossed as it leaves
        ts = round(10.0 * k + 20.0 * 250 / 300, 4)
        crossings[min(cars[k - 1], key=lambda t: abs(t - ts))] = [
            Crossing("exit", "out", "car", k, ts, 0.8)
        ]
    c = zone(exit_line="exit", exit_direction="out", wait_window_s=120.0)
    states, _ = run(c, merge(*cars), crossings)
    w = states[-1].wait
    assert w.departures == 5
    assert w.measured_s == pytest.approx(20.0 * 200 / 300, abs=0.3)  # y 100 -> 300


def test_exit_line_in_the_other_direction_is_not_a_departure() -> None:
    car = drive(1, 0.0, 10.0, 50, 350)
    crossings = {5.0: [Crossing("exit", "in", "car", 1, 5.0, 0.8)]}
    states, _ = run(zone(exit_line="exit", exit_direction="out"), merge(car), crossings)
    assert states[-1].wait.departures == 0


def test_clock_jump_resets_members_and_windows() -> None:
    stopped = [(t, [(1, "car", 200.0, 200.0)]) for t in times(1000, 1010)]
    after = [(t, [(1, "car", 200.0, 200.0)]) for t in times(5, 8)]
    states, dwells = run(zone(), stopped + after)
    jump = states[len(stopped)]
    assert jump.reset and jump.ts_s == 5.0
    assert dwells == []  # the stay in progress is dropped, not turned into a bogus dwell
    assert all(s.wait.exit_rate_per_s is None or s.wait.exit_rate_per_s >= 0 for s in states)
    forward = [(t, [(1, "car", 200.0, 200.0)]) for t in times(4000, 4002)]
    states2, _ = run(zone(), stopped + forward)
    assert states2[len(stopped)].reset


def test_stalled_exit_reports_lower_bound() -> None:
    frames = [(t, [(1, "car", 150.0, 250.0), (2, "car", 250.0, 250.0)]) for t in times(0, 30)]
    states, _ = run(zone(exit_line="exit"), frames)
    w = states[-1].wait
    assert states[-1].queue_length == 2
    assert (w.wait_s, w.method) == (None, "none")
    assert w.lower_bound_s == pytest.approx(29.9)


def test_memory_is_bounded_over_a_simulated_day() -> None:
    c = zone()
    sizes = []
    for tid, minute in enumerate(range(0, 24 * 60, 10), 1):  # a car every 10 minutes
        t0 = minute * 60.0
        for t, obs in merge(drive(tid, t0, t0 + 3.0, 50, 350)):
            c.update(make_tracks(t, obs))
        c.update(make_tracks(t0 + 60.0, []))
        sizes.append(len(c))
    assert max(sizes) <= 2


def test_report_summary() -> None:
    rep = ZoneReport(sample_s=5.0)
    c = zone()
    for t, obs in merge(drive(1, 0.0, 10.0, 50, 350), drive(2, 2.0, 12.0, 50, 350)):
        rep.add(c.update(make_tracks(t, obs)))
    for t in times(12.0, 20.0):
        rep.add(c.update(make_tracks(t, [])))
    out = rep.to_json()
    assert out["dwell"]["count"] == 2 and out["dwell"]["median_s"] == pytest.approx(6.7, abs=0.2)
    assert out["occupancy"]["max"] == {"car": 2}
    assert 0 < out["occupancy"]["mean"]["car"] < 1
    assert [s["t"] for s in out["series"]] == [0.0, 5.0, 10.0, 15.0]


def test_riders_are_part_of_their_two_wheeler() -> None:
    c = zone()
    bike = [180.0, 200.0, 220.0, 260.0]  # motorcycle box, anchor (200, 260) inside
    rider = [185.0, 170.0, 215.0, 250.0]  # person whose feet are on the bike
    walker = [240.0, 200.0, 260.0, 250.0]
    states = []
    for t in times(0, 3):
        tracks = Tracks(
            np.array([bike, rider, walker], np.float32), np.full(3, 0.8, np.float32),
            np.array([CLASS_ID["motorcycle"], CLASS_ID["person"], CLASS_ID["person"]]),
            np.array([1, 2, 3]), t,
        )  # fmt: skip
        states.append(c.update(tracks))
    assert states[-1].occupancy == {"motorcycle": 1, "person": 1}
