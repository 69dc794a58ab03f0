"""Pi camera source against a fake picamera2 module that follows picamera2's real API.

The fake stands in for absent hardware only: it implements the calls the source makes
(``Picamera2()``, ``create_video_configuration``, ``configure``, ``start``,
``capture_request`` → ``make_array("main")`` / ``get_metadata()["SensorTimestamp"]`` /
``release``, ``stop``, ``close``) with picamera2's shapes: the ``main`` array of an ``RGB888``
stream is H×W×3, B,G,R in memory; unreleased requests starve it as libcamera's buffers would.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import types
from typing import Any, ClassVar

import numpy as np
import pytest

from edge.capture.picamera import PicameraSource, import_picamera2
from edge.config import PicameraSourceConfig
from edge.errors import SourceError
from edge.runtime.feed import Feed


class FakeRequest:
    def __init__(self, cam: FakePicamera2, n: int) -> None:
        self.cam, self.n = cam, n
        self.released = False

    def make_array(self, name: str) -> np.ndarray[Any, Any]:
        assert name == "main" and not self.released
        w, h = self.cam.config["main"]["size"]
        img = np.zeros((h, w, 3), np.uint8)
        img[..., 0] = self.n % 256  # blue channel carries the frame number
        return img

    def get_metadata(self) -> dict[str, Any]:
        assert not self.released
        return {"SensorTimestamp": 1_000_000_000 + self.n * 33_333_333, "FrameDuration": 33333}

    def release(self) -> None:
        self.released = True
        self.cam.outstanding -= 1


class FakePicamera2:
    instances: ClassVar[list[FakePicamera2]] = []

    def __init__(self) -> None:
        self.config: dict[str, Any] = {}
        self.started = self.closed = False
        self.outstanding = 0
        self.n = 0
        self.fail_at: int | None = None
        self.interval_s = 0.002
        FakePicamera2.instances.append(self)

    def create_video_configuration(
        self, main: dict[str, Any], controls: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return {"main": dict(main), "controls": dict(controls or {}), "use_case": "video"}

    def configure(self, config: dict[str, Any]) -> None:
        assert config["main"]["format"] in ("RGB888", "BGR888", "XRGB8888")
        self.config = config

    def start(self) -> None:
        assert self.config, "configure before start"
        self.started = True

    def capture_request(self) -> FakeRequest:
        assert self.started
        if self.outstanding >= 4:  # libcamera has a few buffers: an unreleased request starves it
            raise RuntimeError("no free buffers: requests not released")
        if self.fail_at is not None and self.n >= self.fail_at:
            raise RuntimeError("Camera frontend has timed out!")
        time.sleep(self.interval_s)
        self.n += 1
        self.outstanding += 1
        return FakeRequest(self, self.n)

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.closed = True


def fake_module() -> types.ModuleType:
    mod = types.ModuleType("picamera2")
    mod.Picamera2 = FakePicamera2  # type: ignore[attr-defined]
    FakePicamera2.instances.clear()
    return mod


CFG = PicameraSourceConfig(width=320, height=240, fps=30)


def test_configures_video_rgb888_and_reports_sensor_time() -> None:
    src = PicameraSource(CFG, fake_module())
    cam = FakePicamera2.instances[0]
    frames = src.frames()
    try:
        frame = next(frames)
    finally:
        src.close()
        frames.close()
    assert cam.config["main"] == {"size": (320, 240), "format": "RGB888"}
    assert cam.config["controls"] == {"FrameRate": 30}
    assert frame is not None and frame.image.shape == (240, 320, 3)
    n = int(frame.image[0, 0, 0])
    assert frame.ts_s == pytest.approx(1.0 + n * 0.033333333)
    assert src.size_wh == (320, 240)
    assert cam.closed and not cam.started and cam.outstanding == 0


def test_slow_consumer_gets_newest_frame_every_request_released() -> None:
    feed = Feed(PicameraSource(CFG, fake_module()), detect_fps=None, keep_motion=False)
    cam = FakePicamera2.instances[0]
    feed.start()
    try:
        time.sleep(0.3)
        frame = feed.next(1.0)
        stats = feed.stats()
    finally:
        feed.stop()
    assert frame is not None
    assert stats.captured >= 20 and stats.dropped >= stats.captured - 2
    assert int(frame.image[0, 0, 0]) >= stats.captured - 2  # the newest, not the first
    assert cam.outstanding == 0


def test_camera_failure_surfaces_as_source_error_in_the_reader() -> None:
    mod = fake_module()
    feed = Feed(PicameraSource(CFG, mod), detect_fps=None, keep_motion=False)
    FakePicamera2.instances[0].fail_at = 3
    feed.start()
    try:
        with pytest.raises(SourceError, match="frontend has timed out"):
            for _ in range(100):
                feed.next(0.1)
    finally:
        feed.stop()


def test_missing_picamera2_is_an_error_naming_the_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import raises ImportError
    with pytest.raises(SourceError, match="python3-picamera2"):
        import_picamera2()
    with pytest.raises(SourceError, match="picamera2"):
        PicameraSource(CFG)


def test_no_camera_attached_is_a_source_error() -> None:
    mod = fake_module()

    def no_camera() -> None:
        raise IndexError("list index out of range")  # what picamera2 raises without a camera

    mod.Picamera2 = no_camera  # type: ignore[attr-defined]
    with pytest.raises(SourceError, match="cannot open the Pi camera"):
        PicameraSource(CFG, mod)


def test_picamera2_is_imported_only_when_configured() -> None:
    code = (
        "import sys, edge.app, edge.commands.run, edge.capture.picamera\n"
        "from edge.app import open_source\n"
        "from edge.config import ReplaySourceConfig\n"
        "assert 'picamera2' not in sys.modules, 'imported eagerly'\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_reader_thread_is_not_left_running() -> None:
    before = threading.active_count()
    feed = Feed(PicameraSource(CFG, fake_module()), detect_fps=None, keep_motion=False)
    feed.start()
    assert feed.next(2.0) is not None
    feed.stop()
    assert threading.active_count() == before
    assert FakePicamera2.instances[0].closed
