"""``edge-counter run --config FILE``: the device service (systemd runs this)."""

from __future__ import annotations

import argparse
from pathlib import Path

from edge import app
from edge.config import default_models_dir, load_config
from edge.errors import ConfigError


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the run command."""
    p.add_argument(
        "--config",
        type=Path,
        default=Path("/etc/edge-counter/config.toml"),
        help="TOML config (default: /etc/edge-counter/config.toml)",
    )
    p.add_argument("--models-dir", type=Path, default=None, help="default: $EDGE_COUNTER_MODELS")


def run(args: argparse.Namespace) -> int:
    """Run until SIGTERM/SIGINT (or the end of a recorded source); 0 on a clean stop, 1 when a
    worker thread died (systemd restarts the service).

    Raises:
        ConfigError: the config has no ``[source]`` or no ``[mqtt]`` section.
    """
    cfg = load_config(args.config)
    if cfg.source is None:
        raise ConfigError(f"{args.config}: source: a [source] section is required to run")
    if cfg.mqtt is None:
        raise ConfigError(f"{args.config}: mqtt: an [mqtt] section is required to run")
    report = app.run(cfg, app.Options(args.models_dir or default_models_dir()))
    return report.exit_code
