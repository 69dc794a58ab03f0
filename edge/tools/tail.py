"""Print the decoded messages a device sends: a subscriber for people, for debugging a site."""

from __future__ import annotations

import sys
import time

from edge import wire
from edge.config import MqttConfig
from edge.errors import ConfigError, WireError
from edge.publish.subscriber import Subscriber


def tail(cfg: MqttConfig, kind: str, count: int = 0, idle_exit_s: float = 0.0) -> int:
    """Print one line per message: receive time, topic, normalised JSON. Malformed → stderr.

    Args:
        cfg: the broker connection.
        kind: only this topic kind (``#`` for all).
        count: return after this many valid messages (0: never).
        idle_exit_s: return after this long without a message (0: never).

    Returns:
        The valid messages printed.

    Raises:
        ConfigError: an unknown ``kind``.
    """
    if kind != "#" and kind not in wire.KINDS:
        raise ConfigError(f"--kind {kind!r}: expected one of {sorted(wire.KINDS)}")
    sub = Subscriber(cfg, [wire.subscription(cfg.topic_prefix, kind)])
    sub.start()
    good, last = 0, time.monotonic()
    try:
        while not (count and good >= count):
            got = sub.get(0.2)
            if got is None:
                if idle_exit_s and time.monotonic() - last >= idle_exit_s:
                    break
                continue
            last = time.monotonic()
            good += _show(*got)
    finally:
        sub.stop()
    return good


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
