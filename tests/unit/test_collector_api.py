"""The collector's HTTP API over a real SQLite store with known crossings."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from edge.collector.api import create_app
from edge.collector.config import load_collector_config
from edge.collector.ingest import Received, ingest
from edge.collector.store import Store, open_store

T0 = int(datetime(2024, 5, 1, 10, tzinfo=UTC).timestamp())  # 12:00 in Warsaw (CEST)


def _events(device: str, line: str, rows: list[tuple[int, float, str, str]]) -> bytes:
    events = [
        {
            "device_id": device,
            "epoch": 1,
            "seq": seq,
            "ts": ts,
            "line": line,
            "direction": d,
            "class": c,
            "track_id": seq,
            "confidence": 0.9,
        }
        for seq, ts, d, c in rows
    ]
    return json.dumps({"v": 1, "type": "events", "device_id": device, "events": events}).encode()


def state(device: str, ts: float, **names: tuple[str, str]) -> bytes:
    """A retained state naming each line's directions (``L1=("to Georgia", "to Russia")``)."""
    body = {
        "v": 1, "type": "state", "device_id": device, "epoch": 1, "ts": ts,
        "lines": {line: {"in": {}, "out": {}} for line in names},
        "labels": {line: {"in": i, "out": o} for line, (i, o) in names.items()},
    }  # fmt: skip
    return json.dumps(body).encode()


def _put(store: Store, topic: str, payload: bytes) -> None:
    msg = ingest(Received(topic, payload, time.time()))
    assert msg.reject is None, msg.reject
    store.write([msg])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """Crossings at site-a (two devices) and site-b, at known times, plus some today."""
    s = open_store(f"sqlite:///{tmp_path / 'api.db'}")
    s.migrate()
    _put(
        s,
        "edge/v1/site-a/dev-1/events/L1",
        _events(
            "dev-1",
            "L1",
            [
                (0, T0 + 10, "in", "car"),
                (1, T0 + 20, "in", "person"),
                (2, T0 + 3700, "out", "truck"),
                (3, T0 + 86_400, "in", "car"),
            ],
        ),
    )
    _put(s, "edge/v1/site-a/dev-2/events/L2", _events("dev-2", "L2", [(0, T0 + 30, "out", "bus")]))
    _put(s, "edge/v1/site-b/dev-3/events/L1", _events("dev-3", "L1", [(0, T0 + 40, "in", "car")]))
    now = time.time()
    _put(s, "edge/v1/site-b/dev-3/events/L1", _events("dev-3", "L1", [(9, now - 5, "in", "car")]))
    _put(s, "edge/v1/site-a/dev-1/state", state("dev-1", now - 1, L1=("to Georgia", "to Russia")))
    yield s
    s.close()


def _client(store: Store, **overrides: Any) -> TestClient:
    cfg = load_collector_config(
        None,
        {"sites": {"site-a": {"timezone": "Europe/Warsaw", "name": "North gate"}}, **overrides},
    )
    return TestClient(create_app(store, cfg))


def _series(body: dict[str, Any]) -> dict[tuple[str, ...], list[int]]:
    return {tuple(s["key"].values()): s["counts"] for s in body["series"]}


def test_counts_hourly_by_direction_and_category(store: Store) -> None:
    r = _client(store).get(
        "/api/v1/counts",
        params={"start": T0, "end": T0 + 3 * 3600, "bucket": "1h", "site": "site-a", "tz": "UTC"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["buckets"] == [T0, T0 + 3600, T0 + 7200]
    assert _series(body) == {
        ("in", "pedestrian"): [1, 0, 0],
        ("in", "vehicle"): [1, 0, 0],
        ("out", "vehicle"): [1, 1, 0],
    }


def test_daily_buckets_start_at_the_sites_local_midnight(store: Store) -> None:
    params = {
        "start": "2024-05-01",
        "end": "2024-05-03",
        "bucket": "1d",
        "site": "site-a",
        "group_by": "device",
    }
    body = _client(store).get("/api/v1/counts", params=params).json()
    assert body["timezone"] == "Europe/Warsaw"
    assert body["buckets_local"] == ["2024-05-01T00:00:00+02:00", "2024-05-02T00:00:00+02:00"]
    assert _series(body) == {("dev-1",): [3, 1], ("dev-2",): [1, 0]}


def test_filters_combine_and_repeat(store: Store) -> None:
    params = [
        ("start", str(T0)),
        ("end", str(T0 + 86_400 * 2)),
        ("bucket", "1d"),
        ("tz", "UTC"),
        ("class", "car,bus"),
        ("direction", "in"),
        ("direction", "out"),
        ("group_by", "site,class"),
    ]
    body = _client(store).get("/api/v1/counts", params=params).json()
    assert {k: sum(v) for k, v in _series(body).items()} == {
        ("site-a", "bus"): 1,
        ("site-a", "car"): 2,
        ("site-b", "car"): 1,
    }


def test_csv_export(store: Store) -> None:
    params = {"start": T0, "end": T0 + 7200, "bucket": "1h", "tz": "UTC", "group_by": "line"}
    r = _client(store).get("/api/v1/counts.csv", params=params)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.splitlines()
    assert lines[0] == "bucket_start_utc,bucket_start_local,line,count"
    assert f"{T0},2024-05-01T10:00:00+00:00,L1,3" in lines
    assert f"{T0 + 3600},2024-05-01T11:00:00+00:00,L1,1" in lines


def test_today_counts_since_local_midnight(store: Store) -> None:
    body = _client(store).get("/api/v1/today", params={"site": "site-b"}).json()
    row = {"key": {"direction": "in", "category": "vehicle"}, "n": 1}
    assert body["total"] == 1 and body["rows"] == [row]
    assert body["since"] <= time.time() < body["since"] + 25 * 3600


def test_totals_have_the_replay_shape(store: Store) -> None:
    body = _client(store).get("/api/v1/totals", params={"site": "site-a"}).json()
    assert body == {
        "devices": {
            "dev-1": {
                "lines": {"L1": {"in": {"car": 2, "person": 1}, "out": {"truck": 1}}},
                "labels": {"L1": {"in": "to Georgia", "out": "to Russia"}},
            },
            "dev-2": {
                "lines": {"L2": {"in": {}, "out": {"bus": 1}}},
                "labels": {"L2": {"in": "in", "out": "out"}},  # never named
            },
        }
    }


def test_counts_and_today_name_every_device_and_line_of_their_filters(store: Store) -> None:
    client = _client(store)
    params = {"start": T0, "end": T0 + 7200, "tz": "UTC", "site": "site-a"}
    body = client.get("/api/v1/counts", params=params).json()
    assert body["labels"] == {
        "dev-1": {"L1": {"in": "to Georgia", "out": "to Russia"}},
        "dev-2": {"L2": {"in": "in", "out": "out"}},
    }
    today = client.get("/api/v1/today", params={"site": "site-b"}).json()
    assert today["labels"] == {"dev-3": {"L1": {"in": "in", "out": "out"}}}


def test_csv_names_directions_per_device(store: Store) -> None:
    params = {"start": T0, "end": T0 + 7200, "bucket": "1h", "tz": "UTC",
              "group_by": "line,direction", "site": "site-a"}  # fmt: skip
    lines = _client(store).get("/api/v1/counts.csv", params=params).text.splitlines()
    assert (
        lines[0]
        == "bucket_start_utc,bucket_start_local,device,line,direction,direction_label,count"
    )
    assert f"{T0},2024-05-01T10:00:00+00:00,dev-1,L1,in,to Georgia,2" in lines
    assert f"{T0 + 3600},2024-05-01T11:00:00+00:00,dev-1,L1,out,to Russia,1" in lines
    assert f"{T0},2024-05-01T10:00:00+00:00,dev-2,L2,out,out,1" in lines


def test_sites_and_devices(store: Store) -> None:
    client = _client(store)
    sites = client.get("/api/v1/sites").json()
    assert sites == [
        {"site": "site-a", "name": "North gate", "timezone": "Europe/Warsaw", "devices": 2},
        {"site": "site-b", "name": None, "timezone": "UTC", "devices": 1},
    ]
    devices = client.get("/api/v1/devices", params={"site": "site-b"}).json()["devices"]
    assert [(d["device_id"], d["health"]) for d in devices] == [("dev-3", "unknown")]


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"bucket": "7m"}, "bucket"),
        ({"tz": "Mars/Base"}, "time zone"),
        ({"start": "2024-05-02", "end": "2024-05-01"}, "end must follow start"),
        ({"start": "2020-01-01", "end": "2024-01-01"}, "at most 400 days"),
        ({"start": "soon"}, "ISO 8601"),
        ({"group_by": "colour"}, "group_by"),
        ({"group_by": "site,site"}, "group_by"),
        ({"site": "a b"}, "site"),
        ({"start": "2024-01-01", "end": "2024-03-01", "bucket": "1m"}, "buckets"),
    ],
)
def test_bad_parameters_are_a_clear_400(store: Store, params: dict[str, str], needle: str) -> None:
    r = _client(store).get("/api/v1/counts", params=params)
    assert r.status_code == 400, r.text
    assert needle in r.json()["detail"]


def test_unknown_parameter_is_rejected(store: Store) -> None:
    assert _client(store).get("/api/v1/counts", params={"colour": "red"}).status_code == 422


def test_bearer_token(store: Store) -> None:
    client = _client(store, http={"token": "s3cret-token"})
    assert client.get("/api/v1/sites").status_code == 401
    bad = {"Authorization": "Bearer nope"}
    assert client.get("/api/v1/sites", headers=bad).status_code == 401
    good = {"Authorization": "Bearer s3cret-token"}
    assert client.get("/api/v1/sites", headers=good).status_code == 200
    assert client.get("/").status_code == 200, "the dashboard page itself holds no data"


def test_openapi_and_dashboard_are_served(store: Store) -> None:
    client = _client(store)
    spec = client.get("/openapi.json").json()
    assert "/api/v1/counts" in spec["paths"] and "/api/v1/totals" in spec["paths"]
    assert client.get("/").status_code == 200


def test_no_swagger_ui_from_a_cdn_and_the_spec_lists_400_and_401(store: Store) -> None:
    client = _client(store)
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404
    spec = client.get("/openapi.json").json()
    answers = spec["paths"]["/api/v1/totals"]["get"]["responses"]
    assert {"200", "400", "401"} <= set(answers)
    assert all({"400", "401"} <= set(op["responses"]) for p in spec["paths"].values()
               for op in p.values())  # fmt: skip
