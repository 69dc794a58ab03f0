"""BoxFlow: boxes moved by sparse optical flow, appearance descriptors, use by the tracker."""

from __future__ import annotations

import numpy as np
import pytest

from edge.capture.skipped import motion_gray
from edge.classes import CLASS_ID
from edge.config import LineConfig, TrackerConfig
from edge.count.line_counter import LineCounter
from edge.track.bytetrack import ByteTracker
from edge.track.flow import BoxFlow, appearance_distance
from edge.types import Detections, Frame, ImageArray

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
    leader_ids: set[int] = set()
    for k in range(5):
        ts = k * 0.2
        lead = (20 + 25 * k, 100.0, 1)
        squares = [lead] + ([(lead[0] - 45, 100.0, 2)] if k >= 1 else [])
        boxes = np.array([car(x, y) for x, y, _ in squares], np.float32)
        dets = Detections(boxes, np.full(len(boxes), 0.9, np.float32),
                          np.full(len(boxes), CLASS_ID["car"], np.int64))  # fmt: skip
        out = tracker.update(dets, Frame(scene(squares), ts, k))
        for tid, box in zip(out.track_id, out.xyxy, strict=True):
            if abs(box[0] - lead[0]) < 1:
                leader_ids.add(int(tid))
    return leader_ids


def test_fast_car_with_a_close_follower_keeps_its_id_with_flow_only() -> None:
    assert len(run_follow(use_flow=True)) == 1
    assert len(run_follow(use_flow=False)) > 1


def test_skipped_frames_let_flow_follow_a_jump_it_cannot_make_at_once() -> None:
    """A textured square moves 60 px between two processed frames: too far for one LK jump
    (the nearest texture matches wrongly or not at all), easy in six steps of 10 px."""
    steps = [scene([(40 + 10 * k, 80, 1)]) for k in range(7)]
    box = np.array([[40, 80, 80, 120]], np.float32)
    chained = BoxFlow()
    chained.update(steps[0])
    chained.update(steps[6], tuple(motion_gray(img) for img in steps[1:6]))
    moved, ok = chained.displace(box)
    assert ok.tolist() == [True]
    np.testing.assert_allclose(moved[0], [100, 80, 140, 120], atol=1.0)
    direct = BoxFlow()
    direct.update(steps[0])
    direct.update(steps[6])
    moved, ok = direct.displace(box)
    assert not (ok[0] and abs(moved[0][0] - 100) < 1.0)


def test_a_box_lost_at_any_step_is_not_reliable() -> None:
    """The square vanishes in the middle skipped frame: the chain cannot vouch for the box."""
    frames = [scene([(40 + 10 * k, 80, 1)]) if k != 3 else scene([]) for k in range(7)]
    flow = BoxFlow()
    flow.update(frames[0])
    flow.update(frames[6], tuple(motion_gray(img) for img in frames[1:6]))
    _, ok = flow.displace(np.array([[40, 80, 80, 120]], np.float32))
    assert ok.tolist() == [False]


def test_skipped_frames_of_another_size_are_ignored() -> None:
    """Motion images that do not match the frame (the camera changed mode) are not chained."""
    flow = BoxFlow()
    flow.update(scene([(100, 80, 1)]))
    flow.update(scene([(106, 83, 1)]), (np.zeros((10, 10), np.uint8),))
    moved, ok = flow.displace(np.array([[100, 80, 140, 120]], np.float32))
    assert ok.tolist() == [True]
    np.testing.assert_allclose(moved[0], [106, 83, 146, 123], atol=1.0)


def one_car(box: tuple[float, float, float, float], score: float = 0.9) -> Detections:
    return Detections(np.array([box], np.float32), np.array([score], np.float32),
                      np.array([CLASS_ID["car"]], np.int64))  # fmt: skip


def test_a_missed_detection_is_bridged_by_flow_and_reported_with_score_zero() -> None:
    """The detector misses a car for one frame (occlusion): the track is still reported, where
    the image says the car is, so a crossing in that frame is not lost."""
    tracker = ByteTracker(TrackerConfig())
    out = None
    for k in range(4):
        x = 40 + 12 * k
        dets = one_car(car(x, 80)) if k != 3 else Detections.empty()
        out = tracker.update(dets, Frame(scene([(x, 80, 1)]), k * 0.04, k))
    assert out is not None and len(out) == 1
    assert float(out.confidence[0]) == 0.0
    np.testing.assert_allclose(out.xyxy[0], car(76, 80), atol=1.5)


def test_a_track_flow_carries_past_max_lost_is_not_reported_as_it_ends() -> None:
    """The detector stops seeing a car that the image still shows: flow reports the track until
    it has been lost for ``max_lost_s``, and in the frame it ends it is reported no more."""
    tracker = ByteTracker(TrackerConfig(max_lost_s=0.1))
    reported = []
    for k in range(7):  # detected in frames 0-3 (last at 0.12 s), lost from 0.16 s
        x = 40 + 12 * k
        dets = one_car(car(x, 80)) if k <= 3 else Detections.empty()
        reported.append(len(tracker.update(dets, Frame(scene([(x, 80, 1)]), k * 0.04, k))))
    assert reported == [1, 1, 1, 1, 1, 1, 0]  # at 0.24 s it has been lost for 0.12 s
    assert len(tracker) == 0


def test_a_track_with_a_single_detection_does_not_move_on_flow_alone() -> None:
    tracker = ByteTracker(TrackerConfig())
    assert len(tracker.update(one_car(car(40, 80)), Frame(scene([(40, 80, 1)]), 0.0, 0))) == 1
    assert len(tracker.update(Detections.empty(), Frame(scene([(52, 80, 1)]), 0.04, 1))) == 0


def test_a_track_that_left_the_frame_ends_at_once() -> None:
    """A car leaves through the bottom edge. Kept alive for ``max_lost_s``, its widening gate
    would grab the next car to appear; knowing the frame, the tracker ends it when its
    predicted centre is outside."""

    def live_tracks_after_leaving(height: int) -> int:
        tracker = ByteTracker(TrackerConfig(optical_flow=False))
        image = np.zeros((height, W, 3), np.uint8)
        for k in range(6):
            y = 140 + 12 * k  # 300 px/s down, the last box touches the bottom edge
            tracker.update(one_car((100, y, 140, min(y + 40, H))), Frame(image, k * 0.04, k))
        tracker.update(Detections.empty(), Frame(image, 0.4, 6))
        return len(tracker)

    assert live_tracks_after_leaving(2 * H) == 1  # in a taller frame it is only lost
    assert live_tracks_after_leaving(H) == 0


def test_retrace_finds_where_a_box_came_from() -> None:
    steps = [scene([(40 + 10 * k, 80, 1)]) for k in range(7)]
    flow = BoxFlow()
    flow.update(steps[0])
    flow.update(steps[6], tuple(motion_gray(img) for img in steps[1:6]))
    back, ok = flow.retrace(np.array([[100, 80, 140, 120]], np.float32))
    assert ok.tolist() == [True]
    np.testing.assert_allclose(back[0], [40, 80, 80, 120], atol=1.0)


def count_late_detected_car(use_flow: bool) -> dict[str, int]:
    """A car crosses a horizontal line at y = 150 (anchor: bottom centre) moving 60 px per
    processed frame (5 fps, one skipped frame every 10 px); the detector finds it only once it
    is past the line (before, it was hidden behind the car ahead)."""
    tracker = ByteTracker(TrackerConfig(optical_flow=use_flow))
    counter = LineCounter([LineConfig(name="L", a=(0, 150), b=(W, 150), hysteresis_px=5)])
    ys = [10.0 + 10 * k for k in range(19)]  # top of the 40 px square, every camera frame
    for k in range(0, len(ys), 6):
        between = tuple(motion_gray(scene([(140, y, 1)])) for y in ys[max(0, k - 5) : k])
        frame = Frame(scene([(140, ys[k], 1)]), k / 30, k, between)
        dets = one_car(car(140, ys[k])) if ys[k] + 40 > 150 else Detections.empty()
        counter.update(tracker.update(dets, frame))
    return counter.totals()["L"]["in"]


def test_a_car_first_detected_past_the_line_is_counted_from_its_traced_origin() -> None:
    assert count_late_detected_car(use_flow=True)["car"] == 1
    assert count_late_detected_car(use_flow=False)["car"] == 0


def test_a_crossing_before_confirmation_is_counted_once_the_track_is_confirmed() -> None:
    """With ``min_confirm_s`` a track is reported only after its detections span that long;
    its first report carries its first box, so a crossing made meanwhile still counts."""
    tracker = ByteTracker(TrackerConfig(optical_flow=False, min_confirm_s=0.1))
    counter = LineCounter([LineConfig(name="L", a=(0, 150), b=(W, 150), hysteresis_px=5)])
    reported = []
    for k in range(8):
        y = 100 + 8 * k  # box bottom 140 → 196: crosses y = 150 at the second frame
        out = tracker.update(one_car(car(140, y)), Frame(scene([]), k / 25, k))
        reported.append(len(out))
        counter.update(out)
    assert reported[:3] == [0, 0, 0] and reported[-1] == 1
    assert counter.totals()["L"]["in"]["car"] == 1
