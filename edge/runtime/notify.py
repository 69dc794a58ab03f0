"""systemd notification protocol (sd_notify): READY, WATCHDOG, STOPPING, STATUS; no dependency.

Reads ``$NOTIFY_SOCKET`` and ``$WATCHDOG_USEC``, which systemd sets for ``Type=notify``
services; without them every call is a no-op, so the service runs the same by hand.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Notifier:
    """Sends datagrams to systemd's notify socket.

    Args:
        address: the socket path; a leading ``@`` is the abstract namespace. None: disabled.
        watchdog_s: ``WatchdogSec`` in seconds, or None when the watchdog is off.
    """

    def __init__(self, address: str | None, watchdog_s: float | None = None) -> None:
        self.address = address
        self.watchdog_s = watchdog_s
        self._sock: socket.socket | None = None
        if address:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Notifier:
        """A notifier configured from ``NOTIFY_SOCKET`` and ``WATCHDOG_USEC`` (if set)."""
        env = os.environ if env is None else env
        usec = env.get("WATCHDOG_USEC", "")
        watchdog_s = int(usec) / 1e6 if usec.isdigit() and int(usec) > 0 else None
        return cls(env.get("NOTIFY_SOCKET") or None, watchdog_s)

    @property
    def enabled(self) -> bool:
        """True when running under systemd with a notify socket."""
        return self._sock is not None

    def send(self, *fields: str) -> bool:
        """Send ``KEY=VALUE`` fields in one datagram; False if disabled or it failed."""
        if self._sock is None or self.address is None:
            return False
        addr = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            self._sock.sendto("\n".join(fields).encode(), addr)
        except OSError as err:
            log.warning("sd_notify to %s failed: %s", self.address, err)
            return False
        return True

    def ready(self, status: str = "") -> bool:
        """``READY=1``: start-up finished."""
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def watchdog(self) -> bool:
        """``WATCHDOG=1``: the service is alive."""
        return self.send("WATCHDOG=1")

    def stopping(self) -> bool:
        """``STOPPING=1``: shutdown began."""
        return self.send("STOPPING=1")

    def status(self, text: str) -> bool:
        """``STATUS=...``: one line shown by ``systemctl status``."""
        return self.send(f"STATUS={text}")

    def close(self) -> None:
        """Close the socket."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
