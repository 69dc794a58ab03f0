"""Capture stage for the Raspberry Pi camera: the only module that imports ``picamera2``.

``frames()`` takes one request at a time from libcamera, copies the ``main`` stream out and
releases the request at once (so the camera never runs out of buffers); the feed's reader
thread drives it and keeps only the newest frame.

Timestamps: ``SensorTimestamp`` from the request metadata: the start of exposure in
nanoseconds on ``CLOCK_BOOTTIME``, converted to seconds. It is immune to scheduling delays in
this process, so motion speed stays right even when the CPU is busy.

Recovery: libcamera cannot reliably reopen a camera inside one process, so a camera that fails
ends the process (systemd restarts it); one that hangs stops the frames, so the processing
loop stops pinging the systemd watchdog and systemd restarts the service.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Generator
from types import ModuleType
from typing import Any

import numpy as np

from edge.capture import SourceStats
from edge.config import PicameraSourceConfig
from edge.errors import SourceError
from edge.types import Frame

log = logging.getLogger(__name__)


def import_picamera2() -> ModuleType:
    """Import picamera2 now (never at module import time).

    Raises:
        SourceError: naming the package and how to install it on Raspberry Pi OS.
    """
    try:
        return importlib.import_module("picamera2")
    except ImportError as err:
        raise SourceError(
            f"source.type = 'picamera' needs the picamera2 package ({err}): on Raspberry Pi OS "
            "run `apt install python3-picamera2` and create the venv with --system-site-packages"
        ) from None


class PicameraSource:
    """Frames of the Pi camera module at ``cfg.width``×``cfg.height``, BGR.

    Args:
        cfg: size and frame rate. A lower ``fps`` gives longer exposures in dim light and
            less CPU in the ISP copy; keep it at or above twice the processed rate so the
            newest frame is always fresh (and, with optical flow, at 15 or more: flow follows
            boxes one camera frame at a time).
        module: the picamera2 module (tests inject a fake); imported here when None.

    Raises:
        SourceError: picamera2 is missing, or the camera cannot be opened or configured.
    """

    def __init__(self, cfg: PicameraSourceConfig, module: ModuleType | None = None) -> None:
        picamera2 = module if module is not None else import_picamera2()
        self._cfg = cfg
        self._stop = threading.Event()
        self._seq = 0
        self._closed = False
        self._running = False
        self._cam: Any = self._open(picamera2)
        boot_s = time.clock_gettime(time.CLOCK_BOOTTIME)
        self._offset_s = time.time() - boot_s

    def _open(self, picamera2: ModuleType) -> Any:
        cfg = self._cfg
        try:
            cam = picamera2.Picamera2()
            video = cam.create_video_configuration(
                main={"size": (cfg.width, cfg.height), "format": "RGB888"},
                controls={"FrameRate": cfg.fps},
            )
            cam.configure(video)
            cam.start()
        except (RuntimeError, OSError, IndexError) as err:
            # picamera2 raises IndexError when no camera is attached, RuntimeError on libcamera
            # failures, OSError when the device is busy.
            raise SourceError(f"source: cannot open the Pi camera: {err}") from None
        return cam

    @property
    def live(self) -> bool:
        """A camera does not wait for us."""
        return True

    @property
    def size_wh(self) -> tuple[int, int]:
        """Configured width and height in pixels."""
        return self._cfg.width, self._cfg.height

    def utc_offset_s(self) -> float:
        """UTC minus ``CLOCK_BOOTTIME`` (the sensor timestamps' clock), sampled at open."""
        return self._offset_s

    def stats(self) -> SourceStats:
        """Captured frames; the Pi camera never reconnects in-process."""
        return SourceStats(self._seq)

    def close(self) -> None:
        """End ``frames()`` after the request in progress; it stops and closes the camera, or
        this does if it is not running."""
        self._stop.set()
        if not self._running:
            self._shutdown()

    def _shutdown(self) -> None:
        if not self._closed:
            self._closed = True
            self._cam.stop()
            self._cam.close()

    def _grab(self) -> Frame:
        request = self._cam.capture_request()
        try:
            # make_array returns a view of the camera buffer: copy before release.
            image = np.array(request.make_array("main"), dtype=np.uint8, copy=True)
            ts_ns = int(request.get_metadata()["SensorTimestamp"])
        finally:
            request.release()
        # picamera2's "RGB888" is B, G, R in memory: already OpenCV's BGR order.
        frame = Frame(image=image[:, :, :3], ts_s=ts_ns / 1e9, seq=self._seq)
        self._seq += 1
        return frame

    def frames(self) -> Generator[Frame, None, None]:
        """Yield frames until ``close``.

        Raises:
            SourceError: the camera failed (libcamera cannot reopen it in-process: the
                process ends and systemd restarts it).
        """
        self._running = True
        try:
            while not self._stop.is_set():
                try:
                    frame = self._grab()
                except (RuntimeError, OSError) as err:
                    raise SourceError(f"source: the Pi camera failed: {err}") from err
                yield frame
        finally:
            self._running = False
            self._shutdown()
