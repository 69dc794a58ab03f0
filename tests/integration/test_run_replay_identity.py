"""The device service and a replay are one runtime: the same clip gives the same crossings.

``edge-counter run`` with a file source (not real time) publishes every crossing to a real
broker; ``edge-counter replay --json`` on the same file prints them. Lines, directions,
classes, track ids and UTC event times must be identical: one loop, one feed, one UTC anchor
(the file's modification time minus its duration).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edge import wire
from edge.config import MqttConfig
from edge.publish.subscriber import Subscriber
from tests.conftest import CLIPS_DIR, MODELS_DIR, Broker, require_asset

pytestmark = pytest.mark.slow

Crossing = tuple[str, str, str, int, float]


def write_config(path: Path, clip: Path, state_dir: Path, mqtt_url: str | None) -> Path:
    mqtt = f'\n[mqtt]\nurl = "{mqtt_url}"\ndelivery = "broker"\n' if mqtt_url else ""
    path.write_text(
        f'[device]\nid = "gate-1"\nsite = "gate"\nstate_dir = "{state_dir}"\n\n'
        f'[source]\ntype = "replay"\npath = "{clip}"\n\n'
        '[detector]\nmodel = "yolox-nano"\nthreads = 1\ndetect_fps = 10\n\n'
        '[[lines]]\nname = "L1"\na = [108.0, 230.0]\nb = [616.0, 230.0]\n' + mqtt
    )
    return path


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EDGE_COUNTER_MODELS": str(MODELS_DIR)}
    cmd = [sys.executable, "-m", "edge.cli", *map(str, args)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)


def published(sub: Subscriber) -> list[Crossing]:
    out: list[Crossing] = []
    while (got := sub.get(3.0)) is not None:
        _, msg = wire.decode_for_topic(got[0], got[1])
        if isinstance(msg, wire.EventsMsg):
            out += [(e.line, e.direction, e.cls, e.track_id, round(e.ts, 6)) for e in msg.events]
    return sorted(out)


def test_run_with_a_file_source_and_replay_give_identical_crossings(
    broker: Broker, tmp_path: Path
) -> None:
    clip = require_asset(CLIPS_DIR / "road_cctv_vehicles" / "video.mp4")
    device = write_config(tmp_path / "device.toml", clip, tmp_path / "state", broker.url)
    sub = Subscriber(MqttConfig(url=broker.url), [wire.subscription("edge", "events")])
    sub.start()
    try:
        run = cli("run", "--config", device)
        assert run.returncode == 0, run.stderr
        from_device = published(sub)
    finally:
        sub.stop()

    plain = write_config(tmp_path / "replay.toml", clip, tmp_path / "unused", None)
    replay = cli("replay", clip, "--config", plain, "--json", "--no-progress")
    assert replay.returncode == 0, replay.stderr
    out = json.loads(replay.stdout)
    from_replay = sorted(
        (c["line"], c["direction"], c["class"], c["track_id"], c["ts"]) for c in out["crossings"]
    )
    assert len(from_replay) >= 20  # the clip has 34 crossings
    assert from_device == from_replay
    end = clip.stat().st_mtime  # the recording ends when the file was last written
    assert all(end - 60 < c[4] <= end for c in from_replay)  # a 46 s clip
