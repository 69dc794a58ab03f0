"""Collector HTTP stage: query parameters checked into typed values (a bad one is a 400).

Every error names its parameter first (``tz: unknown time zone 'Mars/Base'``), so a client
can tell which of its inputs to fix.
"""

from __future__ import annotations

import re
import time
from datetime import date
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import HTTPException, Query, Request

from edge.collector import api_models as m
from edge.collector import hourly, queries
from edge.collector.buckets import MAX_RANGE_S, parse_time
from edge.collector.buckets import timezone as parse_tz
from edge.collector.config import CollectorConfig
from edge.collector.store import Store

NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
FILTER_DIMS = ("site", "device", "line", "direction", "class", "category")
SiteParam = Annotated[str | None, Query(pattern=NAME.pattern)]


def bad(text: str) -> HTTPException:
    """A 400 answer carrying ``text``."""
    return HTTPException(status_code=400, detail=text)


def store_of(request: Request) -> Store:
    """The app's store."""
    store: Store = request.app.state.store
    return store


def cfg_of(request: Request) -> CollectorConfig:
    """The app's configuration."""
    cfg: CollectorConfig = request.app.state.cfg
    return cfg


def names(dim: str, values: list[str]) -> tuple[str, ...]:
    """Values of a repeatable, comma-separable filter, each a checked name."""
    out = tuple(v for raw in values for v in raw.split(",") if v)
    for v in out:
        if not NAME.match(v):
            raise bad(f"{dim}: {v[:80]!r} is not a name ([A-Za-z0-9_.-], 1..64 characters)")
    return out


def filters(q: m.FilterQuery) -> queries.Filters:
    """The filters of a query, every value checked."""
    raw = (q.site, q.device, q.line, q.direction, q.cls, q.category)
    return queries.Filters({d: names(d, v) for d, v in zip(FILTER_DIMS, raw, strict=True)})


def group_by(text: str) -> tuple[str, ...]:
    """Dimensions that split the series: comma-separated, from ``queries.DIMENSIONS``."""
    dims = tuple(d for d in text.split(",") if d)
    bad_dims = [d for d in dims if d not in queries.DIMENSIONS]
    if bad_dims or len(set(dims)) != len(dims):
        raise bad(f"group_by: use distinct names from {', '.join(queries.DIMENSIONS)}")
    return dims


def zone(request: Request, tz: str | None, sites: tuple[str, ...]) -> ZoneInfo:
    """``tz`` if given, else the zone of the one site asked for (``queries.site_zone``),
    else UTC."""
    name = tz or "UTC"
    if tz is None and len(sites) == 1:
        with store_of(request).reading() as reader:
            name = queries.site_zone(reader, cfg_of(request), sites[0])
    try:
        return parse_tz(name)
    except ValueError as err:
        raise bad(f"tz: {err}") from None


def window(q: m.CountsQuery, tz: ZoneInfo) -> tuple[int, int]:
    """``[start, end)`` in UTC seconds: default the last 24 h, at most ``MAX_RANGE_S``."""
    try:
        end_s = parse_time(q.end, tz) if q.end else int(time.time())
        start_s = parse_time(q.start, tz) if q.start else end_s - 86_400
    except ValueError as err:
        raise bad(f"start/end: {err}") from None
    if not 0 < end_s - start_s <= MAX_RANGE_S:
        raise bad(f"start/end: end must follow start by at most {MAX_RANGE_S // 86_400} days")
    return start_s, end_s


def site(text: str | None) -> tuple[str, ...]:
    """The one site asked for (none: every site)."""
    if text is None:
        return ()
    if not NAME.match(text):
        raise bad(f"site: {text[:80]!r} is not a name ([A-Za-z0-9_.-], 1..64 characters)")
    return (text,)


def day(text: str, tz: ZoneInfo) -> date:
    """``today``, ``yesterday`` or ``YYYY-MM-DD``, in ``tz``."""
    try:
        return hourly.parse_day(text, tz, time.time())
    except ValueError as err:
        raise bad(f"day: {err}") from None
