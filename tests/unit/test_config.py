"""Config loading and command-line parsing: errors name the file and the dotted path."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.cli import main
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
        ('[[lines]]\nname = "L1"\na = [nan, 230.0]\nb = [3, 4]\n', "lines.0.a"),
        ('[[lines]]\nname = "L1"\na = [1, 2]\nb = [inf, 4]\n', "lines.0.b"),
        ('[[zones]]\nname = "Z"\npolygon = [[0, 0], [9, 0], [9, -inf]]\n', "zones.0.polygon"),
        ("[health]\nfps_window_s = nan\n", "health.fps_window_s"),
        ('[device]\ntimezone = "Asia/Tbilsi"\n', "device.timezone"),
        ('[device]\ntimezone = "/etc/localtime"\n', "device.timezone"),
        ('[device]\ntimezone = ""\n', "device.timezone"),
        ('[device]\ntimezone = "localtime"\n', "device.timezone"),
        ('[device]\ntimezone = "Factory"\n', "device.timezone"),
        ('[[lines]]\nname = "L1"\na = [1, 2]\nb = [3, 4]\nin_name = ""\n', "lines.0.in_name"),
        ('[[lines]]\nname = "L1"\na = [1, 2]\nb = [3, 4]\nout_name = "a\\u0007"\n', "out_name"),
        ('[[lines]]\nname = "L1"\na = [1, 2]\nb = [3, 4]\nclasses = ["cat"]\n', "'cat'"),
    ],
)
def test_bad_config_names_file_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


@pytest.mark.parametrize(
    "data",
    [b"\xff\xfe[\x00d\x00e\x00", bytes(range(256)), b'[device]\nid = "caf\xe9"\n'],
    ids=["utf-16", "binary", "latin-1"],
)
def test_a_config_that_is_not_utf8_text_is_one_clear_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "c.toml"
    path.write_bytes(data)
    with pytest.raises(ConfigError, match="not a text config") as err:
        load_config(path)
    assert str(path) in str(err.value)


def test_check_config_on_a_binary_file_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.toml"
    path.write_bytes(bytes(range(256)))
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0] and "UTF-8" in err[0]


def test_check_config_refuses_a_misspelt_time_zone_naming_its_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[device]\ntimezone = "Asia/Tbilsi"\n')
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: device.timezone:" in err and "'Asia/Tbilisi'" in err  # the hint
    path.write_text('[device]\ntimezone = "Asia/Tbilisi"\n')
    assert main(["check-config", str(path)]) == 0


@pytest.mark.parametrize("text", ["L1:nan,1,5,5", "L1:1,1,inf,5"])
def test_line_option_refuses_nan_and_inf(text: str) -> None:
    with pytest.raises(ConfigError, match="--line"):
        parse_line_option(text)


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


def test_detector_threads_follow_the_cores_this_process_may_use(tmp_path: Path) -> None:
    import os

    from edge.config.detector import OnnxDetectorConfig

    assert OnnxDetectorConfig().threads == min(16, len(os.sched_getaffinity(0)))
    assert OnnxDetectorConfig(threads=1).threads == 1
    path = tmp_path / "device.toml"
    path.write_text('[device]\nid = "cam"\n[detector]\nthreads = 0\n')
    with pytest.raises(ConfigError, match=r"detector\.onnx\.threads"):
        load_config(path)
