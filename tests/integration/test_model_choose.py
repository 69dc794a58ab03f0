"""``model choose`` on the real models and the road clip: 12 s of it at 5 detections a second.

The models directory holds what setup installs (yolox-nano, its -int8 and -416x256, nanodet-m
and its -int8) plus ``yolox-nano-blind``: yolox-nano's own weights behind a manifest that
divides every pixel by 10,000, so it sees a black picture and misses everything. The device's
config names the blind variant, so the choice must leave it: it is refused with a
disagreement of 100%, and the config is rewritten with a model that agrees.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from edge.cli import main
from edge.tools.model.choice import ChooseOptions, run_choice
from tests.conftest import CLIPS_DIR, MODELS_DIR, require_asset

ROAD = CLIPS_DIR / "road_cctv_vehicles" / "video.mp4"
SECONDS, FRAMES = 12.0, 8
YOLOX = {"yolox-nano", "yolox-nano-int8", "yolox-nano-416x256"}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The installed models, and the blind variant of yolox-nano."""
    for name in (*YOLOX, "nanodet-m"):
        manifest = json.loads(require_asset(MODELS_DIR / f"{name}.json").read_text())
        require_asset(MODELS_DIR / manifest["file"])
    out = tmp_path_factory.mktemp("models")
    for path in MODELS_DIR.iterdir():
        (out / path.name).symlink_to(path.resolve())
    blind = json.loads((MODELS_DIR / "yolox-nano.json").read_text())
    blind.update(name="yolox-nano-blind", source="yolox-nano")
    blind["input"].update(mean=[0.0, 0.0, 0.0], std=[10000.0, 10000.0, 10000.0])
    (out / "yolox-nano-blind.json").write_text(json.dumps(blind))
    return out


def write_config(path: Path, model: str, source: str | None = None) -> Path:
    source = source or f'type = "replay"\npath = "{require_asset(ROAD)}"'
    path.write_text(
        f'# the road camera\n[device]\nid = "road-1"\nstate_dir = "{path.parent / "state"}"\n\n'
        f'[source]\n{source}\n\n[detector]\nmodel = "{model}"  # chosen by hand\n'
        "threads = 2\ndetect_fps = 5.0\n\n"
        '[[lines]]\nname = "L1"\na = [108.0, 230.0]\nb = [616.0, 230.0]\n'
    )
    return path


def choose(models: Path, config: Path, *extra: str) -> int:
    args = ["model", "choose", "--config", str(config), "--models-dir", str(models)]
    return main([*args, "--seconds", str(SECONDS), "--frames", str(FRAMES), *extra])


def test_a_variant_that_misses_everything_is_refused_and_one_that_agrees_is_written(
    models: Path, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "config.toml", "yolox-nano-blind")
    before = config.read_text()
    choice = run_choice(config, ChooseOptions(seconds=SECONDS, frames=FRAMES), models)
    rows = {r.model: r for r in choice.rows}
    assert set(rows) == YOLOX | {"yolox-nano-blind"}, "the family only: no nanodet"
    assert rows["yolox-nano"].verdict.startswith(("FP32 reference", "chosen"))
    assert rows["yolox-nano"].crossings is not None and rows["yolox-nano"].crossings >= 5
    blind = rows["yolox-nano-blind"]
    assert blind.crossings == 0 and blind.disagreement == 1.0
    assert blind.verdict == f"refused: 100.0% > {choice.allowed:.1%}"
    assert choice.recording is not None and choice.recording.frames == 300
    assert choice.allowed is not None and choice.allowed >= 0.05
    chosen = rows[choice.chosen]
    assert chosen.disagreement is not None and chosen.disagreement <= choice.allowed
    agree = [r for r in choice.rows if (r.disagreement or 0.0) <= choice.allowed]
    fastest_ok = min(agree, key=lambda r: r.timing.p50_ms)
    assert chosen == fastest_ok, "the current model is refused: no hysteresis applies"
    assert all(r.timing.frames == FRAMES and r.timing.p90_ms >= r.timing.p50_ms > 0
               for r in choice.rows)  # fmt: skip

    written = tomllib.loads(config.read_text())
    assert written["detector"] == {"model": choice.chosen, "threads": 2, "detect_fps": 5.0}
    assert config.read_text().startswith("# Written by `edge-counter model choose`")
    assert choice.backup is not None and choice.backup.read_text() == before
    assert choice.backup.name.startswith("config.toml.bak-")
    assert main(["check-config", str(config)]) == 0


def test_dry_run_prints_the_table_and_writes_nothing(
    models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "config.toml", "yolox-nano-blind")
    before = config.read_bytes()
    assert choose(models, config, "--dry-run", "--tolerance", "0") == 0
    out = capsys.readouterr().out
    assert "model" in out and "ms p50" in out and "disagree" in out and "verdict" in out
    assert "yolox-nano-blind" in out and "refused: 100.0% > 0.0%" in out
    assert "--dry-run" in out and "not written (would set detector.model =" in out
    assert config.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_a_live_camera_without_a_recording_keeps_its_model_and_says_why(
    models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An OpenCV source (here the clip opened as a stream) is live: no file to replay."""
    config = write_config(tmp_path / "config.toml", "yolox-nano-int8",
                          f'type = "opencv"\nurl = "{require_asset(ROAD)}"')  # fmt: skip
    before = config.read_bytes()
    assert choose(models, config) == 0
    out = capsys.readouterr().out
    assert "yolox-nano-int8" in out and "current, kept" in out and "not checked" in out
    assert "speed alone cannot show that a variant counts like FP32" in out
    assert "--recording FILE" in out and "unchanged (detector.model = 'yolox-nano-int8')" in out
    assert config.read_bytes() == before


@pytest.mark.parametrize("bad", ["missing.mp4", "notes.mp4"])
def test_a_bad_recording_is_a_clear_error_and_exit_code_2(
    models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    config = write_config(tmp_path / "config.toml", "yolox-nano")
    before = config.read_bytes()
    (tmp_path / "notes.mp4").write_text("not a video\n")
    assert choose(models, config, "--recording", str(tmp_path / bad)) == 2
    err = capsys.readouterr().err
    assert f"edge-counter model: error: --recording {tmp_path / bad}: " in err
    assert ("no such file" if bad == "missing.mp4" else "cannot open as video") in err
    assert config.read_bytes() == before


def test_a_bad_config_is_exit_code_2_naming_the_field(
    models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "config.toml", "yolox-nano")
    config.write_text(config.read_text().replace("threads = 2", "threads = 0"))
    assert choose(models, config) == 2
    assert "detector.onnx.threads" in capsys.readouterr().err
    unknown = write_config(tmp_path / "other.toml", "no-such-model")
    assert choose(models, unknown) == 2
    assert "unknown model 'no-such-model'" in capsys.readouterr().err
