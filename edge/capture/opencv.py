"""Capture stage for USB cameras and network streams (RTSP/HTTP) through OpenCV.

``frames()`` reads frames as fast as the camera sends them (the feed's reader thread drives
it and keeps only the newest). When the stream fails, ends, stalls or freezes it reconnects by
itself with capped exponential backoff, counts the reconnects and yields ``GAP``.

Timestamps: ``time.monotonic()`` taken right after each grab returns. Network cameras do not
give a clock we can trust (RTSP/RTP times restart with every session and many cameras never
sync theirs), so the device's own monotonic clock is the frame time; it includes the network
and decode latency (tens of ms, roughly constant), which shifts every crossing equally.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Generator

import cv2
import numpy as np
import numpy.typing as npt

from edge.capture import GAP, Gap, SourceStats
from edge.config import OpenCVSourceConfig
from edge.errors import SourceError
from edge.types import Frame

log = logging.getLogger(__name__)

# RTSP over TCP: no smeared frames from lost UDP packets on a busy link. FFmpeg's own log
# lines are silenced; this module reports every failure itself.
os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
# OpenCV's own "can't open" warning would repeat on every reconnect attempt.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)

#: Pixel stride of the cheap "is this the same image again" check (a 1/64 subsample).
_FROZEN_STRIDE = 8


def _target(url: str) -> int | str:
    """A USB camera index (``"0"``) or a stream URL / device path, as given."""
    return int(url) if url.isdigit() else url


def open_capture(url: str, timeout_s: float) -> cv2.VideoCapture | None:
    """Open a camera or stream; None when it cannot be opened now.

    Args:
        url: USB index (``"0"``), ``/dev/videoN``, or an ``rtsp://``/``http://`` URL.
        timeout_s: FFmpeg open and read timeout, so a silent stream cannot block a read forever.
    """
    target = _target(url)
    if isinstance(target, int):
        cap = cv2.VideoCapture(target, cv2.CAP_V4L2)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
    else:
        ms = int(timeout_s * 1000)
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
        cap = cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)
    if not cap.isOpened():
        cap.release()
        return None
    return cap


class OpenCVSource:
    """Frames of a USB camera or network stream; reconnects by itself.

    Args:
        cfg: URL or index, reconnect backoff (``reconnect_min_s`` doubling up to
            ``reconnect_max_s``: short enough to recover quickly from a blip, capped so a
            camera that is gone for hours is not hammered), ``frozen_after_s`` (no new frame,
            or bit-identical frames, for that long means the stream is dead; too short and a
            perfectly still compressed scene can trigger a needless reconnect) and
            ``open_timeout_s`` (how long the first open may take before start-up fails).

    Raises:
        SourceError: the camera cannot be opened, or gives no frame, within ``open_timeout_s``.
    """

    def __init__(self, cfg: OpenCVSourceConfig) -> None:
        self._cfg = cfg
        self._stop = threading.Event()
        self._reconnects = 0
        self._captured = 0
        self._lost = False
        self._seq = 0
        #: Why the stream was last lost (for logs and tests), None before the first loss.
        self.last_loss: str | None = None
        self._offset_s = time.time() - time.monotonic()
        self._cap: cv2.VideoCapture | None
        self._cap, self._first = self._open_first()
        self._started = False
        self._size = (int(self._first.shape[1]), int(self._first.shape[0]))

    @property
    def live(self) -> bool:
        """A camera does not wait for us."""
        return True

    @property
    def size_wh(self) -> tuple[int, int]:
        """Frame width and height in pixels (from the first frame)."""
        return self._size

    def utc_offset_s(self) -> float:
        """UTC minus the monotonic clock the frame times use, sampled when the source opened."""
        return self._offset_s

    def stats(self) -> SourceStats:
        """Captured frames, reconnects and whether the stream is lost right now."""
        return SourceStats(self._captured, self._reconnects, self._lost)

    def close(self) -> None:
        """Make ``frames()`` end (after the read in progress, bounded by ``frozen_after_s``);
        the camera is released by it, or now if it never started."""
        self._stop.set()
        if self._cap is not None and not self._started:
            self._cap.release()

    def _open_first(self) -> tuple[cv2.VideoCapture, npt.NDArray[np.uint8]]:
        deadline = time.monotonic() + self._cfg.open_timeout_s
        delay_s = self._cfg.reconnect_min_s
        while True:
            cap = open_capture(self._cfg.url, self._cfg.frozen_after_s)
            if cap is not None:
                ok, image = cap.read()
                if ok and image is not None:
                    return cap, np.asarray(image, np.uint8)
                cap.release()
            if time.monotonic() + delay_s > deadline:
                raise SourceError(
                    f"source.url {self._cfg.url!r}: no frame within "
                    f"{self._cfg.open_timeout_s:g} s (camera unplugged or stream down?)"
                )
            time.sleep(delay_s)
            delay_s = min(2 * delay_s, self._cfg.reconnect_max_s)

    def _frame(self, image: npt.NDArray[np.uint8]) -> Frame:
        ts_s = time.monotonic()
        if (image.shape[1], image.shape[0]) != self._size:
            raise SourceError(
                f"source.url {self._cfg.url!r}: frame size changed from {self._size} to "
                f"{image.shape[1]}x{image.shape[0]}; the counting lines no longer fit"
            )
        frame = Frame(image=image, ts_s=ts_s, seq=self._seq)
        self._seq += 1
        self._captured += 1
        return frame

    def frames(self) -> Generator[Frame | Gap, None, None]:
        """Yield frames until ``close``, reconnecting as needed (``GAP`` after each loss)."""
        self._started = True
        cap, self._cap = self._cap, None
        delay_s = self._cfg.reconnect_min_s
        try:
            yield self._frame(self._first)
            while not self._stop.is_set():
                if cap is None:
                    if self._stop.wait(delay_s):
                        return
                    delay_s = min(2 * delay_s, self._cfg.reconnect_max_s)
                    cap = open_capture(self._cfg.url, self._cfg.frozen_after_s)
                    continue
                got_any = yield from self._pump(cap)
                if got_any:
                    delay_s = self._cfg.reconnect_min_s
                cap.release()
                cap = None
                if not self._stop.is_set():
                    yield GAP
        finally:
            if cap is not None:
                cap.release()

    def _pump(self, cap: cv2.VideoCapture) -> Generator[Frame, None, bool]:
        """Read until the stream fails or freezes; returns True if at least one frame came."""
        got_any = False
        last_sig: bytes | None = None
        changed_at = time.monotonic()
        while not self._stop.is_set():
            ok, image = cap.read()
            if not ok or image is None:
                reason = "the stream ended or timed out"
                break
            sig = image[::_FROZEN_STRIDE, ::_FROZEN_STRIDE].tobytes()
            if sig != last_sig:
                last_sig, changed_at = sig, time.monotonic()
            elif time.monotonic() - changed_at > self._cfg.frozen_after_s:
                reason = f"identical frames for {self._cfg.frozen_after_s:g} s"
                break
            if not got_any:
                got_any = self._mark_recovered()
            yield self._frame(np.asarray(image, np.uint8))
        else:
            return got_any
        self._mark_lost(reason)
        return got_any

    def _mark_recovered(self) -> bool:
        if self._lost:
            self._lost = False
            self._reconnects += 1
            log.warning("camera %r is back (reconnect #%d)", self._cfg.url, self._reconnects)
        return True

    def _mark_lost(self, reason: str) -> None:
        self.last_loss = reason
        if not self._lost:
            log.warning("camera %r lost: %s; reconnecting", self._cfg.url, reason)
        self._lost = True
