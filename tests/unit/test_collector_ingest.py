"""The collector's decoder path: what is stored, what is rejected and why (table tests)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from edge.collector.ingest import Received, ingest

NOW = 1_714_521_600.0
TOPIC = "edge/v1/site-a/dev-1/events/L1"


def _event(**changes: Any) -> dict[str, Any]:
    e = {
        "device_id": "dev-1",
        "epoch": 3,
        "seq": 7,
        "ts": NOW,
        "line": "L1",
        "direction": "in",
        "class": "car",
        "track_id": 1,
        "confidence": 0.5,
    }
    e.update(changes)
    return e


def _events_payload(*events: dict[str, Any]) -> bytes:
    return json.dumps({"v": 1, "type": "events", "device_id": "dev-1", "events": events}).encode()


def test_events_become_rows_with_the_topics_site() -> None:
    msg = ingest(Received(TOPIC, _events_payload(_event(), _event(seq=8)), NOW + 1))
    assert msg.reject is None and msg.site == "site-a" and msg.device_id == "dev-1"
    assert [(e.seq, e.cls, e.site) for e in msg.events] == [
        (7, "car", "site-a"),
        (8, "car", "site-a"),
    ]


def test_status_is_ordered_by_arrival_and_retained_is_not_liveness() -> None:
    body = {"v": 1, "type": "status", "device_id": "dev-1", "state": "offline", "ts": 5.0}
    msg = ingest(Received("edge/v1/s/dev-1/status", json.dumps(body).encode(), NOW, retained=True))
    assert msg.reject is None and not msg.live
    assert msg.reports[0].ts_s == NOW and msg.reports[0].state == "offline"


def test_counts_become_interval_rows() -> None:
    body = {
        "v": 1,
        "type": "counts",
        "device_id": "dev-1",
        "line": "L1",
        "start": 0.0,
        "end": 60.0,
        "counts": {"in": {"car": 2}, "out": {"bus": 1, "car": 0}},
    }
    msg = ingest(Received("edge/v1/s/dev-1/counts/L1", json.dumps(body).encode(), NOW))
    assert sorted((i.direction, i.cls, i.n) for i in msg.intervals) == [
        ("in", "car", 2),
        ("out", "bus", 1),
        ("out", "car", 0),
    ]


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (TOPIC, b"", "not JSON"),
        (TOPIC, b"\xff\xfe", "not JSON"),
        (TOPIC, b"[" * 50_000, "not JSON"),
        (TOPIC, b'{"v": ' + b"1" * 5000 + b"}", "not JSON"),
        (TOPIC, b"[]", "JSON object"),
        (TOPIC, b'{"v": 2, "type": "events"}', "version"),
        (TOPIC, _events_payload(), "events"),
        (TOPIC, _events_payload(_event(device_id="dev-2")), "another device"),
        (TOPIC, _events_payload(_event(line="L2")), "another device or line"),
        (TOPIC, _events_payload(_event(ts=float("nan"))), "finite number"),
        (TOPIC, _events_payload(_event(ts=float("inf"))), "finite number"),
        (TOPIC, _events_payload(_event(ts=-1.0)), "between 1970 and 2106"),
        (TOPIC, _events_payload(_event(seq=2**63)), "less than or equal to"),
        (TOPIC, _events_payload(_event(track_id=2**64)), "less than or equal to"),
        (TOPIC, _events_payload(_event(direction="sideways")), "direction"),
        (TOPIC, _events_payload(_event(confidence=float("nan"))), "confidence"),
        ("edge/v1/site a/dev-1/events/L1", _events_payload(_event()), "not a valid name"),
        ("edge/v1/s/dev-2/events/L1", _events_payload(_event()), "names device"),
        ("other/topic", _events_payload(_event()), "v1"),
        (
            "edge/v1/s/dev-1/telemetry",
            b'{"v":1,"type":"telemetry","device_id":"dev-1","ts":1,"metrics":{"k":"\\ud800"}}',
            "cannot be decoded",
        ),
    ],
)
def test_malformed_payloads_are_rejected_with_a_reason(
    topic: str, payload: bytes, reason: str
) -> None:
    msg = ingest(Received(topic, payload, NOW))
    assert msg.reject is not None and not msg.events and not msg.reports
    assert reason in msg.reject.reason
    assert "\0" not in msg.reject.excerpt and len(msg.reject.excerpt) <= 512


def test_reject_text_is_storable_anywhere() -> None:
    msg = ingest(Received("edge/v1/s\0/dev-1/status", b"\0\xff", NOW))
    assert msg.reject is not None
    assert "\0" not in msg.reject.topic + msg.reject.reason + msg.reject.excerpt
