"""Which aggregate answers which part of a range (``edge.collector.rollups``)."""

from __future__ import annotations

import pytest

from edge.collector.rollups import DAY, HOUR, MINUTE, check_kept, plan, split

D = 1_717_200_000  # a UTC midnight
H = 3600


def test_a_span_is_read_from_whole_days_then_whole_hours_then_minutes() -> None:
    parts = split((D - H - 600, D + 2 * 86_400 + H + 120))
    assert parts == {
        DAY: [(D, D + 2 * 86_400)],
        HOUR: [(D - H, D), (D + 2 * 86_400, D + 2 * 86_400 + H)],
        MINUTE: [(D - H - 600, D - H), (D + 2 * 86_400 + H, D + 2 * 86_400 + H + 120)],
    }
    assert split((D + 60, D + 600)) == {DAY: [], HOUR: [], MINUTE: [(D + 60, D + 600)]}


def test_touching_ranges_merge_across_buckets() -> None:
    hours = [(D + i * H, D + (i + 1) * H) for i in range(30)]  # 1h buckets
    assert plan(hours) == {DAY: [], HOUR: [(D, D + 30 * H)], MINUTE: []}
    offset = [(D + i * H + 1800, D + (i + 1) * H + 1800) for i in range(3)]  # +05:30 hours
    assert plan(offset) == {DAY: [], HOUR: [], MINUTE: [(D + 1800, D + 3 * H + 1800)]}


def test_a_plan_needing_deleted_rows_is_refused_naming_the_setting() -> None:
    ranges = plan([(D, D + 86_400), (D + 86_400, D + 86_400 + 900)])
    check_kept(ranges, {"minute": D + 86_400, "hour": D})  # minutes needed after the mark
    with pytest.raises(ValueError, match=r"per-minute counts before .* \(retention.minute_days\)"):
        check_kept(ranges, {"minute": D + 2 * 86_400})
    with pytest.raises(ValueError, match=r"retention.hour_days.*whole UTC days"):
        check_kept(plan([(D + H, D + 86_400)]), {"hour": D + 86_400})
