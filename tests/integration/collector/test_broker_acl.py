"""The shipped Mosquitto configuration (deploy/mosquitto/) with the real collector and device.

One identity per device (username = device id, passwords made by ``add-device.sh``), the
shipped ACL, TLS certificates made by ``make-certs.sh``. MQTT 5 Mosquitto answers a refused
PUBLISH with PUBACK 0x87 "Not authorized" and drops the message.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.collector.config import load_collector_config
from edge.collector.service import Collector
from edge.config import DeviceConfig, MqttConfig, OutboxConfig
from edge.outbox import Outbox
from edge.publish import StatusInfo
from edge.publish.mqtt import MqttPublisher
from edge.types import Crossing
from tests.integration.collector.helpers import wait_until
from tests.integration.collector.test_collector_pinning import payload
from tests.integration.shipped_broker import ShippedBroker

NOT_AUTHORIZED = 0x87
#: Success, or 0x10 "No matching subscribers": the broker took the message.
ACCEPTED = (0x00, 0x10)


@pytest.fixture
def shipped(tmp_path: Path) -> Iterator[ShippedBroker]:
    """A fresh broker per test: retained messages of one test never reach another."""
    b = ShippedBroker(tmp_path / "shipped")
    for device in ("dev-a", "dev-b"):
        b.add_user(device)
    b.add_user("collector", service=True)
    b.start()
    yield b
    b.stop()


class Raw:
    """A bare MQTT 5 client that reports each PUBACK's reason code and what it received."""

    def __init__(
        self, b: ShippedBroker, user: str | None, tls: bool = False, client_id: str = ""
    ) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"raw-{user}-{time.monotonic_ns()}",
            protocol=mqtt.MQTTv5,
        )
        if user is not None:
            self.client.username_pw_set(user, b.passwords[user])
        if tls:
            self.client.tls_set(ca_certs=str(b.certs / "ca.crt"))
        self.acks: dict[int, int] = {}
        self.received: list[str] = []
        self.connack: int | None = None
        self._connected = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_publish = lambda _c, _u, mid, rc, _p: self.acks.setdefault(mid, rc.value)
        self.client.on_message = lambda _c, _u, m: self.received.append(m.topic)
        self.client.connect("127.0.0.1", b.tls_port if tls else b.plain_port)
        self.client.loop_start()
        self._connected.wait(5)

    def _on_connect(self, _c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        self.connack = rc.value
        self._connected.set()

    def publish(self, topic: str, body: dict[str, Any], retain: bool = False) -> int:
        """Publish QoS 1; return the PUBACK reason code."""
        info = self.client.publish(topic, str(body).replace("'", '"'), qos=1, retain=retain)
        info.wait_for_publish(5)
        wait_until(lambda: info.mid in self.acks, 5, f"PUBACK of {topic}")
        return self.acks[info.mid]

    def subscribe(self, *filters: str) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *_: done.set()
        self.client.subscribe([(f, 1) for f in filters])
        assert done.wait(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def collector(shipped: ShippedBroker, tmp_path: Path) -> Iterator[Collector]:
    """The collector as deployed next to the broker: user ``collector`` on the loopback port."""
    overrides = {
        "mqtt.url": shipped.plain_url, "mqtt.username": "collector",
        "mqtt.password_file": shipped.password_file("collector"),
        "mqtt.client_id": "collector-1",
        "store.url": f"sqlite:///{tmp_path / 'c.db'}", "http.port": 0,
    }  # fmt: skip
    c = Collector(load_collector_config(None, overrides), serve_http=False)
    c.start()
    assert c.wait_subscribed(10), "the ACL must let the collector subscribe"
    yield c
    c.stop()


def query(c: Collector, sql: str) -> list[tuple[Any, ...]]:
    assert c.store is not None
    with c.store.reading() as reader:
        return reader.query(sql)


def topic(site: str, device: str, kind: str, name: str | None = None) -> str:
    return f"edge/v1/{site}/{device}/{kind}" + (f"/{name}" if name else "")


def publish_own(raw: Raw, c: Collector, site: str, device: str) -> None:
    """A status the broker accepts, then wait until the collector has written it."""
    before = c.stats()["messages"]
    assert raw.publish(topic(site, device, "status"), payload("status", device)) in ACCEPTED
    wait_until(lambda: c.stats()["messages"] > before, 10, "the collector to store a status")


def test_a_device_publishes_its_own_counts_over_tls(
    shipped: ShippedBroker, collector: Collector, tmp_path: Path
) -> None:
    """The real device code, with its own credentials, over the TLS listener, end to end."""
    cfg = MqttConfig(
        url=shipped.tls_url, username="dev-a", password_file=shipped.password_file("dev-a"),
        ca_file=shipped.certs / "ca.crt", reconnect_max_s=1.0,
    )  # fmt: skip
    box = Outbox.open(tmp_path / "outbox.sqlite", "dev-a", OutboxConfig())
    for i in range(30):
        box.append(Crossing("L1", "in", "car", i, 0.0, 0.9), time.time())
    pub = MqttPublisher(cfg, DeviceConfig(id="dev-a", site="site-1"), box, StatusInfo("1"))
    pub.start()
    try:
        assert pub.drain(15) == 0
        wait_until(lambda: query(collector, "SELECT COUNT(*) FROM events") == [(30,)], 15)
    finally:
        pub.stop()
        box.close()
    assert query(collector, "SELECT device_id, site FROM devices") == [("dev-a", "site-1")]
    assert query(collector, "SELECT COUNT(*) FROM rejects") == [(0,)]


def test_a_device_cannot_publish_under_another_device(
    shipped: ShippedBroker, collector: Collector
) -> None:
    a = Raw(shipped, "dev-a", tls=True)
    try:
        for site in ("site-1", "site-2"):
            for kind, name in [("events", "L1"), ("counts", "L1"), ("status", None),
                               ("state", None), ("telemetry", None), ("zones", "z")]:  # fmt: skip
                rc = a.publish(topic(site, "dev-b", kind, name), payload(kind, "dev-b", name))
                assert rc == NOT_AUTHORIZED, (site, kind)
        publish_own(a, collector, "site-1", "dev-a")
    finally:
        a.close()
    assert collector.stats()["messages"] == 1
    assert query(collector, "SELECT device_id FROM devices") == [("dev-a",)]
    assert query(collector, "SELECT COUNT(*) FROM events") == [(0,)]


def test_a_device_cannot_move_another_and_cannot_move_itself(
    shipped: ShippedBroker, collector: Collector
) -> None:
    a, b = Raw(shipped, "dev-a"), Raw(shipped, "dev-b")
    try:
        publish_own(b, collector, "site-1", "dev-b")
        # Another device's credentials: refused by the broker.
        assert a.publish(topic("site-2", "dev-b", "status"), payload("status", "dev-b")) == (
            NOT_AUTHORIZED
        )
        # The device's own credentials under another site: the broker lets it through (the
        # site is the device's claim), the collector pins the device and rejects both.
        before = collector.stats()["messages"]
        for kind, name in [("status", None), ("events", "L1")]:
            assert (
                b.publish(topic("site-2", "dev-b", kind, name), payload(kind, "dev-b", name))
                in ACCEPTED
            )
        wait_until(lambda: collector.stats()["messages"] >= before + 2, 10, "two messages")
    finally:
        a.close()
        b.close()
    assert collector.stats()["rejected"] == 2
    assert query(collector, "SELECT device_id, site FROM devices") == [("dev-b", "site-1")]
    assert query(collector, "SELECT site FROM device_reports") == [("site-1",)]
    assert query(collector, "SELECT COUNT(*) FROM events") == [(0,)]
    reasons = [r for (r,) in query(collector, "SELECT reason FROM rejects")]
    assert reasons == ["device 'dev-b' is pinned to site 'site-1' (first seen), not 'site-2':"
                       " message not stored"] * 2  # fmt: skip


def test_the_collector_writes_acks_only(shipped: ShippedBroker) -> None:
    c = Raw(shipped, "collector")
    try:
        for kind, name in [("events", "L1"), ("counts", "L1"), ("status", None), ("state", None)]:
            rc = c.publish(topic("site-1", "dev-a", kind, name), payload(kind, "dev-a", name))
            assert rc == NOT_AUTHORIZED, kind
        # "collector" is no device id: the device patterns do not apply to it.
        assert c.publish(
            topic("site-1", "collector", "status"), payload("status", "collector")
        ) == (NOT_AUTHORIZED)
        assert c.publish(topic("site-1", "dev-a", "config"), {"v": 1}) == NOT_AUTHORIZED
        assert c.publish(topic("site-1", "dev-a", "ack"), {"v": 1}, retain=True) in ACCEPTED
    finally:
        c.close()


def test_a_device_reads_only_its_own_ack_and_config(shipped: ShippedBroker) -> None:
    c, a, b = Raw(shipped, "collector"), Raw(shipped, "dev-a"), Raw(shipped, "dev-b")
    try:
        for device in ("dev-a", "dev-b"):
            assert c.publish(topic("site-1", device, "ack"), {"seq": 1}, retain=True) in ACCEPTED
        a.subscribe(topic("site-1", "dev-b", "ack"), "edge/v1/+/+/ack", "edge/#", "#")
        b.subscribe(topic("site-1", "dev-b", "ack"))
        # A device cannot publish its own ack (it comes from the collector) ...
        assert a.publish(topic("site-1", "dev-a", "ack"), {"seq": 99}) == NOT_AUTHORIZED
        # ... nor read another device's data.
        assert b.publish(topic("site-1", "dev-b", "status"), payload("status", "dev-b")) in ACCEPTED
        wait_until(lambda: b.received == [topic("site-1", "dev-b", "ack")], 5, "b's own ack")
        time.sleep(0.3)
        assert sorted(set(a.received)) == [topic("site-1", "dev-a", "ack")]
    finally:
        for raw in (c, a, b):
            raw.close()


@pytest.mark.parametrize("tls", [False, True], ids=["loopback", "tls"])
def test_no_anonymous_clients_and_no_wrong_passwords(shipped: ShippedBroker, tls: bool) -> None:
    anonymous = Raw(shipped, None, tls=tls)
    assert anonymous.connack == NOT_AUTHORIZED
    anonymous.close()
    shipped.passwords["impostor"] = shipped.passwords["dev-a"]
    try:
        wrong = Raw(shipped, "impostor", tls=tls)
        assert wrong.connack == NOT_AUTHORIZED
        wrong.close()
    finally:
        del shipped.passwords["impostor"]


def test_a_device_cannot_take_another_devices_client_id_over_tls(shipped: ShippedBroker) -> None:
    """``use_username_as_clientid``: A connecting as client id "dev-b" stays "dev-a"."""
    b = Raw(shipped, "dev-b", tls=True, client_id="dev-b")
    a = Raw(shipped, "dev-a", tls=True, client_id="dev-b")
    try:
        assert a.connack == 0
        time.sleep(0.3)
        assert b.client.is_connected()
        assert b.publish(topic("site-1", "dev-b", "status"), payload("status", "dev-b")) in ACCEPTED
    finally:
        a.close()
        b.close()
