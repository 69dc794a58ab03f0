"""Two collector processes share one subscription; one is SIGKILLed mid-stream."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from tests.conftest import Broker
from tests.integration.collector.helpers import ROOT, fleet, wait_until


class CollectorProcess:
    """``edge-counter collector`` in a child process, with its log in a file."""

    def __init__(self, broker: Broker, db_url: str, client_id: str, log_dir: Path) -> None:
        self.args = [
            sys.executable,
            "-m",
            "edge.cli",
            "-v",
            "collector",
            "--mqtt",
            broker.url,
            "--db",
            db_url,
            "--share-group",
            "fleet",
            "--client-id",
            client_id,
            "--no-http",
        ]
        self.log = log_dir / f"{client_id}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start and wait until its subscriptions are granted."""
        offset = self.log.stat().st_size if self.log.exists() else 0
        self.proc = subprocess.Popen(self.args, cwd=ROOT, stderr=self.log.open("ab"))
        wait_until(lambda: b"subscribed to" in self.log.read_bytes()[offset:], 30, "subscribed")

    def kill(self) -> None:
        """SIGKILL: no clean disconnect, no chance to finish a batch."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        """SIGTERM and wait; the exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.terminate()
        return self.proc.wait(30)


def _counts(db_url: str) -> tuple[int, int, int, int]:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT (SELECT COUNT(*) FROM events),"
            " (SELECT COUNT(DISTINCT (device_id, epoch, seq)) FROM events),"
            " (SELECT SUM(n) FROM counts_total), (SELECT SUM(n) FROM counts_minute)"
        ).fetchone()
    assert row is not None
    return tuple(int(x or 0) for x in row)  # type: ignore[return-value]


@pytest.mark.slow
def test_sigkill_mid_stream_loses_nothing_and_counts_once(
    broker: Broker, pg_url: str, tmp_path: Path
) -> None:
    a = CollectorProcess(broker, pg_url, "collector-a", tmp_path)
    b = CollectorProcess(broker, pg_url, "collector-b", tmp_path)
    a.start()
    b.start()
    plan = fleet.Fleet(devices=20, events=500, batch=10, lines=("L1", "L2"))
    msgs = fleet.messages(plan)
    pub = fleet.connect(broker.url, "publisher")
    sender = threading.Thread(target=fleet.publish, args=(pub, msgs, 2500.0, plan.batch))
    try:
        sender.start()
        time.sleep(1.5)
        stored_before_kill = _counts(pg_url)[0]
        a.kill()  # mid-stream: whatever it held unacknowledged stays in its session
        time.sleep(1.5)  # its share of new messages queues in its session meanwhile
        a.start()  # same client id: the persistent session delivers all of it
        sender.join(60)
        wait_until(lambda: _counts(pg_url)[0] >= plan.total, 60, f"{plan.total} events stored")
        time.sleep(1.0)  # anything redelivered late must still not double count
        assert 0 < stored_before_kill < plan.total, "the kill did not land mid-stream"
        assert _counts(pg_url) == (plan.total,) * 4
    finally:
        pub.disconnect()
        assert b.stop() == 0
        a.stop()
    a_log, b_log = a.log.read_text(), b.log.read_text()
    assert "session present: True" in a_log, "the restarted collector got a fresh session"
    assert "'events_inserted': 0," not in b_log, "the other collector took no share"
    assert "Traceback" not in a_log + b_log
