"""``edge-counter collector``: run the central collector (MQTT -> database -> HTTP)."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from edge.collector.config import load_collector_config
from edge.collector.service import Collector, split_host_port

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags override the matching fields of ``--config``."""
    parser.add_argument("--config", type=Path, help="collector TOML file (docs/collector.md)")
    parser.add_argument("--mqtt", metavar="URL", help="broker, mqtt://HOST:PORT or mqtts://")
    parser.add_argument("--http", metavar="HOST:PORT", help="API and dashboard address")
    parser.add_argument("--db", metavar="URL", help="sqlite:///PATH or postgresql://...")
    parser.add_argument("--share-group", metavar="G", help="MQTT v5 shared subscription group")
    parser.add_argument("--prefix", metavar="P", help="topic prefix (default edge)")
    parser.add_argument("--client-id", metavar="ID", help="MQTT client id, unique per copy")
    parser.add_argument("--no-http", action="store_true", help="ingest only, no API")


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    pairs = (
        ("mqtt.url", args.mqtt), ("store.url", args.db), ("mqtt.share_group", args.share_group),
        ("mqtt.topic_prefix", args.prefix), ("mqtt.client_id", args.client_id),
    )  # fmt: skip
    out.update({k: v for k, v in pairs if v is not None})
    if args.http:
        out["http.host"], out["http.port"] = split_host_port(args.http)
    return out


def run(args: argparse.Namespace) -> int:
    """Run until SIGTERM or SIGINT; exit 1 once a part of the collector fails."""
    cfg = load_collector_config(args.config, _overrides(args))
    collector = Collector(cfg, serve_http=not args.no_http)
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    collector.start()
    log.warning("collector running; API and dashboard at %s", collector.http_url)
    failure = supervise(collector, stop)
    if failure is not None:
        log.error("collector failed, stopping: %s: %s", type(failure).__name__, failure)
    collector.stop()
    log.info("collector stopped: %s", collector.stats())
    return 1 if failure is not None else 0


def supervise(
    collector: Collector, stop: threading.Event, tick_s: float = 0.25
) -> BaseException | None:
    """Poll ``collector.failure()`` every ``tick_s`` until ``stop`` is set or a part fails."""
    while not stop.wait(tick_s):
        failure = collector.failure()
        if failure is not None:
            return failure
    return None
