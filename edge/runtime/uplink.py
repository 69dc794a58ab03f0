"""Uplink: journal every crossing in the outbox, then let the MQTT publisher ship it.

This is the seam between the counting thread and the network: the counting thread only
appends to SQLite (a commit per crossing), so a broker outage never slows or loses a count.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from edge import __version__
from edge.config import AppConfig, config_hash
from edge.count.zone_report import ZoneSnapshot
from edge.errors import ConfigError
from edge.outbox import Outbox
from edge.publish import Announce, MetricValue, StatusInfo
from edge.publish.mqtt import MqttPublisher
from edge.publish.zones import zone_message
from edge.runtime.pipeline import FrameResult

log = logging.getLogger(__name__)


class HealthView(Protocol):
    """What the uplink reads of the device's health (``runtime.health.Health``)."""

    def metrics(self) -> Mapping[str, MetricValue]:
        """Health figures for the telemetry (thread-safe)."""

    def state(self) -> tuple[str, Sequence[str]]:
        """``ok`` or ``degraded`` and the reasons (thread-safe)."""


class Uplink:
    """Outbox plus publisher of one device.

    Args:
        cfg: device (id, site, state dir), mqtt and outbox sections are used.
        model: detector name, announced in the ``online`` status.
        utc_offset_s: added to a frame's source time to get the crossing's UTC time (the
            source's UTC anchor, ``FrameSource.utc_offset_s``).
        health: the device's health: figures merged into telemetry, and the condition
            behind a retained ``degraded`` status (read on the publisher thread).
        announce: lines, direction names and zones for the retained state and Home
            Assistant discovery (built by ``edge.app``).

    Raises:
        ConfigError: no ``[mqtt]`` section, or a bad broker setting.
        OutboxError: the outbox cannot be opened.
    """

    def __init__(
        self,
        cfg: AppConfig,
        model: str,
        utc_offset_s: float,
        health: HealthView | None = None,
        announce: Announce | None = None,
    ) -> None:
        if cfg.mqtt is None:
            raise ConfigError("mqtt: no broker configured (pass --mqtt URL or an [mqtt] section)")
        self._offset_s = utc_offset_s
        self._health = health
        path = Path(cfg.device.state_dir) / "outbox.sqlite"
        self.outbox = Outbox.open(
            path, cfg.device.id, cfg.outbox, counts_interval_s=cfg.mqtt.counts_interval_s
        )
        info = StatusInfo(
            __version__, model, config_hash(cfg), self._all_metrics,
            health.state if health is not None else None, cfg.device.timezone,
        )  # fmt: skip
        self.publisher = MqttPublisher(cfg.mqtt, cfg.device, self.outbox, info, announce)
        self.journaled = 0

    def _all_metrics(self) -> Mapping[str, MetricValue]:
        own = self._health.metrics() if self._health is not None else {}
        return {**own, "crossings_journaled": self.journaled}

    def start(self) -> None:
        """Start connecting and draining in the background; returns at once."""
        self.publisher.start()

    def failure(self) -> BaseException | None:
        """The publisher's drain thread's exception once it died (supervision)."""
        return self.publisher.failure()

    def record(self, result: FrameResult) -> None:
        """Journal the frame's crossings (committed before this returns)."""
        for crossing in result.crossings:
            self.outbox.append(crossing, self._offset_s + crossing.ts_s)
            self.journaled += 1

    def publish_zone(self, snap: ZoneSnapshot) -> None:
        """Hand a zone snapshot to the publisher (newest per zone; measurements, not journaled)."""
        self.publisher.publish_zone(zone_message(snap, self.outbox.device_id, self._offset_s))

    def finish(self, drain_timeout_s: float) -> int:
        """Wait up to ``drain_timeout_s`` for every crossing to be acknowledged, then stop.

        A publisher whose drain thread died is not waited for.

        Returns:
            Crossings still in the outbox (they are sent on the next start).
        """
        try:
            wait_s = drain_timeout_s if self.failure() is None else 0.0
            remaining = self.publisher.drain(wait_s)
        finally:
            self.publisher.stop()
            self.outbox.close()
        if remaining:
            log.warning("%d crossings not yet acknowledged; kept in the outbox", remaining)
        return remaining
