"""The whole device configuration: one tree, loaded once from TOML."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator

from edge.config.base import _Strict, format_validation_error
from edge.config.capture import SourceConfig
from edge.config.counting import LineConfig, ZoneConfig
from edge.config.detector import DetectorConfig, OnnxDetectorConfig
from edge.config.device import (
    DeviceConfig,
    HealthConfig,
    HomeAssistantConfig,
    MqttConfig,
    OutboxConfig,
    ServiceConfig,
)
from edge.config.tracker import TrackerConfig
from edge.errors import ConfigError


class AppConfig(_Strict):
    """The whole device configuration."""

    device: DeviceConfig = DeviceConfig()
    source: SourceConfig | None = None
    detector: DetectorConfig = OnnxDetectorConfig()
    tracker: TrackerConfig = TrackerConfig()
    lines: tuple[LineConfig, ...] = ()
    zones: tuple[ZoneConfig, ...] = ()
    mqtt: MqttConfig | None = None
    outbox: OutboxConfig = OutboxConfig()
    min_processed_fps: float = Field(3.0, ge=0)
    health: HealthConfig = HealthConfig()
    service: ServiceConfig = ServiceConfig()
    homeassistant: HomeAssistantConfig = HomeAssistantConfig()

    @model_validator(mode="after")
    def _unique_names(self) -> AppConfig:
        names = [ln.name for ln in self.lines]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"line names must be unique, repeated: {sorted(dupes)}")
        zones = [z.name for z in self.zones]
        if len(set(zones)) != len(zones):
            raise ValueError(f"zone names must be unique: {zones}")
        unknown = [z.exit_line for z in self.zones if z.exit_line and z.exit_line not in names]
        if unknown:
            raise ValueError(f"zones: exit_line {unknown[0]!r} is not a configured line")
        return self


def parse_config(data: dict[str, Any], origin: str = "<config>") -> AppConfig:
    """Validate a config tree already read from TOML.

    Raises:
        ConfigError: naming ``origin`` and the dotted path of every invalid field.
    """
    try:
        return AppConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, origin)) from None


def load_config(path: Path) -> AppConfig:
    """Read and validate a TOML config file.

    Raises:
        ConfigError: the file is missing, not TOML, or a field is invalid.
    """
    return parse_config(read_toml(path), str(path))


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file into a dict (device and collector configs alike).

    Raises:
        ConfigError: the file is missing, unreadable or not TOML, naming it.
    """
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config: {err.strerror}") from None
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{path}: not a text config: byte {err.start} is not UTF-8 (TOML files are UTF-8)"
        ) from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None


def config_hash(cfg: AppConfig) -> str:
    """Short stable hash of the effective config, published with the device status."""
    return hashlib.sha256(cfg.model_dump_json().encode()).hexdigest()[:12]
