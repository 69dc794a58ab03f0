"""Config loading and command-line parsing: errors name the file and the dotted path."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import check_lines_inside, load_config, parse_line_option
from edge.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "border-checkpoint.toml"


def test_example_config_is_valid() -> None:
    cfg = load_config(EXAMPLE)
    assert [ln.name for ln in cfg.lines] == ["road", "walkway"]
    assert cfg.lines[0].in_name == "to Georgia"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[detector]\nthreads = 0\n", "detector.onnx.threads"),
        ("[detector]\nbogus = 1\n", "detector.onnx.bogus"),
        (
            '[detector]\ntype = "scripted"\npath = "d.jsonl"\nmodel = "x"\n',
            "detector.scripted.model",
        ),
        ('[detector]\ntype = "tflite"\n', "detector: type must be"),
        ('[[lines]]\nname = "L1"\na = [1, 2]\nb = [1, 2]\n', "lines.0"),
        ('[[lines]]\nname = "bad name!"\na = [1, 2]\nb = [3, 4]\n', "lines.0.name"),
        ('[source]\ntype = "floppy"\n', "source"),
        ("not = [toml", "not valid TOML"),
    ],
)
def test_bad_config_names_file_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.toml")


def test_line_option_parses() -> None:
    ln = parse_line_option("gate:10,20,30.5,40")
    assert (ln.name, ln.a, ln.b) == ("gate", (10.0, 20.0), (30.5, 40.0))


@pytest.mark.parametrize("text", ["L1", "L1:1,2,3", "L1:a,b,c,d", ":1,2,3,4", "L1:1,1,1,1"])
def test_malformed_line_option(text: str) -> None:
    with pytest.raises(ConfigError, match="--line"):
        parse_line_option(text)


def test_line_outside_frame_is_named() -> None:
    ln = parse_line_option("far:10,10,700,10")
    with pytest.raises(ConfigError, match=r"lines\.far\.b.*640x360"):
        check_lines_inside((ln,), 640, 360)
