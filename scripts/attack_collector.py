#!/usr/bin/env python3
"""Measure the collector under oversize and future-dated payloads: its memory and /devices size.

Starts a private Mosquitto, a fresh database and one ``edge-counter collector`` process (the
helpers of ``scripts/bench_collector.py``), publishes ``--count`` telemetry messages of
``--mb`` MB each and one dated 2100, then prints the collector's resident memory (VmRSS and
its peak VmHWM, from /proc) before and after, the size of ``/api/v1/devices`` and the reject
counts, as JSON.

    scripts/attack_collector.py --db sqlite --count 3 --mb 50
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

HERE = Path(__file__).resolve().parent


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_collector", HERE / "bench_collector.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process, in MB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


def attack(port: int, count: int, size_mb: int) -> None:
    """Publish ``count`` oversize telemetry messages, one dated 2100 and one normal one."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", port)
    client.loop_start()
    topic = "edge/v1/site-a/dev-1/telemetry"

    def telemetry(ts: float, **metrics: Any) -> bytes:
        body = {"v": 1, "type": "telemetry", "device_id": "dev-1", "ts": ts, "metrics": metrics}
        return json.dumps(body).encode()

    pad = "x" * (size_mb * 1_000_000)
    for _ in range(count):
        client.publish(topic, telemetry(time.time(), pad=pad), qos=1).wait_for_publish(120)
    del pad
    client.publish(topic, telemetry(4_102_444_800.0, fps=1.0), qos=1).wait_for_publish()
    client.publish(topic, telemetry(time.time(), fps=9.0), qos=1).wait_for_publish()
    client.disconnect()
    client.loop_stop()


def measure(bench: ModuleType, db: str, count: int, size_mb: int) -> dict[str, Any]:
    """Set up, attack, read the figures, tear down."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        port, http_port = bench.free_port(), bench.free_port()
        broker = bench.start_broker(workdir, port)
        db_url, db_name = bench.make_db(db, workdir)
        (collector,) = bench.start_collectors(1, f"mqtt://127.0.0.1:{port}", db_url, http_port)
        api = f"http://127.0.0.1:{http_port}/api/v1"
        try:
            before = memory_mb(collector.pid)
            attack(port, count, size_mb)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                rejects = httpx.get(f"{api}/rejects", params={"limit": 0}).json()
                if rejects["total"] >= count + 1:
                    break
                time.sleep(0.2)
            time.sleep(1.0)
            devices = httpx.get(f"{api}/devices")
            return {
                "db": db, "payloads": count, "payload_mb": size_mb,
                "collector_mb_before": before, "collector_mb_after": memory_mb(collector.pid),
                "devices_bytes": len(devices.content), "rejects": rejects["by_code"],
            }  # fmt: skip
        finally:
            collector.terminate()
            collector.wait(30)
            broker.terminate()
            broker.wait(10)
            bench.drop_db(db_name)


def main() -> int:
    """Parse flags, measure, print JSON."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--count", type=int, default=3)
    p.add_argument("--mb", type=int, default=50)
    args = p.parse_args()
    print(json.dumps(measure(_bench(), args.db, args.count, args.mb), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
