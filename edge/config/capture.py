"""Configuration of the frame sources: a file, an OpenCV camera or stream, the Pi camera."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, model_validator

from edge.config.base import _Strict


class ReplaySourceConfig(_Strict):
    """A recorded video file, decoded with OpenCV.

    ``realtime`` paces the frames as they were recorded (a camera emulated from a file).
    ``start_utc`` is when the recording started (ISO 8601 with a zone, e.g.
    ``2026-12-04T08:00:00+04:00``); event times are this plus the frame's time in the file.
    Without it: for ``realtime``, the moment the source opens; else the file's modification
    time minus its duration (a recording is last written when it ends), so every replay of a
    file gives the same event times.
    ``start_frame`` skips the file's first frames: the frame at that index becomes frame 0 at
    ``ts_s = 0``, so a clip cut from a longer upstream file replays without re-encoding it.
    """

    type: Literal["replay"] = "replay"
    path: Path
    realtime: bool = False
    start_utc: AwareDatetime | None = None
    start_frame: int = Field(0, ge=0)


class OpenCVSourceConfig(_Strict):
    """A USB camera (integer index or ``/dev/videoN``) or a network stream URL (RTSP/HTTP).

    Reconnects wait ``reconnect_min_s``, doubling up to ``reconnect_max_s``. No new frame,
    or bit-identical frames, for ``frozen_after_s`` means the stream is dead (reconnect).
    Start-up fails if no frame arrives within ``open_timeout_s`` (systemd then retries).
    """

    type: Literal["opencv"] = "opencv"
    url: str = Field(min_length=1)
    reconnect_min_s: float = Field(0.5, gt=0)
    reconnect_max_s: float = Field(30.0, gt=0)
    frozen_after_s: float = Field(10.0, gt=0)
    open_timeout_s: float = Field(30.0, gt=0)

    @model_validator(mode="after")
    def _backoff_ordered(self) -> OpenCVSourceConfig:
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("reconnect_min_s must not exceed reconnect_max_s")
        return self


class PicameraSourceConfig(_Strict):
    """A Raspberry Pi camera module through picamera2 (``main`` stream, RGB888 = BGR bytes).

    ``width``/``height`` are the frame the lines are drawn on (even numbers; the ISP scales
    the sensor to it). ``fps`` is the sensor rate, not the processed rate.
    """

    type: Literal["picamera"] = "picamera"
    width: int = Field(1280, ge=64, le=4608, multiple_of=2)
    height: int = Field(720, ge=64, le=2592, multiple_of=2)
    fps: float = Field(15.0, gt=0, le=120)


SourceConfig = Annotated[
    ReplaySourceConfig | OpenCVSourceConfig | PicameraSourceConfig, Field(discriminator="type")
]
