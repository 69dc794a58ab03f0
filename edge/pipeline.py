"""Pipeline: detect → track → count in one thread, fed by a capture thread through a queue.

Backpressure rule (replay): the capture thread blocks when the queue is full, so no frame is
ever dropped and a replay is deterministic. Decoding runs beside inference, which is what lets
the processed fps stay close to the detector's bare speed on a two-core device.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from edge.capture import FrameSource
from edge.count.line_counter import LineCounter
from edge.detect import Detector
from edge.track import Tracker
from edge.track.flow import BoxFlow
from edge.types import Crossing, Detections, Frame, Tracks

log = logging.getLogger(__name__)

#: Frames decoded ahead of the processing thread; small, each is a full image.
QUEUE_FRAMES = 4


@dataclass(frozen=True)
class StageTimes:
    """Wall time of each stage for one frame, in milliseconds."""

    detect_ms: float
    track_ms: float
    count_ms: float


@dataclass(frozen=True)
class FrameResult:
    """Everything the pipeline learnt from one frame."""

    frame: Frame
    detections: Detections
    tracks: Tracks
    crossings: tuple[Crossing, ...]
    times: StageTimes


class Pipeline:
    """The per-frame chain. Stateful stages live here, touched by one thread only.

    Args:
        detector: turns frames into detections.
        tracker: associates detections over time.
        counter: turns tracks into line crossings.

    When the tracker ``uses_motion``, the pipeline measures optical flow on every processed
    frame (``BoxFlow``, counted in ``track_ms``) and hands it to the tracker.
    """

    def __init__(self, detector: Detector, tracker: Tracker, counter: LineCounter):
        self.detector = detector
        self.tracker = tracker
        self.counter = counter
        self.flow = BoxFlow() if tracker.uses_motion else None

    def process(self, frame: Frame) -> FrameResult:
        """Run one frame through detect, track and count."""
        t0 = time.perf_counter()
        detections = self.detector.detect(frame)
        t1 = time.perf_counter()
        if self.flow is not None:
            self.flow.update(frame.image, frame.between)
        tracks = self.tracker.update(detections, frame.ts_s, self.flow, frame.size_wh)
        t2 = time.perf_counter()
        crossings = tuple(self.counter.update(tracks))
        t3 = time.perf_counter()
        times = StageTimes((t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3)
        return FrameResult(frame, detections, tracks, crossings, times)


_END = object()


def _read_ahead(source: FrameSource, out: queue.Queue[object], stop: threading.Event) -> None:
    """Capture thread body: decode frames into the queue, blocking when it is full."""
    try:
        for frame in source.frames():
            while not stop.is_set():
                try:
                    out.put(frame, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if stop.is_set():
                return
        out.put(_END)
    except Exception as err:
        out.put(err)


def frames_ahead(source: FrameSource) -> Iterator[Frame]:
    """Iterate over a source's frames decoded in a background thread (bounded, blocking).

    Raises:
        Exception: whatever the source raised, re-raised in the caller's thread.
    """
    q: queue.Queue[object] = queue.Queue(maxsize=QUEUE_FRAMES)
    stop = threading.Event()
    thread = threading.Thread(target=_read_ahead, args=(source, q, stop), name="capture")
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, Frame)
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


def run(source: FrameSource, pipeline: Pipeline, on_result: Callable[[FrameResult], None]) -> int:
    """Process every frame of ``source``; return the number of frames processed."""
    processed = 0
    for frame in frames_ahead(source):
        on_result(pipeline.process(frame))
        processed += 1
    return processed
