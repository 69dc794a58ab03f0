"""Publish stage, client ids: notices when another client takes this client's session over.

An MQTT broker closes the older of two connections with one client id. MQTT 5 brokers may say
so (DISCONNECT reason 0x8E "Session taken over"); others, Mosquitto 2.0.11 among them, just
close the socket, which the client only sees as "Unspecified error". Two such clients then knock
each other off in turn, each accepted and dropped within a reconnect delay, so that pattern
(``QUICK_LOSSES`` losses in a row, each within ``QUICK_LOSS_S`` of the CONNACK) is reported too.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger("edge.publish.client")

#: MQTT 5 DISCONNECT reason "Session taken over": another client connected with our id.
SESSION_TAKEN_OVER = 0x8E
QUICK_LOSS_S = 5.0
QUICK_LOSSES = 3
_LOG_EVERY_S = 30.0


class TakeoverWatch:
    """Tells session takeovers from other losses of one client's connection; logs them."""

    def __init__(self, where: str, client_id: str) -> None:
        """Watch the client ``client_id`` connected to ``where`` (``host:port``)."""
        self.where = where
        self.client_id = client_id
        self._accepted_mono: float | None = None
        self._quick_losses = 0
        self._logged_mono = -_LOG_EVERY_S

    def accepted(self) -> None:
        """The broker accepted a connection (CONNACK success)."""
        self._accepted_mono = time.monotonic()

    def lost(self, reason_code: int, requested: bool) -> bool:
        """The connection ended; True when another client took the session over (or very
        probably did), which is then logged at most every 30 s."""
        now = time.monotonic()
        quick = self._accepted_mono is not None and now - self._accepted_mono < QUICK_LOSS_S
        self._accepted_mono = None
        self._quick_losses = self._quick_losses + 1 if quick and not requested else 0
        if reason_code == SESSION_TAKEN_OVER:
            self._log("session taken over: another client connected")
            return True
        if self._quick_losses >= QUICK_LOSSES:
            self._log(
                f"the broker dropped the connection {self._quick_losses} times in a row right "
                "after accepting it: session taken over? Probably another client connected"
            )
            return True
        return False

    def _log(self, what: str) -> None:
        now = time.monotonic()
        if now - self._logged_mono >= _LOG_EVERY_S:
            self._logged_mono = now
            log.error(
                "MQTT %s: %s with the same client id %r; give each copy its own client id",
                self.where, what, self.client_id,
            )  # fmt: skip
