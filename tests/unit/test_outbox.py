"""Outbox: durable seq/epoch, pending/in-flight/sent, cap policy, totals and intervals."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

import pytest

from edge.config import OutboxConfig
from edge.errors import OutboxError
from edge.outbox import Outbox
from edge.types import Crossing

T0 = 1_700_000_040.0  # a multiple of 60 s


def crossing(line: str = "L1", direction: str = "in", cls: str = "car", tid: int = 1) -> Crossing:
    return Crossing(line, direction, cls, tid, 1.5, 0.8)  # type: ignore[arg-type]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "outbox.sqlite"


def test_wal_and_full_sync(path: Path) -> None:
    box = Outbox.open(path, "dev", OutboxConfig())
    con = box._con()
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    box.close()


def test_epoch_increments_and_seq_survives_reopen(path: Path) -> None:
    box = Outbox.open(path, "dev", OutboxConfig())
    recs = [box.append(crossing(tid=i), T0 + i) for i in range(3)]
    assert [r.seq for r in recs] == [1, 2, 3]
    assert {r.epoch for r in recs} == {1}
    box.close()
    box = Outbox.open(path, "dev", OutboxConfig())
    assert box.epoch == 2
    rec = box.append(crossing(), T0 + 10)
    assert (rec.epoch, rec.seq) == (2, 4)
    # Unsent rows of the previous epoch keep their identity.
    assert [(r.epoch, r.seq) for r in box.pending(10)] == [(1, 1), (1, 2), (1, 3), (2, 4)]
    box.close()


def test_second_handle_keeps_epoch(path: Path) -> None:
    box = Outbox.open(path, "dev", OutboxConfig())
    other = Outbox.open(path, "dev", OutboxConfig(), new_epoch=False)
    assert other.epoch == box.epoch == 1
    box.append(crossing(), T0)
    assert other.depth() == 1
    box.close()
    other.close()


def test_pending_claims_until_sent_or_released(path: Path) -> None:
    box = Outbox.open(path, "dev", OutboxConfig())
    for i in range(5):
        box.append(crossing(tid=i), T0 + i)
    first = box.pending(2)
    assert [r.seq for r in first] == [1, 2]
    assert [r.seq for r in box.pending(10)] == [3, 4, 5]
    assert box.pending(10) == []
    assert box.inflight() == 5
    box.mark_sent([1, 2])
    box.release([3, 4, 5])
    assert box.depth() == 3
    assert [r.seq for r in box.pending(10)] == [3, 4, 5]
    assert box.pending(10)[:0] == []
    rec = box.pending(1)
    assert rec == []
    box.close()


def test_record_round_trip(path: Path) -> None:
    box = Outbox.open(path, "dev", OutboxConfig())
    c = Crossing("gate.2", "out", "person", 42, 12.25, 0.625)
    box.append(c, T0 + 0.5)
    (rec,) = box.pending(1)
    assert rec.crossing == c
    assert (rec.device_id, rec.event_utc_s) == ("dev", T0 + 0.5)
    box.close()


def test_other_device_refused(path: Path) -> None:
    Outbox.open(path, "dev", OutboxConfig()).close()
    with pytest.raises(OutboxError, match="journal of device 'dev', not 'other'"):
        Outbox.open(path, "other", OutboxConfig())


def test_unopenable_path(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutboxError, match="cannot open outbox"):
        Outbox.open(blocker / "outbox.sqlite", "dev", OutboxConfig())
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database" * 100)
    with pytest.raises(OutboxError, match="cannot open outbox"):
        Outbox.open(garbage, "dev", OutboxConfig())


def test_prune_keeps_unsent_and_recent(path: Path) -> None:
    box = Outbox.open(path, "dev", OutboxConfig(keep_sent_s=100))
    for i in range(4):
        box.append(crossing(tid=i), T0 + i)
    box.pending(2)
    box.mark_sent([1, 2])
    assert box.prune() == 0  # sent just now, kept for keep_sent_s
    assert box.prune(now_utc_s=T0 * 2) == 2
    assert box.depth() == 2
    assert [r.seq for r in box.pending(10)] == [3, 4]
    box.close()


def test_cap_prunes_sent_rows_first(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    box = Outbox.open(path, "dev", OutboxConfig(max_rows=100))
    for i in range(100):
        box.append(crossing(tid=i), T0 + i)
    box.pending(50)
    box.mark_sent(range(1, 51))
    with caplog.at_level(logging.WARNING):
        box.append(crossing(), T0 + 200)
    assert "pruned 10 sent rows early" in caplog.text
    assert box.depth() == 51
    assert box.totals().dropped == 0
    box.close()


def test_cap_drops_oldest_unsent_loudly_but_keeps_counts(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    box = Outbox.open(path, "dev", OutboxConfig(max_rows=100))
    with caplog.at_level(logging.ERROR):
        for i in range(105):
            box.append(crossing(tid=i), T0 + i)
    assert "dropped the 1 oldest unsent" in caplog.text
    assert box.depth() == 100
    pend = box.pending(1000)
    assert [r.seq for r in pend] == list(range(6, 106))
    totals = box.totals()
    assert totals.dropped == 5
    assert totals.last_seq == 105
    assert totals.lines == {"L1": {"in": {"car": 105}}}
    box.close()
    # The counter is persistent.
    assert Outbox.open(path, "dev", OutboxConfig(max_rows=100)).totals().dropped == 5


def test_totals_survive_restart(path: Path) -> None:
    box = Outbox.open(path, "dev", OutboxConfig())
    box.append(crossing("L1", "in", "car"), T0)
    box.append(crossing("L1", "in", "car"), T0)
    box.append(crossing("L1", "out", "person"), T0)
    box.append(crossing("L2", "in", "bus"), T0)
    box.close()
    box = Outbox.open(path, "dev", OutboxConfig())
    assert box.totals().lines == {
        "L1": {"in": {"car": 2}, "out": {"person": 1}},
        "L2": {"in": {"bus": 1}},
    }
    box.close()


def test_intervals_close_by_clock_or_later_event(path: Path) -> None:
    box = Outbox.open(path, "dev", OutboxConfig(), counts_interval_s=60)
    box.append(crossing(), T0 + 1)
    box.append(crossing(direction="out"), T0 + 59)
    assert box.closed_intervals(T0 + 59.9) == []
    (iv,) = box.closed_intervals(T0 + 60)
    assert (iv.line, iv.start_s, iv.end_s) == ("L1", T0, T0 + 60)
    assert iv.counts == {"in": {"car": 1}, "out": {"car": 1}}
    # A crossing of the next interval closes the first even if the wall clock lags behind.
    box.append(crossing(), T0 + 61)
    (iv,) = box.closed_intervals(T0)
    box.mark_interval_sent(iv.line, iv.start_s, iv.rev)
    assert box.closed_intervals(T0 + 1000)[0].start_s == T0 + 60
    box.close()


def test_late_crossing_republishes_interval(path: Path) -> None:
    box = Outbox.open(path, "dev", OutboxConfig(), counts_interval_s=60)
    box.append(crossing(), T0 + 1)
    (iv,) = box.closed_intervals(T0 + 60)
    box.append(crossing(), T0 + 2)  # arrives between publish and PUBACK
    box.mark_interval_sent(iv.line, iv.start_s, iv.rev)
    (again,) = box.closed_intervals(T0 + 60)
    assert again.counts == {"in": {"car": 2}}
    box.mark_interval_sent(again.line, again.start_s, again.rev)
    assert box.closed_intervals(T0 + 60) == []
    box.close()


def test_oldest_unsent_age(path: Path) -> None:
    box = Outbox.open(path, "dev", OutboxConfig())
    assert box.oldest_unsent_age_s() is None
    box.append(crossing(), T0)
    box.append(crossing(), T0 + 5)
    assert box.oldest_unsent_age_s(T0 + 10) == 10
    box.pending(1)
    box.mark_sent([1])
    assert box.oldest_unsent_age_s(T0 + 10) == 5
    box.close()


def test_appender_and_drainer_threads(path: Path) -> None:
    """One thread appends while another claims and marks sent, each on its own connection."""
    box = Outbox.open(path, "dev", OutboxConfig())
    n = 300
    sent: list[int] = []
    done = threading.Event()

    def drain() -> None:
        while not done.is_set() or box.depth():
            recs = box.pending(20)
            box.mark_sent(r.seq for r in recs)
            sent.extend(r.seq for r in recs)
            if not recs:
                box.wait_appended(0.05)

    t = threading.Thread(target=drain)
    t.start()
    for i in range(n):
        box.append(crossing(tid=i), T0 + i)
    done.set()
    t.join(30)
    assert sorted(sent) == list(range(1, n + 1))
    box.close()


def test_committed_rows_visible_to_a_fresh_process_view(path: Path) -> None:
    """What ``append`` returned is in the file, read by a plain sqlite3 connection."""
    box = Outbox.open(path, "dev", OutboxConfig())
    box.append(crossing(), T0)
    con = sqlite3.connect(path)
    assert con.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1
    con.close()
    box.close()
