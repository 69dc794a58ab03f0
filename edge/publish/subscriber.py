"""Publish stage, consumer side: a small MQTT subscriber for ``edge-counter tail`` and tests."""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace

from edge.config import MqttConfig
from edge.errors import PublishError
from edge.publish.client import Inbound, LinkChange, MqttClient, device_options


class Subscriber:
    """A small MQTT consumer: messages land in a queue.

    ``persistent=True`` keeps the session (and QoS 1 messages) across disconnects and broker
    restarts, under a fixed ``client_id``.
    """

    def __init__(
        self, cfg: MqttConfig, filters: Sequence[str], client_id: str | None = None,
        persistent: bool = False,
    ) -> None:  # fmt: skip
        """Build the client; ``start`` connects and subscribes at QoS 1.

        Raises:
            ConfigError: bad URL, unreadable password file or TLS files.
        """
        self.cfg = cfg
        self.filters = list(filters)
        self.persistent = persistent
        cid = client_id or f"edge-sub-{uuid.uuid4().hex[:12]}"
        opts = device_options(cfg, cid, clean=not persistent)
        self.client = MqttClient(replace(opts, reconnect_min_s=1.0, reconnect_max_s=2.0))
        self.messages: queue.SimpleQueue[tuple[str, bytes, float]] = queue.SimpleQueue()
        self._links: queue.SimpleQueue[LinkChange] = queue.SimpleQueue()
        self.client.subscribe_on_connect(self.filters)
        self.client.on_link = self._links.put
        self.client.on_message = self._on_message

    def _on_message(self, msg: Inbound) -> None:
        self.messages.put((msg.topic, msg.payload, time.time()))

    def start(self, timeout_s: float = 10.0) -> None:
        """Connect and subscribe; block until the broker accepts.

        Raises:
            PublishError: the broker refused or did not answer within ``timeout_s``.
        """
        self.client.start()
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                link = self._links.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.stop()
                raise PublishError(
                    f"no answer from {self.cfg.url} within {timeout_s:g} s"
                ) from None
            if link.up:
                return
            if link.refused:
                self.stop()
                raise PublishError(f"broker {self.cfg.url} refused the connection: {link.reason}")

    def get(self, timeout_s: float) -> tuple[str, bytes, float] | None:
        """Next ``(topic, payload, received_utc_s)``, or None after ``timeout_s``."""
        try:
            return self.messages.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def stop(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.stop()
