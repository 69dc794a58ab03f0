"""Outbox ids: random per journal, given to old journals on open, carried on the wire."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from edge import wire
from edge.config import OutboxConfig
from edge.outbox import Outbox
from edge.publish.delivery import AckWatch, Backoff, verdict
from edge.publish.encode import event
from edge.types import Crossing

CROSSING = Crossing("L1", "in", "car", 1, 0.0, 0.9)


def test_each_journal_gets_its_own_id_and_keeps_it(tmp_path: Path) -> None:
    box = Outbox.open(tmp_path / "a.sqlite", "dev1", OutboxConfig())
    rec = box.append(CROSSING, 1700000000.0)
    first = box.outbox_id
    box.close()
    assert len(first) == 16 and rec.outbox_id == first
    again = Outbox.open(tmp_path / "a.sqlite", "dev1", OutboxConfig())
    assert again.outbox_id == first and again.pending(5)[0].outbox_id == first
    again.close()
    other = Outbox.open(tmp_path / "b.sqlite", "dev1", OutboxConfig())
    assert other.outbox_id != first
    other.close()


def test_a_journal_from_before_ids_gets_one_on_open(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    box = Outbox.open(path, "dev1", OutboxConfig())
    box.append(CROSSING, 1700000000.0)
    box.close()
    with sqlite3.connect(path) as con:
        con.execute("DELETE FROM meta WHERE key = 'outbox_id'")
    box = Outbox.open(path, "dev1", OutboxConfig())
    assert len(box.outbox_id) == 16 and box.depth() == 1
    box.close()


def test_wire_event_carries_the_outbox_id_and_old_events_map_to_legacy(tmp_path: Path) -> None:
    box = Outbox.open(tmp_path / "a.sqlite", "dev1", OutboxConfig())
    ev = event(box.append(CROSSING, 1700000000.0))
    assert ev.outbox_id == box.outbox_id
    box.close()
    old = wire.Event.model_validate(ev.model_dump(by_alias=True, exclude={"outbox_id"}))
    assert old.outbox_id == wire.LEGACY_OUTBOX_ID


def test_collector_ack_marks_rows_and_cursor_rewinds(tmp_path: Path) -> None:
    box = Outbox.open(tmp_path / "a.sqlite", "dev1", OutboxConfig())
    for _ in range(5):
        box.append(CROSSING, 1700000000.0)
    recs = box.pending(10)
    box.claims.took([r.seq for r in recs])
    assert box.pending(10) == [] and box.depth() == 5  # taken, not yet acknowledged
    assert box.mark_delivered(3) == 3 and box.floor() == 3
    box.claims.rewind()
    assert [r.seq for r in box.pending(10)] == [4, 5]
    box.close()


def test_reason_codes_backoff_and_ack_timeout() -> None:
    assert [verdict(c) for c in (0, 0x10, 0x87)] == ["taken", "unrouted", "refused"]
    b = Backoff(1.0, 60.0)
    waits = [b.fail(0.0) for _ in range(10)]
    assert 0.5 <= waits[0] <= 1.5 and all(w <= 90.0 for w in waits) and waits[-1] >= 30.0
    w = AckWatch(2.0, 10.0)
    w.took(5, now_mono=0.0)
    assert not w.due(1.9) and w.due(2.1) and w.timeout_s > 2.0
    assert w.acked(5, 3.0) and w.timeout_s == 2.0 and not w.due(100.0)
