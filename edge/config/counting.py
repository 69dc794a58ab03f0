"""Configuration of the counting lines and queue zones, and their command-line forms."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from edge.classes import CLASS_NAMES
from edge.config.base import Point, _Strict, format_validation_error
from edge.errors import ConfigError

#: A direction's display name ("to Georgia"): 1 to 64 printable characters (``wire.Label``).
DirectionName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]


class LineConfig(_Strict):
    """A directed counting line A→B in frame pixels.

    ``in`` = from the left-hand side of A→B to its right-hand side as seen on screen.
    ``in_name`` and ``out_name`` are the directions' display names ("to Georgia"), published
    with the retained state and used by the collector, the dashboard and Home Assistant.
    ``classes`` limits what the line counts (``edge.classes.CLASS_NAMES``; None: all).
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    a: Point
    b: Point
    anchor: Literal["bottom_center", "center", "top_center"] = "bottom_center"
    hysteresis_px: float = Field(10.0, ge=0)
    in_name: DirectionName = "in"
    out_name: DirectionName = "out"
    classes: tuple[str, ...] | None = None

    @model_validator(mode="after")
    def _distinct(self) -> LineConfig:
        if self.a == self.b:
            raise ValueError(
                f"line {self.name!r}: a and b are the same point ({self.a[0]:g}, {self.a[1]:g}); "
                "a line needs two different end points"
            )
        unknown = [c for c in self.classes or () if c not in CLASS_NAMES]
        if unknown:
            raise ValueError(f"classes: {unknown[0]!r} is not one of {list(CLASS_NAMES)}")
        return self

    @property
    def counted_classes(self) -> tuple[str, ...]:
        """The classes this line counts, in ``CLASS_NAMES`` order."""
        return tuple(c for c in CLASS_NAMES if self.classes is None or c in self.classes)


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
    polygon: tuple[Point, ...]
    direction: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    exit_line: str | None = None
    exit_direction: Literal["in", "out"] | None = None
    anchor: Literal["bottom_center", "center", "top_center"] = "bottom_center"
    stationary_px_s: float = Field(15.0, gt=0)
    speed_window_s: float = Field(2.0, gt=0, le=60)
    wait_window_s: float = Field(300.0, gt=0, le=86_400)
    capacity: int | None = Field(None, ge=1)
    report_interval_s: float = Field(5.0, gt=0, le=3600)

    @field_validator("polygon")
    @classmethod
    def _a_polygon(cls, polygon: tuple[Point, ...], info: ValidationInfo) -> tuple[Point, ...]:
        if len(polygon) < 3:
            name = info.data.get("name", "?")
            raise ValueError(
                f"zone {name!r} has {len(polygon)} point(s); a zone needs at least 3 (a polygon)"
            )
        return polygon


def check_lines_inside(lines: tuple[LineConfig, ...], width: int, height: int) -> None:
    """Reject lines whose end points lie outside a ``width``×``height`` frame.

    Raises:
        ConfigError: naming the line and the point.
    """
    for ln in lines:
        for label, (x, y) in (("a", ln.a), ("b", ln.b)):
            if not (0 <= x <= width and 0 <= y <= height):
                raise ConfigError(
                    f"lines.{ln.name}.{label}: end point {label} ({x:g}, {y:g}) of line "
                    f"{ln.name!r} lies outside the {width}x{height} picture "
                    f"(x 0..{width}, y 0..{height})"
                )


def check_zones_inside(zones: tuple[ZoneConfig, ...], width: int, height: int) -> None:
    """Reject zones with a vertex outside a ``width``×``height`` frame.

    Raises:
        ConfigError: naming the zone and the point.
    """
    for z in zones:
        for i, (x, y) in enumerate(z.polygon, 1):
            if not (0 <= x <= width and 0 <= y <= height):
                raise ConfigError(
                    f"zones.{z.name}.polygon: point {i} ({x:g}, {y:g}) of zone {z.name!r} lies "
                    f"outside the {width}x{height} picture (x 0..{width}, y 0..{height})"
                )


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
