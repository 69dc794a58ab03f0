"""``GET /metrics``: the collector's figures in Prometheus text format, over a real SQLite
store fed by the real writer thread, parsed with prometheus-client's own parser."""

from __future__ import annotations

import dataclasses
import json
import queue
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from edge.collector.api import create_app
from edge.collector.config import load_collector_config
from edge.collector.ingest import Received
from edge.collector.store import Store, open_store
from edge.collector.subscriber import Delivery
from edge.collector.writer import Writer

QUEUES = {
    "inbound": {
        "site": "site-a", "direction": "in", "since": time.time() - 86_400, "offset": 1,
        "entry": {"device": "dev-1", "line": "L1", "direction": "in"},
        "exit": {"device": "dev-2", "line": "L2", "direction": "in"},
    }
}  # fmt: skip


def events(now: float, device: str, seqs: range, line: str = "L1") -> bytes:
    """An events payload of ``seqs`` crossings by car (in), a second apart, from a minute ago."""
    rows = [
        {"device_id": device, "epoch": 1, "seq": s, "ts": now - 60 - s, "line": line,
         "direction": "in", "class": "car", "track_id": s, "confidence": 0.9}
        for s in seqs
    ]  # fmt: skip
    return json.dumps({"v": 1, "type": "events", "device_id": device, "events": rows}).encode()


def status(device: str, state: str, ts: float, reason: str | None = None) -> bytes:
    body = {"v": 1, "type": "status", "device_id": device, "state": state, "ts": ts}
    return json.dumps(body | ({"reason": reason} if reason else {})).encode()


def telemetry(device: str, ts: float, **metrics: Any) -> bytes:
    body = {"v": 1, "type": "telemetry", "device_id": device, "ts": ts, "metrics": metrics}
    return json.dumps(body).encode()


#: (topic, payload, seconds ago). dev-1: 12 crossings (one message twice), online, telemetry;
#: dev-2: 3 crossings, degraded; dev-3 (site-b): stopped long ago; three rejects.
def messages(now: float) -> list[tuple[str, bytes, float]]:
    """Every message, dated from ``now``."""
    return [
        ("edge/v1/site-a/dev-1/events/L1", events(now, "dev-1", range(10)), 30),
        ("edge/v1/site-a/dev-1/events/L1", events(now, "dev-1", range(10, 12)), 20),
        # the same message again (redelivered): duplicates
        ("edge/v1/site-a/dev-1/events/L1", events(now, "dev-1", range(10, 12)), 19),
        ("edge/v1/site-a/dev-1/status", status("dev-1", "online", now - 25), 25),
        ("edge/v1/site-a/dev-1/telemetry",
         telemetry("dev-1", now - 5, outbox_depth=7, outbox_dropped=2,
                   outbox_oldest_unsent_age_s=4.5), 5),
        ("edge/v1/site-a/dev-2/events/L2", events(now, "dev-2", range(3), "L2"), 40),
        ("edge/v1/site-a/dev-2/status", status("dev-2", "degraded", now - 40, "camera_lost"), 40),
        ("edge/v1/site-b/dev-3/status", status("dev-3", "stopped", now - 4000), 4000),
        ("edge/v1/site-a/dev-1/events/L1", b"not json", 3),
        ("edge/v1/site-a/dev-2/status", status("dev-2", "online", now + 7200), 3),  # future_ts
        # the payload's device disagrees with the topic's
        ("edge/v1/site-a/dev-1/events/L1", events(now, "dev-9", range(2)), 2),
    ]  # fmt: skip


#: the store, the writer that fed it and the time its messages are dated from.
Fed = tuple[Store, Writer, float]
MESSAGES = 11
CROSSINGS = 15
DUPLICATES = 2


@pytest.fixture
def fed(tmp_path: Path) -> Iterator[Fed]:
    """A store fed every message of ``messages`` by the collector's own writer thread."""
    store = open_store(f"sqlite:///{tmp_path / 'metrics.db'}")
    store.migrate()
    inbox: queue.Queue[Delivery] = queue.Queue()
    writer = Writer(store, inbox, lambda batch: None, max_messages=3)
    writer.start()
    now = time.time()
    for mid, (topic, payload, ago) in enumerate(messages(now), 1):
        inbox.put(Delivery(Received(topic, payload, now - ago), mid, 1, 0))
    deadline = time.monotonic() + 60  # on the count: Writer.drain can end early when starved
    while writer.stats.messages < MESSAGES and time.monotonic() < deadline:
        time.sleep(0.02)
    assert writer.stats.messages == MESSAGES, "the writer did not store every message"
    yield store, writer, now
    writer.stop()
    store.close()


def _client(store: Store, writer: Writer | None, **overrides: Any) -> TestClient:
    cfg = load_collector_config(None, {"queues": QUEUES, **overrides})
    # Collector.stats(): the writer's figures and the subscriber's (no broker here; the
    # integration test scrapes a whole collector).
    link = {"queued": 0, "connected": True, "dropped_qos0": 0, "client_id": "unit"}
    stats = None if writer is None else (lambda: dataclasses.asdict(writer.stats) | link)
    return TestClient(create_app(store, cfg, stats))


Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


def scrape(client: TestClient, **headers: str) -> Samples:
    """``GET /metrics`` parsed: sample name -> sorted label pairs -> value."""
    r = client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    out: Samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def dev(device: str, site: str = "site-a", **more: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({"device": device, "site": site, **more}.items()))


def test_metrics_count_what_this_process_ingested_and_the_database_holds(
    fed: Fed,
) -> None:
    store, writer, now = fed
    m = scrape(_client(store, writer))
    assert m["edge_collector_events_total"][()] == CROSSINGS
    assert m["edge_collector_events_duplicate_total"][()] == DUPLICATES
    assert m["edge_collector_messages_total"][()] == MESSAGES
    assert m["edge_collector_rejected_total"][()] == 3
    assert m["edge_collector_inbox_messages"][()] == 0
    assert m["edge_collector_db_events_stored_total"][()] == CROSSINGS
    assert m["edge_collector_device_events_stored_total"] == {
        dev("dev-1"): 12,
        dev("dev-2"): 3,
    }
    assert m["edge_collector_db_rejects_total"] == {
        (("code", "future_ts"),): 1,
        (("code", "invalid"),): 2,
    }
    newest = m["edge_collector_db_newest_message_age_seconds"][()]
    assert 5 <= newest <= 5 + (time.time() - now), "dev-1's telemetry (rejects are no news)"


def test_per_device_last_seen_health_and_outbox(fed: Fed) -> None:
    store, writer, now = fed
    m = scrape(_client(store, writer))
    ages = m["edge_collector_device_last_seen_age_seconds"]
    assert set(ages) == {dev("dev-1"), dev("dev-2"), dev("dev-3", "site-b")}
    assert 5 <= ages[dev("dev-1")] <= 5 + (time.time() - now), "its telemetry, 5 s before now"
    assert ages[dev("dev-3", "site-b")] >= 4000
    seen = m["edge_collector_device_last_seen_timestamp_seconds"]
    assert seen[dev("dev-1")] == pytest.approx(now - 5)
    health = m["edge_collector_device_health"]
    current = {k: v for k, v in health.items() if v == 1}
    assert current == {
        dev("dev-1", health="online"): 1,
        dev("dev-2", health="degraded"): 1,
        dev("dev-3", "site-b", health="stopped"): 1,
    }
    assert len(health) == 3 * 6, "one series per device and health word"
    assert m["edge_collector_device_outbox_depth"] == {dev("dev-1"): 7}
    assert m["edge_collector_device_outbox_dropped"] == {dev("dev-1"): 2}
    assert m["edge_collector_device_outbox_oldest_unsent_age_seconds"] == {dev("dev-1"): 4.5}
    assert 5 <= m["edge_collector_device_telemetry_age_seconds"][dev("dev-1")] < 60


def test_queue_figures_match_the_queues_endpoint(fed: Fed) -> None:
    store, writer, _ = fed
    client = _client(store, writer)
    m = scrape(client)
    (q,) = client.get("/api/v1/queues").json()
    key = (("direction", "in"), ("queue", "inbound"), ("site", "site-a"))
    assert m["edge_collector_queue_in_system"][key] == q["in_system"] == 1 + 12 - 3
    assert m["edge_collector_queue_exit_rate_per_minute"][key] == pytest.approx(
        q["exit_rate_per_min"]
    )
    assert key in m["edge_collector_queue_expected_wait_seconds"]


def test_metrics_follow_the_api_token_and_stay_out_of_the_openapi(
    fed: Fed,
) -> None:
    store, writer, _ = fed
    client = _client(store, writer, **{"http.token": "s3cret-token"})
    assert client.get("/metrics").status_code == 401
    bad = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.headers["www-authenticate"] == "Bearer"
    m = scrape(client, Authorization="Bearer s3cret-token")
    assert m["edge_collector_events_total"][()] == CROSSINGS
    spec = client.get("/openapi.json").json()
    assert "/metrics" not in spec["paths"] and "/api/v1/totals" in spec["paths"]


def test_without_a_writer_only_the_database_figures_are_served(
    fed: Fed,
) -> None:
    store, _, _ = fed
    m = scrape(_client(store, None))
    assert "edge_collector_events_total" not in m
    assert m["edge_collector_db_events_stored_total"][()] == CROSSINGS
    assert dev("dev-1") in m["edge_collector_device_last_seen_age_seconds"]


ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def test_example_alert_rules_parse_and_use_only_metrics_the_collector_serves(
    fed: Fed,
) -> None:
    store, writer, _ = fed
    served = set(scrape(_client(store, writer)))
    rules = yaml.safe_load((ALERTS / "alerts.yml").read_text(encoding="utf-8"))
    alerts = {r["alert"]: r for g in rules["groups"] for r in g["rules"]}
    wanted = {"EdgeDeviceSilent", "EdgeOutboxGrowing", "EdgeRejects", "EdgeIngestLag"}
    assert wanted <= set(alerts)
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert rule["annotations"]["summary"], name
        used = set(re.findall(r"\bedge_collector_\w+", rule["expr"]))
        assert used <= served, f"{name} uses {used - served}, which /metrics does not serve"
    assert "600" in alerts["EdgeDeviceSilent"]["expr"], "10 minutes"


def test_example_alert_rules_pass_their_promtool_unit_tests() -> None:
    """``promtool test rules``: each alert fires (or not) on synthetic series as documented."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (apt-get install prometheus); YAML checked above")
    for args in (["check", "rules", "alerts.yml"], ["test", "rules", "alerts_test.yml"]):
        done = subprocess.run(
            [promtool, *args], cwd=ALERTS, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
