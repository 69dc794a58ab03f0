"""The README's main job: ``edge-counter demo`` replays a real clip through the whole product
(embedded Mosquitto, outbox, collector on SQLite) and prints the same counts on both sides."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import CLIPS_DIR, MODELS_DIR, require_asset

pytestmark = pytest.mark.slow


def test_demo_prints_the_replay_and_the_collector_agreeing() -> None:
    require_asset(CLIPS_DIR / "road_cctv_vehicles" / "video.mp4")
    env = {**os.environ, "EDGE_COUNTER_MODELS": str(MODELS_DIR)}
    cmd = [sys.executable, "-m", "edge.cli", "demo", "--http", "127.0.0.1:0", "--detect-fps", "10"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr
    rows = [ln.split() for ln in done.stdout.splitlines() if re.match(r"^L\d\s+(in|out)\s", ln)]
    assert rows, done.stdout
    assert all(r[3] == r[4] for r in rows), done.stdout  # replay == collector, class by class
    published = re.search(r"(\d+) crossings published, 0 left in the outbox", done.stdout)
    assert published is not None and int(published.group(1)) == sum(int(r[3]) for r in rows)
    assert "dashboard: http://127.0.0.1:" in done.stdout
