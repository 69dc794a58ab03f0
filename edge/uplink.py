"""Uplink: journal every crossing in the outbox, then let the MQTT publisher ship it.

This is the seam between the counting thread and the network: the counting thread only
appends to SQLite (a commit per crossing), so a broker outage never slows or loses a count.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from edge import __version__
from edge.config import AppConfig, config_hash
from edge.count.zone_report import ZoneSnapshot
from edge.errors import ConfigError
from edge.outbox import Outbox
from edge.pipeline import FrameResult
from edge.publish import StatusInfo
from edge.publish.mqtt import MqttPublisher
from edge.publish.zones import zone_message

log = logging.getLogger(__name__)


class Uplink:
    """Outbox plus publisher of one device.

    Args:
        cfg: device (id, site, state dir), mqtt and outbox sections are used.
        model: detector name, announced in the ``online`` status.
        utc_offset_s: added to a frame's source time to get the crossing's UTC time (for a
            replay: the wall-clock time at which the replay started).
    """

    def __init__(self, cfg: AppConfig, model: str, utc_offset_s: float | None = None):
        if cfg.mqtt is None:
            raise ConfigError("mqtt: no broker configured (pass --mqtt URL or an [mqtt] section)")
        self._offset_s = time.time() if utc_offset_s is None else utc_offset_s
        path = Path(cfg.device.state_dir) / "outbox.sqlite"
        self.outbox = Outbox.open(
            path, cfg.device.id, cfg.outbox, counts_interval_s=cfg.mqtt.counts_interval_s
        )
        info = StatusInfo(__version__, model=model, config_hash=config_hash(cfg))
        self.publisher = MqttPublisher(cfg.mqtt, cfg.device, self.outbox, info)
        self.journaled = 0

    def start(self) -> None:
        """Start connecting and draining in the background; returns at once."""
        self.publisher.start()

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

        Returns:
            Crossings still in the outbox (they are sent on the next start).
        """
        try:
            remaining = self.publisher.drain(drain_timeout_s)
        finally:
            self.publisher.stop()
            self.outbox.close()
        if remaining:
            log.warning("%d crossings not yet acknowledged; kept in the outbox", remaining)
        return remaining
