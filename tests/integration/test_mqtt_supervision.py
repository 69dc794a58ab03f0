"""Supervision seams of the MQTT side: ``MqttPublisher.failure()`` and session takeovers."""

from __future__ import annotations

import logging
import queue
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from edge import wire
from edge.config import DeviceConfig, MqttConfig, OutboxConfig
from edge.outbox import Outbox
from edge.publish import StatusInfo
from edge.publish.client import ClientOptions, LinkChange, MqttClient
from edge.publish.mqtt import MqttPublisher
from edge.publish.subscriber import Subscriber
from edge.types import Crossing
from tests.conftest import Broker

DEVICE = DeviceConfig(id="dev1", site="post-7")


def _wait(check: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


def _publisher(broker: Broker, path: Path) -> tuple[MqttPublisher, Outbox]:
    box = Outbox.open(path, DEVICE.id, OutboxConfig())
    cfg = MqttConfig(url=broker.url, reconnect_max_s=1.0, delivery="broker")
    return MqttPublisher(cfg, DEVICE, box, StatusInfo("1")), box


def test_healthy_and_normally_stopped_publisher_reports_no_failure(
    broker: Broker, tmp_path: Path
) -> None:
    reader = Subscriber(MqttConfig(url=broker.url), [wire.subscription("edge", "events")])
    reader.start()  # unread events are answered 0x10 (no subscribers) and stay in the outbox
    pub, box = _publisher(broker, tmp_path / "outbox.sqlite")
    assert pub.failure() is None
    pub.start()
    box.append(Crossing("L1", "in", "car", 1, 0.0, 0.9), time.time())
    assert pub.drain(10) == 0
    reader.stop()
    assert pub.failure() is None
    pub.stop()
    assert pub.failure() is None
    box.close()


def test_a_dead_drain_thread_is_reported(broker: Broker, tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    pub, box = _publisher(broker, path)
    pub.start()
    assert _wait(lambda: pub.connected, 10)
    with sqlite3.connect(path) as con:
        con.execute("DROP TABLE events")  # the drain thread's next read fails for good
    assert _wait(lambda: pub.failure() is not None, 10)
    failure = pub.failure()
    assert isinstance(failure, sqlite3.OperationalError) and "no such table" in str(failure)
    pub.stop(timeout_s=1)
    assert pub.failure() is failure  # stopping does not clear why it died
    box.close()


def _one_shot_broker(reason: int) -> tuple[int, threading.Thread]:
    """A socket that answers one MQTT 5 CONNECT with a CONNACK, then DISCONNECTs with
    ``reason``: what a broker that reports a takeover (0x8E) sends the older client."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)

    def serve() -> None:
        with server, server.accept()[0] as conn:
            conn.recv(1024)  # the CONNECT
            conn.sendall(b"\x20\x03\x00\x00\x00")  # CONNACK: no session, success, no props
            time.sleep(0.2)
            conn.sendall(bytes([0xE0, 0x02, reason, 0x00]))  # DISCONNECT reason, no props
            time.sleep(0.5)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return int(server.getsockname()[1]), thread


def test_session_taken_over_is_logged_naming_the_client_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port, thread = _one_shot_broker(0x8E)
    links: queue.SimpleQueue[LinkChange] = queue.SimpleQueue()
    client = MqttClient(ClientOptions(f"mqtt://127.0.0.1:{port}", "twin", reconnect_min_s=30))
    client.on_link = links.put
    with caplog.at_level(logging.ERROR):
        client.start()
        assert links.get(timeout=10).up
        lost = links.get(timeout=10)
        client.stop()
    thread.join(5)
    assert lost.taken_over and not lost.up and lost.reason == "Session taken over"
    assert "session taken over: another client connected with the same client id 'twin'" in (
        caplog.text
    )
