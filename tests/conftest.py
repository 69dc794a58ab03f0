"""Shared fixtures: paths to the fetched assets and a real Mosquitto broker on a free port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = ROOT / "models"
CLIPS_DIR = ROOT / "data" / "videos"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Broker:
    """A Mosquitto process the test owns; ``stop()`` and ``start()`` simulate an outage."""

    workdir: Path
    port: int
    extra_conf: str = ""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        conf = self.workdir / "mosquitto.conf"
        listener = self.extra_conf or f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
        conf.write_text(
            f"{listener}persistence true\npersistence_location {self.workdir}/\n"
            "max_queued_messages 100000\nlog_dest stderr\n"
        )
        self.proc = subprocess.Popen(
            [exe, "-c", str(conf)], stderr=(self.workdir / "broker.log").open("ab")
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not start on port {self.port}: see {self.workdir}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A fresh Mosquitto on a free loopback port, persistent sessions on, stopped afterwards."""
    b = Broker(tmp_path / "broker", free_port())
    b.workdir.mkdir()
    b.start()
    yield b
    b.stop()


def require_asset(path: Path) -> Path:
    """Fail (never skip) with the command that fetches a missing asset."""
    if not path.exists():
        pytest.fail(f"{path} is missing: run `edge-counter assets fetch --mirror ../shared/assets`")
    return path
