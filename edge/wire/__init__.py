"""Wire format: MQTT topics and versioned JSON payloads, shared by the agent and the collector.

Topic layout (``docs/mqtt.md`` has examples)::

    <prefix>/v1/<site>/<device>/status          retained, QoS 1; Last Will "offline"
    <prefix>/v1/<site>/<device>/events/<line>   QoS 1, batches of crossings, never retained
    <prefix>/v1/<site>/<device>/counts/<line>   QoS 1, closed interval totals aligned to UTC
    <prefix>/v1/<site>/<device>/state           retained, cumulative totals per line
    <prefix>/v1/<site>/<device>/telemetry       QoS 0 with message expiry
    <prefix>/v1/<site>/<device>/zones/<zone>    QoS 1, periodic queue occupancy and wait snapshot
    <prefix>/v1/<site>/<device>/ack             retained, QoS 1, from the collector: seqs stored

Every payload is a JSON object with ``"v": 1`` and ``"type"``; decoding checks both, the
topic, and every field, and raises ``WireError`` naming what is wrong.
"""

from edge.wire.messages import (
    LEGACY_OUTBOX_ID,
    MAX_INT,
    MAX_TS,
    VERSION,
    AckMsg,
    ClassCounts,
    CountsMsg,
    DirectionCounts,
    Event,
    EventsMsg,
    Label,
    LineLabels,
    Message,
    Name,
    OutboxId,
    StateMsg,
    StatusMsg,
    TelemetryMsg,
    UtcSeconds,
    ZoneMsg,
    decode,
    decode_for_topic,
    encode,
    utc_iso,
)
from edge.wire.topics import (
    KINDS,
    KINDS_WITH_NAME,
    NAME_PATTERN,
    TOPIC_VERSION,
    Topic,
    parse_topic,
    subscription,
    topic,
)

__all__ = [
    "KINDS",
    "KINDS_WITH_NAME",
    "LEGACY_OUTBOX_ID",
    "MAX_INT",
    "MAX_TS",
    "NAME_PATTERN",
    "TOPIC_VERSION",
    "VERSION",
    "AckMsg",
    "ClassCounts",
    "CountsMsg",
    "DirectionCounts",
    "Event",
    "EventsMsg",
    "Label",
    "LineLabels",
    "Message",
    "Name",
    "OutboxId",
    "StateMsg",
    "StatusMsg",
    "TelemetryMsg",
    "Topic",
    "UtcSeconds",
    "ZoneMsg",
    "decode",
    "decode_for_topic",
    "encode",
    "parse_topic",
    "subscription",
    "topic",
    "utc_iso",
]
