"""Publish stage, transport-free half: turns outbox rows into wire messages, tracks PUBACKs.

The ``Drainer`` runs in one thread and is the only code that touches the in-flight table, so it
needs no lock. client hooks (``mqtt.py``) only put ``Signal`` objects on ``signals``.
Backpressure: at most ``max_inflight`` QoS 1 messages (each up to ``batch_events`` crossings,
and within the broker's Maximum Packet Size) await a PUBACK; the rest wait in the outbox,
which is the queue. Delivery rules (reason codes, backoff, the collector's ack): ``delivery.py``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

from pydantic import BaseModel, ValidationError

from edge import wire
from edge.errors import WireError
from edge.outbox import IntervalCounts, Outbox
from edge.publish import StatusInfo
from edge.publish.delivery import (
    PACKET_OVERHEAD_BYTES,
    PACKET_TOO_LARGE,
    AckWatch,
    Backoff,
    LinkStats,
    fit,
    verdict,
)
from edge.publish.encode import by_line, dir_counts, event
from edge.publish.ratelog import RateLimitedLog
from edge.publish.reports import ReportClock, Reports
from edge.publish.signals import Ack, DrainSettings, Link, Received, Signal, Transport
from edge.publish.zones import LatestZones
from edge.types import CountRecord

__all__ = ["Ack", "DrainSettings", "Drainer", "Link", "Received", "Signal", "Transport"]

log = logging.getLogger(__name__)

_POLL_S = 0.02
_PERIODIC_S = 1.0
_STATE_MIN_S = 1.0
_PRUNE_EVERY_S = 600.0


@dataclass(frozen=True)
class _Flight:
    seqs: tuple[int, ...] = ()
    interval: IntervalCounts | None = None


class Drainer(Reports):
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
        self._clock = ReportClock()
        self._ratelog = RateLimitedLog(logger=log)
        self.backoff = Backoff(1.0, settings.retry_max_s)
        self.acks = AckWatch(settings.ack_timeout_s, settings.retry_max_s)
        self.stats = LinkStats()
        self._batch_cap = settings.batch_events
        #: zone snapshots waiting to be sent (newest per zone; see ``publish/zones.py``).
        self.zones = LatestZones()

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

    def _handle_signals(self, timeout_s: float) -> None:
        try:
            sig = self.signals.get(timeout=timeout_s)
        except queue.Empty:
            return
        while True:
            if isinstance(sig, Ack):
                self._on_ack(sig)
            elif isinstance(sig, Received):
                self._on_collector_ack(sig)
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
        outcome = verdict(ack.code) if ack.ok else "refused"
        if outcome != "taken":
            self._not_taken(flight, ack, outcome)
        elif flight.interval is not None:
            self.backoff.reset()
            iv = flight.interval
            self.outbox.mark_interval_sent(iv.line, iv.start_s, iv.rev)
        elif self.settings.delivery == "broker":
            self.backoff.reset()
            self.outbox.mark_sent(flight.seqs)
        else:
            self.backoff.reset()
            self.outbox.claims.took(flight.seqs)
            if flight.seqs:
                self.acks.took(max(flight.seqs), time.monotonic())

    def _not_taken(self, flight: _Flight, ack: Ack, outcome: str) -> None:
        """0x10 (nobody subscribed) or >= 0x80 (refused): keep the rows, back off, resend."""
        self.outbox.release(flight.seqs)
        wait_s = self.backoff.fail(time.monotonic())
        st = self.stats
        st.last_refusal = f"0x{ack.code:02x} {ack.reason}"
        if outcome == "unrouted":
            st.unrouted_publishes += 1
        else:
            st.refused_publishes += 1
        self._ratelog(
            logging.ERROR, outcome, "broker %s a publish (reason code 0x%02x %s): %d crossings "
            "kept in the outbox, retrying in %.1f s",
            "delivered to no subscriber" if outcome == "unrouted" else "refused",
            ack.code, ack.reason, len(flight.seqs), wait_s,
        )  # fmt: skip

    def _on_collector_ack(self, rx: Received) -> None:
        """The collector's retained ack: rows up to its seq for our outbox are delivered."""
        try:
            _top, msg = wire.decode_for_topic(rx.topic, rx.payload)
        except WireError as err:
            self._ratelog(logging.WARNING, "ackmsg", "unreadable ack on %s: %s", rx.topic, err)
            return
        if not isinstance(msg, wire.AckMsg) or msg.device_id != self.outbox.device_id:
            return
        seq = msg.outboxes.get(self.outbox.outbox_id)
        if seq is not None and self.acks.acked(seq, time.monotonic()):
            self.outbox.mark_delivered(seq)

    def _on_link(self, link: Link) -> None:
        if link.up and not link.refused:
            self.connected.set()
            self.refused = None
            self.reconnects += 1
            self.stats.max_packet_bytes = link.max_packet_bytes
            log.info("connected to the broker; %d crossings waiting", self.outbox.depth())
            self._clock = ReportClock(prune_mono=self._clock.prune_mono)
            self._announce()  # status, discovery; the state follows on the next tick
        elif link.refused:
            self.refused = link.reason
            self._ratelog(
                logging.ERROR, "refused", "broker refused the connection: %s", link.reason
            )
        else:
            self.connected.clear()
            if link.code == PACKET_TOO_LARGE:  # a broker that did not announce its limit
                self.stats.oversize_disconnects += 1
                self._batch_cap = max(1, self._batch_cap // 2)
                log.error(
                    "broker closed the connection (reason code 0x%02x %s): batches now at "
                    "most %d crossings", link.code, link.reason, self._batch_cap,
                )  # fmt: skip
            self._ratelog(
                logging.WARNING, "down", "broker connection lost (%s); counting into the outbox",
                link.reason,
            )  # fmt: skip

    def _send_events(self) -> None:
        now = time.monotonic()
        if self.settings.delivery == "collector" and self.acks.due(now):
            self.outbox.claims.rewind()
            self._ratelog(
                logging.WARNING, "noack", "no ack from the collector past seq %d: sending the "
                "unacknowledged crossings again (next wait %.0f s)",
                self.acks.acked_seq, self.acks.timeout_s,
            )  # fmt: skip
        if not self.backoff.ready(now):
            return
        window = 1 if self.backoff.active else self.settings.max_inflight  # probe when refused
        while len(self._flights) < window:
            recs = self.outbox.pending(self._batch_cap)
            if not recs:
                return
            base = self.outbox.floor() if self.settings.delivery == "collector" else None
            for line, group in by_line(recs).items():
                self._publish_batch(line, group, base)

    def _publish_batch(self, line: str, recs: list[CountRecord], base: int | None) -> None:
        events = []
        for r in recs:
            try:
                events.append(event(r))
            except ValidationError as err:
                log.error("seq %d cannot be encoded, skipped (still counted): %s", r.seq, err)
                self.outbox.mark_sent([r.seq])
        topic = self.topic("events", line)
        limit = self.stats.max_packet_bytes
        limit = None if limit is None else limit - len(topic.encode()) - PACKET_OVERHEAD_BYTES

        def encode(idx: list[int]) -> bytes:
            msg = wire.EventsMsg(
                v=1, type="events", device_id=self.outbox.device_id,
                events=[events[i] for i in idx], base_seq=base,
            )  # fmt: skip
            return wire.encode(msg)

        for idx, payload in fit(list(range(len(events))), encode, limit) if events else []:
            seqs = tuple(events[i].seq for i in idx)
            if limit is not None and len(payload) > limit:
                log.error("seq %d is larger than the broker's packet limit, skipped", seqs[0])
                self.outbox.mark_sent(seqs)
                continue
            self._track_payload(topic, payload, _Flight(seqs=seqs))

    def _track(self, topic: str, msg: BaseModel, flight: _Flight) -> None:
        self._track_payload(topic, wire.encode(msg), flight)

    def _track_payload(self, topic: str, payload: bytes, flight: _Flight) -> None:
        mid = self.transport.send(topic, payload, 1, False)
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
            self._send_status()
        if now - c.telemetry_mono >= self.settings.telemetry_interval_s:
            c.telemetry_mono = now
            self._send_telemetry()
        if now - c.prune_mono >= _PRUNE_EVERY_S:
            c.prune_mono = now
            self.outbox.prune()

    def _send_counts(self) -> None:
        if not self.backoff.ready(time.monotonic()):
            return
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
