"""Collector test helpers: the fleet simulator (scripts/simulate_fleet.py) and polling."""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]
PG_ADMIN_URL = os.environ.get("EDGE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _load_fleet() -> ModuleType:
    path = ROOT / "scripts" / "simulate_fleet.py"
    spec = importlib.util.spec_from_file_location("simulate_fleet", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


fleet = _load_fleet()


def wait_until(check: Callable[[], bool], timeout_s: float = 30.0, what: str = "") -> None:
    """Poll ``check`` every 50 ms; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout_s} s waiting for {what or check}")
