"""Collector read side for devices: each device's last reports, and its count reconciled
with its own journal (what ``/api/v1/devices`` answers)."""

from __future__ import annotations

import json
from typing import Any

from edge.collector.store import Reader


def devices(reader: Reader, site: str | None) -> list[dict[str, Any]]:
    """Every device with its last status and telemetry (newest report of each kind), and
    its totals reconciled with its own journal (``reconcile``)."""
    sql = """SELECT d.device_id, d.site, d.first_seen, d.last_seen,
        s.state, s.received_at, s.body, t.ts, t.body, j.body
        FROM devices d
        LEFT JOIN device_reports s ON s.device_id = d.device_id AND s.kind = 'status'
        LEFT JOIN device_reports t ON t.device_id = d.device_id AND t.kind = 'telemetry'
        LEFT JOIN device_reports j ON j.device_id = d.device_id AND j.kind = 'state'"""
    params: list[Any] = []
    if site is not None:
        sql += " WHERE d.site = ?"
        params.append(site)
    out = []
    for dev, site_, first, last, state, state_rx, status, tel_ts, tel, journal in reader.query(
        sql + " ORDER BY d.site, d.device_id", params
    ):
        out.append(
            {
                "device_id": dev,
                "site": site_,
                "first_seen": first,
                "last_seen": last,
                "status": json.loads(status) if status else None,
                "state": state,
                "status_received_at": state_rx,
                "telemetry": json.loads(tel) if tel else None,
                "telemetry_ts": tel_ts,
                "totals": reconcile(reader, dev, json.loads(journal) if journal else None),
            }
        )
    return out


def reconcile(reader: Reader, device_id: str, state: dict[str, Any] | None) -> dict[str, Any]:
    """The collector's count of a device beside the device's own (its retained ``state``).

    ``journaled``: crossings the device's journal counted since it began (up to
    ``last_seq``); ``dropped``: those its outbox cap dropped unsent (never to arrive);
    ``stored``: the collector's crossings of that journal (its ``outbox_id``; rows without
    one for an older agent) up to ``last_seq``, those retention deleted included
    (``events_deleted``); ``missing`` = journaled - dropped - stored:
    not arrived yet, or lost. Without a state only ``stored`` (all journals) is known.
    """
    if state is None:
        sql = "SELECT COALESCE(SUM(n), 0) FROM counts_total WHERE device_id = ?"
        stored = int(reader.query(sql, [device_id])[0][0])
        return {"stored": stored, "journaled": None, "dropped": None, "missing": None}
    sql = "SELECT COUNT(*) FROM events WHERE device_id = ? AND outbox_id = ?"
    params: list[Any] = [device_id, state.get("outbox_id") or ""]
    if state.get("last_seq") is not None:
        sql += " AND seq <= ?"
        params.append(state["last_seq"])
    stored = int(reader.query(sql, params)[0][0])
    gone = reader.query(
        "SELECT n FROM events_deleted WHERE device_id = ? AND outbox_id = ?", params[:2]
    )  # deleted by retention: old, acknowledged, so at or below any later last_seq
    stored += int(gone[0][0]) if gone else 0
    journaled = sum(
        n for line in state["lines"].values() for d in line.values() for n in d.values()
    )
    dropped = int(state.get("dropped") or 0)
    return {
        "stored": stored,
        "journaled": journaled,
        "dropped": dropped,
        "missing": journaled - dropped - stored,
        "epoch": state["epoch"],
        "last_seq": state.get("last_seq"),
        "state_ts": state["ts"],
    }
