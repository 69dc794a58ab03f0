"""Detect-ahead: the prepare and detect threads, so the model never waits for Python around it.

One thread prepares frame k+2 (letterbox, normalisation), one runs the model on frame k+1
(``session.run``, which lets go of the GIL), and the processing thread decodes, tracks and
counts frame k. Each hand-over holds one item: when the processing thread is behind, the
threads wait (a replay stays lossless; a live feed keeps replacing its newest frame meanwhile).

Supervision: an exception in either thread (or from the feed) is handed on in frame order and
raised in the processing thread, which ends the process non-zero.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from edge.detect import Inferred
from edge.runtime.feed import EndOfFrames
from edge.runtime.pipeline import Pipeline
from edge.types import Frame

#: How often a stage thread looks at its stop flag while it waits.
_POLL_S = 0.25
T = TypeVar("T")


def put_until_stopped(q: queue.Queue[T], item: T, stop: threading.Event) -> bool:
    """Put ``item`` into a bounded queue, waiting while it is full; give up once ``stop`` is
    set (the consumer is gone). Returns True if the item was queued."""
    while not stop.is_set():
        try:
            q.put(item, timeout=_POLL_S)
            return True
        except queue.Full:
            continue
    return False


In = TypeVar("In")
Out = TypeVar("Out")


class _Stage(Generic[In, Out]):
    """One worker thread: takes items, works on them, hands the results on through a one-item
    slot, in order. An exception (from taking or working, ``EndOfFrames`` included) is handed
    on in order too, and ends the thread; any other than ``EndOfFrames`` is also kept as the
    stage's ``failure`` at once, for the supervisor.
    """

    def __init__(self, name: str, take: Callable[[float], In | None], work: Callable[[In], Out]):
        self._take, self._work = take, work
        self._slot: queue.Queue[Out | BaseException] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self.failure: BaseException | None = None
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
                if not isinstance(err, EndOfFrames):
                    self.failure = err
                result = err
            if not put_until_stopped(self._slot, result, self._stop):
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

    def failure(self) -> BaseException | None:
        """The first error of the prepare or detect thread (or of the feed), else None; set the
        moment it happens, before the frames ahead of it are handed over."""
        return self._prepare.failure or self._infer.failure

    def stop(self) -> None:
        """End both threads (each after the frame it is working on)."""
        self._prepare.stop()
        self._infer.stop()
        self._prepare.join()
        self._infer.join()
