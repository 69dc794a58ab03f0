"""Every worker is supervised: one that dies ends the run non-zero, and no watchdog ping follows.

A real service (real clip played at real time, real model, real Mosquitto, a real sd_notify
socket); the fault is injected through a real seam of the worker, never by mocking a thread:
the detector's model step (the detect thread) and the outbox the drain thread reads (a disk
that fails under it).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from edge import app
from edge.config import load_config
from edge.detect import Inferred, Prepared
from edge.errors import OutboxError
from edge.runtime.notify import Notifier
from edge.runtime.runner import Report, Runtime
from edge.types import CountRecord
from tests.conftest import MODELS_DIR, Broker
from tests.integration.test_run_sigterm import road_source, write_config
from tests.integration.test_run_watchdog import NotifySocket, notify_socket, pings

pytestmark = pytest.mark.slow
__all__ = ["notify_socket", "road_source"]  # fixtures, used by name

#: A datagram sent just before the fault may be read just after it.
DELIVERY_S = 0.25


def start(runtime: Runtime) -> tuple[threading.Thread, list[Report]]:
    reports: list[Report] = []
    runner = threading.Thread(target=lambda: reports.append(runtime.run()))
    runner.start()
    return runner, reports


def build(broker: Broker, tmp_path: Path, sock: NotifySocket, road_source: str) -> Runtime:
    cfg = load_config(write_config(tmp_path / "c.toml", tmp_path / "state", broker, road_source))
    notifier = Notifier(str(sock.path), watchdog_s=4.0)
    return app.build(cfg, app.Options(MODELS_DIR, notifier=notifier))


def pings_after(msgs: list[tuple[float, str]], t_s: float) -> list[str]:
    return [m for t, m in msgs if t > t_s + DELIVERY_S and "WATCHDOG=1" in m.splitlines()]


def test_a_dead_detect_thread_ends_the_run_non_zero_with_no_ping_after(
    broker: Broker, tmp_path: Path, notify_socket: NotifySocket, road_source: str
) -> None:
    runtime = build(broker, tmp_path, notify_socket, road_source)
    runner, reports = start(runtime)
    fault_at: list[float] = []
    try:
        notify_socket.wait_for("READY=1", timeout_s=60)
        assert pings(notify_socket.messages(3.0)) >= 1, "no pings while processing"

        def crashed(_prepared: Prepared) -> Inferred:
            fault_at.append(time.monotonic())
            raise RuntimeError("injected: the inference runtime crashed")

        runtime.parts.loop.parts.pipeline.detector.infer = crashed  # type: ignore[method-assign]
        msgs = notify_socket.messages(4.0)
        runner.join(20)
    finally:
        runtime.request_stop()
        runner.join(60)
    assert fault_at, "the detector never ran after the fault was injected"
    assert not runner.is_alive()
    assert reports and reports[0].exit_code == 1
    assert pings_after(msgs, fault_at[0]) == []
    assert any("STOPPING=1" in m.splitlines() for _, m in msgs), msgs


def test_a_dead_drain_thread_ends_the_run_non_zero_and_keeps_the_crossings(
    broker: Broker, tmp_path: Path, notify_socket: NotifySocket, road_source: str
) -> None:
    runtime = build(broker, tmp_path, notify_socket, road_source)
    uplink = runtime.parts.uplink
    assert uplink is not None
    runner, reports = start(runtime)
    fault_at: list[float] = []
    try:
        notify_socket.wait_for("READY=1", timeout_s=60)
        assert pings(notify_socket.messages(3.0)) >= 1, "no pings while processing"

        def failing_disk(_limit: int) -> list[CountRecord]:
            fault_at.append(time.monotonic())
            raise OutboxError("injected: disk I/O error reading the outbox")

        uplink.outbox.pending = failing_disk  # type: ignore[method-assign]
        msgs = notify_socket.messages(8.0)  # the clip's next crossing wakes the drain thread
        runner.join(20)
    finally:
        runtime.request_stop()
        runner.join(60)
    assert fault_at, "no crossing reached the drain thread after the fault was injected"
    assert not runner.is_alive()
    assert reports and reports[0].exit_code == 1
    assert pings_after(msgs, fault_at[0]) == []
    con = sqlite3.connect(tmp_path / "state" / "outbox.sqlite")
    try:
        rows = con.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    finally:
        con.close()
    assert rows == uplink.journaled >= 1  # every crossing counted is still in the journal


def test_the_service_process_exits_non_zero_when_its_detect_step_fails(
    broker: Broker, tmp_path: Path, notify_socket: NotifySocket, road_source: str
) -> None:
    """End to end: ``edge-counter run`` under a notify socket, a detections file that breaks at
    frame 60 (the scripted detector's seam: its ``infer`` runs on the detect thread)."""
    script = tmp_path / "detections.jsonl"
    good = [{"seq": s, "boxes": [[300, 100 + 2 * s, 360, 140 + 2 * s]], "scores": [0.9],
             "classes": ["car"]} for s in range(60)]  # fmt: skip
    script.write_text("".join(json.dumps(r) + "\n" for r in good) + '{"seq": 60, "boxes": [\n')
    config = write_config(tmp_path / "c.toml", tmp_path / "state", broker, road_source)
    text = config.read_text().replace(
        '[detector]\nmodel = "yolox-nano-int8"\nthreads = 1',
        f'[detector]\ntype = "scripted"\npath = "{script}"',
    )
    config.write_text(text)
    env = {**os.environ, "NOTIFY_SOCKET": str(notify_socket.path), "WATCHDOG_USEC": "4000000"}
    cmd = [sys.executable, "-m", "edge.cli", "run", "--config", str(config)]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    try:
        notify_socket.wait_for("READY=1", timeout_s=60)
        msgs = notify_socket.messages(6.0)  # 60 frames of a real-time 25 fps clip: 2.4 s
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 2, err
    assert f"{script.name}:61" in err.strip().splitlines()[-1], err
    assert pings([m for m in msgs if "STOPPING=1" not in m[1]]) >= 1
    stopping = next(t for t, m in msgs if "STOPPING=1" in m.splitlines())
    assert pings([m for m in msgs if m[0] > stopping]) == 0
