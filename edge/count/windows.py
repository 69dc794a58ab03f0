"""Counting stage helpers: sliding windows over event times (rates, recent samples), clock guard.

Everything is measured on the source timestamps ``ts_s`` the frames carry, never on frame
counts. A window keeps at most ``max_events`` entries, so memory stays bounded whatever the
traffic does; when the cap bites, the oldest entries go first and the rate is computed over the
span the window still covers (it never overstates the rate).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class ClockJump:
    """A discontinuity of the source clock.

    Attributes:
        prev_s: the last time seen before the jump.
        ts_s: the time that jumped.
    """

    prev_s: float
    ts_s: float

    @property
    def backwards(self) -> bool:
        """True when time went backwards."""
        return self.ts_s < self.prev_s


class ClockGuard:
    """Detects source-clock jumps: time going backwards, or a gap longer than ``max_gap_s``.

    Args:
        max_gap_s: a forward step longer than this is a jump (camera paused, NTP step, a replay
            restarting); shorter gaps are ordinary dropped frames. Longer: fewer resets after
            outages, but a stale window may then describe traffic long gone.
        tolerance_s: backward steps up to this are jitter (re-ordered timestamps), not jumps.
    """

    def __init__(self, max_gap_s: float = 60.0, tolerance_s: float = 0.05) -> None:
        self.max_gap_s = max_gap_s
        self.tolerance_s = tolerance_s
        self.last_s: float | None = None

    def check(self, ts_s: float) -> ClockJump | None:
        """Advance to ``ts_s``; return the jump if this step was one (the guard then re-bases)."""
        prev = self.last_s
        if prev is None:
            self.last_s = ts_s
            return None
        if ts_s < prev - self.tolerance_s or ts_s - prev > self.max_gap_s:
            self.last_s = ts_s
            return ClockJump(prev, ts_s)
        self.last_s = max(prev, ts_s)
        return None


class EventWindow:
    """Times (and optional values) of recent events within ``window_s`` seconds.

    Args:
        window_s: how far back events count. Longer: steadier rates, slower to follow change.
        max_events: hard cap on remembered events (oldest dropped first).
    """

    def __init__(self, window_s: float, max_events: int = 4096) -> None:
        if window_s <= 0:
            raise ValueError("window_s must be positive")
        self.window_s = window_s
        self._events: deque[tuple[float, float]] = deque(maxlen=max_events)
        self._start_s: float | None = None

    def __len__(self) -> int:
        return len(self._events)

    def reset(self, now_s: float | None = None) -> None:
        """Forget every event; the window starts again at ``now_s`` (first use if None)."""
        self._events.clear()
        self._start_s = now_s

    def add(self, ts_s: float, value: float = 1.0) -> None:
        """Record an event at ``ts_s`` (with an optional value, e.g. a measured wait)."""
        if self._start_s is None:
            self._start_s = ts_s
        self._events.append((ts_s, value))

    def _expire(self, now_s: float) -> None:
        horizon = now_s - self.window_s
        while self._events and self._events[0][0] < horizon:
            self._events.popleft()

    def count(self, now_s: float) -> int:
        """Events in ``[now_s - window_s, now_s]``."""
        self._expire(now_s)
        return sum(1 for t, _ in self._events if t <= now_s)

    def values(self, now_s: float) -> list[float]:
        """Values of the events in the window, oldest first."""
        self._expire(now_s)
        return [v for t, v in self._events if t <= now_s]

    def covered_s(self, now_s: float) -> float:
        """Seconds the window really covers at ``now_s``: ``window_s``, less after a reset."""
        if self._start_s is None:
            return 0.0
        span = min(self.window_s, now_s - self._start_s)
        if self._events and len(self._events) == self._events.maxlen:
            span = min(span, now_s - self._events[0][0])
        return max(span, 0.0)

    def rate(self, now_s: float, min_span_s: float = 1.0) -> float | None:
        """Events per second over the covered span, or None if it is shorter than
        ``min_span_s`` (too little history to say). Never negative."""
        span = self.covered_s(now_s)
        if span < min_span_s:
            return None
        return max(self.count(now_s), 0) / span


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100, linear interpolation) of ``values``; None if empty."""
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)
