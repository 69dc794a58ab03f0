"""Collector read side: what a person (or an alert) should read of a device's state."""

from __future__ import annotations

from typing import Any


def health_word(d: dict[str, Any], now: float, stale_s: float) -> str:
    """One of ``api_models.HEALTH`` for a device row (``state``, parsed ``status``, ``last_seen``).

    ``online`` and ``degraded`` turn ``stale`` when the device has not spoken within
    ``stale_s``; ``stopped`` is a clean exit, ``offline`` its Last Will (killed, lost power
    or network); ``unknown``: no status yet.
    """
    state = d["state"]
    if state is None:
        return "unknown"
    if state in ("online", "degraded"):
        return str(state) if now - heard_at(d) <= stale_s else "stale"
    return "stopped" if state == "stopped" else "offline"


def heard_at(d: dict[str, Any]) -> float:
    """When the device was last heard from: its last live message or its status's own ``ts``
    (UTC seconds; 0 when never)."""
    status_ts = (d["status"] or {}).get("ts") or 0.0
    return max(d["last_seen"] or 0.0, float(status_ts))


def degraded_reason(d: dict[str, Any]) -> str | None:
    """Why a degraded device is degraded (its status's ``reason``), else None."""
    reason = (d["status"] or {}).get("reason") if d["state"] == "degraded" else None
    return str(reason) if reason else None
