"""Collector write stage: drain the inbox in batches, store each in one transaction, then ack.

Retry rules: a transient database failure retries the same batch with backoff, holding its
acknowledgements (the broker stops sending at ``receive_maximum``, so nothing piles up); a
value the database refuses makes the batch go message by message, and the one refused is
stored as a reject instead. Nothing is acknowledged that is not committed.

End to end: after the commit (and the PUBACKs), the acked seq of every device outbox the
batch touched is recomputed from the database (``acks.py``) and handed to ``on_acks``, which
publishes the retained ``.../ack`` messages the devices wait for.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from edge.collector.config import IngestConfig
from edge.collector.ingest import DB_REFUSED, Ingested, Reject, ingest
from edge.collector.store import Store, StoreDataError, StoreUnavailable, WriteResult
from edge.collector.subscriber import Delivery
from edge.wire import LEGACY_OUTBOX_ID

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0


@dataclass
class WriterStats:
    """Running totals of this collector process (others sharing the work have their own)."""

    messages: int = 0
    events_inserted: int = 0
    events_duplicate: int = 0
    rejected: int = 0
    batches: int = 0
    store_retries: int = 0
    last_batch_ms: float = 0.0
    acks_published: int = 0


class Writer:
    """The single thread that owns ``Store.write``.

    Args:
        store: a migrated store.
        inbox: deliveries from the subscriber.
        ack: called with each stored batch, after commit.
        max_messages: most messages per transaction.
        max_wait_s: longest a message waits for its batch to fill.

    Attributes:
        limits: what ingest refuses (sizes, future times); set before ``start``.
    """

    def __init__(
        self,
        store: Store,
        inbox: queue.Queue[Delivery],
        ack: Callable[[list[Delivery]], None],
        max_messages: int = 500,
        max_wait_s: float = 0.05,
    ) -> None:
        self._store, self._inbox, self._ack = store, inbox, ack
        self._max_messages, self._max_wait_s = max_messages, max_wait_s
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self.stats = WriterStats()
        self.limits = IngestConfig()
        self._unlogged_rejects, self._last_reject_log_s = 0, -1e9
        #: called after a commit with ``(site, device_id)`` -> outbox id -> acked seq.
        self.on_acks: Callable[[dict[tuple[str, str], dict[str, int]]], None] | None = None
        self._thread = threading.Thread(target=self._run, name="collector-writer", daemon=True)

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Finish the batch in hand, then stop; queued messages stay unacknowledged."""
        self._stop.set()
        self._thread.join(timeout_s)

    def drain(self, timeout_s: float, quiet_s: float = 0.3) -> bool:
        """Wait until every queued message is stored and acknowledged and nothing new came
        for ``quiet_s`` (a broker sends held-back messages as acknowledgements free room).

        Returns:
            True when drained, False on timeout or a dead writer.
        """
        deadline = time.monotonic() + timeout_s
        quiet_since = time.monotonic()
        while True:
            # The queue's own count of messages put and not yet marked done: one the writer
            # has taken but not stored still counts (no window between get and busy).
            if self._inbox.unfinished_tasks:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= quiet_s:
                return True  # looked at after the quiet period, never on a stale reading
            if self._error is not None or time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                batch = self._next_batch()
                try:
                    if batch:
                        self._process(batch)
                finally:
                    for _ in batch:
                        self._inbox.task_done()
        except BaseException as err:  # a thread's top: record it for the supervisor
            log.exception("collector writer failed; nothing more is stored or acknowledged")
            self._error = err

    def failure(self) -> BaseException | None:
        """None while writing (and after ``stop``); the exception the thread died of."""
        return self._error

    def _next_batch(self) -> list[Delivery]:
        try:
            batch = [self._inbox.get(timeout=0.2)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self._max_wait_s
        while len(batch) < self._max_messages:
            try:
                batch.append(self._inbox.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        return batch

    def _process(self, batch: list[Delivery]) -> None:
        t0 = time.perf_counter()
        ingested = [ingest(d.received, self.limits) for d in batch]
        self._log_rejects(ingested)
        result = self._write(ingested)
        if result is None:  # stopping while the database is down: the broker resends
            return
        self._ack(batch)
        self._publish_acks(ingested)
        s = self.stats
        s.messages += len(batch)
        s.batches += 1
        s.events_inserted += result.inserted
        s.events_duplicate += result.duplicates
        s.rejected += result.rejected
        s.last_batch_ms = (time.perf_counter() - t0) * 1000

    def _publish_acks(self, ingested: list[Ingested]) -> None:
        """Recompute and hand on the acks of the outboxes this batch touched."""
        touched: dict[tuple[str, str, str], int] = {}
        for m in ingested:
            for e in m.events:
                if e.outbox_id != LEGACY_OUTBOX_ID:
                    key = (e.site, e.device_id, e.outbox_id)
                    touched[key] = max(touched.get(key, 0), m.base_seq or 0)
        if not touched or self.on_acks is None:
            return
        try:
            acks = self._store.update_acks(touched)
        except StoreUnavailable as err:  # the device resends after its timeout; we redo it
            log.warning("cannot compute acks now: %s", err)
            return
        self.on_acks(acks)
        self.stats.acks_published += len(acks)

    def _log_rejects(self, ingested: list[Ingested]) -> None:
        """Warn about rejected payloads, at most once every 10 s (a broken device repeats)."""
        rejects = [m.reject for m in ingested if m.reject is not None]
        self._unlogged_rejects += len(rejects)
        now = time.monotonic()
        if rejects and now - self._last_reject_log_s >= 10:
            log.warning(
                "rejected %d payload(s), latest on %s: %s",
                self._unlogged_rejects,
                rejects[-1].topic,
                rejects[-1].reason,
            )
            self._unlogged_rejects, self._last_reject_log_s = 0, now

    def _write(self, batch: list[Ingested]) -> WriteResult | None:
        delay = 0.5
        while True:
            try:
                return self._store.write(batch)
            except StoreUnavailable as err:
                if self._stop.is_set():
                    return None
                self.stats.store_retries += 1
                log.warning("database unavailable, retrying in %.1f s: %s", delay, err)
                self._stop.wait(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)
            except StoreDataError as err:
                return self._write_singly(batch, str(err))

    def _write_singly(self, batch: list[Ingested], reason: str) -> WriteResult | None:
        if len(batch) == 1:
            m = batch[0]
            log.warning("database refused a message from %s: %s", m.device_id, reason)
            reject = Reject(f"{m.site}/{m.device_id}", reason[:500], m.received_s, "", DB_REFUSED)
            return self._write([Ingested(reject=reject)])
        totals = WriteResult(0, 0, 0)
        for m in batch:
            r = self._write([m])
            if r is None:
                return None
            totals = WriteResult(
                totals.inserted + r.inserted,
                totals.duplicates + r.duplicates,
                totals.rejected + r.rejected,
            )
        return totals
