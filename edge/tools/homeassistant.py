"""Home Assistant MQTT discovery: config payloads for a device's totals, queue length and wait.

``discovery_messages(cfg)`` returns ``(topic, payload)`` pairs to publish **retained** under
``<discovery_prefix>/sensor/<node>/<object>/config``. The sensors read the topics the device
already publishes (``wire.py``), so nothing else changes on the device:

* per line and direction: crossings since the journal began, from the retained ``state``
  (``state_class: total_increasing``: the outbox keeps totals across restarts);
* per zone: ``queue_length`` and ``wait_s`` from ``zones/<zone>`` (``state_class:
  measurement``; a wait of ``None`` is shown as unknown, e.g. a stalled exit).

Availability follows the retained ``status`` topic (``online``/``offline``/``stopped``).
"""

from __future__ import annotations

import json
from typing import Any

from edge import wire
from edge.config import AppConfig


def _device(cfg: AppConfig) -> dict[str, Any]:
    return {
        "identifiers": [f"edge-counter-{cfg.device.id}"],
        "name": f"Edge counter {cfg.device.id}",
        "model": "edge-counter",
        "suggested_area": cfg.device.site,
    }


def _sensor(cfg: AppConfig, object_id: str, body: dict[str, Any]) -> dict[str, Any]:
    prefix = cfg.mqtt.topic_prefix if cfg.mqtt else "edge"
    status = wire.topic(prefix, cfg.device.site, cfg.device.id, "status")
    return {
        "unique_id": f"{cfg.device.id}_{object_id}",
        "object_id": f"{cfg.device.id}_{object_id}",
        "availability_topic": status,
        "availability_template": "{{ 'online' if value_json.state == 'online' else 'offline' }}",
        "device": _device(cfg),
        **body,
    }


def discovery_messages(
    cfg: AppConfig, discovery_prefix: str = "homeassistant"
) -> list[tuple[str, bytes]]:
    """Retained discovery configs for every line direction total and every zone's figures."""
    prefix = cfg.mqtt.topic_prefix if cfg.mqtt else "edge"
    dev = cfg.device
    state = wire.topic(prefix, dev.site, dev.id, "state")
    configs: dict[str, dict[str, Any]] = {}
    for ln in cfg.lines:
        for direction in ("in", "out"):
            oid = f"{ln.name}_{direction}_total".replace(".", "_")
            configs[oid] = _sensor(cfg, oid, {
                "name": f"{ln.name} {direction}", "state_topic": state,
                "value_template": (
                    f"{{{{ (value_json.lines['{ln.name}']['{direction}'] | default({{}}))"
                    ".values() | sum }}"
                ),
                "state_class": "total_increasing", "unit_of_measurement": "crossings",
            })  # fmt: skip
    for z in cfg.zones:
        topic = wire.topic(prefix, dev.site, dev.id, "zones", z.name)
        base = z.name.replace(".", "_")
        configs[f"{base}_queue"] = _sensor(cfg, f"{base}_queue", {
            "name": f"{z.name} queue", "state_topic": topic,
            "value_template": "{{ value_json.queue_length }}",
            "state_class": "measurement", "unit_of_measurement": "vehicles",
        })  # fmt: skip
        configs[f"{base}_wait"] = _sensor(cfg, f"{base}_wait", {
            "name": f"{z.name} wait", "state_topic": topic,
            "value_template": "{{ value_json.wait_s | default(None) }}",
            "json_attributes_topic": topic,
            "json_attributes_template": (
                "{{ {'method': value_json.wait_method, 'window_s': value_json.window_s}"
                " | tojson }}"
            ),
            "state_class": "measurement", "device_class": "duration",
            "unit_of_measurement": "s",
        })  # fmt: skip
    node = dev.id.replace(".", "_")
    return [
        (
            f"{discovery_prefix}/sensor/{node}/{oid}/config",
            json.dumps(body, sort_keys=True).encode(),
        )
        for oid, body in sorted(configs.items())
    ]
