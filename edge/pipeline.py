"""Pipeline: detect → track → count, in two threads, fed by a capture thread through a queue.

The detector runs one frame ahead in its own thread (``DetectAhead``): while frame k is
tracked and counted, frame k+1 is already being detected, so the tracker's optical flow and
the counter do not add to the time per frame; the processed fps stays close to the detector's
bare speed. Each stateful stage is still touched by one thread only: the detector by the
detect thread, the tracker, flow and counter by the processing thread, in frame order.

Backpressure rule (replay): the capture thread blocks when the queue is full, and so does the
detect thread when its one-result slot is taken, so no frame is ever dropped and a replay is
deterministic.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass

from edge.capture import FrameSource
from edge.count.line_counter import LineCounter
from edge.detect import Detector
from edge.feeds import put_until_stopped
from edge.track import Tracker
from edge.track.flow import BoxFlow
from edge.types import Crossing, Detections, Frame, Tracks

log = logging.getLogger(__name__)

#: Frames decoded ahead of the processing thread; small, each is a full image.
QUEUE_FRAMES = 4
#: How often the detect thread looks at its stop flag while it waits.
_POLL_S = 0.25


@dataclass(frozen=True)
class StageTimes:
    """Wall time of each stage for one frame, in milliseconds."""

    detect_ms: float
    track_ms: float
    count_ms: float


@dataclass(frozen=True)
class Detected:
    """A frame with its detections: what the detect thread hands to the processing thread."""

    frame: Frame
    detections: Detections
    detect_ms: float


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
        """Run one frame through detect, track and count (in the caller's thread)."""
        return self.follow(self.detect(frame))

    def detect(self, frame: Frame) -> Detected:
        """The detection stage alone (the detect thread's part)."""
        t0 = time.perf_counter()
        detections = self.detector.detect(frame)
        return Detected(frame, detections, (time.perf_counter() - t0) * 1e3)

    def follow(self, detected: Detected) -> FrameResult:
        """Track and count a detected frame (the processing thread's part, in frame order)."""
        frame, detections = detected.frame, detected.detections
        t1 = time.perf_counter()
        if self.flow is not None:
            self.flow.update(frame.image, frame.between)
        tracks = self.tracker.update(detections, frame.ts_s, self.flow, frame.size_wh)
        t2 = time.perf_counter()
        crossings = tuple(self.counter.update(tracks))
        t3 = time.perf_counter()
        times = StageTimes(detected.detect_ms, (t2 - t1) * 1e3, (t3 - t2) * 1e3)
        return FrameResult(frame, detections, tracks, crossings, times)


class DetectAhead:
    """The detect thread: takes frames from ``next_frame`` and detects them one frame ahead.

    ``next`` hands the results over in order. The slot holds one result: when the processing
    thread is behind, the detect thread waits (a replay stays lossless; a live source keeps
    overwriting its newest frame meanwhile). An exception from ``next_frame`` or the detector
    (``EndOfFrames`` included) reaches the caller of ``next``, in order, and ends the thread.

    Args:
        pipeline: its ``detect`` runs in the thread.
        next_frame: returns the next frame or None within a timeout (``Feed.next``).
    """

    def __init__(self, pipeline: Pipeline, next_frame: Callable[[float], Frame | None]) -> None:
        self._pipeline = pipeline
        self._next_frame = next_frame
        self._slot: queue.Queue[Detected | BaseException] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="detect", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                frame = self._next_frame(_POLL_S)
                if frame is None:
                    continue
                item: Detected | BaseException = self._pipeline.detect(frame)
            except BaseException as err:  # handed to the processing thread, which raises it
                item = err
            if not put_until_stopped(self._slot, item, self._stop, _POLL_S):
                return
            if isinstance(item, BaseException):
                return

    def next(self, timeout_s: float) -> Detected | None:
        """The next detected frame, or None if none is ready within ``timeout_s``.

        Raises:
            Exception: whatever the frame source or the detector raised.
        """
        try:
            item = self._slot.get(timeout=timeout_s)
        except queue.Empty:
            return None
        if isinstance(item, BaseException):
            raise item
        return item

    def stop(self) -> None:
        """End the thread (after the frame it is detecting)."""
        self._stop.set()
        self._thread.join(timeout=10)


_END = object()


def _read_ahead(source: FrameSource, out: queue.Queue[object], stop: threading.Event) -> None:
    """Capture thread body: decode frames into the queue, blocking when it is full."""
    try:
        for frame in source.frames():
            if not put_until_stopped(out, frame, stop, 0.1):
                return
        out.put(_END)
    except Exception as err:
        out.put(err)


def frames_ahead(source: FrameSource) -> Generator[Frame, None, None]:
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
    """Process every frame of ``source``, detecting one ahead; return the frames processed."""
    frames = frames_ahead(source)

    def next_frame(_timeout_s: float) -> Frame:
        frame = next(frames, None)
        if frame is None:
            raise _Finished
        return frame

    ahead = DetectAhead(pipeline, next_frame)
    processed = 0
    try:
        while True:
            detected = ahead.next(_POLL_S)
            if detected is not None:
                on_result(pipeline.follow(detected))
                processed += 1
    except _Finished:
        return processed
    finally:
        ahead.stop()
        frames.close()


class _Finished(Exception):
    """The source has no more frames (internal to ``run``)."""
