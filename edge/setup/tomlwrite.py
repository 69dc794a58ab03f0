"""Writes a config tree as TOML: the subset ``tomllib`` reads back into the same tree.

Why not a library: ``tomli-w`` writes every array one item per line (a zone's six corners
become twenty lines) and ``tomlkit`` is a large dependency for the Pi; the device config needs
only tables, arrays of tables, and inline arrays of scalars. Round-trip tested
(``tests/unit/test_setup_toml.py``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
            "\r": "\\r"}  # fmt: skip


def _key(k: str) -> str:
    return k if _BARE_KEY.match(k) else _string(k)


def _string(s: str) -> str:
    out = []
    for ch in s:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _scalar(v: Any) -> str | None:
    """A bool, int or string as TOML; None for anything else."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return _string(v)
    return None


def _value(v: Any) -> str:
    """An inline value: string, bool, number, date/time, or an array of those."""
    text = _scalar(v)
    if text is not None:
        return text
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"TOML config values must be finite, not {v}")
        return repr(v)
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + "}"
    raise ValueError(f"cannot write {type(v).__name__} to TOML")


def _is_table_array(v: Any) -> bool:
    return isinstance(v, list | tuple) and bool(v) and all(isinstance(x, Mapping) for x in v)


def _table(tree: Mapping[str, Any], prefix: str, out: list[str]) -> None:
    """Scalars first, then sub-tables (``[a.b]``), then arrays of tables (``[[a.b]]``)."""
    for k, v in tree.items():
        if not isinstance(v, Mapping) and not _is_table_array(v):
            out.append(f"{_key(k)} = {_value(v)}")
    for k, v in tree.items():
        name = f"{prefix}{_key(k)}"
        if isinstance(v, Mapping):
            out.extend(["", f"[{name}]"])
            _table(v, name + ".", out)
        elif _is_table_array(v):
            for item in v:
                out.extend(["", f"[[{name}]]"])
                _table(item, name + ".", out)


def dumps(tree: Mapping[str, Any]) -> str:
    """The tree as TOML text (keys in the tree's order within each kind).

    Raises:
        ValueError: a value TOML cannot hold (None, NaN, an object).
    """
    out: list[str] = []
    _table(tree, "", out)
    return "\n".join(out).lstrip("\n") + "\n"
