"""Collector client ids and supervision, against a real Mosquitto and a real SQLite store."""

from __future__ import annotations

import json
import logging
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from edge.collector.config import load_collector_config
from edge.collector.service import Collector
from tests.conftest import Broker
from tests.integration.collector.helpers import fleet, wait_until

TAKEOVER = "with the same client id"


def _collector(broker: Broker, db: Path, **extra: Any) -> Collector:
    overrides = {"mqtt.url": broker.url, "store.url": f"sqlite:///{db}", **extra}
    c = Collector(load_collector_config(None, overrides), serve_http=False)
    c.start()
    return c


def _events(seq: int) -> tuple[str, bytes]:
    event = {
        "device_id": "dev-1", "epoch": 1, "seq": seq, "ts": time.time(), "line": "L1",
        "direction": "in", "class": "car", "track_id": seq, "confidence": 0.9,
    }  # fmt: skip
    body = {"v": 1, "type": "events", "device_id": "dev-1", "events": [event]}
    return "edge/v1/s/dev-1/events/L1", json.dumps(body).encode()


def _stay_connected(collectors: list[Collector], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not all(c.stats()["connected"] for c in collectors):
            return False
        time.sleep(0.05)
    return True


def test_two_collectors_with_default_ids_both_stay_connected(
    broker: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    a = _collector(broker, tmp_path / "a.db")
    b = _collector(broker, tmp_path / "b.db")
    try:
        assert a.wait_subscribed(10) and b.wait_subscribed(10)
        ids = {a.cfg.mqtt.client_id, b.cfg.mqtt.client_id}
        assert len(ids) == 2
        assert all(i.startswith(f"collector-{socket.gethostname()[:45]}-") for i in ids)
        # Same-id collectors knocked each other off about once a second.
        assert _stay_connected([a, b], 3.0)
        assert a.failure() is None and b.failure() is None
    finally:
        a.stop()
        b.stop()
    assert TAKEOVER not in caplog.text


def test_a_shared_explicit_id_logs_the_takeover(
    broker: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Mosquitto 2.0 closes the older connection without saying why (no reason 0x8E): the
    client recognises the pattern of being dropped right after every CONNACK."""
    caplog.set_level(logging.ERROR, logger="edge.publish.client")
    a = _collector(broker, tmp_path / "a.db", **{"mqtt.client_id": "twin"})
    try:
        assert a.wait_subscribed(10)
        b = _collector(broker, tmp_path / "b.db", **{"mqtt.client_id": "twin"})
        try:
            wait_until(lambda: TAKEOVER in caplog.text, 10, "the takeover log line")
        finally:
            b.stop()
    finally:
        a.stop()
    assert f"{TAKEOVER} 'twin'" in caplog.text


def test_a_dead_writer_is_reported_and_the_collector_stops(broker: Broker, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    c = _collector(broker, db)
    pub = fleet.connect(broker.url)
    try:
        assert c.wait_subscribed(10)
        assert c.failure() is None
        with sqlite3.connect(db) as con:
            con.execute("DROP TABLE events")  # the store's next insert fails for good
        pub.publish(*_events(1), qos=1).wait_for_publish(5)
        wait_until(lambda: c.failure() is not None, 10, "the writer failure")
        failure = c.failure()
        assert isinstance(failure, sqlite3.OperationalError) and "no such table" in str(failure)
    finally:
        pub.loop_stop()
        c.stop()


def test_the_command_exits_1_when_its_writer_dies(broker: Broker, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    cmd = ["collector", "--mqtt", broker.url, "--db", f"sqlite:///{db}", "--no-http"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge.cli", *cmd], stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr or ()))
    reader.start()
    pub = fleet.connect(broker.url)
    try:
        wait_until(lambda: any("collector running" in ln for ln in lines), 30, "the start")
        with sqlite3.connect(db) as con:
            con.execute("DROP TABLE events")
        seq = 0
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            seq += 1  # until the subscription is granted, a message may reach no one
            pub.publish(*_events(seq), qos=1).wait_for_publish(5)
            time.sleep(0.2)
        assert proc.wait(10) == 1
    finally:
        pub.loop_stop()
        if proc.poll() is None:
            proc.kill()
        reader.join(10)
    text = "".join(lines)
    assert "collector failed, stopping: OperationalError: no such table: events" in text


def test_a_stopped_default_id_collector_leaves_no_session_behind(
    broker: Broker, tmp_path: Path
) -> None:
    """Its id is never used again: a session left behind would keep taking its share of the
    shared subscription (Mosquitto queues for offline members) and the running copy would
    miss those messages."""
    old = _collector(broker, tmp_path / "old.db")
    assert old.wait_subscribed(10)
    old.stop()
    c = _collector(broker, tmp_path / "c.db")
    pub = fleet.connect(broker.url)
    try:
        assert c.wait_subscribed(10)
        for seq in range(1, 21):
            pub.publish(*_events(seq), qos=1).wait_for_publish(5)
        wait_until(lambda: fleet.stored(f"sqlite:///{tmp_path / 'c.db'}")[0] == 20, 10, "all 20")
    finally:
        pub.loop_stop()
        c.stop()
