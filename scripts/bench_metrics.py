"""Scrape cost of the collector's ``/metrics``: a fleet's reports and crossings written
through the collector's own writer into a fresh PostgreSQL database, then timed scrapes.

    python scripts/bench_metrics.py [--pg postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import json
import queue
import statistics
import time
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from edge.collector.api import create_app
from edge.collector.config import load_collector_config
from edge.collector.ingest import Received
from edge.collector.store import Store, open_store
from edge.collector.subscriber import Delivery
from edge.collector.writer import Writer

DEVICES, CHUNKS, PER_CHUNK, REJECTS, QUEUES = 50, 20, 100, 1000, 3


def _fill(store: Store, now: float) -> int:
    inbox: queue.Queue[Delivery] = queue.Queue()
    writer = Writer(store, inbox, lambda batch: None)
    writer.start()
    mid = 0

    def put(topic: str, body: dict[str, Any]) -> None:
        nonlocal mid
        mid += 1
        inbox.put(Delivery(Received(topic, json.dumps(body).encode(), time.time()), mid, 1, 0))

    for d in range(DEVICES):
        dev, base = f"cam-{d:02d}", f"edge/v1/site-{d % 5}/cam-{d:02d}"
        head = {"v": 1, "device_id": dev, "ts": now}
        put(f"{base}/status", {**head, "type": "status", "state": "online"})
        figures = {"outbox_depth": d, "outbox_dropped": 0}
        put(f"{base}/telemetry", {**head, "type": "telemetry", "metrics": figures})
        for chunk in range(CHUNKS):
            seqs = range(chunk * PER_CHUNK, (chunk + 1) * PER_CHUNK)
            events = [
                {"device_id": dev, "epoch": 1, "seq": s, "ts": now - 86_400 + s * 40,
                 "line": "L1", "direction": "in" if s % 2 else "out",
                 "class": ("car", "person", "truck")[s % 3], "track_id": s, "confidence": 0.9}
                for s in seqs
            ]  # fmt: skip
            put(f"{base}/events/L1", {"v": 1, "type": "events", "device_id": dev, "events": events})
    for i in range(REJECTS):
        put("edge/v1/site-0/cam-00/events/L1", {"garbage": i})
    # Wait on the count, not Writer.drain: drain can return early on a starved machine.
    deadline = time.monotonic() + 600
    while writer.stats.messages < mid and time.monotonic() < deadline:
        time.sleep(0.1)
    writer.stop()
    assert writer.stats.messages == mid, f"stored {writer.stats.messages} of {mid} messages"
    return writer.stats.events_inserted


def main() -> None:
    """Fill ``metrics_bench``, scrape 30 times, print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = ap.parse_args()
    with psycopg.connect(args.pg, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS metrics_bench WITH (FORCE)")
        admin.execute("CREATE DATABASE metrics_bench")
    store = open_store(args.pg.rsplit("/", 1)[0] + "/metrics_bench")
    store.migrate()
    now = time.time()
    crossings = _fill(store, now)
    queues = {
        f"q{i}": {"site": f"site-{i}", "since": now - 86_400,
                  "entry": {"device": f"cam-{i:02d}", "line": "L1", "direction": "in"},
                  "exit": {"device": f"cam-{i + 10:02d}", "line": "L1", "direction": "in"}}
        for i in range(QUEUES)
    }  # fmt: skip
    client = TestClient(create_app(store, load_collector_config(None, {"queues": queues})))
    times_ms = []
    for _ in range(30):
        t0 = time.perf_counter()
        body = client.get("/metrics").text
        times_ms.append((time.perf_counter() - t0) * 1000)
    store.close()
    print(
        f"{DEVICES} devices, {crossings} crossings, {REJECTS} rejects, {QUEUES} queues: "
        f"{len(body.encode())} bytes, {body.count(chr(10))} lines; scrape p50 "
        f"{statistics.median(times_ms):.1f} ms, max {max(times_ms):.1f} ms"
    )


if __name__ == "__main__":
    main()
