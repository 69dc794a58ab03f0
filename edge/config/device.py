"""Configuration of the device itself: identity, broker, outbox, health, service."""

from __future__ import annotations

import difflib
from functools import cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import AfterValidator, Field

from edge.config.base import _Strict

#: Files of a zoneinfo directory that are not IANA zone names (Debian's ``localtime`` links to
#: the host's own zone; ``Factory`` means "zone not set").
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones() - _NOT_ZONES)


def iana_zone(name: str) -> str:
    """Check ``name`` is a time zone of the IANA database (``Asia/Tbilisi``, ``UTC``).

    Raises:
        ValueError: an unknown name, with the closest known names as a hint.
    """
    try:
        ZoneInfo(name)
        known = name in _zone_names()
    except (ZoneInfoNotFoundError, ValueError):
        known = False
    if not known:
        near = difflib.get_close_matches(name, sorted(_zone_names()), n=2)
        hint = f" (did you mean {' or '.join(repr(n) for n in near)}?)" if near else ""
        raise ValueError(f"{name!r} is not an IANA time zone such as 'Asia/Tbilisi'{hint}")
    return name


#: An IANA time zone name, checked against the zone database (``zoneinfo``).
TimeZoneName = Annotated[str, AfterValidator(iana_zone)]


class DeviceConfig(_Strict):
    """Who the device is and where it keeps its state."""

    id: str = Field("edge-1", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    site: str = Field("site-1", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    #: The site's local time zone (IANA name): local midnight and hours for the people reading
    #: the counts. Times on the wire stay UTC seconds.
    timezone: TimeZoneName = "UTC"
    state_dir: Path = Path("/var/lib/edge-counter")


class BrokerConnection(_Strict):
    """Where the broker is and how to log in, the same for the device and the collector.

    ``url`` is ``mqtt://`` or ``tcp://`` (plain), ``mqtts://`` or ``ssl://`` (TLS). The password
    is read from ``password_file`` (a systemd credential), never from the config itself.
    """

    url: str = "mqtt://127.0.0.1:1883"
    topic_prefix: str = Field("edge", pattern=r"^[A-Za-z0-9_./-]{1,64}$")
    username: str | None = None
    password_file: Path | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    keepalive_s: int = Field(30, ge=5)


class MqttConfig(BrokerConnection):
    """The device's broker connection and how it publishes."""

    protocol: Literal["5", "3.1.1"] = "5"
    max_inflight: int = Field(20, ge=1, le=1000)
    #: Reconnect backoff: doubles from ``reconnect_min_s`` up to ``reconnect_max_s``, both
    #: jittered per device (±25 %) so a fleet does not reconnect in step after an outage.
    reconnect_min_s: float = Field(1.0, gt=0)
    reconnect_max_s: float = Field(60.0, gt=0)
    counts_interval_s: float = Field(60.0, gt=0)
    telemetry_interval_s: float = Field(30.0, gt=0)
    #: A change of health (``online`` <-> ``degraded``, or another reason) is published in
    #: the retained status only once it has held this long, so a device hovering at a
    #: threshold does not flap (0: publish every change at once).
    status_hold_s: float = Field(10.0, ge=0, le=3600)
    #: When a crossing leaves the outbox: ``collector`` once the collector acknowledged it on
    #: ``.../ack`` (end to end, the default); ``broker`` on the broker's PUBACK, for brokers
    #: read by something else than the edge collector (no end-to-end guarantee then).
    delivery: Literal["collector", "broker"] = "collector"
    #: Without the collector's ack this long after the broker took a batch, unacknowledged
    #: crossings are sent again; the wait doubles (jittered) up to ``retry_max_s`` each time.
    ack_timeout_s: float = Field(30.0, gt=0)
    #: Longest pause after a refused publish (PUBACK >= 0x80 or 0x10 "No matching
    #: subscribers") or an unanswered ack; the pause starts at 1 s and doubles, jittered.
    retry_max_s: float = Field(300.0, gt=0)
    #: Most crossings per events message; the broker's Maximum Packet Size bounds it too.
    max_batch_events: int = Field(100, ge=1, le=10_000)


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


class HomeAssistantConfig(_Strict):
    """Home Assistant MQTT discovery (``[homeassistant]``), off by default.

    When ``enabled``, the device publishes retained discovery configs on every connect: per
    line and direction name a total and a per-class sensor (from the retained state), per zone
    its queue length and wait. Configs of lines and zones removed since (or all, once disabled
    again) are cleared. ``support_url`` is shown as the integration's support link.
    """

    enabled: bool = False
    discovery_prefix: str = Field("homeassistant", pattern=r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")
    support_url: str | None = Field(None, pattern=r"^https?://\S+$")
