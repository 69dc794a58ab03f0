#!/usr/bin/env python3
"""Simulate a fleet of counting devices publishing crossings, and measure the collector.

Publishes ``--devices`` devices x ``--events`` crossings in the wire format (batches of
``--batch`` crossings per message, QoS 1, at ``--rate`` events/s in all, 0 = as fast as the
broker takes them), plus a retained ``online`` status and one telemetry message per device.
With ``--db`` it then waits until the collector's database holds every crossing and reports
the sustained ingest rate (first publish to last crossing stored) and the loss (must be 0).
With ``--api`` it times typical API queries at that data size.

Example (a collector already running against the same broker and database)::

    scripts/simulate_fleet.py --mqtt mqtt://127.0.0.1:1883 --devices 20 --events 5000 \\
        --db postgresql://postgres@127.0.0.1/collector --api http://127.0.0.1:8080
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

CLASSES = ("person", "car", "car", "car", "truck", "bus", "bicycle", "motorcycle")


@dataclass(frozen=True)
class Fleet:
    """What to publish: ``devices`` devices of ``sites`` sites, ``events`` crossings each."""

    devices: int = 5
    events: int = 1000
    batch: int = 50
    sites: int = 1
    lines: tuple[str, ...] = ("L1",)
    prefix: str = "edge"
    epoch: int = 1
    span_s: float = 3600.0
    end_ts: float | None = None
    seed: int = 1

    def device_id(self, i: int) -> str:
        """Name of device ``i``."""
        return f"dev-{i:03d}"

    def site(self, i: int) -> str:
        """Site of device ``i``."""
        return f"site-{i % self.sites + 1}"

    @property
    def total(self) -> int:
        """Crossings in all."""
        return self.devices * self.events


def messages(fleet: Fleet) -> list[tuple[str, bytes]]:
    """Every (topic, payload) of the fleet's crossings, devices interleaved, times spread
    evenly over the ``span_s`` seconds before ``end_ts`` (default now)."""
    rng = random.Random(fleet.seed)
    end = fleet.end_ts if fleet.end_ts is not None else time.time()
    per_device: list[list[tuple[str, bytes]]] = []
    for d in range(fleet.devices):
        dev, site, out = fleet.device_id(d), fleet.site(d), []
        for first in range(0, fleet.events, fleet.batch):
            line = fleet.lines[(first // fleet.batch) % len(fleet.lines)]
            events = [
                {
                    "device_id": dev,
                    "epoch": fleet.epoch,
                    "seq": seq,
                    "ts": end - fleet.span_s * (1 - seq / fleet.events),
                    "line": line,
                    "direction": rng.choice(("in", "out")),
                    "class": rng.choice(CLASSES),
                    "track_id": seq,
                    "confidence": round(rng.uniform(0.3, 1.0), 3),
                }
                for seq in range(first, min(first + fleet.batch, fleet.events))
            ]
            body = {"v": 1, "type": "events", "device_id": dev, "events": events}
            out.append((f"{fleet.prefix}/v1/{site}/{dev}/events/{line}", json.dumps(body).encode()))
        per_device.append(out)
    longest = max((len(g) for g in per_device), default=0)
    return [g[i] for i in range(longest) for g in per_device if i < len(g)]


def connect(url: str, client_id: str = "") -> mqtt.Client:
    """A connected MQTT v5 publisher with a wide in-flight window."""
    parts = urlsplit(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(500)
    client.max_queued_messages_set(0)
    client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
    client.loop_start()
    return client


def publish_status(client: mqtt.Client, fleet: Fleet) -> None:
    """A retained ``online`` status and one telemetry message per device."""
    now = time.time()
    for d in range(fleet.devices):
        dev, site = fleet.device_id(d), fleet.site(d)
        base = f"{fleet.prefix}/v1/{site}/{dev}"
        status = {"v": 1, "type": "status", "device_id": dev, "state": "online", "ts": now}
        tele = {
            "v": 1,
            "type": "telemetry",
            "device_id": dev,
            "ts": now,
            "metrics": {"fps_processed": 7.5, "outbox_depth": 0},
        }
        client.publish(f"{base}/status", json.dumps(status), qos=1, retain=True).wait_for_publish()
        client.publish(f"{base}/telemetry", json.dumps(tele), qos=1).wait_for_publish()


def publish(client: mqtt.Client, msgs: list[tuple[str, bytes]], rate: float, batch: int) -> float:
    """Publish at ``rate`` events/s (0: unthrottled); wait for every PUBACK; return seconds."""
    t0 = time.perf_counter()
    infos = []
    for i, (topic, payload) in enumerate(msgs):
        if rate > 0:
            due = t0 + i * batch / rate
            time.sleep(max(0.0, due - time.perf_counter()))
        infos.append(client.publish(topic, payload, qos=1))
    for info in infos:
        info.wait_for_publish(timeout=120)
    return time.perf_counter() - t0


def stored(db_url: str) -> tuple[int, int]:
    """(rows in events, sum of all-time aggregates) in the collector's database."""
    sql = "SELECT (SELECT COUNT(*) FROM events), (SELECT COALESCE(SUM(n), 0) FROM counts_total)"
    if db_url.startswith("sqlite:///"):
        import sqlite3

        with sqlite3.connect(db_url.removeprefix("sqlite:///"), timeout=30) as conn:
            row = conn.execute(sql).fetchone()
    else:
        import psycopg

        with psycopg.connect(db_url) as conn:
            row = conn.execute(sql).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def wait_stored(db_url: str, expected: int, timeout_s: float, quiet_s: float = 0.0) -> float:
    """Seconds until the database holds ``expected`` crossings (or the timeout)."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout_s:
        if stored(db_url)[0] >= expected:
            break
        time.sleep(0.05)
    time.sleep(quiet_s)
    return time.perf_counter() - t0


def api_latency(api: str, fleet: Fleet, repeats: int = 20) -> dict[str, dict[str, float]]:
    """p50/p95 milliseconds of typical dashboard queries."""
    queries = {
        "counts 24h/15m by direction,category": "/api/v1/counts?bucket=15m&site=site-1",
        "counts 24h/1h by device,line,class": "/api/v1/counts?bucket=1h&group_by=device,line,class",
        "counts 7d/1d": f"/api/v1/counts?bucket=1d&start={int(time.time()) - 7 * 86400}",
        "today by direction,category": "/api/v1/today?site=site-1",
        "totals (all devices)": "/api/v1/totals",
        "devices": "/api/v1/devices",
        "counts.csv 24h/5m": "/api/v1/counts.csv?bucket=5m&group_by=device,direction",
        "hourly today (UTC)": "/api/v1/hourly?site=site-1&tz=UTC",
        "hourly.csv today (UTC)": "/api/v1/hourly.csv?site=site-1&tz=UTC",
    }
    out = {}
    for name, path in queries.items():
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            with urllib.request.urlopen(api + path, timeout=30) as resp:
                resp.read()
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        out[name] = {
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[int(len(times) * 0.95) - 1], 1),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    """Publish, then (with --db) measure ingest and (with --api) query latency."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mqtt", default="mqtt://127.0.0.1:1883")
    p.add_argument("--devices", type=int, default=5)
    p.add_argument("--events", type=int, default=1000, help="crossings per device")
    p.add_argument("--batch", type=int, default=50, help="crossings per message")
    p.add_argument("--rate", type=float, default=0.0, help="events/s in all; 0 = max")
    p.add_argument("--sites", type=int, default=1)
    p.add_argument("--lines", default="L1,L2")
    p.add_argument("--epoch", type=int, default=1)
    p.add_argument("--span-s", type=float, default=3600.0, help="event times spread over")
    p.add_argument("--prefix", default="edge")
    p.add_argument("--db", help="collector database URL, to measure ingest and loss")
    p.add_argument("--api", help="collector base URL, to time queries")
    p.add_argument("--timeout-s", type=float, default=600.0)
    a = p.parse_args(argv)
    fleet = Fleet(
        a.devices,
        a.events,
        a.batch,
        a.sites,
        tuple(a.lines.split(",")),
        a.prefix,
        a.epoch,
        a.span_s,
    )
    msgs = messages(fleet)
    before = stored(a.db)[0] if a.db else 0
    client = connect(a.mqtt)
    publish_status(client, fleet)
    t0 = time.perf_counter()
    pub_s = publish(client, msgs, a.rate, a.batch)
    report: dict[str, Any] = {
        "events": fleet.total,
        "messages": len(msgs),
        "publish_s": round(pub_s, 2),
        "publish_events_per_s": round(fleet.total / pub_s),
    }
    if a.db:
        wait_stored(a.db, before + fleet.total, a.timeout_s)
        total_s = time.perf_counter() - t0
        rows, agg = stored(a.db)
        report |= {
            "ingest_s": round(total_s, 2),
            "ingest_events_per_s": round(fleet.total / total_s),
            "stored_rows": rows,
            "aggregate_sum": agg,
            "lost": before + fleet.total - rows,
        }
    if a.api:
        report["api_latency"] = api_latency(a.api.rstrip("/"), fleet)
    client.disconnect()
    client.loop_stop()
    print(json.dumps(report, indent=2))
    return 0 if report.get("lost", 0) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
