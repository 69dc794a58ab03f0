"""Capture stage for recorded files: OpenCV decode, timestamps from the file's frame times."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Generator
from pathlib import Path

import cv2
import numpy as np

from edge.capture import SourceStats
from edge.errors import SourceError
from edge.types import Frame

log = logging.getLogger(__name__)

# FFmpeg's own messages ("moov atom not found") would go to stderr beside ours; this module
# reports every decode failure itself, naming the file.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


class ReplaySource:
    """Frames of a video file, in order, every one of them (the feed thins and blocks).

    UTC anchor (when the frame at ``ts_s = 0`` was taken), so that a replay, ``edge-counter run``
    with a file source and a re-run of either give the same event times:

    1. ``start_utc_s`` when given (``source.start_utc`` in the config, ``--start-utc``);
    2. else, for a ``realtime`` replay (a camera emulated from a file), the wall-clock time at
       which the source was opened;
    3. else the file's modification time minus its duration: a recording is last written when
       it ends.

    Args:
        path: the video file.
        realtime: sleep so frames come out at the speed they were recorded (live emulation).
        start_utc_s: UTC time of the first frame, seconds since the Unix epoch.
        start_frame: skip the file's first frames; the frame at this index is yielded as
            ``seq = 0`` at ``ts_s = 0`` (a clip cut from a longer file, without re-encoding).

    Raises:
        SourceError: the file is missing or not a video.
    """

    def __init__(
        self,
        path: Path,
        realtime: bool = False,
        start_utc_s: float | None = None,
        start_frame: int = 0,
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
        self._realtime = realtime
        self._start_frame = max(0, start_frame)
        self._captured = 0
        self._stop = threading.Event()
        self._running = False
        if start_utc_s is not None:
            self._offset_s = start_utc_s
        elif realtime:
            self._offset_s = time.time()
        else:
            self._offset_s = path.stat().st_mtime - self.duration_s

    @property
    def live(self) -> bool:
        """A file waits for us: never live."""
        return False

    @property
    def size_wh(self) -> tuple[int, int]:
        """Frame width and height in pixels."""
        return self._size

    @property
    def fps(self) -> float:
        """Nominal frame rate from the container header (0 when unknown)."""
        return self._fps

    @property
    def frame_count(self) -> int:
        """Frames to be yielded, from the container header (an estimate for some formats)."""
        return max(0, int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)) - self._start_frame)

    @property
    def duration_s(self) -> float:
        """Length of the recording from its header (0 when the rate is unknown)."""
        return self.frame_count / self._fps if self._fps > 0 else 0.0

    def utc_offset_s(self) -> float:
        """UTC time of ``ts_s = 0`` (see the class docstring for the rule)."""
        return self._offset_s

    def stats(self) -> SourceStats:
        """Frames read so far; a file never reconnects."""
        return SourceStats(self._captured)

    def _timestamp_s(self, index: int, zero_s: float) -> float:
        """Presentation time of the frame just grabbed, less ``zero_s``; falls back to
        index / fps."""
        pos_ms = float(self._cap.get(cv2.CAP_PROP_POS_MSEC))
        if pos_ms > 0 or index == 0:
            return max(0.0, pos_ms / 1000.0 - zero_s)
        return index / self._fps if self._fps > 0 else float(index)

    def frames(self) -> Generator[Frame, None, None]:
        """Yield every frame with its file timestamp until the end of the file (or ``close``).

        Raises:
            SourceError: the file holds no decodable frame at all.
        """
        self._running = True
        try:
            yield from self._decode()
        finally:
            self._running = False
            self._cap.release()

    def _skip_to_start(self) -> float:
        """Grab (decode, never convert) the frames before ``start_frame``; the file time of
        the last one skipped plus one frame period is the new zero (0.0 without skipping).

        Raises:
            SourceError: the file ends before ``start_frame``.
        """
        for skipped in range(self._start_frame):
            if not self._cap.grab():
                raise SourceError(
                    f"{self._path}: ends after {skipped} frames, before start frame "
                    f"{self._start_frame}"
                )
        if self._start_frame == 0:
            return 0.0
        step_s = 1.0 / self._fps if self._fps > 0 else 0.0
        return float(self._cap.get(cv2.CAP_PROP_POS_MSEC)) / 1000.0 + step_s

    def _decode(self) -> Generator[Frame, None, None]:
        zero_s = self._skip_to_start()
        index = 0
        wall0 = time.monotonic()
        while not self._stop.is_set() and self._cap.grab():
            ts_s = self._timestamp_s(index, zero_s)
            ok, image = self._cap.retrieve()
            if not ok or image is None:
                log.warning("%s: frame %d does not decode; stopping", self._path, index)
                break
            if self._realtime:
                time.sleep(max(0.0, wall0 + ts_s - time.monotonic()))
            self._captured += 1
            yield Frame(image=np.asarray(image, np.uint8), ts_s=ts_s, seq=index)
            index += 1
        expected = self.frame_count
        if 0 < index < expected and not self._stop.is_set():
            log.warning(
                "%s: the recording ends at frame %d of the %d its header announces "
                "(truncated?); counted what it holds",
                self._path, index, expected,
            )  # fmt: skip
        if index == 0 and not self._stop.is_set():
            raise SourceError(f"{self._path}: no decodable frames")

    def close(self) -> None:
        """End ``frames()``; the decoder is released by it, or now if it is not running."""
        self._stop.set()
        if not self._running:
            self._cap.release()
