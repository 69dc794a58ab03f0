"""Time buckets aligned to a site's local clock: table tests."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise

import pytest

from edge.collector.buckets import (
    bucket_edges,
    bucket_start,
    chunk_s,
    local_midnight,
    parse_bucket,
    parse_time,
    timezone,
)


def utc(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1m", 60), ("15m", 900), ("1h", 3600), ("1d", 86_400), ("120", 120), ("86400", 86_400)],
)
def test_parse_bucket_accepts(text: str, seconds: int) -> None:
    assert parse_bucket(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "59", "7m", "90", "7", "2d", "172800", "1h ", "-60"])
def test_parse_bucket_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="bucket"):
        parse_bucket(text)


@pytest.mark.parametrize(
    ("zone", "t", "bucket", "expected"),
    [
        ("UTC", utc(2024, 5, 1, 10, 59), 3600, utc(2024, 5, 1, 10)),
        ("Asia/Kolkata", utc(2024, 5, 1, 10, 59), 3600, utc(2024, 5, 1, 10, 30)),  # +05:30
        ("Asia/Kathmandu", utc(2024, 5, 1, 10, 59), 3600, utc(2024, 5, 1, 10, 15)),  # +05:45
        ("Europe/Warsaw", utc(2024, 5, 1, 21, 59), 86_400, utc(2024, 4, 30, 22)),  # 23:59 CEST
        ("Europe/Warsaw", utc(2024, 1, 1, 12), 86_400, utc(2023, 12, 31, 23)),  # CET midnight
        ("America/New_York", utc(2024, 3, 10, 12), 21_600, utc(2024, 3, 10, 10)),  # 06:00 EDT
    ],
)
def test_bucket_start_follows_local_clock(zone: str, t: int, bucket: int, expected: int) -> None:
    assert bucket_start(t, bucket, timezone(zone)) == expected
    assert expected % chunk_s(bucket) == 0, "the SQL chunk must divide every bucket boundary"


def test_daily_buckets_are_23_and_25_hours_on_dst_days() -> None:
    tz = timezone("Europe/Warsaw")
    edges = bucket_edges(utc(2024, 3, 30, 12), utc(2024, 3, 31, 21), 86_400, tz)
    assert [b - a for a, b in pairwise(edges)] == [86_400]
    edges = bucket_edges(utc(2024, 3, 30, 12), utc(2024, 4, 2), 86_400, tz)
    assert [b - a for a, b in pairwise(edges)] == [86_400, 23 * 3600, 86_400]
    edges = bucket_edges(utc(2024, 10, 26, 12), utc(2024, 10, 29), 86_400, tz)
    assert [b - a for a, b in pairwise(edges)] == [86_400, 25 * 3600, 86_400]


def test_hourly_edges_cover_the_window_without_gaps() -> None:
    edges = bucket_edges(utc(2024, 5, 1, 0, 30), utc(2024, 5, 1, 3), 3600, timezone("UTC"))
    assert edges == [utc(2024, 5, 1, h) for h in range(3)]


def test_too_many_buckets_is_an_error() -> None:
    with pytest.raises(ValueError, match="buckets"):
        bucket_edges(0, 20_000 * 60, 60, timezone("UTC"))


def test_local_midnight() -> None:
    assert local_midnight(utc(2024, 5, 1, 21, 30), timezone("Europe/Warsaw")) == utc(
        2024, 4, 30, 22
    )
    assert local_midnight(utc(2024, 5, 1, 22, 30), timezone("Europe/Warsaw")) == utc(2024, 5, 1, 22)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1714521600", utc(2024, 5, 1)),
        ("1714521600.9", utc(2024, 5, 1)),
        ("2024-05-01T00:00:00Z", utc(2024, 5, 1)),
        ("2024-05-01T02:00:00+02:00", utc(2024, 5, 1)),
        ("2024-05-01T02:00:00", utc(2024, 5, 1)),  # no offset: local to the zone asked for
        ("2024-05-01", utc(2024, 4, 30, 22)),
    ],
)
def test_parse_time(text: str, expected: int) -> None:
    assert parse_time(text, timezone("Europe/Warsaw")) == expected


@pytest.mark.parametrize("text", ["yesterday", "nan", "inf", "-1", "1e20", "2024-13-01"])
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="time"):
        parse_time(text, timezone("UTC"))


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd", "UTC\x00"])
def test_unknown_time_zone(name: str) -> None:
    with pytest.raises(ValueError, match="time zone"):
        timezone(name)
