"""Collector configuration: one strict, typed tree loaded once from TOML, overridable by flags."""

from __future__ import annotations

import functools
import hashlib
import itertools
import os
import re
import socket
import sys
import zoneinfo
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from edge.config import BrokerConnection, format_validation_error, read_toml
from edge.errors import ConfigError

NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SiteConfig(_Strict):
    """One site (checkpoint): its display name and the time zone its day starts in."""

    name: str | None = None
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        return check_timezone(v)


_DEFAULT_IDS = itertools.count()


def default_client_id() -> str:
    """``collector-<hostname>-<8 hex digits>``, at most 64 characters.

    The digits hash the working directory, the command line and how many default ids this
    process made before: two copies differ (another host, directory, port or database on the
    command line, or another collector in the same process), while one copy restarted by
    systemd gets its id back and so resumes its broker session and what was queued for it.
    """
    key = f"{os.getcwd()}\0{' '.join(sys.argv)}\0{next(_DEFAULT_IDS)}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:8]
    return f"collector-{socket.gethostname()[:45]}-{digest}"


class MqttSubscriberConfig(BrokerConnection):
    """How the collector subscribes.

    ``share_group`` makes every collector with the same group one consumer of events, counts,
    telemetry and zones (MQTT v5 ``$share``); status and state are retained, which a broker
    never delivers on a shared subscription, so every collector also reads those directly.
    ``client_id`` defaults to one derived per copy (``default_client_id``), so copies never
    knock each other off the broker (a broker closes the older of two sessions with one id:
    "session taken over") and a copy restarted after a crash resumes its session. A copy
    with a derived id ends its session when it stops cleanly, handing its share of the
    messages back to the other copies. Set a fixed id to keep the session across clean stops.
    ``receive_maximum`` bounds the messages the broker sends before they are acknowledged,
    and so the collector's queue and the size of one write: larger batches write faster but
    a crash makes the broker resend more (which the upsert absorbs).
    """

    share_group: str | None = Field("collectors", pattern=NAME_PATTERN)
    client_id: str = Field(default_factory=default_client_id)
    session_expiry_s: int = Field(86_400, ge=0, le=4_294_967_295)
    receive_maximum: int = Field(200, ge=1, le=65_535)
    max_payload_bytes: int = Field(4_000_000, ge=1024)


class IngestConfig(_Strict):
    """What the collector refuses before it stores anything (each refusal is a reject).

    ``mqtt.max_payload_bytes`` bounds any message (checked on arrival, before decoding).
    ``max_report_bytes`` bounds a status, telemetry, state or zone report kept as the
    device's latest (the API serves those on every ``/devices`` call): 64 KiB is far above
    any real report. ``max_future_skew_s`` is how far ahead of the collector's clock a
    device's time may run: a message dated later is refused, so one bad clock cannot pin a
    device's latest report or count crossings in the future.
    """

    max_report_bytes: int = Field(65_536, ge=1024, le=16_000_000)
    max_future_skew_s: float = Field(300.0, ge=0, le=86_400)


class StoreConfig(_Strict):
    """Where counts go: ``sqlite:///path`` (embedded, WAL) or ``postgresql://...``.

    ``batch_max_messages`` and ``batch_max_wait_s`` trade latency for throughput: the
    writer commits when either is reached, and only then acknowledges the messages.
    PostgreSQL only: ``connect_timeout_s`` bounds opening a connection,
    ``statement_timeout_s`` one statement (server side; the writer also cuts its own
    connection a few seconds later, for a server too hung to enforce it), and TCP keepalives
    after ``keepalives_idle_s`` idle seconds find a dead peer. Each failure is retried with
    backoff like any lost connection.
    """

    url: str = "sqlite:///collector.db"
    batch_max_messages: int = Field(500, ge=1, le=100_000)
    batch_max_wait_s: float = Field(0.05, ge=0, le=10)
    api_pool_size: int = Field(4, ge=1, le=64)
    connect_timeout_s: int = Field(10, ge=1, le=600)
    statement_timeout_s: float = Field(30.0, gt=0, le=3600)
    keepalives_idle_s: int = Field(30, ge=1, le=3600)


class RetentionConfig(_Strict):
    """``[retention]``: how many days each level of detail is kept (0: for ever).

    ``events_days``: raw crossings (``events``), counted from their event time; a crossing
    is deleted only once its device was also told it is stored (its outbox's acked seq), so
    a late redelivery of a deleted crossing is known as a duplicate. ``minute_days``:
    per-minute counts (``counts_minute``); ``hour_days``: per-hour counts (``counts_hour``).
    Daily (``counts_day``) and all-time (``counts_total``) counts are kept for ever. The
    defaults delete nothing younger than 400 days and keep hours for ever. ``every_s``: how
    often the job runs; ``batch_rows``: most rows one delete transaction removes, so ingest
    never waits long for it. A coarser level is kept at least as long as a finer one, so a
    range whose detail is gone is still answered from the next coarser level.
    """

    events_days: int = Field(400, ge=0, le=36_500)
    minute_days: int = Field(400, ge=0, le=36_500)
    hour_days: int = Field(0, ge=0, le=36_500)
    every_s: float = Field(3600.0, ge=60, le=7 * 86_400)
    batch_rows: int = Field(5000, ge=100, le=1_000_000)

    @model_validator(mode="after")
    def _coarser_kept_longer(self) -> RetentionConfig:
        if self.hour_days and (self.minute_days == 0 or self.minute_days > self.hour_days):
            minutes = f"{self.minute_days} days" if self.minute_days else "for ever (0)"
            raise ValueError(
                f"hour_days = {self.hour_days} is shorter than minute_days ({minutes}): "
                "per-hour counts must be kept at least as long as per-minute ones"
            )
        return self

    def days(self) -> dict[str, int]:
        """Level (``events``, ``minute``, ``hour``) -> days kept (0: for ever)."""
        return {"events": self.events_days, "minute": self.minute_days, "hour": self.hour_days}


class HttpConfig(_Strict):
    """The read-only HTTP API and dashboard. ``token_file`` holds an optional bearer token."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65_535)
    token_file: Path | None = None
    token: str | None = Field(None, min_length=8)
    stale_after_s: float = Field(120.0, gt=0)


class LineRef(_Strict):
    """One counting line of one device, and the direction that counts."""

    device: str = Field(pattern=NAME_PATTERN)
    line: str = Field(pattern=NAME_PATTERN)
    direction: Literal["in", "out"]


class QueueConfig(_Strict):
    """A queue watched by two cameras: vehicles crossing ``entry`` (the back of the queue,
    device A) join it, vehicles crossing ``exit`` (the checkpoint, device B) leave it.

    In the system at time t = ``offset`` + entries − exits with event times in
    ``[since, t)``: ``since`` (UTC seconds) is the calibration point, when ``offset``
    vehicles were known to be queued (e.g. 0 at a quiet hour, or a manual count). The
    expected wait is in-system ÷ exit rate over the last ``window_s`` (longer: steadier,
    slower to follow a change of service rate). ``classes`` limits the count (default every
    vehicle class, no persons). ``site`` and ``direction`` label the dashboard panel.
    """

    site: str | None = Field(None, pattern=NAME_PATTERN)
    direction: str = Field("in", pattern=NAME_PATTERN)
    entry: LineRef
    exit: LineRef
    since: float = Field(ge=0)
    offset: int = 0
    window_s: float = Field(900.0, gt=0, le=86_400)
    classes: tuple[str, ...] | None = None


class DevicePin(_Strict):
    """``[devices.<device_id>]``: the site a device belongs to.

    It wins over the site the device was first seen under (``edge.collector.pinning``):
    messages of the device under any other site are rejected. Set it to move a device.
    """

    site: str = Field(pattern=NAME_PATTERN)


class CollectorConfig(_Strict):
    """The whole collector configuration."""

    mqtt: MqttSubscriberConfig = MqttSubscriberConfig()
    store: StoreConfig = StoreConfig()
    http: HttpConfig = HttpConfig()
    ingest: IngestConfig = IngestConfig()
    retention: RetentionConfig = RetentionConfig()
    sites: dict[str, SiteConfig] = Field(default_factory=dict)
    queues: dict[str, QueueConfig] = Field(default_factory=dict)
    devices: dict[str, DevicePin] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names(self) -> CollectorConfig:
        for section in ("queues", "devices"):
            bad = [n for n in getattr(self, section) if not re.match(NAME_PATTERN, n)]
            if bad:
                raise ValueError(f"{section}: {bad[0]!r} is not a name ([A-Za-z0-9_.-], 1..64)")
        return self

    def device_sites(self) -> dict[str, str]:
        """Device id -> site from ``[devices]``."""
        return {device: pin.site for device, pin in self.devices.items()}

    def site_timezone(self, site: str) -> str:
        """Time zone of ``site`` (UTC when the site is not configured)."""
        conf = self.sites.get(site)
        return conf.timezone if conf else "UTC"

    def api_token(self) -> str | None:
        """The bearer token from ``http.token`` or ``http.token_file``, if any."""
        if self.http.token_file is None:
            return self.http.token
        try:
            return self.http.token_file.read_text(encoding="utf-8").strip() or None
        except OSError as err:
            raise ConfigError(f"http.token_file: cannot read: {err.strerror}") from None


#: Files of a zoneinfo directory that are not IANA zone names (Debian's ``localtime`` is a
#: link to the host's own zone; ``Factory`` means "zone not set").
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


@functools.cache
def _iana_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones() - _NOT_ZONES)


def is_timezone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone name (see ``check_timezone``)."""
    return name in _iana_zones()


def check_timezone(name: str) -> str:
    """Return ``name`` if it is an IANA time zone (``Asia/Tbilisi``, ``UTC``), else raise
    ``ValueError``. Checked against the zone database's list of names, so a directory
    (``Europe``), a path or a host file (``localtime``) is refused too."""
    if name not in _iana_zones():
        raise ValueError(f"unknown time zone {name[:80]!r} (an IANA name, e.g. Europe/Berlin)")
    return name


def load_collector_config(path: Path | None, overrides: dict[str, Any]) -> CollectorConfig:
    """Read the TOML file (if any), then apply ``overrides``.

    ``overrides`` maps a dotted field (``"mqtt.url"``) or a whole section (``"sites"``) to
    its value, as command-line flags do.

    Raises:
        ConfigError: the file is unreadable or not TOML, or a field is invalid (dotted path).
    """
    data: dict[str, Any] = {}
    origin = str(path) if path else "<flags>"
    if path is not None:
        data = read_toml(path)
    for dotted, value in overrides.items():
        section, _, key = dotted.partition(".")
        if key:
            data.setdefault(section, {})[key] = value
        else:
            data[section] = value
    try:
        return CollectorConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, origin)) from None
