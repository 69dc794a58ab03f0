"""Skipped frames: bounded motion images handed over with the next frame (replay and live), and
the one thinning schedule."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.capture import GAP, Gap
from edge.capture.pacing import Thinning, thinned
from edge.capture.replay import ReplaySource
from edge.capture.skipped import MAX_KEPT, MAX_SIDE_PX, SkippedFrames, motion_gray
from edge.runtime.feed import EndOfFrames, Feed, FrameSlot
from edge.types import Frame
from tests.conftest import CLIPS_DIR, require_asset


def image(value: int, h: int = 90, w: int = 160) -> np.ndarray:
    return np.full((h, w, 3), value, np.uint8)


def test_motion_gray_is_gray_and_at_most_max_side() -> None:
    small = motion_gray(image(7))
    assert small.shape == (90, 160)
    big = motion_gray(image(7, 720, 1280))
    assert big.shape == (360, 640)
    assert max(big.shape) == MAX_SIDE_PX


def test_skipped_frames_keep_order_and_empty_on_take() -> None:
    kept = SkippedFrames()
    for v in (1, 2, 3):
        kept.add(image(v))
    taken = kept.take()
    assert [int(g[0, 0]) for g in taken] == [1, 2, 3]
    assert kept.take() == ()


def test_a_long_run_of_skipped_frames_is_thinned_evenly_and_bounded() -> None:
    kept = SkippedFrames()
    for v in range(3 * MAX_KEPT):
        kept.add(image(v))
    values = [int(g[0, 0]) for g in kept.take()]
    assert MAX_KEPT // 2 <= len(values) <= MAX_KEPT
    steps = set(np.diff(values).tolist())
    assert len(steps) == 1  # even steps: no long jump anywhere
    assert values[0] == 0
    assert values[-1] >= 3 * MAX_KEPT - steps.pop()  # reaches the newest frames


def test_disabled_keeps_nothing() -> None:
    kept = SkippedFrames(enabled=False)
    kept.add(image(1))
    assert kept.take() == ()


def test_newest_frame_hands_over_the_frames_it_replaced() -> None:
    slot, stop = FrameSlot(newest=True, keep_motion=True), threading.Event()
    for seq in range(4):
        slot.put(Frame(image(seq), seq / 25, seq), stop)
    frame = slot.get(0.1)
    assert frame is not None and frame.seq == 3
    assert [int(g[0, 0]) for g in frame.between] == [0, 1, 2]
    slot.put(Frame(image(9), 1.0, 9), stop)
    frame = slot.get(0.1)
    assert frame is not None and frame.between == ()


def test_newest_frame_forgets_skipped_frames_across_a_gap() -> None:
    slot, stop = FrameSlot(newest=True, keep_motion=True), threading.Event()
    slot.put(Frame(image(1), 0.0, 0), stop)
    slot.put(Frame(image(2), 0.04, 1), stop)
    slot.gap()
    slot.put(Frame(image(3), 5.0, 2), stop)
    frame = slot.get(0.1)
    assert frame is not None and frame.seq == 2 and frame.between == ()
    assert slot.replaced == 2


def drain(feed: Feed) -> list[Frame]:
    frames: list[Frame] = []
    feed.start()
    try:
        with pytest.raises(EndOfFrames):
            while True:
                frame = feed.next(5.0)
                assert frame is not None
                frames.append(frame)
    finally:
        feed.stop()
    return frames


def test_replay_at_a_low_rate_hands_over_every_skipped_frame() -> None:
    video = require_asset(CLIPS_DIR / "tud_campus_walk" / "video.mp4")
    source = ReplaySource(video)
    total = source.frame_count
    frames = drain(Feed(source, detect_fps=5, keep_motion=True))
    assert sum(1 + len(f.between) for f in frames) == total
    assert all(len(f.between) == 4 for f in frames[1:-1])  # 25 fps → 5 fps
    assert frames[1].between[0].shape == frames[1].image.shape[:2]
    plain = drain(Feed(ReplaySource(video), detect_fps=5, keep_motion=False))
    assert [f.seq for f in plain] == [f.seq for f in frames]
    assert all(f.between == () for f in plain)


def test_feed_ends_after_max_frames_of_the_source() -> None:
    video = require_asset(CLIPS_DIR / "tud_campus_walk" / "video.mp4")
    frames = drain(Feed(ReplaySource(video), detect_fps=5, keep_motion=False, max_frames=30))
    assert [f.seq for f in frames] == [0, 5, 10, 15, 20, 25]


def test_thinning_to_detect_fps_passes_the_thinned_frames_on() -> None:
    """A 25 fps camera thinned to 5 fps by ``detect_fps``: every frame dropped reaches the next
    delivered frame as a motion image, in order; a gap forgets them."""
    stream: list[Frame | Gap] = [Frame(image(seq), seq / 25, seq) for seq in range(15)]
    delivered = list(thinned(stream, detect_fps=5, keep_motion=True))
    assert [f.seq for f in delivered] == [0, 5, 10]
    assert [int(g[0, 0]) for g in delivered[1].between] == [1, 2, 3, 4]
    assert [int(g[0, 0]) for g in delivered[2].between] == [6, 7, 8, 9]
    broken = [*stream[:8], GAP, *stream[8:11]]
    assert [int(g[0, 0]) for g in list(thinned(broken, 5, True))[2].between] == [8, 9]


@pytest.mark.parametrize(
    ("stamps", "due"),
    [
        ([0.0, 0.04, 0.08, 0.12, 0.16, 0.2, 0.24], [0.0, 0.2]),  # 25 fps to 5 fps
        ([100.0, 100.1, 100.21, 100.3, 100.42], [100.0, 100.21, 100.42]),  # a camera clock
        ([0.0, 0.2, 0.9, 1.0, 1.1, 1.2], [0.0, 0.2, 0.9, 1.0, 1.1]),  # a stall: grid moves up
        ([0.0, 0.1999, 0.4], [0.0, 0.1999, 0.4]),  # timestamp rounding is tolerated
    ],
)
def test_thinning_follows_a_grid_in_source_time(stamps: list[float], due: list[float]) -> None:
    thinning = Thinning(5.0)
    assert [t for t in stamps if thinning.due(t)] == due
    assert thinning.skipped == len(stamps) - len(due)
    assert all(Thinning(None).due(t) for t in stamps)


def test_a_truncated_recording_replays_what_it_holds_and_warns_where_it_ended(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A recording cut in the middle (a full SD card, a copy interrupted): its header still
    announces every frame; the frames it holds are counted and the warning names the frame."""
    whole = tmp_path / "whole.avi"
    out = cv2.VideoWriter(str(whole), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (96, 64))
    for i in range(100):
        img = np.full((64, 96, 3), 90, np.uint8)
        img[10:20, i % 80 : i % 80 + 10] = 255
        out.write(img)
    out.release()
    cut = tmp_path / "cut.avi"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with caplog.at_level(logging.WARNING, logger="edge.capture.replay"):
        frames = drain(Feed(ReplaySource(cut), detect_fps=None, keep_motion=False))
    assert 20 < len(frames) < 100
    warned = [r.getMessage() for r in caplog.records if "truncated" in r.getMessage()]
    assert warned == [f"{cut}: the recording ends at frame {len(frames)} of the 100 its header "
                      "announces (truncated?); counted what it holds"]  # fmt: skip
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="edge.capture.replay"):
        assert len(drain(Feed(ReplaySource(whole), None, False))) == 100
    assert not [r for r in caplog.records if "truncated" in r.getMessage()]
