"""``--restart-service``: after a save the page runs ``systemctl restart edge-counter.service``
and tells the installer what happened (a stand-in ``systemctl`` on PATH records the call)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.setup.server import _restart_service


def fake_systemctl(folder: Path, exit_code: int) -> Path:
    calls = folder / "calls"
    script = folder / "systemctl"
    script.write_text(
        f'#!/bin/sh\necho "$@" >> {calls}\necho "Unit not found." >&2\nexit {exit_code}\n'
    )
    script.chmod(0o755)
    return calls


def test_a_restart_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_systemctl(tmp_path, 0)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert _restart_service() == "edge-counter restarted with the new config"
    assert calls.read_text() == "restart edge-counter.service\n"


def test_a_failed_restart_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_systemctl(tmp_path, 5)
    monkeypatch.setenv("PATH", str(tmp_path))
    said = _restart_service()
    assert "failed (5)" in said and "Unit not found." in said


def test_no_systemctl_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert "failed" in _restart_service()
