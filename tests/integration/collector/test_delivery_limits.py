"""The device respects the broker: a small Maximum Packet Size, a topic it may not write."""

from __future__ import annotations

import time
from pathlib import Path

from edge.tools.broker import free_port
from tests.conftest import Broker
from tests.integration.collector.test_delivery_e2e import collector, crossing, device, journaled
from tests.integration.collector.test_delivery_e2e import stored as stored_keys


def test_small_max_packet_size_drains_the_backlog(tmp_path: Path) -> None:
    port = free_port()
    conf = f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_packet_size 8000\n"
    broker = Broker(tmp_path / "broker", port, conf)
    broker.start()
    try:
        c = collector(broker, f"sqlite:///{tmp_path / 'c.db'}")
        try:
            with device(broker, tmp_path / "dev") as (box, pub):
                for i in range(300):  # batches of 100 would be ~20 KB
                    box.append(crossing(i), time.time())
                assert pub.drain(30) == 0
                assert pub.drainer.stats.max_packet_bytes == 8000
                assert pub.drainer.stats.oversize_disconnects == 0
                assert stored_keys(c) == journaled(box, 300)
        finally:
            c.stop()
    finally:
        broker.stop()


def test_refused_topic_backs_off(tmp_path: Path) -> None:
    """An ACL without write access on events: PUBACK 0x87; the device must not hammer."""
    port = free_port()
    acl = tmp_path / "acl"
    acl.write_text("topic read edge/#\ntopic write edge/v1/+/+/status\n")
    conf = f"listener {port} 127.0.0.1\nallow_anonymous true\nacl_file {acl}\n"
    broker = Broker(tmp_path / "broker", port, conf)
    broker.start()
    try:
        with device(broker, tmp_path / "dev", retry_max_s=60.0) as (box, pub):
            for i in range(101):
                box.append(crossing(i), time.time())
            time.sleep(20)
            refused = pub.drainer.stats.refused_publishes
            metrics = pub.drainer.metrics()
            assert box.depth() == 101  # nothing lost, nothing marked delivered
        per_minute = refused * 3
        assert refused >= 1 and per_minute < 30, f"{refused} refused publishes in 20 s"
        assert str(metrics["mqtt_last_refusal"]).startswith("0x87")
    finally:
        broker.stop()
