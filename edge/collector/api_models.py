"""Collector HTTP API: response models (they document the OpenAPI schema)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_Names = list[str]
#: Every ``health`` word of ``/devices``.
HEALTH = ("online", "degraded", "stopped", "offline", "stale", "unknown")
HealthWord = Literal["online", "degraded", "stopped", "offline", "stale", "unknown"]


class FilterQuery(BaseModel):
    """Filters: repeat a parameter or separate values with commas (``class=car,bus``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    site: _Names = Field(default_factory=list, max_length=100)
    device: _Names = Field(default_factory=list, max_length=100)
    line: _Names = Field(default_factory=list, max_length=100)
    direction: _Names = Field(default_factory=list, max_length=100)
    cls: _Names = Field(default_factory=list, max_length=100, alias="class")
    category: _Names = Field(default_factory=list, max_length=100)


class TodayQuery(FilterQuery):
    """Filters, the dimensions that split the answer and the time zone of "today"."""

    group_by: str = Field("direction,category", max_length=200)
    tz: str | None = Field(None, max_length=64, description="IANA zone; default: the site's")


class CountsQuery(TodayQuery):
    """Counts between ``start`` and ``end`` in buckets (``1m`` .. ``1d``)."""

    start: str | None = Field(None, max_length=64, description="Unix s or ISO 8601")
    end: str | None = Field(None, max_length=64, description="Unix s or ISO 8601; default now")
    bucket: str = Field("1h", max_length=16)


class HourlyQuery(BaseModel):
    """One local calendar day of one site (or every site), hour by hour."""

    model_config = ConfigDict(extra="forbid")
    site: str | None = Field(None, max_length=100, description="default: every site")
    day: str = Field("today", max_length=40, description="today, yesterday or YYYY-MM-DD")
    tz: str | None = Field(None, max_length=64, description="IANA zone; default: the site's")


class DirectionNames(BaseModel):
    """The display names of a line's two directions (``in``/``out`` when never named)."""

    model_config = ConfigDict(populate_by_name=True)
    in_: str = Field(alias="in")
    out: str


#: Device -> line -> direction names, for every device and line of an answer.
Labels = dict[str, dict[str, DirectionNames]]


class Health(BaseModel):
    """The collector is up and its database answers."""

    status: str = "ok"
    schema_version: int


class Site(BaseModel):
    """A site (checkpoint) and the time zone its day starts in."""

    site: str
    name: str | None = None
    timezone: str
    devices: int


class Reconciliation(BaseModel):
    """A device's crossings as the collector stored them beside its own journal (the
    retained ``state``): ``missing`` = ``journaled`` - ``dropped`` - ``stored``."""

    stored: int = Field(description="crossings stored (of the state's epoch, up to last_seq)")
    journaled: int | None = Field(description="crossings the device counted (its state)")
    dropped: int | None = Field(description="crossings its outbox cap dropped unsent")
    missing: int | None = Field(description="not arrived yet, or lost (null: no state)")
    epoch: int | None = None
    last_seq: int | None = None
    state_ts: float | None = None


class Device(BaseModel):
    """A device with its latest status and telemetry.

    ``health`` is ``online`` (status online and heard from within ``stale_after_s``),
    ``degraded`` (running, but short of something: ``reason`` says what), ``stopped``
    (exited cleanly), ``offline`` (its Last Will: killed, lost power or network), ``stale``
    (online or degraded but silent for over ``stale_after_s``) or ``unknown`` (no status yet).
    """

    device_id: str
    site: str
    health: HealthWord
    reason: str | None = Field(description="why the device is degraded (null otherwise)")
    state: str | None
    first_seen: float
    last_seen: float | None
    status_received_at: float | None
    status: dict[str, Any] | None
    telemetry: dict[str, Any] | None
    telemetry_ts: float | None
    totals: Reconciliation


class Devices(BaseModel):
    """Every known device."""

    now: float
    stale_after_s: float
    devices: list[Device]


class SeriesOut(BaseModel):
    """One combination of the grouped dimensions; ``counts[i]`` belongs to ``buckets[i]``."""

    key: dict[str, str]
    total: int
    counts: list[int]


class CountsOut(BaseModel):
    """Crossings per bucket. Bucket starts are UTC seconds and local ISO 8601 times."""

    start: int
    end: int
    bucket_s: int
    timezone: str
    group_by: list[str]
    buckets: list[int]
    buckets_local: list[str]
    series: list[SeriesOut]
    labels: Labels = Field(
        description="direction names of every device and line matching the filters"
    )


class TotalRow(BaseModel):
    """One combination of the grouped dimensions and its count."""

    key: dict[str, str]
    n: int


class TodayOut(BaseModel):
    """Totals since local midnight."""

    since: int
    since_local: str
    timezone: str
    group_by: list[str]
    total: int
    rows: list[TotalRow]
    labels: Labels = Field(
        description="direction names of every device and line matching the filters"
    )


class LineTotals(BaseModel):
    """Counts per class in each direction."""

    model_config = {"populate_by_name": True}
    in_: dict[str, int] = Field(alias="in")
    out: dict[str, int]


class DeviceTotals(BaseModel):
    """All-time totals of one device per line."""

    lines: dict[str, LineTotals]
    labels: dict[str, DirectionNames] = Field(description="direction names of each line")


class TotalsOut(BaseModel):
    """All-time totals per device, in the shape ``edge-counter replay`` prints."""

    devices: dict[str, DeviceTotals]


class HourOut(BaseModel):
    """One hour of the local day: UTC start, local ``HH:MM`` (24-hour) and UTC offset."""

    start: int
    label: str
    utc_offset: str = Field(description="e.g. +04:00; on the autumn day an hour comes twice")


class HourlyRowOut(BaseModel):
    """Counts of one device, line, direction and class; ``counts[i]`` is of ``hours[i]``."""

    model_config = ConfigDict(populate_by_name=True)
    site: str
    device: str
    line: str
    direction: str
    label: str = Field(description="the direction's display name")
    cls: str = Field(alias="class")
    category: str
    counts: list[int]
    total: int


class HourlyOut(BaseModel):
    """A local calendar day hour by hour (23 or 25 hours on the days clocks change)."""

    site: str | None
    timezone: str
    day: str
    hours: list[HourOut]
    rows: list[HourlyRowOut]


class ZoneOut(BaseModel):
    """Latest queue figures of one zone."""

    device_id: str
    site: str
    zone: str
    ts: float
    report: dict[str, Any]


class QueueDeviceOut(BaseModel):
    """One end of a cross-camera queue: device, line, direction and when it was last heard."""

    device: str
    line: str
    direction: str
    last_seen: float | None


class QueueOut(BaseModel):
    """A queue seen by two cameras (``edge/collector/queues.py`` defines every figure)."""

    queue: str
    site: str | None
    direction: str
    as_of: float = Field(description="figures are complete up to this UTC time")
    lag_s: float = Field(description="now - as_of: how far a silent device holds them back")
    entries: int
    exits: int
    offset: int
    since: float
    in_system: int
    window_s: float
    exit_rate_per_min: float | None
    expected_wait_s: float | None
    wait_method: str
    since_exit_s: float | None
    devices: dict[str, QueueDeviceOut]


class RejectOut(BaseModel):
    """A payload the collector did not store."""

    received_at: float
    topic: str
    reason: str
    excerpt: str
    code: str = Field(description="too_large, future_ts, invalid, undecodable or db_refused")


class RejectsOut(BaseModel):
    """Rejected payloads: the total, the count per code and the latest few."""

    total: int
    by_code: dict[str, int]
    latest: list[RejectOut]


class ErrorAnswer(BaseModel):
    """What a 4xx or 5xx answer carries: what is wrong, in words."""

    detail: str


#: Answers every ``/api/v1`` path can give besides its own, for the OpenAPI spec.
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorAnswer, "description": "a query parameter is invalid (named in detail)"},
    401: {"model": ErrorAnswer, "description": "missing or wrong bearer token"},
    503: {"model": ErrorAnswer, "description": "the database is unavailable"},
}

#: FastAPI settings that turn off ``/docs`` and ``/redoc`` (their pages load from a CDN).
NO_CDN_DOCS: dict[str, Any] = {"docs_url": None, "redoc_url": None}
