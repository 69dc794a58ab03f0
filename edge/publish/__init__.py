"""Publish stage: ships the outbox over MQTT. ``client.py`` is the only module importing paho."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from edge.classes import CLASS_NAMES

MetricValue = float | int | str | bool | None


@dataclass(frozen=True)
class StatusInfo:
    """What the retained status and the telemetry say about the device.

    Attributes:
        version: software version (``edge.__version__``).
        model: detector model name, if any.
        config_hash: ``edge.config.config_hash`` of the effective config, if any.
        metrics: called from the publisher thread every telemetry interval; its figures are
            merged into the telemetry message (it must be quick and thread-safe).
        condition: called from the publisher thread about once a second: ``("ok", [])`` or
            ``("degraded", reasons)`` (``camera_lost``, ``low_fps``); the retained status says
            ``degraded`` with the reasons while it lasts (quick and thread-safe; None: always
            ``online``).
        timezone: the site's IANA time zone (config ``device.timezone``).
    """

    version: str
    model: str | None = None
    config_hash: str | None = None
    metrics: Callable[[], Mapping[str, MetricValue]] | None = None
    condition: Callable[[], tuple[str, Sequence[str]]] | None = None
    timezone: str | None = None


@dataclass(frozen=True)
class LineInfo:
    """A counting line as subscribers see it (config ``[[lines]]``).

    Attributes:
        name: the line's id (topics, state keys).
        in_name: display name of the ``in`` direction ("to Georgia").
        out_name: display name of the ``out`` direction.
        classes: the classes the line counts, in ``CLASS_NAMES`` order.
    """

    name: str
    in_name: str = "in"
    out_name: str = "out"
    classes: tuple[str, ...] = CLASS_NAMES


@dataclass(frozen=True)
class HomeAssistantSettings:
    """Home Assistant MQTT discovery (config ``[homeassistant]``).

    Attributes:
        enabled: publish retained discovery configs on every connect.
        discovery_prefix: Home Assistant's discovery prefix.
        support_url: the ``origin.support_url`` shown by Home Assistant, if any.
        record: file keeping the discovery topics last published, so that configs of lines
            and zones removed since (or all of them, once disabled) are cleared after a
            restart; None: only what this process published is known.
    """

    enabled: bool = False
    discovery_prefix: str = "homeassistant"
    support_url: str | None = None
    record: Path | None = None


@dataclass(frozen=True)
class Announce:
    """What the device tells subscribers about its lines and zones, beyond the counts.

    Attributes:
        lines: every configured line with its direction names (in the retained state, so a
            fresh device shows its lines with zero totals).
        zones: every configured zone's name.
        homeassistant: discovery settings.
    """

    lines: tuple[LineInfo, ...] = ()
    zones: tuple[str, ...] = ()
    homeassistant: HomeAssistantSettings = field(default_factory=HomeAssistantSettings)
