"""Wait estimators and sliding windows: table tests on a fake clock (source seconds)."""

from __future__ import annotations

import pytest

from edge.count.wait import WaitEstimator, choose
from edge.count.windows import ClockGuard, EventWindow, percentile


@pytest.mark.parametrize(
    ("queue", "capacity", "measured", "littles", "expected"),
    [
        (0, None, None, None, (0.0, "littles_law")),  # empty queue: no wait, even stalled
        (0, None, 40.0, 12.0, (0.0, "littles_law")),
        (5, None, 40.0, 60.0, (40.0, "measured")),  # measured preferred while the view holds
        (5, 5, 40.0, 60.0, (60.0, "littles_law")),  # full zone: queue continues out of view
        (5, 5, 40.0, None, (40.0, "measured")),  # full but no departures: measured still
        (5, None, None, 60.0, (60.0, "littles_law")),
        (5, None, None, None, (None, "none")),  # stalled exit, nothing measured
    ],
)
def test_choose(
    queue: int,
    capacity: int | None,
    measured: float | None,
    littles: float | None,
    expected: tuple[float | None, str],
) -> None:
    assert choose(queue, capacity, measured, littles) == expected


def test_littles_law_from_exit_rate() -> None:
    est = WaitEstimator(window_s=60.0)
    est.start(0.0)
    for k in range(1, 61, 6):  # ten departures in 60 s: 1 every 6 s
        est.departure(float(k))
    w = est.estimate(60.0, queue_length=5, oldest_s=20.0)
    assert w.method == "littles_law"
    assert w.exit_rate_per_s == pytest.approx(10 / 60)
    assert w.wait_s == pytest.approx(30.0)
    assert w.departures == 10 and w.lower_bound_s == 20.0  # published whenever queued


def test_measured_wait_is_median_of_window_and_expires() -> None:
    est = WaitEstimator(window_s=60.0)
    est.start(0.0)
    for ts, waited in ((10.0, 30.0), (20.0, 50.0), (30.0, 40.0)):
        est.departure(ts, waited)
    w = est.estimate(40.0, queue_length=3, oldest_s=10.0)
    assert (w.wait_s, w.method, w.window_s) == (40.0, "measured", 60.0)
    # 100 s later the departures left the window: stalled, lower bound published.
    late = est.estimate(140.0, queue_length=3, oldest_s=95.0)
    assert (late.wait_s, late.method) == (None, "none")
    assert late.lower_bound_s == 95.0 and late.since_departure_s == pytest.approx(110.0)
    assert late.exit_rate_per_s == 0.0


def test_stalled_exit_from_the_start_has_no_estimate() -> None:
    est = WaitEstimator(window_s=300.0)
    est.start(0.0)
    w = est.estimate(120.0, queue_length=4, oldest_s=118.0)
    assert w.wait_s is None and w.method == "none"
    assert w.lower_bound_s == 118.0 and w.since_departure_s is None
    assert w.exit_rate_per_s == 0.0 and w.littles_s is None


def test_too_little_history_gives_no_rate() -> None:
    est = WaitEstimator(window_s=300.0, min_span_s=10.0)
    est.start(100.0)
    est.departure(101.0)
    w = est.estimate(103.0, queue_length=2, oldest_s=3.0)
    assert w.exit_rate_per_s is None and w.method == "none"


def test_reset_after_clock_jump_never_gives_negative_rates() -> None:
    est = WaitEstimator(window_s=60.0)
    est.start(1000.0)
    for k in range(10):
        est.departure(1000.0 + 5 * k, 20.0)
    est.reset(10.0)  # the clock went back by ~1000 s
    w = est.estimate(30.0, queue_length=2, oldest_s=5.0)
    assert w.departures == 0 and w.exit_rate_per_s == 0.0
    assert w.measured_s is None and w.method == "none"


def test_event_window_rate_uses_covered_span_only() -> None:
    win = EventWindow(window_s=60.0)
    win.reset(0.0)
    for t in (1.0, 2.0, 3.0):
        win.add(t)
    assert win.rate(10.0) == pytest.approx(3 / 10)  # 10 s covered, not 60
    assert win.rate(100.0) == 0.0
    assert win.rate(0.5) is None  # less than min_span_s of history


def test_event_window_is_bounded() -> None:
    win = EventWindow(window_s=1e9, max_events=100)
    win.reset(0.0)
    for k in range(10_000):
        win.add(float(k))
    assert len(win) == 100
    rate = win.rate(10_000.0)
    assert rate is not None and rate <= 1.0 + 1e-9  # capped window never overstates


@pytest.mark.parametrize(
    ("steps", "jumps"),
    [
        ([0.0, 0.04, 0.08, 0.12], 0),
        ([0.0, 1.0, 0.99, 2.0], 0),  # 10 ms backwards: jitter
        ([100.0, 101.0, 5.0, 6.0], 1),  # backwards
        ([0.0, 1.0, 500.0, 501.0], 1),  # forward beyond max_gap_s
        ([0.0, 30.0, 60.0], 0),  # long gaps but within max_gap_s
    ],
)
def test_clock_guard(steps: list[float], jumps: int) -> None:
    guard = ClockGuard(max_gap_s=60.0)
    assert sum(guard.check(t) is not None for t in steps) == jumps


def test_percentile() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([0.0, 10.0], 90) == pytest.approx(9.0)
