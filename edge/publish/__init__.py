"""Publish stage: ships the outbox over MQTT. ``client.py`` is the only module importing paho."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

MetricValue = float | int | str | bool | None


@dataclass(frozen=True)
class StatusInfo:
    """What the retained ``online`` status and the telemetry say about the device.

    Attributes:
        version: software version (``edge.__version__``).
        model: detector model name, if any.
        config_hash: ``edge.config.config_hash`` of the effective config, if any.
        metrics: called from the publisher thread every telemetry interval; its figures are
            merged into the telemetry message (it must be quick and thread-safe).
    """

    version: str
    model: str | None = None
    config_hash: str | None = None
    metrics: Callable[[], Mapping[str, MetricValue]] | None = None
