"""Collector HTTP stage: the CSV exports (what an official pastes into a report)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from fastapi.responses import Response

from edge.collector import api_models as m

#: Columns of ``/hourly.csv``.
HOURLY_COLUMNS = (
    "day", "hour_local", "utc_offset", "hour_start_utc", "site", "device", "line", "direction",
    "direction_label", "class", "category", "count",
)  # fmt: skip


def attachment(text: str, filename: str) -> Response:
    """A CSV download named ``filename``."""
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(text, media_type="text/csv", headers=disposition)


def counts_csv(res: m.CountsOut) -> str:
    """One row per bucket and series: ``bucket_start_utc,bucket_start_local,<group_by>,count``.

    When the series are split by ``device``, ``line`` and ``direction``, a
    ``direction_label`` column follows ``direction``: the direction's display name.
    """
    labelled = {"device", "line", "direction"} <= set(res.group_by)
    dims = list(res.group_by)
    head = [*dims]
    if labelled:
        head.insert(dims.index("direction") + 1, "direction_label")
    rows = []
    for s in res.series:
        cells = [s.key[d] for d in dims]
        if labelled:
            names = res.labels.get(s.key["device"], {}).get(s.key["line"])
            label = (names.in_ if s.key["direction"] == "in" else names.out) if names else None
            cells.insert(dims.index("direction") + 1, safe(label or s.key["direction"]))
        for t, local, n in zip(res.buckets, res.buckets_local, s.counts, strict=True):
            rows.append([t, local, *cells, n])
    return _write(["bucket_start_utc", "bucket_start_local", *head, "count"], rows)


def hourly_csv(res: m.HourlyOut) -> str:
    """One row per hour of the day and row of the table (``HOURLY_COLUMNS``), zeros kept."""
    rows = [
        [res.day, h.label, h.utc_offset, h.start, r.site, r.device, r.line, r.direction,
         safe(r.label), r.cls, r.category, n]
        for r in res.rows
        for h, n in zip(res.hours, r.counts, strict=True)
    ]  # fmt: skip
    return _write(HOURLY_COLUMNS, rows)


def safe(text: str) -> str:
    """A name a spreadsheet shows as text: a leading ``= + - @`` would start a formula
    (CSV injection), so such a name gets a leading apostrophe."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text


def _write(head: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(head)
    w.writerows(rows)
    return buf.getvalue()
