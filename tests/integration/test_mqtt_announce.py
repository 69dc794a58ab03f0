"""What a device says besides its crossings, on a real Mosquitto: direction names in the retained
state (a fresh device too), and a retained ``degraded`` status while its health is degraded."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from edge import wire
from edge.config import DeviceConfig, MqttConfig, OutboxConfig
from edge.outbox import Outbox
from edge.publish import Announce, LineInfo, StatusInfo
from edge.publish.mqtt import MqttPublisher
from edge.publish.subscriber import Subscriber
from edge.types import Crossing
from tests.conftest import Broker

DEVICE = DeviceConfig(id="dev1", site="post-7")
ROAD = LineInfo("road", "to Georgia", "to Russia", ("car", "bus"))


def mqtt_cfg(broker: Broker, status_hold_s: float = 0.0) -> MqttConfig:
    return MqttConfig(
        url=broker.url, reconnect_max_s=1.0, delivery="broker", status_hold_s=status_hold_s
    )


def retained(broker: Broker, kinds: Sequence[str], want: int) -> dict[str, wire.Message]:
    """The retained message of each kind (a fresh subscriber gets exactly those)."""
    sub = Subscriber(mqtt_cfg(broker), [wire.subscription("edge", k) for k in kinds])
    sub.start()
    out: dict[str, wire.Message] = {}
    deadline = time.monotonic() + 10
    while len(out) < want and time.monotonic() < deadline:
        got = sub.get(0.2)
        if got is not None:
            out[wire.decode_for_topic(got[0], got[1])[1].type] = wire.decode(got[1])
    sub.stop()
    return out


def wait_for(pred: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not pred() and time.monotonic() < deadline:
        time.sleep(0.05)
    return pred()


def test_a_fresh_device_shows_its_lines_with_names_and_zero_totals(
    broker: Broker, tmp_path: Path
) -> None:
    # Someone reads the events (unread ones are answered 0x10 and stay in the outbox).
    reader = Subscriber(mqtt_cfg(broker), [wire.subscription("edge", "events")])
    reader.start()
    box = Outbox.open(tmp_path / "outbox.sqlite", DEVICE.id, OutboxConfig())
    walk = LineInfo("walkway", "to Georgia", "to Russia", ("person",))
    pub = MqttPublisher(mqtt_cfg(broker), DEVICE, box, StatusInfo("1"), Announce((ROAD, walk)))
    pub.start()
    assert wait_for(lambda: pub.connected)
    time.sleep(1.5)  # the state follows the connect within a tick
    state = retained(broker, ["state"], 1)["state"]
    assert isinstance(state, wire.StateMsg)
    assert state.lines == {"road": wire.DirectionCounts(), "walkway": wire.DirectionCounts()}
    assert state.labels is not None
    assert state.labels["road"].in_ == "to Georgia" and state.labels["road"].out == "to Russia"

    # A crossing: totals grow, names stay.
    box.append(Crossing("road", "in", "car", 1, 0.0, 0.9), time.time())
    assert pub.drain(10) == 0
    time.sleep(1.5)
    state = retained(broker, ["state"], 1)["state"]
    assert isinstance(state, wire.StateMsg)
    assert state.lines["road"].in_ == {"car": 1} and state.lines["walkway"].out == {}
    pub.stop()

    # Restarted with a direction renamed and no new crossing: the new names are published.
    renamed = LineInfo("road", "into Georgia", "into Russia", ("car", "bus"))
    pub = MqttPublisher(mqtt_cfg(broker), DEVICE, box, StatusInfo("1"), Announce((renamed,)))
    pub.start()
    assert wait_for(lambda: pub.connected)
    time.sleep(1.5)
    pub.stop()
    state = retained(broker, ["state"], 1)["state"]
    assert isinstance(state, wire.StateMsg) and state.labels is not None
    assert state.labels["road"].in_ == "into Georgia" and set(state.labels) == {"road"}
    assert state.lines["road"].in_ == {"car": 1}  # the journal's totals, kept
    box.close()
    reader.stop()


def statuses_seen(watch: Subscriber) -> list[tuple[str, str | None]]:
    """Every status the subscriber received, as (state, reason); then it is stopped."""
    seen: list[tuple[str, str | None]] = []
    while (got := watch.get(1.0)) is not None:
        msg = wire.decode(got[1])
        assert isinstance(msg, wire.StatusMsg)
        seen.append((msg.state, msg.reason))
    watch.stop()
    return seen


class Condition:
    """A health condition the test sets; read on the publisher thread like ``Health.state``."""

    def __init__(self) -> None:
        self.value: tuple[str, list[str]] = ("ok", [])
        self.reads = 0
        self._lock = threading.Lock()

    def __call__(self) -> tuple[str, list[str]]:
        with self._lock:
            self.reads += 1
            return self.value

    def set(self, state: str, reasons: list[str]) -> int:
        with self._lock:
            self.value = (state, reasons)
            return self.reads


def test_degraded_health_is_a_retained_status_published_on_change_only(
    broker: Broker, tmp_path: Path
) -> None:
    watch = Subscriber(mqtt_cfg(broker), [wire.subscription("edge", "status")])
    watch.start()
    box = Outbox.open(tmp_path / "outbox.sqlite", DEVICE.id, OutboxConfig())
    cond = Condition()
    pub = MqttPublisher(mqtt_cfg(broker), DEVICE, box, StatusInfo("1", condition=cond))
    pub.start()
    assert wait_for(lambda: pub.connected)
    for state, reasons in [
        ("degraded", ["camera_lost"]),
        ("degraded", ["camera_lost", "low_fps"]),
        ("ok", []),
    ]:
        reads = cond.set(state, reasons)
        # Held for several reads (about one a second): each change is published once.
        assert wait_for(lambda r=reads: cond.reads >= r + 3), "the condition is not polled"
    held = retained(broker, ["status"], 1)["status"]
    pub.stop()
    seen = statuses_seen(watch)
    box.close()
    assert isinstance(held, wire.StatusMsg) and held.state == "online" and held.reason is None
    assert seen == [
        ("online", None),
        ("degraded", "camera_lost"),
        ("degraded", "camera_lost,low_fps"),
        ("online", None),
        ("stopped", None),
    ]


def test_a_health_change_is_published_only_once_it_has_held(broker: Broker, tmp_path: Path) -> None:
    """A device hovering at a threshold (degraded one read, ok the next) never leaves
    ``online``; a condition that holds past ``status_hold_s`` is published once."""
    watch = Subscriber(mqtt_cfg(broker), [wire.subscription("edge", "status")])
    watch.start()
    box = Outbox.open(tmp_path / "outbox.sqlite", DEVICE.id, OutboxConfig())
    cond = Condition()
    pub = MqttPublisher(
        mqtt_cfg(broker, status_hold_s=2.5), DEVICE, box, StatusInfo("1", condition=cond)
    )
    pub.start()
    assert wait_for(lambda: pub.connected)
    for i in range(8):  # flapping: each condition lasts one read (about a second)
        reads = cond.set(*(("degraded", ["low_fps"]) if i % 2 == 0 else ("ok", [])))
        assert wait_for(lambda r=reads: cond.reads >= r + 1), "the condition is not polled"
    reads = cond.set("degraded", ["camera_lost"])
    assert wait_for(lambda r=reads: cond.reads >= r + 5), "the condition is not polled"
    pub.stop()
    seen = statuses_seen(watch)
    box.close()
    assert seen == [("online", None), ("degraded", "camera_lost"), ("stopped", None)]
