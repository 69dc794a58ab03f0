"""Home Assistant discovery payloads for totals, queue length and wait."""

from __future__ import annotations

import json

from edge.config import parse_config
from edge.tools.homeassistant import discovery_messages


def test_discovery_configs_for_lines_and_zones() -> None:
    cfg = parse_config({
        "device": {"id": "post7-cam1", "site": "post-7"},
        "mqtt": {"topic_prefix": "edge"},
        "lines": [{"name": "gate", "a": [0, 10], "b": [100, 10]}],
        "zones": [{"name": "booth", "polygon": [[0, 0], [50, 0], [50, 50]], "exit_line": "gate"}],
    })  # fmt: skip
    msgs = dict(discovery_messages(cfg))
    assert sorted(msgs) == [
        f"homeassistant/sensor/post7-cam1/{oid}/config"
        for oid in ("booth_queue", "booth_wait", "gate_in_total", "gate_out_total")
    ]
    total = json.loads(msgs["homeassistant/sensor/post7-cam1/gate_in_total/config"])
    assert total["state_class"] == "total_increasing"
    assert total["state_topic"] == "edge/v1/post-7/post7-cam1/state"
    assert total["availability_topic"] == "edge/v1/post-7/post7-cam1/status"
    wait = json.loads(msgs["homeassistant/sensor/post7-cam1/booth_wait/config"])
    queue = json.loads(msgs["homeassistant/sensor/post7-cam1/booth_queue/config"])
    assert wait["state_class"] == queue["state_class"] == "measurement"
    assert wait["state_topic"] == "edge/v1/post-7/post7-cam1/zones/booth"
    assert wait["device_class"] == "duration" and wait["unit_of_measurement"] == "s"
    assert len({json.dumps(json.loads(m)["device"]) for m in msgs.values()}) == 1
    assert len({json.loads(m)["unique_id"] for m in msgs.values()}) == 4

    # Templates read the fields the wire format publishes (Jinja2 is not a dependency here).
    assert total["value_template"] == (
        "{{ (value_json.lines['gate']['in'] | default({})).values() | sum }}"
    )
    assert queue["value_template"] == "{{ value_json.queue_length }}"
    assert wait["value_template"] == "{{ value_json.wait_s | default(None) }}"
