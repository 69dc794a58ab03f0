"""The capture → process edge: how the processing loop gets frames, with its backpressure rule.

Live camera (``opencv``, ``picamera``): the source's reader thread keeps only the newest frame
in a one-frame slot and counts what it overwrites; the camera never waits for us. Recorded file
(``replay``): a reader thread fills a queue of ``QUEUE_FRAMES`` and blocks when it is full, so
nothing is dropped and runs are repeatable. Both answer ``next(timeout_s)`` so the processing
loop wakes up regularly (stop requests, status, watchdog) even when no frame comes.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from typing import TypeVar

from edge.capture import FrameSource
from edge.capture.live import LiveSource, SourceStats
from edge.capture.skipped import SkippedFrames
from edge.types import Frame

#: Frames a recorded source decodes ahead of the processing thread (replay: blocking).
QUEUE_FRAMES = 4
_PUT_TIMEOUT_S = 0.25
T = TypeVar("T")


class EndOfFrames(Exception):
    """A recorded source has no more frames."""


def put_until_stopped(
    q: queue.Queue[T], item: T, stop: threading.Event, poll_s: float = _PUT_TIMEOUT_S
) -> bool:
    """Put ``item`` into a bounded queue, waiting while it is full; give up once ``stop`` is
    set (the consumer is gone). Returns True if the item was queued."""
    while not stop.is_set():
        try:
            q.put(item, timeout=poll_s)
            return True
        except queue.Full:
            continue
    return False


class LiveFeed:
    """capture → process edge of a live source: its newest-frame slot, optionally thinned.

    ``detect_fps`` keeps at most that many frames per second of source time; the rest are
    counted as dropped (it saves CPU and heat when the scene does not need more). With
    ``keep_skipped`` the motion images of a thinned-out frame (its own and those it carried)
    go on with the next frame delivered, so optical flow still sees every camera frame.
    """

    def __init__(
        self, source: LiveSource, detect_fps: float | None, keep_skipped: bool = False
    ) -> None:
        self.source = source
        self._period_s = 1.0 / detect_fps if detect_fps else 0.0
        self._next_due_s = float("-inf")
        self._skipped = 0
        self._carry = SkippedFrames(keep_skipped)

    def next(self, timeout_s: float) -> Frame | None:
        """The newest frame, or None if none is due within ``timeout_s``."""
        frame = self.source.read(timeout_s)
        if frame is None or not self._period_s:
            return frame
        for image in frame.between:
            self._carry.add(image)
        if frame.ts_s + 1e-3 < self._next_due_s:
            self._skipped += 1
            self._carry.add(frame.image)
            return None
        # The same schedule as a replay at ``detect_fps``: a grid in source time, re-anchored
        # at the frame when the loop fell behind it.
        self._next_due_s = (
            frame.ts_s + self._period_s
            if self._next_due_s == float("-inf")
            else max(self._next_due_s + self._period_s, frame.ts_s)
        )
        return dataclasses.replace(frame, between=self._carry.take())

    def stats(self) -> SourceStats:
        """The source's counters, with frames thinned out by ``detect_fps`` as dropped."""
        s = self.source.stats()
        return dataclasses.replace(s, dropped=s.dropped + self._skipped)


class RecordedFeed:
    """capture → process edge of a recorded source: reader thread + blocking bounded queue."""

    _END = object()

    def __init__(self, source: FrameSource) -> None:
        self.source = source
        self._queue: queue.Queue[object] = queue.Queue(maxsize=QUEUE_FRAMES)
        self._stop = threading.Event()
        self._read = 0
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        item: object = self._END
        try:
            for frame in self.source.frames():
                self._read += 1
                if not put_until_stopped(self._queue, frame, self._stop):
                    return
        except Exception as err:  # handed to the processing thread, which raises it
            item = err
        self._queue.put(item)

    def next(self, timeout_s: float) -> Frame | None:
        """The next frame, None if none within ``timeout_s``.

        Raises:
            EndOfFrames: the file is finished. Exception: whatever the reader raised.
        """
        try:
            item = self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return None
        if item is self._END:
            raise EndOfFrames
        if isinstance(item, BaseException):
            raise item
        assert isinstance(item, Frame)
        return item

    def stats(self) -> SourceStats:
        """Frames read from the file and skipped by ``detect_fps``; never lost."""
        return SourceStats(self._read + self.source.dropped, self.source.dropped, 0, False)

    def stop(self) -> None:
        """Unblock and end the reader thread."""
        self._stop.set()
        self._thread.join(timeout=5)


Feed = LiveFeed | RecordedFeed
