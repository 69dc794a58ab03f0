"""Replay progress: a bar redrawn in place on a terminal, plain timed lines in a log."""

from __future__ import annotations

import io

import numpy as np

from edge.runtime.pipeline import FrameResult, StageTimes
from edge.runtime.sinks import Progress
from edge.types import Detections, Frame, Tracks


class Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


class Clock:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


def result(seq: int) -> FrameResult:
    frame = Frame(image=np.zeros((4, 4, 3), np.uint8), ts_s=seq / 25, seq=seq)
    times = StageTimes(0.0, 0.0, 0.0, 0.0, 0.0)
    return FrameResult(frame, Detections.empty(), Tracks.empty(seq / 25), (), times)


def feed(progress: Progress, clock: Clock, frames: int, fps: float) -> None:
    for seq in range(frames):
        progress(result(seq))
        clock.now_s += 1 / fps


def test_a_log_gets_one_plain_line_every_interval_and_a_last_line() -> None:
    stream, clock = Stream(tty=False), Clock()
    progress = Progress(200, True, stream, log_every_s=10.0, clock=clock)
    feed(progress, clock, 200, fps=4.0)  # 50 s of replay
    progress.close()
    text = stream.getvalue()
    assert "\r" not in text
    assert text.splitlines() == [
        "replay: 41/200 frames (20%), 4 fps, ETA 0:40",
        "replay: 81/200 frames (40%), 4 fps, ETA 0:30",
        "replay: 121/200 frames (60%), 4 fps, ETA 0:20",
        "replay: 161/200 frames (80%), 4 fps, ETA 0:10",
        "replay: 200/200 frames (100%), 4 fps, 50 s",
    ]


def test_a_terminal_gets_a_bar_redrawn_in_place() -> None:
    stream, clock = Stream(tty=True), Clock()
    progress = Progress(100, True, stream, clock=clock)
    feed(progress, clock, 100, fps=8.0)  # 12.5 s: redrawn every 0.5 s (4 frames)
    progress.close()
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    draws = text.split("\r")[1:]
    assert len(draws) == 24 + 1
    assert draws[11].startswith("[############-------------] 49/100 frames (49%), 8 fps, ETA 0:06")
    assert draws[-1].startswith("[#########################] 100/100 frames (100%), 8 fps, 12 s")


def test_disabled_progress_writes_nothing() -> None:
    stream, clock = Stream(tty=True), Clock()
    progress = Progress(100, False, stream, clock=clock)
    feed(progress, clock, 100, fps=8.0)
    progress.close()
    assert stream.getvalue() == ""


def test_a_finished_recording_ends_at_its_last_frame() -> None:
    """At a reduced detection rate the last frames are read but not processed."""
    stream, clock = Stream(tty=False), Clock()
    progress = Progress(100, True, stream, log_every_s=60.0, clock=clock)
    feed(progress, clock, 98, fps=4.0)
    progress.close(finished=True)
    assert stream.getvalue() == "replay: 100/100 frames (100%), 4 fps, 24 s\n"
