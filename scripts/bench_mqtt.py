#!/usr/bin/env python3
"""Benchmark the outbox + MQTT publisher on loopback: sustained crossings/s and latency.

Two phases against a fresh embedded Mosquitto (or ``--url``):

* throughput: one thread appends ``--burst`` crossings as fast as the outbox commits them
  (each one fsynced), the publisher drains concurrently; reported are the append rate and the
  end-to-end rate until a subscriber has received every crossing.
* latency: crossings appended at ``--rate`` per second; latency is from just before
  ``Outbox.append`` to receipt at a QoS 1 subscriber (same clock), p50/p99/max.

Usage: ``python scripts/bench_mqtt.py [--burst 5000] [--rate 50] [--seconds 20] [--out F]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from edge import __version__, wire
from edge.config import DeviceConfig, MqttConfig, OutboxConfig
from edge.outbox import Outbox
from edge.publish import StatusInfo
from edge.publish.mqtt import MqttPublisher
from edge.publish.subscriber import Subscriber
from edge.tools.broker import EmbeddedBroker, free_port
from edge.types import Crossing

DEVICE = DeviceConfig(id="bench", site="lab")


def receive(sub: Subscriber, n: int, timeout_s: float) -> dict[int, float]:
    """seq -> first receipt time (UTC s) until ``n`` distinct seqs or ``timeout_s``."""
    got: dict[int, float] = {}
    deadline = time.monotonic() + timeout_s
    while len(got) < n and time.monotonic() < deadline:
        item = sub.get(0.2)
        if item is None:
            continue
        _, msg = wire.decode_for_topic(item[0], item[1])
        if isinstance(msg, wire.EventsMsg):
            for e in msg.events:
                got.setdefault(e.seq, item[2])
    return got


def throughput(box: Outbox, sub: Subscriber, n: int) -> dict[str, float]:
    """Append ``n`` crossings flat out; time the appends and the full delivery."""
    first = box.totals().last_seq + 1
    t0 = time.monotonic()
    done = threading.Event()
    append_s = [0.0]

    def produce() -> None:
        for i in range(n):
            box.append(Crossing("L1", "in", "car", i, 0.0, 0.9), time.time())
        append_s[0] = time.monotonic() - t0
        done.set()

    threading.Thread(target=produce, daemon=True).start()
    got = receive(sub, n, timeout_s=120)
    total_s = time.monotonic() - t0
    done.wait(60)
    missing = n - len([s for s in got if s >= first])
    return {
        "crossings": n,
        "append_per_s": round(n / append_s[0], 1),
        "delivered_per_s": round(n / total_s, 1),
        "missing": missing,
    }


def latency(box: Outbox, sub: Subscriber, rate: float, seconds: float) -> dict[str, float]:
    """Append at ``rate``/s for ``seconds``; latency append-call -> subscriber receipt."""
    sent: dict[int, float] = {}
    n = int(rate * seconds)
    period = 1.0 / rate
    results: dict[int, float] = {}
    rx = threading.Thread(target=lambda: results.update(receive(sub, n, seconds + 30)))
    rx.start()
    next_t = time.monotonic()
    for i in range(n):
        t = time.time()
        rec = box.append(Crossing("L1", "out", "person", i, 0.0, 0.9), t)
        sent[rec.seq] = t
        next_t += period
        time.sleep(max(0.0, next_t - time.monotonic()))
    rx.join()
    ms = sorted((results[s] - t) * 1000 for s, t in sent.items() if s in results)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {
        "rate_per_s": rate,
        "samples": len(ms),
        "missing": n - len(ms),
        "p50_ms": round(q[49], 1),
        "p99_ms": round(q[98], 1),
        "max_ms": round(ms[-1], 1),
    }


def main() -> int:
    """Run both phases, print the figures and write them as JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", help="existing broker (default: a fresh embedded Mosquitto)")
    ap.add_argument("--burst", type=int, default=5000)
    ap.add_argument("--rate", type=float, default=50.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--state-dir", type=Path, help="outbox folder (default: a temp dir)")
    ap.add_argument("--out", type=Path, default=Path("bench_mqtt.json"))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-mqtt-"))
    broker = None
    if args.url is None:
        broker = EmbeddedBroker(work / "broker", free_port())
        broker.start()
    cfg = MqttConfig(url=broker.url if broker is not None else args.url)
    sub = Subscriber(cfg, [wire.subscription(cfg.topic_prefix, "events")])
    sub.start()
    box = Outbox.open((args.state_dir or work) / "outbox.sqlite", DEVICE.id, OutboxConfig())
    pub = MqttPublisher(cfg, DEVICE, box, StatusInfo(__version__))
    pub.start()
    try:
        report = {
            "throughput": throughput(box, sub, args.burst),
            "latency": latency(box, sub, args.rate, args.seconds),
            "outbox_dir": str(args.state_dir or work),
            "max_inflight": cfg.max_inflight,
        }
    finally:
        pub.stop()
        sub.stop()
        box.close()
        if broker is not None:
            broker.stop()
    t, lat = report["throughput"], report["latency"]
    print(
        f"throughput: {t['append_per_s']} crossings/s journaled (fsync each), "
        f"{t['delivered_per_s']} crossings/s delivered end to end, missing {t['missing']}"
    )
    print(
        f"latency at {lat['rate_per_s']:g}/s: p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms, "
        f"max {lat['max_ms']} ms over {lat['samples']} crossings, missing {lat['missing']}"
    )
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0 if t["missing"] == 0 and lat["missing"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
