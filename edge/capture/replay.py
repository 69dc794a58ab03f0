"""Capture stage for recorded files: OpenCV decode, timestamps from the file's frame times."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from edge.capture.skipped import SkippedFrames
from edge.errors import SourceError
from edge.types import Frame

log = logging.getLogger(__name__)

# FFmpeg's own messages ("moov atom not found") would go to stderr beside ours; this module
# reports every decode failure itself, naming the file.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


class ReplaySource:
    """Frames of a video file, in order; blocks rather than drops, so runs are deterministic.

    Args:
        path: the video file.
        detect_fps: if set, keep only frames at this rate by video time (not by frame count),
            to emulate a device that detects slower than the camera records. The skipped frames
            are grabbed but not decoded to images, and counted in ``dropped``.
        realtime: sleep so frames come out at the speed they were recorded (live emulation).
        keep_skipped: decode the frames skipped for ``detect_fps`` too and hand their motion
            images over with the next frame (``Frame.between``), as a live camera does.
    """

    def __init__(
        self,
        path: Path,
        detect_fps: float | None = None,
        realtime: bool = False,
        keep_skipped: bool = False,
    ):
        if not path.is_file():
            raise SourceError(f"{path}: no such video file")
        self._cap = cv2.VideoCapture(str(path))
        if not self._cap.isOpened():
            raise SourceError(f"{path}: cannot open as video")
        self._path = path
        self._fps = float(self._cap.get(cv2.CAP_PROP_FPS)) or 0.0
        self._size = (
            int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
        if self._size[0] <= 0 or self._size[1] <= 0:
            raise SourceError(f"{path}: video has no frame size (not a video?)")
        self._period_s = 1.0 / detect_fps if detect_fps else 0.0
        self._realtime = realtime
        self._dropped = 0
        self._skipped = SkippedFrames(keep_skipped)
        self._keep_skipped = keep_skipped

    @property
    def size_wh(self) -> tuple[int, int]:
        """Frame width and height in pixels."""
        return self._size

    @property
    def dropped(self) -> int:
        """Frames skipped to honour ``detect_fps``."""
        return self._dropped

    @property
    def fps(self) -> float:
        """Nominal frame rate from the container header (0 when unknown)."""
        return self._fps

    @property
    def frame_count(self) -> int:
        """Frame count from the container header (an estimate for some formats)."""
        return max(0, int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)))

    def _timestamp_s(self, index: int) -> float:
        """Presentation time of the frame just grabbed; falls back to index / fps."""
        pos_ms = float(self._cap.get(cv2.CAP_PROP_POS_MSEC))
        if pos_ms > 0 or index == 0:
            return pos_ms / 1000.0
        return index / self._fps if self._fps > 0 else float(index)

    def frames(self) -> Iterator[Frame]:
        """Yield frames with file timestamps until the end of the file.

        Raises:
            SourceError: the file holds no decodable frame at all.
        """
        index, next_due_s, yielded = 0, 0.0, 0
        wall0 = time.monotonic()
        while self._cap.grab():
            ts_s = self._timestamp_s(index)
            index += 1
            # A small tolerance so 30 fps -> 5 fps keeps every 6th frame despite PTS rounding.
            if self._period_s and ts_s + 1e-3 < next_due_s:
                self._dropped += 1
                self._keep(index - 1)
                continue
            ok, image = self._cap.retrieve()
            if not ok or image is None:
                log.warning("%s: frame %d does not decode; stopping", self._path, index - 1)
                break
            next_due_s = max(next_due_s + self._period_s, ts_s) if self._period_s else 0.0
            if self._realtime:
                time.sleep(max(0.0, wall0 + ts_s - time.monotonic()))
            yielded += 1
            yield Frame(
                image=np.asarray(image, np.uint8),
                ts_s=ts_s,
                seq=index - 1,
                between=self._skipped.take(),
            )
        if yielded == 0:
            raise SourceError(f"{self._path}: no decodable frames")

    def _keep(self, index: int) -> None:
        """Decode a skipped frame for its motion image (``keep_skipped``)."""
        if not self._keep_skipped:
            return
        ok, image = self._cap.retrieve()
        if ok and image is not None:
            self._skipped.add(np.asarray(image, np.uint8))
        else:
            log.warning("%s: skipped frame %d does not decode", self._path, index)
            self._skipped.clear()

    def close(self) -> None:
        """Release the decoder."""
        self._cap.release()
