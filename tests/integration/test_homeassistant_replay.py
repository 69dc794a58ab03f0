"""Home Assistant discovery for real: a subscriber on ``homeassistant/#`` during a real replay.

The same replay's payloads are validated against the JSON Schema files (``docs/schema/``).

Real Mosquitto, the real ``edge-counter replay`` on a real clip with the real model. Three
moments of one device (one state dir), as Home Assistant would see them:

1. fresh: the device connects before it ever counted (the publisher the app builds, on an
   empty outbox): configs published, every template renders 0 on its retained state;
2. a replay of the Hanoi junction clip with ``[homeassistant] enabled``: every sensor renders
   exactly what the replay printed, per line, direction and class; its health is made
   degraded on purpose (``min_processed_fps`` out of reach), so the status says ``degraded``
   (``low_fps``) while it runs, which Home Assistant still counts as available;
3. restarted with the line renamed: the old line's configs are cleared (empty retained
   payload), the new ones render on the retained state.

Every config seen is checked against the documented keys; every template is rendered with
Jinja2 (``value_json`` = the parsed payload, as Home Assistant does).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from edge import __version__, app, wire
from edge.config import MqttConfig, load_config
from edge.publish import StatusInfo
from edge.publish.mqtt import MqttPublisher
from edge.publish.subscriber import Subscriber
from tests.conftest import CLIPS_DIR, Broker, require_asset
from tests.unit.test_homeassistant import REQUIRED, render
from tests.unit.test_wire_schema import validator

pytestmark = pytest.mark.slow

CLIP = CLIPS_DIR / "hanoi_motorbikes_public" / "video.mp4"
PLURAL = {"person": "people", "bicycle": "bicycles", "car": "cars", "motorcycle": "motorcycles",
          "bus": "buses", "truck": "trucks"}  # fmt: skip


def write_config(path: Path, broker: Broker, state_dir: Path, line: str, in_name: str) -> Path:
    path.write_text(
        # Out of reach on purpose: the health is degraded (low_fps) from the first second.
        "min_processed_fps = 10000\n\n"
        f'[device]\nid = "hanoi-cam.1"\nsite = "giang-vo"\nstate_dir = "{state_dir}"\n'
        'timezone = "Asia/Ho_Chi_Minh"\n\n'
        '[detector]\nmodel = "yolox-nano-416x256"\nthreads = 2\n\n'
        f'[[lines]]\nname = "{line}"\na = [300.0, 265.0]\nb = [300.0, 155.0]\n'
        f'in_name = "{in_name}"\nout_name = "to Lang Ha"\n\n'
        '[[lines]]\nname = "walkway"\na = [470.0, 300.0]\nb = [630.0, 300.0]\n'
        'classes = ["person"]\n\n'
        '[[zones]]\nname = "approach"\npolygon = [[150, 300], [500, 300], [500, 479], [150, 479]]\n'
        f'\n[mqtt]\nurl = "{broker.url}"\ndelivery = "broker"\nreconnect_max_s = 1.0\n'
        "status_hold_s = 0.0\n"
        "counts_interval_s = 10\ntelemetry_interval_s = 5\n\n"
        '[homeassistant]\nenabled = true\nsupport_url = "https://example.org/edge-counter"\n\n'
        "[health]\nstartup_grace_s = 0\n"
    )
    return path


class Watch:
    """Everything published on ``homeassistant/#`` and the device topics, in order."""

    def __init__(self, broker: Broker) -> None:
        self.sub = Subscriber(MqttConfig(url=broker.url), ["homeassistant/#", "edge/v1/+/+/#"])
        self.sub.start()
        self.seen: list[tuple[str, bytes]] = []

    def read(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            got = self.sub.get(0.1)
            if got is not None:
                self.seen.append((got[0], got[1]))

    def take(self) -> list[tuple[str, bytes]]:
        out, self.seen = self.seen, []
        return out


def configs(seen: list[tuple[str, bytes]]) -> dict[str, bytes]:
    """The last payload of each discovery topic (b"" for a cleared one)."""
    return {t: p for t, p in seen if t.startswith("homeassistant/")}


def check_config(topic: str, body: dict[str, Any]) -> None:
    assert body.keys() >= REQUIRED, topic
    assert "object_id" not in body
    assert body["default_entity_id"].startswith("sensor.")
    assert body["origin"]["name"] == "edge-counter" and body["origin"]["sw_version"] == __version__
    assert body["origin"]["support_url"] == "https://example.org/edge-counter"
    assert {"identifiers", "name", "model", "sw_version", "manufacturer"} <= body["device"].keys()
    assert body["availability"][0]["topic"] == "edge/v1/giang-vo/hanoi-cam.1/status"


def retained_state(seen: list[tuple[str, bytes]]) -> dict[str, Any]:
    states = [json.loads(p) for t, p in seen if t.endswith("/state")]
    assert states, "no retained state"
    return states[-1]


def state_values(cfgs: dict[str, bytes], state: dict[str, Any]) -> dict[str, str]:
    """Every state sensor's rendered value, by name; each config checked on the way."""
    out = {}
    for topic, payload in cfgs.items():
        if not payload:
            continue
        body = json.loads(payload)
        check_config(topic, body)
        if body["state_topic"].endswith("/state"):
            out[body["name"]] = render(body["value_template"], state)
    return out


def connect_once(cfg_path: Path, watch: Watch) -> list[tuple[str, bytes]]:
    """The device's publisher as the app builds it, connected once without counting."""
    cfg = load_config(cfg_path)
    assert cfg.mqtt is not None
    outbox = Path(cfg.device.state_dir) / "outbox.sqlite"
    outbox.parent.mkdir(parents=True, exist_ok=True)
    pub = MqttPublisher(cfg.mqtt, cfg.device, outbox, StatusInfo(__version__), app.announce(cfg))
    pub.start()
    watch.read(3.0)  # connect, status, discovery, then the state on the next tick
    pub.stop()
    watch.read(0.5)
    return watch.take()


def test_discovery_during_a_real_replay_fresh_counted_and_renamed(
    broker: Broker, tmp_path: Path
) -> None:
    require_asset(CLIP)
    state_dir = tmp_path / "state"
    watch = Watch(broker)

    # 1. Fresh: every line's sensors exist and read 0.
    cfg1 = write_config(tmp_path / "c1.toml", broker, state_dir, "junction", "to Giang Vo")
    seen = connect_once(cfg1, watch)
    cfgs = configs(seen)
    assert len(cfgs) == 2 * (1 + 6) + 2 * (1 + 1) + 2  # junction: all classes; walkway: person
    fresh = state_values(cfgs, retained_state(seen))
    assert set(fresh.values()) == {"0"} and "junction to Giang Vo cars" in fresh

    # 2. A real replay: each sensor renders what the replay counted.
    cmd = [sys.executable, "-m", "edge.cli", "replay", str(CLIP), "--config", str(cfg1),
           "--json", "--no-progress", "--drain-timeout", "30"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while proc.poll() is None:
        watch.read(1.0)
    out, err = proc.communicate()
    watch.read(1.0)
    assert proc.returncode == 0, err
    seen = watch.take()
    report = json.loads(out)
    # Every payload of the real device validates against its committed JSON Schema.
    kinds = {}
    for topic, payload in seen:
        if topic.startswith("edge/") and payload:
            kind = wire.parse_topic(topic).kind
            validator(kind).validate(json.loads(payload))
            kinds[kind] = kinds.get(kind, 0) + 1
    assert {"events", "counts", "state", "status", "telemetry", "zones"} <= kinds.keys(), kinds
    cfgs = configs(seen)
    assert cfgs, "no discovery during the replay"
    got = state_values(cfgs, retained_state(seen))
    counted = 0
    for line, label in (("junction", {"in": "to Giang Vo", "out": "to Lang Ha"}),
                        ("walkway", {"in": "in", "out": "out"})):  # fmt: skip
        for direction in ("in", "out"):
            per_class = report["lines"][line][direction]
            name = f"{line} {label[direction]}"
            assert got[name] == str(sum(per_class.values())), name
            for cls, n in per_class.items():
                assert got[f"{name} {PLURAL[cls]}"] == str(n)
                counted += n
    assert counted > 10, report  # the clip is busy: the figures are not all zero
    statuses = [json.loads(p) for t, p in seen if t.endswith("/status")]
    degraded = [s for s in statuses if s["state"] == "degraded"]
    assert degraded and "low_fps" in degraded[0]["reason"]
    assert statuses[-1]["state"] == "stopped"
    # device.timezone travels in the status (the collector's fallback for the site's zone).
    assert {s.get("timezone") for s in statuses} == {"Asia/Ho_Chi_Minh"}
    avail = json.loads(next(iter(cfgs.values())))["availability"][0]
    assert render(avail["value_template"], degraded[0]) == avail["payload_available"]
    zone_cfgs = [json.loads(p) for t, p in cfgs.items() if "/approach_" in t]
    snaps = [json.loads(p) for t, p in seen if "/zones/" in t]
    assert len(zone_cfgs) == 2 and snaps
    for body in zone_cfgs:
        for snap in snaps:
            value = render(body["value_template"], snap)
            assert value == "None" or float(value) >= 0

    # 3. Restarted with the line renamed: old configs cleared, new ones render.
    cfg3 = write_config(tmp_path / "c3.toml", broker, state_dir, "crossing", "into Giang Vo")
    seen = connect_once(cfg3, watch)
    cfgs = configs(seen)
    cleared = {t for t, p in cfgs.items() if not p}
    assert cleared and all("/junction_" in t for t in cleared) and len(cleared) == 14
    got = state_values(cfgs, retained_state(seen))
    assert got["crossing into Giang Vo"] == "0" and got["crossing to Lang Ha cars"] == "0"
    walk_out = sum(report["lines"]["walkway"]["out"].values())
    assert got["walkway out"] == str(walk_out)
    # What Home Assistant finds when it subscribes now: only the current configs.
    late = Subscriber(watch.sub.cfg, ["homeassistant/#"])
    late.start()
    retained: list[str] = []
    while (m := late.get(1.0)) is not None:
        retained.append(m[0])
    late.stop()
    watch.sub.stop()
    assert retained and not [t for t in retained if "/junction_" in t]
    assert len(retained) == 14 + 4 + 2
    assert wire.decode(json.dumps(retained_state(seen))).type == "state"
