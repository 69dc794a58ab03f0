"""``GET /metrics`` of collectors fed over a real Mosquitto, on each real database backend."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from edge.collector.config import load_collector_config
from edge.collector.service import Collector
from tests.conftest import Broker
from tests.integration.collector.helpers import fleet, wait_until

TOKEN = "metrics-token-1"
Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


def _collector(broker: Broker, db_url: str, client_id: str) -> Collector:
    overrides = {
        "mqtt.url": broker.url, "store.url": db_url, "http.port": 0,
        "mqtt.client_id": client_id, "mqtt.share_group": "metrics", "http.token": TOKEN,
    }  # fmt: skip
    c = Collector(load_collector_config(None, overrides))
    c.start()
    assert c.wait_subscribed(10), "collector did not subscribe"
    return c


def _events(device: str, seqs: range) -> bytes:
    now = time.time()
    rows = [
        {"device_id": device, "epoch": 1, "seq": s, "ts": now - 1, "line": "L1",
         "direction": "in", "class": "car", "track_id": s, "confidence": 0.9}
        for s in seqs
    ]  # fmt: skip
    return json.dumps({"v": 1, "type": "events", "device_id": device, "events": rows}).encode()


def _report(device: str, kind: str, **body: Any) -> bytes:
    msg = {"v": 1, "type": kind, "device_id": device, "ts": time.time(), **body}
    return json.dumps(msg).encode()


def scrape(c: Collector) -> Samples:
    """The collector's ``/metrics``, with its bearer token, parsed by prometheus-client."""
    assert c.http_url is not None
    assert httpx.get(f"{c.http_url}/metrics").status_code == 401
    r = httpx.get(f"{c.http_url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    out: Samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def test_metrics_of_a_collector_fed_over_mqtt(broker: Broker, db_url: str) -> None:
    c = _collector(broker, db_url, "m1")
    pub = fleet.connect(broker.url)
    site, dev = "kazbegi", "cam-1"
    base = f"edge/v1/{site}/{dev}"
    try:
        pub.publish(f"{base}/status", _report(dev, "status", state="online"), 1, retain=True)
        for seqs in (range(0, 40), range(40, 100), range(90, 100)):  # the last: duplicates
            pub.publish(f"{base}/events/L1", _events(dev, seqs), qos=1).wait_for_publish()
        metrics = {"outbox_depth": 12, "outbox_dropped": 0}
        pub.publish(f"{base}/telemetry", _report(dev, "telemetry", metrics=metrics), qos=1)
        pub.publish(f"{base}/events/L1", b"{not json", qos=1).wait_for_publish()
        wait_until(lambda: c.stats()["messages"] >= 6, what="6 messages stored")
        m = scrape(c)
    finally:
        pub.disconnect()
        c.stop()
    labels = (("device", dev), ("site", site))
    assert m["edge_collector_events_total"][()] == 100
    assert m["edge_collector_events_duplicate_total"][()] == 10
    assert m["edge_collector_db_events_stored_total"][()] == 100
    assert m["edge_collector_db_rejects_total"] == {(("code", "invalid"),): 1}
    assert 0 <= m["edge_collector_device_last_seen_age_seconds"][labels] < 120
    assert m["edge_collector_device_health"][(*labels[:1], ("health", "online"), labels[1])] == 1
    assert m["edge_collector_device_outbox_depth"] == {labels: 12}
    assert m["edge_collector_mqtt_connected"][()] == 1


def test_two_collectors_on_one_database_split_process_counts_and_agree_on_the_rest(
    broker: Broker, pg_url: str
) -> None:
    """The process counters add up over the copies; database figures are the same in each."""
    c1, c2 = _collector(broker, pg_url, "m1"), _collector(broker, pg_url, "m2")
    pub = fleet.connect(broker.url)
    try:
        for i in range(40):
            dev = f"cam-{i % 4}"
            topic = f"edge/v1/site-a/{dev}/events/L1"
            pub.publish(topic, _events(dev, range(i * 5, i * 5 + 5)), qos=1).wait_for_publish()
        done = lambda: c1.stats()["messages"] + c2.stats()["messages"] >= 40  # noqa: E731
        wait_until(done, what="40 messages stored by the two copies")
        m1, m2 = scrape(c1), scrape(c2)
    finally:
        pub.disconnect()
        c1.stop()
        c2.stop()
    own = [m["edge_collector_events_total"][()] for m in (m1, m2)]
    assert sum(own) == 200, own
    for name in (
        "edge_collector_db_events_stored_total",
        "edge_collector_device_events_stored_total",
        "edge_collector_device_health",
    ):
        assert m1[name] == m2[name], name
    assert m1["edge_collector_db_events_stored_total"][()] == 200
    assert set(m1["edge_collector_device_last_seen_age_seconds"]) == {
        (("device", f"cam-{i}"), ("site", "site-a")) for i in range(4)
    }
