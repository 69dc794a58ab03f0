"""The API over several days of crossings gives the same answers after retention deleted
their raw events and minutes (from the hour and day rollups), and refuses what it no longer
can answer exactly."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from edge.collector.api import create_app
from edge.collector.config import LineRef, QueueConfig, load_collector_config
from edge.collector.ingest import Received, ingest
from edge.collector.queues import queue_figures
from edge.collector.retention import cutoffs
from edge.collector.store import Store, open_store

T0 = 1_717_200_000  # 2024-06-01 00:00 UTC
DAY = 86_400
OUTBOX = "00000000000000bb"
DEVICES = (("kazbegi", "dev-1"), ("kazbegi", "dev-2"), ("sarpi", "dev-3"))
CLASSES = ("car", "bus", "truck", "person")


def _deliver(st: Store, site: str, device: str, times: list[float], now: float) -> None:
    """Crossings at ``times`` on random lines, directions and classes, 200 per message."""
    rng = random.Random(device)
    by_line: dict[str, list[dict[str, Any]]] = {"L1": [], "L2": []}
    for i, t in enumerate(times):
        line = rng.choice(("L1", "L2"))
        by_line[line].append(
            {"device_id": device, "outbox_id": OUTBOX, "epoch": 1, "seq": i + 1, "ts": t,
             "line": line, "direction": rng.choice(("in", "out")),
             "class": rng.choice(CLASSES), "track_id": i, "confidence": 0.9}
        )  # fmt: skip
    for line, events in by_line.items():
        for first in range(0, len(events), 200):
            chunk = events[first : first + 200]
            body = json.dumps({"v": 1, "type": "events", "device_id": device, "events": chunk})
            msg = ingest(Received(f"edge/v1/{site}/{device}/events/{line}", body.encode(), now))
            assert msg.reject is None, msg.reject
            assert st.write([msg]).inserted == len(chunk)
    st.update_acks({(site, device, OUTBOX): 0})


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """Six days of crossings (3 devices, ~2000 each, at random seconds) and some today."""
    st = open_store(db_url)
    st.migrate()
    now = time.time()
    for site, device in DEVICES:
        rng = random.Random(f"t-{device}")
        old = sorted(T0 + rng.uniform(0, 6 * DAY) for _ in range(2000))
        recent = sorted(now - rng.uniform(60, 3600) for _ in range(20))
        _deliver(st, site, device, old + recent, now)
    yield st
    st.close()


def _client(st: Store) -> TestClient:
    sites = {"kazbegi": {"timezone": "Asia/Tbilisi"}, "sarpi": {"timezone": "Asia/Kolkata"}}
    cfg = load_collector_config(None, {"sites": sites})
    return TestClient(create_app(st, cfg))


#: Requests whose buckets are whole UTC hours over the old days (Tbilisi is UTC+4; Kolkata,
#: +05:30, has local hours and days starting at half past a UTC hour: in GONE).
KEPT = [
    ("/api/v1/counts", {"start": T0, "end": T0 + 6 * DAY, "bucket": "1h", "tz": "UTC"}),
    ("/api/v1/counts", {"start": T0, "end": T0 + 6 * DAY, "bucket": "1d", "tz": "UTC",
                        "group_by": "site,device,line,direction,class"}),
    ("/api/v1/counts", {"start": T0 + 3600, "end": T0 + 5 * DAY, "bucket": "6h",
                        "site": "kazbegi", "group_by": "device,line,direction"}),
    ("/api/v1/counts", {"start": "2024-06-02", "end": "2024-06-06", "bucket": "1d",
                        "site": "kazbegi", "group_by": "category"}),
    ("/api/v1/counts.csv", {"start": "2024-06-02", "end": "2024-06-05", "bucket": "3h",
                            "site": "kazbegi", "group_by": "line,direction"}),
    ("/api/v1/hourly", {"site": "kazbegi", "day": "2024-06-03"}),
    ("/api/v1/hourly.csv", {"site": "kazbegi", "day": "2024-06-04"}),
    ("/api/v1/today", {"group_by": "site,class", "tz": "Asia/Kolkata"}),
    ("/api/v1/totals", {}),
]  # fmt: skip
#: Requests that need minutes of the deleted days.
GONE = [
    ("/api/v1/counts", {"start": T0, "end": T0 + 6 * DAY, "bucket": "15m", "tz": "UTC"}),
    ("/api/v1/counts", {"start": "2024-06-02", "end": "2024-06-05", "bucket": "1h",
                        "site": "sarpi"}),
    ("/api/v1/counts", {"start": T0 + 1800, "end": T0 + 3 * DAY, "bucket": "1h", "tz": "UTC"}),
    ("/api/v1/hourly", {"site": "sarpi", "day": "2024-06-03"}),
    ("/api/v1/counts", {"start": "2024-06-02", "end": "2024-06-06", "bucket": "1d",
                        "site": "sarpi"}),
]  # fmt: skip


def _answers(c: TestClient, requests: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    out = []
    for path, params in requests:
        r = c.get(path, params=params)
        assert r.status_code == 200, (path, params, r.text)
        out.append(r.text if path.endswith(".csv") else r.json())
    return out


def _total(answer: dict[str, Any]) -> int:
    return sum(s["total"] for s in answer["series"])


def test_answers_survive_retention_of_events_and_minutes(store: Store) -> None:
    c = _client(store)
    before = _answers(c, KEPT)
    detailed = _answers(c, GONE)
    assert _total(before[0]) == _total(detailed[0]) == 3 * 2000  # every old crossing
    assert sum(r["total"] for r in before[5]["rows"]) > 0

    # Retention as configured "events_days = minute_days = 2", run six days after the data.
    cut = cutoffs({"events": 2, "minute": 2, "hour": 0}, T0 + 8 * DAY)
    assert cut == {"events": T0 + 6 * DAY, "minute": T0 + 6 * DAY}
    deleted = store.apply_retention(cut, batch_rows=1000)
    assert deleted.events == 3 * 2000 and deleted.minute >= 5000 and deleted.hour == 0
    with store.reading() as r:
        left = r.query("SELECT COUNT(*), MIN(ts) FROM events")[0]
        minutes = r.query("SELECT COUNT(*) FROM counts_minute WHERE minute < ?", [T0 + 6 * DAY])
    assert int(left[0]) == 3 * 20 and float(left[1]) > T0 + 6 * DAY and minutes[0][0] == 0

    assert _answers(c, KEPT) == before
    for path, params in GONE:
        r = c.get(path, params=params)
        assert r.status_code == 400, (path, params, r.text)
        assert "retention.minute_days" in r.text and "whole UTC hours" in r.text


def test_daily_counts_survive_retention_of_hours(store: Store) -> None:
    c = _client(store)
    utc_days = [KEPT[1]]
    before = _answers(c, utc_days)
    cut = cutoffs({"events": 2, "minute": 2, "hour": 2}, T0 + 8 * DAY)
    deleted = store.apply_retention(cut, batch_rows=1000)
    assert deleted.hour > 0
    assert _answers(c, utc_days) == before
    r = c.get("/api/v1/counts", params=KEPT[3][1])  # Tbilisi days need hours: gone
    assert r.status_code == 400 and "retention.hour_days" in r.text


@pytest.mark.parametrize(
    ("tz", "bucket", "start", "end"),
    [
        ("UTC", "1h", T0, T0 + 6 * DAY),
        ("UTC", "15m", T0 + 17 * 60, T0 + 2 * DAY + 100),
        ("Asia/Tbilisi", "1d", T0, T0 + 6 * DAY),
        ("Asia/Tbilisi", "3h", T0 + 17 * 60 + 5, T0 + 5 * DAY - 7),
        ("Asia/Kolkata", "2h", T0, T0 + 6 * DAY),  # 72 minute ranges: read as their hull
        ("Asia/Kolkata", "1d", T0 + 3600, T0 + 6 * DAY),
        ("Europe/London", "12h", T0, T0 + 6 * DAY),
    ],
)
def test_rollup_answers_equal_counting_the_raw_events(
    store: Store, tz: str, bucket: str, start: int, end: int
) -> None:
    params = {"start": start, "end": end, "bucket": bucket, "tz": tz, "group_by": "device"}
    body = _client(store).get("/api/v1/counts", params=params).json()
    edges = body["buckets"]
    with store.reading() as r:
        rows = r.query("SELECT device_id, ts FROM events WHERE ts >= ? AND ts < ?",
                       [start - start % 60, end])  # fmt: skip
    expected: dict[str, list[int]] = {}
    for device, ts in rows:
        i = max(j for j, e in enumerate(edges) if e <= float(ts) - float(ts) % 60)
        expected.setdefault(str(device), [0] * len(edges))[i] += 1
    got = {s["key"]["device"]: s["counts"] for s in body["series"]}
    assert got == expected and sum(map(sum, got.values())) > 1000


@pytest.mark.parametrize(
    ("since", "days"),
    [
        (T0, {"events": 2, "minute": 2, "hour": 0}),  # a whole day: from the day rollup
        (T0 + 17 * 60, {"events": 2, "minute": 400, "hour": 0}),  # a minute: from minutes
    ],
)
def test_queue_figures_survive_retention_of_their_crossings(
    store: Store, since: int, days: dict[str, int]
) -> None:
    q = QueueConfig(
        entry=LineRef(device="dev-1", line="L1", direction="in"),
        exit=LineRef(device="dev-2", line="L1", direction="out"),
        since=since, classes=tuple(CLASSES),
    )  # fmt: skip
    now = time.time() + 60
    with store.reading() as r:
        before = queue_figures(r, "q", q, now)
    assert before["entries"] > 200 and before["exits"] > 200
    deleted = store.apply_retention(cutoffs(days, T0 + 8 * DAY), batch_rows=1000)
    assert deleted.events == 3 * 2000
    with store.reading() as r:
        assert queue_figures(r, "q", q, now) == before
