"""The whole product on one machine: a real replay publishes over a real broker to a real
collector, and the dashboard in Chromium shows what the replay counted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from edge.collector.config import load_collector_config
from edge.collector.service import Collector
from tests.conftest import CLIPS_DIR, Broker, require_asset
from tests.integration.collector.test_collector_dashboard import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_FLAGS,
)

pytestmark = pytest.mark.slow


def _replay(broker: Broker, state_dir: Path) -> dict[str, dict[str, dict[str, int]]]:
    video = require_asset(CLIPS_DIR / "tud_stadtmitte_walk" / "video.mp4")
    cmd = [
        sys.executable, "-m", "edge.cli", "replay", str(video), "--line", "L1:420,400,420,200",
        "--mqtt", broker.url, "--delivery", "broker", "--state-dir", str(state_dir),
        "--device-id", "cam-a", "--site", "site-1", "--json", "--no-progress",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["published"]["remaining"] == 0
    lines: dict[str, dict[str, dict[str, int]]] = out["lines"]
    return lines


def test_dashboard_fed_by_a_real_replay(broker: Broker, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    cfg = load_collector_config(
        None,
        {"mqtt.url": broker.url, "store.url": f"sqlite:///{tmp_path / 'c.db'}", "http.port": 0},
    )
    with Collector(cfg) as collector:
        assert collector.wait_subscribed(10)
        counted = _replay(broker, tmp_path / "state")
        total = sum(n for d in counted["L1"].values() for n in d.values())
        assert total > 0, "the clip has people crossing the line"
        base = str(collector.http_url)
        stored = httpx.get(f"{base}/api/v1/totals").json()["devices"]["cam-a"]["lines"]
        assert stored == counted
        ARTIFACTS.mkdir(exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(base + "/")
            page.wait_for_selector("body[data-loaded=true]", timeout=20_000)
            page.screenshot(path=str(ARTIFACTS / "dashboard-replay.png"), full_page=True)
            card = page.locator("section.site[data-site='site-1']")
            svg = card.locator(".chart svg")
            for direction in ("in", "out"):
                want = sum(counted["L1"][direction].values())
                got = int(svg.get_attribute(f"data-sum-{direction}-pedestrian") or -1)
                assert got == want, (direction, got, want)
            shown = card.locator("[data-total='all-all']").inner_text().replace(",", "")
            assert shown == str(total)
            browser.close()
