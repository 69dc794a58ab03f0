"""``edge-counter replay``: count crossings in a recorded video, exactly as the device would."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from edge import app
from edge.config import (
    AppConfig,
    DetectorConfig,
    default_models_dir,
    load_config,
    parse_config,
    parse_line_option,
    parse_zone_option,
)
from edge.errors import ConfigError


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the replay command."""
    p.add_argument("video", type=Path, help="recorded video file")
    p.add_argument("--config", type=Path, help="TOML config (lines, detector, tracker)")
    p.add_argument(
        "--line",
        action="append",
        default=[],
        metavar="NAME:AX,AY,BX,BY",
        help="counting line in frame pixels; in = left side of A->B to its right side",
    )
    p.add_argument(
        "--zone",
        action="append",
        default=[],
        metavar="NAME:X1,Y1,X2,Y2,X3,Y3,...",
        help="queue zone (polygon in frame pixels): occupancy, dwell, queue and wait in the JSON",
    )
    p.add_argument("--model", help="model name in the models dir, or a manifest/.onnx path")
    p.add_argument("--models-dir", type=Path, default=None, help="default: ./models")
    p.add_argument("--detect-fps", type=float, help="detect at this rate (emulate a slower device)")
    p.add_argument("--roi", metavar="X1,Y1,X2,Y2", help="detect on this crop of the frame")
    p.add_argument("--threads", type=int, help="onnxruntime threads")
    p.add_argument("--json", action="store_true", help="print counts as JSON on stdout")
    p.add_argument("--annotate", type=Path, metavar="OUT.mp4", help="write an annotated video")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument(
        "--start-utc",
        metavar="ISO8601",
        help="when the recording started, e.g. 2026-12-04T08:00:00+04:00 (default: the "
        "file's modification time minus its duration)",
    )
    g = p.add_argument_group("publishing (optional): journal and ship every crossing over MQTT")
    g.add_argument("--mqtt", metavar="URL", help="broker, mqtt://HOST:PORT or mqtts://HOST:PORT")
    g.add_argument(
        "--delivery",
        choices=("collector", "broker"),
        help="a crossing is delivered once the collector acks it (default) or the broker does",
    )
    g.add_argument("--state-dir", type=Path, help="where the outbox lives (default: config)")
    g.add_argument("--device-id", help="device id in topics and events (default: config)")
    g.add_argument("--site", help="site id in topics (default: config)")
    g.add_argument(
        "--drain-timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="at the end, wait this long for the broker to acknowledge everything",
    )


def _detector_overrides(args: argparse.Namespace, base: DetectorConfig) -> dict[str, object]:
    over: dict[str, object] = base.model_dump()
    if args.model:
        over["model"] = args.model
    if args.detect_fps is not None:
        over["detect_fps"] = args.detect_fps
    if args.threads is not None:
        over["threads"] = args.threads
    if args.roi:
        try:
            over["roi_xyxy"] = tuple(int(v) for v in args.roi.split(","))
        except ValueError:
            raise ConfigError(f"--roi {args.roi!r}: expected four integers X1,Y1,X2,Y2") from None
    return over


def _device_overrides(args: argparse.Namespace, data: dict[str, Any]) -> None:
    """Apply --device-id, --site, --state-dir and --mqtt onto a config tree."""
    device = data["device"]
    for key, value in (("id", args.device_id), ("site", args.site), ("state_dir", args.state_dir)):
        if value is not None:
            device[key] = value
    if args.mqtt:
        data["mqtt"] = {**(data.get("mqtt") or {}), "url": args.mqtt}
    if args.delivery:
        data["mqtt"] = {**(data.get("mqtt") or {}), "delivery": args.delivery}


def effective_config(args: argparse.Namespace) -> AppConfig:
    """The config file (if any) with command-line options applied on top.

    Raises:
        ConfigError: an invalid option or file, or no counting line at all.
    """
    base = load_config(args.config) if args.config else AppConfig()
    data = base.model_dump()
    data["detector"] = _detector_overrides(args, base.detector)
    if args.line:
        data["lines"] = [parse_line_option(t).model_dump() for t in args.line]
    if args.zone:
        data["zones"] = [parse_zone_option(t).model_dump() for t in args.zone]
    _device_overrides(args, data)
    data["source"] = {"type": "replay", "path": str(args.video), "start_utc": args.start_utc}
    cfg = parse_config(data, str(args.config or "command line"))
    if not cfg.lines:
        raise ConfigError("no counting line: pass --line NAME:AX,AY,BX,BY or [[lines]] in --config")
    return cfg


def _print_text(result: app.Report) -> None:
    for name, dirs in result.totals.items():
        for direction in ("in", "out"):
            counts = ", ".join(f"{k}={v}" for k, v in sorted(dirs[direction].items())) or "-"
            print(f"{name} {direction}: {counts}")
    print(
        f"processed {result.processed_frames} frames in {result.elapsed_s:.1f} s "
        f"({result.fps:.1f} fps), model {result.model}"
    )


def run(args: argparse.Namespace) -> int:
    """Replay the video, publish if asked, and print its counts; exit 0 (1 if a worker died)."""
    cfg = effective_config(args)
    options = app.Options(
        args.models_dir or default_models_dir(),
        annotate=args.annotate,
        progress=not args.no_progress,
        drain_timeout_s=args.drain_timeout,
    )
    result = app.run(cfg, options)
    if result.remaining:
        print(
            f"edge-counter replay: {result.remaining} crossings not acknowledged within "
            f"{args.drain_timeout:g} s; kept in the outbox for the next start",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps(result.to_json(), sort_keys=True))
    else:
        _print_text(result)
    return result.exit_code
