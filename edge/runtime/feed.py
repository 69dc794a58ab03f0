"""The capture → process edge: one reader thread per source, one hand-over slot, one rule each.

Backpressure rule, the only thing that differs between a camera and a file:

- **live** (``source.live``, a camera): the reader never waits for the processing loop. The slot
  holds one frame; a newer one replaces it and the older is counted as dropped. The loop always
  gets the most recent image, never a backlog.
- **recorded** (a file): the slot is a queue of ``QUEUE_FRAMES`` and the reader blocks while it
  is full, so nothing is dropped and a replay is repeatable.

Either way the reader thins the frames to ``detect_fps`` (``capture.pacing.Thinning``), and every
frame not processed (thinned, or replaced in the live slot) leaves its motion image for the next
one (``Frame.between``) when the tracker wants them. The end of a file is ``EndOfFrames``; a
reader failure is raised in the loop, in order, after the frames read before it.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import deque
from dataclasses import dataclass

from edge.capture import FrameSource, Gap
from edge.capture.pacing import Thinning
from edge.capture.skipped import SkippedFrames
from edge.types import Frame

#: Frames a recorded source decodes ahead of the processing loop (small: each is an image).
QUEUE_FRAMES = 4
#: How often a waiting reader looks at its stop flag.
_POLL_S = 0.25


class EndOfFrames(Exception):
    """A recorded source has no more frames (or the frame limit was reached)."""


@dataclass(frozen=True)
class FeedStats:
    """Counters of the feed since it started.

    Attributes:
        captured: frames the source delivered.
        dropped: frames not processed: thinned to ``detect_fps`` or replaced in the live slot.
        reconnects: times the source reopened its camera or stream.
        lost: True while the camera is not delivering frames.
    """

    captured: int
    dropped: int
    reconnects: int
    lost: bool


class FrameSlot:
    """The hand-over between the reader thread and the processing loop (thread-safe).

    Args:
        newest: keep one frame and replace it (live); else queue up to ``depth`` and block.
        keep_motion: keep motion images of frames that are not processed.
        depth: queue length when not ``newest``.
    """

    def __init__(self, newest: bool, keep_motion: bool, depth: int = QUEUE_FRAMES) -> None:
        self._newest = newest
        self._depth = 1 if newest else depth
        self._frames: deque[Frame] = deque()
        self._carry = SkippedFrames(keep_motion)
        self._cond = threading.Condition()
        self._end: BaseException | None = None
        self.replaced = 0

    def put(self, frame: Frame, stop: threading.Event) -> bool:
        """Hand a frame over: live replaces an untaken one, recorded waits for room (until
        ``stop`` is set). Returns False if the frame was not handed over (stopping)."""
        with self._cond:
            if self._newest and self._frames:
                self._carry.add(self._frames.popleft().image)
                self.replaced += 1
            while len(self._frames) >= self._depth:
                if stop.is_set():
                    return False
                self._cond.wait(_POLL_S)
            if not self._newest:
                frame = dataclasses.replace(frame, between=self._carry.take())
            self._frames.append(frame)
            self._cond.notify_all()
            return True

    def skip(self, frame: Frame) -> None:
        """A frame that will not be processed: its motion image goes with the next frame."""
        with self._cond:
            self._carry.add(frame.image)

    def gap(self) -> None:
        """The stream broke: motion images kept so far no longer lead to the next frame."""
        with self._cond:
            self._carry.clear()
            if self._newest and self._frames:  # the untaken frame is from before the break
                self._frames.clear()
                self.replaced += 1

    def end(self, error: BaseException | None = None) -> None:
        """No more frames: ``get`` raises ``error`` (or ``EndOfFrames``) once the slot is empty."""
        with self._cond:
            self._end = error if error is not None else EndOfFrames()
            self._cond.notify_all()

    def get(self, timeout_s: float) -> Frame | None:
        """The next frame, or None if none comes within ``timeout_s``.

        Raises:
            EndOfFrames: the source is finished. Exception: whatever the reader raised.
        """
        with self._cond:
            self._cond.wait_for(lambda: bool(self._frames) or self._end is not None, timeout_s)
            if self._frames:
                frame = self._frames.popleft()
                self._cond.notify_all()
                if self._newest:
                    frame = dataclasses.replace(frame, between=self._carry.take())
                return frame
            if self._end is not None:
                raise self._end
            return None


class Feed:
    """A source's frames for the processing loop, read ahead in the ``capture`` thread.

    Args:
        source: the frame source; ``source.live`` picks the backpressure rule.
        detect_fps: process at most this many frames per second of source time (None: all).
        keep_motion: keep motion images of unprocessed frames (the tracker uses optical flow).
        max_frames: end after this many frames of the source (benchmarks), None: no limit.
    """

    def __init__(
        self,
        source: FrameSource,
        detect_fps: float | None,
        keep_motion: bool,
        max_frames: int | None = None,
    ) -> None:
        self.source = source
        self._slot = FrameSlot(source.live, keep_motion)
        self._thinning = Thinning(detect_fps)
        self._max_frames = max_frames
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="capture", daemon=True)

    def start(self) -> None:
        """Start the reader thread."""
        self._thread.start()

    def _read(self) -> None:
        """Reader thread: every error is handed to the loop, which raises it (supervision)."""
        error: BaseException | None = None
        read = 0
        frames = self.source.frames()
        try:
            for item in frames:
                if isinstance(item, Gap):
                    self._slot.gap()
                elif not self._thinning.due(item.ts_s):
                    self._slot.skip(item)
                elif not self._slot.put(item, self._stop):
                    return
                read += 1
                if self._stop.is_set() or (self._max_frames and read >= self._max_frames):
                    break
        except Exception as err:  # handed on: the loop raises it and the process ends
            error = err
        finally:
            frames.close()  # releases the camera or file in this thread
        self._slot.end(error)

    def next(self, timeout_s: float) -> Frame | None:
        """The next frame to process, or None if none within ``timeout_s``.

        Raises:
            EndOfFrames: the file is finished. Exception: whatever the source raised.
        """
        return self._slot.get(timeout_s)

    def stats(self) -> FeedStats:
        """Frames captured and dropped (thinned or replaced), the source's reconnect state."""
        s = self.source.stats()
        dropped = self._thinning.skipped + self._slot.replaced
        return FeedStats(s.captured, dropped, s.reconnects, s.lost)

    def stop(self) -> None:
        """End the reader thread; the source is closed (released by the reader thread)."""
        self._stop.set()
        self.source.close()
        self._thread.join(timeout=15)
