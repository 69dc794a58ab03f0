"""Home Assistant discovery configs: the documented keys, templates rendered with Jinja2 against
every retained state a device publishes, and removed lines cleared after a restart."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from edge import wire
from edge.app import announce
from edge.config import AppConfig, parse_config
from edge.publish.homeassistant import Node, discovery_messages, sync_discovery

#: Home Assistant renders templates in an immutable sandbox; strict: nothing silently empty.
JINJA = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
#: Keys every config must carry (docs/mqtt.md, "Home Assistant discovery").
REQUIRED = {
    "name", "unique_id", "default_entity_id", "state_topic", "value_template", "availability",
    "device", "origin",
}  # fmt: skip
NODE = Node("edge", "post-7", "post7.cam1", "0.1.0", "yolox-nano")


def config(lines: list[dict[str, Any]], enabled: bool = True, **device: Any) -> AppConfig:
    return parse_config({
        "device": {"id": "post7.cam1", "site": "post-7", **device},
        "lines": lines,
        "zones": [{"name": "booth", "polygon": [[0, 0], [50, 0], [50, 50]]}],
        "homeassistant": {"enabled": enabled, "support_url": "https://example.org/edge"},
    })  # fmt: skip


ROAD = {
    "name": "road", "a": [0, 10], "b": [100, 10], "in_name": "to Georgia",
    "out_name": "to Russia", "classes": ["car", "bus", "truck", "motorcycle", "bicycle"],
}  # fmt: skip
WALK = {"name": "walkway", "a": [0, 20], "b": [100, 20], "classes": ["person"]}


def render(template: str, payload: dict[str, Any]) -> str:
    return JINJA.from_string(template).render(value_json=payload, value=json.dumps(payload))


def state(lines: dict[str, Any]) -> dict[str, Any]:
    msg = wire.StateMsg.model_validate(
        {"v": 1, "type": "state", "device_id": "post7.cam1", "epoch": 1, "ts": 1.0, "lines": lines}
    )
    return json.loads(wire.encode(msg))


def configs(cfg: AppConfig) -> dict[str, dict[str, Any]]:
    return {t: json.loads(p) for t, p in discovery_messages(NODE, announce(cfg)).items()}


def test_every_config_has_the_documented_keys_and_names_its_directions() -> None:
    got = configs(config([ROAD, WALK]))
    # Per line and direction: a total and one sensor per counted class; per zone: 2.
    assert len(got) == 2 * (1 + 5) + 2 * (1 + 1) + 2
    for topic, body in got.items():
        assert re.fullmatch(r"homeassistant/sensor/[A-Za-z0-9_-]+/[A-Za-z0-9_-]+/config", topic)
        assert body.keys() >= REQUIRED, topic
        assert "object_id" not in body  # deprecated in Home Assistant 2025.10
        assert re.fullmatch(r"sensor\.[a-z0-9_]+", body["default_entity_id"])
        assert body["origin"] == {
            "name": "edge-counter", "sw_version": "0.1.0", "support_url": "https://example.org/edge"
        }  # fmt: skip
        assert body["device"]["identifiers"] == ["edge-counter-post7.cam1"]
        assert {"name", "model", "sw_version", "manufacturer"} <= body["device"].keys()
        assert body["availability"][0]["topic"] == "edge/v1/post-7/post7.cam1/status"
    assert len({b["unique_id"] for b in got.values()}) == len(got)
    names = {b["name"] for b in got.values()}
    assert {"road to Georgia", "road to Georgia cars", "road to Russia buses"} <= names
    assert {"walkway in people", "walkway out", "booth queue", "booth wait"} <= names
    totals = [b for b in got.values() if b["state_topic"].endswith("/state")]
    assert {b["state_class"] for b in totals} == {"total_increasing"}


def test_availability_maps_the_status() -> None:
    body = next(iter(configs(config([ROAD])).values()))
    av = body["availability"][0]
    for state_, expected in [("online", "online"), ("degraded", "online"),
                             ("offline", "offline"), ("stopped", "offline")]:  # fmt: skip
        rendered = render(av["value_template"], {"state": state_})
        assert rendered == expected
        assert rendered == (av["payload_available"] if expected == "online" else "offline")


def values(cfg: AppConfig, payload: dict[str, Any]) -> dict[str, str]:
    """Each state sensor's rendered value, by its name."""
    return {
        b["name"]: render(b["value_template"], payload)
        for b in configs(cfg).values()
        if b["state_topic"].endswith("/state")
    }


def test_templates_render_on_a_fresh_device_after_crossings_and_after_a_rename() -> None:
    cfg = config([ROAD, WALK])
    # Fresh: a device that never counted (no lines at all in older states, empty ones in ours).
    for fresh in (state({}), state({"road": {}, "walkway": {}})):
        got = values(cfg, fresh)
        assert set(got.values()) == {"0"}, got
    after = state({"road": {"in": {"car": 5, "bus": 2}, "out": {"truck": 1}},
                   "walkway": {"out": {"person": 4}}})  # fmt: skip
    got = values(cfg, after)
    assert got["road to Georgia"] == "7" and got["road to Georgia cars"] == "5"
    assert got["road to Russia trucks"] == "1" and got["road to Russia cars"] == "0"
    assert got["walkway out people"] == "4" and got["walkway in"] == "0"
    # The line renamed (and its directions): the old totals stay under the old name.
    renamed = config([{**ROAD, "name": "lane1", "in_name": "into Georgia"}, WALK])
    got = values(renamed, after)
    assert got["lane1 into Georgia"] == "0" and got["walkway out"] == "4"


def test_zone_templates_render_with_and_without_a_wait() -> None:
    got = configs(config([ROAD]))
    wait = next(b for b in got.values() if b["name"] == "booth wait")
    queue = next(b for b in got.values() if b["name"] == "booth queue")
    base = {"v": 1, "type": "zones", "device_id": "post7.cam1", "zone": "booth", "ts": 1.0,
            "occupancy": {"car": 3}, "queue_length": 2}  # fmt: skip
    for snap, expected in [({**base, "wait_s": 84.0, "wait_method": "measured",
                             "window_s": 300.0}, "84.0"), (base, "None")]:  # fmt: skip
        payload = json.loads(wire.encode(wire.decode(json.dumps(snap))))
        assert render(wait["value_template"], payload) == expected
        assert render(queue["value_template"], payload) == "2"
        json.loads(render(wait["json_attributes_template"], payload))


class Sent:
    """A transport that keeps what it was given (the drainer's ``Transport``)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes, int, bool]] = []

    def send(self, topic: str, payload: bytes, qos: int, retain: bool, expiry_s: int = 0) -> int:
        self.messages.append((topic, payload, qos, retain))
        return len(self.messages)


def test_a_removed_line_is_cleared_after_a_restart_and_all_once_disabled(tmp_path: Path) -> None:
    first, second, off = Sent(), Sent(), Sent()
    cfg = config([ROAD, WALK], state_dir=str(tmp_path))
    assert sync_discovery(first, NODE, announce(cfg)) == 0
    assert all(qos == 1 and retain and p for _, p, qos, retain in first.messages)
    published = {t for t, *_ in first.messages}
    # Restart with the walkway removed: its 4 configs are cleared (empty retained payload).
    cfg = config([ROAD], state_dir=str(tmp_path))
    assert sync_discovery(second, NODE, announce(cfg)) == 4
    cleared = {t for t, p, *_ in second.messages if p == b""}
    assert cleared == {t for t in published if "/walkway_" in t}
    # Disabled: everything published before is cleared, nothing new.
    cfg = config([ROAD], enabled=False, state_dir=str(tmp_path))
    assert sync_discovery(off, NODE, announce(cfg)) == 12 + 2  # road and the zone
    assert {p for _, p, *_ in off.messages} == {b""}
    assert json.loads((tmp_path / "homeassistant.json").read_text()) == {"topics": []}
