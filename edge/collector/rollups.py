"""Collector read side: which aggregate table answers which part of a time range (pure).

Counts are kept per UTC minute, hour and day (``counts_minute``, ``counts_hour``,
``counts_day``), bumped together by every stored crossing. A range is split into *spans*
(its buckets, clipped to it); each span is read from the coarsest table whose rows lie whole
inside it: its whole UTC days from ``counts_day``, the whole UTC hours left at its ends from
``counts_hour``, the minutes left from ``counts_minute``. The answer is the same as from
the minutes alone, from far fewer rows, and it still holds after retention deleted the
minutes (or hours) of an old range, as long as the buckets are whole hours (or days) there.

A span that would need rows of a level older than that level's retention mark cannot be
answered exactly: ``check_kept`` says so (the API answers 400) rather than count zeros.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Level:
    """One aggregate table: its name, key column, bucket in seconds and retention level
    (``None``: kept for ever)."""

    table: str
    column: str
    step_s: int
    retention: str | None


DAY = Level("counts_day", "day", 86_400, None)
HOUR = Level("counts_hour", "hour", 3600, "hour")
MINUTE = Level("counts_minute", "minute", 60, "minute")
#: Coarsest first.
LEVELS = (DAY, HOUR, MINUTE)
#: ``[retention]`` field of each retained level (for messages).
_DAYS_FIELD = {"hour": "retention.hour_days", "minute": "retention.minute_days"}

Span = tuple[int, int]


def _up(t: int, step: int) -> int:
    return -(-t // step) * step


def _down(t: int, step: int) -> int:
    return t // step * step


def split(span: Span) -> dict[Level, list[Span]]:
    """The parts of ``[a, b)`` each level answers: whole days, whole hours, minutes."""
    a, b = span
    out: dict[Level, list[Span]] = {lv: [] for lv in LEVELS}
    rest = [(a, b)]
    for lv in (DAY, HOUR):
        left = []
        for x, y in rest:
            lo, hi = _up(x, lv.step_s), _down(y, lv.step_s)
            if lo < hi:
                out[lv].append((lo, hi))
                left += [(x, lo), (hi, y)]
            else:
                left.append((x, y))
        rest = [(x, y) for x, y in left if x < y]
    out[MINUTE] = rest
    return out


def plan(spans: Iterable[Span]) -> dict[Level, list[Span]]:
    """Ranges of each level covering ``spans`` (in order), adjacent ranges merged."""
    out: dict[Level, list[Span]] = {lv: [] for lv in LEVELS}
    for span in spans:
        for lv, parts in split(span).items():
            for lo, hi in parts:
                ranges = out[lv]
                if ranges and ranges[-1][1] == lo:
                    ranges[-1] = (ranges[-1][0], hi)
                else:
                    ranges.append((lo, hi))
    return out


def check_kept(ranges: Mapping[Level, list[Span]], marks: Mapping[str, float]) -> None:
    """Refuse a plan that needs rows retention deleted (``marks``: level -> cutoff).

    Raises:
        ValueError: naming the level, its cutoff and the retention field.
    """
    for lv in (MINUTE, HOUR):
        mark = marks.get(lv.retention or "")
        needed = [lo for lo, _ in ranges.get(lv, []) if mark is not None and lo < mark]
        if mark is not None and needed:
            since = datetime.fromtimestamp(mark, UTC).isoformat()
            whole = "hours" if lv is MINUTE else "days"
            raise ValueError(
                f"per-{lv.column} counts before {since} are deleted ({_DAYS_FIELD[lv.column]}); "
                f"this range needs them from {datetime.fromtimestamp(needed[0], UTC).isoformat()}"
                f": use buckets of whole UTC {whole} there (and a start and end on them), or a "
                f"later start"
            )
