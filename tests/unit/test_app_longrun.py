"""A simulated day-shift of a 24/7 device: flat memory and bounded per-track state.

Synthetic detections (cars crossing the line, pedestrians crossing back and forth, a parked
car that never leaves, one-frame false positives) are fed with a fake clock to the real
tracker and the real line counter, no detector: two hours at 2 fps (the slowest rate the
device runs at, where each frame moves a car 30 px and association is hardest). Memory is
measured with tracemalloc after a warm-up and at the end; per-track dictionaries are sampled
all along.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from edge.classes import CLASS_ID
from edge.config import LineConfig, TrackerConfig
from edge.count.line_counter import LineCounter
from edge.track.bytetrack import ByteTracker
from edge.types import Detections, Frame

FPS = 2.0
HOURS = 2.0
CAR_EVERY_S = 4.0
CAR_PX_S = 60.0
pytestmark = pytest.mark.slow  # ~15k frames under tracemalloc: minutes on a shared runner

LINE = LineConfig(name="road", a=(0.0, 230.0), b=(640.0, 230.0))


def scene(t_s: float, rng: np.random.Generator) -> Detections:
    """Boxes at time ``t_s``: moving cars, a walker, a parked car, sometimes a false positive."""
    boxes: list[tuple[float, float, float, float, int, float]] = []
    for k in range(3):  # up to three cars on the road at once
        born = (np.floor(t_s / CAR_EVERY_S) - k) * CAR_EVERY_S
        y = 40.0 + CAR_PX_S * (t_s - born)
        x = 100.0 + 120.0 * (int(born / CAR_EVERY_S) % 4)
        if y < 400:
            boxes.append((x, y - 40, x + 70, y, CLASS_ID["car"], 0.8))
    phase = (t_s % 20.0) / 20.0  # a pedestrian walking up and down across the line
    py = 150 + 160 * (2 * phase if phase < 0.5 else 2 - 2 * phase)
    boxes.append((560, py - 60, 585, py, CLASS_ID["person"], 0.6))
    boxes.append((10, 300, 80, 340, CLASS_ID["car"], 0.7))  # parked for the whole shift
    if rng.random() < 0.05:
        x, y = rng.uniform(0, 600, 2)
        boxes.append((x, y, x + 30, y + 30, CLASS_ID["truck"], 0.35))
    arr = np.array(boxes, np.float64)
    arr[:, :4] += rng.normal(0, 1.5, (len(arr), 4))  # box jitter
    return Detections(arr[:, :4].astype(np.float32), arr[:, 5].astype(np.float32),
                      arr[:, 4].astype(np.int64))  # fmt: skip


def test_memory_and_track_state_stay_flat_over_simulated_hours() -> None:
    rng = np.random.default_rng(7)
    tracker = ByteTracker(TrackerConfig(optical_flow=False))  # synthetic boxes, no images
    counter = LineCounter([LINE], TrackerConfig())
    image = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (480, 640, 3))  # no memory
    frames = int(HOURS * 3600 * FPS)
    warmup = int(600 * FPS)
    max_tracks = max_states = crossings = 0
    tracemalloc.start()
    try:
        for i in range(frames):
            t_s = i / FPS
            tracks = tracker.update(scene(t_s, rng), Frame(image, t_s, i))
            crossings += len(counter.update(tracks))
            max_tracks, max_states = max(max_tracks, len(tracker)), max(max_states, len(counter))
            if i == warmup:
                base, _ = tracemalloc.get_traced_memory()
        end, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    cars = HOURS * 3600 / CAR_EVERY_S
    print(f"{frames} frames, {crossings} crossings, growth {(end - base) / 1024:.1f} KiB, "
          f"max tracks {max_tracks}, max counter states {max_states}")  # fmt: skip
    assert crossings >= 0.95 * cars, "the simulation should count nearly every car"
    assert end - base < 256 * 1024, f"memory grew by {(end - base) / 1024:.0f} KiB"
    assert max_tracks <= 32 and max_states <= 32
