"""Wire format, payloads: versioned JSON messages and their one validator (``decode``)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from edge.errors import WireError
from edge.wire.topics import NAME_PATTERN, Topic, parse_topic

VERSION = 1

#: Largest integer a database BIGINT holds; ids and counters beyond it are rejected.
MAX_INT = 2**63 - 1
#: Times are UTC seconds from 1970 up to 2106 (unsigned 32-bit), as any database stores them.
MAX_TS = 2.0**32
#: A JSON string escape of a UTF-16 surrogate; only then is a payload checked for lone ones.
_SURROGATE_ESCAPE = re.compile(rb"\\[uU][dD][89a-fA-F]")


def _utc_seconds(v: float) -> float:
    if not 0 <= v < MAX_TS:
        raise ValueError(f"time {v!r} is not finite UTC seconds between 1970 and 2106")
    return v


Name = Annotated[str, Field(pattern=NAME_PATTERN)]
#: Seconds since the Unix epoch, UTC, finite (the models refuse NaN and infinities).
UtcSeconds = Annotated[
    float,
    AfterValidator(_utc_seconds),
    Field(json_schema_extra={"minimum": 0, "exclusiveMaximum": MAX_TS}),
]
ClassCounts = dict[Name, Annotated[int, Field(ge=0, le=MAX_INT)]]


class _Msg(BaseModel):
    # Unknown fields are ignored so a newer agent can add fields without breaking a collector.
    model_config = ConfigDict(extra="ignore", frozen=True, strict=False, allow_inf_nan=False)
    v: Literal[1]


#: The outbox id of events from agents older than outbox ids (their key is the old one).
LEGACY_OUTBOX_ID = ""
#: An outbox id: 16 lowercase hex digits (``""`` only for legacy events).
OutboxId = Annotated[str, Field(pattern=r"^([0-9a-f]{16})?$")]


class Event(BaseModel):
    """One crossing as published; ``(device_id, outbox_id, seq)`` identifies it for ever.

    ``outbox_id`` is the random id of the journal it was written to (a wiped device starts a
    new one); events of older agents have none and map to ``LEGACY_OUTBOX_ID``.
    """

    model_config = ConfigDict(
        extra="ignore", frozen=True, populate_by_name=True, allow_inf_nan=False
    )
    device_id: Name
    outbox_id: OutboxId = LEGACY_OUTBOX_ID
    epoch: int = Field(ge=0, le=MAX_INT)
    seq: int = Field(ge=0, le=MAX_INT)
    ts: UtcSeconds = Field(description="event time, seconds since the Unix epoch, UTC")
    line: Name
    direction: Literal["in", "out"]
    cls: Name = Field(alias="class")
    track_id: int = Field(ge=0, le=MAX_INT)
    confidence: float = Field(ge=0, le=1)


class EventsMsg(_Msg):
    """A batch of crossings of one line."""

    type: Literal["events"]
    device_id: Name
    events: list[Event] = Field(min_length=1, max_length=10_000)
    #: every seq of the events' outbox at or below it is delivered or given up by the device
    #: (outbox cap); the collector's ack starts there. Optional within v1.
    base_seq: int | None = Field(None, ge=0, le=MAX_INT)


class AckMsg(_Msg):
    """What the collectors have stored of a device: per outbox id, the highest seq up to which
    every crossing is committed (or was given up by the device). Retained, from the collector.
    """

    type: Literal["ack"]
    device_id: Name
    outboxes: dict[OutboxId, Annotated[int, Field(ge=0, le=MAX_INT)]] = Field(max_length=64)
    ts: UtcSeconds


class DirectionCounts(BaseModel):
    """Counts per class in each direction of a line."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    in_: ClassCounts = Field(default_factory=dict, alias="in")
    out: ClassCounts = Field(default_factory=dict)


#: A direction's display name ("to Georgia"): printable text without control characters.
Label = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]


class LineLabels(BaseModel):
    """The display names of a line's two directions (config ``in_name`` and ``out_name``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    in_: Label = Field("in", alias="in")
    out: Label = "out"


class CountsMsg(_Msg):
    """Totals of one line over the closed interval ``[start, end)`` (UTC seconds)."""

    type: Literal["counts"]
    device_id: Name
    line: Name
    start: UtcSeconds
    end: UtcSeconds
    counts: DirectionCounts


class StateMsg(_Msg):
    """Cumulative totals since the journal began, per line, direction and class."""

    type: Literal["state"]
    device_id: Name
    epoch: int = Field(ge=0, le=MAX_INT)
    ts: UtcSeconds
    lines: dict[Name, DirectionCounts]
    #: highest seq included in ``lines`` (optional: added without a version bump).
    last_seq: int | None = Field(None, ge=0)
    #: event rows the outbox cap dropped; they are still counted in ``lines``.
    dropped: int | None = Field(None, ge=0)
    #: the journal these totals are of (optional: absent from agents before outbox ids).
    outbox_id: OutboxId | None = None
    #: each configured line's direction names (absent from older agents: ``in``, ``out``).
    labels: dict[Name, LineLabels] | None = Field(None, max_length=256)


class StatusMsg(_Msg):
    """Device liveness: ``online`` on connect, ``offline`` as Last Will, ``stopped`` on exit."""

    type: Literal["status"]
    device_id: Name
    state: Literal["online", "offline", "stopped", "degraded"]
    ts: UtcSeconds | None = None
    version: str | None = None
    model: str | None = None
    config_hash: str | None = None
    epoch: int | None = None
    #: why the device is ``degraded`` (``camera_lost``, ``low_fps``; comma-separated).
    reason: str | None = Field(None, max_length=200)
    #: the site's IANA zone (``device.timezone``), a collector's fallback for "today".
    timezone: str | None = Field(None, max_length=64)


class TelemetryMsg(_Msg):
    """Health figures (fps, inference ms, outbox depth, temperature...)."""

    type: Literal["telemetry"]
    device_id: Name
    ts: UtcSeconds
    metrics: dict[str, float | int | str | bool | None]


class ZoneMsg(_Msg):
    """Queue figures of one zone at ``ts``: occupancy and the wait estimate with its method.

    A periodic snapshot (``ZoneConfig.report_interval_s``), a measurement: QoS 1, never
    retained, not journaled. ``wait_method`` says where ``wait_s`` comes from: ``measured``
    (median entry-to-exit time of vehicles that left in the last ``window_s``),
    ``littles_law`` (``queue_length`` ÷ exit rate over ``window_s``; 0 for an empty queue) or
    ``none`` (no estimate: stalled exit or too little history; ``wait_s`` is absent and
    ``wait_lower_bound_s`` is the longest time a vehicle now queued has been in the zone).
    """

    type: Literal["zones"]
    device_id: Name
    zone: Name
    ts: UtcSeconds = Field(description="snapshot time, seconds since the Unix epoch, UTC")
    occupancy: dict[Name, Annotated[int, Field(ge=0, le=MAX_INT)]]
    queue_length: int = Field(ge=0, le=MAX_INT)
    wait_s: float | None = Field(None, ge=0)
    wait_method: Literal["measured", "littles_law", "none"] = "none"
    window_s: float | None = Field(None, gt=0)
    #: optional fields (all within v1): direction label, both estimators, the exit rate.
    direction: Name | None = None
    wait_measured_s: float | None = Field(None, ge=0)
    wait_littles_s: float | None = Field(None, ge=0)
    wait_lower_bound_s: float | None = Field(None, ge=0)
    exit_rate_per_min: float | None = Field(None, ge=0)
    departures: int | None = Field(None, ge=0, le=MAX_INT)
    interval_s: float | None = Field(None, gt=0)

    #: The JSON Schema states the ``wait_s`` rule too (``docs/schema/zones.json``).
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"required": ["wait_method"],
                   "properties": {"wait_method": {"enum": ["measured", "littles_law"]}}},
            "then": {"required": ["wait_s"], "properties": {"wait_s": {"type": "number"}}},
            "else": {"properties": {"wait_s": {"type": "null"}}},
        }
    )  # fmt: skip

    @model_validator(mode="after")
    def _method_agrees(self) -> ZoneMsg:
        if (self.wait_method == "none") != (self.wait_s is None):
            raise ValueError("wait_s must be absent exactly when wait_method is 'none'")
        return self


Message = Annotated[
    EventsMsg | CountsMsg | StateMsg | StatusMsg | TelemetryMsg | ZoneMsg | AckMsg,
    Field(discriminator="type"),
]
_MESSAGE: TypeAdapter[Message] = TypeAdapter(Message)


def encode(msg: BaseModel) -> bytes:
    """Serialise a message to compact JSON bytes (field aliases such as ``class`` and ``in``)."""
    return msg.model_dump_json(by_alias=True, exclude_none=True).encode()


def decode(payload: bytes | str) -> Message:
    """Parse and validate a payload of any kind.

    Raises:
        WireError: not JSON, not an object, an unknown version or type, or an invalid field
            (the message names the field's dotted path).
    """
    try:
        raw: Any = json.loads(payload)
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        # ValueError covers JSONDecodeError and integers too long to convert.
        raise WireError(f"payload is not JSON: {str(err)[:200]}") from None
    if not isinstance(raw, dict):
        raise WireError("payload must be a JSON object")
    if _SURROGATE_ESCAPE.search(payload if isinstance(payload, bytes) else payload.encode()):
        _check_unicode(raw)
    if raw.get("v") != VERSION:
        raise WireError(
            f"unsupported payload version {raw.get('v')!r} (this build reads {VERSION})"
        )
    try:
        return _MESSAGE.validate_python(raw)
    except ValidationError as err:
        first = err.errors()[0]
        path = ".".join(str(p) for p in first["loc"]) or "<root>"
        raise WireError(f"invalid payload: {path}: {first['msg']}") from None


def _check_unicode(raw: Any) -> None:
    """Refuse strings with a lone UTF-16 surrogate: no text column or UTF-8 file holds one."""
    try:
        json.dumps(raw, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise WireError("payload cannot be decoded: a string holds a lone surrogate") from None


def decode_for_topic(text: str, payload: bytes | str) -> tuple[Topic, Message]:
    """Decode a payload and check it agrees with its topic (kind, device id, line or zone).

    Raises:
        WireError: as ``decode``, or the payload disagrees with the topic.
    """
    top = parse_topic(text)
    msg = decode(payload)
    if msg.type != top.kind:
        raise WireError(f"topic {text!r} is for {top.kind!r} but payload type is {msg.type!r}")
    if msg.device_id != top.device_id:
        raise WireError(f"topic {text!r} names device {top.device_id!r}, payload {msg.device_id!r}")
    if isinstance(msg, EventsMsg):
        bad = [e for e in msg.events if e.device_id != top.device_id or e.line != top.name]
        if bad:
            raise WireError(f"topic {text!r}: event seq {bad[0].seq} is for another device or line")
    name = (
        msg.line if isinstance(msg, CountsMsg) else msg.zone if isinstance(msg, ZoneMsg) else None
    )
    if name is not None and name != top.name:
        raise WireError(f"topic {text!r} names {top.name!r}, payload {name!r}")
    return top, msg


def utc_iso(ts: float) -> str:
    """Format UTC seconds as ISO 8601 with milliseconds, for logs and CSV."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
