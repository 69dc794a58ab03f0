"""Collector read side: the SQL behind every API answer, portable across SQLite and PostgreSQL."""

from __future__ import annotations

import json
import zoneinfo
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from edge.classes import CLASS_NAMES, PERSON, category_of
from edge.collector import labels, rollups
from edge.collector.buckets import bucket_edges, bucket_index, chunk_s
from edge.collector.config import CollectorConfig, is_timezone
from edge.collector.labels import DeviceNames
from edge.collector.store import Reader

#: Most numbers one counts answer may hold (series times buckets).
MAX_CELLS = 2_000_000
#: API dimension -> SQL expression over the aggregate tables (counts_minute, ...).
DIMENSIONS: dict[str, str] = {
    "site": "site",
    "device": "device_id",
    "line": "line",
    "direction": "direction",
    "class": "cls",
    "category": (
        f"CASE WHEN cls = '{CLASS_NAMES[PERSON]}' THEN '{category_of(CLASS_NAMES[PERSON])}'"
        f" ELSE '{category_of('car')}' END"
    ),
}


@dataclass(frozen=True)
class Filters:
    """Values to keep for each dimension (``None``: all). Every value is a checked name."""

    values: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def sql(self) -> tuple[str, list[Any]]:
        """``AND ...`` clauses and their parameters."""
        clauses: list[str] = []
        params: list[Any] = []
        for dim, vals in sorted(self.values.items()):
            if vals:
                clauses.append(f"({DIMENSIONS[dim]}) IN ({', '.join('?' * len(vals))})")
                params.extend(vals)
        return "".join(f" AND {c}" for c in clauses), params


@dataclass(frozen=True)
class Series:
    """Counts of one combination of the grouped dimensions, one number per bucket."""

    key: dict[str, str]
    counts: list[int]


@dataclass(frozen=True)
class CountsResult:
    """Bucketed counts: ``edges`` are bucket starts (UTC seconds); each series aligns to them."""

    edges: list[int]
    series: list[Series]


def counts(
    reader: Reader,
    window: tuple[int, int],
    bucket: tuple[int, zoneinfo.ZoneInfo],
    filters: Filters,
    group_by: tuple[str, ...],
) -> CountsResult:
    """Counts in ``[start, end)`` (rounded down to the minute) per local bucket.

    Each bucket is read from the coarsest aggregate that answers it exactly
    (``rollups.py``): its whole UTC days from ``counts_day``, whole hours from
    ``counts_hour``, the rest from ``counts_minute``.

    Args:
        reader: a read connection.
        window: ``(start_s, end_s)`` UTC seconds.
        bucket: bucket size in seconds and the time zone buckets align to.
        filters: dimension values to keep.
        group_by: dimensions that split the series (order kept).

    Raises:
        ValueError: too many series, or buckets needing counts retention deleted.
    """
    (start_s, end_s), (bucket_s, tz) = window, bucket
    edges = bucket_edges(start_s, end_s, bucket_s, tz)
    start_m = start_s - start_s % 60
    bounds = [*edges[1:], end_s]
    spans = [(max(a, start_m), min(b, end_s)) for a, b in zip(edges, bounds, strict=True)]
    ranges = rollups.plan(s for s in spans if s[0] < s[1])
    rollups.check_kept(ranges, retention_marks(reader))
    by_key: dict[tuple[str, ...], list[int]] = {}
    for lv, parts in ranges.items():
        step = chunk_s(bucket_s) if lv is rollups.MINUTE else lv.step_s
        for t, key, n in sums(reader, lv, parts, step, (filters, group_by)):
            if key not in by_key and (len(by_key) + 1) * len(edges) > MAX_CELLS:
                raise ValueError("too many series x buckets: filter more or use a larger bucket")
            series = by_key.setdefault(key, [0] * len(edges))
            series[max(bucket_index(edges, t), 0)] += n
    return CountsResult(
        edges, [Series(dict(zip(group_by, k, strict=True)), v) for k, v in sorted(by_key.items())]
    )


#: Most ranges of one table put in one query's WHERE; beyond, the query reads their hull
#: and the rows outside the ranges are skipped here.
MAX_RANGES_IN_SQL = 32


def sums(
    reader: Reader,
    lv: rollups.Level,
    parts: list[tuple[int, int]],
    step: int,
    split: tuple[Filters, tuple[str, ...]],
) -> Iterator[tuple[int, tuple[str, ...], int]]:
    """``(chunk start, key, n)`` of table ``lv`` over ``parts``, grouped by ``step``."""
    if not parts:
        return
    filters, group_by = split
    cols = [DIMENSIONS[d] for d in group_by]
    where, params = filters.sql()
    c = lv.column
    hull = len(parts) > MAX_RANGES_IN_SQL
    bounds = [(parts[0][0], parts[-1][1])] if hull else parts
    within = " OR ".join(f"({c} >= ? AND {c} < ?)" for _ in bounds)
    select = ", ".join([f"({c} / {step}) * {step}" if step != lv.step_s else c, *cols])
    sql = (
        f"SELECT {select}, SUM(n) FROM {lv.table} WHERE ({within}){where}"
        f" GROUP BY {', '.join(str(i + 1) for i in range(len(cols) + 1))}"
    )
    starts = [lo for lo, _ in parts]
    for row in reader.query(sql, [*(t for b in bounds for t in b), *params]):
        t = int(row[0])
        if hull:  # keep a chunk that starts in (or, at the range's start, overlaps) a part
            i = bisect_right(starts, max(t, parts[0][0])) - 1
            if i < 0 or max(t, parts[0][0]) >= parts[i][1]:
                continue
        yield t, tuple(row[1:-1]), int(row[-1])


def retention_marks(reader: Reader) -> dict[str, float]:
    """Level -> the cutoff before which retention may have deleted its rows."""
    return {str(k): float(v) for k, v in reader.query("SELECT level, cutoff FROM retention_marks")}


def totals_since(
    reader: Reader, since_s: int, filters: Filters, group_by: tuple[str, ...]
) -> list[tuple[dict[str, str], int]]:
    """Totals from ``since_s`` (a minute boundary, e.g. local midnight) until now, read
    from the coarsest aggregates that answer exactly (``rollups.py``)."""
    ranges = rollups.plan([(since_s - since_s % 60, _FOREVER_S)])
    rollups.check_kept(ranges, retention_marks(reader))
    out: dict[tuple[str, ...], int] = {}
    for lv, parts in ranges.items():
        for _, key, n in sums(reader, lv, parts, lv.step_s, (filters, group_by)):
            out[key] = out.get(key, 0) + n
    return [(dict(zip(group_by, k, strict=True)), n) for k, n in sorted(out.items()) if n]


#: An end after any time a crossing may carry (``parse_time`` stops at 2**32).
_FOREVER_S = 2**33


def all_time_totals(reader: Reader, filters: Filters) -> dict[str, Any]:
    """Every device's totals in the replay's shape: device -> lines -> line -> in/out -> class."""
    where, params = filters.sql()
    devices: dict[str, Any] = {}
    sql = f"SELECT device_id, line, direction, cls, n FROM counts_total WHERE 1 = 1{where}"
    for device_id, line, direction, cls, n in reader.query(sql, params):
        lines = devices.setdefault(device_id, {"lines": {}})["lines"]
        per_class = lines.setdefault(line, {"in": {}, "out": {}})[direction]
        per_class[cls] = per_class.get(cls, 0) + int(n)
    names = labels.names_of(
        reader.query, ((d, ln) for d, v in devices.items() for ln in v["lines"])
    )
    for device_id, v in devices.items():
        v["labels"] = names[device_id]
    return {"devices": devices}


def labels_for(reader: Reader, filters: Filters) -> DeviceNames:
    """Direction names of every device and line that ever counted a crossing passing
    ``filters``: a superset of those in any window, read from the small all-time table
    (``counts_total``) rather than from a second pass over the per-minute rows."""
    where, params = filters.sql()
    sql = f"SELECT DISTINCT device_id, line FROM counts_total WHERE n > 0{where}"
    pairs = [(str(d), str(ln)) for d, ln in reader.query(sql, params)]
    return labels.names_of(reader.query, pairs)


def reported_zones(reader: Reader) -> dict[str, str]:
    """Site -> the IANA zone its devices report in their status (``device.timezone``), the
    most recently received one where devices disagree; invalid names are ignored."""
    sql = """SELECT d.site, s.body FROM devices d
        JOIN device_reports s ON s.device_id = d.device_id AND s.kind = 'status'
        ORDER BY s.received_at"""
    out: dict[str, str] = {}
    for site, body in reader.query(sql, []):
        name = json.loads(body).get("timezone") if body else None
        if isinstance(name, str) and is_timezone(name):
            out[str(site)] = name
    return out


def site_zone(reader: Reader, cfg: CollectorConfig, site: str) -> str:
    """The zone of ``site``: the collector's ``[sites]`` entry, else what its devices
    report (``device.timezone``), else UTC."""
    if site in cfg.sites:
        return cfg.site_timezone(site)
    return reported_zones(reader).get(site, "UTC")


def sites(reader: Reader) -> dict[str, int]:
    """Site name -> number of devices seen there."""
    rows = reader.query("SELECT site, COUNT(*) FROM devices GROUP BY site")
    return {str(s): int(n) for s, n in rows}


def zones_latest(reader: Reader, site: str | None) -> list[dict[str, Any]]:
    """Latest figures of every zone (queue length, wait) per device."""
    sql = "SELECT device_id, site, name, ts, body FROM device_reports WHERE kind = 'zones'"
    params: list[Any] = []
    if site is not None:
        sql += " AND site = ?"
        params.append(site)
    return [
        {"device_id": d, "site": s, "zone": z, "ts": ts, "report": json.loads(body)}
        for d, s, z, ts, body in reader.query(sql + " ORDER BY site, device_id, name", params)
    ]


def rejects(reader: Reader, limit: int) -> dict[str, Any]:
    """How many payloads were rejected in all and per code, and the latest ``limit``."""
    by_code = {str(c): int(n) for c, n in reader.query(
        "SELECT code, COUNT(*) FROM rejects GROUP BY code ORDER BY code"
    )}  # fmt: skip
    rows = reader.query(
        "SELECT received_at, topic, reason, excerpt, code FROM rejects ORDER BY id DESC LIMIT ?",
        [limit],
    )
    latest = [
        {"received_at": r, "topic": t, "reason": why, "excerpt": ex, "code": c}
        for r, t, why, ex, c in rows
    ]
    return {"total": sum(by_code.values()), "by_code": by_code, "latest": latest}
