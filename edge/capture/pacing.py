"""Capture pacing: the one ``detect_fps`` thinning schedule, and motion images of skipped frames.

Every source, live or recorded, is thinned by the same rule, in source time (never frame
counts): a frame is due when it reaches the next point of a grid of ``1 / detect_fps`` seconds
anchored at the first frame. After a stall longer than a period the next point moves up to the
frame that ended it, so at most one extra frame is due right after a stall, never a backlog.

A frame that is not processed (thinned out here, or replaced in a camera's newest-frame slot)
leaves a small gray copy behind (``SkippedFrames``) that travels with the next processed frame
(``Frame.between``), for the tracker's optical flow.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator

from edge.capture import Gap
from edge.capture.skipped import SkippedFrames
from edge.types import Frame

#: Tolerance so that 30 fps thinned to 5 fps keeps every 6th frame despite timestamp rounding.
_TOLERANCE_S = 1e-3


class Thinning:
    """Which frames are due at ``detect_fps`` (None: every frame).

    Args:
        detect_fps: processed frames per second of source time at most.
    """

    def __init__(self, detect_fps: float | None) -> None:
        self._period_s = 1.0 / detect_fps if detect_fps else 0.0
        self._next_due_s: float | None = None
        self.skipped = 0

    def due(self, ts_s: float) -> bool:
        """Whether the frame taken at ``ts_s`` is to be processed (counts those that are not)."""
        if not self._period_s:
            return True
        if self._next_due_s is None:
            self._next_due_s = ts_s + self._period_s
            return True
        if ts_s + _TOLERANCE_S < self._next_due_s:
            self.skipped += 1
            return False
        self._next_due_s = max(self._next_due_s + self._period_s, ts_s)
        return True


def thinned(
    frames: Iterable[Frame | Gap], detect_fps: float | None, keep_motion: bool
) -> Iterator[Frame]:
    """The due frames of ``frames`` in the caller's thread, each carrying the motion images of
    the frames skipped before it (for scripts and tools; the runtime uses ``runtime.feed``)."""
    thinning = Thinning(detect_fps)
    carry = SkippedFrames(keep_motion)
    for frame in frames:
        if isinstance(frame, Gap):
            carry.clear()
        elif not thinning.due(frame.ts_s):
            carry.add(frame.image)
        else:
            yield dataclasses.replace(frame, between=carry.take())
