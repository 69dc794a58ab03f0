"""sd_notify from the real service: READY, WATCHDOG only while frames get processed, STOPPING.

The notify socket is a real AF_UNIX datagram socket bound by the test, as systemd binds one.
The stall is injected by wrapping the real pipeline's ``process`` so it blocks: a hung
detector, the failure the watchdog exists for.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge import app
from edge.config import load_config
from edge.detect import Inferred, Prepared
from edge.runtime.notify import Notifier
from tests.conftest import CLIPS_DIR, MODELS_DIR, Broker, require_asset
from tests.integration.test_run_sigterm import write_config

pytestmark = pytest.mark.slow


class NotifySocket:
    """What systemd listens on: collects every datagram with its arrival time."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.path = path

    def messages(self, seconds: float) -> list[tuple[float, str]]:
        out: list[tuple[float, str]] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                out.append((time.monotonic(), self.sock.recv(4096).decode()))
            except TimeoutError:
                continue
        return out

    def wait_for(self, field: str, timeout_s: float) -> list[str]:
        seen: list[str] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                msg = self.sock.recv(4096).decode()
            except TimeoutError:
                continue
            seen.append(msg)
            if field in msg.splitlines():
                return seen
        raise AssertionError(f"no {field} within {timeout_s} s; got {seen}")


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    s = NotifySocket(tmp_path / "notify.sock")
    yield s
    s.sock.close()


def pings(msgs: list[tuple[float, str]]) -> int:
    return sum("WATCHDOG=1" in m.splitlines() for _, m in msgs)


def test_stalled_processing_loop_stops_the_watchdog_pings(
    broker: Broker, tmp_path: Path, notify_socket: NotifySocket
) -> None:
    clip = require_asset(CLIPS_DIR / "road_cctv_vehicles" / "video.mp4")
    source = f'type = "replay"\npath = "{clip}"\nrealtime = true'
    cfg = load_config(write_config(tmp_path / "c.toml", tmp_path / "state", broker, source))
    runtime = app.build(
        cfg, app.Options(MODELS_DIR, notifier=Notifier(str(notify_socket.path), watchdog_s=4.0))
    )
    runner = threading.Thread(target=runtime.run)
    runner.start()
    try:
        notify_socket.wait_for("READY=1", timeout_s=60)
        assert pings(notify_socket.messages(4.0)) >= 2, "no pings while processing"

        gate = threading.Event()
        detector = runtime.parts.loop.parts.pipeline.detector
        real = detector.infer

        def stalled(prepared: Prepared) -> Inferred:
            gate.wait()
            return real(prepared)

        detector.infer = stalled  # type: ignore[method-assign]
        notify_socket.messages(1.5)  # a frame already in process may still ping once
        silent = notify_socket.messages(4.0)  # WatchdogSec=4: systemd would kill us here
        assert pings(silent) == 0, silent
        gate.set()
        assert pings(notify_socket.messages(3.0)) >= 1, "pings did not resume"
    finally:
        runtime.request_stop()
        runner.join(60)
    assert not runner.is_alive()
    tail = [m for _, m in notify_socket.messages(0.5)]
    assert any("STOPPING=1" in m.splitlines() for m in tail), tail


def test_notifier_speaks_the_sd_notify_datagram_format(notify_socket: NotifySocket) -> None:
    env = {"NOTIFY_SOCKET": str(notify_socket.path), "WATCHDOG_USEC": "30000000"}
    n = Notifier.from_env(env)
    assert n.watchdog_s == 30.0
    assert n.ready("counting") and n.watchdog() and n.status("ok: 5 fps") and n.stopping()
    got = [m for _, m in notify_socket.messages(0.5)]
    assert got == ["READY=1\nSTATUS=counting", "WATCHDOG=1", "STATUS=ok: 5 fps", "STOPPING=1"]
    assert not Notifier.from_env({}).enabled and not Notifier.from_env({}).ready()
