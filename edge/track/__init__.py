"""Tracking stage: the ``Tracker`` protocol; ``bytetrack.py`` is the default."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from edge.types import Detections, Tracks


class Motion(Protocol):
    """Image motion from the previous processed frame to the current one (``flow.BoxFlow``)."""

    def displace(
        self, xyxy: npt.NDArray[np.floating]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
        """Boxes of the previous frame moved into the current one, and which moves are reliable."""
        ...

    def retrace(
        self, xyxy: npt.NDArray[np.floating]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
        """Boxes of the current frame moved back into the previous one, and which are reliable."""
        ...

    def describe(self, xyxy: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
        """N×D appearance descriptors of boxes in the current frame."""
        ...


class Tracker(Protocol):
    """Associates detections over time; every threshold is in seconds, not frames."""

    @property
    def uses_motion(self) -> bool:
        """Whether ``update`` wants a ``motion`` (the pipeline then measures optical flow)."""
        ...

    def update(
        self,
        detections: Detections,
        ts_s: float,
        motion: Motion | None = None,
        frame_wh: tuple[int, int] | None = None,
    ) -> Tracks:
        """Associate one frame of detections; ``motion`` is optional image motion, ``frame_wh``
        the frame size (tracks that left it end)."""
        ...

    def reset(self) -> None:
        """Drop every track."""
        ...
