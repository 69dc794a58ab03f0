"""Fuzz the collector's decoder path, its SQLite writes and its HTTP query parameters."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.collector.api import create_app
from edge.collector.config import load_collector_config
from edge.collector.ingest import Received, ingest
from edge.collector.schema import LATEST_VERSION
from edge.collector.store import Store, open_store

FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

KINDS = ["events", "counts", "status", "state", "telemetry", "zones"]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
names = st.sampled_from(["dev-1", "L1", "car", "person", "in", "out", ""]) | st.text(max_size=70)
numbers = st.integers(min_value=-5, max_value=2**64) | st.floats() | scalars


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The value, or another type, or nothing at all (the key left out)."""
    return st.one_of(strategy, strategy, scalars, st.just(...))


def _drop_missing(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not ...}


events = st.builds(
    _drop_missing,
    st.fixed_dictionaries(
        {
            "device_id": maybe(st.just("dev-1") | names),
            "epoch": maybe(numbers),
            "seq": maybe(numbers),
            "ts": maybe(numbers | st.just(time.time())),
            "line": maybe(st.just("L1") | names),
            "direction": maybe(st.sampled_from(["in", "out"])),
            "class": maybe(names),
            "track_id": maybe(numbers),
            "confidence": maybe(numbers),
        }
    ),
)
messages = st.builds(
    _drop_missing,
    st.fixed_dictionaries(
        {
            "v": maybe(st.just(1)),
            "type": maybe(st.sampled_from(KINDS)),
            "device_id": maybe(st.just("dev-1")),
            "events": maybe(st.lists(events, max_size=4)),
            "line": maybe(st.just("L1")),
            "zone": maybe(st.just("L1")),
            "ts": maybe(numbers),
            "start": maybe(numbers),
            "end": maybe(numbers),
            "epoch": maybe(numbers),
            "state": maybe(st.sampled_from(["online", "offline"])),
            "metrics": maybe(st.dictionaries(st.text(max_size=10), scalars, max_size=4)),
            "counts": maybe(
                st.fixed_dictionaries({"in": st.dictionaries(names, numbers, max_size=3)})
            ),
            "lines": maybe(st.dictionaries(names, st.fixed_dictionaries({"out": st.just({})}))),
            "occupancy": maybe(st.dictionaries(names, numbers, max_size=3)),
            "queue_length": maybe(numbers),
        }
    ),
)
topics = st.sampled_from(
    [
        "edge/v1/s/dev-1/events/L1",
        "edge/v1/s/dev-1/counts/L1",
        "edge/v1/s/dev-1/status",
        "edge/v1/s/dev-1/state",
        "edge/v1/s/dev-1/telemetry",
        "edge/v1/s/dev-1/zones/L1",
    ]
) | st.text(max_size=80)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}")
    s.migrate()
    yield s
    s.close()


@FUZZ
@given(topic=topics, payload=st.binary(max_size=300))
def test_any_bytes_are_stored_or_rejected(store: Store, topic: str, payload: bytes) -> None:
    msg = ingest(Received(topic, payload, time.time()))
    assert (msg.reject is None) != (msg.reject is not None and not msg.events)
    store.write([msg])


@FUZZ
@given(topic=topics, body=messages)
def test_near_valid_json_is_stored_or_rejected(store: Store, topic: str, body: Any) -> None:
    payload = json.dumps(body).encode()  # NaN and Infinity included, as a buggy agent may send
    msg = ingest(Received(topic, payload, time.time()))
    if msg.reject is not None:
        assert not (msg.events or msg.reports or msg.intervals)
    result = store.write([msg])
    assert result.inserted + result.duplicates == len(msg.events)


name_ok = st.from_regex(r"\A[A-Za-z0-9_.-]{1,64}\Z")
edge_ints = st.integers(min_value=0, max_value=2**66) | st.sampled_from([0, 2**63 - 1, 2**63])
edge_floats = st.floats(allow_nan=True, allow_infinity=True) | st.floats(0, 2**33)
typed_events = st.lists(
    st.fixed_dictionaries(
        {
            "device_id": st.just("dev-1"),
            "epoch": edge_ints | st.just(1),
            "seq": edge_ints,
            "ts": edge_floats,
            "line": st.just("L1"),
            "direction": st.sampled_from(["in", "out"]),
            "class": name_ok,
            "track_id": edge_ints,
            "confidence": st.floats(0, 1),
        }
    ),
    min_size=1,
    max_size=20,
)


@FUZZ
def assert_counted_once(store: Store) -> None:
    """Stored events, all-time totals and per-minute totals agree: nothing counted twice."""
    with store.reading() as r:
        rows, total, minutes = r.query(
            "SELECT (SELECT COUNT(*) FROM events), (SELECT SUM(n) FROM counts_total),"
            " (SELECT SUM(n) FROM counts_minute)"
        )[0]
    assert rows == (total or 0) == (minutes or 0)


@given(events=typed_events)
def test_well_typed_events_with_edge_values_count_exactly_once(
    store: Store, events: list[dict[str, Any]]
) -> None:
    """Valid shapes, extreme values: stored (and counted once, twice sent) or rejected."""
    body = {"v": 1, "type": "events", "device_id": "dev-1", "events": events}
    payload = json.dumps(body).encode()
    msg = ingest(Received("edge/v1/s/dev-1/events/L1", payload, time.time()))
    if msg.reject is None:
        store.write([msg, msg])
    assert_counted_once(store)


@pytest.fixture(scope="module")
def client(store: Store) -> TestClient:
    cfg = load_collector_config(None, {"sites": {"s": {"timezone": "Asia/Kathmandu"}}})
    return TestClient(create_app(store, cfg), raise_server_exceptions=False)


keys = st.sampled_from(
    [
        "start",
        "end",
        "bucket",
        "tz",
        "group_by",
        "site",
        "device",
        "line",
        "direction",
        "class",
        "category",
        "limit",
        "day",
        "other",
    ]
)
values = (
    st.text(max_size=30)
    | st.sampled_from(["1h", "1d", "15m", "UTC", "Europe/Warsaw", "site,class", "s", "car"])
    | st.integers(min_value=-(2**40), max_value=2**40).map(str)
    | st.sampled_from(["2024-05-01", "2024-05-01T00:00:00+14:00", "nan", "1e309", "0"])
    | st.sampled_from(["today", "yesterday", "2024-03-31", "2024-10-27", "0001-01-01", "Europe"])
)
paths = st.sampled_from(
    [
        "/api/v1/counts",
        "/api/v1/counts.csv",
        "/api/v1/today",
        "/api/v1/totals",
        "/api/v1/devices",
        "/api/v1/zones",
        "/api/v1/rejects",
        "/api/v1/sites",
        "/api/v1/hourly",
        "/api/v1/hourly.csv",
    ]
)


@FUZZ
@given(path=paths, params=st.lists(st.tuples(keys, values), max_size=6))
def test_query_parameters_never_cause_a_500(
    client: TestClient, path: str, params: list[tuple[str, str]]
) -> None:
    r = client.get(path, params=params)
    assert r.status_code < 500, (path, params, r.text)


def test_fuzzed_store_still_answers(client: TestClient, tmp_path: Path) -> None:
    assert client.get("/api/v1/health").json()["schema_version"] == LATEST_VERSION
