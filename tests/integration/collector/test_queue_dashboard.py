"""The dashboard's queue panel in a real Chromium: a cross-camera queue and a camera zone."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import httpx
import pytest

from edge.collector.config import load_collector_config
from edge.collector.service import Collector
from tests.conftest import Broker
from tests.integration.collector.helpers import fleet, wait_until
from tests.integration.collector.test_collector_dashboard import ARTIFACTS, CHROMIUM, CHROMIUM_FLAGS

pytestmark = pytest.mark.slow


def _events(device: str, line: str, times: list[float]) -> bytes:
    events = [
        {"device_id": device, "epoch": 1, "seq": k, "ts": ts, "line": line, "direction": "in",
         "class": "car", "track_id": k, "confidence": 0.9}
        for k, ts in enumerate(times)
    ]  # fmt: skip
    return json.dumps({"v": 1, "type": "events", "device_id": device, "events": events}).encode()


def test_queue_panel_shows_queue_and_zone(broker: Broker, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    if not shutil.which(CHROMIUM):
        pytest.fail("chromium missing: apt-get install -y chromium")
    t0 = time.time()
    queue = {
        "site": "s1", "direction": "inbound", "since": t0 - 600, "window_s": 300.0,
        "entry": {"device": "cam-back", "line": "back", "direction": "in"},
        "exit": {"device": "cam-gate", "line": "gate", "direction": "in"},
    }  # fmt: skip
    cfg = load_collector_config(
        None,
        {"mqtt.url": broker.url, "store.url": f"sqlite:///{tmp_path / 'q.db'}",
         "http.port": 0, "queues": {"inbound": queue}},
    )  # fmt: skip
    c = Collector(cfg)
    c.start()
    pub = fleet.connect(broker.url)
    try:
        assert c.wait_subscribed(10)
        joins = [t0 - 500 + 10 * k for k in range(30)]
        leaves = [t0 - 290 + 20 * k for k in range(10)]  # 10 in 300 s: 2 per minute
        zone = {"v": 1, "type": "zones", "device_id": "cam-gate", "zone": "booth",
                "ts": t0, "occupancy": {"car": 4}, "queue_length": 3, "wait_method": "none",
                "wait_lower_bound_s": 240.0, "window_s": 300.0, "direction": "inbound"}  # fmt: skip
        for topic, payload in (
            ("edge/v1/s1/cam-back/events/back", _events("cam-back", "back", joins)),
            ("edge/v1/s1/cam-gate/events/gate", _events("cam-gate", "gate", leaves)),
            ("edge/v1/s1/cam-gate/zones/booth", json.dumps(zone).encode()),
        ):
            pub.publish(topic, payload, qos=1).wait_for_publish()
        base = c.http_url
        assert base is not None
        wait_until(
            lambda: httpx.get(f"{base}/api/v1/queues").json()[0]["in_system"] == 20,
            what="20 vehicles in the system",
        )
        wait_until(lambda: len(httpx.get(f"{base}/api/v1/zones").json()) == 1, what="zone")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1200})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(base + "/")
            page.wait_for_selector("body[data-loaded=true]", timeout=20_000)
            panel = page.locator("section.site[data-site='s1'] [data-placeholder='zones']")
            q = panel.locator("li[data-queue='inbound']")
            z = panel.locator("li[data-queue='cam-gate/booth']")
            shown = {
                "queue": (q.locator(".q-name").inner_text(), q.locator(".q-words").inner_text()),
                "zone": (z.locator(".q-name").inner_text(), z.locator(".q-words").inner_text()),
                "methods": [r.locator(".q-words").get_attribute("title") or "" for r in (q, z)],
                "details": q.locator("small").inner_text(),
                "panel": panel.inner_text(),
            }
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "collector-queues.png"), full_page=True)
            browser.close()
        assert not errors, errors
        # 20 vehicles at 2 per minute: 10 minutes, in words; the method only as a tooltip.
        assert shown["queue"] == ("inbound", "about 10 min wait, 20 vehicles"), shown
        assert shown["methods"][0].startswith("Little's law"), shown
        assert shown["details"].startswith("2.0 leave per min"), shown
        # No vehicle left the booth lately: only the lower bound (the longest wait so far).
        assert shown["zone"] == ("booth · inbound (cam-gate)", "more than 4 min wait, 3 vehicles")
        assert shown["methods"][1].startswith("no estimate"), shown
        assert "littles" not in shown["panel"] and "0 s" not in shown["panel"], shown
    finally:
        pub.disconnect()
        c.stop()
