"""``edge-counter run`` stopped by SIGTERM: outbox flushed with the broker up, kept with it down.

Real process, real clip played at real time, real model, real Mosquitto. Nothing is lost
either way: every seq the outbox ever journaled reaches the subscriber (after a restart when
the broker was down at shutdown).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge import wire
from edge.config import MqttConfig
from edge.publish.subscriber import Subscriber
from tests.conftest import CLIPS_DIR, MODELS_DIR, Broker, require_asset

pytestmark = pytest.mark.slow

DEVICE = "post-3-cam-1"


def write_config(
    path: Path, state_dir: Path, broker: Broker, source: str, **service: float
) -> Path:
    """A device config for ``run``; ``source`` is the body of the [source] table."""
    svc = "\n".join(f"{k} = {v}" for k, v in {"drain_timeout_s": 5, **service}.items())
    path.write_text(
        f'[device]\nid = "{DEVICE}"\nsite = "post-3"\nstate_dir = "{state_dir}"\n\n'
        f"[source]\n{source}\n\n"
        '[detector]\nmodel = "yolox-nano-int8"\nthreads = 1\n\n'
        '[[lines]]\nname = "L1"\na = [108.0, 230.0]\nb = [616.0, 230.0]\n\n'
        f'[mqtt]\nurl = "{broker.url}"\nreconnect_min_s = 0.5\nreconnect_max_s = 1.0\n'
        'delivery = "broker"\nstatus_hold_s = 1\n'
        "telemetry_interval_s = 2\n\n"
        f"[service]\n{svc}\nstatus_interval_s = 2\n\n[health]\nstartup_grace_s = 5\n"
    )
    return path


def start_run(config: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "EDGE_COUNTER_MODELS": str(MODELS_DIR)}
    env.pop("NOTIFY_SOCKET", None)
    cmd = [sys.executable, "-m", "edge.cli", "-v", "run", "--config", str(config)]
    return subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)


def journal(state_dir: Path) -> tuple[set[int], int]:
    """Every seq in the outbox and how many are unsent (read beside the running service)."""
    path = state_dir / "outbox.sqlite"
    if not path.exists():
        return set(), 0
    con = sqlite3.connect(path, timeout=5)
    try:
        rows = con.execute("SELECT seq, sent_utc_s IS NULL FROM events").fetchall()
    except sqlite3.OperationalError:  # schema not created yet
        return set(), 0
    finally:
        con.close()
    return {int(r[0]) for r in rows}, sum(int(r[1]) for r in rows)


def wait_journaled(state_dir: Path, n: int, proc: subprocess.Popen[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while len(journal(state_dir)[0]) < n:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, f"fewer than {n} crossings in {timeout_s} s"
        time.sleep(0.5)


def terminate(proc: subprocess.Popen[str], timeout_s: float) -> tuple[int, float, str]:
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=timeout_s)
    return proc.returncode, time.monotonic() - t0, err


def received(sub: Subscriber, idle_s: float) -> tuple[set[int], list[str]]:
    """Event seqs and status states seen until the subscriber is idle for ``idle_s``."""
    seqs: set[int] = set()
    states: list[str] = []
    while (got := sub.get(idle_s)) is not None:
        _, msg = wire.decode_for_topic(got[0], got[1])
        if isinstance(msg, wire.EventsMsg):
            seqs |= {e.seq for e in msg.events}
        elif isinstance(msg, wire.StatusMsg):
            states.append(msg.state)
    return seqs, states


@pytest.fixture
def road_source() -> str:
    clip = require_asset(CLIPS_DIR / "road_cctv_vehicles" / "video.mp4")
    return f'type = "replay"\npath = "{clip}"\nrealtime = true'


def test_sigterm_with_broker_up_flushes_the_outbox_and_publishes_stopped(
    broker: Broker, tmp_path: Path, road_source: str
) -> None:
    sub = Subscriber(MqttConfig(url=broker.url), [wire.subscription("edge")], "t-up", True)
    sub.start()
    state = tmp_path / "state"
    proc = start_run(write_config(tmp_path / "c.toml", state, broker, road_source))
    wait_journaled(state, 4, proc, timeout_s=120)
    code, took_s, err = terminate(proc, timeout_s=30)
    assert code == 0, err
    seqs, unsent = journal(state)
    got, states = received(sub, idle_s=2.0)
    sub.stop()
    assert unsent == 0, "the outbox was not flushed before exit"
    assert seqs and got == seqs, (sorted(seqs), sorted(got))
    assert states[-1] == "stopped"
    print(json.dumps({"sigterm_exit_s": round(took_s, 2), "crossings": len(seqs)}))


def test_sigterm_with_broker_down_keeps_the_outbox_and_delivers_after_restart(
    broker: Broker, tmp_path: Path, road_source: str
) -> None:
    sub = Subscriber(MqttConfig(url=broker.url), [wire.subscription("edge")], "t-down", True)
    sub.start()
    state = tmp_path / "state"
    config = write_config(tmp_path / "c.toml", state, broker, road_source, drain_timeout_s=2)
    proc = start_run(config)
    wait_journaled(state, 2, proc, timeout_s=120)
    broker.stop()
    before = len(journal(state)[0])
    wait_journaled(state, before + 2, proc, timeout_s=120)  # counted while the broker is down
    code, took_s, err = terminate(proc, timeout_s=30)
    assert code == 0, err
    assert took_s < 15, "shutdown must not wait for an absent broker beyond drain_timeout_s"
    seqs, unsent = journal(state)
    assert unsent >= 2, "crossings counted during the outage must stay in the outbox"

    broker.start()
    proc = start_run(config)  # the next start ships what the last one kept
    deadline = time.monotonic() + 60
    while journal(state)[1] and time.monotonic() < deadline:
        time.sleep(0.5)
    code, _, err = terminate(proc, timeout_s=30)
    assert code == 0, err
    all_seqs, unsent = journal(state)
    got, _ = received(sub, idle_s=2.0)
    sub.stop()
    assert unsent == 0
    assert seqs <= all_seqs and got == all_seqs, sorted(all_seqs - got)
