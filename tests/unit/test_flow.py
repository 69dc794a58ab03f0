"""BoxFlow: boxes moved by sparse optical flow, appearance descriptors, use by the tracker."""

from __future__ import annotations

import numpy as np
import pytest

from edge.config import TrackerConfig
from edge.track.bytetrack import ByteTracker
from edge.track.flow import BoxFlow, appearance_distance
from edge.types import CLASS_ID, Detections, ImageArray

H, W = 240, 320


def scene(squares: list[tuple[float, float, int]]) -> ImageArray:
    """A flat gray frame with textured 40×40 squares at (x, y) top-left, each with its own seed."""
    img = np.full((H, W, 3), 100, np.uint8)
    for x, y, seed in squares:
        tex = np.random.default_rng(seed).integers(0, 255, (40, 40), dtype=np.uint8)
        tex = np.kron(tex[::4, ::4], np.ones((4, 4), np.uint8))  # blobs LK can follow
        xi, yi = round(x), round(y)
        img[yi : yi + 40, xi : xi + 40] = tex[:, :, None]
    return img


@pytest.mark.parametrize(("dx", "dy"), [(0, 0), (6, 3), (-20, 15), (35, 0)])
def test_displace_follows_a_moving_textured_square(dx: float, dy: float) -> None:
    flow = BoxFlow()
    flow.update(scene([(100, 80, 1)]))
    flow.update(scene([(100 + dx, 80 + dy, 1)]))
    moved, ok = flow.displace(np.array([[100, 80, 140, 120]], np.float32))
    assert ok.tolist() == [True]
    np.testing.assert_allclose(moved[0], [100 + dx, 80 + dy, 140 + dx, 120 + dy], atol=1.0)


def test_displace_without_a_previous_frame_is_not_reliable() -> None:
    flow = BoxFlow()
    flow.update(scene([(100, 80, 1)]))
    moved, ok = flow.displace(np.array([[100, 80, 140, 120]], np.float32))
    assert ok.tolist() == [False]
    np.testing.assert_array_equal(moved[0], [100, 80, 140, 120])


def test_flat_background_is_not_reliable() -> None:
    flow = BoxFlow()
    flow.update(scene([]))
    flow.update(scene([]))
    _, ok = flow.displace(np.array([[100, 80, 140, 120]], np.float32))
    assert ok.tolist() == [False]


def test_appearance_tells_two_objects_apart() -> None:
    flow = BoxFlow()
    flow.update(scene([(40, 40, 1), (200, 40, 2)]))
    looks = flow.describe(np.array([[40, 40, 80, 80], [200, 40, 240, 80]], np.float32))
    flow.update(scene([(60, 60, 1)]))
    again = flow.describe(np.array([[60, 60, 100, 100]], np.float32))
    d = appearance_distance(again, looks)[0]
    assert d[0] < 0.05
    assert d[1] > 0.3


def car(x: float, y: float) -> tuple[float, float, float, float]:
    return (x, y, x + 40, y + 40)


def run_follow(use_flow: bool) -> set[int]:
    """A car and a close follower 5 px behind it, moving 25 px per step (5 fps, 40 px boxes).

    Without image motion the new leader track has no speed, so its second detection is farther
    away than the follower's, which takes over the id.

    The leader appears first; the follower enters behind it one step later. Returns the track
    ids the leader's detections got.
    """
    tracker = ByteTracker(TrackerConfig(optical_flow=use_flow))
    flow = BoxFlow()
    leader_ids: set[int] = set()
    for k in range(5):
        ts = k * 0.2
        lead = (20 + 25 * k, 100.0, 1)
        squares = [lead] + ([(lead[0] - 45, 100.0, 2)] if k >= 1 else [])
        flow.update(scene(squares))
        boxes = np.array([car(x, y) for x, y, _ in squares], np.float32)
        dets = Detections(boxes, np.full(len(boxes), 0.9, np.float32),
                          np.full(len(boxes), CLASS_ID["car"], np.int64))  # fmt: skip
        out = tracker.update(dets, ts, flow if use_flow else None)
        for tid, box in zip(out.track_id, out.xyxy, strict=True):
            if abs(box[0] - lead[0]) < 1:
                leader_ids.add(int(tid))
    return leader_ids


def test_fast_car_with_a_close_follower_keeps_its_id_with_flow_only() -> None:
    assert len(run_follow(use_flow=True)) == 1
    assert len(run_follow(use_flow=False)) > 1
