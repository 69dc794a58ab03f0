"""Collector HTTP stage: the read-only JSON/CSV API and the dashboard's static files.

Every parameter is checked (``api_params``) and a bad one answers 400 naming it; a
database that does not answer is a 503. Endpoints are plain ``def``: FastAPI runs them in
its thread pool, each borrowing a read connection from the store.
"""

from __future__ import annotations

import secrets
import time
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles

from edge import __version__
from edge.collector import api_counts, device_queries, metrics, queries
from edge.collector import api_models as m
from edge.collector import api_params as p
from edge.collector.config import CollectorConfig
from edge.collector.health import degraded_reason as _reason
from edge.collector.health import health_word as _health
from edge.collector.queues import queue_figures
from edge.collector.store import Store
from edge.errors import StoreError

STATIC_DIR = Path(str(resources.files("edge.collector") / "static"))


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
    metrics.add_route(app, guarded)
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


def _router() -> APIRouter:
    r = APIRouter()
    _device_routes(r)
    api_counts.add_routes(r)
    _report_routes(r)
    return r


def _device_routes(r: APIRouter) -> None:

    @r.get("/health", response_model=m.Health)
    def health(request: Request) -> m.Health:
        """The database answers; its schema version."""
        return m.Health(schema_version=p.store_of(request).schema_version())

    @r.get("/sites", response_model=list[m.Site])
    def sites(request: Request) -> list[m.Site]:
        """Sites seen or configured, with their time zones and device counts."""
        cfg = p.cfg_of(request)
        with p.store_of(request).reading() as reader:
            seen = queries.sites(reader)
            reported = queries.reported_zones(reader)
        names = sorted(set(seen) | set(cfg.sites))
        return [
            m.Site(
                site=s,
                name=cfg.sites[s].name if s in cfg.sites else None,
                timezone=cfg.site_timezone(s) if s in cfg.sites else reported.get(s, "UTC"),
                devices=seen.get(s, 0),
            )
            for s in names
        ]

    @r.get("/devices", response_model=m.Devices)
    def devices(request: Request, site: p.SiteParam = None) -> m.Devices:
        """Devices with last status, telemetry, health (online, degraded, stopped, offline,
        stale, unknown) and why a degraded one is degraded."""
        stale_s, now = p.cfg_of(request).http.stale_after_s, time.time()
        with p.store_of(request).reading() as reader:
            rows = device_queries.devices(reader, site)
        return m.Devices(
            now=now,
            stale_after_s=stale_s,
            devices=[
                m.Device(health=_health(d, now, stale_s), reason=_reason(d), **d) for d in rows
            ],
        )


def _report_routes(r: APIRouter) -> None:
    @r.get("/zones", response_model=list[m.ZoneOut])
    def zones(request: Request, site: p.SiteParam = None) -> list[dict[str, Any]]:
        """Latest queue figures per zone (filled in by devices that report zones)."""
        with p.store_of(request).reading() as reader:
            return queries.zones_latest(reader, site)

    @r.get("/queues", response_model=list[m.QueueOut])
    def queues(
        request: Request, site: p.SiteParam = None, at: Annotated[float | None, Query(ge=0)] = None
    ) -> list[dict[str, Any]]:
        """Cross-camera queues (collector config ``[queues.NAME]``): vehicles in the system
        and the expected wait, as of the latest time both devices reported (``at``: a past
        UTC time instead of now)."""
        conf = p.cfg_of(request).queues
        now = time.time() if at is None else at
        with p.store_of(request).reading() as reader:
            return [
                queue_figures(reader, name, q, now)
                for name, q in sorted(conf.items())
                if site is None or q.site in (None, site)
            ]

    @r.get("/rejects", response_model=m.RejectsOut)
    def rejects(request: Request, limit: Annotated[int, Query(ge=0, le=1000)] = 20) -> m.RejectsOut:
        """How many payloads were rejected (per code: too_large, future_ts, invalid,
        undecodable, db_refused), and the latest ones with their reasons."""
        with p.store_of(request).reading() as reader:
            return m.RejectsOut.model_validate(queries.rejects(reader, limit))

    @r.get("/collector")
    def collector(request: Request) -> dict[str, Any]:
        """Ingest figures of the collector process answering (each copy has its own)."""
        stats = request.app.state.stats
        return dict(stats()) if stats else {}
