"""The officials' hourly table: a site's local calendar day hour by hour, DST days included,
over a real SQLite store; and the site zones it depends on."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from edge.collector import api_counts, api_params
from edge.collector.api import create_app
from edge.collector.config import load_collector_config
from edge.collector.hourly import parse_day
from edge.collector.ingest import Received, ingest
from edge.collector.store import Store, open_store
from edge.errors import ConfigError
from tests.unit.test_collector_api import _events, _put, state

BERLIN = ZoneInfo("Europe/Berlin")


def utc(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())  # type: ignore[misc]


SPRING = [  # 2024-03-31, Berlin springs forward at 02:00 local (01:00 UTC)
    (0, utc(2024, 3, 30, 22, 59), "in", "car"),  # 23:59 local on the day before
    (1, utc(2024, 3, 30, 23, 0), "in", "car"),  # 00:00 local: the first hour
    (2, utc(2024, 3, 31, 1, 30), "in", "person"),  # 03:30 CEST, the third hour
    (3, utc(2024, 3, 31, 1, 40), "out", "truck"),
    (4, utc(2024, 3, 31, 21, 59), "in", "car"),  # 23:59 CEST: the last hour
    (5, utc(2024, 3, 31, 22, 0), "in", "car"),  # midnight: the next day
]
AUTUMN = [  # 2024-10-27, Berlin falls back at 03:00 CEST (01:00 UTC): 02:00 comes twice
    (10, utc(2024, 10, 27, 0, 10), "in", "car"),  # 02:10 CEST
    (11, utc(2024, 10, 27, 1, 10), "in", "car"),  # 02:10 CET
    (12, utc(2024, 10, 27, 1, 20), "in", "bus"),
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'hourly.db'}")
    s.migrate()
    _put(s, "edge/v1/kazbegi/dev-1/events/road", _events("dev-1", "road", SPRING + AUTUMN))
    at = SPRING[2][1]
    _put(
        s,
        "edge/v1/kazbegi/dev-1/events/walk",
        _events("dev-1", "walk", [(20, at, "out", "person")]),
    )
    _put(s, "edge/v1/other/dev-9/events/road", _events("dev-9", "road", [(0, at, "in", "car")]))
    names = {"road": ("to Georgia", "to Russia"), "walk": ("=cmd", "out")}
    _put(s, "edge/v1/kazbegi/dev-1/state", state("dev-1", time.time() - 1, **names))
    yield s
    s.close()


def _client(store: Store, **overrides: Any) -> TestClient:
    sites = {"kazbegi": {"timezone": "Europe/Berlin"}}
    cfg = load_collector_config(None, {"sites": sites, **overrides})
    return TestClient(create_app(store, cfg))


def _rows(body: dict[str, Any]) -> dict[tuple[str, str, str, str], list[int]]:
    return {(r["device"], r["line"], r["direction"], r["class"]): r["counts"] for r in body["rows"]}


def test_spring_forward_day_has_23_local_hours(store: Store) -> None:
    r = _client(store).get("/api/v1/hourly", params={"site": "kazbegi", "day": "2024-03-31"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["site"], body["timezone"], body["day"]) == (
        "kazbegi",
        "Europe/Berlin",
        "2024-03-31",
    )
    hours = body["hours"]
    assert len(hours) == 23
    assert [h["label"] for h in hours[:4]] == ["00:00", "01:00", "03:00", "04:00"]
    assert [h["utc_offset"] for h in hours[:4]] == ["+01:00", "+01:00", "+02:00", "+02:00"]
    assert hours[0]["start"] == utc(2024, 3, 30, 23) and hours[-1]["label"] == "23:00"
    road_in = [0] * 23
    road_in[0] = road_in[22] = 1
    assert _rows(body) == {
        ("dev-1", "road", "in", "car"): road_in,
        ("dev-1", "road", "in", "person"): [0, 0, 1] + [0] * 20,
        ("dev-1", "road", "out", "truck"): [0, 0, 1] + [0] * 20,
        ("dev-1", "walk", "out", "person"): [0, 0, 1] + [0] * 20,
    }
    first = body["rows"][0]
    assert first == {
        "site": "kazbegi", "device": "dev-1", "line": "road", "direction": "in",
        "label": "to Georgia", "class": "car", "category": "vehicle", "counts": road_in,
        "total": 2,
    }  # fmt: skip
    labels = {(x["line"], x["direction"], x["class"]): x["label"] for x in body["rows"]}
    assert labels[("road", "out", "truck")] == "to Russia"
    assert labels[("road", "in", "person")] == "to Georgia"


def test_fall_back_day_has_25_local_hours_with_two_2am(store: Store) -> None:
    body = (
        _client(store).get("/api/v1/hourly", params={"site": "kazbegi", "day": "2024-10-27"}).json()
    )
    hours = body["hours"]
    assert len(hours) == 25
    assert [(h["label"], h["utc_offset"]) for h in hours[2:5]] == [
        ("02:00", "+02:00"), ("02:00", "+01:00"), ("03:00", "+01:00"),
    ]  # fmt: skip
    assert _rows(body) == {
        ("dev-1", "road", "in", "car"): [0, 0, 1, 1] + [0] * 21,
        ("dev-1", "road", "in", "bus"): [0, 0, 0, 1] + [0] * 21,
    }


def test_an_ordinary_day_has_24_hours_and_tz_overrides_the_sites_zone(store: Store) -> None:
    client = _client(store)
    body = client.get("/api/v1/hourly", params={"day": "2024-03-31", "tz": "UTC"}).json()
    assert body["site"] is None and body["timezone"] == "UTC" and len(body["hours"]) == 24
    assert {r["site"] for r in body["rows"]} == {"kazbegi", "other"}  # every site
    assert body["hours"][0] == {"start": utc(2024, 3, 31), "label": "00:00", "utc_offset": "+00:00"}


def test_hourly_csv_is_a_report_ready_attachment(store: Store) -> None:
    params = {"site": "kazbegi", "day": "2024-03-31"}
    r = _client(store).get("/api/v1/hourly.csv", params=params)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert (
        r.headers["content-disposition"] == 'attachment; filename="hourly-kazbegi-2024-03-31.csv"'
    )
    lines = r.text.splitlines()
    assert lines[0] == (
        "day,hour_local,utc_offset,hour_start_utc,site,device,line,direction,direction_label,"
        "class,category,count"
    )
    assert len(lines) == 1 + 4 * 23, "every hour of every row, zeros kept"
    t = utc(2024, 3, 31, 1)
    assert f"2024-03-31,03:00,+02:00,{t},kazbegi,dev-1,road,out,to Russia,truck,vehicle,1" in lines
    assert (
        f"2024-03-31,03:00,+02:00,{t},kazbegi,dev-1,walk,in,'=cmd,person,pedestrian,0" not in lines
    )
    walk = [ln for ln in lines if ",walk," in ln]
    assert walk and all(",out,out,person," in ln for ln in walk)


def test_hourly_counts_come_from_the_minute_aggregates(store: Store) -> None:
    """The table reads ``counts_minute``: with the raw events gone it answers the same."""
    params = {"site": "kazbegi", "day": "2024-03-31"}
    before = _client(store).get("/api/v1/hourly", params=params).json()
    with store._transaction():
        store._execute("DELETE FROM events")
    assert _client(store).get("/api/v1/hourly", params=params).json() == before


def test_direction_names_beginning_like_a_formula_are_quoted_in_csv(store: Store) -> None:
    walk_in = {"device": "dev-1", "line": "walk", "direction": "in", "class": "person"}
    crossing = [(21, SPRING[2][1], "in", "person")]
    _put(store, "edge/v1/kazbegi/dev-1/events/walk", _events("dev-1", "walk", crossing))
    params = {"site": "kazbegi", "day": "2024-03-31"}
    r = _client(store).get("/api/v1/hourly.csv", params=params)
    assert ",walk,in,'=cmd,person,pedestrian,1" in r.text
    rows = _client(store).get("/api/v1/hourly", params=params).json()["rows"]
    assert any(walk_in.items() <= x.items() and x["label"] == "=cmd" for x in rows), "JSON as is"


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"day": "2024-13-01"}, "day: "),
        ({"day": "tomorrow"}, "day: "),
        ({"day": "2024-W01-1"}, "day: "),
        ({"day": "1900-01-01"}, "day: "),
        ({"tz": "Mars/Base"}, "tz: unknown time zone"),
        ({"tz": "Europe"}, "tz: unknown time zone"),
        ({"tz": "localtime"}, "tz: unknown time zone"),
        ({"site": "a b"}, "site: "),
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/hourly", "/api/v1/hourly.csv"])
def test_bad_hourly_parameters_are_a_400_naming_them(
    store: Store, path: str, params: dict[str, str], needle: str
) -> None:
    r = _client(store).get(path, params=params)
    assert r.status_code == 400, r.text
    assert r.json()["detail"].startswith(needle)


def test_unknown_hourly_parameter_is_rejected(store: Store) -> None:
    assert _client(store).get("/api/v1/hourly", params={"colour": "red"}).status_code == 422


def test_today_and_yesterday_are_the_zones_calendar_days() -> None:
    now = utc(2024, 5, 1, 10, 30)  # May 2 00:30 in Kiritimati (+14), Apr 30 23:30 (-11)
    assert parse_day("today", ZoneInfo("Pacific/Kiritimati"), now) == date(2024, 5, 2)
    assert parse_day("today", ZoneInfo("UTC"), now) == date(2024, 5, 1)
    assert parse_day("yesterday", ZoneInfo("Pacific/Pago_Pago"), now) == date(2024, 4, 29)


def test_openapi_documents_the_new_paths_with_their_errors(store: Store) -> None:
    spec = _client(store).get("/openapi.json").json()
    for path in ("/api/v1/hourly", "/api/v1/hourly.csv"):
        assert {"200", "400", "401", "503"} <= set(spec["paths"][path]["get"]["responses"])
    words = spec["components"]["schemas"]["Device"]["properties"]["health"]["enum"]
    assert words == ["online", "degraded", "stopped", "offline", "stale", "unknown"]


def test_a_silent_device_reads_stale_even_when_degraded(store: Store) -> None:
    long_ago = time.time() - 1000
    for dev, word in (("dev-5", "degraded"), ("dev-6", "online")):
        body = {"v": 1, "type": "status", "device_id": dev, "state": word, "ts": long_ago}
        if word == "degraded":
            body["reason"] = "low_fps"
        topic = f"edge/v1/quiet/{dev}/status"
        store.write([ingest(Received(topic, json.dumps(body).encode(), long_ago))])
    devices = _client(store).get("/api/v1/devices", params={"site": "quiet"}).json()["devices"]
    assert {d["device_id"]: (d["health"], d["reason"]) for d in devices} == {
        "dev-5": ("stale", "low_fps"),  # the reason it gave is still worth reading
        "dev-6": ("stale", None),
    }


@pytest.mark.parametrize("zone", ["Asia/Tbilsi", "Europe", "localtime", "../../etc/passwd", ""])
def test_an_unknown_site_zone_is_refused_naming_its_dotted_path(tmp_path: Path, zone: str) -> None:
    path = tmp_path / "collector.toml"
    path.write_text(f'[sites.kazbegi]\ntimezone = "{zone}"\n')
    with pytest.raises(ConfigError, match=r"sites\.kazbegi\.timezone.*unknown time zone"):
        load_collector_config(path, {})
    run = subprocess.run(
        [sys.executable, "-m", "edge.cli", "check-config", "--collector", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 2
    assert "sites.kazbegi.timezone" in run.stderr and "unknown time zone" in run.stderr


def test_check_config_accepts_a_good_collector_config(tmp_path: Path) -> None:
    path = tmp_path / "collector.toml"
    path.write_text('[sites.kazbegi]\nname = "Kazbegi"\ntimezone = "Asia/Tbilisi"\n')
    run = subprocess.run(
        [sys.executable, "-m", "edge.cli", "check-config", "--collector", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "site kazbegi: time zone Asia/Tbilisi" in run.stdout


def test_sqlite_urls_need_four_slashes_for_an_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    absolute = tmp_path / "var" / "lib" / "c.db"
    open_store(f"sqlite:///{absolute}").close()  # f-string: "sqlite:///" + "/tmp/..."
    assert absolute.is_file()
    open_store("sqlite:///var/lib/edge/c.db").close()
    assert (tmp_path / "var/lib/edge/c.db").is_file(), "three slashes: relative to the cwd"


def test_today_starts_at_the_sites_local_midnight_on_a_25_hour_day(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = utc(2024, 10, 27, 22, 30)  # 23:30 CET, 24.5 h after local midnight
    clock = SimpleNamespace(time=lambda: float(now))
    monkeypatch.setattr(api_counts, "time", clock)
    monkeypatch.setattr(api_params, "time", clock)
    body = _client(store).get("/api/v1/today", params={"site": "kazbegi"}).json()
    assert body["since"] == utc(2024, 10, 26, 22)
    assert (body["since_local"], body["timezone"]) == ("2024-10-27T00:00:00+02:00", "Europe/Berlin")
    assert body["rows"] == [{"key": {"direction": "in", "category": "vehicle"}, "n": 3}]
    assert body["labels"] == {  # every line of the site, not only today's
        "dev-1": {
            "road": {"in": "to Georgia", "out": "to Russia"},
            "walk": {"in": "=cmd", "out": "out"},
        }
    }
    hourly = _client(store).get("/api/v1/hourly", params={"site": "kazbegi"}).json()
    assert hourly["day"] == "2024-10-27" and len(hourly["hours"]) == 25


def _status(device: str, tz: str) -> bytes:
    body = {"v": 1, "type": "status", "device_id": device, "state": "online", "timezone": tz}
    return json.dumps(body).encode()


def test_a_site_without_a_collector_zone_takes_the_zone_its_devices_report(store: Store) -> None:
    """``device.timezone`` travels in the status: the collector uses it for a site it has no
    ``[sites]`` entry for (an invalid name is ignored); its own entry wins."""
    _put(store, "edge/v1/other/dev-9/status", _status("dev-9", "Asia/Tbilisi"))
    _put(store, "edge/v1/kazbegi/dev-1/status", _status("dev-1", "Asia/Tokyo"))
    client = _client(store)
    zones = {s["site"]: s["timezone"] for s in client.get("/api/v1/sites").json()}
    assert zones == {"kazbegi": "Europe/Berlin", "other": "Asia/Tbilisi"}
    hourly = client.get("/api/v1/hourly", params={"site": "other", "day": "today"}).json()
    assert hourly["timezone"] == "Asia/Tbilisi"
    today = client.get("/api/v1/today", params={"site": "other"}).json()
    assert today["timezone"] == "Asia/Tbilisi" and today["since_local"].endswith("+04:00")
    _put(store, "edge/v1/other/dev-9/status", _status("dev-9", "Asia/Tbilsi"))
    zones = {s["site"]: s["timezone"] for s in client.get("/api/v1/sites").json()}
    assert zones["other"] == "UTC"
