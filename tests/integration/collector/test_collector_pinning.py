"""Site pinning on each real database backend: a device stays at its site, movers are rejects."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.collector.config import load_collector_config
from edge.collector.ingest import Ingested, Received, ingest
from edge.collector.store import Store, open_store
from edge.errors import ConfigError

NOW = time.time()


def payload(kind: str, device: str, name: str | None = None) -> dict[str, Any]:
    """A valid payload of ``kind`` for ``device`` (``name``: the line or zone)."""
    base: dict[str, Any] = {"v": 1, "type": kind, "device_id": device}
    if kind == "events":
        event = {"device_id": device, "epoch": 1, "seq": 1, "ts": NOW, "line": name,
                 "direction": "in", "class": "car", "track_id": 1, "confidence": 0.9}  # fmt: skip
        return base | {"events": [event]}
    body: dict[str, Any] = {
        "status": {"state": "online", "ts": NOW},
        "state": {"epoch": 1, "ts": NOW, "lines": {"L1": {"in": {"car": 1}}}},
        "telemetry": {"ts": NOW, "metrics": {"fps_processed": 7.5}},
        "zones": {"zone": name, "ts": NOW, "occupancy": {"car": 1}, "queue_length": 1},
        "counts": {"line": name, "start": 60.0, "end": 120.0, "counts": {"in": {"car": 1}}},
    }[kind]
    return base | body


def msg(site: str, device: str, kind: str, name: str | None = None) -> Ingested:
    topic = f"edge/v1/{site}/{device}/{kind}" + (f"/{name}" if name else "")
    raw = json.dumps(payload(kind, device, name)).encode()
    out = ingest(Received(topic, raw, time.time()))
    assert out.reject is None, out.reject
    return out


ALL_KINDS = [("status", None), ("state", None), ("telemetry", None), ("zones", "booth"),
             ("events", "L1"), ("counts", "L1")]  # fmt: skip


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = open_store(db_url)
    s.migrate()
    yield s
    s.close()


def rows(store: Store, sql: str) -> list[tuple[Any, ...]]:
    with store.reading() as reader:
        return reader.query(sql)


def test_first_site_pins_and_every_kind_under_another_is_rejected(store: Store) -> None:
    first = store.write([msg("site-a", "dev-1", k, n) for k, n in ALL_KINDS])
    assert (first.inserted, first.rejected) == (1, 0)
    tables = ("events", "device_reports", "interval_counts", "zone_history", "counts_total")
    before = {t: rows(store, f"SELECT * FROM {t} ORDER BY 1, 2") for t in tables}
    moved = store.write([msg("site-b", "dev-1", k, n) for k, n in ALL_KINDS])
    assert (moved.inserted, moved.duplicates, moved.rejected) == (0, 0, 6)
    assert rows(store, "SELECT device_id, site FROM devices") == [("dev-1", "site-a")]
    for table, content in before.items():
        assert rows(store, f"SELECT * FROM {table} ORDER BY 1, 2") == content, table
    rejects = rows(store, "SELECT topic, reason FROM rejects ORDER BY id")
    assert [t for t, _ in rejects] == [
        f"edge/v1/site-b/dev-1/{k}" + (f"/{n}" if n else "") for k, n in ALL_KINDS
    ]
    assert all(
        r == "device 'dev-1' is pinned to site 'site-a' (first seen), not 'site-b':"
        " message not stored"
        for _, r in rejects
    )
    # The device goes on counting at its own site.
    again = store.write([msg("site-a", "dev-1", "status")])
    assert again.rejected == 0


def test_a_new_device_seen_under_two_sites_in_one_batch_takes_the_first(store: Store) -> None:
    result = store.write(
        [
            msg("site-b", "dev-2", "status"),
            msg("site-a", "dev-2", "events", "L1"),
            msg("site-a", "dev-3", "status"),
        ]
    )
    assert (result.inserted, result.rejected) == (0, 1)
    assert rows(store, "SELECT device_id, site FROM devices ORDER BY 1") == [
        ("dev-2", "site-b"),
        ("dev-3", "site-a"),
    ]
    assert rows(store, "SELECT COUNT(*) FROM events") == [(0,)]


def test_the_collector_config_wins_over_the_first_site(store: Store) -> None:
    store.write([msg("site-a", "dev-1", "status")])
    store.configured_sites = {"dev-1": "site-c", "dev-9": "site-c"}
    result = store.write(
        [
            msg("site-a", "dev-1", "events", "L1"),
            msg("site-c", "dev-1", "status"),
            msg("site-a", "dev-9", "status"),
        ]
    )
    assert (result.inserted, result.rejected) == (0, 2)
    # The configured site moved the device; a configured device seen only under another
    # site is not recorded at all.
    assert rows(store, "SELECT device_id, site FROM devices") == [("dev-1", "site-c")]
    reasons = [r for (r,) in rows(store, "SELECT reason FROM rejects ORDER BY id")]
    assert reasons == [
        "device 'dev-1' is pinned to site 'site-c' (in the collector config), not 'site-a':"
        " message not stored",
        "device 'dev-9' is pinned to site 'site-c' (in the collector config), not 'site-a':"
        " message not stored",
    ]
    assert rows(store, "SELECT site, state FROM device_reports") == [("site-c", "online")]


def test_the_devices_table_of_the_collector_config(tmp_path: Path) -> None:
    conf = tmp_path / "collector.toml"
    conf.write_text('[devices.cam-1]\nsite = "north-gate"\n[devices."cam.2"]\nsite = "south"\n')
    assert load_collector_config(conf, {}).device_sites() == {
        "cam-1": "north-gate",
        "cam.2": "south",
    }
    for text, error in [
        ('[devices."a b"]\nsite = "x"\n', "devices: 'a b' is not a name"),
        ('[devices.cam-1]\nsite = "a/b"\n', "devices.cam-1.site"),
        ("[devices.cam-1]\n", "devices.cam-1.site"),
        ('[devices.cam-1]\nsite = "x"\nzone = "y"\n', "devices.cam-1.zone"),
    ]:
        conf.write_text(text)
        with pytest.raises(ConfigError, match=re.escape(error)):
            load_collector_config(conf, {})
