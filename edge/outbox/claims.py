"""Outbox stage, claims: which undelivered rows the publisher holds, in memory only.

A row is *in flight* from ``pending`` until the broker answers: ``took`` (PUBACK) or
``release`` (refused, not sent). Rows the broker took wait for the collector's ack above a
*cursor*: ``pending`` only hands out rows above it, ``release`` lowers it, ``rewind`` (the
publisher's ack timeout) resets it so every undelivered row is sent again. After a restart
nothing is claimed and every undelivered row is pending.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable


class Claims:
    """The in-flight set and the cursor; every method is thread-safe."""

    def __init__(self) -> None:
        """Start with nothing claimed."""
        self.lock = threading.RLock()
        self.inflight: set[int] = set()
        self.cursor = 0

    def claim(self, seqs: list[int]) -> None:
        """Mark ``seqs`` (ascending) in flight and move the cursor past them."""
        with self.lock:
            self.inflight.update(seqs)
            if seqs:
                self.cursor = max(self.cursor, seqs[-1])

    def release(self, seqs: Iterable[int]) -> None:
        """The broker did not take ``seqs``: hand them out again."""
        seqs = list(seqs)
        with self.lock:
            self.inflight.difference_update(seqs)
            if seqs:
                self.cursor = min(self.cursor, min(seqs) - 1)

    def took(self, seqs: Iterable[int]) -> None:
        """The broker took ``seqs``; they stay above the cursor until delivered or rewound."""
        with self.lock:
            self.inflight.difference_update(seqs)

    def rewind(self) -> None:
        """Hand out every undelivered row again, oldest first."""
        with self.lock:
            self.cursor = 0
