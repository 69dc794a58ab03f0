"""Frame sources: the ``FrameSource`` protocol and one module per backend."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from edge.types import Frame


class FrameSource(Protocol):
    """Yields frames with source timestamps; live sources keep only the newest frame.

    ``frames()`` ends when the source is exhausted (replay) or ``close()`` was called (live).
    ``dropped`` counts frames the source discarded (live backpressure or ``detect_fps``).
    """

    def frames(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...

    @property
    def size_wh(self) -> tuple[int, int]: ...

    @property
    def dropped(self) -> int: ...
