"""Tracking stage: the ``Tracker`` protocol; ``bytetrack.py`` is the default."""

from __future__ import annotations

from typing import Protocol

from edge.types import Detections, Tracks


class Tracker(Protocol):
    """Associates detections over time; every threshold is in seconds, not frames."""

    def update(self, detections: Detections, ts_s: float) -> Tracks: ...

    def reset(self) -> None: ...
