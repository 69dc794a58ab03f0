"""Configuration: one strict, typed tree loaded once from TOML; errors name the dotted path.

One module per section (``device``, ``capture``, ``detector``, ``tracker``, ``counting``); the
whole tree and its loading in ``app``; where models and clips live in ``paths``. Everything a
caller needs is importable from ``edge.config``.
"""

from edge.config.app import AppConfig, config_hash, load_config, parse_config, read_toml
from edge.config.base import Point, format_validation_error
from edge.config.capture import (
    OpenCVSourceConfig,
    PicameraSourceConfig,
    ReplaySourceConfig,
    SourceConfig,
)
from edge.config.counting import (
    LineConfig,
    ZoneConfig,
    check_lines_inside,
    check_zones_inside,
    parse_line_option,
    parse_zone_option,
)
from edge.config.detector import DetectorConfig, OnnxDetectorConfig, ScriptedDetectorConfig
from edge.config.device import (
    BrokerConnection,
    DeviceConfig,
    HealthConfig,
    HomeAssistantConfig,
    MqttConfig,
    OutboxConfig,
    ServiceConfig,
    TimeZoneName,
    iana_zone,
)
from edge.config.paths import default_data_dir, default_models_dir, mirror_dir
from edge.config.tracker import TrackerConfig

__all__ = [
    "AppConfig",
    "BrokerConnection",
    "DetectorConfig",
    "DeviceConfig",
    "HealthConfig",
    "HomeAssistantConfig",
    "LineConfig",
    "MqttConfig",
    "OnnxDetectorConfig",
    "OpenCVSourceConfig",
    "OutboxConfig",
    "PicameraSourceConfig",
    "Point",
    "ReplaySourceConfig",
    "ScriptedDetectorConfig",
    "ServiceConfig",
    "SourceConfig",
    "TimeZoneName",
    "TrackerConfig",
    "ZoneConfig",
    "check_lines_inside",
    "check_zones_inside",
    "config_hash",
    "default_data_dir",
    "default_models_dir",
    "format_validation_error",
    "iana_zone",
    "load_config",
    "mirror_dir",
    "parse_config",
    "parse_line_option",
    "parse_zone_option",
    "read_toml",
]
