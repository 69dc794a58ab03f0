"""The setup page's TOML writer: whatever it writes, ``tomllib`` reads back as the same tree."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.config import load_config
from edge.setup.tomlwrite import dumps

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.toml"))

keys = st.text(min_size=1, max_size=12)
scalars = (
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.datetimes(timezones=st.just(dt.UTC)).map(lambda d: d.replace(microsecond=0))
)
inline = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4), max_leaves=8)
tables = st.recursive(
    st.dictionaries(keys, inline, max_size=4),
    lambda inner: st.dictionaries(
        keys, inline | inner | st.lists(inner, min_size=1, max_size=3), max_size=4
    ),
    max_leaves=12,
)


@given(tables)
def test_any_tree_reads_back_the_same(tree: dict[str, Any]) -> None:
    assert tomllib.loads(dumps(tree)) == tree


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_the_example_configs_read_back_the_same(path: Path, tmp_path: Path) -> None:
    tree = tomllib.loads(path.read_text())
    out = tmp_path / path.name
    out.write_text(dumps(tree))
    assert tomllib.loads(out.read_text()) == tree
    assert load_config(out) == load_config(path)


def test_points_stay_on_one_line() -> None:
    text = dumps({"lines": [{"name": "road", "a": [60.0, 250.5], "b": [610, 250]}]})
    assert text == '[[lines]]\nname = "road"\na = [60.0, 250.5]\nb = [610, 250]\n'


def test_values_toml_cannot_hold_are_refused() -> None:
    with pytest.raises(ValueError, match="finite"):
        dumps({"x": float("nan")})
    with pytest.raises(ValueError, match="NoneType"):
        dumps({"x": None})
