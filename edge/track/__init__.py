"""Tracking stage: the ``Tracker`` protocol and ``build_tracker``; ``bytetrack.py`` is the default.

A tracker owns its motion model. It takes the whole ``Frame`` (time, size, image and the
skipped frames' motion images), so one with optical flow measures the flow itself, inside its
own time, and says through ``wants_motion_images`` whether the frame feed should keep the
skipped frames' small gray copies (``Frame.between``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from edge.config import TrackerConfig
from edge.track.bytetrack import ByteTracker
from edge.types import Detections, Frame, Tracks


class Tracker(Protocol):
    """Associates detections over time; every threshold is in seconds, not frames."""

    @property
    def wants_motion_images(self) -> bool:
        """Whether frames should carry the skipped frames' motion images (``Frame.between``)."""
        ...

    def update(self, detections: Detections, frame: Frame) -> Tracks:
        """Associate one frame of detections (found in ``frame``) and return the confirmed
        tracks seen in it, at ``frame.ts_s``."""
        ...

    def reset(self) -> None:
        """Drop every track."""
        ...


#: Tracker plug-ins keyed by ``TrackerConfig.type``.
TRACKERS: dict[str, Callable[[TrackerConfig], Tracker]] = {"bytetrack": ByteTracker}


def build_tracker(config: TrackerConfig) -> Tracker:
    """The tracker ``config.type`` names, configured by ``config``."""
    return TRACKERS[config.type](config)
