"""The committed JSON Schema files (docs/schema/) match the wire models, and payloads the models
accept or refuse are accepted or refused by the schemas too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from edge import wire
from edge.errors import WireError
from edge.tools.wire_schema import MODELS, main, render, stale
from tests.unit.test_wire import PAYLOADS

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "docs" / "schema"
MORE: dict[str, dict[str, Any]] = {
    "zones": {
        "v": 1, "type": "zones", "device_id": "dev1", "zone": "booth", "ts": 1_700_000_005.0,
        "occupancy": {"car": 4}, "queue_length": 3, "wait_s": 84.0, "wait_method": "littles_law",
        "window_s": 300.0,
    },
    "ack": {"v": 1, "type": "ack", "device_id": "dev1", "outboxes": {"9f2c4e1a7b3d5c60": 10},
            "ts": 1_700_000_021.2},
    "state_labels": {
        **PAYLOADS["state"], "outbox_id": "9f2c4e1a7b3d5c60",
        "labels": {"L1": {"in": "to Georgia", "out": "to Russia"}},
    },
    "status_degraded": {**PAYLOADS["status"], "state": "degraded", "reason": "camera_lost"},
}  # fmt: skip


def validator(kind: str) -> jsonschema.Draft202012Validator:
    body = json.loads((SCHEMA_DIR / f"{kind}.json").read_text())
    jsonschema.Draft202012Validator.check_schema(body)
    return jsonschema.Draft202012Validator(body)


def test_the_committed_schemas_are_what_the_models_generate(tmp_path: Path) -> None:
    assert stale(SCHEMA_DIR) == [], "run: python -m edge.tools.wire_schema --out docs/schema/"
    assert sorted(p.stem for p in SCHEMA_DIR.glob("*.json")) == sorted(wire.KINDS)
    assert main(["--out", str(tmp_path)]) == 0
    for kind in MODELS:
        assert (tmp_path / f"{kind}.json").read_text() == render(kind)
    (tmp_path / "state.json").write_text("{}\n")
    assert main(["--out", str(tmp_path), "--check"]) == 1


@pytest.mark.parametrize("name", sorted({**PAYLOADS, **MORE}))
def test_payloads_the_models_accept_the_schemas_accept(name: str) -> None:
    payload = {**PAYLOADS, **MORE}[name]
    msg = wire.decode(json.dumps(payload))
    # Both what was sent and what a device encodes (aliases, optional fields left out).
    validator(msg.type).validate(payload)
    validator(msg.type).validate(json.loads(wire.encode(msg)))


REFUSED = [
    ("events", ["events", 0, "seq"], -1),
    ("events", ["events", 0, "ts"], 2.0**32),
    ("events", ["events", 0, "direction"], "up"),
    ("events", ["device_id"], "dev/1"),
    ("counts", ["counts", "in"], {"car ": 1}),
    ("state", ["lines"], {"L 1": {}}),
    ("state", ["labels"], {"L1": {"in": "to\nGeorgia"}}),
    ("status", ["state"], "asleep"),
    ("zones", ["wait_s"], None),  # a littles_law estimate without its wait
    ("ack", ["outboxes"], {"XYZ": 1}),
    ("telemetry", ["v"], 2),
]


@pytest.mark.parametrize(("kind", "path", "value"), REFUSED, ids=str)
def test_payloads_the_models_refuse_the_schemas_refuse(
    kind: str, path: list[str | int], value: Any
) -> None:
    payload = json.loads(json.dumps({**PAYLOADS, **MORE}[kind]))
    node = payload
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(WireError):
        wire.decode(json.dumps(payload))
    assert not validator(kind).is_valid(payload)
