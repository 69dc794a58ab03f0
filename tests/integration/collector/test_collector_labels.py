"""Direction names in the store, on SQLite and PostgreSQL: schema v5 on a populated v4
database (every total kept, names backfilled from the stored states), newer states win, and
the hourly table over a DST day; every count endpoint answers 503 when the database is gone."""

from __future__ import annotations

import json
import time
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from edge.collector import statements, store_rows
from edge.collector import store as store_module
from edge.collector.api import create_app
from edge.collector.config import load_collector_config
from edge.collector.ingest import Received, ingest
from edge.collector.schema import LATEST_VERSION, MIGRATIONS
from edge.collector.store import Store, open_store
from tests.integration.collector.helpers import PG_ADMIN_URL
from tests.unit.test_collector_api import _events, state
from tests.unit.test_collector_hourly import AUTUMN, SPRING

T_STATE = 1_711_900_000.0  # 2024-03-31T15:46:40Z
PATHS = ("counts", "counts.csv", "today", "totals", "hourly", "hourly.csv", "devices", "sites")


def _write(st: Store, topic: str, payload: bytes, at: float | None = None) -> None:
    msg = ingest(Received(topic, payload, at or time.time()))
    assert msg.reject is None, msg.reject
    st.write([msg])


def _client(st: Store) -> TestClient:
    cfg = load_collector_config(None, {"sites": {"kazbegi": {"timezone": "Europe/Berlin"}}})
    return TestClient(create_app(st, cfg), raise_server_exceptions=False)


def _v4_store(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database as the previous release (schema v4) left it, with crossings and states."""
    old = open_store(db_url)
    with monkeypatch.context() as m:
        m.setattr(store_module, "MIGRATIONS", MIGRATIONS[:4])
        m.setattr(store_module, "LATEST_VERSION", 4)
        assert old.migrate() == 4
    rows = [(s, ts, d, c) for s, ts, d, c in SPRING + AUTUMN]
    payload = _events("dev-1", "road", rows)
    crossings = ingest(Received("edge/v1/kazbegi/dev-1/events/road", payload, time.time()))
    assert len(crossings.events) == len(rows)
    with old._transaction(), monkeypatch.context() as m:  # the v4 write path: no names
        m.setattr(store_rows, "LEVEL_UPSERTS", {statements.UPSERT_MINUTE: 60})  # no rollups
        old._bump_aggregates(old._insert_events(crossings.events, [T_STATE] * len(rows)))
        states = (
            ("dev-1", state("dev-1", T_STATE, road=("to Georgia", "to Russia"))),
            ("dev-2", state("dev-2", T_STATE)),  # an agent older than direction names
        )
        for dev, body in states:
            old._execute(
                "INSERT INTO device_reports (device_id, kind, name, site, ts, received_at, state,"
                " body) VALUES (?, 'state', '', 'kazbegi', ?, ?, NULL, ?)",
                (dev, T_STATE, T_STATE, json.dumps(json.loads(body))),
            )
    old.close()


def _sums(st: Store) -> tuple[Any, ...]:
    with st.reading() as r:
        return tuple(r.query(
            "SELECT (SELECT COUNT(*) FROM events), (SELECT SUM(n) FROM counts_total),"
            " (SELECT SUM(n) FROM counts_minute)"
        )[0])  # fmt: skip


def test_v5_migrates_a_populated_store_and_names_its_lines(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _v4_store(db_url, monkeypatch)
    st = open_store(db_url)
    try:
        before = _sums(st)
        assert before == (len(SPRING + AUTUMN),) * 3
        assert st.migrate() == LATEST_VERSION
        assert _sums(st) == before, "every total kept"
        client = _client(st)
        totals = client.get("/api/v1/totals").json()["devices"]["dev-1"]
        assert totals["labels"] == {"road": {"in": "to Georgia", "out": "to Russia"}}
        assert sum(totals["lines"]["road"]["in"].values()) == 8
        # an older state never overwrites newer names; a newer one does
        topic = "edge/v1/kazbegi/dev-1/state"
        _write(st, topic, state("dev-1", T_STATE - 60, road=("stale", "stale")), T_STATE)
        _write(st, topic, state("dev-1", T_STATE + 60, road=("to Tbilisi", "to Vladikavkaz")))
        _write(st, topic, state("dev-1", T_STATE + 120))  # the line lost its names in config?
        body = client.get("/api/v1/hourly", params={"site": "kazbegi", "day": "2024-03-31"}).json()
        assert len(body["hours"]) == 23
        labels = {(r["direction"], r["class"]): (r["label"], r["total"]) for r in body["rows"]}
        assert labels == {
            ("in", "car"): ("to Tbilisi", 2),
            ("in", "person"): ("to Tbilisi", 1),
            ("out", "truck"): ("to Vladikavkaz", 1),
        }
        autumn = client.get("/api/v1/hourly", params={"site": "kazbegi", "day": "2024-10-27"})
        assert len(autumn.json()["hours"]) == 25
        assert [r["counts"][2:4] for r in autumn.json()["rows"]] == [[0, 1], [1, 1]]
    finally:
        st.close()


def test_count_endpoints_answer_503_when_the_database_is_gone(pg_url: str) -> None:
    st = open_store(pg_url)
    st.migrate()
    client = _client(st)
    try:
        assert all(client.get(f"/api/v1/{p}").status_code == 200 for p in PATHS)
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{pg_url.rsplit("/", 1)[1]}" WITH (FORCE)')
        for path in PATHS:
            r = client.get(f"/api/v1/{path}")
            assert r.status_code == 503, (path, r.text)
            assert r.json()["detail"].startswith("database unavailable")
    finally:
        st.close()
