"""Collector read side: one local calendar day of a site, hour by hour (the officials' table).

The day runs from the site's local midnight to the next, so it has 23 or 25 hourly buckets on
the days clocks change; each hour carries its UTC start, its local ``HH:MM`` and its UTC
offset (on the autumn day ``02:00`` comes twice, ``+02:00`` then ``+01:00``). Counts come
from the per-minute aggregate (``counts_minute``, via ``queries.counts``), never from the
raw events.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from edge.classes import category_of
from edge.collector import labels, queries
from edge.collector.buckets import DAY_S, bucket_edges, bucket_start
from edge.collector.store import Reader

#: The dimensions of one row of the table, in order.
ROW_DIMS = ("site", "device", "line", "direction", "class")
_ISO_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


@dataclass(frozen=True)
class Hour:
    """One hourly bucket: UTC start (seconds), local ``HH:MM`` and UTC offset (``+04:00``)."""

    start: int
    label: str
    utc_offset: str


@dataclass(frozen=True)
class HourlyRow:
    """Counts of one device, line, direction and class, one per hour of the day."""

    site: str
    device: str
    line: str
    direction: str
    label: str
    cls: str
    category: str
    counts: list[int]


def parse_day(text: str, tz: zoneinfo.ZoneInfo, now_s: float) -> date:
    """``today`` or ``yesterday`` (in ``tz`` at ``now_s``) or an ISO date ``YYYY-MM-DD``.

    Raises:
        ValueError: none of those, or a day outside 1970..2105.
    """
    today = datetime.fromtimestamp(now_s, tz).date()
    if text == "today":
        return today
    if text == "yesterday":
        return today - timedelta(days=1)
    try:
        if not _ISO_DAY.match(text):
            raise ValueError
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text[:40]!r}: use today, yesterday or YYYY-MM-DD") from None
    if not date(1970, 1, 2) <= day <= date(2105, 12, 31):
        raise ValueError(f"{text!r} is outside 1970..2105")
    return day


def day_window(day: date, tz: zoneinfo.ZoneInfo) -> tuple[int, int]:
    """``[local midnight, next local midnight)`` of ``day`` in UTC seconds (23..25 h)."""
    noon = int(datetime(day.year, day.month, day.day, 12, tzinfo=tz).timestamp())
    return bucket_start(noon, DAY_S, tz), bucket_start(noon + DAY_S, DAY_S, tz)


def hours(window: tuple[int, int], tz: zoneinfo.ZoneInfo) -> list[Hour]:
    """Every local hour of ``window``."""
    out = []
    for start in bucket_edges(window[0], window[1], 3600, tz):
        local = datetime.fromtimestamp(start, tz)
        out.append(Hour(start, local.strftime("%H:%M"), local.isoformat()[19:]))
    return out


def hourly_rows(
    reader: Reader,
    window: tuple[int, int],
    tz: zoneinfo.ZoneInfo,
    filters: queries.Filters,
) -> list[HourlyRow]:
    """One row per site, device, line, direction and class with a crossing in ``window``.

    Args:
        reader: a read connection.
        window: the day, ``[start, end)`` in UTC seconds (from ``day_window``).
        tz: the zone the hours follow.
        filters: dimension values to keep (e.g. one site).
    """
    res = queries.counts(reader, window, (3600, tz), filters, ROW_DIMS)
    names = labels.names_of(reader.query, ((s.key["device"], s.key["line"]) for s in res.series))
    out = []
    for s in res.series:
        k = s.key
        label = labels.direction_label(names, k["device"], k["line"], k["direction"])
        category = category_of(k["class"])
        row = (k["site"], k["device"], k["line"], k["direction"], label, k["class"], category)
        out.append(HourlyRow(*row, s.counts))
    return out
