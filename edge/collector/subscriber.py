"""Collector MQTT stage: the only collector module that imports paho.

paho callbacks only hand off: ``on_message`` queues a ``Delivery`` and returns. Messages are
acknowledged (PUBACK, ``manual_ack``) by the writer after their transaction commits, so a
collector killed between receipt and commit gets them again from its persistent session.

Backpressure: the broker sends at most ``receive_maximum`` unacknowledged QoS 1 messages,
which bounds the queue; QoS 0 telemetry beyond that bound is dropped and counted.
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from edge.collector.config import MqttSubscriberConfig
from edge.collector.ingest import Received
from edge.errors import ConfigError
from edge.wire import subscription

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


class MqttSubscriber:
    """A persistent MQTT v5 session (``clean_start`` False) feeding ``inbox``."""

    def __init__(self, cfg: MqttSubscriberConfig, inbox: queue.Queue[Delivery]) -> None:
        self._cfg = cfg
        self._inbox = inbox
        self._generation = 0
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.dropped_qos0 = 0
        self._last_warning_s = 0.0
        self._client = self._build_client()

    def _build_client(self) -> mqtt.Client:
        url = urlsplit(self._cfg.url)
        if url.scheme not in ("mqtt", "mqtts") or not url.hostname:
            raise ConfigError(f"mqtt.url {self._cfg.url!r}: expected mqtt[s]://HOST[:PORT]")
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self._cfg.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if url.scheme == "mqtts":
            client.tls_set(ca_certs=str(self._cfg.ca_file) if self._cfg.ca_file else None)
            client.tls_version = ssl.PROTOCOL_TLS_CLIENT  # type: ignore[attr-defined]
        if self._cfg.username:
            password = None
            if self._cfg.password_file:
                password = self._cfg.password_file.read_text(encoding="utf-8").strip()
            client.username_pw_set(self._cfg.username, password)
        client.reconnect_delay_set(1, 30)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        return client

    def start(self) -> None:
        """Connect in the background (paho's loop thread reconnects with backoff)."""
        url = urlsplit(self._cfg.url)
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self._cfg.session_expiry_s
        props.ReceiveMaximum = self._cfg.receive_maximum
        port = url.port or (8883 if url.scheme == "mqtts" else 1883)
        self._client.connect_async(
            url.hostname or "", port, self._cfg.keepalive_s, clean_start=False, properties=props
        )
        self._client.loop_start()

    def stop(self) -> None:
        """Disconnect, keeping the session (unacknowledged messages are redelivered)."""
        self._client.disconnect()
        self._client.loop_stop()

    def ack(self, deliveries: list[Delivery]) -> None:
        """Acknowledge messages now stored; ones from an older connection are left alone."""
        gen = self._generation
        for d in deliveries:
            if d.qos > 0 and d.generation == gen:
                self._client.ack(d.mid, d.qos)

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        props: Properties | None,
    ) -> None:
        if reason.is_failure:
            self._warn(f"broker refused the connection: {reason}")
            return
        self._generation += 1
        self.connected.set()
        log.info("connected (session present: %s)", flags.session_present)
        opts = SubscribeOptions(qos=1)
        client.subscribe([(f, opts) for f in topic_filters(self._cfg)])

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        props: Properties | None,
    ) -> None:
        failed = [str(r) for r in reasons if r.is_failure]
        if failed:
            self._warn(f"subscription refused: {failed}")
        else:
            log.info("subscribed to %d topic filters", len(reasons))
            self.subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.qos == 0 and self._inbox.qsize() >= self._cfg.receive_maximum:
            self.dropped_qos0 += 1
            return
        try:
            topic = msg.topic
        except UnicodeDecodeError:  # brokers check topics are UTF-8; ingest rejects this one
            topic = bytes(msg._topic).decode("utf-8", "replace")
        rx = Received(topic, bytes(msg.payload), time.time(), bool(msg.retain))
        self._inbox.put(Delivery(rx, msg.mid, msg.qos, self._generation))

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        props: Properties | None,
    ) -> None:
        self.connected.clear()
        self.subscribed.clear()
        if reason.is_failure:
            self._warn(f"disconnected: {reason}")

    def _warn(self, text: str) -> None:
        """Log a warning at most every 30 s (reconnect loops repeat)."""
        now = time.monotonic()
        if now - self._last_warning_s > 30:
            self._last_warning_s = now
            log.warning("mqtt %s: %s", self._cfg.url, text)
