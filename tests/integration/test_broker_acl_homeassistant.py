"""The shipped ACL and Home Assistant discovery: a device writes only its own discovery configs,
and the ``homeassistant`` service user reads them and what its sensors read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.collector.helpers import wait_until
from tests.integration.collector.test_broker_acl import ACCEPTED, NOT_AUTHORIZED, Raw
from tests.integration.shipped_broker import ShippedBroker


@pytest.fixture
def shipped(tmp_path: Path) -> Iterator[ShippedBroker]:
    b = ShippedBroker(tmp_path / "shipped")
    for device in ("dev-a", "dev-b"):
        b.add_user(device)
    b.add_user("homeassistant", service=True)
    b.start()
    yield b
    b.stop()


def test_a_device_writes_only_its_own_discovery_configs(shipped: ShippedBroker) -> None:
    ha = Raw(shipped, "homeassistant")
    ha.subscribe("homeassistant/#", "edge/v1/+/+/state")
    a = Raw(shipped, "dev-a", tls=True)
    try:
        own = "homeassistant/sensor/dev-a/L1_in_total/config"
        assert a.publish(own, {"name": "L1 in"}, retain=True) in ACCEPTED
        assert a.publish("edge/v1/site-1/dev-a/state", {"v": 1}, retain=True) in ACCEPTED
        other = "homeassistant/sensor/dev-b/L1_in_total/config"
        assert a.publish(other, {"name": "forged"}, retain=True) == NOT_AUTHORIZED
        assert a.publish("homeassistant/status", {"x": 1}) == NOT_AUTHORIZED
        wait_until(lambda: len(ha.received) >= 2, 5, "Home Assistant to read both")
        assert ha.publish("homeassistant/status", {"online": 1}) in ACCEPTED
        assert ha.publish("edge/v1/site-1/dev-a/ack", {"v": 1}) == NOT_AUTHORIZED
    finally:
        a.close()
        ha.close()
    # Its own birth message too; never the forged config.
    assert sorted(ha.received) == sorted(
        [own, "edge/v1/site-1/dev-a/state", "homeassistant/status"]
    )
