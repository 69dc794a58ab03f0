"""End to end: every journaled crossing stored exactly once, through broker restarts and kills.

Real Mosquitto (persistence on), the real collector (SQLite and PostgreSQL, in a share group,
a fixed client id so its session outlives a restart), the real outbox and publisher. The
crossings are synthetic (appended straight to the outbox) so a test takes seconds.
"""

from __future__ import annotations

import shutil
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from edge.collector.config import load_collector_config
from edge.collector.service import Collector
from edge.config import DeviceConfig, MqttConfig, OutboxConfig
from edge.outbox import Outbox
from edge.publish import StatusInfo
from edge.publish.mqtt import MqttPublisher
from edge.types import Crossing
from tests.conftest import Broker
from tests.integration.collector.helpers import wait_until

DEVICE = DeviceConfig(id="dev1", site="post-7")
Key = tuple[str, str, int]


def crossing(i: int) -> Crossing:
    return Crossing("L1" if i % 4 else "L2", "in" if i % 3 else "out", "car", i, i / 10, 0.9)


def collector(broker: Broker, db_url: str, client_id: str = "c1") -> Collector:
    """A collector in share group ``g`` with a fixed client id (its session is kept)."""
    overrides = {
        "mqtt.url": broker.url, "store.url": db_url, "mqtt.share_group": "g",
        "mqtt.client_id": client_id,
    }  # fmt: skip
    c = Collector(load_collector_config(None, overrides), serve_http=False)
    c.start()
    assert c.wait_subscribed(10)
    return c


def device_cfg(broker: Broker, **kw: object) -> MqttConfig:
    base = {"url": broker.url, "reconnect_max_s": 1.0, "ack_timeout_s": 2.0, "retry_max_s": 4.0}
    return MqttConfig.model_validate(base | kw)


@contextmanager
def device(broker: Broker, state: Path, **kw: object) -> Iterator[tuple[Outbox, MqttPublisher]]:
    box = Outbox.open(state / "outbox.sqlite", DEVICE.id, OutboxConfig())
    pub = MqttPublisher(device_cfg(broker, **kw), DEVICE, box, StatusInfo("1"))
    pub.start()
    try:
        yield box, pub
    finally:
        pub.stop()
        box.close()


def stored(c: Collector) -> list[Key]:
    """Every stored crossing's key, duplicates included (the key is the primary key)."""
    assert c.store is not None
    with c.store.reading() as r:
        rows = r.query("SELECT device_id, outbox_id, seq FROM events ORDER BY 1, 2, 3")
    return [(str(d), str(o), int(s)) for d, o, s in rows]


def journaled(box: Outbox, n: int, first: int = 1) -> list[Key]:
    return [(DEVICE.id, box.outbox_id, s) for s in range(first, first + n)]


def restart(broker: Broker, sig: signal.Signals = signal.SIGTERM, down_s: float = 0.3) -> None:
    """Stop the broker with ``sig`` (SIGKILL: no persistence written), then start it again."""
    assert broker.proc is not None
    broker.proc.send_signal(sig)
    broker.proc.wait(10)
    broker.proc = None
    time.sleep(down_s)
    broker.start()


def test_collector_offline_across_broker_restart(
    broker: Broker, db_url: str, tmp_path: Path
) -> None:
    """The 0x10 loss: the restarted broker forgets the collector's shared subscriptions, so
    the device's publishes reach nobody (PUBACK 0x10); they must stay in the outbox."""
    c = collector(broker, db_url)
    c.stop()  # offline, its session kept
    restart(broker)
    with device(broker, tmp_path) as (box, pub):
        for i in range(34):
            box.append(crossing(i), time.time())
        assert pub.drain(3) == 34  # the broker took them, nobody stored them
        assert pub.drainer.stats.unrouted_publishes >= 1
        c = collector(broker, db_url)
        try:
            assert pub.drain(30) == 0
            assert stored(c) == journaled(box, 34)
        finally:
            c.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_broker_restarts_while_publishing(
    broker: Broker, db_url: str, tmp_path: Path, sig: signal.Signals
) -> None:
    """Six broker restarts (graceful or SIGKILL) while 900 crossings are journaled."""
    c = collector(broker, db_url)
    with device(broker, tmp_path) as (box, pub):
        done = threading.Event()

        def count() -> None:
            for i in range(900):
                box.append(crossing(i), time.time())
                time.sleep(0.004)
            done.set()

        counter = threading.Thread(target=count)
        counter.start()
        for _ in range(6):
            time.sleep(0.4)
            restart(broker, sig)
        counter.join()
        try:
            assert pub.drain(90) == 0
            wait_until(lambda: len(stored(c)) >= 900, 10, "900 stored")
            assert stored(c) == journaled(box, 900)
        finally:
            c.stop()


def test_wiped_device_keeps_both_runs(broker: Broker, db_url: str, tmp_path: Path) -> None:
    c = collector(broker, db_url)
    state = tmp_path / "state"
    try:
        with device(broker, state) as (box, pub):
            first = box.outbox_id
            for i in range(34):
                box.append(crossing(i), time.time())
            assert pub.drain(20) == 0
        shutil.rmtree(state)  # a reflash: same device id, no state
        with device(broker, state) as (box, pub):
            assert box.outbox_id != first and box.epoch == 1
            for i in range(34):
                box.append(crossing(i + 1000), time.time())
            assert pub.drain(20) == 0
            second = box.outbox_id
        keys = stored(c)
        assert len(keys) == 68
        assert {o for _, o, _ in keys} == {first, second}
    finally:
        c.stop()


def test_outbox_cap_gap_is_acknowledged(broker: Broker, tmp_path: Path) -> None:
    """Rows the cap dropped while the collector was away leave a gap the ack skips."""
    db = f"sqlite:///{tmp_path / 'c.db'}"
    c = collector(broker, db)
    c.stop()
    box = Outbox.open(tmp_path / "outbox.sqlite", DEVICE.id, OutboxConfig(max_rows=100))
    for i in range(250):
        box.append(crossing(i), time.time())
    assert box.totals().dropped > 0
    kept = box.depth()
    box.close()
    c = collector(broker, db)
    try:
        with device(broker, tmp_path) as (box, pub):
            assert pub.drain(30) == 0
            assert len(stored(c)) == kept and stored(c)[-1][2] == 250
    finally:
        c.stop()
