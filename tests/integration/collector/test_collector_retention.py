"""Retention on each backend: raw crossings and fine counts go, totals stay, and a late
redelivery of a deleted crossing is never counted again."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest

from edge.collector import device_queries
from edge.collector.config import RetentionConfig, load_collector_config
from edge.collector.ingest import EXPIRED, Ingested, Received, ingest
from edge.collector.retention import RetentionJob, cutoffs
from edge.collector.service import Collector
from edge.collector.store import Store, open_store
from tests.conftest import Broker
from tests.integration.collector.helpers import fleet, wait_until

T0 = 1_717_200_000  # 2024-06-01 00:00 UTC
DAY = 86_400
OUTBOX = "00000000000000aa"
#: One crossing every 20 minutes for 4 days: 288 crossings, 72 per UTC day.
TIMES = [T0 + 600 + 1200 * i for i in range(288)]


def crossings(device: str, seqs: list[int], outbox: str | None = OUTBOX) -> Ingested:
    """Crossings ``seqs`` of ``device`` (seq n at ``TIMES[n - 1]``), delivered at the end."""
    extra = {} if outbox is None else {"outbox_id": outbox}
    events = [
        {"device_id": device, **extra, "epoch": 1, "seq": s, "ts": TIMES[s - 1], "line": "L1",
         "direction": "in" if s % 2 else "out", "class": "car", "track_id": s,
         "confidence": 0.9}
        for s in seqs
    ]  # fmt: skip
    payload = json.dumps({"v": 1, "type": "events", "device_id": device, "events": events})
    msg = ingest(Received(f"edge/v1/s1/{device}/events/L1", payload.encode(), T0 + 4 * DAY))
    assert msg.reject is None, msg.reject
    return msg


def figures(st: Store) -> dict[str, int]:
    """Rows of every table retention touches, and the sum of every aggregate."""
    with st.reading() as r:
        out = {
            f"{t}_rows": int(r.query(f"SELECT COUNT(*) FROM {t}")[0][0])
            for t in ("events", "counts_minute", "counts_hour", "counts_day")
        }
        for t in ("counts_minute", "counts_hour", "counts_day", "counts_total"):
            out[t] = int(r.query(f"SELECT COALESCE(SUM(n), 0) FROM {t}")[0][0])
        out["expired"] = int(
            r.query("SELECT COUNT(*) FROM rejects WHERE code = ?", [EXPIRED])[0][0]
        )
    return out


def reconciled(st: Store) -> dict[str, int]:
    """dev-a's crossings stored against its journal of 288 (``/devices`` totals)."""
    state = {"outbox_id": OUTBOX, "last_seq": 288, "epoch": 1, "ts": T0 + 4 * DAY,
             "lines": {"L1": {"in": {"car": 144}, "out": {"car": 144}}}}  # fmt: skip
    with st.reading() as r:
        got = device_queries.reconcile(r, "dev-a", state)
    return {k: got[k] for k in ("stored", "missing")}


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    st = open_store(db_url)
    st.migrate()
    yield st
    st.close()


def test_cutoffs_are_utc_midnights_and_zero_keeps_for_ever() -> None:
    now = T0 + 10 * DAY + 5000
    assert cutoffs({"events": 2, "minute": 3, "hour": 0}, now) == {
        "events": T0 + 8 * DAY,
        "minute": T0 + 7 * DAY,
    }


def test_retention_deletes_old_rows_and_never_recounts_a_redelivery(store: Store) -> None:
    seqs = [s for s in range(1, 289) if s != 100]  # seq 100 lost: acked up to 99 only
    for first in range(0, len(seqs), 100):
        assert store.write([crossings("dev-a", seqs[first : first + 100])]).inserted > 0
    assert store.write([crossings("dev-b", list(range(1, 289)), None)]).inserted == 288
    assert store.update_acks({("s1", "dev-a", OUTBOX): 0}) == {("s1", "dev-a"): {OUTBOX: 99}}
    before = figures(store)
    assert before["events_rows"] == before["counts_total"] == 287 + 288
    assert reconciled(store) == {"stored": 287, "missing": 1}

    # Four days later: crossings and minutes of the first two days go, hours stay.
    cut = cutoffs({"events": 2, "minute": 2, "hour": 0}, T0 + 4 * DAY + 1)
    assert cut == {"events": T0 + 2 * DAY, "minute": T0 + 2 * DAY}
    deleted = store.apply_retention(cut, batch_rows=50)
    after = figures(store)
    # dev-a: seqs 1..99 acked and old (gone), 101..144 old but unacknowledged (kept);
    # dev-b (no outbox id, never acknowledged): its 144 old crossings go.
    assert (deleted.events, deleted.minute, deleted.hour) == (99 + 144, 143 + 144, 0)
    assert after["events_rows"] == before["events_rows"] - 243
    assert after["counts_minute"] == before["counts_minute"] - 287
    for kept in ("counts_hour", "counts_day", "counts_total"):
        assert after[kept] == before[kept] == 575
    assert reconciled(store) == {"stored": 287, "missing": 1}  # deleted ones still count

    # Late redeliveries of deleted crossings: known duplicates, or refused without outbox id.
    again = store.write([crossings("dev-a", list(range(1, 100)))])
    assert (again.inserted, again.duplicates, again.rejected) == (0, 99, 0)
    legacy = store.write([crossings("dev-b", list(range(1, 289)), None)])
    assert (legacy.inserted, legacy.duplicates, legacy.rejected) == (0, 144, 1)
    # The lost crossing arrives at last: counted in hours, days and totals, not in the
    # deleted minutes (its level has no rows before the mark).
    late = store.write([crossings("dev-a", [100])])
    assert late.inserted == 1
    final = figures(store)
    assert final["counts_total"] == final["counts_hour"] == final["counts_day"] == 576
    assert final["counts_minute"] == after["counts_minute"]
    assert final["expired"] == 1

    # Now acknowledged up to 288: the next run deletes what was kept back.
    assert store.update_acks({("s1", "dev-a", OUTBOX): 0}) == {("s1", "dev-a"): {OUTBOX: 288}}
    second = store.apply_retention(cut, batch_rows=50)
    assert (second.events, second.minute, second.hour) == (45, 0, 0)
    assert reconciled(store) == {"stored": 288, "missing": 0}
    assert store.write([crossings("dev-a", list(range(1, 289)))]).inserted == 0
    assert figures(store)["counts_total"] == 576


def test_marks_only_grow(store: Store) -> None:
    store.apply_retention({"events": T0 + 2 * DAY}, batch_rows=100)
    shorter = store.apply_retention({"events": T0 + DAY}, batch_rows=100)  # days raised
    assert shorter.cutoffs["events"] == T0 + 2 * DAY


def test_the_job_runs_on_its_schedule_and_stops(db_url: str, store: Store) -> None:
    assert store.write([crossings("dev-b", list(range(1, 289)), None)]).inserted == 288
    cfg = RetentionConfig(events_days=2, minute_days=2, hour_days=3, every_s=60)
    job = RetentionJob(lambda: open_store(db_url), cfg, clock=lambda: T0 + 4 * DAY + 1)
    job.start()
    try:
        wait_until(lambda: job.runs > 0, 10, "a retention run")
    finally:
        job.stop()
    assert job.failure() is None and not job._thread.is_alive()
    assert job.last is not None
    # Hours of the first day go: 24 of them, each with in and out rows.
    assert (job.last.events, job.last.minute, job.last.hour) == (144, 144, 48)
    assert figures(store)["counts_total"] == 288


def test_the_collector_runs_retention_and_counts_a_redelivery_once(
    broker: Broker, db_url: str, store: Store
) -> None:
    assert store.write([crossings("dev-a", list(range(1, 289)))]).inserted == 288
    store.update_acks({("s1", "dev-a", OUTBOX): 0})
    overrides = {
        "mqtt.url": broker.url, "store.url": db_url, "http.port": 0, "mqtt.client_id": "c1",
        "retention": {"events_days": 30, "minute_days": 30, "hour_days": 60},
    }  # fmt: skip
    c = Collector(load_collector_config(None, overrides))
    c.start()
    pub = fleet.connect(broker.url)
    try:
        assert c.wait_subscribed(10)
        wait_until(lambda: c.stats()["retention_runs"] > 0, 10, "a retention run")
        assert figures(store)["events_rows"] == figures(store)["counts_minute_rows"] == 0
        redelivery = crossings("dev-a", list(range(1, 289))).events
        payload = json.dumps({"v": 1, "type": "events", "device_id": "dev-a", "events": [
            {"device_id": "dev-a", "outbox_id": OUTBOX, "epoch": 1, "seq": e.seq, "ts": e.ts_s,
             "line": "L1", "direction": e.direction, "class": "car", "track_id": e.seq,
             "confidence": 0.9} for e in redelivery
        ]})  # fmt: skip
        pub.publish("edge/v1/s1/dev-a/events/L1", payload, qos=1).wait_for_publish()
        wait_until(lambda: c.stats()["messages"] >= 1, 10, "the redelivery processed")
        assert c.stats()["events_duplicate"] == 288 and c.stats()["events_inserted"] == 0
        assert figures(store)["counts_total"] == figures(store)["counts_day"] == 288
    finally:
        pub.disconnect()
        c.stop()
    assert c.failure() is None


def test_redeliveries_during_a_retention_run_are_never_recounted(db_url: str, store: Store) -> None:
    assert store.write([crossings("dev-a", list(range(1, 289)))]).inserted == 288
    store.update_acks({("s1", "dev-a", OUTBOX): 0})
    other = open_store(db_url)  # a second writer (another collector, or the same one)
    done = threading.Event()
    inserted: list[int] = []

    def redeliver() -> None:
        while not done.is_set():
            for first in range(1, 289, 24):
                inserted.append(
                    other.write([crossings("dev-a", list(range(first, first + 24)))]).inserted
                )

    t = threading.Thread(target=redeliver)
    t.start()
    try:
        deleted = store.apply_retention({"events": T0 + 4 * DAY}, batch_rows=10)
    finally:
        done.set()
        t.join()
        other.close()
    assert deleted.events == 288 and len(inserted) >= 12
    assert sum(inserted) == 0 and figures(store)["counts_total"] == 288
