"""Publish stage, paho half: the only module importing paho-mqtt; its callbacks only hand off.

``MqttPublisher`` owns one paho client (``CallbackAPIVersion.VERSION2``, ``connect_async`` +
``loop_start``, retained Last Will ``offline``) and one drain thread (``drain.Drainer``).
``Subscriber`` is a minimal consumer for ``edge-counter tail``, the benchmark and tests.
"""

from __future__ import annotations

import logging
import queue
import random
import ssl
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge import wire
from edge.config import DeviceConfig, MqttConfig, OutboxConfig
from edge.errors import ConfigError, PublishError
from edge.outbox import Outbox
from edge.publish import StatusInfo
from edge.publish.drain import Ack, Drainer, DrainSettings, Link

log = logging.getLogger(__name__)

_SCHEMES = {"mqtt": (1883, False), "tcp": (1883, False), "mqtts": (8883, True), "ssl": (8883, True)}
_SESSION_EXPIRY_S = 7 * 86_400


def parse_url(url: str) -> tuple[str, int, bool]:
    """Split ``mqtt://host[:port]`` or ``mqtts://host[:port]`` into host, port and TLS flag.

    Raises:
        ConfigError: unknown scheme or no host.
    """
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES or not parts.hostname:
        raise ConfigError(
            f"mqtt.url: expected mqtt://host[:port] or mqtts://host[:port], got {url!r}"
        )
    default_port, tls = _SCHEMES[parts.scheme]
    return parts.hostname, parts.port or default_port, tls


def make_client(cfg: MqttConfig, client_id: str, clean: bool = True) -> paho.Client:
    """A paho client with protocol, credentials and TLS from ``cfg``; not yet connected.

    Args:
        cfg: broker settings; the password is read from ``password_file`` and never logged.
        client_id: MQTT client id (the device id for the publisher).
        clean: False for a persistent session (MQTT 3.1.1 ``clean_session=False``).

    Raises:
        ConfigError: bad URL, unreadable password file, or unusable TLS files.
    """
    v5 = cfg.protocol == "5"
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=paho.MQTTv5 if v5 else paho.MQTTv311,
        clean_session=None if v5 else clean,
    )
    _, _, tls = parse_url(cfg.url)
    if cfg.username is not None or cfg.password_file is not None:
        client.username_pw_set(cfg.username, _read_secret(cfg.password_file))
    if tls or cfg.ca_file or cfg.cert_file:
        try:
            client.tls_set(
                ca_certs=_opt(cfg.ca_file), certfile=_opt(cfg.cert_file), keyfile=_opt(cfg.key_file)
            )
        except (OSError, ssl.SSLError) as err:
            raise ConfigError(f"mqtt: cannot load TLS CA/cert/key files: {err}") from None
    client.max_inflight_messages_set(cfg.max_inflight + 10)
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


def _connect(client: paho.Client, cfg: MqttConfig, clean: bool = True) -> None:
    host, port, _ = parse_url(cfg.url)
    props = None
    if cfg.protocol == "5" and not clean:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = _SESSION_EXPIRY_S
    start: Any = True if clean else False  # noqa: SIM210 - paho's CleanStartOption type
    if cfg.protocol == "5":
        client.connect_async(host, port, cfg.keepalive_s, clean_start=start, properties=props)
    else:
        client.connect_async(host, port, cfg.keepalive_s)
    client.loop_start()


class _PahoTransport:
    """``drain.Transport`` over a paho client: adds the MQTT 5 message expiry."""

    def __init__(self, client: paho.Client, v5: bool) -> None:
        self._client = client
        self._v5 = v5

    def send(self, topic: str, payload: bytes, qos: int, retain: bool, expiry_s: int = 0) -> int:
        props = None
        if expiry_s and self._v5:
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            props.MessageExpiryInterval = expiry_s
        info = self._client.publish(topic, payload, qos=qos, retain=retain, properties=props)
        # NO_CONN: paho keeps a QoS 1 message and sends it after the reconnect.
        ok = info.rc in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN)
        return int(info.mid) if ok else -1


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
    ) -> None:
        """Build the client; nothing connects until ``start``.

        Args:
            mqtt: broker, credentials, TLS, in-flight bound, intervals.
            device: id and site (the topic path); the client id is the device id.
            outbox: an open ``Outbox`` shared with the appender (preferred), or the path of
                one, opened here without starting a new epoch.
            status_info: version/model/config hash for the ``online`` status and telemetry.

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
        self.client = make_client(mqtt, device.id)
        settings = DrainSettings(
            mqtt.topic_prefix, device.site, mqtt.max_inflight,
            telemetry_interval_s=mqtt.telemetry_interval_s,
        )  # fmt: skip
        transport = _PahoTransport(self.client, mqtt.protocol == "5")
        self.drainer = Drainer(self.outbox, transport, settings, status_info or StatusInfo("?"))
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._wire_client()

    def _wire_client(self) -> None:
        c, cfg = self.client, self.cfg
        c.will_set(self.drainer.topic("status"), self.drainer.status_payload("offline"), 1, True)
        jitter = random.uniform(0.75, 1.25)  # spreads a fleet's reconnects
        # paho accepts float delays although it annotates them as int.
        c.reconnect_delay_set(cfg.reconnect_min_s * jitter, cfg.reconnect_max_s * jitter)  # type: ignore[arg-type]
        c.on_connect = self._on_connect
        c.on_connect_fail = self._on_connect_fail
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish

    # paho callbacks: hand a Signal to the drain thread, nothing else.
    def _on_connect(self, _c: Any, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        self.drainer.signals.put(Link(up=True, reason=str(rc), refused=rc.is_failure))

    def _on_connect_fail(self, _c: Any, _u: Any) -> None:
        self.drainer.signals.put(Link(up=False, reason="cannot reach the broker"))

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        self.drainer.signals.put(Link(up=False, reason=str(rc)))

    def _on_publish(self, _c: Any, _u: Any, mid: int, rc: ReasonCode, _p: Any) -> None:
        self.drainer.signals.put(Ack(mid, ok=not rc.is_failure, reason=str(rc)))

    def publish_zone(self, msg: wire.ZoneMsg) -> None:
        """Queue a zone snapshot (thread-safe; the newest per zone wins; never journaled)."""
        self.drainer.zones.offer(msg)

    @property
    def connected(self) -> bool:
        """True while the broker has accepted the connection."""
        return self.drainer.connected.is_set()

    def start(self) -> None:
        """Start connecting in the background and start the drain thread; returns at once."""
        host, port, _ = parse_url(self.cfg.url)
        log.info("publishing to %s:%d as %s", host, port, self.outbox.device_id)
        self._thread = threading.Thread(target=self._run, name="mqtt-drain", daemon=True)
        self._thread.start()
        _connect(self.client, self.cfg)

    def _run(self) -> None:
        try:
            self.drainer.run(self._stopping)
        except Exception as err:  # the thread's top: recorded for the supervisor
            log.exception("MQTT drain thread failed; crossings stay in the outbox")
            self._failure = err

    def failure(self) -> BaseException | None:
        """The drain thread's exception once it died, else None (supervision)."""
        return self._failure

    def drain(self, timeout_s: float) -> int:
        """Wait until every journaled crossing is acknowledged, or ``timeout_s`` passes.

        Returns:
            Crossings still unacknowledged (0 when everything was delivered).

        Raises:
            PublishError: the broker refused the connection (bad credentials, not authorized);
                the crossings stay in the outbox.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = self.outbox.depth()
            if self.drainer.refused is not None:
                host, port, _ = parse_url(self.cfg.url)
                raise PublishError(
                    f"broker {host}:{port} refused the connection: {self.drainer.refused}; "
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
            info = self.client.publish(
                self.drainer.topic("status"), self.drainer.status_payload("stopped"), 1, True
            )
            info.wait_for_publish(timeout_s)
        self.client.disconnect()
        self.client.loop_stop()
        if self._own_outbox:
            self.outbox.close()


class Subscriber:
    """A small MQTT consumer for tools and tests: messages land in a queue.

    ``persistent=True`` keeps the session (and QoS 1 messages) across disconnects and broker
    restarts, under a fixed ``client_id``.
    """

    def __init__(
        self, cfg: MqttConfig, filters: Sequence[str], client_id: str | None = None,
        persistent: bool = False,
    ) -> None:  # fmt: skip
        """Build the client; ``start`` connects and subscribes at QoS 1."""
        self.cfg = cfg
        self.filters = list(filters)
        self.persistent = persistent
        cid = client_id or f"edge-sub-{uuid.uuid4().hex[:12]}"
        self.client = make_client(cfg, cid, clean=not persistent)
        self.client.reconnect_delay_set(1, 2)
        self.messages: queue.SimpleQueue[tuple[str, bytes, float]] = queue.SimpleQueue()
        self._links: queue.SimpleQueue[ReasonCode] = queue.SimpleQueue()
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda _c, _u, m: self.messages.put(
            (m.topic, bytes(m.payload), time.time())
        )

    def _on_connect(self, _c: Any, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        # The one callback that does more than hand off: re-subscribing must not wait for a
        # consumer thread, and ``subscribe`` only queues a packet.
        if not rc.is_failure:
            self.client.subscribe([(f, 1) for f in self.filters])
        self._links.put(rc)

    def start(self, timeout_s: float = 10.0) -> None:
        """Connect and subscribe; block until the broker accepts.

        Raises:
            PublishError: the broker refused or did not answer within ``timeout_s``.
        """
        _connect(self.client, self.cfg, clean=not self.persistent)
        try:
            rc = self._links.get(timeout=timeout_s)
        except queue.Empty:
            self.stop()
            raise PublishError(f"no answer from {self.cfg.url} within {timeout_s:g} s") from None
        if rc.is_failure:
            self.stop()
            raise PublishError(f"broker {self.cfg.url} refused the connection: {rc}")

    def get(self, timeout_s: float) -> tuple[str, bytes, float] | None:
        """Next ``(topic, payload, received_utc_s)``, or None after ``timeout_s``."""
        try:
            return self.messages.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def stop(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()
