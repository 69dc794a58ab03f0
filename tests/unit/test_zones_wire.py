"""Zone snapshots on the wire: encode/decode round trip, strict checks, snapshot conversion."""

from __future__ import annotations

import json

import pytest

from edge import wire
from edge.count.wait import WaitEstimate
from edge.count.zone_report import ZoneSnapshot
from edge.errors import WireError
from edge.publish.zones import LatestZones, zone_message

TOPIC = "edge/v1/post-7/cam1/zones/booth"
BASE = {"v": 1, "type": "zones", "device_id": "cam1", "zone": "booth", "ts": 1732300000.0,
        "occupancy": {"car": 3}, "queue_length": 2}  # fmt: skip


def _payload(**kw: object) -> bytes:
    return json.dumps({**BASE, **kw}).encode()


def test_snapshot_round_trip() -> None:
    snap = ZoneSnapshot(
        "booth", "inbound", 12.5, {"car": 3}, 2,
        WaitEstimate(None, "none", 300.0, exit_rate_per_s=0.0, departures=0, lower_bound_s=95.0),
    )  # fmt: skip
    msg = zone_message(snap, "cam1", 1732300000.0)
    top, back = wire.decode_for_topic(TOPIC, wire.encode(msg))
    assert isinstance(back, wire.ZoneMsg) and top.name == "booth"
    assert back.ts == 1732300012.5 and back.wait_s is None and back.wait_method == "none"
    assert back.wait_lower_bound_s == 95.0 and back.exit_rate_per_min == 0.0
    assert back.direction == "inbound" and back.window_s == 300.0


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"wait_method": "none", "wait_s": 10.0}, "wait_s must be absent"),
        ({"wait_method": "measured"}, "wait_s must be absent"),
        ({"wait_method": "guess", "wait_s": 1.0}, "wait_method"),
        ({"wait_method": "measured", "wait_s": -1.0}, "wait_s"),
        ({"queue_length": -1}, "queue_length"),
        ({"occupancy": {"car": -2}}, "occupancy"),
        ({"occupancy": {"bad name": 1}}, "occupancy"),
        ({"window_s": 0}, "window_s"),
    ],
)
def test_invalid_zone_payloads_are_rejected(fields: dict[str, object], why: str) -> None:
    with pytest.raises(WireError, match=why):
        wire.decode_for_topic(TOPIC, _payload(**fields))


def test_non_finite_wait_and_topic_mismatch_are_rejected() -> None:
    with pytest.raises(WireError):
        wire.decode(_payload(wait_method="littles_law").replace(b"}", b', "wait_s": NaN}'))
    with pytest.raises(WireError, match="names"):
        wire.decode_for_topic("edge/v1/post-7/cam1/zones/other", _payload())
    ok = wire.decode_for_topic(TOPIC, _payload(wait_method="littles_law", wait_s=0.0))[1]
    assert isinstance(ok, wire.ZoneMsg) and ok.wait_s == 0.0


def test_latest_zones_keeps_the_newest_per_zone() -> None:
    held = LatestZones()
    for ts in (1.0, 2.0, 3.0):
        held.offer(wire.ZoneMsg.model_validate({**BASE, "ts": ts}))
    held.offer(wire.ZoneMsg.model_validate({**BASE, "zone": "lane2", "ts": 1.0}))
    out = held.take()
    assert [(m.zone, m.ts) for m in out] == [("booth", 3.0), ("lane2", 1.0)]
    assert held.take() == [] and len(held) == 0
