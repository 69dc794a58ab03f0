"""OpenCV live source on real files through the real decoder: newest frame, reconnect, frozen."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.capture import Gap
from edge.capture.opencv import OpenCVSource
from edge.config import OpenCVSourceConfig
from edge.errors import SourceError
from edge.runtime.feed import Feed, FrameSlot
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


def take(src: OpenCVSource, n: int) -> list[Frame]:
    """The first ``n`` frames (gaps skipped), read in this thread."""
    got: list[Frame] = []
    for item in src.frames():
        if isinstance(item, Frame):
            got.append(item)
        if len(got) >= n:
            break
    return got


def read_until(src: OpenCVSource, done: Callable[[], bool], timeout_s: float = 10.0) -> int:
    """Read frames until ``done()``; returns the gaps seen."""
    gaps, deadline = 0, time.monotonic() + timeout_s
    for item in src.frames():
        gaps += isinstance(item, Gap)
        if done() or time.monotonic() > deadline:
            break
    return gaps


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
    feed = Feed(OpenCVSource(cfg(video)), detect_fps=None, keep_motion=False)
    feed.start()
    try:
        time.sleep(0.5)  # the reader decodes the whole file meanwhile
        first = feed.next(1.0)
        stats = feed.stats()
    finally:
        feed.stop()
    assert first is not None
    assert stats.captured > 50
    assert stats.dropped >= stats.captured - 2  # everything but the newest was overwritten


def test_stream_end_reconnects_by_itself_and_counts_it(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.avi", 20, (96, 64), moving=True)
    src = OpenCVSource(cfg(video))
    try:
        gaps = read_until(src, lambda: src.stats().reconnects >= 2)
        stats = src.stats()
    finally:
        src.close()
    assert stats.reconnects >= 2 and gaps >= 2  # each loss is a gap in the stream
    assert stats.captured >= 40  # the file came again after each reconnect
    assert src.last_loss == "the stream ended or timed out"


def test_identical_frames_count_as_a_frozen_stream(tmp_path: Path) -> None:
    video = write_video(tmp_path / "still.avi", 4000, (64, 64), moving=False)
    src = OpenCVSource(cfg(video, frozen_after_s=0.02))
    try:
        read_until(src, lambda: src.last_loss is not None)
    finally:
        src.close()
    assert src.last_loss is not None and "identical frames" in src.last_loss


def test_unreachable_stream_fails_start_up_naming_the_url() -> None:
    url = "http://127.0.0.1:9/none.ts"
    t0 = time.monotonic()
    with pytest.raises(SourceError, match=re.escape("127.0.0.1:9")):
        OpenCVSource(cfg(url, open_timeout_s=0.5))
    assert time.monotonic() - t0 < 10


def test_newest_frame_slot_drops_the_older_and_passes_a_reader_failure_on() -> None:
    slot = FrameSlot(newest=True, keep_motion=False)
    stop = threading.Event()
    img = np.zeros((4, 4, 3), np.uint8)
    for i in range(3):
        assert slot.put(Frame(img, float(i), i), stop)
    got = slot.get(0.1)
    assert got is not None and got.seq == 2
    assert slot.replaced == 2
    assert slot.get(0.01) is None
    slot.end(SourceError("usb gone"))
    with pytest.raises(SourceError, match="usb gone"):
        slot.get(0.01)
