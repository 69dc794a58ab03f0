"""Collector ingest stage: one MQTT message in, typed rows for the store out (no I/O here).

Every payload is validated by ``edge.wire.decode_for_topic``, the one validator shared with
the device: it also refuses what a database could not hold (non-finite or out-of-range
times, integers beyond 64 bits, names outside the name pattern, lone surrogates). A bad
payload becomes a ``Reject``, counted, never a crash.

The collector's own limits (``IngestConfig``) come on top: a payload over
``mqtt.max_payload_bytes`` arrives already cut to an excerpt by the subscriber and is never
decoded (``too_large``); a report over ``max_report_bytes`` is ``too_large`` too; a time
more than ``max_future_skew_s`` after arrival is ``future_ts``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edge.collector.config import IngestConfig
from edge.collector.labels import LabelRow
from edge.errors import WireError
from edge.wire import (
    CountsMsg,
    Event,
    EventsMsg,
    StateMsg,
    StatusMsg,
    TelemetryMsg,
    ZoneMsg,
    decode_for_topic,
)

REJECT_EXCERPT_BYTES = 512
#: Reject codes (the ``code`` of a ``Reject``, counted per code by ``/api/v1/rejects``).
TOO_LARGE, FUTURE_TS, INVALID, UNDECODABLE = "too_large", "future_ts", "invalid", "undecodable"
DB_REFUSED, WRONG_SITE = "db_refused", "wrong_site"
#: Crossings without an outbox id older than the retention cutoff (``retention.py``).
EXPIRED = "expired"


@dataclass(frozen=True)
class Received:
    """One message as the subscriber got it.

    Attributes:
        topic: the full topic.
        payload: raw bytes.
        received_s: collector wall clock, UTC seconds.
        retained: the broker replayed a retained message (it says nothing about liveness).
        oversize_bytes: the payload's real size when it was over ``mqtt.max_payload_bytes``
            and the subscriber kept only an excerpt (0: ``payload`` is whole).
    """

    topic: str
    payload: bytes
    received_s: float
    retained: bool = False
    oversize_bytes: int = 0


@dataclass(frozen=True)
class EventRow:
    """One crossing, ready for the ``events`` table; ``(device_id, outbox_id, seq)`` is its
    key (``outbox_id`` is ``""`` for agents older than outbox ids)."""

    site: str
    device_id: str
    outbox_id: str
    epoch: int
    seq: int
    ts_s: float
    line: str
    direction: str
    cls: str
    track_id: int
    confidence: float

    def values(self, received_s: float) -> tuple[str | int | float, ...]:
        """The row in the stores' column order (``_COLUMNS``), with its arrival time."""
        return (
            self.device_id, self.outbox_id, self.epoch, self.seq, self.site, self.line,
            self.direction, self.cls, self.ts_s, self.track_id, self.confidence, received_s,
        )  # fmt: skip


@dataclass(frozen=True)
class IntervalRow:
    """A device-reported interval total of one line, direction and class."""

    site: str
    device_id: str
    line: str
    start_s: float
    end_s: float
    direction: str
    cls: str
    n: int


@dataclass(frozen=True)
class DeviceReport:
    """The latest-value part of a message: status, telemetry, state or zone figures.

    ``kind`` is ``status``, ``telemetry``, ``state`` or ``zones``; ``body_json`` is the
    re-encoded message (never the raw payload); ``ts_s`` orders reports of one kind: the
    device's time, except for status, ordered by arrival because a Last Will carries the
    time it was set, not the time it fired.
    """

    site: str
    device_id: str
    kind: str
    ts_s: float
    received_s: float
    body_json: str
    name: str | None = None
    state: str | None = None


@dataclass(frozen=True)
class Reject:
    """A message that was not stored, and why (``code``: one of the reject codes above)."""

    topic: str
    reason: str
    received_s: float
    excerpt: str
    code: str = INVALID


@dataclass
class Ingested:
    """Everything one message contributes to the store."""

    site: str = ""
    device_id: str = ""
    received_s: float = 0.0
    live: bool = True
    events: list[EventRow] = field(default_factory=list)
    intervals: list[IntervalRow] = field(default_factory=list)
    reports: list[DeviceReport] = field(default_factory=list)
    labels: list[LabelRow] = field(default_factory=list)
    reject: Reject | None = None
    topic: str = ""
    #: events message: the device's ``base_seq`` (everything at or below it is delivered or
    #: given up), for the outbox of its events.
    base_seq: int | None = None


def ingest(msg: Received, limits: IngestConfig | None = None) -> Ingested:
    """Decode and check one message; a bad one comes back with ``reject`` set and no rows.

    Args:
        msg: the message as received.
        limits: the collector's limits (default ``IngestConfig()``).
    """
    limits = limits or _DEFAULT_LIMITS
    if msg.oversize_bytes:
        why = f"payload of {msg.oversize_bytes} bytes is over mqtt.max_payload_bytes"
        return _rejected(msg, why, TOO_LARGE)
    try:
        top, decoded = decode_for_topic(msg.topic, msg.payload)
        latest = _latest_ts(decoded)
        if latest is not None and latest > msg.received_s + limits.max_future_skew_s:
            ahead = latest - msg.received_s
            return _rejected(msg, f"time {latest:.0f} is {ahead:.0f} s in the future", FUTURE_TS)
        out = Ingested(
            top.site, top.device_id, msg.received_s, live=not msg.retained, topic=msg.topic
        )
        _fill(out, decoded)
    except WireError as err:
        return _rejected(msg, str(err), INVALID)
    except (ValueError, RecursionError) as err:
        # wire.decode refuses these (huge integers, deep nesting, lone surrogates); this guard
        # only makes sure an odd payload can never stop the writer thread.
        why = f"payload cannot be decoded or re-encoded: {type(err).__name__}"
        return _rejected(msg, why, UNDECODABLE)
    big = [r for r in out.reports if len(r.body_json) > limits.max_report_bytes]
    if big:
        why = f"{big[0].kind} report of {len(big[0].body_json)} bytes is over max_report_bytes"
        return _rejected(msg, why, TOO_LARGE)
    return out


_DEFAULT_LIMITS = IngestConfig()


def _latest_ts(msg: object) -> float | None:
    """The latest device time a message carries (None: it carries none)."""
    if isinstance(msg, EventsMsg):
        return max(e.ts for e in msg.events)
    if isinstance(msg, CountsMsg):
        return max(msg.start, msg.end)
    if isinstance(msg, StatusMsg | TelemetryMsg | StateMsg | ZoneMsg):
        return msg.ts
    return None


def _rejected(msg: Received, reason: str, code: str) -> Ingested:
    excerpt = msg.payload[:REJECT_EXCERPT_BYTES].decode("utf-8", "replace")
    clean = _printable
    return Ingested(
        reject=Reject(clean(msg.topic), clean(reason[:500]), msg.received_s, clean(excerpt), code)
    )


def _printable(text: str) -> str:
    """Text any database takes: no NUL (PostgreSQL refuses it), no lone surrogates."""
    return text.replace("\0", "?").encode("utf-8", "replace").decode("utf-8")


def _fill(out: Ingested, msg: object) -> None:
    if isinstance(msg, EventsMsg):
        out.events = [_event_row(out.site, e) for e in msg.events]
        out.base_seq = msg.base_seq
    elif isinstance(msg, CountsMsg):
        out.intervals = [
            IntervalRow(out.site, msg.device_id, msg.line, msg.start, msg.end, d, cls, n)
            for d, per_class in (("in", msg.counts.in_), ("out", msg.counts.out))
            for cls, n in per_class.items()
        ]
    elif isinstance(msg, StatusMsg):
        out.reports = [_report(out, "status", out.received_s, msg, state=msg.state)]
    elif isinstance(msg, TelemetryMsg | StateMsg | ZoneMsg):
        name = msg.zone if isinstance(msg, ZoneMsg) else None
        out.reports = [_report(out, msg.type, msg.ts, msg, name=name)]
        if isinstance(msg, StateMsg) and msg.labels:
            out.labels = [
                LabelRow(out.site, out.device_id, line, n.in_, n.out, msg.ts)
                for line, n in msg.labels.items()
            ]


def _report(
    out: Ingested,
    kind: str,
    ts: float,
    msg: StatusMsg | TelemetryMsg | StateMsg | ZoneMsg,
    **extra: str | None,
) -> DeviceReport:
    body = msg.model_dump_json(by_alias=True, exclude_none=True)
    body.encode()  # wire.decode refuses lone surrogates; keep any out of the database driver
    return DeviceReport(out.site, out.device_id, kind, ts, out.received_s, body, **extra)


def _event_row(site: str, e: Event) -> EventRow:
    return EventRow(
        site,
        e.device_id,
        e.outbox_id,
        e.epoch,
        e.seq,
        e.ts,
        e.line,
        e.direction,
        e.cls,
        e.track_id,
        e.confidence,
    )
