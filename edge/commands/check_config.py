"""``edge-counter check-config [--collector] FILE``: validate a device (or collector) config and
print every error with its dotted path."""

from __future__ import annotations

import argparse
from pathlib import Path

from edge.config import config_hash, load_config


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the check-config command."""
    p.add_argument("file", type=Path, help="TOML config file")
    p.add_argument(
        "--collector",
        action="store_true",
        help="the file is a collector config (docs/collector.md)",
    )


def run(args: argparse.Namespace) -> int:
    """Print a summary of a valid config; invalid ones raise ConfigError (exit 2)."""
    if args.collector:
        return _check_collector(args.file)
    cfg = load_config(args.file)
    source = cfg.source.type if cfg.source else "none"
    print(f"{args.file}: OK (config hash {config_hash(cfg)})")
    print(f"  device {cfg.device.id} at site {cfg.device.site}, source {source}")
    print(f"  model {cfg.detector.label}, {len(cfg.lines)} line(s), {len(cfg.zones)} zone(s)")
    for ln in cfg.lines:
        print(f"  line {ln.name}: {ln.a} -> {ln.b}, in = {ln.in_name!r}, out = {ln.out_name!r}")
    ha = cfg.homeassistant
    discovery = f"on, under {ha.discovery_prefix}/" if ha.enabled else "off"
    print(f"  time zone {cfg.device.timezone}; Home Assistant discovery {discovery}")
    return 0


def _check_collector(path: Path) -> int:
    """Validate a collector config (``edge.collector.config``); print its sites and zones."""
    from edge.collector.config import load_collector_config  # noqa: PLC0415 - collector only

    cfg = load_collector_config(path, {})
    scheme = cfg.store.url.split(":", 1)[0]
    print(f"{path}: OK (collector, store {scheme}, {len(cfg.queues)} queue(s))")
    for name, site in sorted(cfg.sites.items()):
        print(
            f"  site {name}: time zone {site.timezone}" + (f", {site.name!r}" if site.name else "")
        )
    return 0
