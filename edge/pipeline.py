"""Pipeline: prepare → infer → decode, track, count, in three threads fed by a capture thread.

The model never waits for the Python around it (``DetectAhead``): one thread prepares frame
k+2 (letterbox, normalisation), one runs the model on frame k+1 (``session.run``, which lets
go of the GIL), and the processing thread decodes, tracks and counts frame k. So the processed
fps stays close to the model's bare speed. Each stateful stage is touched by one thread only:
the pre-processor by the prepare thread, the session by the detect thread, the decoder,
tracker and counter by the processing thread, in frame order.

Backpressure rule (replay): the capture thread blocks when its queue is full, and each detect
stage when its one-item slot is taken, so no frame is ever dropped and a replay is
deterministic.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Generic, TypeVar

from edge.capture import FrameSource
from edge.count.line_counter import LineCounter
from edge.detect import Detector, Inferred, Prepared
from edge.feeds import put_until_stopped
from edge.track import Tracker
from edge.types import Crossing, Detections, Frame, Tracks

log = logging.getLogger(__name__)

#: Frames decoded ahead of the processing thread; small, each is a full image.
QUEUE_FRAMES = 4
#: How often a stage thread looks at its stop flag while it waits.
_POLL_S = 0.25


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

    The tracker gets the whole frame and measures its own motion (optical flow), which
    ``track_ms`` includes.
    """

    def __init__(self, detector: Detector, tracker: Tracker, counter: LineCounter):
        self.detector = detector
        self.tracker = tracker
        self.counter = counter

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


In = TypeVar("In")
Out = TypeVar("Out")


class _Stage(Generic[In, Out]):
    """One worker thread: takes items, works on them, hands the results on through a one-item
    slot, in order. An exception (from taking or working, ``EndOfFrames`` included) is handed
    on in order too, and ends the thread.
    """

    def __init__(self, name: str, take: Callable[[float], In | None], work: Callable[[In], Out]):
        self._take, self._work = take, work
        self._slot: queue.Queue[Out | BaseException] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._take(_POLL_S)
                if item is None:
                    continue
                result: Out | BaseException = self._work(item)
            except BaseException as err:  # handed on; whoever takes it raises it
                result = err
            if not put_until_stopped(self._slot, result, self._stop, _POLL_S):
                return
            if isinstance(result, BaseException):
                return

    def take(self, timeout_s: float) -> Out | None:
        """The next result, or None if none is ready within ``timeout_s``.

        Raises:
            Exception: whatever taking or working raised.
        """
        try:
            item = self._slot.get(timeout=timeout_s)
        except queue.Empty:
            return None
        if isinstance(item, BaseException):
            raise item
        return item

    def stop(self) -> None:
        """Ask the thread to end (after its current item)."""
        self._stop.set()

    def join(self) -> None:
        """Wait for the thread to end."""
        self._thread.join(timeout=10)


class DetectAhead:
    """The prepare and detect threads: frames from ``next_frame``, inferred up to two ahead.

    ``next`` hands the results over in frame order; decoding is left to the processing thread
    (``Pipeline.follow``), so the detect thread only runs the model. Each hand-over holds one
    item: when the processing thread is behind, the threads wait (a replay stays lossless; a
    live source keeps overwriting its newest frame meanwhile). An exception from
    ``next_frame`` or a stage reaches the caller of ``next``, in order, and ends the threads.

    Args:
        pipeline: its ``prepare`` and ``infer`` run in the two threads.
        next_frame: returns the next frame or None within a timeout (``Feed.next``).
    """

    def __init__(self, pipeline: Pipeline, next_frame: Callable[[float], Frame | None]) -> None:
        self._prepare = _Stage("prepare", next_frame, pipeline.prepare)
        self._infer = _Stage("detect", self._prepare.take, pipeline.infer)

    def next(self, timeout_s: float) -> Inferred | None:
        """The next inferred frame, or None if none is ready within ``timeout_s``.

        Raises:
            Exception: whatever the frame source or a detector step raised.
        """
        return self._infer.take(timeout_s)

    def stop(self) -> None:
        """End both threads (each after the frame it is working on)."""
        self._prepare.stop()
        self._infer.stop()
        self._prepare.join()
        self._infer.join()


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
    """Process every frame of ``source`` (``DetectAhead``); return the frames processed."""
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
            inferred = ahead.next(_POLL_S)
            if inferred is not None:
                on_result(pipeline.follow(inferred))
                processed += 1
    except _Finished:
        return processed
    finally:
        ahead.stop()
        frames.close()


class _Finished(Exception):
    """The source has no more frames (internal to ``run``)."""
