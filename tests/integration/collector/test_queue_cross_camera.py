"""Cross-camera queue: two simulated devices (real outboxes and publishers, real Mosquitto),
the collector on each real database backend; the queue follows the published counts, also
after one device was offline and its outbox delivered late."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge import wire
from edge.collector.config import load_collector_config
from edge.collector.service import Collector
from edge.config import DeviceConfig, MqttConfig, OutboxConfig
from edge.outbox import Outbox
from edge.publish import StatusInfo
from edge.publish.mqtt import MqttPublisher
from edge.types import Crossing
from tests.conftest import Broker
from tests.integration.collector.helpers import wait_until

SITE = "post-7"
BACK = DeviceConfig(id="cam-back", site=SITE)  # line "back": vehicles joining the queue
GATE = DeviceConfig(id="cam-gate", site=SITE)  # line "gate": vehicles leaving at the booth
WINDOW_S = 60.0


class Device:
    """A device's outbox and (re)startable publisher."""

    def __init__(self, cfg: DeviceConfig, broker: Broker, tmp_path: Path) -> None:
        self.cfg = cfg
        self.mqtt = MqttConfig.model_validate({"url": broker.url, "reconnect_max_s": 1.0})
        self.box = Outbox.open(tmp_path / f"{cfg.id}.sqlite", cfg.id, OutboxConfig())
        self.pub: MqttPublisher | None = None

    def start(self) -> None:
        self.pub = MqttPublisher(self.mqtt, self.cfg, self.box, StatusInfo("test"))
        self.pub.start()

    def stop(self) -> None:
        if self.pub is not None:
            self.pub.stop()
            self.pub = None

    def cross(self, line: str, times: list[float], cls: str = "car") -> None:
        for k, ts in enumerate(times):
            self.box.append(Crossing(line, "in", cls, k + 1, 0.0, 0.9), ts)

    def drained(self) -> bool:
        return self.pub is not None and self.pub.drain(0) == 0


def _queue(c: Collector) -> dict[str, Any]:
    (q,) = httpx.get(f"{c.http_url}/api/v1/queues", params={"site": SITE}).json()
    return dict(q)


def _earlier_last_seen(q: dict[str, Any]) -> float:
    return min(float(q["devices"][end]["last_seen"]) for end in ("entry", "exit"))


def test_queue_follows_counts_and_catches_up_after_an_outage(
    broker: Broker, db_url: str, tmp_path: Path
) -> None:
    t0 = time.time()
    queues = {
        "inbound": {
            "site": SITE, "direction": "inbound", "since": t0 - 100, "offset": 2,
            "window_s": WINDOW_S,
            "entry": {"device": BACK.id, "line": "back", "direction": "in"},
            "exit": {"device": GATE.id, "line": "gate", "direction": "in"},
        }
    }  # fmt: skip
    overrides = {"mqtt.url": broker.url, "store.url": db_url, "http.port": 0, "queues": queues}
    c = Collector(load_collector_config(None, overrides))
    c.start()
    back, gate = Device(BACK, broker, tmp_path), Device(GATE, broker, tmp_path)
    try:
        assert c.wait_subscribed(10)
        started = time.time()
        back.start()
        gate.start()
        # Before the calibration point (ignored), then 10 joins and 4 departures.
        back.cross("back", [t0 - 200, *(t0 - 90 + k for k in range(10))])
        back.cross("back", [t0 - 85], cls="person")  # not a vehicle
        gate.cross("gate", [t0 - 30 + k for k in range(4)])
        wait_until(lambda: back.drained() and gate.drained(), what="both outboxes sent")
        wait_until(lambda: _queue(c)["in_system"] == 2 + 10 - 4, what="12 - 4 in the system")
        q = _queue(c)
        assert (q["entries"], q["exits"]) == (10, 4)
        assert q["exit_rate_per_min"] == pytest.approx(4.0)  # 4 exits in the 60 s window
        assert q["expected_wait_s"] == pytest.approx(8 / (4 / WINDOW_S))
        # As of the earlier of the two devices' last messages, both sent during this test.
        assert q["as_of"] == _earlier_last_seen(q) and q["as_of"] >= started

        # The gate camera goes offline; it keeps counting into its outbox.
        gate.stop()
        time.sleep(0.5)
        joins_sent = time.time()
        back.cross("back", [time.time() + k * 0.01 for k in range(5)])
        gate.cross("gate", [time.time() + k * 0.01 for k in range(3)])
        wait_until(back.drained, what="5 more joins sent")
        time.sleep(1.5)
        q = _queue(c)
        # Figures hold at the time the gate was last heard: no phantom growth of 5.
        assert q["in_system"] == 8 and q["lag_s"] >= 1.5, q
        assert q["devices"]["exit"]["last_seen"] < q["devices"]["entry"]["last_seen"]

        # Back online: the outbox delivers late, with the original event times.
        gate.start()
        wait_until(gate.drained, what="the gate's backlog sent")
        wait_until(lambda: _queue(c)["in_system"] == 2 + 15 - 7, what="caught up: 17 - 7")
        q = _queue(c)
        assert (q["entries"], q["exits"]) == (15, 7)
        # The gate is heard again: as of the back camera's last message, the 5 joins.
        assert q["as_of"] == _earlier_last_seen(q) and q["as_of"] >= joins_sent
        assert q["expected_wait_s"] == pytest.approx(10 / (q["exit_rate_per_min"] / 60))

        # A zone snapshot from the gate camera reaches /zones through the publisher.
        assert gate.pub is not None
        gate.pub.publish_zone(
            wire.ZoneMsg(v=1, type="zones", device_id=GATE.id, zone="booth", ts=time.time(),
                         occupancy={"car": 3}, queue_length=2, wait_s=40.0,
                         wait_method="littles_law", window_s=300.0, direction="inbound")
        )  # fmt: skip
        zones = f"{c.http_url}/api/v1/zones"
        wait_until(lambda: len(httpx.get(zones).json()) == 1, what="zone snapshot stored")
        (z,) = httpx.get(zones).json()
        assert z["report"]["queue_length"] == 2 and z["report"]["wait_method"] == "littles_law"
        # A past time: before anything was counted, only the calibration offset.
        past = httpx.get(f"{c.http_url}/api/v1/queues", params={"at": t0 - 95}).json()[0]
        assert past["in_system"] == 2 and past["expected_wait_s"] is None
    finally:
        back.stop()
        gate.stop()
        c.stop()
