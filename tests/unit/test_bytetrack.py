"""ByteTracker: ids kept through fast motion and crossings, no blips, time-based loss."""

from __future__ import annotations

import numpy as np
import pytest

from edge.classes import CLASS_ID
from edge.config import TrackerConfig
from edge.config.tracker import MAX_LOST_LIMIT_S
from edge.track import Tracker, build_tracker
from edge.track.bytetrack import ByteTracker
from edge.types import Detections, Frame, Tracks

#: Boxes alone: these tests feed no images (optical flow is tested in test_flow.py).
CFG = TrackerConfig(optical_flow=False)
#: A blank 2000×2000 frame that costs no memory (a broadcast view).
BLANK = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (2000, 2000, 3))


def at(ts_s: float) -> Frame:
    """The frame the detections were found in: only its time and size matter here."""
    return Frame(BLANK, ts_s, 0)


def dets(*boxes: tuple[float, float, float, float, str, float]) -> Detections:
    """Detections from ``(cx, cy, w, h, class, score)`` tuples."""
    if not boxes:
        return Detections.empty()
    xyxy = np.array(
        [[cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2] for cx, cy, w, h, _, _ in boxes]
    )
    return Detections(
        xyxy.astype(np.float32),
        np.array([b[5] for b in boxes], np.float32),
        np.array([CLASS_ID[b[4]] for b in boxes], np.int64),
    )


def ids_of(tracks: Tracks) -> list[int]:
    return [int(i) for i in tracks.track_id]


@pytest.mark.parametrize(
    ("detect_fps", "speed_px_s"),
    [(25.0, 300.0), (5.0, 300.0), (5.0, 500.0)],  # at 5/s, 500 px/s is 2.5 box widths a step
)
def test_fast_object_keeps_one_id(detect_fps: float, speed_px_s: float) -> None:
    tracker = ByteTracker(CFG)
    seen: set[int] = set()
    for k in range(int(2 * detect_fps)):
        ts = k / detect_fps
        out = tracker.update(dets((20 + speed_px_s * ts, 200, 40, 30, "car", 0.8)), at(ts))
        seen.update(ids_of(out))
    assert len(seen) == 1


def test_two_crossing_objects_keep_their_ids() -> None:
    tracker = ByteTracker(CFG)
    id_of: dict[str, int] = {}  # true object → track id
    for k in range(50):
        ts = k / 25
        truth = {"a": (100 + 200 * ts, 200.0), "b": (500 - 200 * ts, 206.0)}  # meet at ts = 1
        boxes = [(x, y, 40, 40, "person", 0.8) for x, y in truth.values()]
        out = tracker.update(dets(*boxes), at(ts))
        for tid, box in zip(ids_of(out), out.xyxy, strict=True):
            center = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
            name = min(truth, key=lambda n: np.hypot(*np.subtract(truth[n], center)))
            assert id_of.setdefault(name, tid) == tid, f"id switch at ts={ts:.2f}"
    assert len(set(id_of.values())) == 2


def test_single_detection_blips_are_never_reported_with_a_confirmation_time() -> None:
    tracker = ByteTracker(CFG.model_copy(update={"min_confirm_s": 0.1}))
    rng = np.random.default_rng(0)
    recent: list[tuple[float, float, float]] = []
    for k in range(300):
        ts = k / 25
        x, y = rng.uniform(0, 2000, 2)
        recent = [r for r in recent if ts - r[0] < 1.0]
        if any(np.hypot(x - rx, y - ry) < 300 for _, rx, ry in recent):
            continue  # keep every blip far from the recent ones: never the same object twice
        recent.append((ts, x, y))
        assert len(tracker.update(dets((x, y, 30, 30, "car", 0.9)), at(ts))) == 0


def test_a_track_is_confirmed_by_time_and_two_observations() -> None:
    tracker = ByteTracker(CFG.model_copy(update={"min_confirm_s": 0.1}))
    reported = [
        len(tracker.update(dets((100 + 4 * k, 100, 30, 30, "car", 0.9)), at(k / 25)))
        for k in range(5)
    ]
    assert reported == [0, 0, 0, 1, 1]  # ts 0.12 is the first frame 0.1 s after the start


def test_default_reports_a_track_from_its_first_detection() -> None:
    # A car crossing between its first and second detection (5 fps) is then still counted.
    tracker = ByteTracker(CFG)
    first = tracker.update(dets((100, 100, 30, 30, "car", 0.9)), at(0.0))
    second = tracker.update(dets((100, 160, 30, 30, "car", 0.9)), at(0.2))
    assert ids_of(first) == ids_of(second) and len(first) == 1


def test_lost_tracks_are_evicted_after_max_lost_s() -> None:
    cfg = CFG.model_copy(update={"max_lost_s": 1.0})
    tracker = ByteTracker(cfg)
    for k in range(10):
        out = tracker.update(dets((100, 100, 30, 30, "car", 0.9)), at(k / 25))
    (tid,) = ids_of(out)
    tracker.update(Detections.empty(), at(0.36 + 0.9))
    assert len(tracker) == 1  # lost, still kept
    back = tracker.update(dets((100, 100, 30, 30, "car", 0.9)), at(0.36 + 0.95))
    assert ids_of(back) == [tid]
    tracker.update(Detections.empty(), at(0.36 + 0.95 + 1.05))
    assert len(tracker) == 0
    tracker.update(dets((100, 100, 30, 30, "car", 0.9)), at(3.0))
    again = tracker.update(dets((100, 100, 30, 30, "car", 0.9)), at(3.2))
    assert ids_of(again) != [tid]


def test_motion_uses_timestamps_not_frame_counts() -> None:
    tracker = ByteTracker(CFG)
    speed = 300.0
    for k in range(15):  # 0.5 s at 30 fps
        out = tracker.update(dets((50 + speed * k / 30, 100, 30, 30, "car", 0.9)), at(k / 30))
    (tid,) = ids_of(out)
    ts = 14 / 30 + 0.6  # the detector skipped 0.6 s: the object moved 180 px (6 box widths)
    assert ids_of(tracker.update(dets((50 + speed * ts, 100, 30, 30, "car", 0.9)), at(ts))) == [tid]


def test_person_never_continues_a_car_track() -> None:
    tracker = ByteTracker(CFG)
    for k in range(10):
        out = tracker.update(dets((100, 100, 30, 60, "car", 0.9)), at(k / 25))
    (tid,) = ids_of(out)
    tracker.update(dets((100, 100, 30, 60, "person", 0.9)), at(0.4))
    out = tracker.update(dets((100, 100, 30, 60, "person", 0.9)), at(0.44))
    assert tid not in ids_of(out)


def test_car_truck_bus_interchange_and_duplicates_make_one_track() -> None:
    tracker = ByteTracker(CFG)
    seen: set[int] = set()
    for k in range(20):
        cls = ("car", "truck", "bus")[k % 3]
        box = (100 + 5 * k, 100, 60, 40)
        out = tracker.update(dets((*box, cls, 0.8), (*box[:2], 62, 41, "bus", 0.5)), at(k / 25))
        seen.update(ids_of(out))
        assert len(out) <= 1
    assert len(seen) == 1


def test_reported_box_and_class_are_the_detection() -> None:
    tracker = ByteTracker(CFG)
    for k in range(5):
        out = tracker.update(
            dets((100 + 3 * k, 100, 30, 30, "truck" if k == 4 else "car", 0.7)), at(k / 25)
        )
    np.testing.assert_allclose(out.xyxy[0], [97, 85, 127, 115])
    assert int(out.class_id[0]) == CLASS_ID["truck"]
    assert out.confidence[0] == pytest.approx(0.7)
    assert out.ts_s == pytest.approx(4 / 25)


def test_state_stays_bounded_over_a_long_run() -> None:
    tracker = ByteTracker(CFG.model_copy(update={"max_tracks": 64}))
    rng = np.random.default_rng(2)
    sizes = []
    for k in range(3600):  # an hour at 1 detection/s: objects cross in 3 s
        ts = float(k)
        boxes = [
            (100 + 200 * ((k - j) % 3), 50 + 40 * (j % 10), 30, 30, "car", 0.9)
            for j in range(k % 7)
        ]
        noise = [(*rng.uniform(0, 800, 2), 20, 20, "person", 0.6) for _ in range(3)]
        tracker.update(dets(*boxes, *noise), at(ts))
        sizes.append(len(tracker))
    assert max(sizes) <= 64
    assert max(sizes[-100:]) <= 3 * max(sizes[:100]) + 10


def test_hard_cap_on_live_tracks() -> None:
    tracker = ByteTracker(CFG.model_copy(update={"max_tracks": 10}))
    many = [(50 * i, 50, 20, 20, "car", 0.9) for i in range(30)]
    tracker.update(dets(*many), at(0.0))
    assert len(tracker) == 10


def test_reset_forgets_tracks_but_ids_stay_unique() -> None:
    tracker = ByteTracker(CFG)
    for k in range(5):
        first = ids_of(tracker.update(dets((100, 100, 30, 30, "car", 0.9)), at(k / 25)))
    tracker.reset()
    assert len(tracker) == 0
    for k in range(5):
        second = ids_of(tracker.update(dets((100, 100, 30, 30, "car", 0.9)), at(1 + k / 25)))
    assert first and second and set(first).isdisjoint(second)


def test_factory_builds_the_configured_tracker() -> None:
    tracker: Tracker = build_tracker(CFG)
    assert isinstance(tracker, ByteTracker)
    assert not tracker.wants_motion_images
    assert build_tracker(TrackerConfig()).wants_motion_images  # optical flow by default


def test_max_lost_s_is_bounded() -> None:
    with pytest.raises(ValueError, match="max_lost_s"):
        TrackerConfig(max_lost_s=MAX_LOST_LIMIT_S + 0.5)


def test_a_stopped_car_keeps_its_id_through_a_gap_of_missed_detections() -> None:
    """Identity is the tracker's alone (the counters never hand one id's state to another):
    a car waiting on the line whose detections drop out for 0.8 s keeps its id."""
    tracker = ByteTracker(CFG)
    rng = np.random.default_rng(0)
    ids: set[int] = set()
    for k in range(200):  # 20 s at 10 fps, no detections from 5.0 to 5.8 s
        ts = k / 10
        if 5.0 <= ts < 5.8:
            continue
        x, y = 320 + rng.uniform(-4, 4), 230 + rng.uniform(-4, 4)
        ids.update(ids_of(tracker.update(dets((x, y, 60, 40, "car", 0.7)), at(ts))))
    assert len(ids) == 1
