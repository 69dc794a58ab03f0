"""``edge-counter setup``: the installer's page to draw lines and zones on the camera's picture."""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path

from edge import app
from edge.config import default_models_dir
from edge.errors import ConfigError

DEFAULT_HTTP = "127.0.0.1:8765"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the setup command."""
    p.add_argument(
        "--config",
        type=Path,
        default=Path("/etc/edge-counter/config.toml"),
        help="device config to edit; created on the first save if absent "
        "(default: /etc/edge-counter/config.toml)",
    )
    p.add_argument(
        "--source",
        metavar="FILE|URL|picamera",
        help="picture to draw on: a video file, a stream URL or camera index, or the Pi camera "
        "(default: the config's [source])",
    )
    p.add_argument(
        "--http",
        default=DEFAULT_HTTP,
        metavar="HOST:PORT",
        help=f"where the page listens (default {DEFAULT_HTTP}: this machine only; "
        "0.0.0.0:8765 opens it to the LAN)",
    )
    p.add_argument("--models-dir", type=Path, default=None, help="default: $EDGE_COUNTER_MODELS")
    p.add_argument(
        "--restart-service",
        action="store_true",
        help="after each save, run `systemctl restart edge-counter` (needs root)",
    )


def parse_http(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6).

    Raises:
        ConfigError: naming the option value.
    """
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"--http {text!r}: expected HOST:PORT, e.g. {DEFAULT_HTTP}")
    return host, int(port)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def run(args: argparse.Namespace) -> int:
    """Serve the page until Ctrl-C; 0 on Ctrl-C, 1 if the live view died."""
    host, port = parse_http(args.http)
    options = app.SetupOptions(
        config=args.config,
        source=args.source,
        host=host,
        port=port,
        models_dir=args.models_dir or default_models_dir(),
        restart_service=args.restart_service,
    )
    page = app.open_setup_page(options)
    bound, bound_port = page.address
    try:
        print(f"setup page for {args.config} (Ctrl-C to stop); open:", flush=True)
        print(f"    {page.url}", flush=True)
        if not _is_loopback(bound):
            print(
                f"listening on {bound}:{bound_port}: anyone on this network who has the "
                "address above can change the config (plain HTTP; stop the page when done)",
                file=sys.stderr,
                flush=True,
            )
    except KeyboardInterrupt:  # Ctrl-C before serving: a normal stop, as during it
        page.server.server_close()
        return 0
    return page.serve_forever()
