"""The README's main job: ``edge-counter demo`` replays a real clip through the whole product
(embedded Mosquitto, outbox, collector on SQLite) and prints the same counts on both sides,
beside the clip's hand count; and the same on the user's own video with no data folder."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CLIPS_DIR, MODELS_DIR, ROOT, require_asset

pytestmark = pytest.mark.slow


def demo(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> str:
    cmd = [sys.executable, "-m", "edge.cli", "demo", "--http", "127.0.0.1:0", "--exit", *args]
    env = {**os.environ, "EDGE_COUNTER_MODELS": str(MODELS_DIR), **(env or {})}
    done = subprocess.run(
        cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr  # not a terminal: progress lines, no carriage returns
    return done.stdout


def rows(stdout: str, line: str) -> list[list[str]]:
    return [r.split() for r in stdout.splitlines() if re.match(rf"^{line}\s+(in|out)\s", r)]


def test_demo_prints_the_truth_the_replay_and_the_collector_agreeing() -> None:
    require_asset(CLIPS_DIR / "road_cctv_vehicles" / "video.mp4")
    out = demo("--detect-fps", "10")
    assert re.search(r"^line\s+dir\s+class\s+truth\s+replay\s+collector$", out, re.M), out
    table = rows(out, "L1")
    assert table, out
    assert all(r[4] == r[5] for r in table), out  # replay == collector, class by class
    truth = {(r[1], r[2]): int(r[3]) for r in table}
    assert truth[("out", "car")] == 29 and truth[("out", "bus")] == 3, out  # clip.json
    published = re.search(r"(\d+) crossings published over MQTT, (\d+) stored", out)
    assert published is not None, out
    assert int(published.group(1)) == int(published.group(2)) == sum(int(r[4]) for r in table)
    assert "0 left in the outbox" in out
    # The URL is printed while the dashboard is up, and its end is said plainly.
    assert re.search(r"dashboard at http://127\.0\.0\.1:\d+/", out), out
    assert out.rstrip().endswith("the dashboard has stopped (collector and broker shut down)")


def test_demo_on_your_own_video_needs_no_data_folder(tmp_path: Path) -> None:
    clip = require_asset(CLIPS_DIR / "road_cctv_vehicles" / "video.mp4")
    elsewhere, empty = tmp_path / "footage", tmp_path / "empty-data"
    elsewhere.mkdir()
    empty.mkdir()
    video = Path(shutil.copy(clip, elsewhere / "gate-camera.mp4"))
    out = demo(
        "--video", str(video), "--line", "Gate:108,230,616,230", "--detect-fps", "5",
        env={"EDGE_COUNTER_DATA": str(empty)}, cwd=tmp_path,
    )  # fmt: skip
    assert re.search(r"^line\s+dir\s+class\s+replay\s+collector$", out, re.M), out  # no truth
    table = rows(out, "Gate")
    assert sum(int(r[3]) for r in table) >= 20, out  # the road's traffic, counted
    assert all(r[3] == r[4] for r in table), out
    assert list(empty.iterdir()) == []
    assert not (tmp_path / "data").exists()
