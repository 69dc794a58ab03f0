"""Publish stage, delivery rules: reason codes, backoff, the collector's ack and packet limits.

Plain logic for the drain thread (``drain.py``), no I/O:

* ``verdict``: what a PUBACK reason code means. 0x00 the broker took the message; 0x10 *No
  matching subscribers*: nobody got it (a broker restart forgets shared subscriptions until
  the collector resubscribes), so it is **not delivered**; >= 0x80 refused (0x87 *Not
  authorized*, 0x97 *Quota exceeded*...).
* ``Backoff``: after a refusal or an unanswered ack the drainer waits, 1 s doubling up to
  ``retry_max_s``, each wait jittered ×0.5..1.5 so a fleet does not retry in step; one
  message probes the broker while backing off.
* ``AckWatch``: rows the broker took wait for the collector's ack; without progress for the
  (doubling) ack timeout they are sent again.
* ``fit``: splits an events batch so each message fits the broker's Maximum Packet Size.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

NO_MATCHING_SUBSCRIBERS = 0x10
PACKET_TOO_LARGE = 0x95
#: Bytes of a PUBLISH packet besides the topic and the payload (fixed header, packet id,
#: properties): generous, so a batch never lands just above the limit.
PACKET_OVERHEAD_BYTES = 64

Verdict = Literal["taken", "unrouted", "refused"]


def verdict(code: int) -> Verdict:
    """``taken`` (0x00), ``unrouted`` (0x10: nobody got it) or ``refused`` (>= 0x80)."""
    if code >= 0x80:
        return "refused"
    return "unrouted" if code == NO_MATCHING_SUBSCRIBERS else "taken"


class Backoff:
    """Exponential backoff with jitter: ``fail`` doubles the wait, ``reset`` clears it.

    Args:
        min_s: first wait.
        max_s: longest wait (before jitter).
        rng: random source for the jitter (tests pass a seeded one).
    """

    def __init__(self, min_s: float, max_s: float, rng: random.Random | None = None) -> None:
        """Start with no wait."""
        self.min_s, self.max_s = min_s, max(min_s, max_s)
        self.failures = 0
        self.until_mono = 0.0
        self._rng = rng or random.Random()

    @property
    def active(self) -> bool:
        """True after a failure until the next ``reset``."""
        return self.failures > 0

    def fail(self, now_mono: float) -> float:
        """Record a failure; return the wait (seconds) before the next attempt."""
        base = min(self.max_s, self.min_s * 2.0 ** min(self.failures, 30))
        self.failures += 1
        wait = base * self._rng.uniform(0.5, 1.5)
        self.until_mono = now_mono + wait
        return wait

    def ready(self, now_mono: float) -> bool:
        """True when the wait is over."""
        return now_mono >= self.until_mono

    def reset(self) -> None:
        """A success: no more waiting."""
        self.failures, self.until_mono = 0, 0.0


class AckWatch:
    """Waits for the collector's ack of what the broker took; says when to send again.

    The timeout starts at ``ack_timeout_s``; each expiry doubles it (jittered ×0.5..1.5, up
    to ``retry_max_s``) so a collector offline for hours costs a resend every few minutes,
    not a flood; an ack that moves forward resets it.
    """

    def __init__(
        self, ack_timeout_s: float, retry_max_s: float, rng: random.Random | None = None
    ) -> None:
        """Nothing taken, nothing acknowledged yet."""
        self.taken_seq = 0
        self.acked_seq = 0
        self.resends = 0
        self.base_s, self.max_s = ack_timeout_s, max(ack_timeout_s, retry_max_s)
        self.timeout_s = ack_timeout_s
        self._deadline_mono: float | None = None
        self._rng = rng or random.Random()

    def took(self, seq: int, now_mono: float) -> None:
        """The broker took rows up to ``seq``; the clock starts if it was not running."""
        self.taken_seq = max(self.taken_seq, seq)
        if self._deadline_mono is None and self.taken_seq > self.acked_seq:
            self._deadline_mono = now_mono + self.timeout_s

    def acked(self, seq: int, now_mono: float) -> bool:
        """The collector stored every row up to ``seq``; True when that is progress."""
        if seq <= self.acked_seq:
            return False
        self.acked_seq = seq
        self.timeout_s = self.base_s
        waiting = self.taken_seq > seq
        self._deadline_mono = now_mono + self.timeout_s if waiting else None
        return True

    def due(self, now_mono: float) -> bool:
        """True when taken rows waited past the timeout: the caller sends them again."""
        if self._deadline_mono is None or now_mono < self._deadline_mono:
            return False
        self.resends += 1
        doubled = min(self.max_s, self.timeout_s * 2)
        self.timeout_s = min(self.max_s, doubled * self._rng.uniform(0.5, 1.5))
        self._deadline_mono = None
        self.taken_seq = self.acked_seq  # resent rows count as taken again on their PUBACK
        return True


@dataclass
class LinkStats:
    """Figures of the link for telemetry (``mqtt_*`` metrics)."""

    refused_publishes: int = 0
    unrouted_publishes: int = 0
    last_refusal: str | None = None
    oversize_disconnects: int = 0
    max_packet_bytes: int | None = None


def fit(
    items: list[int], encode: Callable[[list[int]], bytes], limit_bytes: int | None
) -> list[tuple[list[int], bytes]]:
    """Split ``items`` (indexes of a batch) into runs whose encoding fits ``limit_bytes``.

    Halves a run until it fits; a single item that does not fit is returned alone anyway
    (the broker refuses it; the caller logs it).

    Returns:
        ``(indexes, payload)`` per message, in order.
    """
    payload = encode(items)
    if limit_bytes is None or len(payload) <= limit_bytes or len(items) == 1:
        return [(items, payload)]
    half = len(items) // 2
    return fit(items[:half], encode, limit_bytes) + fit(items[half:], encode, limit_bytes)
