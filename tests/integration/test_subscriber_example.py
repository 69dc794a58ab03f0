"""The subscriber of docs/mqtt.md (examples/subscriber.py) on a real Mosquitto: every crossing a
real publisher ships is stored once, though the broker delivers some twice and the example is
killed and restarted mid-way (its persistent session keeps what arrived meanwhile)."""

from __future__ import annotations

import queue
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from edge import wire
from edge.config import DeviceConfig, MqttConfig, OutboxConfig
from edge.outbox import Outbox
from edge.publish import StatusInfo
from edge.publish.client import LinkChange, MqttClient, device_options
from edge.publish.mqtt import MqttPublisher
from edge.types import Crossing
from tests.conftest import ROOT, Broker

EXAMPLE = ROOT / "examples" / "subscriber.py"
DEVICE = DeviceConfig(id="post7-cam1", site="post-7")


class Example:
    """The example as a process; its stdout lines are collected by a thread."""

    def __init__(self, broker: Broker, db: Path) -> None:
        cmd = [sys.executable, str(EXAMPLE), broker.url, "--db", str(db)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.SimpleQueue[str] = queue.SimpleQueue()
        threading.Thread(target=self._read, daemon=True).start()
        assert self.proc.stderr is not None
        first = self.proc.stderr.readline()
        assert "subscribed to $share/reports/edge/v1/+/+/events/+" in first, first

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def printed(self, idle_s: float) -> list[str]:
        out = []
        while True:
            try:
                out.append(self.lines.get(timeout=idle_s))
            except queue.Empty:
                return out

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


def publish(broker: Broker, box: Outbox, seqs: range) -> None:
    """Journal and ship crossings with the device's publisher (delivered on the broker's ack)."""
    cfg = MqttConfig(url=broker.url, delivery="broker", reconnect_max_s=1.0)
    pub = MqttPublisher(cfg, DEVICE, box, StatusInfo("1"))
    pub.start()
    for i in seqs:
        box.append(Crossing("road", "in" if i % 2 else "out", "car", i, 0.0, 0.9), 1.7e9 + i)
    assert pub.drain(20) == 0
    pub.stop()


def test_the_documented_subscriber_stores_each_crossing_once(
    broker: Broker, tmp_path: Path
) -> None:
    db = tmp_path / "crossings.sqlite"
    box = Outbox.open(tmp_path / "outbox.sqlite", DEVICE.id, OutboxConfig())
    example = Example(broker, db)
    publish(broker, box, range(20))
    first = example.printed(2.0)
    example.kill()
    publish(broker, box, range(20, 30))  # while it is away: kept in its session
    # The same crossings again, as a device resending after an ack timeout would.
    raw = MqttClient(device_options(MqttConfig(url=broker.url), "resender"))
    links: queue.SimpleQueue[LinkChange] = queue.SimpleQueue()
    raw.on_link = links.put
    raw.start()
    assert links.get(timeout=5).up
    events = [wire.Event.model_validate({
        "device_id": DEVICE.id, "outbox_id": box.outbox_id, "epoch": 1, "seq": s, "ts": 1.7e9,
        "line": "road", "direction": "in", "class": "car", "track_id": 1, "confidence": 0.9,
    }) for s in range(1, 31)]  # fmt: skip
    again = wire.EventsMsg(v=1, type="events", device_id=DEVICE.id, events=events)
    topic = wire.topic("edge", DEVICE.site, DEVICE.id, "events", "road")
    assert raw.send_and_wait(topic, wire.encode(again), 1, False, 5)
    example = Example(broker, db)
    time.sleep(0.5)
    assert raw.send_and_wait(topic, wire.encode(again), 1, False, 5)
    raw.stop()
    second = example.printed(2.0)
    example.kill()
    box.close()
    assert len(first) == 20 and len(second) == 10, (first, second)
    assert first[0].split()[1:4] == [DEVICE.id, box.outbox_id, "1"]
    with sqlite3.connect(db) as con:
        seqs = [s for (s,) in con.execute("SELECT seq FROM crossing ORDER BY seq")]
    assert seqs == list(range(1, 31))
