"""Skipped frames: bounded motion images handed over with the next frame (replay and live)."""

from __future__ import annotations

import numpy as np

from edge.capture.live import NewestFrame, SlotReader, SourceStats
from edge.capture.replay import ReplaySource
from edge.capture.skipped import MAX_KEPT, MAX_SIDE_PX, SkippedFrames, motion_gray
from edge.feeds import LiveFeed
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
    slot = NewestFrame(keep_skipped=True)
    for seq in range(4):
        slot.put(Frame(image(seq), seq / 25, seq))
    frame = slot.get(0.1)
    assert frame is not None and frame.seq == 3
    assert [int(g[0, 0]) for g in frame.between] == [0, 1, 2]
    slot.put(Frame(image(9), 1.0, 9))
    frame = slot.get(0.1)
    assert frame is not None and frame.between == ()


def test_newest_frame_forgets_skipped_frames_across_a_gap() -> None:
    slot = NewestFrame(keep_skipped=True)
    slot.put(Frame(image(1), 0.0, 0))
    slot.put(Frame(image(2), 0.04, 1))
    slot.gap()
    slot.put(Frame(image(3), 5.0, 2))
    frame = slot.get(0.1)
    assert frame is not None and frame.seq == 2 and frame.between == ()


def test_replay_at_a_low_rate_hands_over_every_skipped_frame() -> None:
    video = CLIPS_DIR / "tud_campus_walk" / "video.mp4"
    require_asset(video)
    source = ReplaySource(video, detect_fps=5, keep_skipped=True)
    try:
        total = source.frame_count
        frames = list(source.frames())
    finally:
        source.close()
    assert sum(1 + len(f.between) for f in frames) == total
    assert all(len(f.between) == 4 for f in frames[1:-1])  # 25 fps → 5 fps
    assert frames[1].between[0].shape == frames[1].image.shape[:2]
    plain = ReplaySource(video, detect_fps=5)
    try:
        assert all(f.between == () for f in plain.frames())
    finally:
        plain.close()


class SlotSource(SlotReader):
    """The reading side of a live source over a real ``NewestFrame`` slot, fed by the test."""

    def __init__(self) -> None:
        self._slot = NewestFrame(keep_skipped=True)
        self._offset_s = 0.0

    def put(self, frame: Frame) -> None:
        self._slot.put(frame)

    def stats(self) -> SourceStats:
        return SourceStats(self._slot.captured, self._slot.dropped, 0, False)


def test_live_feed_thinning_to_detect_fps_passes_the_thinned_frames_on() -> None:
    """A 25 fps camera read at once, thinned to 5 fps by ``detect_fps``: every frame the feed
    drops reaches the next delivered frame as a motion image, in order."""
    source = SlotSource()
    feed = LiveFeed(source, detect_fps=5, keep_skipped=True)
    delivered = []
    for seq in range(15):
        source.put(Frame(image(seq), seq / 25, seq))
        frame = feed.next(0.1)
        if frame is not None:
            delivered.append(frame)
    assert [f.seq for f in delivered] == [0, 5, 10]
    assert [int(g[0, 0]) for g in delivered[1].between] == [1, 2, 3, 4]
    assert [int(g[0, 0]) for g in delivered[2].between] == [6, 7, 8, 9]
    assert feed.stats().dropped == 12
