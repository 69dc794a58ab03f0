"""Counting stage: wait-time estimates of one queue, measured and by Little's law.

Two estimators over the same sliding window (``window_s`` of source time):

* **measured**: vehicles seen entering the queue zone and later crossing the exit line; the
  wait is the time between the two. The median of the waits completed in the window is
  reported. It lags (a wait is known only when the vehicle leaves) and it only sees the part of
  the queue inside the camera's view.
* **Little's law**: ``W = L / λ``, the vehicles queued now (``L``) over the departure rate over
  the window (``λ``, vehicles per second). It follows the queue at once and still works when
  the queue is longer than the camera sees, provided ``L`` comes from where the queue is.

Which one is published (``choose``):

1. empty queue (``L = 0``): wait 0 by Little's law, whatever the rate;
2. the zone is full (``L ≥ capacity``: the queue probably continues out of view): Little's law;
3. a measured wait completed in the window: measured;
4. departures in the window: Little's law;
5. otherwise (a queue and no departure: stalled exit, or too little history): no estimate
   (``None``, method ``none``) and a lower bound, the longest time a vehicle now queued has
   been in the zone. (The time since the last departure is published too, but it is not a
   bound on anybody's wait: vehicles may have joined after it.)

The lower bound is published whenever vehicles are queued: the measured median lags (it only
knows vehicles that already left), so while a red phase or a stalled booth holds the head of
the queue it can sit well below the time the first vehicle has already waited; the lower
bound shows that.

Clock jumps (source time going backwards or jumping forward) reset the windows: rates are
computed again from the jump on, and never negative.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from edge.count.windows import EventWindow, percentile

WaitMethod = Literal["measured", "littles_law", "none"]


@dataclass(frozen=True)
class WaitEstimate:
    """The wait of one queue at one time.

    Attributes:
        wait_s: the published estimate in seconds, None when unknown.
        method: which estimator gave ``wait_s``.
        window_s: the sliding window both estimators use, seconds.
        measured_s: median measured wait in the window, if any completed.
        littles_s: ``queue_length / exit_rate``, if departures were seen.
        exit_rate_per_s: departures per second over the window (None: too little history).
        departures: departures in the window.
        lower_bound_s: with a queue, the longest time-in-zone of a vehicle queued now: a
            true lower bound on its wait (the only figure when stalled, and a check on a
            lagging measured median).
        since_departure_s: seconds since the last departure (None: none since the reset).
    """

    wait_s: float | None
    method: WaitMethod
    window_s: float
    measured_s: float | None = None
    littles_s: float | None = None
    exit_rate_per_s: float | None = None
    departures: int = 0
    lower_bound_s: float | None = None
    since_departure_s: float | None = None


class WaitEstimator:
    """Departures and measured waits of one queue over a sliding window.

    Args:
        window_s: the sliding window (seconds of source time). Longer: steadier, slower to
            follow a change of service rate; it should hold several departures.
        capacity: vehicles the zone holds when the queue fills the camera's view (None: never
            assume the queue continues out of view).
        min_span_s: the rate needs this much history after a start or reset.
    """

    def __init__(
        self, window_s: float = 300.0, capacity: int | None = None, min_span_s: float = 10.0
    ) -> None:
        self.window_s = window_s
        self.capacity = capacity
        self.min_span_s = min(min_span_s, window_s)
        self._departures = EventWindow(window_s)
        self._waits = EventWindow(window_s)
        self._last_departure_s: float | None = None

    def reset(self, now_s: float) -> None:
        """Forget every departure and wait (after a clock jump); history restarts at ``now_s``."""
        self._departures.reset(now_s)
        self._waits.reset(now_s)
        self._last_departure_s = None

    def start(self, now_s: float) -> None:
        """Mark when observation began (the rate's history starts here)."""
        self._departures.reset(now_s)
        self._waits.reset(now_s)

    def departure(self, ts_s: float, wait_s: float | None = None) -> None:
        """A vehicle left the queue at ``ts_s``; ``wait_s`` if its entry was seen."""
        self._departures.add(ts_s)
        self._last_departure_s = ts_s
        if wait_s is not None and wait_s >= 0:
            self._waits.add(ts_s, wait_s)

    def estimate(self, now_s: float, queue_length: int, oldest_s: float | None) -> WaitEstimate:
        """The wait at ``now_s`` with ``queue_length`` vehicles queued.

        Args:
            now_s: current source time.
            queue_length: vehicles queued now (present and nearly stationary).
            oldest_s: longest time-in-zone of a vehicle queued now (the stalled lower bound).
        """
        rate = self._departures.rate(now_s, self.min_span_s)
        departures = self._departures.count(now_s)
        measured = percentile(self._waits.values(now_s), 50)
        littles = queue_length / rate if rate else None
        since = None if self._last_departure_s is None else now_s - self._last_departure_s
        wait, method = choose(queue_length, self.capacity, measured, littles)
        return WaitEstimate(
            wait_s=wait, method=method, window_s=self.window_s, measured_s=measured,
            littles_s=littles, exit_rate_per_s=rate, departures=departures,
            lower_bound_s=oldest_s if queue_length else None,
            since_departure_s=since,
        )  # fmt: skip


def choose(
    queue_length: int, capacity: int | None, measured: float | None, littles: float | None
) -> tuple[float | None, WaitMethod]:
    """Pick the published wait (the rule in the module docstring)."""
    if queue_length == 0:
        return 0.0, "littles_law"
    if capacity is not None and queue_length >= capacity and littles is not None:
        return littles, "littles_law"
    if measured is not None:
        return measured, "measured"
    if littles is not None:
        return littles, "littles_law"
    return None, "none"
