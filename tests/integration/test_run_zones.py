"""The device service publishes queue-zone snapshots beside its crossings."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge import wire
from edge.config import MqttConfig
from edge.publish.subscriber import Subscriber
from tests.conftest import CLIPS_DIR, Broker, require_asset
from tests.integration.test_run_sigterm import start_run, write_config

pytestmark = pytest.mark.slow


def test_run_publishes_zone_snapshots(broker: Broker, tmp_path: Path) -> None:
    clip = require_asset(CLIPS_DIR / "road_cctv_vehicles" / "video.mp4")
    source = f'type = "replay"\npath = "{clip}"'
    config = write_config(tmp_path / "c.toml", tmp_path / "state", broker, source)
    zone = (
        '\n[[zones]]\nname = "Z1"\npolygon = [[108, 190], [616, 190], [616, 270], [108, 270]]\n'
        'exit_line = "L1"\nreport_interval_s = 2.0\n'
    )
    config.write_text(config.read_text() + zone)
    sub = Subscriber(MqttConfig(url=broker.url), [wire.subscription("edge", "zones")], "t-z")
    sub.start()
    proc = start_run(config)
    _, err = proc.communicate(timeout=900)  # a recording ends the run by itself
    assert proc.returncode == 0, err
    snaps = []
    while (got := sub.get(2.0)) is not None:
        _, msg = wire.decode_for_topic(got[0], got[1])
        assert isinstance(msg, wire.ZoneMsg)
        snaps.append(msg)
    sub.stop()
    assert snaps, "no zone snapshot was published"
    assert {m.zone for m in snaps} == {"Z1"}
    assert max(sum(m.occupancy.values()) for m in snaps) >= 1, "vehicles pass through the zone"
