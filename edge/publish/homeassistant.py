"""Publish stage, Home Assistant: MQTT discovery configs for the device's counts and queues.

With ``[homeassistant] enabled = true`` the device publishes, on every connect, one retained
config per sensor under ``<discovery_prefix>/sensor/<node>/<object>/config`` (Home Assistant's
single-component discovery schema: ``unique_id``, ``default_entity_id``, an ``origin`` and a
``device`` block, ``availability`` from the retained status). The sensors read the topics the
device publishes anyway (``edge/wire``), so nothing else changes:

* per line and direction name: the total and one sensor per class the line counts, from the
  retained ``state`` (``state_class: total_increasing``: the outbox keeps totals across
  restarts). Templates use ``.get(..., 0)``, so they render on a fresh device too;
* per zone: ``queue_length`` and ``wait_s`` from ``zones/<zone>`` (``measurement``).

The topics published are recorded in a file (``HomeAssistantSettings.record``): on the next
connect, configs of lines and zones that are gone (or all of them, once disabled) are cleared
with an empty retained payload, which is how Home Assistant removes an entity.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge import wire
from edge.publish import Announce, LineInfo
from edge.publish.signals import Transport

log = logging.getLogger(__name__)

#: Plural of each class in sensor names ("road to Georgia cars").
PLURAL = {
    "person": "people", "bicycle": "bicycles", "car": "cars", "motorcycle": "motorcycles",
    "bus": "buses", "truck": "trucks",
}  # fmt: skip
#: Home Assistant's ``availability`` template: ``degraded`` still counts, so it is available.
AVAILABILITY_TEMPLATE = (
    "{{ 'online' if value_json.state in ['online', 'degraded'] else 'offline' }}"
)
_ORIGIN_NAME = "edge-counter"


@dataclass(frozen=True)
class Node:
    """The device as discovery describes it: its topics' prefix and site, id and software."""

    prefix: str
    site: str
    device_id: str
    version: str
    model: str | None = None


def _topic_id(text: str) -> str:
    """A discovery topic segment: only ``[a-zA-Z0-9_-]`` (our names may hold dots)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


def _entity_id(text: str) -> str:
    """An entity id's object part: lowercase letters, digits and underscores."""
    return re.sub(r"_+", "_", re.sub(r"[^a-z0-9_]", "_", text.lower())).strip("_")


def _line_sensors(ln: LineInfo, state_topic: str) -> dict[str, dict[str, Any]]:
    """The total and per-class sensors of both directions of one line."""
    out: dict[str, dict[str, Any]] = {}
    for direction, label in (("in", ln.in_name), ("out", ln.out_name)):
        counts = f"value_json.lines.get('{ln.name}', {{}}).get('{direction}', {{}})"
        base = {"state_topic": state_topic, "state_class": "total_increasing",
                "unit_of_measurement": "crossings", "icon": "mdi:counter"}  # fmt: skip
        out[f"{ln.name}_{direction}_total"] = {
            **base, "name": f"{ln.name} {label}",
            "value_template": f"{{{{ {counts}.values() | sum }}}}",
        }  # fmt: skip
        for cls in ln.classes:
            out[f"{ln.name}_{direction}_{cls}"] = {
                **base, "name": f"{ln.name} {label} {PLURAL.get(cls, cls)}",
                "value_template": f"{{{{ {counts}.get('{cls}', 0) }}}}",
            }  # fmt: skip
    return out


def _zone_sensors(zone: str, topic: str) -> dict[str, dict[str, Any]]:
    """Queue length and wait of one zone (from its snapshots, not retained)."""
    return {
        f"{zone}_queue": {
            "name": f"{zone} queue", "state_topic": topic,
            "value_template": "{{ value_json.get('queue_length', 0) }}",
            "state_class": "measurement", "unit_of_measurement": "vehicles",
        },
        f"{zone}_wait": {
            "name": f"{zone} wait", "state_topic": topic,
            # "None" is Home Assistant's word for an unknown state (no estimate yet).
            "value_template": "{{ value_json.get('wait_s', None) }}",
            "json_attributes_topic": topic,
            "json_attributes_template": (
                "{{ {'method': value_json.get('wait_method'), "
                "'window_s': value_json.get('window_s')} | tojson }}"
            ),
            "state_class": "measurement", "device_class": "duration",
            "unit_of_measurement": "s",
        },
    }  # fmt: skip


def _shared(node: Node, announce: Announce) -> dict[str, Any]:
    """The blocks every config repeats: device, origin and availability."""
    status = wire.topic(node.prefix, node.site, node.device_id, "status")
    origin = {"name": _ORIGIN_NAME, "sw_version": node.version}
    if announce.homeassistant.support_url:
        origin["support_url"] = announce.homeassistant.support_url
    model = "edge-counter" + (f" ({node.model})" if node.model else "")
    device = {
        "identifiers": [f"edge-counter-{node.device_id}"],
        "name": f"Edge counter {node.device_id}",
        "manufacturer": "edge-counter",
        "model": model,
        "sw_version": node.version,
        "suggested_area": node.site,
    }
    availability = {
        "topic": status,
        "value_template": AVAILABILITY_TEMPLATE,
        "payload_available": "online",
        "payload_not_available": "offline",
    }
    return {"device": device, "origin": origin, "availability": [availability]}


def discovery_messages(node: Node, announce: Announce) -> dict[str, bytes]:
    """Every retained discovery config of the device: topic -> JSON payload.

    Unique ids are ``<device>_<line>_<in|out>_<class|total>`` (stable when a direction is
    renamed: Home Assistant keeps the entity and updates its name).
    """
    state = wire.topic(node.prefix, node.site, node.device_id, "state")
    sensors: dict[str, dict[str, Any]] = {}
    for ln in announce.lines:
        sensors.update(_line_sensors(ln, state))
    for zone in announce.zones:
        sensors.update(
            _zone_sensors(zone, wire.topic(node.prefix, node.site, node.device_id, "zones", zone))
        )
    shared = _shared(node, announce)
    node_id, prefix = _topic_id(node.device_id), announce.homeassistant.discovery_prefix
    out: dict[str, bytes] = {}
    for key, body in sorted(sensors.items()):
        unique = f"{node.device_id}_{key}"
        config = {
            **body, **shared, "unique_id": unique,
            "default_entity_id": f"sensor.{_entity_id(unique)}",
        }  # fmt: skip
        topic = f"{prefix}/sensor/{node_id}/{_topic_id(key)}/config"
        out[topic] = json.dumps(config, sort_keys=True).encode()
    return out


def sync_discovery(transport: Transport, node: Node, announce: Announce) -> int:
    """Publish the discovery configs (retained) and clear those published before and gone.

    Returns:
        How many configs were cleared.
    """
    ha = announce.homeassistant
    current = discovery_messages(node, announce) if ha.enabled else {}
    previous = _read_record(ha.record)
    gone = sorted(previous - current.keys())
    for topic in gone:
        transport.send(topic, b"", 1, True)
    for topic, payload in current.items():
        transport.send(topic, payload, 1, True)
    if gone:
        log.info("Home Assistant: cleared %d discovery configs no longer configured", len(gone))
    if ha.record is not None and set(current) != previous:
        _write_record(ha.record, sorted(current))
    return len(gone)


def _read_record(path: Path | None) -> set[str]:
    if path is None or not path.exists():
        return set()
    try:
        topics = json.loads(path.read_text(encoding="utf-8"))["topics"]
        return {t for t in topics if isinstance(t, str) and t}
    except (OSError, ValueError, KeyError, TypeError) as err:
        log.warning("%s: unreadable record of Home Assistant configs, ignored: %s", path, err)
        return set()


def _write_record(path: Path, topics: list[str]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps({"topics": topics}, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as err:  # the configs are published; only a later clean-up is at risk
        log.error("%s: cannot record the Home Assistant configs: %s", path, err)
