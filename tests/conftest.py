"""Shared fixtures: paths to the fetched assets and a real Mosquitto broker on a free port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.tools.broker import EmbeddedBroker, free_port

ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = ROOT / "models"
CLIPS_DIR = ROOT / "data" / "videos"


Broker = EmbeddedBroker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A fresh Mosquitto on a free loopback port, persistent sessions on, stopped afterwards."""
    b = Broker(tmp_path / "broker", free_port())
    b.start()
    yield b
    b.stop()


def require_asset(path: Path) -> Path:
    """Fail (never skip) with the command that fetches a missing asset."""
    if not path.exists():
        pytest.fail(f"{path} is missing: run `edge-counter assets fetch --mirror ../shared/assets`")
    return path
