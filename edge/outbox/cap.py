"""Outbox stage, cap: keeps the journal within ``OutboxConfig.max_rows``.

Cap policy: when the journal is full, sent rows are pruned first, oldest first, whatever their
age (WARNING). If every row is still unsent, the oldest unsent event row is dropped, an ERROR is
logged and the persistent ``dropped`` counter grows (published in ``state`` and ``telemetry``).
The per-line totals and interval counts are updated before the cap applies, so even a dropped
event row is still counted in the ``state`` and ``counts`` topics.
"""

from __future__ import annotations

import logging
import sqlite3
import time

from edge.outbox.tallies import meta, set_meta

log = logging.getLogger(__name__)

_LOG_EVERY_S = 60.0


def enforce_cap(con: sqlite3.Connection, max_rows: int) -> tuple[int, int]:
    """Apply the cap inside the caller's transaction.

    Returns:
        Sent rows pruned early, and unsent event rows dropped.
    """
    rows = meta(con, "rows")
    if rows <= max_rows:
        return 0, 0
    # Free a tenth of the cap at once so a full journal does not prune on every append.
    batch = max(1, max_rows // 10)
    freed = con.execute(
        "DELETE FROM events WHERE seq IN (SELECT seq FROM events"
        " WHERE sent_utc_s IS NOT NULL ORDER BY seq LIMIT ?)",
        (batch,),
    ).rowcount
    dropped = 0
    if freed == 0:
        dropped = con.execute(
            "DELETE FROM events WHERE seq = (SELECT MIN(seq) FROM events)"
        ).rowcount
        set_meta(con, "dropped", meta(con, "dropped") + dropped)
    set_meta(con, "rows", rows - freed - dropped)
    return freed, dropped


class CapLog:
    """Logs what the cap did: every early prune, dropped rows at most once a minute."""

    def __init__(self, max_rows: int) -> None:
        """Create a logger for a journal capped at ``max_rows``."""
        self.max_rows = max_rows
        self._last_log = 0.0
        self._dropped = 0

    def __call__(self, freed: int, dropped: int) -> None:
        """Record one ``enforce_cap`` result."""
        self._dropped += dropped
        if freed:
            log.warning("outbox full (%d rows): pruned %d sent rows early", self.max_rows, freed)
        now = time.monotonic()
        if self._dropped and now - self._last_log >= _LOG_EVERY_S:
            log.error(
                "outbox full (%d unsent rows): dropped the %d oldest unsent event rows "
                "(their counts stay in state/counts; see the 'dropped' counter)",
                self.max_rows, self._dropped,
            )  # fmt: skip
            self._last_log, self._dropped = now, 0
