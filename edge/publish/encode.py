"""Publish stage, encoding: outbox records and tallies as ``edge.wire`` models."""

from __future__ import annotations

from collections.abc import Iterable

from edge import wire
from edge.types import CountRecord


def by_line(recs: Iterable[CountRecord]) -> dict[str, list[CountRecord]]:
    """Records grouped by line, each group in the given order (one events message per line)."""
    groups: dict[str, list[CountRecord]] = {}
    for r in recs:
        groups.setdefault(r.crossing.line, []).append(r)
    return groups


def event(r: CountRecord) -> wire.Event:
    """A journaled crossing as a wire event; track id and confidence clamped to their ranges.

    Raises:
        ValidationError: a field the wire format cannot carry (e.g. a line name it refuses).
    """
    c = r.crossing
    return wire.Event.model_validate(
        {"device_id": r.device_id, "outbox_id": r.outbox_id, "epoch": r.epoch, "seq": r.seq,
         "ts": r.event_utc_s, "line": c.line, "direction": c.direction, "class": c.class_name,
         "track_id": max(0, c.track_id), "confidence": min(1.0, max(0.0, c.confidence))}
    )  # fmt: skip


def dir_counts(counts: dict[str, dict[str, int]]) -> wire.DirectionCounts:
    """Outbox counts (direction -> class -> n) as the wire's ``{"in": .., "out": ..}``."""
    return wire.DirectionCounts.model_validate(
        {"in": counts.get("in", {}), "out": counts.get("out", {})}
    )
