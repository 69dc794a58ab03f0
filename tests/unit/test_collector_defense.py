"""The collector defends itself: size and future-time limits, reject codes, an upsert no one
message can pin, and totals reconciled with the device's own journal (real SQLite store)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from edge.collector.api import create_app
from edge.collector.config import IngestConfig, load_collector_config
from edge.collector.ingest import (
    FUTURE_TS,
    REJECT_EXCERPT_BYTES,
    TOO_LARGE,
    DeviceReport,
    Ingested,
    Received,
    ingest,
)
from edge.collector.store import Store, open_store

NOW = time.time()
YEAR_2100 = 4_102_444_800.0


def _telemetry(ts: float, fps: float = 10.0, **extra: Any) -> bytes:
    metrics = {"fps": fps, **extra}
    return json.dumps(
        {"v": 1, "type": "telemetry", "device_id": "dev-1", "ts": ts, "metrics": metrics}
    ).encode()


def _events(seqs: range, ts: float) -> bytes:
    events = [
        {"device_id": "dev-1", "epoch": 1, "seq": s, "ts": ts, "line": "L1", "direction": "in",
         "class": "car", "track_id": s, "confidence": 0.9}
        for s in seqs
    ]  # fmt: skip
    return json.dumps({"v": 1, "type": "events", "device_id": "dev-1", "events": events}).encode()


def _state(journaled: int, dropped: int | None, last_seq: int) -> bytes:
    body: dict[str, Any] = {
        "v": 1, "type": "state", "device_id": "dev-1", "epoch": 1, "ts": NOW,
        "lines": {"L1": {"in": {"car": journaled}, "out": {}}}, "last_seq": last_seq,
    }  # fmt: skip
    if dropped is not None:
        body["dropped"] = dropped
    return json.dumps(body).encode()


def _rx(kind: str, payload: bytes, at: float = NOW, oversize: int = 0) -> Received:
    topic = f"edge/v1/site-a/dev-1/{kind}"
    return Received(topic, payload, at, oversize_bytes=oversize)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'defense.db'}")
    s.migrate()
    yield s
    s.close()


@pytest.fixture
def client(store: Store) -> TestClient:
    return TestClient(create_app(store, load_collector_config(None, {})))


def test_an_oversize_payload_is_a_too_large_reject_with_only_an_excerpt() -> None:
    out = ingest(_rx("telemetry", b"x" * REJECT_EXCERPT_BYTES, oversize=50_000_000))
    assert out.reject is not None and out.reject.code == TOO_LARGE
    assert "50000000 bytes" in out.reject.reason
    assert len(out.reject.excerpt) <= REJECT_EXCERPT_BYTES
    assert not out.events and not out.reports


def test_a_report_over_max_report_bytes_is_too_large() -> None:
    big = _telemetry(NOW, note="y" * 5000)
    limits = IngestConfig(max_report_bytes=2048)
    out = ingest(_rx("telemetry", big), limits)
    assert out.reject is not None and out.reject.code == TOO_LARGE
    assert ingest(_rx("telemetry", big)).reject is None  # under the default 64 KiB


_COUNTS_AHEAD = {"v": 1, "type": "counts", "device_id": "dev-1", "line": "L1",
                 "start": NOW, "end": NOW + 3600, "counts": {}}  # fmt: skip
_FUTURE = [
    ("telemetry", _telemetry(YEAR_2100)),
    ("events/L1", _events(range(3), YEAR_2100)),
    ("status", b'{"v":1,"type":"status","device_id":"dev-1","state":"online","ts":4.1e9}'),
    ("counts/L1", json.dumps(_COUNTS_AHEAD).encode()),
]


@pytest.mark.parametrize(("kind", "payload"), _FUTURE, ids=[k for k, _ in _FUTURE])
def test_times_beyond_the_skew_are_future_ts_rejects(kind: str, payload: bytes) -> None:
    out = ingest(_rx(kind, payload))
    assert out.reject is not None and out.reject.code == FUTURE_TS, out.reject
    assert "in the future" in out.reject.reason


def test_times_within_the_skew_are_accepted() -> None:
    assert ingest(_rx("telemetry", _telemetry(NOW + 299))).reject is None
    tight = IngestConfig(max_future_skew_s=10)
    assert ingest(_rx("telemetry", _telemetry(NOW + 60)), tight).reject is not None


def test_rejects_are_counted_per_code(store: Store, client: TestClient) -> None:
    store.write(
        [
            ingest(_rx("telemetry", b"x", oversize=10_000_000)),
            ingest(_rx("telemetry", _telemetry(YEAR_2100))),
            ingest(_rx("telemetry", b"not json")),
        ]
    )
    body = client.get("/api/v1/rejects").json()
    assert body["total"] == 3
    assert body["by_code"] == {"future_ts": 1, "invalid": 1, "too_large": 1}
    assert {r["code"] for r in body["latest"]} == {"future_ts", "invalid", "too_large"}


def _latest_fps(client: TestClient) -> float:
    (dev,) = client.get("/api/v1/devices").json()["devices"]
    return float(dev["telemetry"]["metrics"]["fps"])


def test_a_future_report_stored_before_the_limit_cannot_pin_the_device(
    store: Store, client: TestClient
) -> None:
    # As an older collector stored it: a telemetry report dated 2100.
    pinned = DeviceReport("site-a", "dev-1", "telemetry", YEAR_2100, NOW - 10, "{}")
    store.write([Ingested("site-a", "dev-1", NOW - 10, reports=[pinned])])
    store.write([ingest(_rx("telemetry", _telemetry(NOW - 5, fps=7.0)))])
    assert _latest_fps(client) == 7.0
    # Ordering still holds among honest reports: an older one does not replace a newer one.
    store.write([ingest(_rx("telemetry", _telemetry(NOW - 8, fps=3.0)))])
    assert _latest_fps(client) == 7.0
    store.write([ingest(_rx("telemetry", _telemetry(NOW - 1, fps=9.0)))])
    assert _latest_fps(client) == 9.0


def test_devices_reconcile_with_the_device_journal(store: Store, client: TestClient) -> None:
    store.write([ingest(_rx("events/L1", _events(range(1, 102), NOW - 60)))])
    # Before a state: only what the collector stored is known.
    (dev,) = client.get("/api/v1/devices").json()["devices"]
    assert dev["totals"] == {
        "stored": 101, "journaled": None, "dropped": None, "missing": None,
        "epoch": None, "last_seq": None, "state_ts": None,
    }  # fmt: skip
    # The device counted 301 crossings, its outbox cap dropped 201 unsent: 101 + 201 + 1 lost.
    store.write([ingest(_rx("state", _state(301, 199, last_seq=301)))])
    (dev,) = client.get("/api/v1/devices").json()["devices"]
    t = dev["totals"]
    assert (t["stored"], t["journaled"], t["dropped"], t["missing"]) == (101, 301, 199, 1)
    assert (t["epoch"], t["last_seq"]) == (1, 301)


def test_a_state_without_dropped_counts_none_dropped(store: Store, client: TestClient) -> None:
    store.write([ingest(_rx("events/L1", _events(range(1, 11), NOW - 60)))])
    store.write([ingest(_rx("state", _state(10, None, last_seq=10)))])
    (dev,) = client.get("/api/v1/devices").json()["devices"]
    assert (dev["totals"]["dropped"], dev["totals"]["missing"]) == (0, 0)


def test_the_defense_settings_load_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        "[ingest]\nmax_future_skew_s = 60\nmax_report_bytes = 4096\n"
        "[store]\nconnect_timeout_s = 3\nstatement_timeout_s = 5.5\nkeepalives_idle_s = 20\n"
        "[mqtt]\nmax_payload_bytes = 100000\n"
    )
    cfg = load_collector_config(path, {})
    assert (cfg.ingest.max_future_skew_s, cfg.ingest.max_report_bytes) == (60, 4096)
    assert (cfg.store.connect_timeout_s, cfg.store.statement_timeout_s) == (3, 5.5)
    assert (cfg.store.keepalives_idle_s, cfg.mqtt.max_payload_bytes) == (20, 100_000)
