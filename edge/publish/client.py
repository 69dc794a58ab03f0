"""Publish stage, paho half: the one module importing paho-mqtt, for the device and the collector.

``MqttClient`` wraps one paho client (``CallbackAPIVersion.VERSION2``, ``connect_async`` +
``loop_start``, reconnect backoff with jitter) and turns paho's callbacks into plain values
handed to the owner's hooks (``on_link``, ``on_ack``, ``on_message``). The hooks run on paho's
network thread: they must only hand off (set an event, queue a value). A hook that raises is
recorded, not re-raised, so the network thread survives; ``failure()`` reports it.
"""

from __future__ import annotations

import logging
import random
import ssl
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge.errors import ConfigError
from edge.publish.options import (
    ClientOptions,
    Inbound,
    LinkChange,
    PubAck,
    device_options,
    parse_url,
)
from edge.publish.takeover import TakeoverWatch

__all__ = [
    "ClientOptions", "Inbound", "LinkChange", "MqttClient", "PubAck", "device_options",
    "parse_url",
]  # fmt: skip

log = logging.getLogger(__name__)


class MqttClient:
    """One paho client, built from ``ClientOptions``; the owner sets hooks before ``start``.

    Example::

        client = MqttClient(ClientOptions("mqtt://127.0.0.1", "dev1"))
        client.on_link = links.put                # hand-off only
        client.start()                            # returns at once, reconnects by itself
        mid = client.send("a/b", b"{}", 1, False)
        client.stop()
    """

    def __init__(self, opts: ClientOptions) -> None:
        """Build the client (nothing connects until ``start``).

        Raises:
            ConfigError: bad URL, unreadable password file, or unusable TLS files.
        """
        self.opts = opts
        self.host, self.port, tls = parse_url(opts.url)
        self.on_link: Callable[[LinkChange], None] | None = None
        self.on_ack: Callable[[PubAck], None] | None = None
        self.on_message: Callable[[Inbound], None] | None = None
        self.on_subscribed: Callable[[list[str]], None] | None = None
        self._filters: list[str] = []
        self._failure: BaseException | None = None
        self._unsubscribed = threading.Event()
        self._takeover = TakeoverWatch(f"{self.host}:{self.port}", opts.client_id)
        self._paho = _build(opts, tls)
        self._paho.on_connect = self._on_connect
        self._paho.on_connect_fail = self._on_connect_fail
        self._paho.on_disconnect = self._on_disconnect
        self._paho.on_publish = self._on_publish
        self._paho.on_message = self._on_message
        self._paho.on_subscribe = self._on_subscribe
        self._paho.on_unsubscribe = lambda *_args: self._unsubscribed.set()

    @property
    def v5(self) -> bool:
        """True for MQTT 5."""
        return self.opts.protocol == "5"

    def will(self, topic: str, payload: bytes, qos: int = 1, retain: bool = True) -> None:
        """Set the Last Will (before ``start``)."""
        self._paho.will_set(topic, payload, qos, retain)

    def subscribe_on_connect(self, filters: Sequence[str]) -> None:
        """Subscribe to ``filters`` at QoS 1 on every accepted connection (before ``start``)."""
        self._filters = list(filters)

    def start(self) -> None:
        """Connect in the background; paho's network thread reconnects with backoff."""
        o = self.opts
        props = None
        if self.v5 and (not o.clean or o.receive_maximum is not None):
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            if not o.clean:
                props.SessionExpiryInterval = o.session_expiry_s
            if o.receive_maximum is not None:
                props.ReceiveMaximum = o.receive_maximum
        if self.v5:
            start: Any = o.clean  # paho's CleanStartOption type
            self._paho.connect_async(
                self.host, self.port, o.keepalive_s, clean_start=start, properties=props
            )
        else:
            self._paho.connect_async(self.host, self.port, o.keepalive_s)
        self._paho.loop_start()

    def stop(self, end_session: bool = False) -> None:
        """Disconnect cleanly and stop the network thread.

        Args:
            end_session: MQTT 5: have the broker drop the kept session now (session expiry 0),
                for a client id that will never connect again. Otherwise the session, its
                subscriptions and the messages queued for it stay for ``session_expiry_s``.
        """
        props = None
        if end_session and self.v5 and not self.opts.clean:
            props = Properties(PacketTypes.DISCONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = 0
        self._paho.disconnect(properties=props)
        self._paho.loop_stop()

    def unsubscribe_all(self, timeout_s: float) -> bool:
        """Unsubscribe from the ``subscribe_on_connect`` filters; wait for the UNSUBACK.

        Messages the broker sent before it arrive before the UNSUBACK; it may still send
        ones it held back for the session (beyond ``receive_maximum``) as acks free room.
        """
        self._filters, filters = [], self._filters
        self._unsubscribed.clear()
        rc, _mid = self._paho.unsubscribe(filters)
        return rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self._unsubscribed.wait(timeout_s)

    def send(self, topic: str, payload: bytes, qos: int, retain: bool, expiry_s: int = 0) -> int:
        """Queue a message (MQTT 5 message expiry ``expiry_s`` when > 0).

        Returns:
            Its message id, or -1 when the client refused it. While disconnected paho keeps
            QoS > 0 messages and sends them after the reconnect.
        """
        props = None
        if expiry_s and self.v5:
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            props.MessageExpiryInterval = expiry_s
        info = self._paho.publish(topic, payload, qos=qos, retain=retain, properties=props)
        ok = info.rc in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN)
        return int(info.mid) if ok else -1

    def send_and_wait(
        self, topic: str, payload: bytes, qos: int, retain: bool, timeout_s: float
    ) -> bool:
        """Publish and wait up to ``timeout_s`` for it to be sent (PUBACK for QoS 1)."""
        info = self._paho.publish(topic, payload, qos=qos, retain=retain)
        try:
            info.wait_for_publish(timeout_s)
        except (RuntimeError, ValueError):  # paho refused it (no connection, queue full)
            return False
        return info.is_published()

    def ack(self, mid: int, qos: int) -> None:
        """Acknowledge a received message (``manual_ack``), once it is stored."""
        self._paho.ack(mid, qos)

    def failure(self) -> BaseException | None:
        """The exception a hook raised on the network thread, or None."""
        return self._failure

    # paho callbacks: convert, hand to the owner's hook, never raise.
    def _hand(self, hook: Callable[[Any], None] | None, value: Any) -> None:
        if hook is None:
            return
        try:
            hook(value)
        except Exception as err:  # the network thread must survive; the owner polls failure()
            log.exception("MQTT client %s: a callback failed", self.opts.client_id)
            self._failure = self._failure or err

    def _on_connect(self, _c: Any, _u: Any, flags: Any, rc: ReasonCode, props: Any) -> None:
        if not rc.is_failure and self._filters:
            self._paho.subscribe([(f, 1) for f in self._filters])  # only queues a packet
        if not rc.is_failure:
            self._takeover.accepted()
        present = bool(getattr(flags, "session_present", False))
        limit = getattr(props, "MaximumPacketSize", None)
        change = LinkChange(
            not rc.is_failure, str(rc), rc.is_failure, present, code=rc.value,
            max_packet_bytes=None if limit is None else int(limit),
        )  # fmt: skip
        self._hand(self.on_link, change)

    def _on_connect_fail(self, _c: Any, _u: Any) -> None:
        self._hand(self.on_link, LinkChange(False, "cannot reach the broker"))

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        normal = not rc.is_failure
        taken = self._takeover.lost(rc.value, requested=normal)
        change = LinkChange(False, str(rc), taken_over=taken, normal=normal, code=rc.value)
        self._hand(self.on_link, change)

    def _on_publish(self, _c: Any, _u: Any, mid: int, rc: ReasonCode, _p: Any) -> None:
        self._hand(self.on_ack, PubAck(mid, not rc.is_failure, str(rc), rc.value))

    def _on_message(self, _c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:  # brokers check topics are UTF-8; the reader rejects this
            topic = bytes(msg._topic).decode("utf-8", "replace")
        rx = Inbound(topic, bytes(msg.payload), msg.qos, msg.mid, bool(msg.retain))
        self._hand(self.on_message, rx)

    def _on_subscribe(
        self, _c: Any, _u: Any, _mid: int, reasons: list[ReasonCode], _p: Any
    ) -> None:
        self._hand(self.on_subscribed, [str(r) for r in reasons if r.is_failure])


def _build(opts: ClientOptions, tls: bool) -> paho.Client:
    v5 = opts.protocol == "5"
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=opts.client_id,
        protocol=paho.MQTTv5 if v5 else paho.MQTTv311,
        clean_session=None if v5 else opts.clean,
        manual_ack=opts.manual_ack,
    )
    if opts.username is not None or opts.password_file is not None:
        client.username_pw_set(opts.username, _read_secret(opts.password_file))
    if tls or opts.ca_file or opts.cert_file:
        try:
            client.tls_set(
                ca_certs=_opt(opts.ca_file), certfile=_opt(opts.cert_file),
                keyfile=_opt(opts.key_file),
            )  # fmt: skip
        except (OSError, ssl.SSLError) as err:
            raise ConfigError(f"mqtt: cannot load TLS CA/cert/key files: {err}") from None
    if opts.max_inflight is not None:
        client.max_inflight_messages_set(opts.max_inflight)
    jitter = random.uniform(0.75, 1.25)
    # paho accepts float delays although it annotates them as int.
    client.reconnect_delay_set(opts.reconnect_min_s * jitter, opts.reconnect_max_s * jitter)  # type: ignore[arg-type]
    return client


def _opt(p: Path | None) -> str | None:
    return None if p is None else str(p)


def _read_secret(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as err:
        raise ConfigError(f"mqtt.password_file: cannot read {path}: {err.strerror}") from None
