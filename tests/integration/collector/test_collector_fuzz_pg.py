"""The fuzzed decoder path again, writing into a real PostgreSQL database."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given

from edge.collector.ingest import Received, ingest
from edge.collector.store import Store, open_store
from tests.unit.test_collector_fuzz import FUZZ, assert_counted_once, messages, topics, typed_events


@pytest.fixture
def store(pg_url: str) -> Iterator[Store]:
    s = open_store(pg_url)
    s.migrate()
    yield s
    s.close()


@FUZZ
@given(topic=topics, body=messages, events=typed_events)
def test_fuzzed_messages_never_break_a_postgresql_write(
    store: Store, topic: str, body: Any, events: list[dict[str, Any]]
) -> None:
    typed = {"v": 1, "type": "events", "device_id": "dev-1", "events": events}
    batch = [
        ingest(Received(topic, json.dumps(body).encode(), time.time())),
        ingest(Received("edge/v1/s/dev-1/events/L1", json.dumps(typed).encode(), time.time())),
    ]
    store.write(batch + batch)  # every message twice in one transaction
    assert_counted_once(store)
