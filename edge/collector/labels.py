"""Collector direction names: the display names of each line's two directions, per device.

A device sends them in its retained ``state`` (``labels``: line -> ``{"in": "to Georgia",
"out": "to Russia"}``). The store keeps the latest names per ``(device, line)`` in
``line_labels`` (a newer state wins; a line missing from a newer state keeps its last names,
so the counts it left behind stay named). A line never named reads ``{"in": "in", "out":
"out"}`` (an agent older than the names, or a line without ``in_name``/``out_name``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

Row = tuple[Any, ...]
Query = Callable[[str, Sequence[Any]], list[Row]]
#: Line -> {"in": name, "out": name}.
LineNames = dict[str, dict[str, str]]
#: Device -> line -> {"in": name, "out": name}.
DeviceNames = dict[str, LineNames]

#: The names of a line its device never named.
DEFAULT = {"in": "in", "out": "out"}
#: Most device ids asked for in one ``IN (...)`` list.
_CHUNK = 500

UPSERT = """INSERT INTO line_labels (device_id, line, site, label_in, label_out, ts)
    VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (device_id, line) DO UPDATE SET site = excluded.site,
    label_in = excluded.label_in, label_out = excluded.label_out, ts = excluded.ts
    WHERE excluded.ts >= line_labels.ts"""


@dataclass(frozen=True)
class LabelRow:
    """The direction names of one line of one device, as of its state's time ``ts_s``."""

    site: str
    device_id: str
    line: str
    label_in: str
    label_out: str
    ts_s: float

    def values(self) -> Row:
        """The row in ``UPSERT``'s column order."""
        return (self.device_id, self.line, self.site, self.label_in, self.label_out, self.ts_s)


def latest(rows: Iterable[LabelRow]) -> list[Row]:
    """One row per ``(device, line)``, the newest, sorted by key (lock order)."""
    out: dict[tuple[str, str], LabelRow] = {}
    for r in rows:
        key = (r.device_id, r.line)
        if key not in out or r.ts_s >= out[key].ts_s:
            out[key] = r
    return [out[k].values() for k in sorted(out)]


def from_state_json(site: str, device_id: str, body: str) -> list[LabelRow]:
    """The names carried by a stored ``state`` report (none from an older agent)."""
    state = json.loads(body)
    names = state.get("labels") or {}
    return [
        LabelRow(site, device_id, line, d.get("in", "in"), d.get("out", "out"), state["ts"])
        for line, d in names.items()
    ]


def backfill(execute: Query) -> None:
    """Fill ``line_labels`` from the states already stored (schema migration 5)."""
    reports = execute(
        "SELECT site, device_id, body FROM device_reports WHERE kind = 'state' ORDER BY device_id",
        (),
    )
    rows = [r for site, dev, body in reports for r in from_state_json(site, dev, body)]
    for row in latest(rows):
        execute(UPSERT, row)


def names_of(query: Query, pairs: Iterable[tuple[str, str]]) -> DeviceNames:
    """Direction names of every ``(device, line)`` in ``pairs`` (``DEFAULT`` if unnamed)."""
    wanted = sorted(set(pairs))
    out: DeviceNames = {}
    for dev, line in wanted:
        out.setdefault(dev, {})[line] = dict(DEFAULT)
    devices = sorted(out)
    for i in range(0, len(devices), _CHUNK):
        chunk = devices[i : i + _CHUNK]
        sql = (
            "SELECT device_id, line, label_in, label_out FROM line_labels"
            f" WHERE device_id IN ({', '.join('?' * len(chunk))})"
        )
        for dev, line, label_in, label_out in query(sql, chunk):
            if line in out[dev]:
                out[dev][line] = {"in": label_in, "out": label_out}
    return out


def direction_label(names: DeviceNames, device: str, line: str, direction: str) -> str:
    """The display name of one direction (the direction itself when unnamed)."""
    return names.get(device, {}).get(line, DEFAULT).get(direction, direction)
