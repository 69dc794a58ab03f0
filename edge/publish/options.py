"""Publish stage, client settings: broker URLs, ``ClientOptions`` and the values hooks receive.

Plain data, no paho: the device (``MqttConfig``) and the collector (``MqttSubscriberConfig``)
both describe their client with ``ClientOptions``; ``client.MqttClient`` builds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from edge.config import MqttConfig
from edge.errors import ConfigError

_SCHEMES = {"mqtt": (1883, False), "tcp": (1883, False), "mqtts": (8883, True), "ssl": (8883, True)}


def parse_url(url: str) -> tuple[str, int, bool]:
    """Split ``mqtt://host[:port]`` (or ``tcp://``) / ``mqtts://host[:port]`` (or ``ssl://``).

    Returns:
        Host, port (1883 plain, 8883 TLS by default) and whether TLS is on.

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


@dataclass(frozen=True)
class ClientOptions:
    """Everything needed to build and connect one client.

    Attributes:
        url: ``mqtt://host[:port]``, ``mqtts://host[:port]`` (``tcp://``, ``ssl://`` too).
        client_id: MQTT client id; a second client with the same id takes the session over.
        protocol: ``"5"`` or ``"3.1.1"``.
        username: optional user name.
        password_file: file holding the password (trailing newline dropped; never logged).
        ca_file: CA bundle for ``mqtts://`` (system CAs when absent).
        cert_file: client certificate (mutual TLS), with ``key_file``.
        key_file: client private key.
        keepalive_s: MQTT keepalive.
        reconnect_min_s: first reconnect delay; doubles up to ``reconnect_max_s``. Both are
            jittered ±25 % per client so a fleet does not reconnect in step.
        reconnect_max_s: longest reconnect delay.
        clean: False keeps the session (and its QoS 1 messages) across disconnects.
        session_expiry_s: MQTT 5 session expiry when ``clean`` is False.
        receive_maximum: MQTT 5: most unacknowledged QoS > 0 messages the broker sends us.
        manual_ack: acknowledge received messages with ``ack`` (after they are stored).
        max_inflight: most outgoing QoS > 0 messages awaiting their PUBACK (paho's window).
    """

    url: str
    client_id: str
    protocol: Literal["5", "3.1.1"] = "5"
    username: str | None = None
    password_file: Path | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    keepalive_s: int = 30
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0
    clean: bool = True
    session_expiry_s: int = 7 * 86_400
    receive_maximum: int | None = None
    manual_ack: bool = False
    max_inflight: int | None = None


@dataclass(frozen=True)
class LinkChange:
    """A CONNACK or a lost connection, as handed to ``on_link``.

    Attributes:
        up: the broker accepted the connection.
        reason: the reason code's text (``Success``, ``Not authorized``, ...).
        refused: a CONNACK with a failure code (``up`` is False then).
        session_present: the broker resumed a stored session.
        taken_over: the broker closed this session because another client used its id (or,
            for a broker that does not say so, very probably did: see ``takeover.py``).
        normal: a disconnect this client asked for (``stop``), not a failure.
        code: the reason code's value (0x95 ``Packet too large``, ...; 0 when none).
        max_packet_bytes: MQTT 5 CONNACK Maximum Packet Size, None when unlimited.
    """

    up: bool
    reason: str
    refused: bool = False
    session_present: bool = False
    taken_over: bool = False
    normal: bool = False
    code: int = 0
    max_packet_bytes: int | None = None


@dataclass(frozen=True)
class PubAck:
    """The broker's PUBACK (QoS 1) or the write of a QoS 0 message, as handed to ``on_ack``.

    ``code`` is the MQTT 5 reason code (0 under MQTT 3.1.1): ``ok`` is False for codes
    >= 0x80; 0x10 (*No matching subscribers*) is ``ok`` for the broker but nobody got it.
    """

    mid: int
    ok: bool
    reason: str
    code: int = 0


@dataclass(frozen=True)
class Inbound:
    """A received message, as handed to ``on_message``; ``ack`` it when ``manual_ack``."""

    topic: str
    payload: bytes
    qos: int
    mid: int
    retained: bool


def device_options(cfg: MqttConfig, client_id: str, clean: bool = True) -> ClientOptions:
    """``ClientOptions`` from the device's ``[mqtt]`` section.

    Args:
        cfg: broker, credentials, TLS, protocol, keepalive, backoff, in-flight bound.
        client_id: the device id for the publisher; anything unique for tools.
        clean: False for a persistent session (kept 7 days under MQTT 5).
    """
    return ClientOptions(
        url=cfg.url, client_id=client_id, protocol=cfg.protocol, username=cfg.username,
        password_file=cfg.password_file, ca_file=cfg.ca_file, cert_file=cfg.cert_file,
        key_file=cfg.key_file, keepalive_s=cfg.keepalive_s, reconnect_min_s=cfg.reconnect_min_s,
        reconnect_max_s=cfg.reconnect_max_s, clean=clean, max_inflight=cfg.max_inflight + 10,
    )  # fmt: skip
