"""Schema v3 on a populated store: legacy rows keep their key, new rows key on outbox ids."""

from __future__ import annotations

import pytest

from edge.collector import store as store_module
from edge.collector.ingest import Ingested, Received, ingest
from edge.collector.schema import LATEST_VERSION, MIGRATIONS
from edge.collector.store import open_store

TOPIC = "edge/v1/s1/dev1/events/L1"


def events(outbox_id: str | None, seqs: range, cls: str = "car") -> Ingested:
    extra = "" if outbox_id is None else f'"outbox_id":"{outbox_id}",'
    body = ",".join(
        f'{{"device_id":"dev1",{extra}"epoch":1,"seq":{s},"ts":1700000000.5,"line":"L1",'
        f'"direction":"in","class":"{cls}","track_id":{s},"confidence":0.9}}'
        for s in seqs
    )
    payload = f'{{"v":1,"type":"events","device_id":"dev1","events":[{body}]}}'.encode()
    return ingest(Received(TOPIC, payload, 1700000001.0))


def test_v3_migrates_a_populated_store(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    old = open_store(db_url)
    with monkeypatch.context() as m:  # a store as the previous release left it (v2)
        m.setattr(store_module, "MIGRATIONS", MIGRATIONS[:2])
        m.setattr(store_module, "LATEST_VERSION", 2)
        assert old.migrate() == 2
    with old._transaction():  # rows as the previous release wrote them
        for s in range(1, 11):
            old._execute(
                "INSERT INTO events (device_id, epoch, seq, site, line, direction, cls, ts,"
                " track_id, confidence, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ("dev1", 1, s, "s1", "L1", "in", "car", 1700000000.5, s, 0.9, 1700000001.0),
            )
        old._execute("INSERT INTO counts_total VALUES ('s1', 'dev1', 'L1', 'in', 'car', 10)")
    old.close()
    st = open_store(db_url)
    try:
        assert st.migrate() == LATEST_VERSION
        assert st.write([events(None, range(5, 15))]).inserted == 4  # legacy key still holds
        fresh = "0123456789abcdef"
        assert st.write([events(fresh, range(1, 11), "bus")]).inserted == 10  # a wiped device
        assert st.write([events(fresh, range(1, 11), "bus")]).duplicates == 10
        acks = st.update_acks({("s1", "dev1", fresh): 0})
        assert acks == {("s1", "dev1"): {fresh: 10}}
        with st.reading() as r:
            rows = r.query("SELECT outbox_id, COUNT(*) FROM events GROUP BY 1 ORDER BY 1")
            total = r.query("SELECT SUM(n) FROM counts_total")[0][0]
        assert [tuple(x) for x in rows] == [("", 14), (fresh, 10)] and total == 24
    finally:
        st.close()


def test_ack_skips_the_gap_below_base_seq(tmp_path: object) -> None:
    st = open_store(f"sqlite:///{tmp_path}/c.db")
    try:
        st.migrate()
        ob = "00000000000000aa"
        st.write([events(ob, range(201, 251))])  # 1..200 dropped by the device's cap
        assert st.update_acks({("s1", "dev1", ob): 0}) == {("s1", "dev1"): {ob: 0}}
        assert st.update_acks({("s1", "dev1", ob): 200}) == {("s1", "dev1"): {ob: 250}}
        st.write([events(ob, range(252, 260))])  # 251 missing: the ack waits for it
        assert st.update_acks({("s1", "dev1", ob): 0}) == {("s1", "dev1"): {ob: 250}}
    finally:
        st.close()
