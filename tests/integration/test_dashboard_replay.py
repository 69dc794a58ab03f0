"""The whole product on one machine, as an official sees it: real replays publish over a real
broker to a real collector, and the dashboard in Chromium (desktop 1280x900 and phone 390x844)
shows each line's direction names with the per-class counts the replays printed, the devices'
status in words (a replay that ended: ``stopped``; a service killed with SIGKILL: ``offline``,
its Last Will), and the hourly table with its CSV. Screenshots go to ``artifacts/``."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from edge.collector.config import load_collector_config
from edge.collector.service import Collector
from edge.tools.broker import free_port
from tests.conftest import CLIPS_DIR, MODELS_DIR, Broker, require_asset
from tests.integration.collector.helpers import fleet, wait_until
from tests.integration.collector.test_collector_dashboard import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_FLAGS,
)

pytestmark = pytest.mark.slow

SITE = "border-1"
CLASSES = ("car", "bus", "truck", "motorcycle", "bicycle", "person")
VIEWPORTS = {"desktop": (1280, 900), "phone": (390, 844)}
#: Printed counts of a replay: line -> in/out -> class -> n.
Counted = dict[str, dict[str, dict[str, int]]]


@dataclass(frozen=True)
class Line:
    """A counting line of a device config; no names: plain ``in``/``out``."""

    name: str
    a: tuple[float, float]
    b: tuple[float, float]
    in_name: str | None = None
    out_name: str | None = None

    def toml(self) -> str:
        names = (
            f'in_name = "{self.in_name}"\nout_name = "{self.out_name}"\n' if self.in_name else ""
        )
        return f'[[lines]]\nname = "{self.name}"\na = {list(self.a)}\nb = {list(self.b)}\n{names}\n'


ROAD = [Line("L1", (108, 230), (616, 230), "to Russia", "to Georgia")]
WALK = [
    Line("L1", (220, 470), (220, 300), "to Russia", "to Georgia"),
    Line("L2", (380, 470), (380, 300)),
]
GATE = [Line("G", (108, 230), (616, 230), "into the booth", "out of the booth")]


def site_zone(now: datetime) -> str:
    """A zone whose local day neither just began nor is about to end, so that every
    crossing of the replays (dated the last minutes) falls on "today" during the test."""
    for name in ("Asia/Tbilisi", "Europe/Lisbon", "America/Bogota"):
        local = now.astimezone(ZoneInfo(name))
        if 20 <= local.hour * 60 + local.minute <= 23 * 60 + 30:
            return name
    raise AssertionError("unreachable: the three zones are 9 h apart")


def device_config(
    tmp: Path, device: str, lines: list[Line], broker: Broker, source: str = ""
) -> Path:
    """A device config of ``device`` at ``SITE``; ``source`` is a ``[source]`` body (for run)."""
    path = tmp / f"{device}.toml"
    text = (
        f'[device]\nid = "{device}"\nsite = "{SITE}"\nstate_dir = "{tmp / device}"\n\n'
        '[detector]\nmodel = "yolox-nano-int8"\nthreads = 1\n\n'
        + "".join(ln.toml() for ln in lines)
        + f'[mqtt]\nurl = "{broker.url}"\ndelivery = "broker"\n'
    )
    if source:
        text += f"\n[source]\n{source}\n\n[service]\nstatus_interval_s = 2\n"
    path.write_text(text)
    return path


def replay(config: Path, clip: str, *extra: str) -> Counted:
    """Replay ``clip`` through the live pipeline, dated to end a few seconds ago."""
    video = require_asset(CLIPS_DIR / clip / "video.mp4")
    meta = json.loads((CLIPS_DIR / clip / "clip.json").read_text())
    start = datetime.now(UTC) - timedelta(seconds=float(meta["duration_s"]) + 10)
    cmd = [
        sys.executable, "-m", "edge.cli", "replay", str(video), "--config", str(config),
        "--start-utc", start.isoformat(), "--json", "--no-progress", *extra,
    ]  # fmt: skip
    env = {**os.environ, "EDGE_COUNTER_MODELS": str(MODELS_DIR)}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False, env=env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["published"]["remaining"] == 0
    lines: Counted = out["lines"]
    return lines


def health(base: str, device: str) -> str | None:
    devices = httpx.get(f"{base}/api/v1/devices", params={"site": SITE}).json()["devices"]
    return next((d["health"] for d in devices if d["device_id"] == device), None)


def kill_a_running_device(tmp: Path, broker: Broker, base: str) -> None:
    """``edge-counter run`` on a clip played at real time, killed once it is online."""
    clip = require_asset(CLIPS_DIR / "road_cctv_vehicles" / "video.mp4")
    source = f'type = "replay"\npath = "{clip}"\nrealtime = true'
    config = device_config(tmp, "cam-gate", GATE, broker, source)
    env = {**os.environ, "EDGE_COUNTER_MODELS": str(MODELS_DIR)}
    env.pop("NOTIFY_SOCKET", None)
    cmd = [sys.executable, "-m", "edge.cli", "run", "--config", str(config)]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: health(base, "cam-gate") == "online", 300, "cam-gate online")
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        wait_until(lambda: health(base, "cam-gate") == "offline", 30, "cam-gate's Last Will")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)


def publish_degraded(broker: Broker) -> None:
    """A device that reports itself degraded (a retained status with its reason)."""
    pub = fleet.connect(broker.url)
    status = {"v": 1, "type": "status", "device_id": "cam-sim", "state": "degraded",
              "ts": time.time(), "reason": "low_fps"}  # fmt: skip
    topic = f"edge/v1/{SITE}/cam-sim/status"
    pub.publish(topic, json.dumps(status), qos=1, retain=True).wait_for_publish()
    pub.disconnect()


@dataclass(frozen=True)
class World:
    """The collector's URL and what each replay printed."""

    base: str
    counted: dict[str, Counted]
    configs: dict[str, list[Line]]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("dash")
    broker = Broker(tmp / "broker", free_port())
    broker.start()
    zone = site_zone(datetime.now(UTC))
    cfg = load_collector_config(
        None,
        {"mqtt.url": broker.url, "store.url": f"sqlite:///{tmp / 'c.db'}", "http.port": 0,
         "sites": {SITE: {"name": "Sadakhlo border post", "timezone": zone}}},
    )  # fmt: skip
    try:
        with Collector(cfg) as collector:
            assert collector.wait_subscribed(10) and collector.http_url is not None
            base = str(collector.http_url)
            counted = {
                # 10 detections/s instead of 25 keeps the test short; counts are compared
                # with what the replay printed, whatever they are.
                "cam-road": replay(
                    device_config(tmp, "cam-road", ROAD, broker), "road_cctv_vehicles",
                    "--detect-fps", "10",
                ),
                "cam-walk": replay(device_config(tmp, "cam-walk", WALK, broker), "tud_campus_walk"),
            }  # fmt: skip
            kill_a_running_device(tmp, broker, base)
            publish_degraded(broker)
            wait_until(lambda: health(base, "cam-sim") == "degraded", 30, "cam-sim degraded")
            yield World(base, counted, {"cam-road": ROAD, "cam-walk": WALK})
    finally:
        broker.stop()


def test_the_api_carries_what_the_replays_counted_with_direction_names(world: World) -> None:
    totals = httpx.get(f"{world.base}/api/v1/totals").json()["devices"]
    for device, counted in world.counted.items():
        assert totals[device]["lines"] == counted, device
        for ln in world.configs[device]:
            want = {"in": ln.in_name or "in", "out": ln.out_name or "out"}
            assert totals[device]["labels"][ln.name] == want
    assert sum(n for d in world.counted["cam-road"]["L1"].values() for n in d.values()) > 0


def open_page(p: Any, base: str, view: str) -> Any:
    w, h = VIEWPORTS[view]
    page = p.new_page(viewport={"width": w, "height": h}, accept_downloads=True)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base + "/")
    page.wait_for_selector("body[data-loaded=true]", timeout=20_000)
    page.wait_for_selector(".hourly-table [data-hourly-total]", timeout=20_000)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-replay-{view}.png"), full_page=True)
    assert not errors, errors
    return page


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield b
        b.close()


def by_name(world: World) -> dict[str, int]:
    """Crossings per direction name over every line that carries it (unnamed: "L2 in")."""
    out: dict[str, int] = {}
    for device, counted in world.counted.items():
        for ln in world.configs[device]:
            for d, name in (("in", ln.in_name), ("out", ln.out_name)):
                key = name or f"{ln.name} {d}"
                out[key] = out.get(key, 0) + sum(counted[ln.name][d].values())
    return out


@pytest.mark.parametrize("view", list(VIEWPORTS))
def test_the_page_shows_direction_names_and_per_class_counts(
    world: World, browser: Any, view: str
) -> None:
    page = open_page(browser, world.base, view)
    card = page.locator(f"section.site[data-site='{SITE}']")
    for device, counted in world.counted.items():
        for ln in world.configs[device]:
            table = card.locator(f"table[data-line='{device}/{ln.name}']")
            heads = [table.locator(f"th[data-dir='{d}']").inner_text() for d in ("in", "out")]
            assert heads == [ln.in_name or "in", ln.out_name or "out"], heads
            for d in ("in", "out"):
                for cls in CLASSES:
                    shown = table.locator(f"td[data-count='{d}-{cls}']").inner_text()
                    assert shown == str(counted[ln.name][d].get(cls, 0)), (device, ln.name, d, cls)
    for name, n in by_name(world).items():
        box = card.locator(f".dir[data-direction-name='{name}']")
        assert box.locator("[data-total=all]").inner_text().replace(",", "") == str(n), name
        legend = card.locator(".legend li").all()
        charted = [int(li.get_attribute("data-total") or 0) for li in legend
                   if (li.get_attribute("data-legend") or "").startswith(f"{name}|")]  # fmt: skip
        assert sum(charted) == n, (name, charted)
    assert "to Georgia" in card.locator(".legend").inner_text()
    page.close()


@pytest.mark.parametrize("view", list(VIEWPORTS))
def test_status_in_words_and_nothing_off_screen(world: World, browser: Any, view: str) -> None:
    page = open_page(browser, world.base, view)
    card = page.locator(f"section.site[data-site='{SITE}']")

    def badge(device: str) -> str:
        text: str = card.locator(f"tr[data-device='{device}'] .badge").inner_text()
        return text

    assert badge("cam-road") == badge("cam-walk") == "stopped"
    assert badge("cam-gate") == "offline"
    assert badge("cam-sim") == "degraded"
    assert card.locator("tr[data-device='cam-sim'] .reason").inner_text() == "low fps"
    colour = "e => getComputedStyle(e).backgroundColor"
    colours = {d: card.locator(f"tr[data-device='{d}'] .badge").evaluate(colour)
               for d in ("cam-road", "cam-gate", "cam-sim")}  # fmt: skip
    assert len(set(colours.values())) == 3, colours
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page is {width[0]} px wide in a {width[1]} px window"
    sizes = card.locator(".chart svg text").evaluate_all(
        "ts => ts.map(t => parseFloat(getComputedStyle(t).fontSize))"
    )
    assert sizes and min(sizes) >= 11, sizes
    header = page.locator("#updated").inner_text()
    assert re.fullmatch(r"updated \d\d:\d\d:\d\d \S+", header), header
    page.close()


def test_hourly_table_and_its_csv(world: World, browser: Any) -> None:
    page = open_page(browser, world.base, "phone")
    card = page.locator(f"section.site[data-site='{SITE}']")
    today = httpx.get(f"{world.base}/api/v1/today", params={"site": SITE}).json()
    shown = card.locator("[data-hourly-total]").inner_text().replace(",", "")
    assert int(shown) == today["total"] > 0
    with page.expect_download() as got:
        card.locator(".hourly .csv").click()
    rows = list(csv.DictReader(io.StringIO(Path(got.value.path()).read_text())))
    assert sum(int(r["count"]) for r in rows) == today["total"]
    got_counts: dict[tuple[str, ...], int] = {}
    for r in rows:
        key = (r["device"], r["line"], r["direction"], r["direction_label"], r["class"])
        got_counts[key] = got_counts.get(key, 0) + int(r["count"])
    want = {
        (device, ln.name, d, name or d, cls): n
        for device, counted in world.counted.items()
        for ln in world.configs[device]
        for d, name in (("in", ln.in_name), ("out", ln.out_name))
        for cls, n in counted[ln.name][d].items()
    }
    assert {k: v for k, v in got_counts.items() if k[0] in world.counted and v} == want
    card.locator(".hourly button[data-day='yesterday']").click()
    page.wait_for_selector(f".hourly-table[data-day]:not([data-day='{rows[0]['day']}'])")
    assert card.locator("[data-hourly-total]").inner_text() == "0"
    assert card.locator(".hourly-empty").is_visible()
    assert "day=yesterday" in (card.locator(".hourly .csv").get_attribute("href") or "")
    page.close()
