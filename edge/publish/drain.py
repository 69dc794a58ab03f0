"""Publish stage, transport-free half: turns outbox rows into wire messages, tracks PUBACKs.

The ``Drainer`` runs in one thread and is the only code that touches the in-flight table, so it
needs no lock. client hooks (``mqtt.py``) only put ``Signal`` objects on ``signals``.
Backpressure: at most ``max_inflight`` QoS 1 messages (each up to ``batch_events`` crossings)
await a PUBACK; the rest wait in the outbox, which is the queue.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import BaseModel, ValidationError

from edge import wire
from edge.outbox import IntervalCounts, Outbox
from edge.publish import MetricValue, StatusInfo
from edge.publish.encode import by_line, dir_counts, event
from edge.publish.ratelog import RateLimitedLog
from edge.publish.zones import LatestZones
from edge.types import CountRecord

log = logging.getLogger(__name__)

_POLL_S = 0.02
_PERIODIC_S = 1.0
_STATE_MIN_S = 1.0
_PRUNE_EVERY_S = 600.0


class Transport(Protocol):
    """What the drainer needs from an MQTT client."""

    def send(self, topic: str, payload: bytes, qos: int, retain: bool, expiry_s: int = 0) -> int:
        """Queue a message; return its message id, or -1 if the client refused it."""


@dataclass(frozen=True)
class Ack:
    """PUBACK (or QoS 0 write) for ``mid``; ``ok`` is False for a failure reason code."""

    mid: int
    ok: bool
    reason: str


@dataclass(frozen=True)
class Link:
    """CONNACK or loss of connection; ``up`` with ``refused`` set means a refused CONNACK."""

    up: bool
    reason: str
    refused: bool = False


Signal = Ack | Link


@dataclass(frozen=True)
class DrainSettings:
    """Knobs of the drainer; see ``MqttConfig`` for their meaning."""

    prefix: str
    site: str
    max_inflight: int = 20
    batch_events: int = 100
    telemetry_interval_s: float = 30.0


@dataclass(frozen=True)
class _Flight:
    seqs: tuple[int, ...] = ()
    interval: IntervalCounts | None = None


@dataclass
class _Clock:
    state_seq: int = -1
    state_mono: float = 0.0
    periodic_mono: float = 0.0
    telemetry_mono: float = 0.0
    prune_mono: float = field(default_factory=time.monotonic)


class Drainer:
    """Sends the outbox oldest first as QoS 1 batches and marks rows sent on PUBACK only."""

    def __init__(
        self, outbox: Outbox, transport: Transport, settings: DrainSettings, info: StatusInfo
    ) -> None:
        """Bind the drainer to an outbox and a transport; nothing runs until ``run``."""
        self.outbox = outbox
        self.transport = transport
        self.settings = settings
        self.info = info
        self.signals: queue.SimpleQueue[Signal] = queue.SimpleQueue()
        self.connected = threading.Event()
        self.refused: str | None = None
        self.reconnects = 0
        self._flights: dict[int, _Flight] = {}
        self._clock = _Clock()
        self._ratelog = RateLimitedLog(logger=log)
        #: zone snapshots waiting to be sent (newest per zone; see ``publish/zones.py``).
        self.zones = LatestZones()

    def topic(self, kind: str, name: str | None = None) -> str:
        """Topic of this device for ``kind`` (and line name)."""
        s = self.settings
        return wire.topic(s.prefix, s.site, self.outbox.device_id, kind, name)

    def inflight(self) -> int:
        """QoS 1 messages awaiting a PUBACK."""
        return len(self._flights)

    def run(self, stopping: threading.Event, grace_s: float = 5.0) -> None:
        """Loop until ``stopping`` is set, then wait up to ``grace_s`` for outstanding PUBACKs."""
        while not stopping.is_set():
            self._handle_signals(_POLL_S)
            if self.connected.is_set():
                self._send_events()
                self._send_periodic()
                self._send_zones()
        if self.connected.is_set():
            self._send_state()  # the retained totals include the last crossings
            self._send_zones()
        deadline = time.monotonic() + grace_s
        while self._flights and self.connected.is_set() and time.monotonic() < deadline:
            self._handle_signals(_POLL_S)

    def status_payload(self, state: str) -> bytes:
        """Encoded status message (``online``, ``offline``, ``stopped``)."""
        i = self.info
        msg = wire.StatusMsg(
            v=1, type="status", device_id=self.outbox.device_id, state=state,
            ts=time.time(), version=i.version, model=i.model, config_hash=i.config_hash,
            epoch=self.outbox.epoch,
        )  # fmt: skip
        return wire.encode(msg)

    def _handle_signals(self, timeout_s: float) -> None:
        try:
            sig = self.signals.get(timeout=timeout_s)
        except queue.Empty:
            return
        while True:
            if isinstance(sig, Ack):
                self._on_ack(sig)
            else:
                self._on_link(sig)
            try:
                sig = self.signals.get_nowait()
            except queue.Empty:
                return

    def _on_ack(self, ack: Ack) -> None:
        flight = self._flights.pop(ack.mid, None)
        if flight is None:
            return
        if not ack.ok:
            self.outbox.release(flight.seqs)
            self._ratelog(logging.ERROR, "puback", "broker rejected a publish: %s", ack.reason)
        elif flight.interval is not None:
            iv = flight.interval
            self.outbox.mark_interval_sent(iv.line, iv.start_s, iv.rev)
        else:
            self.outbox.mark_sent(flight.seqs)

    def _on_link(self, link: Link) -> None:
        if link.up and not link.refused:
            self.connected.set()
            self.refused = None
            self.reconnects += 1
            log.info("connected to the broker; %d crossings waiting", self.outbox.depth())
            self.transport.send(self.topic("status"), self.status_payload("online"), 1, True)
            self._clock = _Clock(prune_mono=self._clock.prune_mono)
        elif link.refused:
            self.refused = link.reason
            self._ratelog(
                logging.ERROR, "refused", "broker refused the connection: %s", link.reason
            )
        else:
            self.connected.clear()
            self._ratelog(
                logging.WARNING, "down", "broker connection lost (%s); counting into the outbox",
                link.reason,
            )  # fmt: skip

    def _send_events(self) -> None:
        while len(self._flights) < self.settings.max_inflight:
            recs = self.outbox.pending(self.settings.batch_events)
            if not recs:
                return
            for line, group in by_line(recs).items():
                self._publish_batch(line, group)

    def _publish_batch(self, line: str, recs: list[CountRecord]) -> None:
        events = []
        for r in recs:
            try:
                events.append(event(r))
            except ValidationError as err:
                log.error("seq %d cannot be encoded, skipped (still counted): %s", r.seq, err)
                self.outbox.mark_sent([r.seq])
        if not events:
            return
        msg = wire.EventsMsg(v=1, type="events", device_id=self.outbox.device_id, events=events)
        self._track(self.topic("events", line), msg, _Flight(seqs=tuple(e.seq for e in events)))

    def _track(self, topic: str, msg: BaseModel, flight: _Flight) -> None:
        mid = self.transport.send(topic, wire.encode(msg), 1, False)
        if mid < 0:
            self.outbox.release(flight.seqs)
            self._ratelog(logging.WARNING, "send", "MQTT client refused a publish on %s", topic)
            return
        self._flights[mid] = flight

    def _send_periodic(self) -> None:
        now = time.monotonic()
        c = self._clock
        if now - c.state_mono >= _STATE_MIN_S:
            self._send_state()
        if now - c.periodic_mono >= _PERIODIC_S:
            c.periodic_mono = now
            self._send_counts()
        if now - c.telemetry_mono >= self.settings.telemetry_interval_s:
            c.telemetry_mono = now
            self._send_telemetry()
        if now - c.prune_mono >= _PRUNE_EVERY_S:
            c.prune_mono = now
            self.outbox.prune()

    def _send_zones(self) -> None:
        """Zone snapshots: QoS 1, not retained, not tracked (a lost one is superseded), with
        a message expiry of a minute (MQTT 5) so a stale snapshot is not delivered late."""
        for msg in self.zones.take():
            payload = wire.encode(msg)
            if self.transport.send(self.topic("zones", msg.zone), payload, 1, False, 60) < 0:
                self._ratelog(logging.WARNING, "zones", "MQTT client refused a zone snapshot")

    def _send_state(self) -> None:
        totals = self.outbox.totals()
        if totals.last_seq == self._clock.state_seq:
            return
        self._clock.state_seq, self._clock.state_mono = totals.last_seq, time.monotonic()
        msg = wire.StateMsg(
            v=1, type="state", device_id=self.outbox.device_id, epoch=self.outbox.epoch,
            ts=time.time(), lines={k: dir_counts(v) for k, v in totals.lines.items()},
            last_seq=totals.last_seq, dropped=totals.dropped,
        )  # fmt: skip
        self.transport.send(self.topic("state"), wire.encode(msg), 1, True)

    def _send_counts(self) -> None:
        busy = {(f.interval.line, f.interval.start_s) for f in self._flights.values() if f.interval}
        for iv in self.outbox.closed_intervals(time.time()):
            if len(self._flights) >= self.settings.max_inflight:
                return
            if (iv.line, iv.start_s) in busy:
                continue
            msg = wire.CountsMsg(
                v=1, type="counts", device_id=self.outbox.device_id, line=iv.line,
                start=iv.start_s, end=iv.end_s, counts=dir_counts(iv.counts),
            )  # fmt: skip
            self._track(self.topic("counts", iv.line), msg, _Flight(interval=iv))

    def _send_telemetry(self) -> None:
        metrics = self.metrics()
        msg = wire.TelemetryMsg(
            v=1, type="telemetry", device_id=self.outbox.device_id, ts=time.time(), metrics=metrics
        )
        expiry = max(1, round(2 * self.settings.telemetry_interval_s))
        self.transport.send(self.topic("telemetry"), wire.encode(msg), 0, False, expiry)

    def metrics(self) -> dict[str, MetricValue]:
        """Outbox and link health, merged with ``StatusInfo.metrics``."""
        totals = self.outbox.totals()
        out: dict[str, MetricValue] = {
            "outbox_depth": self.outbox.depth(),
            "outbox_oldest_unsent_age_s": self.outbox.oldest_unsent_age_s(),
            "outbox_dropped": totals.dropped,
            "last_seq": totals.last_seq,
            "epoch": self.outbox.epoch,
            "mqtt_inflight": len(self._flights),
            "mqtt_connects": self.reconnects,
        }
        if self.info.metrics is not None:
            out.update(self.info.metrics())
        return out
