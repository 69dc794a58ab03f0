"""The collector defends itself, end to end: a real Mosquitto, the real collector on SQLite and
PostgreSQL, and a PostgreSQL that stops answering (a TCP relay that goes silent)."""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from edge.collector.config import load_collector_config
from edge.collector.ingest import Received
from edge.collector.service import Collector
from edge.collector.store import PgTimeouts, open_store
from edge.collector.subscriber import Delivery
from edge.collector.writer import Writer
from edge.errors import StoreError
from tests.conftest import Broker
from tests.integration.collector.helpers import fleet, wait_until

YEAR_2100 = 4_102_444_800.0
TOPIC = "edge/v1/site-a/dev-1"


def _msg(kind: str, ts: float, **fields: Any) -> bytes:
    return json.dumps({"v": 1, "type": kind, "device_id": "dev-1", "ts": ts, **fields}).encode()


def _events(seqs: range, ts: float) -> bytes:
    events = [
        {"device_id": "dev-1", "epoch": 1, "seq": s, "ts": ts, "line": "L1", "direction": "in",
         "class": "car", "track_id": s, "confidence": 0.9}
        for s in seqs
    ]  # fmt: skip
    return json.dumps({"v": 1, "type": "events", "device_id": "dev-1", "events": events}).encode()


def _api(c: Collector, path: str) -> httpx.Response:
    resp = httpx.get(f"{c.http_url}/api/v1/{path}", timeout=30)
    resp.raise_for_status()
    return resp


def test_oversize_and_future_payloads_are_refused_and_counted(broker: Broker, db_url: str) -> None:
    overrides = {"mqtt.url": broker.url, "store.url": db_url, "http.port": 0,
                 "mqtt.client_id": "defense"}  # fmt: skip
    c = Collector(load_collector_config(None, overrides))
    c.start()
    assert c.wait_subscribed(10)
    pub = fleet.connect(broker.url)
    now = time.time()
    state = {"epoch": 1, "lines": {"L1": {"in": {"car": 30}, "out": {}}}, "last_seq": 30,
             "dropped": 10}  # fmt: skip
    sent = [
        ("telemetry", _msg("telemetry", now - 2, metrics={"fps": 5.0})),
        ("telemetry", _msg("telemetry", now, metrics={"fps": 1.0, "pad": "x" * 50_000_000})),
        ("telemetry", _msg("telemetry", YEAR_2100, metrics={"fps": 2100.0})),
        ("state", _msg("state", YEAR_2100, **state)),
        ("events/L1", _events(range(100, 110), YEAR_2100)),
        ("events/L1", _events(range(1, 21), now - 30)),
        ("state", _msg("state", now - 1, **state)),
        ("telemetry", _msg("telemetry", now - 1, metrics={"fps": 9.0})),  # later, normal
    ]
    try:
        for kind, payload in sent:
            pub.publish(f"{TOPIC}/{kind}", payload, qos=1).wait_for_publish(60)
        wait_until(lambda: c.stats()["messages"] >= len(sent), 120, "every message processed")
        rejects = _api(c, "rejects?limit=10").json()
        assert rejects["by_code"] == {"future_ts": 3, "too_large": 1}
        assert c.stats()["rejected"] == 4
        assert max(len(r["excerpt"]) for r in rejects["latest"]) <= 512
        devices = _api(c, "devices")
        assert len(devices.content) < 4096, "the API must never carry a rejected payload"
        (dev,) = devices.json()["devices"]
        assert dev["telemetry"]["metrics"] == {"fps": 9.0}
        assert dev["totals"] == {"stored": 20, "journaled": 30, "dropped": 10, "missing": 0,
                                 "epoch": 1, "last_seq": 30, "state_ts": now - 1}  # fmt: skip
        totals = _api(c, "totals").json()["devices"]["dev-1"]["lines"]["L1"]
        assert totals["in"] == {"car": 20}  # the events dated 2100 were not counted
        assert c.failure() is None
    finally:
        pub.disconnect()
        c.stop()


class SilentRelay:
    """A TCP relay to PostgreSQL that can go silent: it keeps every connection open (and
    accepts new ones) but forwards nothing, like a hung server or a dead NAT path."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.flowing = threading.Event()
        self.flowing.set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                self.flowing.wait()
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            s.close()

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def relay(pg_url: str) -> Iterator[tuple[SilentRelay, str]]:
    r = SilentRelay(("127.0.0.1", 5432))
    yield r, pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{r.port}")
    r.flowing.set()
    r.close()


def test_a_server_that_accepts_but_never_answers_is_a_connect_error(pg_url: str) -> None:
    mute = socket.create_server(("127.0.0.1", 0))  # the kernel accepts; nobody answers
    try:
        url = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{mute.getsockname()[1]}")
        with pytest.raises(StoreError, match="cannot connect"):
            open_store(url, timeouts=PgTimeouts(connect_s=1))
    finally:
        mute.close()


def test_a_slow_statement_is_cut_by_the_statement_timeout(pg_url: str) -> None:
    store = open_store(pg_url, timeouts=PgTimeouts(statement_s=0.5))
    try:
        with pytest.raises(StoreError, match="statement timeout"), store.reading() as reader:
            reader.query("SELECT pg_sleep(5)")
    finally:
        store.close()


def test_the_writer_outlives_a_hung_server(relay: tuple[SilentRelay, str]) -> None:
    r, url = relay
    store = open_store(url, timeouts=PgTimeouts(connect_s=1, statement_s=1))
    store.migrate()
    inbox: queue.Queue[Delivery] = queue.Queue()
    acked: list[Delivery] = []
    writer = Writer(store, inbox, acked.extend, max_messages=10, max_wait_s=0.01)
    writer.start()
    try:

        def put(first: int) -> None:
            rx = Received(f"{TOPIC}/events/L1", _events(range(first, first + 5), time.time()),
                          time.time())  # fmt: skip
            inbox.put(Delivery(rx, first, 1, 0))

        put(1)
        wait_until(lambda: len(acked) == 1, 30, "the first batch stored")
        r.flowing.clear()  # the server hangs mid-session: no answer, no error
        put(6)
        wait_until(lambda: writer.stats.store_retries >= 2, 60, "the hung write given up, retried")
        assert len(acked) == 1, "nothing acknowledged while the server hangs"
        r.flowing.set()
        wait_until(lambda: len(acked) == 2, 90, "the batch stored once the server answers")
        assert writer.stats.events_inserted == 10 and writer.failure() is None
    finally:
        writer.stop()
        store.close()
