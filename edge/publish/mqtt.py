"""Publish stage, device half: ``MqttPublisher`` ships the outbox through one ``MqttClient``.

The client (``client.py``, the only module importing paho) hands CONNACKs, losses and PUBACKs
to the drain thread (``drain.Drainer``) as ``Signal`` values; nothing else runs in callbacks.
The drain thread is supervised: if it dies, ``failure()`` returns why.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from edge import wire
from edge.config import DeviceConfig, MqttConfig, OutboxConfig
from edge.errors import PublishError
from edge.outbox import Outbox
from edge.publish import Announce, StatusInfo
from edge.publish.client import Inbound, LinkChange, MqttClient, PubAck, device_options
from edge.publish.drain import Ack, Drainer, DrainSettings, Link, Received
from edge.publish.subscriber import Subscriber

__all__ = ["MqttPublisher", "Subscriber", "device_options"]

log = logging.getLogger(__name__)


class MqttPublisher:
    """Ships an outbox to an MQTT broker; the outbox is the queue, the broker only acks it.

    Example::

        pub = MqttPublisher(cfg.mqtt, cfg.device, outbox, StatusInfo(__version__))
        pub.start()               # returns at once; counting goes on while offline
        remaining = pub.drain(30)  # optional: wait until everything is acknowledged
        pub.stop()                # final state, retained "stopped", clean disconnect
    """

    def __init__(
        self,
        mqtt: MqttConfig,
        device: DeviceConfig,
        outbox: Outbox | Path,
        status_info: StatusInfo | None = None,
        announce: Announce | None = None,
    ) -> None:
        """Build the client; nothing connects until ``start``.

        Args:
            mqtt: broker, credentials, TLS, in-flight bound, intervals.
            device: id and site (the topic path); the client id is the device id.
            outbox: an open ``Outbox`` shared with the appender (preferred), or the path of
                one, opened here without starting a new epoch.
            status_info: version/model/config hash for the status and telemetry, and the
                health condition behind ``degraded``.
            announce: the lines (direction names, classes) and zones, for the retained state
                and Home Assistant discovery (default: none configured, discovery off).

        Raises:
            ConfigError: bad URL, unreadable password file or TLS files.
            OutboxError: ``outbox`` is a path that cannot be opened.
        """
        self._own_outbox = not isinstance(outbox, Outbox)
        if isinstance(outbox, Outbox):
            self.outbox = outbox
        else:
            self.outbox = Outbox.open(outbox, device.id, OutboxConfig(), new_epoch=False)
        self.cfg = mqtt
        self.client = MqttClient(device_options(mqtt, device.id))
        settings = DrainSettings(
            mqtt.topic_prefix, device.site, mqtt.max_inflight, mqtt.max_batch_events,
            mqtt.telemetry_interval_s, mqtt.delivery, mqtt.ack_timeout_s, mqtt.retry_max_s,
            announce or Announce(), status_hold_s=mqtt.status_hold_s,
        )  # fmt: skip
        self.drainer = Drainer(self.outbox, self.client, settings, status_info or StatusInfo("?"))
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        c = self.client
        c.will(self.drainer.topic("status"), self.drainer.status_payload("offline"))
        c.on_link = self._on_link
        c.on_ack = self._on_ack
        if mqtt.delivery == "collector":  # the collector's retained ack of this device
            c.subscribe_on_connect([self.drainer.topic("ack")])
            c.on_message = self._on_message
            c.on_subscribed = self._on_subscribed

    # Client hooks (paho's network thread): hand a Signal to the drain thread, nothing else.
    def _on_link(self, change: LinkChange) -> None:
        up = change.up or change.refused
        link = Link(up, change.reason, change.refused, change.code, change.max_packet_bytes)
        self.drainer.signals.put(link)

    def _on_ack(self, ack: PubAck) -> None:
        self.drainer.signals.put(Ack(ack.mid, ok=ack.ok, reason=ack.reason, code=ack.code))

    def _on_message(self, msg: Inbound) -> None:
        self.drainer.signals.put(Received(msg.topic, msg.payload))

    def _on_subscribed(self, failed: list[str]) -> None:
        if failed:  # logged here: rare (an ACL without read access), and only logs
            log.error("broker refused the subscription to the collector's ack: %s", failed)

    def publish_zone(self, msg: wire.ZoneMsg) -> None:
        """Queue a zone snapshot (thread-safe; the newest per zone wins; never journaled)."""
        self.drainer.zones.offer(msg)

    @property
    def connected(self) -> bool:
        """True while the broker has accepted the connection."""
        return self.drainer.connected.is_set()

    def start(self) -> None:
        """Start connecting in the background and start the drain thread; returns at once."""
        c = self.client
        log.info("publishing to %s:%d as %s", c.host, c.port, self.outbox.device_id)
        self._thread = threading.Thread(target=self._run, name="mqtt-drain", daemon=True)
        self._thread.start()
        c.start()

    def _run(self) -> None:
        try:
            self.drainer.run(self._stopping)
        except BaseException as err:  # a thread's top: record for the supervisor, then end
            log.exception("MQTT drain thread failed; crossings stay in the outbox")
            self._error = err

    def failure(self) -> BaseException | None:
        """Why the publisher stopped working, for a supervisor polling every tick.

        Returns:
            None while healthy and after a normal ``stop``; the exception once the drain
            thread died of it (crossings then wait in the outbox for the next start), or the
            exception a client callback raised on paho's network thread.
        """
        return self._error or self.client.failure()

    def drain(self, timeout_s: float) -> int:
        """Wait until every journaled crossing is acknowledged, or ``timeout_s`` passes.

        Returns:
            Crossings still undelivered (0 when everything was delivered: acknowledged by
            the collector, or by the broker with ``mqtt.delivery = "broker"``).

        Raises:
            PublishError: the broker refused the connection (bad credentials, not authorized);
                the crossings stay in the outbox.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = self.outbox.depth()
            if self.drainer.refused is not None:
                c = self.client
                raise PublishError(
                    f"broker {c.host}:{c.port} refused the connection: {self.drainer.refused}; "
                    f"{remaining} crossings kept in the outbox"
                )
            if remaining == 0 and self.drainer.inflight() == 0:
                return 0
            if time.monotonic() >= deadline:
                return remaining
            time.sleep(0.02)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Publish the final state and a retained ``stopped``, then disconnect cleanly.

        Waits up to ``timeout_s`` for outstanding PUBACKs; unacknowledged crossings stay in
        the outbox for the next start.
        """
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_s + 1)
        if self.connected:
            payload = self.drainer.status_payload("stopped")
            self.client.send_and_wait(self.drainer.topic("status"), payload, 1, True, timeout_s)
        self.client.stop()
        if self._own_outbox:
            self.outbox.close()
