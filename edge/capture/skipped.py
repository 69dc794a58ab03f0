"""Capture helper: small grayscale copies of the frames the pipeline does not process.

A device detects at 5 to 10 frames per second while its camera delivers 25 to 30. Optical flow
follows a box far better in steps of one camera frame than across a 0.2 s jump, in which a car on
a dense road moves about its own length and the flow locks onto the car behind. So every source
keeps a small gray copy of each frame it skips and hands them over with the next processed frame
(``Frame.between``). The copies are what the flow needs (gray, at most ``MAX_SIDE_PX`` wide) and
no more: about 0.2 MB each, at most ``MAX_KEPT`` of them.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.types import ImageArray

#: Long side of a motion image, pixels: flow needs texture, not resolution.
MAX_SIDE_PX = 640
#: Most skipped frames kept between two processed frames (about 0.5 s of a 30 fps camera).
MAX_KEPT = 16


def motion_gray(image: ImageArray) -> ImageArray:
    """The gray, downscaled copy of an H×W×3 BGR (or H×W gray) frame that flow works on."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    scale = min(1.0, MAX_SIDE_PX / max(gray.shape[:2]))
    if scale < 1.0:
        size = (round(gray.shape[1] * scale), round(gray.shape[0] * scale))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(gray)


class SkippedFrames:
    """Motion images of skipped frames, oldest first, bounded.

    When more than ``MAX_KEPT`` frames are skipped in a row (a slow detector, a stall), every
    other kept one is dropped and from then on only every other skipped frame is kept: the
    kept ones still span the whole gap in even steps, which flow bridges better than one long
    jump.

    Args:
        enabled: False keeps nothing (the tracker does not use flow); ``add`` is then free.
    """

    def __init__(self, enabled: bool = True) -> None:
        self._enabled = enabled
        self._images: list[ImageArray] = []
        self._offered = 0  # frames offered since the last take
        self._stride = 1  # keep every stride-th of them

    def add(self, image: ImageArray) -> None:
        """Keep the motion image of a frame that will not be processed."""
        self._offered += 1
        if not self._enabled or (self._offered - 1) % self._stride:
            return
        if len(self._images) >= MAX_KEPT:
            self._images = self._images[::2]
            self._stride *= 2
            if (self._offered - 1) % self._stride:
                return
        self._images.append(motion_gray(image))

    def take(self) -> tuple[ImageArray, ...]:
        """The images kept since the last ``take``, oldest first; empties the buffer."""
        images = tuple(self._images)
        self.clear()
        return images

    def clear(self) -> None:
        """Forget the kept images (the stream broke: they no longer lead to the next frame)."""
        self._images, self._offered, self._stride = [], 0, 1
