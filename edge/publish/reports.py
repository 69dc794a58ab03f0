"""Publish stage, reports: status, state, zone snapshots and telemetry of the drainer.

A base class of ``drain.Drainer`` (its attributes are declared here): the messages that are
not journaled crossings, sent untracked (retained state and status, expiring telemetry, Home
Assistant discovery).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from edge import wire
from edge.outbox import Outbox
from edge.publish import MetricValue, StatusInfo
from edge.publish.delivery import AckWatch, LinkStats
from edge.publish.encode import dir_counts
from edge.publish.homeassistant import Node, sync_discovery
from edge.publish.ratelog import RateLimitedLog
from edge.publish.signals import DrainSettings, Transport
from edge.publish.zones import LatestZones

log = logging.getLogger(__name__)


@dataclass
class ReportClock:
    """When each periodic message was last sent (monotonic seconds)."""

    state_seq: int = -1
    state_mono: float = 0.0
    periodic_mono: float = 0.0
    telemetry_mono: float = 0.0
    prune_mono: float = field(default_factory=time.monotonic)
    #: the retained status last sent: ``online`` or ``degraded`` and the reasons.
    status: tuple[str, str | None] | None = None
    #: a changed condition not yet published, and since when (monotonic) it has held.
    pending: tuple[str, str | None] | None = None
    pending_mono: float = 0.0


class Reports:
    """Status, state, zones and telemetry messages; mixed into ``Drainer``."""

    outbox: Outbox
    transport: Transport
    settings: DrainSettings
    info: StatusInfo
    reconnects: int
    zones: LatestZones
    acks: AckWatch
    stats: LinkStats
    _clock: ReportClock
    _flights: dict[int, Any]
    _ratelog: RateLimitedLog

    def topic(self, kind: str, name: str | None = None) -> str:
        """Topic of this device for ``kind`` (and line name)."""
        s = self.settings
        return wire.topic(s.prefix, s.site, self.outbox.device_id, kind, name)

    def status_payload(self, state: str, reason: str | None = None) -> bytes:
        """Encoded status message (``online``, ``degraded``, ``offline``, ``stopped``)."""
        i = self.info
        msg = wire.StatusMsg(
            v=1, type="status", device_id=self.outbox.device_id, state=state,
            ts=time.time(), version=i.version, model=i.model, config_hash=i.config_hash,
            epoch=self.outbox.epoch, reason=reason, timezone=i.timezone,
        )  # fmt: skip
        return wire.encode(msg)

    def _condition(self) -> tuple[str, str | None]:
        """``("online", None)`` or ``("degraded", "camera_lost,low_fps")`` from the health."""
        if self.info.condition is None:
            return "online", None
        state, reasons = self.info.condition()
        if state != "degraded":
            return "online", None
        return "degraded", ",".join(reasons) or None

    def _send_status(self, connected_now: bool = False) -> None:
        """The retained status: on every connect, then when the condition has changed and
        held for ``status_hold_s`` (a device hovering at a threshold does not flap)."""
        now, clock = self._condition(), self._clock
        if not connected_now and now == clock.status:
            clock.pending = None
            return
        if not connected_now:
            if now != clock.pending:
                clock.pending, clock.pending_mono = now, time.monotonic()
            if time.monotonic() - clock.pending_mono < self.settings.status_hold_s:
                return
        clock.status, clock.pending = now, None
        if not connected_now:
            level = logging.WARNING if now[0] == "degraded" else logging.INFO
            log.log(level, "status now %s%s", now[0], f" ({now[1]})" if now[1] else "")
        self.transport.send(self.topic("status"), self.status_payload(*now), 1, True)

    def _announce(self) -> None:
        """On every connect: the status, then Home Assistant discovery (state follows)."""
        self._send_status(connected_now=True)
        a, s = self.settings.announce, self.settings
        node = Node(s.prefix, s.site, self.outbox.device_id, self.info.version, self.info.model)
        sync_discovery(self.transport, node, a)

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
        # Every configured line is in ``lines`` (zero totals on a fresh device), with its names.
        configured = self.settings.announce.lines
        lines = {ln.name: wire.DirectionCounts() for ln in configured}
        lines.update({k: dir_counts(v) for k, v in totals.lines.items()})
        labels = {
            ln.name: wire.LineLabels.model_validate({"in": ln.in_name, "out": ln.out_name})
            for ln in configured
        }
        msg = wire.StateMsg(
            v=1, type="state", device_id=self.outbox.device_id, epoch=self.outbox.epoch,
            ts=time.time(), lines=lines, last_seq=totals.last_seq, dropped=totals.dropped,
            outbox_id=self.outbox.outbox_id, labels=labels or None,
        )  # fmt: skip
        self.transport.send(self.topic("state"), wire.encode(msg), 1, True)

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
            "acked_seq": self.acks.acked_seq,
            "mqtt_ack_resends": self.acks.resends,
            "mqtt_refused_publishes": self.stats.refused_publishes,
            "mqtt_unrouted_publishes": self.stats.unrouted_publishes,
            "mqtt_last_refusal": self.stats.last_refusal,
            "mqtt_oversize_disconnects": self.stats.oversize_disconnects,
            "mqtt_max_packet_bytes": self.stats.max_packet_bytes,
        }
        if self.info.metrics is not None:
            out.update(self.info.metrics())
        return out
