"""The dashboard in a real (Debian) Chromium, fed by simulated devices through a real broker."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.collector.config import load_collector_config
from edge.collector.service import Collector
from tests.conftest import Broker
from tests.integration.collector.helpers import ROOT, fleet, wait_until

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "artifacts"


@pytest.fixture
def collector(broker: Broker, tmp_path: Path) -> Iterator[Collector]:
    cfg = load_collector_config(
        None,
        {
            "mqtt.url": broker.url,
            "store.url": f"sqlite:///{tmp_path / 'dash.db'}",
            "http.port": 0,
            "sites": {
                "site-1": {"name": "North gate", "timezone": "Europe/Warsaw"},
                "site-2": {"name": "South gate", "timezone": "Asia/Kolkata"},
            },
        },
    )
    c = Collector(cfg)
    c.start()
    assert c.wait_subscribed(10)
    yield c
    c.stop()


def _publish_state(pub: Any, topic: str, device: str, dropped: int) -> None:
    """The device's retained state: 1 crossing journaled, ``dropped`` by its outbox cap."""
    state = {"v": 1, "type": "state", "device_id": device, "epoch": 1, "ts": time.time(),
             "lines": {"L1": {"in": {"car": 1}, "out": {}}}, "dropped": dropped}  # fmt: skip
    pub.publish(topic, json.dumps(state), qos=1, retain=True).wait_for_publish()


def _dropped(base: str, device: str) -> int | None:
    devices = httpx.get(f"{base}/api/v1/devices").json()["devices"]
    return next(d["totals"]["dropped"] for d in devices if d["device_id"] == device)


def _expected(base: str, site: str) -> dict[str, int]:
    """Crossings of the last 24 h per chart series, from the API (the stored counts). The
    fleet's lines have no direction names and both devices of a site have an ``L1``, so a
    series is named by line, direction and device: ``L1 in · dev-000|vehicle``."""
    params = {"site": site, "bucket": "1h", "group_by": "device,line,direction,category"}
    body = httpx.get(f"{base}/api/v1/counts", params=params).json()
    out: dict[str, int] = {}
    for s in body["series"]:
        k = s["key"]
        key = f"{k['line']} {k['direction']} · {k['device']}|{k['category']}"
        out[key] = out.get(key, 0) + s["total"]
    return out


@pytest.mark.slow
def test_dashboard_shows_the_stored_counts(collector: Collector, broker: Broker) -> None:
    from playwright.sync_api import sync_playwright

    if not shutil.which(CHROMIUM):
        pytest.fail("chromium missing: apt-get install -y chromium")
    plan = fleet.Fleet(
        devices=4, events=400, batch=20, sites=2, lines=("L1", "L2"), span_s=6 * 3600
    )
    pub = fleet.connect(broker.url)
    fleet.publish_status(pub, plan)
    fleet.publish(pub, fleet.messages(plan), 0, plan.batch)
    dev0 = plan.device_id(0)
    _publish_state(pub, f"{plan.prefix}/v1/{plan.site(0)}/{dev0}/state", dev0, dropped=7)
    pub.disconnect()
    assert collector.http_url is not None
    base = collector.http_url
    wait_until(lambda: collector.stats()["events_inserted"] == plan.total, 30, "all events stored")
    wait_until(lambda: _dropped(base, dev0) == 7, 30, "the device's state stored")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1500})
        requests: list[str] = []
        errors: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(base + "/")
        page.wait_for_selector("body[data-loaded=true]", timeout=20_000)
        page.select_option("#range", "86400")
        for site in ("site-1", "site-2"):
            page.wait_for_selector(f"section.site[data-site='{site}'][data-range='86400']")
        page.screenshot(path=str(ARTIFACTS / "collector-dashboard.png"), full_page=True)
        for site in ("site-1", "site-2"):
            _check_site(page, base, site)
        dropped = page.locator(f"tr[data-device='{dev0}'] td[data-dropped]")
        assert dropped.inner_text() == "7" and "dropped" in (dropped.get_attribute("class") or "")
        browser.close()
    assert not errors, errors
    assert all(u.startswith(base) for u in requests), "the dashboard fetched something external"


def _check_site(page: Any, base: str, site: str) -> None:
    card = page.locator(f"section.site[data-site='{site}']")
    expected = _expected(base, site)
    assert sum(expected.values()) == 800, expected  # two devices of 400 crossings per site
    for key, n in expected.items():
        legend = card.locator(f"[data-legend='{key}']")
        assert legend.get_attribute("data-total") == str(n), key
        assert f"({n:,})" in legend.inner_text()
    assert card.locator(".legend li").count() == len(expected)
    assert card.locator(".chart svg rect").count() > 0, "no bars drawn"
    today = httpx.get(f"{base}/api/v1/today", params={"site": site}).json()
    shown = card.locator(".dir [data-total='all']").all_inner_texts()
    assert sum(int(t.replace(",", "")) for t in shown) == today["total"], shown
    badges = card.locator(".device-table .badge").all_inner_texts()
    assert badges == ["online", "online"], badges
    assert card.locator("[data-placeholder='zones']").count() == 1
