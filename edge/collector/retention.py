"""Collector retention: delete raw crossings, per-minute and per-hour counts past their age.

Levels and what reads them once a level's rows are gone: ``events`` (raw crossings: queues,
reconciliation), ``minute`` (``counts_minute``), ``hour`` (``counts_hour``); the per-day and
all-time counts are never deleted. Cutoffs are whole UTC days, so a deleted range of minutes
is made of whole hours and a deleted range of hours of whole days: the next coarser level
still answers it exactly (``rollups.py``).

Each cutoff is first recorded in ``retention_marks`` (a mark only grows), then rows before it
are deleted ``batch_rows`` at a time, one transaction each, holding the retention lock
exclusively (``Store._lock_retention``); every write holds it shared, so a write sees the
marks and the deleted rows of whole batches only.

Dedupe after deletion: a crossing is deleted only when it is older than the cutoff *and*
acknowledged to its device (seq at or below its outbox's acked seq, which only grows). A
write drops a crossing older than the ``events`` mark whose seq is acknowledged as a
duplicate, so a late redelivery of a deleted crossing is never counted twice. Crossings of
agents older than outbox ids (no acks) older than the mark are refused as ``expired``.
Aggregate rows older than their level's mark are not written (a late crossing still counts
in the coarser levels and the total), so a level has no rows at all before its mark.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from edge.collector.buckets import DAY_S
from edge.collector.config import RetentionConfig
from edge.errors import StoreError

log = logging.getLogger(__name__)

#: Retained levels, finest first.
LEVELS = ("events", "minute", "hour")


@dataclass(frozen=True)
class Deleted:
    """Rows one retention run deleted per level, and the cutoffs it applied (UTC seconds)."""

    events: int
    minute: int
    hour: int
    cutoffs: dict[str, float]


def cutoffs(days: dict[str, int], now_s: float) -> dict[str, float]:
    """Level -> the UTC midnight before which its rows go (levels kept for ever left out)."""
    out: dict[str, float] = {}
    for level, n in days.items():
        if n > 0:
            edge = now_s - n * DAY_S
            out[level] = float(edge - edge % DAY_S)
    return out


class RetentionStore(Protocol):
    """What the job needs of a store (``Store`` provides it)."""

    def apply_retention(
        self, cutoffs: dict[str, float], batch_rows: int, stop: threading.Event
    ) -> Deleted:
        """Record the marks, then delete rows before them (``Store.apply_retention``)."""

    def close(self) -> None:
        """Close the store's connections."""


class RetentionJob:
    """Runs retention every ``cfg.every_s`` (the first run at start) on a thread of its own.

    Args:
        open_store: opens a migrated store of the collector's database (the job's own
            connection, so the writer's is never shared).
        cfg: the ``[retention]`` section.
        clock: the time retention ages rows against (tests move it).
    """

    def __init__(
        self,
        open_store: Callable[[], RetentionStore],
        cfg: RetentionConfig,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._open, self._cfg, self._clock = open_store, cfg, clock
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self.runs = 0
        self.last: Deleted | None = None
        self._thread = threading.Thread(target=self._run, name="collector-retention", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop after the delete batch in hand (the rest waits for the next run)."""
        self._stop.set()
        self._thread.join(timeout_s)

    def failure(self) -> BaseException | None:
        """None while running (and after ``stop``); else the exception the thread died of."""
        return self._error

    def _run(self) -> None:
        store = None
        try:
            while not self._stop.is_set():
                try:
                    if store is None:
                        store = self._open()
                    self.last = store.apply_retention(
                        cutoffs(self._cfg.days(), self._clock()), self._cfg.batch_rows, self._stop
                    )
                    self.runs += 1
                    if self.last.events or self.last.minute or self.last.hour:
                        log.info(
                            "retention deleted %d crossing(s), %d minute and %d hour row(s)",
                            self.last.events, self.last.minute, self.last.hour,
                        )  # fmt: skip
                except StoreError as err:  # database away: the next run catches up
                    log.warning("retention could not run: %s", err)
                self._stop.wait(self._cfg.every_s)
        except BaseException as err:  # a thread's top: record it for the supervisor
            log.exception("collector retention failed; nothing more is deleted")
            self._error = err
        finally:
            if store is not None:
                store.close()
