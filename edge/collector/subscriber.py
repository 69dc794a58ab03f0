"""Collector MQTT stage: a persistent MQTT 5 session feeding the writer's inbox.

The client comes from ``edge.publish.client`` (the only module importing paho), as the
device's does. Its hooks only hand off: a received message becomes a ``Delivery`` on the
inbox. Messages are acknowledged (PUBACK, ``manual_ack``) by the writer after their transaction
commits, so a collector killed between receipt and commit gets them again from its session.

Backpressure: the broker sends at most ``receive_maximum`` unacknowledged QoS 1 messages,
which bounds the queue; QoS 0 telemetry beyond that bound is dropped and counted. A payload
over ``max_payload_bytes`` is cut to an excerpt here, before it is queued or decoded: the
writer stores it as a ``too_large`` reject and acknowledges it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

from edge.collector.config import MqttSubscriberConfig
from edge.collector.ingest import REJECT_EXCERPT_BYTES, Received
from edge.publish.client import ClientOptions, Inbound, LinkChange, MqttClient
from edge.wire import AckMsg, encode, subscription, topic

log = logging.getLogger(__name__)

#: Retained kinds: never delivered on a shared subscription, so every collector reads them.
DIRECT_KINDS = ("status", "state")
SHARED_KINDS = ("events", "counts", "telemetry", "zones")


@dataclass(frozen=True)
class Delivery:
    """A received message and what is needed to acknowledge it.

    Attributes:
        received: topic, payload and arrival time.
        mid: packet id to acknowledge (QoS > 0).
        qos: 0, 1 or 2.
        generation: connection it arrived on; a packet id is only valid on that connection.
    """

    received: Received
    mid: int
    qos: int
    generation: int


def topic_filters(cfg: MqttSubscriberConfig) -> list[str]:
    """The filters the collector subscribes to, shared where ``share_group`` is set."""
    shared = [subscription(cfg.topic_prefix, k, cfg.share_group) for k in SHARED_KINDS]
    return shared + [subscription(cfg.topic_prefix, k) for k in DIRECT_KINDS]


def client_options(cfg: MqttSubscriberConfig) -> ClientOptions:
    """The collector's client: MQTT 5, a kept session, manual acknowledgements."""
    return ClientOptions(
        url=cfg.url, client_id=cfg.client_id, username=cfg.username,
        password_file=cfg.password_file, ca_file=cfg.ca_file, cert_file=cfg.cert_file,
        key_file=cfg.key_file, keepalive_s=cfg.keepalive_s, reconnect_min_s=1.0,
        reconnect_max_s=30.0, clean=False, session_expiry_s=cfg.session_expiry_s,
        receive_maximum=cfg.receive_maximum, manual_ack=True,
    )  # fmt: skip


class MqttSubscriber:
    """A persistent MQTT v5 session (``clean_start`` False) feeding ``inbox``."""

    def __init__(self, cfg: MqttSubscriberConfig, inbox: queue.Queue[Delivery]) -> None:
        """Build the client; nothing connects until ``start``.

        Raises:
            ConfigError: bad URL, unreadable password file, or unusable TLS files.
        """
        self._cfg = cfg
        self._inbox = inbox
        self._generation = 0
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.dropped_qos0 = 0
        self._last_warning_s = -1e9
        self._client = MqttClient(client_options(cfg))
        self._client.subscribe_on_connect(topic_filters(cfg))
        self._client.on_link = self._on_link
        self._client.on_subscribed = self._on_subscribed
        self._client.on_message = self._on_message

    def start(self) -> None:
        """Connect in the background (the client's network thread reconnects with backoff)."""
        self._client.start()

    def stop(self, end_session: bool = False) -> None:
        """Disconnect, keeping the session (unacknowledged messages are redelivered) unless
        ``end_session``: for a client id no later run will use (see ``Collector.stop``)."""
        self._client.stop(end_session)

    def unsubscribe(self, timeout_s: float = 5.0) -> bool:
        """Stop the flow: True once the broker confirmed; everything sent is then queued."""
        return self.connected.is_set() and self._client.unsubscribe_all(timeout_s)

    def failure(self) -> BaseException | None:
        """The exception a hook raised on the network thread, or None."""
        return self._client.failure()

    def ack(self, deliveries: list[Delivery]) -> None:
        """Acknowledge messages now stored; ones from an older connection are left alone."""
        gen = self._generation
        for d in deliveries:
            if d.qos > 0 and d.generation == gen:
                self._client.ack(d.mid, d.qos)

    def publish_acks(self, acks: dict[tuple[str, str], dict[str, int]]) -> None:
        """Publish each device's retained ``.../ack`` (QoS 1; paho queues it while offline)."""
        for (site, device_id), outboxes in acks.items():
            msg = AckMsg(v=1, type="ack", device_id=device_id, outboxes=outboxes, ts=time.time())
            where = topic(self._cfg.topic_prefix, site, device_id, "ack")
            if self._client.send(where, encode(msg), 1, True) < 0:
                self._warn(f"MQTT client refused the ack for {device_id}")

    # Client hooks (the network thread): count, queue, log; never block.
    def _on_link(self, change: LinkChange) -> None:
        if change.up:
            self._generation += 1
            self.connected.set()
            log.info("connected (session present: %s)", change.session_present)
            return
        self.connected.clear()
        self.subscribed.clear()
        if change.refused:
            self._warn(f"broker refused the connection: {change.reason}")
        elif not (change.taken_over or change.normal):  # the client logs a takeover itself
            self._warn(f"disconnected: {change.reason}")

    def _on_subscribed(self, failed: list[str]) -> None:
        if failed:
            self._warn(f"subscription refused: {failed}")
        else:
            log.info("subscribed to %d topic filters", len(topic_filters(self._cfg)))
            self.subscribed.set()

    def _on_message(self, msg: Inbound) -> None:
        if msg.qos == 0 and self._inbox.qsize() >= self._cfg.receive_maximum:
            self.dropped_qos0 += 1
            return
        payload, oversize = msg.payload, 0
        if len(payload) > self._cfg.max_payload_bytes:  # never queued, never decoded
            payload, oversize = payload[:REJECT_EXCERPT_BYTES], len(payload)
        rx = Received(msg.topic, payload, time.time(), msg.retained, oversize)
        self._inbox.put(Delivery(rx, msg.mid, msg.qos, self._generation))

    def _warn(self, text: str) -> None:
        """Log a warning at most every 30 s (reconnect loops repeat)."""
        now = time.monotonic()
        if now - self._last_warning_s > 30:
            self._last_warning_s = now
            log.warning("mqtt %s: %s", self._cfg.url, text)
