"""Outbox + MqttPublisher against a real Mosquitto: delivery, outage, SIGKILL, status topics."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge import wire
from edge.config import DeviceConfig, MqttConfig, OutboxConfig
from edge.outbox import Outbox
from edge.publish import StatusInfo
from edge.publish.client import LinkChange, MqttClient, device_options
from edge.publish.mqtt import MqttPublisher
from edge.publish.subscriber import Subscriber
from edge.types import Crossing
from tests.conftest import CLIPS_DIR, Broker, require_asset

Key = tuple[str, int, int]
DoneFn = Callable[[dict[Key, wire.Event], list[wire.Message]], bool]
DEVICE = DeviceConfig(id="dev1", site="post-7")


def crossing(i: int, line: str = "L1") -> Crossing:
    return Crossing(line, "in" if i % 3 else "out", "car" if i % 2 else "person", i, i / 10, 0.9)


def mqtt_cfg(broker: Broker, **kw: object) -> MqttConfig:
    return MqttConfig.model_validate(
        {"url": broker.url, "reconnect_max_s": 1.0, "delivery": "broker", **kw}
    )


@pytest.fixture
def sub(broker: Broker) -> Iterator[Subscriber]:
    """A persistent QoS 1 subscriber to every device topic (survives broker restarts)."""
    s = Subscriber(mqtt_cfg(broker), [wire.subscription("edge")], "test-sub", persistent=True)
    s.start()
    yield s
    s.stop()


def collect(
    sub: Subscriber, done: DoneFn, timeout_s: float
) -> tuple[dict[Key, wire.Event], list[wire.Message]]:
    """Events deduplicated on (device_id, epoch, seq), plus every other decoded message."""
    events: dict[Key, wire.Event] = {}
    others: list[wire.Message] = []
    deadline = time.monotonic() + timeout_s
    while not done(events, others) and time.monotonic() < deadline:
        got = sub.get(0.1)
        if got is None:
            continue
        _, msg = wire.decode_for_topic(got[0], got[1])
        if isinstance(msg, wire.EventsMsg):
            events.update({(e.device_id, e.epoch, e.seq): e for e in msg.events})
        else:
            others.append(msg)
    return events, others


def has_seqs(seqs: set[int]) -> DoneFn:
    return lambda ev, _o: seqs <= {k[2] for k in ev}


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_delivers_every_crossing_with_status_state_counts(
    broker: Broker, sub: Subscriber, tmp_path: Path, protocol: str
) -> None:
    box = Outbox.open(tmp_path / "outbox.sqlite", DEVICE.id, OutboxConfig())
    t0 = (time.time() // 60 - 3) * 60  # three minutes ago: closed intervals
    for i in range(250):
        box.append(crossing(i, "L1" if i % 5 else "L2"), t0 + i * 0.2)
    pub = MqttPublisher(mqtt_cfg(broker, protocol=protocol), DEVICE, box, StatusInfo("9.9", "m"))
    pub.start()
    assert pub.drain(20) == 0
    events, others = collect(
        sub, lambda ev, o: len(ev) == 250 and any(m.type == "counts" for m in o), 10
    )
    pub.stop()
    assert sorted(k[2] for k in events) == list(range(1, 251))
    assert events[("dev1", 1, 8)].cls == "car" and events[("dev1", 1, 8)].line == "L1"
    status = [m for m in others if isinstance(m, wire.StatusMsg)]
    assert status[0].state == "online" and status[0].epoch == 1 and status[0].version == "9.9"
    counts = [m for m in others if isinstance(m, wire.CountsMsg)]
    assert counts and counts[0].start == t0 and counts[0].end == t0 + 60
    assert box.depth() == 0
    box.close()


def test_broker_outage_loses_nothing(broker: Broker, sub: Subscriber, tmp_path: Path) -> None:
    box = Outbox.open(tmp_path / "outbox.sqlite", DEVICE.id, OutboxConfig())
    pub = MqttPublisher(mqtt_cfg(broker), DEVICE, box, StatusInfo("1"))
    pub.start()
    for i in range(20):
        box.append(crossing(i), time.time())
    assert pub.drain(10) == 0
    broker.stop()
    for i in range(20, 80):
        box.append(crossing(i), time.time())
        time.sleep(0.005)
    assert not pub.connected
    assert pub.drain(0.5) == 60  # nothing is marked sent without a PUBACK
    broker.start()
    assert pub.drain(30) == 0
    events, _ = collect(sub, has_seqs(set(range(1, 81))), 15)
    pub.stop()
    assert sorted({k[2] for k in events}) == list(range(1, 81))
    box.close()


def test_stop_leaves_retained_stopped_and_state(
    broker: Broker, sub: Subscriber, tmp_path: Path
) -> None:
    # ``sub`` reads the events: with no subscriber at all the broker answers 0x10 (no
    # matching subscribers) and the crossings rightly stay in the outbox.
    box = Outbox.open(tmp_path / "outbox.sqlite", DEVICE.id, OutboxConfig())
    pub = MqttPublisher(mqtt_cfg(broker), DEVICE, box, StatusInfo("1", config_hash="abc"))
    pub.start()
    for i in range(10):
        box.append(Crossing("gate", "in", "bus", i, 0.0, 0.5), time.time())
    assert pub.drain(10) == 0
    pub.stop()
    filters = [wire.subscription("edge", "status"), wire.subscription("edge", "state")]
    late = Subscriber(mqtt_cfg(broker), filters)
    late.start()
    _, retained = collect(late, lambda _e, o: len(o) >= 2, 5)
    late.stop()
    by_type = {m.type: m for m in retained}
    assert isinstance(by_type["status"], wire.StatusMsg) and by_type["status"].state == "stopped"
    state = by_type["state"]
    assert isinstance(state, wire.StateMsg)
    assert state.lines["gate"].in_ == {"bus": 10} and state.last_seq == 10
    box.close()


DRIVER = """
import sys, time
from pathlib import Path
from edge.config import DeviceConfig, MqttConfig, OutboxConfig
from edge.outbox import Outbox
from edge.publish.mqtt import MqttPublisher
from edge.types import Crossing
url, path, n, keepalive = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
box = Outbox.open(path, "dev1", OutboxConfig())
cfg = MqttConfig(url=url, keepalive_s=keepalive, reconnect_max_s=1.0, delivery="broker")
pub = MqttPublisher(cfg, DeviceConfig(id="dev1", site="post-7"), box)
pub.start()
for i in range(n):
    r = box.append(Crossing("L1", "in", "car", i, 0.0, 0.9), time.time())
    print(r.epoch, r.seq, flush=True)
    time.sleep(0.01)
print("remaining", pub.drain(30), flush=True)
pub.stop()
"""


def run_driver(broker: Broker, path: Path, n: int, keepalive_s: int = 30) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, broker.url, str(path), str(n), str(keepalive_s)],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def read_records(proc: subprocess.Popen[str], count: int) -> list[tuple[int, int]]:
    assert proc.stdout is not None
    out = []
    while len(out) < count:
        line = proc.stdout.readline()
        assert line, "driver exited early"
        epoch, seq = line.split()
        out.append((int(epoch), int(seq)))
    return out


def test_sigkill_mid_run_then_restart_delivers_everything(
    broker: Broker, sub: Subscriber, tmp_path: Path
) -> None:
    path = tmp_path / "state" / "outbox.sqlite"
    first = run_driver(broker, path, 1000)
    before = read_records(first, 60)
    broker.stop()  # the uplink drops ...
    before += read_records(first, 40)
    first.send_signal(signal.SIGKILL)  # ... and then the power
    first.wait(10)
    broker.start()
    second = run_driver(broker, path, 30)
    after = read_records(second, 30)
    assert second.stdout is not None
    assert second.stdout.readline().split() == ["remaining", "0"]
    assert second.wait(20) == 0
    assert {e for e, _ in before} == {1} and {e for e, _ in after} == {2}
    assert after[0][1] > before[-1][1]  # seq keeps rising across the restart
    want = {s for _, s in before + after}
    events, _ = collect(sub, has_seqs(want), 15)
    assert want <= {k[2] for k in events}
    assert {k[1] for k in events if k[2] in {s for _, s in before}} == {1}


def test_last_will_offline_after_kill(broker: Broker, tmp_path: Path) -> None:
    proc = run_driver(broker, tmp_path / "outbox.sqlite", 1000, keepalive_s=5)
    read_records(proc, 20)
    watch = Subscriber(mqtt_cfg(broker), [wire.subscription("edge", "status")])
    watch.start()
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    _, msgs = collect(watch, lambda _e, o: any(getattr(m, "state", "") == "offline" for m in o), 15)
    watch.stop()
    assert [m for m in msgs if isinstance(m, wire.StatusMsg)][-1].state == "offline"


def test_tail_prints_decoded_and_rejects_malformed(
    broker: Broker, sub: Subscriber, tmp_path: Path
) -> None:  # ``sub`` reads the events (unread ones are answered 0x10 and stay in the outbox)
    # Everything is retained, so tail sees it whatever the moment it subscribes.
    raw = MqttClient(device_options(mqtt_cfg(broker), "raw-pub"))
    links: queue.SimpleQueue[LinkChange] = queue.SimpleQueue()
    raw.on_link = links.put
    raw.start()
    assert links.get(timeout=5).up
    bad = json.dumps({"v": 2, "type": "state", "device_id": "dev9"}).encode()
    assert raw.send_and_wait("edge/v1/post-7/dev9/status", b"not json", 1, True, 5)
    assert raw.send_and_wait("edge/v1/post-7/dev9/state", bad, 1, True, 5)
    raw.stop()
    box = Outbox.open(tmp_path / "outbox.sqlite", DEVICE.id, OutboxConfig())
    pub = MqttPublisher(mqtt_cfg(broker), DEVICE, box, StatusInfo("1"))
    pub.start()
    box.append(crossing(1), time.time())
    assert pub.drain(10) == 0
    time.sleep(1.5)  # the retained state follows the first crossing within a second
    cmd = ["tail", broker.url, "--count", "2", "--idle-exit-s", "10"]
    done = subprocess.run(
        [sys.executable, "-m", "edge.cli", *cmd], check=False, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    pub.stop()
    box.close()
    assert done.returncode == 0, done.stderr
    lines = sorted(done.stdout.splitlines(), key=lambda ln: ln.split()[1])
    assert len(lines) == 2
    assert "/dev1/state " in lines[0] and '"last_seq":1' in lines[0]
    assert "/dev1/status " in lines[1] and '"state":"online"' in lines[1]
    rejected = sorted(done.stderr.splitlines())
    assert "rejected edge/v1/post-7/dev9/state: unsupported payload version 2" in rejected[0]
    assert "rejected edge/v1/post-7/dev9/status: payload is not JSON" in rejected[1]


# --- the real replay command on a real clip (slow: the real model runs on every frame) ---

CLIP = CLIPS_DIR / "road_cctv_vehicles" / "video.mp4"


def replay_cmd(broker: Broker, state_dir: Path, drain_s: float = 60) -> list[str]:
    # Detecting at 5 fps keeps the test short; delivery, not accuracy, is under test here.
    return [
        sys.executable, "-m", "edge.cli", "replay", str(require_asset(CLIP)),
        "--line", "L1:108,230,616,230", "--detect-fps", "5", "--mqtt", broker.url,
        "--delivery", "broker",
        "--state-dir", str(state_dir), "--device-id", "dev1", "--site", "post-7",
        "--drain-timeout", str(drain_s), "--json", "--no-progress",
    ]  # fmt: skip


def wait_events(sub: Subscriber, n: int, timeout_s: float) -> dict[Key, wire.Event]:
    events, _ = collect(sub, lambda ev, _o: len(ev) >= n, timeout_s)
    assert len(events) >= n, f"only {len(events)} events within {timeout_s} s"
    return events


def journaled(state_dir: Path) -> tuple[int, int]:
    """(last seq, epoch) of the outbox, read without starting a new epoch."""
    box = Outbox.open(state_dir / "outbox.sqlite", "dev1", OutboxConfig(), new_epoch=False)
    try:
        return box.totals().last_seq, box.epoch
    finally:
        box.close()


@pytest.mark.slow
def test_replay_broker_outage_mid_run(broker: Broker, sub: Subscriber, tmp_path: Path) -> None:
    cmd = replay_cmd(broker, tmp_path / "state")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    first = wait_events(sub, 2, 240)
    broker.stop()
    time.sleep(8)  # the clip keeps counting into the outbox meanwhile
    broker.start()
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0
    report = json.loads(out)
    assert report["published"]["remaining"] == 0
    total = sum(sum(d.values()) for d in report["lines"]["L1"].values())
    last_seq, _ = journaled(tmp_path / "state")
    assert last_seq == total > len(first)
    events = {**first, **collect(sub, has_seqs(set(range(1, total + 1))), 30)[0]}
    assert {k[2] for k in events} == set(range(1, total + 1))


@pytest.mark.slow
def test_replay_sigkill_then_restart(broker: Broker, sub: Subscriber, tmp_path: Path) -> None:
    state = tmp_path / "state"
    proc = subprocess.Popen(replay_cmd(broker, state), stdout=subprocess.PIPE, text=True)
    first = wait_events(sub, 2, 240)
    broker.stop()  # uplink down, then the power goes: crossings left unsent in the outbox
    time.sleep(5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    killed_seq, killed_epoch = journaled(state)
    assert killed_epoch == 1 and killed_seq >= 2
    broker.start()
    again = subprocess.run(
        replay_cmd(broker, state), check=False, capture_output=True, text=True, timeout=600
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["published"]["remaining"] == 0
    last_seq, epoch = journaled(state)
    assert epoch == 2 and last_seq > killed_seq
    want = set(range(1, last_seq + 1))
    events = {**first, **collect(sub, has_seqs(want - {k[2] for k in first}), 30)[0]}
    assert want <= {k[2] for k in events}
    # Everything counted before the kill arrives with its original epoch; later ones with 2.
    assert {e for (_, e, s) in events if s <= killed_seq} == {1}
    assert {e for (_, e, s) in events if s > killed_seq} == {2}
