"""Publish stage, hand-over values: what client hooks put on the drain thread's queue."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from edge.publish import Announce


class Transport(Protocol):
    """What the drainer needs from an MQTT client."""

    def send(self, topic: str, payload: bytes, qos: int, retain: bool, expiry_s: int = 0) -> int:
        """Queue a message; return its message id, or -1 if the client refused it."""


@dataclass(frozen=True)
class Ack:
    """PUBACK (or QoS 0 write) for ``mid``; ``ok`` is False for a failure reason code.

    ``code`` is the MQTT 5 reason code (0 under 3.1.1); see ``delivery.verdict``.
    """

    mid: int
    ok: bool
    reason: str
    code: int = 0


@dataclass(frozen=True)
class Link:
    """CONNACK or loss of connection; ``up`` with ``refused`` set means a refused CONNACK.

    ``code`` is the reason code; ``max_packet_bytes`` the CONNACK Maximum Packet Size.
    """

    up: bool
    reason: str
    refused: bool = False
    code: int = 0
    max_packet_bytes: int | None = None


@dataclass(frozen=True)
class Received:
    """A message on the device's own ``ack`` topic (the collector's acknowledgement)."""

    topic: str
    payload: bytes


Signal = Ack | Link | Received


@dataclass(frozen=True)
class DrainSettings:
    """Knobs of the drainer; see ``MqttConfig`` for their meaning."""

    prefix: str
    site: str
    max_inflight: int = 20
    batch_events: int = 100
    telemetry_interval_s: float = 30.0
    delivery: Literal["collector", "broker"] = "collector"
    ack_timeout_s: float = 30.0
    retry_max_s: float = 300.0
    announce: Announce = field(default_factory=Announce)
    status_hold_s: float = 0.0
