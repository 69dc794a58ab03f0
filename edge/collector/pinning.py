"""Collector ingest guard: each device is pinned to one site; a message moving it is a reject.

The broker's ACL (deploy/mosquitto/acl) lets a device publish only under its own id, but
under any site: the ``<site>`` segment of a topic is the device's own claim. The collector
decides. A device's site is, in order of precedence:

1. ``[devices.<id>] site = "..."`` in the collector config (an operator's decision, and the
   way to move a device for real);
2. the site it was first seen under: the ``site`` column of the ``devices`` table, written
   once by the first accepted message (no schema change needed).

Any message of the device under another site (status, state, telemetry, zones, events,
counts) is turned into a ``Reject`` before anything is written: nothing of it is stored,
the device's site, reports and counts do not move, and the reject is counted and kept with
its reason in the ``rejects`` table like a malformed payload.

Concurrency: the pins of new devices are inserted (``ON CONFLICT DO NOTHING``, sorted by
device id) and read back inside the write transaction, so two collectors seeing a new device
under two sites at once agree on one (the second waits for the first's row lock).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from edge.collector.ingest import WRONG_SITE, Ingested, Reject

log = logging.getLogger(__name__)

Row = tuple[Any, ...]
Execute = Callable[[str, Sequence[Any]], list[Row]]
ExecuteMany = Callable[[str, Sequence[Row]], None]

#: Seconds between two warnings about moved devices (a forger or a misconfigured device repeats).
WARN_EVERY_S = 10.0

_PIN_NEW = """INSERT INTO devices (device_id, site, first_seen, last_seen)
    VALUES (?, ?, ?, NULL) ON CONFLICT (device_id) DO NOTHING"""


class _Warnings:
    """Rate-limited warnings: the first at once, then a summary at most every ``WARN_EVERY_S``."""

    def __init__(self) -> None:
        self.unlogged = 0
        self.last_s = -1e9

    def add(self, reject: Reject) -> None:
        self.unlogged += 1
        now = time.monotonic()
        if now - self.last_s >= WARN_EVERY_S:
            log.warning(
                "rejected %d message(s) moving a device to another site, latest on %s: %s",
                self.unlogged,
                reject.topic,
                reject.reason,
            )
            self.unlogged, self.last_s = 0, now


_WARNINGS = _Warnings()


def pin_sites(
    execute: Execute,
    executemany: ExecuteMany,
    batch: Sequence[Ingested],
    configured: Mapping[str, str],
) -> list[Ingested]:
    """Pin the batch's new devices and turn messages under another site into rejects.

    Runs inside the store's write transaction, before anything else is written.

    Args:
        execute: runs one statement in the transaction, returns its rows.
        executemany: runs one statement for many rows in the transaction.
        batch: ingested messages, in arrival order.
        configured: device id -> site from the collector config's ``[devices]`` table.

    Returns:
        The batch, same length and order, with every message of a device under a site other
        than its pinned one replaced by an ``Ingested`` holding only a ``Reject``.
    """
    devices = {m.device_id: m for m in batch if m.reject is None and m.device_id}
    if not devices:
        return list(batch)
    first = _first_seen(batch, configured)
    if first:
        executemany(_PIN_NEW, [first[d] for d in sorted(first)])
    pinned = _stored_pins(execute, sorted(devices))
    out: list[Ingested] = []
    for m in batch:
        site = configured.get(m.device_id) or pinned.get(m.device_id)
        if m.reject is not None or not m.device_id or site is None or m.site == site:
            out.append(m)
            continue
        how = "in the collector config" if m.device_id in configured else "first seen"
        reject = Reject(
            m.topic or f"{m.site}/{m.device_id}",
            f"device {m.device_id!r} is pinned to site {site!r} ({how}), not {m.site!r}:"
            " message not stored",
            m.received_s,
            "",
            WRONG_SITE,
        )
        _WARNINGS.add(reject)
        out.append(Ingested(reject=reject))
    return out


def _first_seen(batch: Sequence[Ingested], configured: Mapping[str, str]) -> dict[str, Row]:
    """The pin row of each device not in ``configured``: its first message's site and time.

    A configured device needs no stored pin; its row is written (with the configured site)
    by the store's device upsert when one of its messages is accepted.
    """
    first: dict[str, Row] = {}
    for m in batch:
        if m.reject is None and m.device_id and m.device_id not in configured:
            first.setdefault(m.device_id, (m.device_id, m.site, m.received_s))
    return first


def _stored_pins(execute: Execute, device_ids: list[str]) -> dict[str, str]:
    """device id -> site of the ``devices`` rows of ``device_ids``."""
    pins: dict[str, str] = {}
    for start in range(0, len(device_ids), 500):  # SQLite allows 999 parameters
        chunk = device_ids[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        rows = execute(f"SELECT device_id, site FROM devices WHERE device_id IN ({marks})", chunk)
        pins.update({str(d): str(s) for d, s in rows})
    return pins
