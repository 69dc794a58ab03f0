"""Collector ingest against a real Mosquitto and each real database backend."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import psycopg

from edge.collector.config import load_collector_config
from edge.collector.service import Collector
from tests.conftest import Broker
from tests.integration.collector.helpers import PG_ADMIN_URL, fleet, wait_until


def _collector(broker: Broker, db_url: str, client_id: str = "c1", **extra: Any) -> Collector:
    overrides = {
        "mqtt.url": broker.url,
        "store.url": db_url,
        "http.port": 0,
        "mqtt.client_id": client_id,
        **extra,
    }
    c = Collector(load_collector_config(None, overrides))
    c.start()
    assert c.wait_subscribed(10), "collector did not subscribe"
    return c


def _events_msg(device: str, seqs: range, line: str = "L1", ts: float | None = None) -> bytes:
    now = time.time() if ts is None else ts
    events = [
        {
            "device_id": device,
            "epoch": 1,
            "seq": s,
            "ts": now - s,
            "line": line,
            "direction": "in" if s % 2 else "out",
            "class": "person" if s % 3 == 0 else "car",
            "track_id": s,
            "confidence": 0.9,
        }
        for s in seqs
    ]
    return json.dumps({"v": 1, "type": "events", "device_id": device, "events": events}).encode()


def _stored(db_url: str) -> tuple[int, int]:
    rows, agg = fleet.stored(db_url)
    return int(rows), int(agg)


def test_duplicates_and_redeliveries_never_double_count(broker: Broker, db_url: str) -> None:
    c = _collector(broker, db_url)
    pub = fleet.connect(broker.url)
    try:
        topic = "edge/v1/site-a/dev-1/events/L1"
        # Overlapping batches, whole batches sent twice, the same message five times.
        ranges = [range(0, 100), range(50, 150), range(0, 150), *[range(7, 8)] * 5]
        for seqs in ranges:
            payload = _events_msg("dev-1", seqs)
            pub.publish(topic, payload, qos=1).wait_for_publish()
        wait_until(lambda: c.stats()["messages"] >= 8, what="8 messages processed")
        assert _stored(db_url) == (150, 150)
        totals = httpx.get(f"{c.http_url}/api/v1/totals").json()
        line = totals["devices"]["dev-1"]["lines"]["L1"]
        assert sum(line["in"].values()) == 75 and sum(line["out"].values()) == 75
        assert line["in"]["person"] + line["out"]["person"] == 50
        stats = c.stats()
        assert stats["events_inserted"] == 150 and stats["events_duplicate"] == 50 + 150 + 5
    finally:
        pub.disconnect()
        c.stop()
    # Another collector (its own share group: c1's session still holds c1's share) over the
    # same database: replaying everything changes nothing.
    c2 = _collector(broker, db_url, client_id="c2", **{"mqtt.share_group": "other"})
    pub = fleet.connect(broker.url)
    try:
        pub.publish(topic, _events_msg("dev-1", range(0, 150)), qos=1).wait_for_publish()
        wait_until(lambda: c2.stats()["messages"] >= 1, what="replay processed")
        assert _stored(db_url) == (150, 150)
        minute_sum = httpx.get(f"{c2.http_url}/api/v1/today", params={"group_by": ""}).json()
        assert minute_sum["total"] <= 150
    finally:
        pub.disconnect()
        c2.stop()


def test_malformed_payloads_are_counted_and_ignored(broker: Broker, db_url: str) -> None:
    c = _collector(broker, db_url)
    pub = fleet.connect(broker.url)
    good = _events_msg("dev-1", range(0, 10))
    three = _events_msg("dev-1", range(3))
    bad_status = b'{"v": 1, "type": "status", "device_id": "dev-1", "state": "?"}'
    bad: list[tuple[str, bytes]] = [
        ("edge/v1/s/dev-1/events/L1", b"not json"),
        ("edge/v1/s/dev-1/events/L1", b"[" * 100_000),  # nesting beyond the JSON parser
        ("edge/v1/s/dev-1/events/L1", b'{"v": 1, "n": ' + b"9" * 5000 + b"}"),  # huge integer
        ("edge/v1/s/dev-2/events/L1", good),  # device id disagrees with the topic
        ("edge/v1/s/dev-1/events/L2", good),  # line disagrees with the topic
        ("edge/v1/s/dev-1/counts/L1", good),  # kind disagrees with the topic
        ("edge/v1/s/dev-1/events/L1", good.replace(b'"v": 1', b'"v": 2')),
        ("edge/v1/s/dev-1/events/L1", three.replace(b'"seq": 1', b'"seq": 1' + b"0" * 25)),
        ("edge/v1/s/dev-1/events/L1", three.replace(b'"ts": ', b'"ts": NaN, "x": ', 1)),
        ("edge/v1/bad site/dev-1/events/L1", good),
        ("edge/v1/s/dev-1/status", bad_status),
        ("edge/v1/s/dev-1/telemetry", b"\xff\xfe\x00"),
    ]
    try:
        for topic, payload in bad:
            pub.publish(topic, payload, qos=1).wait_for_publish()
        pub.publish("edge/v1/s/dev-1/events/L1", good, qos=1).wait_for_publish()
        wait_until(lambda: c.stats()["messages"] >= len(bad) + 1, what="all messages processed")
        assert c.stats()["rejected"] == len(bad)
        assert _stored(db_url) == (10, 10)
        rejects = httpx.get(f"{c.http_url}/api/v1/rejects", params={"limit": 100}).json()
        assert rejects["total"] == len(bad)
        assert any("another device" in r["reason"] for r in rejects["latest"])
        assert c.failure() is None
    finally:
        pub.disconnect()
        c.stop()


def test_persistent_session_gets_what_was_published_while_down(broker: Broker, db_url: str) -> None:
    c = _collector(broker, db_url, client_id="persist")
    c.stop()  # a clean disconnect keeps the session (session expiry > 0)
    pub = fleet.connect(broker.url)
    for first in range(0, 1000, 50):
        payload = _events_msg("dev-9", range(first, first + 50))
        pub.publish("edge/v1/s/dev-9/events/L1", payload, qos=1).wait_for_publish()
    pub.disconnect()
    c = _collector(broker, db_url, client_id="persist")
    try:
        wait_until(lambda: _stored(db_url)[0] == 1000, what="1000 events after restart")
        assert _stored(db_url) == (1000, 1000)
    finally:
        c.stop()


def test_status_telemetry_and_device_health(broker: Broker, db_url: str) -> None:
    c = _collector(broker, db_url)
    pub = fleet.connect(broker.url)
    now = time.time()
    try:
        words = (("dev-1", "online"), ("dev-2", "offline"), ("dev-3", "stopped"))
        for dev, state in (*words, ("dev-4", "degraded")):
            status = {"v": 1, "type": "status", "device_id": dev, "state": state, "ts": now}
            if state == "degraded":
                status["reason"] = "camera_lost"
            pub.publish(f"edge/v1/s/{dev}/status", json.dumps(status), qos=1, retain=True)
        tele = {
            "v": 1,
            "type": "telemetry",
            "device_id": "dev-1",
            "ts": now,
            "metrics": {"fps": 7.5, "temp_c": None},  # an unknown reading is null
        }
        pub.publish("edge/v1/s/dev-1/telemetry", json.dumps(tele), qos=1).wait_for_publish()
        wait_until(lambda: c.stats()["messages"] >= 5, what="5 messages")
        devices = {
            d["device_id"]: d for d in httpx.get(f"{c.http_url}/api/v1/devices").json()["devices"]
        }
        assert devices["dev-1"]["health"] == "online"
        assert devices["dev-1"]["telemetry"]["metrics"]["fps"] == 7.5
        health = {d: (v["health"], v["reason"]) for d, v in devices.items()}
        assert health == {
            "dev-1": ("online", None),
            "dev-2": ("offline", None),  # its Last Will: killed, or lost power or network
            "dev-3": ("stopped", None),  # a clean exit is not a failure
            "dev-4": ("degraded", "camera_lost"),
        }
    finally:
        pub.disconnect()
        c.stop()


def test_lost_database_connections_are_retried_without_loss(broker: Broker, pg_url: str) -> None:
    c = _collector(broker, pg_url)
    pub = fleet.connect(broker.url)
    dbname = pg_url.rsplit("/", 1)[1]
    try:
        for first in range(0, 3000, 30):
            payload = _events_msg("dev-5", range(first, first + 30))
            pub.publish("edge/v1/s/dev-5/events/L1", payload, qos=1)
            if first % 600 == 0:  # cut every connection of the collector to its database
                with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                    admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = %s AND pid <> pg_backend_pid()",
                        (dbname,),
                    )
        wait_until(lambda: _stored(pg_url)[0] == 3000, 60, "3000 events despite the cuts")
        assert _stored(pg_url) == (3000, 3000)
        assert c.stats()["store_retries"] > 0, "no connection was actually cut mid-write"
        assert c.failure() is None
    finally:
        pub.disconnect()
        c.stop()
