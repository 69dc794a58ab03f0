"""Capture stage, live half: the newest-frame slot and the statistics every live source reports.

Backpressure rule (live): a camera does not wait for us, so the reader thread never blocks on
the consumer. It overwrites the one-frame slot; a frame overwritten before it was taken is
counted in ``dropped``. The consumer always gets the most recent image, never a backlog.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from edge.capture.skipped import SkippedFrames
from edge.errors import SourceError
from edge.types import Frame


@dataclass(frozen=True)
class SourceStats:
    """Counters of a live source since it was opened.

    Attributes:
        captured: frames read from the camera (kept or dropped).
        dropped: frames overwritten before the pipeline took them.
        reconnects: times the camera or stream was reopened after a failure.
        lost: True while the camera is not delivering frames (reconnecting).
    """

    captured: int
    dropped: int
    reconnects: int
    lost: bool


@runtime_checkable
class LiveSource(Protocol):
    """A ``FrameSource`` with its own reader thread; the pipeline polls it with a timeout."""

    def read(self, timeout_s: float) -> Frame | None:
        """The newest frame not yet taken, or None if none arrived within ``timeout_s``."""
        ...

    def stats(self) -> SourceStats:
        """Counters since the source was opened (thread-safe)."""
        ...

    def utc_offset_s(self) -> float:
        """Seconds to add to a frame's ``ts_s`` to get UTC, sampled when the source opened."""
        ...


class NewestFrame:
    """A one-frame slot: ``put`` never blocks and replaces an untaken frame (counted).

    Args:
        keep_skipped: keep a motion image of each replaced frame and hand them over with the
            next frame taken (``Frame.between``), for the tracker's optical flow.
    """

    def __init__(self, keep_skipped: bool = False) -> None:
        self._cond = threading.Condition()
        self._skipped = SkippedFrames(keep_skipped)
        self._after_gap = False  # the untaken frame predates a break in the stream
        self._frame: Frame | None = None
        self._error: BaseException | None = None
        self._closed = False
        self.dropped = 0
        self.captured = 0

    def put(self, frame: Frame) -> None:
        """Offer a frame; an untaken older one is dropped and counted."""
        with self._cond:
            self.captured += 1
            if self._frame is not None:
                self.dropped += 1
                if not self._after_gap:
                    self._skipped.add(self._frame.image)
            self._after_gap = False
            self._frame = frame
            self._cond.notify()

    def fail(self, error: BaseException) -> None:
        """Make the next ``get`` raise ``error`` (the reader thread died)."""
        with self._cond:
            self._error = error
            self._cond.notify_all()

    def close(self) -> None:
        """Wake every waiter; ``get`` returns None from now on."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        """True once ``close`` was called."""
        return self._closed

    def get(self, timeout_s: float) -> Frame | None:
        """Take the newest frame, waiting up to ``timeout_s``.

        Raises:
            SourceError: the reader thread failed (chained to its exception).
        """
        with self._cond:
            self._cond.wait_for(
                lambda: self._frame is not None or self._error is not None or self._closed,
                timeout_s,
            )
            if self._error is not None:
                raise SourceError(f"camera reader failed: {self._error}") from self._error
            frame, self._frame = self._frame, None
            if frame is None:
                return None
            return dataclasses.replace(frame, between=self._skipped.take())

    def gap(self) -> None:
        """The stream broke (a reconnect): skipped frames no longer lead to the next one."""
        with self._cond:
            self._skipped.clear()
            self._after_gap = True

    def frames(self, poll_s: float = 0.5) -> Iterator[Frame]:
        """Yield the newest frames until ``close``; re-raises a reader failure."""
        while not self._closed:
            frame = self.get(poll_s)
            if frame is not None:
                yield frame


class SlotReader:
    """The reading side both live sources share: a ``NewestFrame`` slot and a clock offset.

    Subclasses set ``_slot`` and ``_offset_s`` (UTC minus the clock their frame times use).
    """

    _slot: NewestFrame
    _offset_s: float

    @property
    def dropped(self) -> int:
        """Frames overwritten before the pipeline took them."""
        return self._slot.dropped

    def utc_offset_s(self) -> float:
        """UTC minus the source's frame clock, sampled when the source opened."""
        return self._offset_s

    def read(self, timeout_s: float) -> Frame | None:
        """The newest untaken frame, or None within ``timeout_s`` (see ``NewestFrame.get``)."""
        return self._slot.get(timeout_s)

    def frames(self) -> Iterator[Frame]:
        """Yield frames until ``close``; raises ``SourceError`` if the reader failed."""
        return self._slot.frames()
