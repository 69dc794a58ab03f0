"""``Writer.drain`` must not report drained while messages are still queued or being
written, even when the waiting thread is starved (a sleep that overruns the quiet period):
``Collector.stop`` ends the MQTT session on its answer."""

from __future__ import annotations

import json
import queue
import time
from pathlib import Path
from typing import Any

import pytest

from edge.collector import writer as writer_module
from edge.collector.ingest import Received
from edge.collector.store import open_store
from edge.collector.subscriber import Delivery
from edge.collector.writer import Writer

MESSAGES = 300


def _events(seq: int, ts: float) -> bytes:
    ev = {"seq": seq, "ts": ts, "line": "L1", "direction": "in", "class": "car",
          "track_id": seq, "outbox_id": "0123456789abcdef"}  # fmt: skip
    return json.dumps({"v": 1, "type": "events", "device_id": "dev-1", "epoch": 1,
                       "events": [ev]}).encode()  # fmt: skip


def test_drain_waits_for_every_message_even_when_its_sleeps_overrun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'drain.db'}")
    store.migrate()
    inbox: queue.Queue[Delivery] = queue.Queue()
    w = Writer(store, inbox, lambda batch: None, max_messages=1, max_wait_s=0.0)
    now = time.time()
    for mid in range(1, MESSAGES + 1):
        rx = Received("edge/v1/site-a/dev-1/events/L1", _events(mid, now), now)
        inbox.put(Delivery(rx, mid, 1, 0))
    real_sleep = time.sleep
    write = store.write

    def slow_write(msgs: Any) -> Any:  # a busy database: each transaction takes 10 ms
        real_sleep(0.01)
        return write(msgs)

    monkeypatch.setattr(store, "write", slow_write)
    # A starved thread: every short sleep lasts longer than drain's quiet period.
    monkeypatch.setattr(writer_module.time, "sleep", lambda s: real_sleep(max(s, 0.5)))
    w.start()
    try:
        assert w.drain(timeout_s=120.0)
        assert w.stats.messages == MESSAGES, "drain said drained with messages unstored"
    finally:
        w.stop()
        store.close()
