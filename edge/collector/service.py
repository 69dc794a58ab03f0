"""Collector composition root: store, MQTT subscriber, writer thread and HTTP server.

Start order: database (migrated) → writer → retention job → subscriber → HTTP; stop in
reverse. Nothing here
is local state another copy would need: run as many collectors as the database can take,
each with its own MQTT client id, all in one share group.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import socket
import threading
from typing import Any

import uvicorn

from edge.collector.api import create_app
from edge.collector.config import CollectorConfig, load_collector_config
from edge.collector.retention import RetentionJob
from edge.collector.store import PgTimeouts, Store, open_store
from edge.collector.subscriber import Delivery, MqttSubscriber
from edge.collector.writer import Writer
from edge.errors import ConfigError

log = logging.getLogger(__name__)


def split_host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) into its parts.

    Raises:
        ConfigError: no port, or a port outside 0..65535.
    """
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65_535:
        raise ConfigError(f"--http {text!r}: expected HOST:PORT")
    return host.strip("[]"), int(port)


class Collector:
    """One collector process's worth of parts, startable in-process (tests, ``demo``).

    Example::

        c = Collector.from_urls("mqtt://127.0.0.1:1883", "sqlite:///c.db", "127.0.0.1:0")
        c.start()
        print(c.http_url)   # the port is chosen when 0 was asked for
        c.stop()
    """

    def __init__(self, cfg: CollectorConfig, serve_http: bool = True) -> None:
        self.cfg = cfg
        self._serve_http = serve_http
        self._inbox: queue.Queue[Delivery] = queue.Queue()
        self.store: Store | None = None
        self._subscriber: MqttSubscriber | None = None
        self._writer: Writer | None = None
        self._retention: RetentionJob | None = None
        self._server: uvicorn.Server | None = None
        self._http_thread: threading.Thread | None = None
        self._http_error: BaseException | None = None
        self._http_port = 0

    @classmethod
    def from_urls(cls, mqtt_url: str, db_url: str, http: str = "127.0.0.1:0") -> Collector:
        """A collector with default settings but its broker, database and HTTP address."""
        host, port = split_host_port(http)
        overrides = {
            "mqtt.url": mqtt_url,
            "store.url": db_url,
            "http.host": host,
            "http.port": port,
        }
        return cls(load_collector_config(None, overrides))

    def start(self) -> None:
        """Open and migrate the database, then start writing, subscribing and serving.

        Raises:
            StoreError: the database cannot be opened or migrated.
            ConfigError: an invalid broker URL or HTTP address.
        """
        sc = self.cfg.store
        timeouts = PgTimeouts(sc.connect_timeout_s, sc.statement_timeout_s, sc.keepalives_idle_s)
        self.store = open_store(sc.url, sc.api_pool_size, timeouts)
        self.store.max_future_skew_s = self.cfg.ingest.max_future_skew_s
        self.store.migrate()
        self.store.configured_sites = self.cfg.device_sites()
        self._subscriber = MqttSubscriber(self.cfg.mqtt, self._inbox)
        if self._ephemeral():
            log.warning(
                "mqtt.client_id not set: using %s, derived from this host, directory and "
                "command line (the same after a restart); its session ends on a clean stop",
                self.cfg.mqtt.client_id,
            )
        self._writer = Writer(
            self.store,
            self._inbox,
            self._subscriber.ack,
            self.cfg.store.batch_max_messages,
            self.cfg.store.batch_max_wait_s,
        )
        self._writer.limits = self.cfg.ingest
        self._writer.on_acks = self._subscriber.publish_acks
        self._writer.start()
        if any(self.cfg.retention.days().values()):
            self._retention = RetentionJob(
                lambda: open_store(sc.url, 1, timeouts), self.cfg.retention
            )
            self._retention.start()
        self._subscriber.start()
        if self._serve_http:
            self._start_http()
        log.info(
            "collector started: mqtt %s as %s, db %s, http %s",
            self.cfg.mqtt.url,
            self.cfg.mqtt.client_id,
            self.cfg.store.url.split("@")[-1],
            self.http_url,
        )

    def _start_http(self) -> None:
        assert self.store is not None
        host, port = self.cfg.http.host, self.cfg.http.port
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as err:
            sock.close()
            raise ConfigError(f"http {host}:{port}: cannot listen: {err.strerror}") from None
        self._http_port = int(sock.getsockname()[1])
        app = create_app(self.store, self.cfg, self.stats)
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._http_thread = threading.Thread(
            target=self._serve, args=(self._server, sock), name="collector-http", daemon=True
        )
        self._http_thread.start()

    def _serve(self, server: uvicorn.Server, sock: socket.socket) -> None:
        """The HTTP thread: serve until ``stop``; any other end is recorded as a failure."""
        try:
            server.run(sockets=[sock])
        except BaseException as err:  # a thread's top (uvicorn may raise SystemExit)
            log.exception("collector HTTP server failed")
            self._http_error = err
            return
        if not server.should_exit:
            log.error("collector HTTP server stopped by itself")
            self._http_error = RuntimeError("the HTTP server stopped by itself")

    @property
    def http_url(self) -> str | None:
        """Base URL of the API and dashboard (``None`` without HTTP)."""
        if not self._serve_http:
            return None
        host = self.cfg.http.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self._http_port}"

    def wait_subscribed(self, timeout_s: float = 10.0) -> bool:
        """Block until the broker has granted the subscriptions (tests, ``demo``)."""
        return self._subscriber is not None and self._subscriber.subscribed.wait(timeout_s)

    def failure(self) -> BaseException | None:
        """Why the collector stopped working, for a supervisor polling it.

        Returns:
            None while every part runs (and after a normal ``stop``); otherwise the exception
            its writer thread or HTTP thread died of, or that an MQTT hook raised. The
            collector does not recover from it: stop it and exit non-zero.
        """
        for part in (self._writer, self._subscriber, self._retention):
            err = part.failure() if part is not None else None
            if err is not None:
                return err
        return self._http_error

    def stats(self) -> dict[str, Any]:
        """This process's ingest figures: messages, events inserted and duplicate, rejects."""
        out: dict[str, Any] = {"client_id": self.cfg.mqtt.client_id, "queued": self._inbox.qsize()}
        if self._writer is not None:
            out |= dataclasses.asdict(self._writer.stats)
        if self._subscriber is not None:
            out["dropped_qos0"] = self._subscriber.dropped_qos0
            out["connected"] = self._subscriber.connected.is_set()
        if self._retention is not None:
            out["retention_runs"] = self._retention.runs
            last = self._retention.last
            out["retention_last"] = None if last is None else dataclasses.asdict(last)
        return out

    def stop(self) -> None:
        """Stop serving, stop the writer after its batch, disconnect keeping the session.

        With a derived client id (no ``mqtt.client_id`` set) the collector unsubscribes,
        stores and acknowledges what it received, then ends the session, so its share of the
        messages goes to the other copies while it is stopped (after a crash the session is
        kept, and the restarted copy, with the same id, resumes it).
        """
        if self._server is not None and self._http_thread is not None:
            self._server.should_exit = True
            self._http_thread.join(10)
        end_session = False
        if self._ephemeral() and self._writer is not None and self._subscriber is not None:
            end_session = self._subscriber.unsubscribe() and self._writer.drain(10)
        if self._writer is not None:
            self._writer.stop()
        if self._retention is not None:
            self._retention.stop()
        if self._subscriber is not None:
            self._subscriber.stop(end_session)
        if self.store is not None:
            self.store.close()

    def _ephemeral(self) -> bool:
        return "client_id" not in self.cfg.mqtt.model_fields_set

    def __enter__(self) -> Collector:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
