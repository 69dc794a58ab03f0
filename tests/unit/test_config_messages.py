"""Validation errors in a person's words: which line or zone, which point, what to do."""

from __future__ import annotations

import pytest

from edge.config import (
    check_lines_inside,
    check_zones_inside,
    parse_config,
    parse_line_option,
    parse_zone_option,
)
from edge.errors import ConfigError


def test_a_line_with_one_point_twice_names_the_line_and_the_point() -> None:
    with pytest.raises(ConfigError) as err:
        parse_line_option("Gate:10,20,10,20")
    assert str(err.value) == (
        "--line 'Gate:10,20,10,20': line 'Gate': a and b are the same point (10, 20); "
        "a line needs two different end points"
    )


def test_the_same_in_a_config_file_keeps_the_dotted_path() -> None:
    tree = {"lines": [{"name": "Gate", "a": [5, 5], "b": [5, 5]}]}
    with pytest.raises(ConfigError) as err:
        parse_config(tree, "site.toml")
    assert str(err.value).startswith("site.toml: lines.0: line 'Gate': a and b are the same")
    assert "Value error" not in str(err.value)


def test_a_zone_needs_three_points() -> None:
    tree = {"zones": [{"name": "queue", "polygon": [[1, 1], [5, 5]]}]}
    with pytest.raises(ConfigError) as err:
        parse_config(tree, "site.toml")
    assert str(err.value) == (
        "site.toml: zones.0.polygon: zone 'queue' has 2 point(s); a zone needs at least 3 "
        "(a polygon)"
    )


def test_points_outside_the_picture_say_where_the_picture_ends() -> None:
    with pytest.raises(ConfigError) as err:
        check_lines_inside((parse_line_option("far:10,10,700,10"),), 640, 360)
    assert str(err.value) == (
        "lines.far.b: end point b (700, 10) of line 'far' lies outside the 640x360 picture "
        "(x 0..640, y 0..360)"
    )
    with pytest.raises(ConfigError, match=r"zones\.q\.polygon: point 3 \(0, 400\) of zone 'q'"):
        check_zones_inside((parse_zone_option("q:0,0,10,0,0,400"),), 640, 360)
