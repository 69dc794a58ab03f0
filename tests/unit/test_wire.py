"""Wire format: round trips, clear errors on malformed or unknown-version payloads, fuzzing."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge import wire
from edge.errors import WireError

EVENT = {
    "device_id": "dev1", "epoch": 2, "seq": 17, "ts": 1_700_000_000.5, "line": "L1",
    "direction": "in", "class": "car", "track_id": 4, "confidence": 0.8,
}  # fmt: skip
PAYLOADS: dict[str, dict[str, Any]] = {
    "events": {"v": 1, "type": "events", "device_id": "dev1", "events": [EVENT]},
    "counts": {
        "v": 1, "type": "counts", "device_id": "dev1", "line": "L1", "start": 60.0, "end": 120.0,
        "counts": {"in": {"car": 3}, "out": {"person": 1}},
    },
    "state": {
        "v": 1, "type": "state", "device_id": "dev1", "epoch": 2, "ts": 5.0,
        "lines": {"L1": {"in": {"car": 9}, "out": {}}}, "last_seq": 17, "dropped": 0,
    },
    "status": {"v": 1, "type": "status", "device_id": "dev1", "state": "online", "epoch": 2},
    "telemetry": {"v": 1, "type": "telemetry", "device_id": "dev1", "ts": 1.0,
                  "metrics": {"outbox_depth": 3, "fps": 9.5}},
}  # fmt: skip
TOPICS = {
    "events": "edge/v1/site-1/dev1/events/L1",
    "counts": "edge/v1/site-1/dev1/counts/L1",
    "state": "edge/v1/site-1/dev1/state",
    "status": "edge/v1/site-1/dev1/status",
    "telemetry": "edge/v1/site-1/dev1/telemetry",
}


@pytest.mark.parametrize("kind", sorted(PAYLOADS))
def test_round_trip(kind: str) -> None:
    top, msg = wire.decode_for_topic(TOPICS[kind], json.dumps(PAYLOADS[kind]).encode())
    assert msg.type == kind and top.kind == kind
    again = wire.decode(wire.encode(msg))
    assert again == msg


def test_event_aliases_survive_encoding() -> None:
    _, msg = wire.decode_for_topic(TOPICS["events"], json.dumps(PAYLOADS["events"]))
    raw = json.loads(wire.encode(msg))
    assert raw["events"][0]["class"] == "car"
    assert "in" in json.loads(wire.encode(wire.decode(json.dumps(PAYLOADS["counts"]))))["counts"]


def test_state_without_new_optional_fields_still_decodes() -> None:
    old = {k: v for k, v in PAYLOADS["state"].items() if k not in ("last_seq", "dropped")}
    msg = wire.decode(json.dumps(old))
    assert isinstance(msg, wire.StateMsg) and msg.last_seq is None


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (b"\xff\xfe", "not JSON"),
        (b"{", "not JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'"text"', "must be a JSON object"),
        (b'{"type": "events"}', "unsupported payload version None"),
        (b'{"v": 2, "type": "events"}', "unsupported payload version 2"),
        (b'{"v": "1", "type": "status"}', "unsupported payload version '1'"),
        (b'{"v": 1, "type": "bogus", "device_id": "d"}', "invalid payload"),
        (b'{"v": 1, "device_id": "d"}', "invalid payload"),
    ],
)
def test_rejects_malformed(payload: bytes, match: str) -> None:
    with pytest.raises(WireError, match=match):
        wire.decode(payload)


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        (("events", 0, "seq"), -1, "events.events.0.seq"),
        (("events", 0, "direction"), "sideways", "events.events.0.direction"),
        (("events", 0, "confidence"), 1.5, "events.events.0.confidence"),
        (("events", 0, "line"), "bad/line", "events.events.0.line"),
        (("device_id",), "", "events.device_id"),
    ],
)
def test_invalid_field_names_its_path(path: tuple[Any, ...], value: object, where: str) -> None:
    data = json.loads(json.dumps(PAYLOADS["events"]))
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(WireError, match=f"invalid payload: {where}"):
        wire.decode(json.dumps(data))


def test_empty_batch_rejected() -> None:
    with pytest.raises(WireError, match=r"events\.events"):
        wire.decode(json.dumps({**PAYLOADS["events"], "events": []}))


@pytest.mark.parametrize(
    ("topic", "kind", "match"),
    [
        ("edge/v1/site-1/dev2/events/L1", "events", "names device 'dev2'"),
        ("edge/v1/site-1/dev1/events/L2", "events", "another device or line"),
        ("edge/v1/site-1/dev1/state", "events", "payload type is 'events'"),
        ("edge/v1/site-1/dev1/counts/L9", "counts", "names 'L9'"),
        ("edge/site-1/dev1/state", "state", "no 'v1' segment"),
        ("edge/v1/site-1/dev1/weather", "state", "expected <prefix>/v1"),
        ("edge/v1/site-1/dev1/events", "events", "wrong number of segments"),
    ],
)
def test_topic_disagreement(topic: str, kind: str, match: str) -> None:
    with pytest.raises(WireError, match=match):
        wire.decode_for_topic(topic, json.dumps(PAYLOADS[kind]))


def test_topic_builder() -> None:
    assert wire.topic("edge", "s", "d", "events", "L1") == "edge/v1/s/d/events/L1"
    assert wire.topic("a/b", "s", "d", "state") == "a/b/v1/s/d/state"
    assert wire.parse_topic("a/b/v1/s/d/state").prefix == "a/b"
    # Ids may be called like a version or a kind: the layout is read from the end.
    for site, dev, kind, name in [("v1", "d", "state", None), ("v1", "v1", "events", "v1"),
                                  ("s", "events", "state", None), ("s", "d", "events", "state"),
                                  ("v1", "counts", "zones", "status")]:  # fmt: skip
        top = wire.parse_topic(wire.topic("edge", site, dev, kind, name))
        assert (top.prefix, top.site, top.device_id, top.kind, top.name) == (
            "edge",
            site,
            dev,
            kind,
            name,
        )
    with pytest.raises(WireError, match="needs a name"):
        wire.topic("edge", "s", "d", "events")
    with pytest.raises(WireError, match="unknown topic kind"):
        wire.topic("edge", "s", "d", "nope")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_bytes_only_wire_error(data: bytes) -> None:
    with contextlib.suppress(WireError):  # anything else fails the test
        wire.decode(data)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(sorted(PAYLOADS)), key=st.text(max_size=12), value=JSON)
def test_fuzz_mutated_payloads_only_wire_error(kind: str, key: str, value: object) -> None:
    data = json.loads(json.dumps(PAYLOADS[kind]))
    target = data["events"][0] if kind == "events" and key.startswith("e") else data
    target[key.lstrip("e") or key] = value
    with contextlib.suppress(WireError):  # anything else fails the test
        wire.decode_for_topic(TOPICS[kind], json.dumps(data))


@settings(max_examples=300, deadline=None)
@given(topic=st.text(alphabet="ab/v1+#", max_size=30), value=JSON)
def test_fuzz_topics_and_values_only_wire_error(topic: str, value: object) -> None:
    with contextlib.suppress(WireError):  # anything else fails the test
        wire.decode_for_topic(topic, json.dumps(value))


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"[" * 50_000, "not JSON"),
        (b'{"v": ' + b"1" * 5000 + b"}", "not JSON"),
    ],
)
def test_hostile_json_is_a_wire_error(payload: bytes, expected: str) -> None:
    with pytest.raises(WireError, match=expected):
        wire.decode(payload)


def test_topic_segments_must_be_names() -> None:
    with pytest.raises(WireError, match="not a valid name"):
        wire.parse_topic("edge/v1/site a/dev-1/status")


@pytest.mark.parametrize(
    ("kind", "path", "value", "match"),
    [
        ("events", ("events", 0, "ts"), -1.0, "events.0.ts: .*between 1970 and 2106"),
        ("events", ("events", 0, "ts"), 2.0**32, "between 1970 and 2106"),
        ("counts", ("start",), -60.0, "start: .*between 1970 and 2106"),
        ("counts", ("end",), 1e300, "end: .*between 1970 and 2106"),
        ("counts", ("counts", "in", "car"), 2**63, "less than or equal to"),
        ("state", ("ts",), -5.0, "between 1970 and 2106"),
        ("state", ("epoch",), 2**63, "less than or equal to"),
        ("status", ("ts",), -1.0, "between 1970 and 2106"),
        ("telemetry", ("ts",), 2.0**33, "between 1970 and 2106"),
    ],
)
def test_what_no_database_holds_is_refused_here(
    kind: str, path: tuple[Any, ...], value: object, match: str
) -> None:
    """Times outside 1970..2106 and integers beyond 64 bits: the one validator refuses them."""
    data = json.loads(json.dumps(PAYLOADS[kind]))
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(WireError, match=match):
        wire.decode(json.dumps(data))


def test_lone_surrogates_are_refused_but_pairs_decode() -> None:
    body = '{"v":1,"type":"telemetry","device_id":"dev1","ts":1,"metrics":{"k":"%s"}}'
    with pytest.raises(WireError, match="lone surrogate"):
        wire.decode(body % "\\ud800")
    msg = wire.decode(body % "\\ud83d\\ude00")
    assert isinstance(msg, wire.TelemetryMsg) and msg.metrics["k"] == "\U0001f600"


def test_state_carries_direction_labels_and_refuses_control_characters() -> None:
    base = {"v": 1, "type": "state", "device_id": "cam-1", "epoch": 1, "ts": 1.0, "lines": {}}
    msg = wire.decode(
        json.dumps({**base, "labels": {"L1": {"in": "to Georgia", "out": "to Russia"}}})
    )
    assert isinstance(msg, wire.StateMsg) and msg.labels is not None
    assert msg.labels["L1"].in_ == "to Georgia"
    assert json.loads(wire.encode(msg))["labels"] == {
        "L1": {"in": "to Georgia", "out": "to Russia"}
    }
    with pytest.raises(WireError, match="labels"):
        wire.decode(json.dumps({**base, "labels": {"L1": {"in": "a\nb", "out": "x"}}}))


def test_status_carries_the_degraded_reason() -> None:
    msg = wire.decode(
        json.dumps({"v": 1, "type": "status", "device_id": "cam-1", "state": "degraded",
                    "reason": "camera_lost"})
    )  # fmt: skip
    assert isinstance(msg, wire.StatusMsg) and msg.reason == "camera_lost"
