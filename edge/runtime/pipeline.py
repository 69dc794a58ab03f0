"""The per-frame chain: decode, track and count, one stage after the other, in frame order.

``Pipeline`` holds the stateful stages of one camera. The detector works in three steps so that
the runtime can run them in three threads (``runtime.ahead.DetectAhead``): ``prepare`` and
``infer`` ahead, ``follow`` (decode, track, count) in the processing thread. Each stateful
stage is touched by one thread only, so none needs a lock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from edge.count.line_counter import LineCounter
from edge.detect import Detector, Inferred, Prepared
from edge.track import Tracker
from edge.types import Crossing, Detections, Frame, Tracks


@dataclass(frozen=True)
class StageTimes:
    """Wall time of each stage for one frame, in milliseconds."""

    pre_ms: float
    infer_ms: float
    post_ms: float
    track_ms: float
    count_ms: float

    @property
    def detect_ms(self) -> float:
        """Pre-processing, inference and decoding together."""
        return self.pre_ms + self.infer_ms + self.post_ms


@dataclass(frozen=True)
class FrameResult:
    """Everything the pipeline learnt from one frame."""

    frame: Frame
    detections: Detections
    tracks: Tracks
    crossings: tuple[Crossing, ...]
    times: StageTimes


class Pipeline:
    """The per-frame chain. Stateful stages live here, each touched by one thread only.

    Args:
        detector: turns frames into detections (prepare, infer, decode).
        tracker: associates detections over time.
        counter: turns tracks into line crossings.

    The tracker owns its motion model (optical flow over ``Frame.between``): its time is
    part of ``track_ms``.
    """

    def __init__(self, detector: Detector, tracker: Tracker, counter: LineCounter):
        self.detector = detector
        self.tracker = tracker
        self.counter = counter

    def flush(self, last: FrameResult) -> FrameResult | None:
        """The crossings the counter still holds back (a person waiting for rider evidence),
        decided now, as a result after ``last``; None when there are none."""
        crossings = tuple(self.counter.flush())
        if not crossings:
            return None
        tracks = Tracks.empty(last.tracks.ts_s)
        return FrameResult(last.frame, Detections.empty(), tracks, crossings, last.times)

    def process(self, frame: Frame) -> FrameResult:
        """Run one frame through every stage (in the caller's thread)."""
        return self.follow(self.infer(self.prepare(frame)))

    def prepare(self, frame: Frame) -> Prepared:
        """Pre-processing alone (the prepare thread's part)."""
        return self.detector.prepare(frame)

    def infer(self, prepared: Prepared) -> Inferred:
        """The model alone (the detect thread's part)."""
        return self.detector.infer(prepared)

    def follow(self, inferred: Inferred) -> FrameResult:
        """Decode, track and count a frame (the processing thread's part, in frame order)."""
        frame = inferred.prepared.frame
        t0 = time.perf_counter()
        detections = self.detector.decode(inferred)
        t1 = time.perf_counter()
        tracks = self.tracker.update(detections, frame)
        t2 = time.perf_counter()
        crossings = tuple(self.counter.update(tracks))
        t3 = time.perf_counter()
        times = StageTimes(inferred.prepared.pre_ms, inferred.infer_ms, (t1 - t0) * 1e3,
                           (t2 - t1) * 1e3, (t3 - t2) * 1e3)  # fmt: skip
        return FrameResult(frame, detections, tracks, crossings, times)
