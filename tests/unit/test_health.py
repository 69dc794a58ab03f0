"""Health telemetry with a fake clock: rates, latency percentiles, degraded state, board probes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from edge.config import HealthConfig
from edge.runtime.feed import FeedStats
from edge.runtime.health import Health, SystemProbe
from edge.runtime.pipeline import FrameResult, StageTimes
from edge.types import Detections, Frame, Tracks


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def result(infer_ms: float, n_tracks: int, ts_s: float) -> FrameResult:
    tracks = Tracks(
        np.zeros((n_tracks, 4), np.float32), np.zeros(n_tracks, np.float32),
        np.zeros(n_tracks, np.int64), np.arange(n_tracks, dtype=np.int64), ts_s,
    )  # fmt: skip
    frame = Frame(np.zeros((4, 4, 3), np.uint8), ts_s, 0)
    return FrameResult(
        frame, Detections.empty(), tracks, (), StageTimes(0.5, infer_ms, 0.3, 1.0, 0.1)
    )


def no_board(tmp_path: Path) -> SystemProbe:
    return SystemProbe(tmp_path, thermal_zone=tmp_path / "absent", vcgencmd=None)


def make(tmp_path: Path, clock: FakeClock, **kw: float) -> Health:
    cfg = HealthConfig.model_validate({"fps_window_s": 10, "startup_grace_s": 5, **kw})
    h = Health(cfg, min_processed_fps=3.0, probe=no_board(tmp_path), clock=clock)
    h.probe.vcgencmd = None
    return h


def feed(h: Health, clock: FakeClock, seconds: float, fps: float, camera_fps: float) -> None:
    """Process ``fps`` frames/s for ``seconds`` while the camera delivers ``camera_fps``."""
    steps = int(seconds * fps)
    for _ in range(steps):
        clock.t += 1.0 / fps
        captured = int((clock.t - 1000.0) * camera_fps)
        h.on_frame(result(40.0, 3, clock.t), FeedStats(captured, captured // 2, 0, False))


def test_rates_latency_and_counters(tmp_path: Path) -> None:
    clock = FakeClock()
    h = make(tmp_path, clock)
    feed(h, clock, 20, fps=5, camera_fps=25)
    m = h.metrics()
    assert m["fps_processed"] == pytest.approx(5.0, rel=0.05)
    assert m["fps_captured"] == pytest.approx(25.0, rel=0.05)
    assert m["inference_ms_p50"] == 40.0 and m["inference_ms_p95"] == 40.0
    assert m["frames_processed"] == 100 and m["tracks"] == 3
    assert m["state"] == "ok" and m["degraded_reasons"] == ""
    assert m["uptime_s"] == pytest.approx(20.0)
    assert m["cpu_temp_c"] is None and m["throttled_flags"] is None
    assert isinstance(m["disk_free_mb"], float) and isinstance(m["rss_peak_mb"], float)


def test_percentiles_cover_only_the_latency_window(tmp_path: Path) -> None:
    clock = FakeClock()
    h = make(tmp_path, clock, latency_window_frames=100)
    for i in range(1000):
        clock.t += 0.1
        ms = 500.0 if i < 900 else float(i - 900)  # old slow frames fall out of the window
        h.on_frame(result(ms, 0, clock.t), FeedStats(i, 0, 0, False))
    m = h.metrics()
    assert m["inference_ms_p50"] == pytest.approx(49.5, abs=0.1)
    assert m["inference_ms_p95"] == pytest.approx(94.0, abs=0.1)


def test_degraded_when_slow_after_grace_or_camera_lost(tmp_path: Path) -> None:
    clock = FakeClock()
    h = make(tmp_path, clock)
    feed(h, clock, 4, fps=1, camera_fps=25)  # slow, but within the start-up grace
    assert h.state() == ("ok", [])
    feed(h, clock, 10, fps=1, camera_fps=25)
    assert h.state() == ("degraded", ["low_fps"])
    feed(h, clock, 10, fps=10, camera_fps=25)
    assert h.state() == ("ok", [])
    for _ in range(4):  # the camera is gone: the loop idles
        clock.t += 0.25
        h.on_idle(FeedStats(300, 10, 1, True))
    state, reasons = h.state()
    assert state == "degraded" and "camera_lost" in reasons
    assert h.metrics()["camera_reconnects"] == 1 and h.metrics()["camera_lost"] is True


def test_a_stalled_loop_shows_zero_processed_fps(tmp_path: Path) -> None:
    clock = FakeClock()
    h = make(tmp_path, clock)
    feed(h, clock, 20, fps=5, camera_fps=25)
    clock.t += 30  # nothing fed: the pipeline hangs
    assert h.metrics()["fps_processed"] == 0.0
    assert h.state() == ("degraded", ["low_fps"])


def test_samples_stay_bounded_over_a_long_run(tmp_path: Path) -> None:
    clock = FakeClock()
    h = make(tmp_path, clock, latency_window_frames=64)
    feed(h, clock, 3000, fps=10, camera_fps=30)
    assert len(h._samples) <= 4096 and len(h._inference_ms) == 64


def test_board_probe_reads_temperature_and_throttling(tmp_path: Path) -> None:
    zone = tmp_path / "temp"
    zone.write_text("61234\n")
    vcgencmd = tmp_path / "vcgencmd"  # stands in for the Pi firmware tool
    vcgencmd.write_text("#!/bin/sh\necho throttled=0x50005\n")
    os.chmod(vcgencmd, 0o755)
    probe = SystemProbe(tmp_path, thermal_zone=zone, vcgencmd=str(vcgencmd))
    clock = FakeClock()
    h = Health(HealthConfig(), 3.0, probe, clock)
    m = h.metrics()
    assert m["cpu_temp_c"] == 61.2
    assert m["throttled_flags"] == 0x50005
    assert m["under_voltage_now"] is True and m["throttled_now"] is True
