"""Health telemetry: frame rates, drops, inference latency, tracks, temperature, disk, state.

The processing thread feeds ``Health`` after each frame (or each idle tick); the publisher
thread reads ``metrics()`` every telemetry interval. Every window is bounded, so a device that
runs for months keeps a constant footprint.
"""

from __future__ import annotations

import logging
import resource
import shutil
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edge.config import HealthConfig
from edge.publish import MetricValue
from edge.runtime.feed import FeedStats
from edge.runtime.pipeline import FrameResult

log = logging.getLogger(__name__)

THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")
#: ``vcgencmd get_throttled`` bits: 0 under-voltage, 1 ARM clock capped, 2 throttled (now).
_UNDER_VOLTAGE, _THROTTLED = 0x1, 0x4
_THROTTLE_CACHE_S = 10.0
_SAMPLES_MAX = 4096


class SystemProbe:
    """Reads the board's temperature, throttling flags and free disk space.

    Args:
        state_dir: whose file system's free space is reported.
        thermal_zone: sysfs file with millidegrees Celsius (absent off a Pi: None reported).
        vcgencmd: path of ``vcgencmd``, or None to look it up on PATH (absent: None reported).
    """

    def __init__(
        self, state_dir: Path, thermal_zone: Path = THERMAL_ZONE, vcgencmd: str | None = None
    ) -> None:
        self.state_dir = state_dir
        self.thermal_zone = thermal_zone
        self.vcgencmd = vcgencmd or shutil.which("vcgencmd")
        self._throttled: tuple[float, int | None] = (-_THROTTLE_CACHE_S, None)

    def cpu_temp_c(self) -> float | None:
        """SoC temperature in °C, or None where the sysfs file does not exist."""
        try:
            return int(self.thermal_zone.read_text().strip()) / 1000.0
        except (OSError, ValueError):
            return None

    def throttled(self) -> int | None:
        """``get_throttled`` bit field (cached for 10 s), or None without ``vcgencmd``."""
        if self.vcgencmd is None:
            return None
        checked_at, value = self._throttled
        if time.monotonic() - checked_at < _THROTTLE_CACHE_S:
            return value
        try:
            out = subprocess.run(
                [self.vcgencmd, "get_throttled"], capture_output=True, text=True, timeout=2,
                check=True,
            ).stdout  # fmt: skip
            value = int(out.strip().partition("=")[2], 16)
        except (OSError, subprocess.SubprocessError, ValueError) as err:
            log.debug("vcgencmd get_throttled failed: %s", err)
            value = None
        self._throttled = (time.monotonic(), value)
        return value

    def disk_free_mb(self) -> float | None:
        """Free space of the state directory's file system in MiB."""
        try:
            return shutil.disk_usage(self.state_dir).free / 2**20
        except OSError:
            return None


class Health:
    """Health of the running service, written by one thread and read by another (locked).

    Args:
        cfg: windows and start-up grace.
        min_processed_fps: below this processed rate the device reports ``degraded``.
        probe: temperature, throttling and disk readings.
        clock: monotonic seconds (tests pass a fake clock).
    """

    def __init__(
        self,
        cfg: HealthConfig,
        min_processed_fps: float,
        probe: SystemProbe,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cfg = cfg
        self.min_processed_fps = min_processed_fps
        self.probe = probe
        self.clock = clock
        self._lock = threading.Lock()
        self._start = clock()
        self._samples: deque[tuple[float, int, int]] = deque(maxlen=_SAMPLES_MAX)
        self._inference_ms: deque[float] = deque(maxlen=cfg.latency_window_frames)
        self._processed = 0
        self._tracks = 0
        self._source = FeedStats(0, 0, 0, False)

    def on_frame(self, result: FrameResult, source: FeedStats) -> None:
        """Record one processed frame and the source's counters."""
        with self._lock:
            self._processed += 1
            self._tracks = len(result.tracks)
            self._inference_ms.append(result.times.infer_ms)
            self._sample(source)

    def on_idle(self, source: FeedStats) -> None:
        """Record that the processing loop waited for a frame (keeps the rates current)."""
        with self._lock:
            self._sample(source)

    def _sample(self, source: FeedStats) -> None:
        self._source = source
        self._samples.append((self.clock(), source.captured, self._processed))

    def _rates(self, now: float) -> tuple[float, float]:
        """Captured and processed frames per second over the window ending now."""
        recent = [s for s in self._samples if s[0] >= now - self.cfg.fps_window_s]
        if len(recent) < 2 or now <= recent[0][0]:
            return 0.0, 0.0
        span = now - recent[0][0]
        return (recent[-1][1] - recent[0][1]) / span, (recent[-1][2] - recent[0][2]) / span

    def state(self) -> tuple[str, list[str]]:
        """``ok`` or ``degraded`` and the reasons (``camera_lost``, ``low_fps``)."""
        with self._lock:
            now = self.clock()
            _, processed_fps = self._rates(now)
            reasons = ["camera_lost"] if self._source.lost else []
            warm = now - self._start >= self.cfg.startup_grace_s
            if warm and processed_fps < self.min_processed_fps:
                reasons.append("low_fps")
        return ("degraded" if reasons else "ok"), reasons

    def metrics(self) -> dict[str, MetricValue]:
        """Every health figure, flat, for the telemetry message (thread-safe)."""
        state, reasons = self.state()
        with self._lock:
            now = self.clock()
            captured_fps, processed_fps = self._rates(now)
            latency = np.array(self._inference_ms, dtype=np.float64)
            src, processed, tracks = self._source, self._processed, self._tracks
        p50, p95 = np.percentile(latency, [50, 95]) if latency.size else (None, None)
        return {
            "state": state, "degraded_reasons": ",".join(reasons),
            "fps_captured": round(captured_fps, 2), "fps_processed": round(processed_fps, 2),
            "frames_captured": src.captured, "frames_processed": processed,
            "frames_dropped": src.dropped,
            "inference_ms_p50": None if p50 is None else round(float(p50), 1),
            "inference_ms_p95": None if p95 is None else round(float(p95), 1),
            "tracks": tracks, "camera_reconnects": src.reconnects, "camera_lost": src.lost,
            "uptime_s": round(now - self._start, 1), **self._system(),
        }  # fmt: skip

    def _system(self) -> dict[str, MetricValue]:
        flags = self.probe.throttled()
        temp = self.probe.cpu_temp_c()
        disk = self.probe.disk_free_mb()
        return {
            "cpu_temp_c": None if temp is None else round(temp, 1),
            "throttled_flags": flags,
            "under_voltage_now": None if flags is None else bool(flags & _UNDER_VOLTAGE),
            "throttled_now": None if flags is None else bool(flags & _THROTTLED),
            "disk_free_mb": None if disk is None else round(disk, 1),
            "rss_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }

    def status_line(self) -> str:
        """One line for ``systemctl status``: state, rates, tracks, reconnects."""
        m = self.metrics()
        why = f" ({m['degraded_reasons']})" if m["degraded_reasons"] else ""
        return (
            f"{m['state']}{why}: {m['fps_processed']} fps processed of {m['fps_captured']} "
            f"captured, {m['tracks']} tracks, {m['camera_reconnects']} camera reconnects"
        )
