"""OpenCV live source on real files through the real decoder: newest frame, reconnect, frozen."""

from __future__ import annotations

import re
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.capture.live import NewestFrame
from edge.capture.opencv import OpenCVSource
from edge.config import OpenCVSourceConfig
from edge.errors import SourceError
from edge.types import Frame


def write_video(path: Path, frames: int, size_wh: tuple[int, int], moving: bool) -> Path:
    """A small MJPG AVI; ``moving`` draws a block that moves, else every frame is identical."""
    w, h = size_wh
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (w, h))
    for i in range(frames):
        img = np.full((h, w, 3), 90, np.uint8)
        x = (i * 3) % (w - 10) if moving else 5
        img[10:20, x : x + 10] = 255
        out.write(img)
    out.release()
    return path


def cfg(url: Path | str, **kw: float) -> OpenCVSourceConfig:
    base: dict[str, object] = {"url": str(url), "reconnect_min_s": 0.05, "reconnect_max_s": 0.2}
    return OpenCVSourceConfig.model_validate({**base, **kw})


def take(src: OpenCVSource, n: int, timeout_s: float = 10.0) -> list[Frame]:
    got: list[Frame] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < n and time.monotonic() < deadline:
        f = src.read(0.2)
        if f is not None:
            got.append(f)
    return got


def test_frames_carry_size_monotonic_time_and_sequence(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.avi", 200, (96, 64), moving=True)
    t0 = time.monotonic()
    src = OpenCVSource(cfg(video))
    try:
        assert src.size_wh == (96, 64)
        frames = take(src, 5)
    finally:
        src.close()
    assert len(frames) == 5
    assert all(t0 <= f.ts_s <= time.monotonic() for f in frames)
    assert [f.ts_s for f in frames] == sorted(f.ts_s for f in frames)
    assert [f.seq for f in frames] == sorted({f.seq for f in frames})
    assert abs(src.utc_offset_s() - (time.time() - time.monotonic())) < 1.0


def test_slow_consumer_gets_newest_frame_and_drops_are_counted(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.avi", 400, (96, 64), moving=True)
    src = OpenCVSource(cfg(video))
    try:
        time.sleep(0.5)  # the reader decodes the whole file meanwhile
        first = src.read(1.0)
        stats = src.stats()
    finally:
        src.close()
    assert first is not None
    assert stats.captured > 50
    assert stats.dropped >= stats.captured - 2  # everything but the newest was overwritten


def test_stream_end_reconnects_by_itself_and_counts_it(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.avi", 20, (96, 64), moving=True)
    src = OpenCVSource(cfg(video))
    try:
        deadline = time.monotonic() + 10
        while src.stats().reconnects < 2 and time.monotonic() < deadline:
            src.read(0.1)
        stats = src.stats()
    finally:
        src.close()
    assert stats.reconnects >= 2
    assert stats.captured >= 40  # the file came again after each reconnect
    assert src.last_loss == "the stream ended or timed out"


def test_identical_frames_count_as_a_frozen_stream(tmp_path: Path) -> None:
    video = write_video(tmp_path / "still.avi", 4000, (64, 64), moving=False)
    src = OpenCVSource(cfg(video, frozen_after_s=0.02))
    try:
        deadline = time.monotonic() + 10
        while src.last_loss is None and time.monotonic() < deadline:
            src.read(0.05)
    finally:
        src.close()
    assert src.last_loss is not None and "identical frames" in src.last_loss


def test_unreachable_stream_fails_start_up_naming_the_url() -> None:
    url = "http://127.0.0.1:9/none.ts"
    t0 = time.monotonic()
    with pytest.raises(SourceError, match=re.escape("127.0.0.1:9")):
        OpenCVSource(cfg(url, open_timeout_s=0.5))
    assert time.monotonic() - t0 < 10


def test_newest_frame_slot_drops_the_older_and_reports_reader_failure() -> None:
    slot = NewestFrame()
    img = np.zeros((4, 4, 3), np.uint8)
    for i in range(3):
        slot.put(Frame(img, float(i), i))
    got = slot.get(0.1)
    assert got is not None and got.seq == 2
    assert (slot.captured, slot.dropped) == (3, 2)
    assert slot.get(0.01) is None
    slot.fail(OSError("usb gone"))
    with pytest.raises(SourceError, match="usb gone"):
        slot.get(0.01)
