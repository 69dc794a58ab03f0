"""``edge-counter tail``: a minimal reference subscriber printing every decoded message."""

from __future__ import annotations

import argparse
from pathlib import Path

from pydantic import ValidationError

from edge.config import MqttConfig, format_validation_error
from edge.errors import ConfigError
from edge.tools.tail import tail


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the tail command."""
    p.add_argument("url", help="broker, mqtt://host[:port] or mqtts://host[:port]")
    p.add_argument("--prefix", default="edge", help="topic prefix (default: edge)")
    p.add_argument("--kind", default="#", help="only this topic kind: events, counts, state...")
    p.add_argument("--protocol", choices=["5", "3.1.1"], default="5")
    p.add_argument("--username")
    p.add_argument("--password-file", type=Path, help="file holding the password")
    p.add_argument("--ca-file", type=Path, help="CA certificate for TLS")
    p.add_argument("--cert-file", type=Path, help="client certificate for TLS")
    p.add_argument("--key-file", type=Path, help="client key for TLS")
    p.add_argument("--count", type=int, default=0, help="exit after this many valid messages")
    p.add_argument("--idle-exit-s", type=float, default=0.0, help="exit after this long silent")


def _config(args: argparse.Namespace) -> MqttConfig:
    try:
        return MqttConfig(
            url=args.url, topic_prefix=args.prefix, protocol=args.protocol,
            username=args.username, password_file=args.password_file, ca_file=args.ca_file,
            cert_file=args.cert_file, key_file=args.key_file,
        )  # fmt: skip
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, "tail options")) from None


def run(args: argparse.Namespace) -> int:
    """Print one line per message (``edge.tools.tail``).

    Returns:
        0 when ``--count`` or ``--idle-exit-s`` ends the run (or on Ctrl-C, via the CLI).
    """
    tail(_config(args), args.kind, args.count, args.idle_exit_s)
    return 0
