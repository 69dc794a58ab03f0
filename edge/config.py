"""Configuration: one strict, typed tree loaded once from TOML; errors name the dotted path."""

from __future__ import annotations

import hashlib
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edge.errors import ConfigError

Point = tuple[float, float]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeviceConfig(_Strict):
    """Who the device is and where it keeps its state."""

    id: str = Field("edge-1", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    site: str = Field("site-1", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    timezone: str = "UTC"
    state_dir: Path = Path("/var/lib/edge-counter")


class ReplaySourceConfig(_Strict):
    """A recorded video file, decoded with OpenCV."""

    type: Literal["replay"] = "replay"
    path: Path
    realtime: bool = False


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


class DetectorConfig(_Strict):
    """The ONNX detector.

    ``model`` is a name from ``models/`` (its manifest) or a path to a manifest or ``.onnx``.
    ``roi_xyxy`` crops the frame before the letterbox, so small far objects keep their pixels;
    detections are mapped back to full-frame pixels.
    """

    model: str = "yolox-nano"
    threads: int = Field(2, ge=1, le=16)
    score_threshold: float = Field(0.25, gt=0, lt=1)
    nms_iou: float = Field(0.5, gt=0, lt=1)
    roi_xyxy: tuple[int, int, int, int] | None = None
    detect_fps: float | None = Field(None, gt=0)

    @field_validator("roi_xyxy")
    @classmethod
    def _roi_ordered(cls, v: tuple[int, int, int, int] | None) -> tuple[int, int, int, int] | None:
        if v is not None and (v[2] <= v[0] or v[3] <= v[1]):
            raise ValueError("roi_xyxy must be x1,y1,x2,y2 with x2>x1 and y2>y1")
        return v


class TrackerConfig(_Strict):
    """ByteTrack-style tracker; every time threshold is in seconds, not frames.

    ``high_score``/``low_score`` split detections into the confident first pass and the weak
    second pass (weak detections only extend tracks, never start them); ``new_track_score``
    starts tentative tracks (higher: fewer ghost tracks, later starts). The defaults suit small
    edge detectors, whose true objects often score 0.2-0.45; the detector's ``score_threshold``
    must not exceed ``low_score`` or the second pass sees nothing. ``match_iou`` is the
    overlap that allows a match on its own; non-overlapping matches go through the Kalman distance
    gate. A track is reported once its detections span ``min_confirm_s`` (higher: fewer blips,
    but motion before confirmation is not seen by the counter; 0 reports a track from its first
    detection, which a lone false box cannot abuse, since a crossing needs two observations on
    opposite sides, and which keeps crossings when a car moves far between detections).
    ``max_lost_s`` keeps a confirmed track through occlusions (longer: fewer id switches, more
    risk of a wrong revival);
    ``max_tentative_lost_s`` does the same for unconfirmed tracks (cover one missed detection at
    the lowest detection rate). ``max_tracks`` caps memory whatever the scene does.
    ``optical_flow`` looks at the images: each track's box is moved by sparse Lucas-Kanade flow
    since the previous processed frame (a position measurement for the Kalman filter) and a small
    appearance thumbnail gates and weights the matches. It keeps ids where motion alone is
    ambiguous (dense traffic at low detection rates, crowds); it costs a few ms per frame.
    """

    high_score: float = Field(0.25, gt=0, lt=1)
    low_score: float = Field(0.1, gt=0, lt=1)
    new_track_score: float = Field(0.3, gt=0, lt=1)
    match_iou: float = Field(0.2, gt=0, lt=1)
    min_confirm_s: float = Field(0.0, ge=0)
    max_lost_s: float = Field(1.0, gt=0)
    max_tentative_lost_s: float = Field(0.4, gt=0)
    max_tracks: int = Field(256, ge=1, le=10_000)
    optical_flow: bool = True

    @model_validator(mode="after")
    def _ordered(self) -> TrackerConfig:
        if self.low_score > self.high_score:
            raise ValueError("low_score must not exceed high_score")
        return self


class LineConfig(_Strict):
    """A directed counting line A→B in frame pixels.

    ``in`` = from the left-hand side of A→B to its right-hand side as seen on screen.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    a: Point
    b: Point
    anchor: Literal["bottom_center", "center", "top_center"] = "bottom_center"
    hysteresis_px: float = Field(10.0, ge=0)
    in_name: str = "in"
    out_name: str = "out"
    classes: tuple[str, ...] | None = None

    @model_validator(mode="after")
    def _distinct(self) -> LineConfig:
        if self.a == self.b:
            raise ValueError("a and b must differ")
        return self


class ZoneConfig(_Strict):
    """A polygon (frame pixels) whose occupancy, dwell times, queue and wait are reported.

    ``direction`` labels the traffic direction the zone serves (free text such as
    ``inbound``; shown by the collector). ``exit_line`` names the line whose crossings (in
    ``exit_direction``, either if None) are departures from the queue: they give the exit
    rate and, for tracks seen entering the zone, the measured wait; without it a vehicle
    leaving the zone is a departure. A vehicle is queued when its anchor moved slower than
    ``stationary_px_s`` over the last ``speed_window_s`` (longer: box jitter matters less, a
    stop is noticed later). ``wait_window_s`` is the sliding window of the exit rate and the
    measured waits. ``capacity`` is how many queued vehicles fill the view: at or above it the
    queue probably continues out of view and Little's law is preferred. Snapshots are
    reported every ``report_interval_s``.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    polygon: tuple[Point, ...] = Field(min_length=3)
    direction: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    exit_line: str | None = None
    exit_direction: Literal["in", "out"] | None = None
    anchor: Literal["bottom_center", "center", "top_center"] = "bottom_center"
    stationary_px_s: float = Field(15.0, gt=0)
    speed_window_s: float = Field(2.0, gt=0, le=60)
    wait_window_s: float = Field(300.0, gt=0, le=86_400)
    capacity: int | None = Field(None, ge=1)
    report_interval_s: float = Field(5.0, gt=0, le=3600)


class MqttConfig(_Strict):
    """Broker connection. The password is read from ``password_file`` (systemd credential)."""

    url: str = "mqtt://127.0.0.1:1883"
    topic_prefix: str = Field("edge", pattern=r"^[A-Za-z0-9_./-]{1,64}$")
    protocol: Literal["5", "3.1.1"] = "5"
    username: str | None = None
    password_file: Path | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    keepalive_s: int = Field(30, ge=5)
    max_inflight: int = Field(20, ge=1, le=1000)
    #: Reconnect backoff: doubles from ``reconnect_min_s`` up to ``reconnect_max_s``, both
    #: jittered per device (±25 %) so a fleet does not reconnect in step after an outage.
    reconnect_min_s: float = Field(1.0, gt=0)
    reconnect_max_s: float = Field(60.0, gt=0)
    counts_interval_s: float = Field(60.0, gt=0)
    telemetry_interval_s: float = Field(30.0, gt=0)


class OutboxConfig(_Strict):
    """The on-device journal of crossings."""

    max_rows: int = Field(1_000_000, ge=100)
    keep_sent_s: float = Field(86_400.0, ge=0)


class HealthConfig(_Strict):
    """Health telemetry of the device service.

    Frame rates are measured over the last ``fps_window_s`` (longer: steadier, slower to show a
    stall); inference percentiles over the last ``latency_window_frames`` frames. The device
    reports ``degraded`` when the processed rate is below ``min_processed_fps`` (after
    ``startup_grace_s``) or the camera is lost.
    """

    fps_window_s: float = Field(10.0, gt=0)
    latency_window_frames: int = Field(256, ge=8, le=100_000)
    startup_grace_s: float = Field(30.0, ge=0)


class ServiceConfig(_Strict):
    """The device service (``edge-counter run``) under systemd.

    On SIGTERM the service waits up to ``drain_timeout_s`` for the broker to acknowledge the
    outbox (keep it well below the unit's ``TimeoutStopSec``); ``status_interval_s`` is how
    often the one-line ``systemctl status`` text is refreshed.
    """

    drain_timeout_s: float = Field(10.0, ge=0)
    status_interval_s: float = Field(10.0, gt=0)


class AppConfig(_Strict):
    """The whole device configuration."""

    device: DeviceConfig = DeviceConfig()
    source: SourceConfig | None = None
    detector: DetectorConfig = DetectorConfig()
    tracker: TrackerConfig = TrackerConfig()
    lines: tuple[LineConfig, ...] = ()
    zones: tuple[ZoneConfig, ...] = ()
    mqtt: MqttConfig | None = None
    outbox: OutboxConfig = OutboxConfig()
    min_processed_fps: float = Field(3.0, ge=0)
    health: HealthConfig = HealthConfig()
    service: ServiceConfig = ServiceConfig()

    @model_validator(mode="after")
    def _unique_names(self) -> AppConfig:
        names = [ln.name for ln in self.lines]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"line names must be unique, repeated: {sorted(dupes)}")
        zones = [z.name for z in self.zones]
        if len(set(zones)) != len(zones):
            raise ValueError(f"zone names must be unique: {zones}")
        unknown = [z.exit_line for z in self.zones if z.exit_line and z.exit_line not in names]
        if unknown:
            raise ValueError(f"zones: exit_line {unknown[0]!r} is not a configured line")
        return self


def format_validation_error(err: ValidationError, origin: str) -> str:
    """Render a pydantic error as one line per problem, each naming its dotted path."""
    lines = []
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "<root>"
        lines.append(f"{origin}: {path}: {e['msg']}")
    return "\n".join(lines)


def parse_config(data: dict[str, Any], origin: str = "<config>") -> AppConfig:
    """Validate a config tree already read from TOML.

    Raises:
        ConfigError: naming ``origin`` and the dotted path of every invalid field.
    """
    try:
        return AppConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, origin)) from None


def load_config(path: Path) -> AppConfig:
    """Read and validate a TOML config file.

    Raises:
        ConfigError: the file is missing, not TOML, or a field is invalid.
    """
    return parse_config(read_toml(path), str(path))


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file into a dict (device and collector configs alike).

    Raises:
        ConfigError: the file is missing, unreadable or not TOML, naming it.
    """
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None


def config_hash(cfg: AppConfig) -> str:
    """Short stable hash of the effective config, published with the device status."""
    return hashlib.sha256(cfg.model_dump_json().encode()).hexdigest()[:12]


def check_lines_inside(lines: tuple[LineConfig, ...], width: int, height: int) -> None:
    """Reject lines whose end points lie outside a ``width``×``height`` frame.

    Raises:
        ConfigError: naming the line and the point.
    """
    for ln in lines:
        for label, (x, y) in (("a", ln.a), ("b", ln.b)):
            if not (0 <= x <= width and 0 <= y <= height):
                raise ConfigError(
                    f"lines.{ln.name}.{label}: point ({x:g}, {y:g}) lies outside the "
                    f"{width}x{height} frame"
                )


def default_models_dir() -> Path:
    """Where model manifests and weights live: ``$EDGE_COUNTER_MODELS``, else ``models/``
    beside the source checkout, else ``./models``."""
    env = os.environ.get("EDGE_COUNTER_MODELS")
    if env:
        return Path(env)
    beside_source = Path(__file__).resolve().parents[1] / "models"
    return beside_source if beside_source.is_dir() else Path("models")


def default_data_dir() -> Path:
    """Where sample clips live: ``$EDGE_COUNTER_DATA``, else ``data/`` beside the checkout."""
    env = os.environ.get("EDGE_COUNTER_DATA")
    if env:
        return Path(env)
    beside_source = Path(__file__).resolve().parents[1] / "data"
    return beside_source if beside_source.is_dir() else Path("data")


def mirror_dir() -> Path | None:
    """The asset mirror named by ``$EDGE_COUNTER_MIRROR``, if any."""
    env = os.environ.get("EDGE_COUNTER_MIRROR")
    return Path(env) if env else None


def parse_zone_option(text: str) -> ZoneConfig:
    """Parse ``NAME:X1,Y1,X2,Y2,X3,Y3,...`` (a polygon of at least 3 points) from the command line.

    Raises:
        ConfigError: naming the option value and what is wrong with it.
    """
    name, sep, coords = text.partition(":")
    parts = coords.split(",")
    if not sep or len(parts) < 6 or len(parts) % 2:
        raise ConfigError(f"--zone {text!r}: expected NAME:X1,Y1,X2,Y2,X3,Y3[,...]")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ConfigError(f"--zone {text!r}: coordinates must be numbers") from None
    polygon = tuple(zip(values[0::2], values[1::2], strict=True))
    try:
        return ZoneConfig(name=name, polygon=polygon)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, f"--zone {text!r}")) from None


def parse_line_option(text: str) -> LineConfig:
    """Parse ``NAME:AX,AY,BX,BY`` from the command line.

    Raises:
        ConfigError: naming the option value and what is wrong with it.
    """
    name, sep, coords = text.partition(":")
    parts = coords.split(",")
    if not sep or len(parts) != 4:
        raise ConfigError(f"--line {text!r}: expected NAME:AX,AY,BX,BY")
    try:
        ax, ay, bx, by = (float(p) for p in parts)
    except ValueError:
        raise ConfigError(f"--line {text!r}: coordinates must be numbers") from None
    try:
        return LineConfig(name=name, a=(ax, ay), b=(bx, by))
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, f"--line {text!r}")) from None
