"""``edge-counter demo``: the whole product on one machine, on the sample clip or your video.

An embedded MQTT broker, the collector on SQLite with its dashboard, and a replay that
journals each crossing and publishes it over MQTT exactly as a device does. The counts are
read back from the collector's HTTP API and printed beside the replay's own (and beside the
clip's hand count, where it has one). The dashboard then stays up until Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from edge import app
from edge.collector.config import load_collector_config
from edge.collector.service import Collector, split_host_port
from edge.config import (
    AppConfig,
    LineConfig,
    check_lines_inside,
    default_data_dir,
    default_models_dir,
    load_config,
    parse_config,
    parse_line_option,
)
from edge.errors import ConfigError
from edge.tools.broker import EmbeddedBroker, free_port
from edge.tools.clips import ClipVideo, clip_video, hand_count
from edge.tools.evaluate import load_clip

Totals = dict[str, dict[str, dict[str, int]]]

DEFAULT_CLIP = "road_cctv_vehicles"


@dataclass(frozen=True)
class Scene:
    """What the demo replays: a video, its lines, and the hand count where there is one."""

    video: ClipVideo
    lines: tuple[LineConfig, ...]
    truth: Totals | None
    base: AppConfig


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the demo command."""
    p.description = (
        "Replay the sample clip (or your --video with --line) through the detector, tracker "
        "and counter; publish every crossing over an embedded MQTT broker to the collector; "
        "print the counts of the replay and of the collector side by side, beside the clip's "
        "hand count. The dashboard stays up until Ctrl-C (--exit: stop at once)."
    )
    what = p.add_argument_group("what to replay (default: the sample clip)")
    what.add_argument("--video", type=Path, metavar="FILE", help="your own recorded video")
    what.add_argument(
        "--line",
        action="append",
        default=[],
        metavar="NAME:AX,AY,BX,BY",
        help="counting line in the video's pixels (x right, y down); 'in' = from the left of "
        "A->B to its right as seen on screen. Repeat for more lines",
    )
    what.add_argument("--config", type=Path, metavar="FILE", help="TOML config: lines, detector")
    what.add_argument(
        "--clip", default=DEFAULT_CLIP, metavar="NAME", help="sample clip (default: %(default)s)"
    )
    p.add_argument("--model", metavar="NAME", help="detector model (default: yolox-nano)")
    p.add_argument(
        "--detect-fps", type=float, metavar="FPS", help="detect at this rate (a slower device)"
    )
    p.add_argument(
        "--http",
        default="127.0.0.1:8080",
        metavar="HOST:PORT",
        help="dashboard address (default: %(default)s; port 0: any free port)",
    )
    p.add_argument(
        "--workdir", type=Path, metavar="DIR", help="broker, outbox and database (default: temp)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress on stderr")
    p.add_argument(
        "--exit",
        action="store_true",
        help="stop the dashboard and exit once the counts are printed (scripts, tests); "
        "by default it stays up until Ctrl-C",
    )
    p.add_argument("--keep-running", action="store_true", help=argparse.SUPPRESS)  # the default


def _scene(args: argparse.Namespace) -> Scene:
    """The video, lines and truth from ``--video``/``--config``/``--line``, or the clip.

    Raises:
        ConfigError: no such clip yet, no counting line, or an invalid config or option.
    """
    base = load_config(args.config) if args.config else AppConfig()
    lines = tuple(parse_line_option(t) for t in args.line) or base.lines
    if args.video is not None or (base.source is not None and base.source.type == "replay"):
        if args.video is not None:
            video = ClipVideo(args.video)
        else:
            assert base.source is not None and base.source.type == "replay"
            video = ClipVideo(base.source.path, base.source.start_frame)
        if not lines:
            raise ConfigError(
                "no counting line: pass --line NAME:AX,AY,BX,BY (pixels of the video) or "
                "--config FILE with [[lines]]"
            )
        return Scene(video, lines, None, base)
    clip_dir = default_data_dir() / "videos" / args.clip
    if not (clip_dir / "clip.json").is_file():
        raise ConfigError(
            f"{clip_dir}: the sample clip is not here yet: run `edge-counter assets fetch "
            "--for demo` (or give your own: --video FILE --line NAME:AX,AY,BX,BY)"
        )
    meta, clip_lines = load_clip(clip_dir)
    truth = None if args.line else hand_count(meta)
    return Scene(clip_video(clip_dir), lines or clip_lines, truth, base)


def demo_config(args: argparse.Namespace, scene: Scene, workdir: Path, mqtt_url: str) -> AppConfig:
    """The run's config: the scene's video and lines, publishing to the embedded broker.

    Raises:
        ConfigError: an option makes the config invalid.
    """
    data = scene.base.model_dump()
    detector = data["detector"]
    detector.update(
        {k: v for k, v in (("model", args.model), ("detect_fps", args.detect_fps)) if v}
    )
    # The recording's timeline ends now, so the dashboard's "today" shows it.
    start = datetime.now(UTC) - timedelta(seconds=scene.video.duration_s())
    data.update({
        "device": {**data["device"], "id": "demo-cam-1", "site": "demo-site",
                   "state_dir": workdir / "state"},
        "source": {"type": "replay", "path": scene.video.path, "start_utc": start,
                   "start_frame": scene.video.start_frame},
        "lines": [ln.model_dump() for ln in scene.lines], "mqtt": {"url": mqtt_url},
        # A replay runs as fast as this machine allows: its rate says nothing of a device's.
        "min_processed_fps": 0.0,
    })  # fmt: skip
    return parse_config(data, str(args.config or "demo options"))


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


def _print_totals(scene: Scene, replayed: Totals, stored: Totals) -> None:
    """One row per line, direction and class: truth (if known), replay, collector."""
    truth = scene.truth
    head = f"{'line':<8} {'dir':<4} {'class':<11}" + (f" {'truth':>6}" if truth else "")
    print(f"{head} {'replay':>7} {'collector':>10}")
    sums = [0, 0, 0]
    for ln in scene.lines:
        for d in ("in", "out"):
            want = truth.get(ln.name, {}).get(d, {}) if truth else {}
            got, kept = replayed.get(ln.name, {}).get(d, {}), stored.get(ln.name, {}).get(d, {})
            for cls in sorted({c for c, n in want.items() if n} | set(got) | set(kept)):
                row = (want.get(cls, 0), got.get(cls, 0), kept.get(cls, 0))
                sums = [s + n for s, n in zip(sums, row, strict=True)]
                t = f" {row[0]:>6}" if truth else ""
                print(f"{ln.name:<8} {d:<4} {cls:<11}{t} {row[1]:>7} {row[2]:>10}")
    t = f" {sums[0]:>6}" if truth else ""
    print(f"{'total':<25}{t} {sums[1]:>7} {sums[2]:>10}")
    for ln in scene.lines:
        if (ln.in_name, ln.out_name) != ("in", "out"):
            print(f"{ln.name}: in = {ln.in_name}, out = {ln.out_name}")
    if truth:
        print("truth: the clip's hand count (events.csv); replay: this run; "
              "collector: what the collector stored")  # fmt: skip


def _replay(args: argparse.Namespace, scene: Scene, workdir: Path, broker_url: str) -> app.Report:
    cfg = demo_config(args, scene, workdir, broker_url)
    runtime = app.build(cfg, app.Options(default_models_dir(), progress=not args.no_progress,
                                         drain_timeout_s=60.0))  # fmt: skip
    report = runtime.run()
    if runtime.stop_requested.is_set():
        raise KeyboardInterrupt
    return report


def _report(scene: Scene, result: app.Report, http_url: str) -> None:
    remaining = result.remaining or 0
    journaled = len(result.crossings)
    stored = _collector_totals(http_url, journaled - remaining)
    _print_totals(scene, result.totals, stored)
    kept = sum(n for d in stored.values() for c in d.values() for n in c.values())
    print(
        f"detector ran on {result.processed_frames} frames in {result.elapsed_s:.1f} s "
        f"({result.fps:.1f} per second)"
    )
    print(
        f"{journaled} crossings published over MQTT, {kept} stored by the collector, "
        f"{remaining} left in the outbox"
    )


def _wait_for_ctrl_c() -> None:
    """Block until Ctrl-C or SIGTERM."""
    stop = threading.Event()

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it lies under it (shorter, and the
    same on every machine), else as given."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _serve(args: argparse.Namespace, scene: Scene, workdir: Path) -> int:
    broker = EmbeddedBroker(workdir / "broker", free_port())
    broker.start()
    try:
        collector = _start_collector(workdir, broker.url, args.http)
        try:
            url = str(collector.http_url)
            print(f"demo: replaying {_shown(scene.video.path)}"
                  + (f" from frame {scene.video.start_frame}" if scene.video.start_frame else "")
                  + " through the detector, MQTT and the collector", flush=True)  # fmt: skip
            print(f"demo: dashboard at {url}/ (counts appear as they happen)", flush=True)
            try:
                result = _replay(args, scene, workdir, broker.url)
            except KeyboardInterrupt:
                print("demo: interrupted during the replay")
                return 130
            _report(scene, result, url)
            if args.exit:
                return result.exit_code
            print(f"dashboard: {url}/ is up; press Ctrl-C to stop it", flush=True)
            _wait_for_ctrl_c()
            return result.exit_code
        finally:
            collector.stop()
            print("demo: the dashboard has stopped (collector and broker shut down)", flush=True)
    finally:
        broker.stop()


def _start_collector(workdir: Path, broker_url: str, http: str) -> Collector:
    host, port = split_host_port(http)
    collector = Collector(load_collector_config(None, {
        "mqtt.url": broker_url, "mqtt.client_id": f"demo-collector-{os.getpid()}",
        "store.url": f"sqlite:///{workdir / 'collector.db'}", "http.host": host, "http.port": port,
    }))  # fmt: skip
    collector.start()
    collector.wait_subscribed(10)
    return collector


def run(args: argparse.Namespace) -> int:
    """Run the demo: print truth, replay and collector counts, then serve the dashboard.

    Raises:
        ConfigError: a bad option, or a line outside the picture (before anything starts).
        SourceError: the video is missing or not a video.
    """
    scene = _scene(args)
    check_lines_inside(scene.lines, *scene.video.size_wh())
    with tempfile.TemporaryDirectory(prefix="edge-demo-") as tmp:
        return _serve(args, scene, args.workdir or Path(tmp))
