"""Collector HTTP stage: ``GET /metrics``, the collector's figures in Prometheus text format.

Several collectors share one database, so the figures come in two kinds, told apart by name
and by the start of their HELP text:

- *This process* (``(this process)``): ``edge_collector_events_total``, ``..._messages_total``,
  ``..._events_duplicate_total``, ``..._rejected_total``, ``..._inbox_messages`` and the rest
  of ``/api/v1/collector``. Each copy counts only what it stored since it started; sum them
  over the copies (``sum without (instance)``).
- *The database* (``(database)``): ``edge_collector_db_*``, ``edge_collector_device_*`` and
  ``edge_collector_queue_*``, read at each scrape. Every copy answers the same figures:
  aggregate them with ``max``, never ``sum``, or scrape one copy for them.

Built on ``prometheus-client`` (pure Python, no dependencies, in the collector's extra only:
the Pi never imports this module): a custom collector yields metric families per scrape and
the library writes the text format, its escaping and its float formatting, which a
hand-written exposition would have to get right (and keep right) itself.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.params import Depends
from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector as PromCollector

from edge import __version__
from edge.collector.api_models import HEALTH
from edge.collector.config import CollectorConfig
from edge.collector.health import health_word, heard_at
from edge.collector.queues import queue_figures
from edge.collector.store import Reader, Store

#: The classic text format (0.0.4), which every Prometheus version scrapes.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: ``Collector.stats()`` key -> (counter name without ``_total``, HELP after "(this process)").
PROCESS_COUNTERS: dict[str, tuple[str, str]] = {
    "events_inserted": ("edge_collector_events", "crossings newly stored (duplicates excluded)"),
    "events_duplicate": ("edge_collector_events_duplicate", "crossings already stored, ignored"),
    "messages": ("edge_collector_messages", "MQTT messages stored and acknowledged"),
    "rejected": ("edge_collector_rejected", "payloads stored as rejects (per code: db_rejects)"),
    "batches": ("edge_collector_batches", "write transactions committed"),
    "store_retries": ("edge_collector_store_retries", "batches retried, the database down"),
    "acks_published": ("edge_collector_acks_published", "retained outbox acks published"),
    "dropped_qos0": ("edge_collector_mqtt_dropped_qos0", "QoS 0 messages dropped, inbox full"),
}

#: Telemetry metric (the device's ``metrics``) -> (gauge name, HELP after "(database)").
TELEMETRY_GAUGES: dict[str, tuple[str, str]] = {
    "outbox_depth": (
        "edge_collector_device_outbox_depth",
        "crossings waiting in the device's outbox, from its latest telemetry",
    ),
    "outbox_dropped": (
        "edge_collector_device_outbox_dropped",
        "crossings the device's outbox cap dropped unsent (ever), from its latest telemetry",
    ),
    "outbox_oldest_unsent_age_s": (
        "edge_collector_device_outbox_oldest_unsent_age_seconds",
        "age of the oldest unsent crossing in the device's outbox, from its latest telemetry",
    ),
}

DEVICE_LABELS = ["device", "site"]

_DEVICES_SQL = """SELECT d.device_id, d.site, d.last_seen, s.state, s.body, t.ts, t.body
    FROM devices d
    LEFT JOIN device_reports s ON s.device_id = d.device_id AND s.kind = 'status'
    LEFT JOIN device_reports t ON t.device_id = d.device_id AND t.kind = 'telemetry'
    ORDER BY d.site, d.device_id"""


def add_route(app: FastAPI, guards: Sequence[Depends]) -> None:
    """Serve ``GET /metrics`` on ``app`` (its ``state.store``, ``state.cfg``, ``state.stats``)
    behind ``guards`` (the API's bearer token rule), outside the OpenAPI spec."""
    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)  # process_cpu_seconds_total, memory, open fds
    registry.register(ScrapeCollector(app.state.store, app.state.cfg, app.state.stats, time.time))

    @app.get("/metrics", include_in_schema=False, dependencies=list(guards))
    def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE)


class ScrapeCollector(PromCollector):
    """Reads every figure afresh at each scrape: this process's ``stats()`` and the database.

    Args:
        store: the collector's store (one read connection per scrape).
        cfg: for ``http.stale_after_s`` (device health) and ``[queues]``.
        stats: ``Collector.stats`` of this process, or None (no writer: no process figures).
        clock: UTC seconds now (``time.time``).

    A database that does not answer raises ``StoreError``: the scrape fails (503), and
    Prometheus records the target as down, rather than serving half the figures.
    """

    def __init__(
        self,
        store: Store,
        cfg: CollectorConfig,
        stats: Callable[[], dict[str, Any]] | None,
        clock: Callable[[], float],
    ) -> None:
        self._store, self._cfg, self._stats, self._clock = store, cfg, stats, clock

    def collect(self) -> Iterator[Metric]:
        """Every metric family, this process's first."""
        if self._stats is not None:
            yield from process_families(self._stats())
        now = self._clock()
        with self._store.reading() as reader:
            yield from database_families(reader, now)
            yield from device_families(reader, now, self._cfg.http.stale_after_s)
            yield from queue_families(reader, self._cfg, now)


def process_families(stats: dict[str, Any]) -> Iterator[Metric]:
    """This process's counters and gauges, from ``Collector.stats()``."""
    for key, (name, help_) in PROCESS_COUNTERS.items():
        if key in stats:
            yield CounterMetricFamily(name, f"(this process) {help_}", value=stats[key])
    gauges = {
        "queued": ("edge_collector_inbox_messages", "messages received, not yet stored"),
        "connected": ("edge_collector_mqtt_connected", "1 while connected to the broker"),
    }
    for key, (name, help_) in gauges.items():
        if key in stats:
            yield GaugeMetricFamily(name, f"(this process) {help_}", value=float(stats[key]))
    if "last_batch_ms" in stats:
        yield GaugeMetricFamily(
            "edge_collector_last_batch_seconds",
            "(this process) time the latest batch took, decoding to commit",
            value=stats["last_batch_ms"] / 1000,
        )
    info = GaugeMetricFamily(
        "edge_collector_info",
        "(this process) the MQTT client id and version",
        labels=["client_id", "version"],
    )
    info.add_metric([str(stats.get("client_id", "")), __version__], 1)
    yield info


def database_families(reader: Reader, now: float) -> Iterator[Metric]:
    """Database-wide totals: crossings stored, rejects per code, the newest message's age."""
    stored = reader.query("SELECT COALESCE(SUM(n), 0) FROM counts_total")[0][0]
    yield CounterMetricFamily(
        "edge_collector_db_events_stored",
        "(database) crossings stored by every collector, ever (all-time totals)",
        value=int(stored),
    )
    rejects = CounterMetricFamily(
        "edge_collector_db_rejects",
        "(database) payloads rejected by every collector, per code (too_large, future_ts, "
        "invalid, undecodable, db_refused, wrong_site, expired)",
        labels=["code"],
    )
    for code, n in reader.query("SELECT code, COUNT(*) FROM rejects GROUP BY code ORDER BY code"):
        rejects.add_metric([str(code)], int(n))
    yield rejects
    newest = reader.query("SELECT MAX(last_seen) FROM devices")[0][0]
    if newest is not None:
        yield GaugeMetricFamily(
            "edge_collector_db_newest_message_age_seconds",
            "(database) seconds since the arrival of the newest live message any collector "
            "stored (ingest lag: grows while devices talk and nothing is stored)",
            value=max(0.0, now - float(newest)),
        )


def device_families(reader: Reader, now: float, stale_s: float) -> Iterator[Metric]:
    """Per device: last heard, health (one series per word, 1 for the current one), the
    outbox figures of its latest telemetry and the crossings stored of it."""
    age = _gauge(
        "edge_collector_device_last_seen_age_seconds",
        "seconds since the device was last heard from (live message or status ts)",
    )
    seen = _gauge(
        "edge_collector_device_last_seen_timestamp_seconds",
        "when the device was last heard from, UTC seconds",
    )
    health = _gauge(
        "edge_collector_device_health",
        f"1 for the device's health word ({', '.join(HEALTH)}), 0 for the others",
        [*DEVICE_LABELS, "health"],
    )
    tel_age = _gauge(
        "edge_collector_device_telemetry_age_seconds",
        "age of the device's latest telemetry (its own ts)",
    )
    tel = {k: _gauge(name, help_) for k, (name, help_) in TELEMETRY_GAUGES.items()}
    for dev, site, last_seen, state, status, tel_ts, tel_body in reader.query(_DEVICES_SQL):
        labels = [str(dev), str(site)]
        row = {
            "state": state,
            "status": json.loads(status) if status else None,
            "last_seen": last_seen,
        }
        heard = heard_at(row)
        if heard > 0:
            age.add_metric(labels, max(0.0, now - heard))
            seen.add_metric(labels, heard)
        word = health_word(row, now, stale_s)
        for w in HEALTH:
            health.add_metric([*labels, w], 1.0 if w == word else 0.0)
        if tel_ts is not None:
            tel_age.add_metric(labels, max(0.0, now - float(tel_ts)))
        figures = (json.loads(tel_body).get("metrics") or {}) if tel_body else {}
        for key, family in tel.items():
            value = figures.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                family.add_metric(labels, float(value))
    yield from (age, seen, health, tel_age, *tel.values())
    yield _stored_per_device(reader)


def _stored_per_device(reader: Reader) -> Metric:
    family = CounterMetricFamily(
        "edge_collector_device_events_stored",
        "(database) crossings of the device stored by every collector, ever",
        labels=DEVICE_LABELS,
    )
    sql = "SELECT device_id, site, SUM(n) FROM counts_total GROUP BY device_id, site ORDER BY 1, 2"
    for dev, site, n in reader.query(sql):
        family.add_metric([str(dev), str(site)], int(n))
    return family


def queue_families(reader: Reader, cfg: CollectorConfig, now: float) -> Iterator[Metric]:
    """The figures ``/api/v1/queues`` answers, per configured queue (``[queues.NAME]``)."""
    names = {
        "in_system": ("edge_collector_queue_in_system", "vehicles in the queue"),
        "expected_wait_s": ("edge_collector_queue_expected_wait_seconds",
                            "expected wait (Little's law); absent while stalled"),
        "exit_rate_per_min": ("edge_collector_queue_exit_rate_per_minute",
                              "exits per minute over the queue's window"),
        "lag_s": ("edge_collector_queue_lag_seconds",
                  "how far the figures lag now (the quieter device's last message)"),
        "since_exit_s": ("edge_collector_queue_since_exit_seconds",
                         "seconds from the latest exit to the figures' time"),
    }  # fmt: skip
    families = {k: _gauge(n, h, ["queue", "site", "direction"]) for k, (n, h) in names.items()}
    for name, q in sorted(cfg.queues.items()):
        figures = queue_figures(reader, name, q, now)
        labels = [name, q.site or "", q.direction]
        for key, family in families.items():
            if figures[key] is not None:
                family.add_metric(labels, float(figures[key]))
    yield from families.values()


def _gauge(name: str, help_: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    """A database-wide gauge family (HELP marked ``(database)``), per device by default."""
    return GaugeMetricFamily(name, f"(database) {help_}", labels=labels or DEVICE_LABELS)
