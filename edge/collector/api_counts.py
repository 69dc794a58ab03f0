"""Collector HTTP stage: the count endpoints (counts, today, totals, hourly, and their CSV).

Every answer names the directions it counts: ``labels`` maps each device and line in it to
its direction names (``{"in": "to Georgia", "out": "to Russia"}``; ``in``/``out`` when the
device never named them).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from edge.collector import api_models as m
from edge.collector import api_params as p
from edge.collector import exports, hourly, queries
from edge.collector.buckets import iso_local, local_midnight, parse_bucket


def add_routes(r: APIRouter) -> None:
    """Add the count endpoints to ``r``."""
    _bucketed_routes(r)
    _day_routes(r)


def _counts(request: Request, q: m.CountsQuery, csv: bool = False) -> m.CountsOut:
    f, g = p.filters(q), p.group_by(q.group_by)
    if csv and {"line", "direction"} <= set(g) and "device" not in g:
        g = ("device", *g)  # a direction's name belongs to one device's line
    tz = p.zone(request, q.tz, f.values.get("site") or ())
    try:
        bucket_s = parse_bucket(q.bucket)
    except ValueError as err:
        raise p.bad(str(err)) from None
    window = p.window(q, tz)
    with p.store_of(request).reading() as reader:
        try:
            res = queries.counts(reader, window, (bucket_s, tz), f, g)
        except ValueError as err:
            raise p.bad(str(err)) from None
        names = queries.labels_for(reader, f)
    return m.CountsOut(
        start=window[0],
        end=window[1],
        bucket_s=bucket_s,
        timezone=str(tz),
        group_by=list(g),
        buckets=res.edges,
        buckets_local=[iso_local(e, tz) for e in res.edges],
        series=[m.SeriesOut(key=s.key, total=sum(s.counts), counts=s.counts) for s in res.series],
        labels=names,
    )


def _bucketed_routes(r: APIRouter) -> None:
    @r.get("/counts", response_model=m.CountsOut)
    def counts(request: Request, q: Annotated[m.CountsQuery, Query()]) -> m.CountsOut:
        """Crossings per bucket (1 min .. 1 day, aligned to local time) in ``[start, end)``.

        ``start``/``end``: Unix seconds or ISO 8601 (local to ``tz`` without an offset);
        default the last 24 h. ``tz``: IANA zone, default the site's (one site) or UTC.
        Times are rounded down to the minute.
        """
        return _counts(request, q)

    @r.get("/counts.csv", response_class=Response)
    def counts_csv(request: Request, q: Annotated[m.CountsQuery, Query()]) -> Response:
        """The same as ``/counts``, one CSV row per bucket and series. Grouped by ``line``
        and ``direction``, the rows are split by ``device`` too and carry a
        ``direction_label`` column after ``direction``."""
        return exports.attachment(exports.counts_csv(_counts(request, q, csv=True)), "counts.csv")

    @r.get("/totals", response_model=m.TotalsOut, response_model_by_alias=True)
    def totals(request: Request, q: Annotated[m.FilterQuery, Query()]) -> dict[str, Any]:
        """All-time totals per device, line, direction and class (the replay's JSON shape),
        and each line's direction names."""
        with p.store_of(request).reading() as reader:
            return queries.all_time_totals(reader, p.filters(q))


def _hourly(request: Request, q: m.HourlyQuery) -> m.HourlyOut:
    sites = p.site(q.site)
    tz = p.zone(request, q.tz, sites)
    day = p.day(q.day, tz)
    window = hourly.day_window(day, tz)
    f = queries.Filters({"site": sites})
    with p.store_of(request).reading() as reader:
        try:
            rows = hourly.hourly_rows(reader, window, tz, f)
        except ValueError as err:  # the day's minutes are deleted (retention)
            raise p.bad(str(err)) from None
    hours = [m.HourOut(start=h.start, label=h.label, utc_offset=h.utc_offset)
             for h in hourly.hours(window, tz)]  # fmt: skip
    out = [
        m.HourlyRowOut(site=x.site, device=x.device, line=x.line, direction=x.direction,
                       label=x.label, cls=x.cls, category=x.category, counts=x.counts,
                       total=sum(x.counts))
        for x in rows
    ]  # fmt: skip
    return m.HourlyOut(site=q.site, timezone=str(tz), day=day.isoformat(), hours=hours, rows=out)


def _day_routes(r: APIRouter) -> None:
    @r.get("/today", response_model=m.TodayOut)
    def today(request: Request, q: Annotated[m.TodayQuery, Query()]) -> m.TodayOut:
        """Totals since local midnight in ``tz`` (default: the one site's zone, else UTC)."""
        f, g = p.filters(q), p.group_by(q.group_by)
        zone = p.zone(request, q.tz, f.values.get("site") or ())
        since = local_midnight(time.time(), zone)
        with p.store_of(request).reading() as reader:
            try:
                rows = queries.totals_since(reader, since, f, g)
            except ValueError as err:  # counts retention deleted
                raise p.bad(str(err)) from None
            names = queries.labels_for(reader, f)
        return m.TodayOut(
            since=since,
            since_local=iso_local(since, zone),
            timezone=str(zone),
            group_by=list(g),
            total=sum(n for _, n in rows),
            rows=[m.TotalRow(key=k, n=n) for k, n in rows],
            labels=names,
        )

    @r.get("/hourly", response_model=m.HourlyOut, response_model_by_alias=True)
    def hourly_table(request: Request, q: Annotated[m.HourlyQuery, Query()]) -> m.HourlyOut:
        """One local calendar day (``day``: today, yesterday or YYYY-MM-DD) of ``site``
        (default every site) hour by hour, per device, line, direction and class.

        The day runs from local midnight in ``tz`` (default the site's zone, else UTC) to
        the next: 23 or 25 hours on the days clocks change; each hour has its UTC start,
        local ``HH:MM`` and UTC offset.
        """
        return _hourly(request, q)

    @r.get("/hourly.csv", response_class=Response)
    def hourly_csv(request: Request, q: Annotated[m.HourlyQuery, Query()]) -> Response:
        """``/hourly`` as CSV, one row per hour and table row (zeros kept): ``day,
        hour_local,utc_offset,hour_start_utc,site,device,line,direction,direction_label,
        class,category,count``."""
        res = _hourly(request, q)
        name = f"hourly-{res.site or 'all-sites'}-{res.day}.csv"
        return exports.attachment(exports.hourly_csv(res), name)
