"""Collector query helpers: time buckets aligned to a site's local clock (pure, no I/O).

Counts are stored per UTC minute. A query groups them in SQL by a *chunk* that divides every
bucket boundary (``gcd(bucket, 15 min)``, since every time zone in use is offset by a multiple
of 15 minutes), then maps chunks to buckets here with ``zoneinfo``: hourly buckets follow
local hours, daily buckets run from local midnight to local midnight (23 or 25 h on the days
clocks change).
"""

from __future__ import annotations

import math
import zoneinfo
from bisect import bisect_right
from datetime import datetime, timedelta

from edge.collector.config import check_timezone

DAY_S = 86_400
#: Named bucket sizes accepted by the API, in seconds.
BUCKETS: dict[str, int] = {
    "1m": 60,
    "5m": 300,
    "10m": 600,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "2h": 7200,
    "3h": 10_800,
    "6h": 21_600,
    "12h": 43_200,
    "1d": DAY_S,
}
MAX_BUCKETS = 10_000
MAX_RANGE_S = 400 * DAY_S


def parse_bucket(text: str) -> int:
    """A bucket size from a name (``15m``, ``1h``, ``1d``) or whole seconds dividing a day.

    Raises:
        ValueError: not a size between one minute and one day that divides a day in minutes.
    """
    if text in BUCKETS:
        return BUCKETS[text]
    if text.isdigit() and 60 <= int(text) <= DAY_S and DAY_S % int(text) == int(text) % 60 == 0:
        return int(text)
    raise ValueError(
        f"bucket {text!r}: use one of {', '.join(BUCKETS)} or seconds (a multiple of 60 "
        "dividing 86400)"
    )


def timezone(name: str) -> zoneinfo.ZoneInfo:
    """An IANA time zone.

    Raises:
        ValueError: unknown zone name.
    """
    return zoneinfo.ZoneInfo(check_timezone(name))


def chunk_s(bucket_s: int) -> int:
    """The SQL grouping step for ``bucket_s``: divides both the bucket and 15 minutes."""
    return math.gcd(bucket_s, 900)


def bucket_start(t_s: int, bucket_s: int, tz: zoneinfo.ZoneInfo) -> int:
    """Start (UTC seconds) of the local bucket holding ``t_s``."""
    local = datetime.fromtimestamp(t_s, tz)
    if bucket_s == DAY_S:
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0, fold=0)
        return int(midnight.timestamp())
    offset = local.utcoffset() or timedelta(0)
    return t_s - (t_s + int(offset.total_seconds())) % bucket_s


def bucket_edges(start_s: int, end_s: int, bucket_s: int, tz: zoneinfo.ZoneInfo) -> list[int]:
    """Starts of every bucket overlapping ``[start_s, end_s)``, in order.

    Raises:
        ValueError: more than ``MAX_BUCKETS`` buckets.
    """
    edges = [bucket_start(start_s, bucket_s, tz)]
    while True:
        guess = edges[-1] + bucket_s + (3 * 3600 if bucket_s == DAY_S else 0)
        nxt = bucket_start(guess, bucket_s, tz)
        if nxt <= edges[-1]:
            nxt = edges[-1] + bucket_s
        if nxt >= end_s:
            return edges
        edges.append(nxt)
        if len(edges) > MAX_BUCKETS:
            raise ValueError(f"more than {MAX_BUCKETS} buckets: use a larger bucket")


def bucket_index(edges: list[int], t_s: int) -> int:
    """Index of the bucket holding ``t_s`` (``-1`` before the first)."""
    return bisect_right(edges, t_s) - 1


def local_midnight(now_s: float, tz: zoneinfo.ZoneInfo) -> int:
    """UTC seconds of the last local midnight at or before ``now_s``."""
    return bucket_start(int(now_s), DAY_S, tz)


def parse_time(text: str, tz: zoneinfo.ZoneInfo) -> int:
    """UTC seconds from Unix seconds or ISO 8601 (a time without offset is local to ``tz``).

    Raises:
        ValueError: neither form, or outside 1970..2106.
    """
    try:
        value = float(text)
    except ValueError:
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"time {text!r}: use Unix seconds or ISO 8601") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=tz)
        value = dt.timestamp()
    if not (math.isfinite(value) and 0 <= value < 2**32):
        raise ValueError(f"time {text!r} is outside 1970..2106")
    return int(value)


def iso_local(t_s: int, tz: zoneinfo.ZoneInfo) -> str:
    """ISO 8601 local time with its offset, e.g. ``2024-05-01T00:00:00+02:00``."""
    return datetime.fromtimestamp(t_s, tz).isoformat()
