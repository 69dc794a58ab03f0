"""``edge-counter demo``: an embedded broker, a collector on SQLite, and a replay publishing to it.

The whole product on one machine: the replay journals each crossing, the publisher ships it
over a real MQTT broker, the collector stores it exactly once, and the totals are read back
from the collector's HTTP API and printed beside the replay's own.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import urllib.request
from pathlib import Path

from edge.broker import EmbeddedBroker, free_port
from edge.collector.config import load_collector_config
from edge.collector.service import Collector, split_host_port
from edge.config import AppConfig, DeviceConfig, MqttConfig, default_data_dir, default_models_dir
from edge.errors import ConfigError
from edge.evaluate import load_clip
from edge.replay import Totals, replay
from edge.uplink import Uplink

DEFAULT_CLIP = "road_cctv_vehicles"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the demo command."""
    p.add_argument("--clip", default=DEFAULT_CLIP, help="sample clip folder under data/videos")
    p.add_argument("--model", help="detector model (default: the device default)")
    p.add_argument("--detect-fps", type=float, help="detect at this rate")
    p.add_argument("--http", default="127.0.0.1:8080", help="dashboard address (port 0: any)")
    p.add_argument("--workdir", type=Path, help="broker, outbox and database (default: temp)")
    p.add_argument("--keep-running", action="store_true", help="serve the dashboard until Ctrl-C")


def _collector_totals(http_url: str, expected: int, timeout_s: float = 30.0) -> Totals:
    """Poll ``/api/v1/totals`` until the collector holds ``expected`` crossings."""
    deadline = time.monotonic() + timeout_s
    while True:
        with urllib.request.urlopen(f"{http_url}/api/v1/totals", timeout=5) as resp:
            devices = json.load(resp)["devices"]
        lines: Totals = devices[next(iter(devices))]["lines"] if devices else {}
        stored = sum(n for d in lines.values() for c in d.values() for n in c.values())
        if stored >= expected or time.monotonic() > deadline:
            return lines
        time.sleep(0.2)


def _print_totals(replayed: Totals, stored: Totals) -> None:
    print(f"{'line':<6} {'dir':<4} {'class':<11} {'replay':>7} {'collector':>10}")
    for line, dirs in replayed.items():
        for direction, per_class in dirs.items():
            got = stored.get(line, {}).get(direction, {})
            for cls in sorted(set(per_class) | set(got)):
                print(
                    f"{line:<6} {direction:<4} {cls:<11} {per_class.get(cls, 0):>7} "
                    f"{got.get(cls, 0):>10}"
                )


def _config(args: argparse.Namespace, workdir: Path, mqtt_url: str) -> AppConfig:
    clip_dir = default_data_dir() / "videos" / args.clip
    if not (clip_dir / "clip.json").exists():
        raise ConfigError(f"{clip_dir}: no such sample clip (run: edge-counter assets fetch)")
    _, lines = load_clip(clip_dir)
    det = AppConfig().detector.model_dump()
    det.update({k: v for k, v in (("model", args.model), ("detect_fps", args.detect_fps)) if v})
    return AppConfig.model_validate({
        "device": DeviceConfig(id="demo-cam-1", site="demo-site", state_dir=workdir / "state"),
        "detector": det, "lines": lines, "mqtt": MqttConfig(url=mqtt_url),
    })  # fmt: skip


def _start_collector(workdir: Path, broker_url: str, http: str) -> Collector:
    host, port = split_host_port(http)
    collector = Collector(load_collector_config(None, {
        "mqtt.url": broker_url, "mqtt.client_id": f"demo-collector-{os.getpid()}",
        "store.url": f"sqlite:///{workdir / 'collector.db'}", "http.host": host, "http.port": port,
    }))  # fmt: skip
    collector.start()
    collector.wait_subscribed(10)
    return collector


def _replay_and_publish(
    args: argparse.Namespace, workdir: Path, broker_url: str, http_url: str
) -> None:
    cfg = _config(args, workdir, broker_url)
    clip = default_data_dir() / "videos" / args.clip / "video.mp4"
    print(f"demo: replaying {clip} -> {broker_url} -> collector {http_url}", flush=True)
    uplink = Uplink(cfg, cfg.detector.label)
    uplink.start()
    try:
        result = replay(clip, cfg, default_models_dir(), uplink.record)
    finally:
        remaining = uplink.finish(60.0)
    stored = _collector_totals(http_url, uplink.journaled - remaining)
    _print_totals(result.lines, stored)
    print(
        f"{result.processed_frames} frames at {result.fps:.1f} fps; "
        f"{uplink.journaled} crossings published, {remaining} left in the outbox"
    )


def run(args: argparse.Namespace) -> int:
    """Run the demo and print replay vs collector totals and the dashboard URL."""
    with tempfile.TemporaryDirectory(prefix="edge-demo-") as tmp:
        workdir = args.workdir or Path(tmp)
        broker = EmbeddedBroker(workdir / "broker", free_port())
        broker.start()
        try:
            collector = _start_collector(workdir, broker.url, args.http)
            try:
                _replay_and_publish(args, workdir, broker.url, str(collector.http_url))
                print(f"dashboard: {collector.http_url}/")
                while args.keep_running:
                    time.sleep(1)
            finally:
                collector.stop()
        finally:
            broker.stop()
    return 0
