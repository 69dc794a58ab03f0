"""Wire format, topics: the topic grammar shared by the agent and the collector.

    <prefix>/v1/<site>/<device>/<kind>[/<name>]

``site``, ``device`` and ``name`` (a line or zone) match ``NAME_PATTERN``: letters, digits,
``_ . -``, 1 to 64 characters, so a topic splits unambiguously on ``/``.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

from edge.errors import WireError

TOPIC_VERSION = "v1"
KINDS_WITH_NAME = frozenset({"events", "counts", "zones"})
KINDS = frozenset({"status", "state", "telemetry", "ack"}) | KINDS_WITH_NAME
NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
_NAME_RE = re.compile(NAME_PATTERN)


class Topic(BaseModel):
    """A parsed topic."""

    model_config = ConfigDict(frozen=True)
    prefix: str
    site: str
    device_id: str
    kind: str
    name: str | None = None

    def __str__(self) -> str:
        base = f"{self.prefix}/{TOPIC_VERSION}/{self.site}/{self.device_id}/{self.kind}"
        return f"{base}/{self.name}" if self.name else base


def topic(prefix: str, site: str, device_id: str, kind: str, name: str | None = None) -> str:
    """Build a topic string. ``name`` is the line or zone for events, counts and zones."""
    if kind not in KINDS:
        raise WireError(f"unknown topic kind {kind!r}")
    if (kind in KINDS_WITH_NAME) != (name is not None):
        raise WireError(f"topic kind {kind!r} {'needs' if name is None else 'takes no'} a name")
    return str(Topic(prefix=prefix, site=site, device_id=device_id, kind=kind, name=name))


def subscription(prefix: str, kind: str = "#", share_group: str | None = None) -> str:
    """Topic filter for every device's ``kind`` messages (``#``: all), optionally shared."""
    tail = "#" if kind == "#" else (f"{kind}/+" if kind in KINDS_WITH_NAME else kind)
    filt = f"{prefix}/{TOPIC_VERSION}/+/+/{tail}"
    return f"$share/{share_group}/{filt}" if share_group else filt


def _version_index(parts: list[str]) -> int | None:
    """Where the version segment is, read from the kind at the end: a site, device or line
    may itself be called ``v1`` (or ``state``), so the first ``v1`` from the right is not it."""
    n = len(parts)
    if n >= 6 and parts[-2] in KINDS_WITH_NAME and parts[-5] == TOPIC_VERSION:
        return n - 5
    if n >= 5 and parts[-1] in KINDS - KINDS_WITH_NAME and parts[-4] == TOPIC_VERSION:
        return n - 4
    return None


def parse_topic(text: str) -> Topic:
    """Split a topic into its parts; the prefix may itself contain slashes.

    Raises:
        WireError: the topic does not follow the layout.
    """
    parts = text.split("/")
    vi = _version_index(parts)
    if vi is None:  # not the layout: find a version segment to say what is wrong
        try:
            vi = len(parts) - 1 - parts[::-1].index(TOPIC_VERSION, 2)
        except ValueError:
            raise WireError(f"topic {text!r}: no '{TOPIC_VERSION}' segment") from None
    prefix, rest = "/".join(parts[:vi]), parts[vi + 1 :]
    if not prefix or len(rest) not in (3, 4) or rest[2] not in KINDS:
        raise WireError(f"topic {text!r}: expected <prefix>/v1/<site>/<device>/<kind>[/<name>]")
    kind = rest[2]
    bad = [seg for seg in (rest[0], rest[1], *rest[3:]) if not _NAME_RE.match(seg)]
    if bad:
        raise WireError(f"topic {text!r}: segment {bad[0]!r} is not a valid name")
    if (kind in KINDS_WITH_NAME) != (len(rest) == 4):
        raise WireError(f"topic {text!r}: kind {kind!r} has the wrong number of segments")
    return Topic(
        prefix=prefix,
        site=rest[0],
        device_id=rest[1],
        kind=kind,
        name=rest[3] if len(rest) == 4 else None,
    )
