"""Schema v6 on a populated v5 store: hour and day rollups backfilled from the minutes."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from edge.collector import statements, store_rows
from edge.collector import store as store_module
from edge.collector.ingest import Ingested, Received, ingest
from edge.collector.schema import LATEST_VERSION, MIGRATIONS
from edge.collector.store import Store, open_store
from tests.unit.test_collector_api import _events

T0 = 1_717_200_000  # 2024-06-01 00:00 UTC
DAY = 86_400


def crossings(device: str, seqs: range, rng: random.Random, span_s: int) -> Ingested:
    """Crossings of ``device`` at random times in ``[T0, T0 + span_s)``."""
    rows = [
        (s, T0 + rng.uniform(0, span_s), rng.choice(("in", "out")), rng.choice(("car", "bus")))
        for s in seqs
    ]
    topic = f"edge/v1/s1/{device}/events/L1"
    msg = ingest(Received(topic, _events(device, "L1", rows), T0 + span_s))
    assert msg.reject is None and len(msg.events) == len(rows)
    return msg


def sums(st: Store) -> dict[str, object]:
    """Every aggregate's grand total, and the minute rows summed per UTC hour and day."""
    with st.reading() as r:
        out: dict[str, object] = {
            t: int(r.query(f"SELECT COALESCE(SUM(n), 0) FROM {t}")[0][0])
            for t in ("counts_minute", "counts_total")
        }
        out["events"] = int(r.query("SELECT COUNT(*) FROM events")[0][0])
        minutes = r.query(
            "SELECT minute, site, device_id, line, direction, cls, n FROM counts_minute"
        )
    out["minutes_per_hour"] = _per(minutes, 3600)
    out["minutes_per_day"] = _per(minutes, DAY)
    return out


def _per(rows: list[tuple[object, ...]], step: int) -> Counter[tuple[object, ...]]:
    out: Counter[tuple[object, ...]] = Counter()
    for m, *k, n in rows:
        out[(int(str(m)) // step * step, *k)] += int(str(n))
    return out


def rollup(st: Store, table: str) -> Counter[tuple[object, ...]]:
    key = "hour" if table == "counts_hour" else "day"
    with st.reading() as r:
        rows = r.query(f"SELECT {key}, site, device_id, line, direction, cls, n FROM {table}")
    return Counter({(int(t), *k): int(n) for t, *k, n in rows})


def test_v6_backfills_rollups_from_a_populated_v5_store(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(6)
    old = open_store(db_url)
    with monkeypatch.context() as m:  # a store as the previous release left it (v5)
        m.setattr(store_module, "MIGRATIONS", MIGRATIONS[:5])
        m.setattr(store_module, "LATEST_VERSION", 5)
        m.setattr(store_rows, "LEVEL_UPSERTS", {statements.UPSERT_MINUTE: 60})
        assert old.migrate() == 5
        for dev in ("dev-a", "dev-b", "dev-c"):  # 3 devices x 1500 crossings over 3 days
            for first in range(1, 1501, 500):
                msg = crossings(dev, range(first, first + 500), rng, 3 * DAY)
                with old._transaction():  # the v5 write path: events, minutes and totals
                    old._bump_aggregates(old._insert_events(msg.events, [T0] * len(msg.events)))
    before = sums(old)
    old.close()
    st = open_store(db_url)
    try:
        assert st.migrate() == LATEST_VERSION
        after = sums(st)
        assert after == before
        assert before["events"] == before["counts_minute"] == before["counts_total"] == 4500
        assert rollup(st, "counts_hour") == before["minutes_per_hour"]
        assert rollup(st, "counts_day") == before["minutes_per_day"]
        assert len(rollup(st, "counts_day")) == 3 * 3 * 2 * 2  # days x devices x dirs x cls
        # Ingest now bumps every level by the same inserted rows; redelivery bumps nothing.
        more = crossings("dev-a", range(1501, 1601), rng, 3 * DAY)
        assert st.write([more]).inserted == 100
        assert st.write([more]).duplicates == 100
        now = sums(st)
        assert now["events"] == now["counts_minute"] == now["counts_total"] == 4600
        assert rollup(st, "counts_hour") == now["minutes_per_hour"]
        assert rollup(st, "counts_day") == now["minutes_per_day"]
    finally:
        st.close()
