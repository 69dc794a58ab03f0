"""The setup page's save: validated as check-config does, errors with their dotted path and
line, every other key kept, the previous file backed up."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

from edge.config import ReplaySourceConfig, load_config
from edge.errors import ConfigError
from edge.setup.configfile import ConfigFile, SaveRefused

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "border-checkpoint.toml"
SIZE = (640, 360)
GOOD_LINE = {"name": "gate", "a": [100.0, 200.0], "b": [500.0, 210.0],
             "in_name": "to Georgia", "out_name": "to Russia"}  # fmt: skip


def refused(file: ConfigFile, edit: dict[str, object]) -> list[tuple[str, str, int | None]]:
    with pytest.raises(SaveRefused) as info:
        file.save(edit, SIZE)
    return [(p.path, p.section, p.index) for p in info.value.problems]


def test_a_new_file_gets_the_first_look_source_and_the_lines(tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    path = tmp_path / "etc" / "config.toml"
    file = ConfigFile(path, ReplaySourceConfig(path=video))
    saved = file.save({"lines": [GOOD_LINE], "zones": [], "roi": [0, 40, 640, 360]}, SIZE)
    assert saved.backup is None
    cfg = load_config(path)
    assert cfg.source == ReplaySourceConfig(path=video)
    assert [(ln.name, ln.a, ln.b, ln.in_name, ln.out_name) for ln in cfg.lines] == [
        ("gate", (100.0, 200.0), (500.0, 210.0), "to Georgia", "to Russia")
    ]
    assert cfg.detector.roi_xyxy == (0, 40, 640, 360)  # type: ignore[union-attr]
    assert "zones" not in tomllib.loads(path.read_text())


def test_an_existing_file_keeps_its_other_keys_and_is_backed_up(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    shutil.copy(EXAMPLE, path)
    before = load_config(path)
    file = ConfigFile(path, None)
    edit = file.editable()
    assert [ln["name"] for ln in edit["lines"]] == ["road", "walkway"]
    edit["lines"][0]["a"] = [80.0, 260.0]  # classes, in_name and out_name ride along
    saved = file.save(edit, SIZE)
    assert saved.backup is not None and saved.backup.read_text() == EXAMPLE.read_text()
    after = load_config(path)
    assert after.lines[0].a == (80.0, 260.0)
    assert after.lines[0].classes == before.lines[0].classes
    assert after.model_copy(update={"lines": before.lines}) == before
    second = file.save(edit, SIZE)
    assert second.backup is not None and second.backup != saved.backup  # each save keeps one


def test_refusals_name_the_dotted_path_and_the_line(tmp_path: Path) -> None:
    file = ConfigFile(tmp_path / "c.toml", None)
    bad_name = {**GOOD_LINE, "name": "bad name!"}
    outside = {**GOOD_LINE, "name": "far", "b": [700.0, 200.0]}
    assert refused(file, {"lines": [GOOD_LINE, bad_name]}) == [("lines.1.name", "lines", 1)]
    assert refused(file, {"lines": [GOOD_LINE, outside]}) == [("lines.far.b", "lines", 1)]
    two = {"name": "q", "polygon": [[1.0, 1.0], [5.0, 5.0]]}
    assert refused(file, {"lines": [], "zones": [two]}) == [("zones.0.polygon", "zones", 0)]
    assert refused(file, {"lines": [GOOD_LINE, GOOD_LINE]}) == [("<root>", "", None)]
    assert refused(file, {"lines": [], "roi": [0, 0, 700, 300]}) == [
        ("detector.roi_xyxy", "detector", None)
    ]
    assert refused(file, {"lines": [{**GOOD_LINE, "colour": "red"}]}) == [
        ("lines.0.colour", "lines", 0)
    ]
    assert not (tmp_path / "c.toml").exists()


def test_an_invalid_file_is_refused_at_start(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[device]\nid = 'has space'\n")
    with pytest.raises(ConfigError, match=r"device\.id"):
        ConfigFile(path, None)
