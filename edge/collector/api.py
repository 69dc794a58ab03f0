"""Collector HTTP stage: the read-only JSON/CSV API and the dashboard's static files.

Every parameter is checked here and a bad one answers 400 naming it; a database that does
not answer is a 503. Endpoints are plain ``def``: FastAPI runs them in its thread pool, each
borrowing a read connection from the store.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
import time
from importlib import resources
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles

from edge import __version__
from edge.collector import api_models as m
from edge.collector import queries
from edge.collector.buckets import MAX_RANGE_S, iso_local, local_midnight, parse_bucket, parse_time
from edge.collector.buckets import timezone as parse_tz
from edge.collector.config import CollectorConfig
from edge.collector.queues import queue_figures
from edge.collector.store import Store
from edge.errors import StoreError

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_FILTER_DIMS = ("site", "device", "line", "direction", "class", "category")
STATIC_DIR = Path(str(resources.files("edge.collector") / "static"))
SiteParam = Annotated[str | None, Query(pattern=_NAME.pattern)]


def _bad(text: str) -> HTTPException:
    return HTTPException(status_code=400, detail=text)


def _names(dim: str, values: list[str]) -> tuple[str, ...]:
    """Values of a repeatable, comma-separable filter, each a checked name."""
    out = tuple(v for raw in values for v in raw.split(",") if v)
    for v in out:
        if not _NAME.match(v):
            raise _bad(f"{dim}: {v[:80]!r} is not a name ([A-Za-z0-9_.-], 1..64 characters)")
    return out


def _filters(q: m.FilterQuery) -> queries.Filters:
    raw = (q.site, q.device, q.line, q.direction, q.cls, q.category)
    return queries.Filters({d: _names(d, v) for d, v in zip(_FILTER_DIMS, raw, strict=True)})


def _group_by(text: str) -> tuple[str, ...]:
    """Dimensions that split the series: comma-separated, from ``queries.DIMENSIONS``."""
    dims = tuple(d for d in text.split(",") if d)
    bad = [d for d in dims if d not in queries.DIMENSIONS]
    if bad or len(set(dims)) != len(dims):
        raise _bad(f"group_by: use distinct names from {', '.join(queries.DIMENSIONS)}")
    return dims


def _zone(request: Request, q: m.TodayQuery, f: queries.Filters) -> ZoneInfo:
    """``tz`` if given, else the configured zone of the one site filtered on, else UTC."""
    sites = f.values.get("site") or ()
    name = q.tz or (_cfg(request).site_timezone(sites[0]) if len(sites) == 1 else "UTC")
    try:
        return parse_tz(name)
    except ValueError as err:
        raise _bad(f"tz: {err}") from None


def create_app(store: Store, cfg: CollectorConfig, stats: Any = None) -> FastAPI:
    """Build the FastAPI app over ``store``; ``stats()`` reports this process's writer."""
    # No Swagger UI (/docs loads it from a CDN; nothing is served from outside): the spec is
    # at /openapi.json.
    app = FastAPI(title="edge-counter collector", version=__version__, **m.NO_CDN_DOCS)
    app.state.store, app.state.cfg, app.state.token = store, cfg, cfg.api_token()
    app.state.stats = stats

    @app.exception_handler(StoreError)
    def _store_down(request: Request, err: StoreError) -> JSONResponse:
        return JSONResponse({"detail": f"database unavailable: {err}"}, status_code=503)

    guarded = [Depends(_auth)]
    app.include_router(_router(), prefix="/api/v1", dependencies=guarded, responses=m.ERRORS)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    return app


_bearer = HTTPBearer(auto_error=False)


def _auth(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    token: str | None = request.app.state.token
    if token is None:
        return
    given = creds.credentials.encode() if creds else b""
    if not secrets.compare_digest(given, token.encode()):
        raise HTTPException(401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"})


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _cfg(request: Request) -> CollectorConfig:
    cfg: CollectorConfig = request.app.state.cfg
    return cfg


def _window(q: m.CountsQuery, tz: ZoneInfo) -> tuple[int, int]:
    try:
        end_s = parse_time(q.end, tz) if q.end else int(time.time())
        start_s = parse_time(q.start, tz) if q.start else end_s - 86_400
    except ValueError as err:
        raise _bad(f"start/end: {err}") from None
    if not 0 < end_s - start_s <= MAX_RANGE_S:
        raise _bad(f"start/end: end must follow start by at most {MAX_RANGE_S // 86_400} days")
    return start_s, end_s


def _counts(request: Request, q: m.CountsQuery) -> m.CountsOut:
    f, g = _filters(q), _group_by(q.group_by)
    tz = _zone(request, q, f)
    try:
        bucket_s = parse_bucket(q.bucket)
    except ValueError as err:
        raise _bad(str(err)) from None
    window = _window(q, tz)
    with _store(request).reading() as reader:
        try:
            res = queries.counts(reader, window, (bucket_s, tz), f, g)
        except ValueError as err:
            raise _bad(str(err)) from None
    return m.CountsOut(
        start=window[0],
        end=window[1],
        bucket_s=bucket_s,
        timezone=str(tz),
        group_by=list(g),
        buckets=res.edges,
        buckets_local=[iso_local(e, tz) for e in res.edges],
        series=[m.SeriesOut(key=s.key, total=sum(s.counts), counts=s.counts) for s in res.series],
    )


def _router() -> APIRouter:
    r = APIRouter()
    _device_routes(r)
    _count_routes(r)
    return r


def _device_routes(r: APIRouter) -> None:

    @r.get("/health", response_model=m.Health)
    def health(request: Request) -> m.Health:
        """The database answers; its schema version."""
        return m.Health(schema_version=_store(request).schema_version())

    @r.get("/sites", response_model=list[m.Site])
    def sites(request: Request) -> list[m.Site]:
        """Sites seen or configured, with their time zones and device counts."""
        cfg = _cfg(request)
        with _store(request).reading() as reader:
            seen = queries.sites(reader)
        names = sorted(set(seen) | set(cfg.sites))
        return [
            m.Site(
                site=s,
                name=cfg.sites[s].name if s in cfg.sites else None,
                timezone=cfg.site_timezone(s),
                devices=seen.get(s, 0),
            )
            for s in names
        ]

    @r.get("/devices", response_model=m.Devices)
    def devices(request: Request, site: SiteParam = None) -> m.Devices:
        """Devices with last status, telemetry and health (online, stale, offline)."""
        stale_s, now = _cfg(request).http.stale_after_s, time.time()
        with _store(request).reading() as reader:
            rows = queries.devices(reader, site)
        return m.Devices(
            now=now,
            stale_after_s=stale_s,
            devices=[m.Device(health=_health(d, now, stale_s), **d) for d in rows],
        )


def _count_routes(r: APIRouter) -> None:
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
        """The same as ``/counts``, one CSV row per bucket and series."""
        disposition = {"Content-Disposition": 'attachment; filename="counts.csv"'}
        return Response(_csv(_counts(request, q)), media_type="text/csv", headers=disposition)

    @r.get("/today", response_model=m.TodayOut)
    def today(request: Request, q: Annotated[m.TodayQuery, Query()]) -> m.TodayOut:
        """Totals since local midnight in ``tz`` (default: the one site's zone, else UTC)."""
        f, g = _filters(q), _group_by(q.group_by)
        zone = _zone(request, q, f)
        since = local_midnight(time.time(), zone)
        with _store(request).reading() as reader:
            rows = queries.totals_since(reader, since, f, g)
        return m.TodayOut(
            since=since,
            since_local=iso_local(since, zone),
            timezone=str(zone),
            group_by=list(g),
            total=sum(n for _, n in rows),
            rows=[m.TotalRow(key=k, n=n) for k, n in rows],
        )

    @r.get("/totals", response_model=m.TotalsOut, response_model_by_alias=True)
    def totals(request: Request, q: Annotated[m.FilterQuery, Query()]) -> dict[str, Any]:
        """All-time totals per device, line, direction and class (the replay's JSON shape)."""
        with _store(request).reading() as reader:
            return queries.all_time_totals(reader, _filters(q))

    @r.get("/zones", response_model=list[m.ZoneOut])
    def zones(request: Request, site: SiteParam = None) -> list[dict[str, Any]]:
        """Latest queue figures per zone (filled in by devices that report zones)."""
        with _store(request).reading() as reader:
            return queries.zones_latest(reader, site)

    @r.get("/queues", response_model=list[m.QueueOut])
    def queues(
        request: Request, site: SiteParam = None, at: Annotated[float | None, Query(ge=0)] = None
    ) -> list[dict[str, Any]]:
        """Cross-camera queues (collector config ``[queues.NAME]``): vehicles in the system
        and the expected wait, as of the latest time both devices reported (``at``: a past
        UTC time instead of now)."""
        conf = _cfg(request).queues
        now = time.time() if at is None else at
        with _store(request).reading() as reader:
            return [
                queue_figures(reader, name, q, now)
                for name, q in sorted(conf.items())
                if site is None or q.site in (None, site)
            ]

    @r.get("/rejects", response_model=m.RejectsOut)
    def rejects(request: Request, limit: Annotated[int, Query(ge=0, le=1000)] = 20) -> m.RejectsOut:
        """How many payloads were rejected (per code: too_large, future_ts, invalid,
        undecodable, db_refused), and the latest ones with their reasons."""
        with _store(request).reading() as reader:
            return m.RejectsOut.model_validate(queries.rejects(reader, limit))

    @r.get("/collector")
    def collector(request: Request) -> dict[str, Any]:
        """Ingest figures of the collector process answering (each copy has its own)."""
        stats = request.app.state.stats
        return dict(stats()) if stats else {}


def _health(d: dict[str, Any], now: float, stale_s: float) -> str:
    """``online`` if the status says so and the device spoke within ``stale_s``."""
    state = d["state"]
    if state in (None, "online"):
        status_ts = (d["status"] or {}).get("ts") or 0.0
        heard = max(d["last_seen"] or 0.0, float(status_ts))
        return "unknown" if state is None else "online" if now - heard <= stale_s else "stale"
    return "degraded" if state == "degraded" else "offline"


def _csv(res: m.CountsOut) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["bucket_start_utc", "bucket_start_local", *res.group_by, "count"])
    for s in res.series:
        dims = [s.key[d] for d in res.group_by]
        for t, local, n in zip(res.buckets, res.buckets_local, s.counts, strict=True):
            w.writerow([t, local, *dims, n])
    return buf.getvalue()
