"""The collector's ``[retention]`` section: defaults and errors naming the field."""

from __future__ import annotations

import pytest

from edge.collector.config import load_collector_config
from edge.errors import ConfigError


def test_defaults_delete_nothing_younger_than_400_days_and_keep_hours() -> None:
    r = load_collector_config(None, {}).retention
    assert r.days() == {"events": 400, "minute": 400, "hour": 0}
    assert r.every_s == 3600


@pytest.mark.parametrize(
    ("section", "words"),
    [
        ({"events_days": -1}, ["retention.events_days", "greater than or equal to 0"]),
        ({"every_s": 5}, ["retention.every_s", "greater than or equal to 60"]),
        ({"minute_days": "a year"}, ["retention.minute_days"]),
        ({"keep": 3}, ["retention.keep", "Extra inputs are not permitted"]),
        ({"minute_days": 30, "hour_days": 10}, ["retention", "hour_days = 10", "minute_days"]),
        ({"minute_days": 0, "hour_days": 10}, ["hour_days = 10", "for ever (0)"]),
    ],
)
def test_bad_values_name_the_field(section: dict[str, object], words: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        load_collector_config(None, {"retention": section})
    for word in words:
        assert word in str(err.value), str(err.value)


def test_zero_keeps_a_level_for_ever() -> None:
    r = load_collector_config(None, {"retention": {"events_days": 0, "hour_days": 0}}).retention
    assert r.days() == {"events": 0, "minute": 400, "hour": 0}
