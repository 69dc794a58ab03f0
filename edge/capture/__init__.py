"""Frame sources: the ``FrameSource`` protocol and one module per backend.

A source only reads: it yields every frame it gets, in order, with its source timestamp. What
the runtime does with them (keep the newest for a camera, block for a file, thin them to
``detect_fps``, keep motion images of the skipped ones) is the feed's business
(``edge.runtime.feed``), the same for every source.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Protocol

from edge.types import Frame


@dataclass(frozen=True)
class SourceStats:
    """Counters of a source since it was opened.

    Attributes:
        captured: frames read from the camera or file.
        reconnects: times the camera or stream was reopened after a failure.
        lost: True while the camera is not delivering frames (reconnecting).
    """

    captured: int
    reconnects: int = 0
    lost: bool = False


class Gap:
    """Yielded by a live source when its stream broke: frames before do not lead to frames after
    (a reconnect), so motion images kept from before are useless for optical flow."""


#: The one ``Gap`` instance.
GAP = Gap()


class FrameSource(Protocol):
    """Yields frames with source timestamps.

    ``frames()`` blocks until the next frame is read and ends when the file is exhausted or
    ``close()`` was called. ``close()`` may be called from another thread while ``frames()``
    runs: it only signals, and the generator releases the device or file itself when it ends
    (at once if it never started). ``live`` tells the feed
    whether frames come whether or not we are ready (a camera) or wait for us (a file).
    """

    @property
    def live(self) -> bool: ...

    @property
    def size_wh(self) -> tuple[int, int]: ...

    def frames(self) -> Generator[Frame | Gap, None, None]: ...

    def close(self) -> None: ...

    def utc_offset_s(self) -> float:
        """Seconds to add to a frame's ``ts_s`` to get UTC (the source's UTC anchor)."""
        ...

    def stats(self) -> SourceStats: ...
