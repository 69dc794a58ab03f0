"""``edge-counter tail``: a minimal reference subscriber printing every decoded message."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from pydantic import ValidationError

from edge import wire
from edge.config import MqttConfig, format_validation_error
from edge.errors import ConfigError, WireError
from edge.publish.subscriber import Subscriber


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
    """Print one line per message: receive time, topic, normalised JSON. Malformed → stderr.

    Returns:
        0 when ``--count`` or ``--idle-exit-s`` ends the run (or on Ctrl-C, via the CLI).
    """
    cfg = _config(args)
    kind = args.kind
    if kind != "#" and kind not in wire.KINDS:
        raise ConfigError(f"--kind {kind!r}: expected one of {sorted(wire.KINDS)}")
    sub = Subscriber(cfg, [wire.subscription(cfg.topic_prefix, kind)])
    sub.start()
    good, last = 0, time.monotonic()
    try:
        while not (args.count and good >= args.count):
            got = sub.get(0.2)
            if got is None:
                if args.idle_exit_s and time.monotonic() - last >= args.idle_exit_s:
                    break
                continue
            last = time.monotonic()
            good += _show(*got)
    finally:
        sub.stop()
    return 0


def _show(topic: str, payload: bytes, received_utc_s: float) -> int:
    try:
        _, msg = wire.decode_for_topic(topic, payload)
    except WireError as err:
        sys.stderr.write(f"edge-counter tail: rejected {topic}: {err}\n")
        sys.stderr.flush()
        return 0
    sys.stdout.write(f"{wire.utc_iso(received_utc_s)} {topic} {wire.encode(msg).decode()}\n")
    sys.stdout.flush()
    return 1
