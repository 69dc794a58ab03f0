"""Publish stage, logging: repeated warnings (reconnect loops, refusals) rate-limited per key."""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)

_LOG_EVERY_S = 60.0


class RateLimitedLog:
    """Logs a message at most once per ``every_s`` per key, counting what it held back."""

    def __init__(self, every_s: float = _LOG_EVERY_S, logger: logging.Logger | None = None) -> None:
        """Create an empty limiter writing to ``logger`` (this module's by default)."""
        self.every_s = every_s
        self._log = logger or log
        self._last: dict[str, tuple[float, int]] = {}

    def __call__(self, level: int, key: str, msg: str, *args: object) -> None:
        """Log ``msg % args`` unless ``key`` was logged less than ``every_s`` ago."""
        now = time.monotonic()
        last, held = self._last.get(key, (-self.every_s, 0))
        if now - last < self.every_s:
            self._last[key] = (last, held + 1)
            return
        suffix = f" ({held} similar messages suppressed)" if held else ""
        self._log.log(level, msg + suffix, *args)
        self._last[key] = (now, 0)
