"""What ``edge-counter demo`` replays: the sample clip, or your video with your lines."""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.commands import demo
from edge.errors import ConfigError


def args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    demo.add_arguments(parser)
    return parser.parse_args(argv)


@pytest.fixture
def video(tmp_path: Path) -> Path:
    """50 grey frames, 320x240 at 25 fps: 2 s."""
    path = tmp_path / "cam.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 25.0, (320, 240))
    for _ in range(50):
        writer.write(np.full((240, 320, 3), 128, np.uint8))
    writer.release()
    return path


def test_your_video_with_lines_from_a_config(tmp_path: Path, video: Path) -> None:
    config = tmp_path / "gate.toml"
    config.write_text(
        '[[lines]]\nname = "Gate"\na = [10, 200]\nb = [300, 200]\n'
        'in_name = "to Georgia"\nout_name = "to Russia"\n'
        "[detector]\ndetect_fps = 5\n"
    )
    scene = demo._scene(args("--video", str(video), "--config", str(config)))
    assert scene.truth is None and scene.video.path == video
    cfg = demo.demo_config(args("--config", str(config)), scene, tmp_path, "mqtt://127.0.0.1:1")
    assert [ln.name for ln in cfg.lines] == ["Gate"]
    assert cfg.lines[0].in_name == "to Georgia"
    assert cfg.detector.detect_fps == 5
    assert cfg.source is not None and cfg.source.type == "replay"
    assert cfg.source.path == video and cfg.mqtt is not None
    assert cfg.mqtt.url == "mqtt://127.0.0.1:1"
    assert cfg.device.state_dir == tmp_path / "state"


def test_line_options_replace_the_config_lines(tmp_path: Path, video: Path) -> None:
    scene = demo._scene(args("--video", str(video), "--line", "A:0,100,320,100"))
    assert [(ln.name, ln.a, ln.b) for ln in scene.lines] == [("A", (0, 100), (320, 100))]


def test_your_video_needs_a_line(video: Path) -> None:
    with pytest.raises(ConfigError, match=r"no counting line: pass --line NAME:AX,AY,BX,BY"):
        demo._scene(args("--video", str(video)))


def test_without_the_clip_it_says_how_to_fetch_it_or_use_your_video(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDGE_COUNTER_DATA", str(tmp_path))
    with pytest.raises(ConfigError, match=r"assets fetch --for demo.*--video FILE --line"):
        demo._scene(args())


def test_a_line_outside_your_video_is_refused_before_anything_starts(
    video: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from edge.cli import main

    assert main(["demo", "--video", str(video), "--line", "G:10,10,400,10", "--exit"]) == 2
    captured = capsys.readouterr()
    assert "end point b (400, 10) of line 'G' lies outside the 320x240 picture" in captured.err
    assert "demo:" not in captured.out  # no broker, collector or dashboard was started


def test_a_missing_video_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from edge.cli import main

    missing = tmp_path / "nope.mp4"
    assert main(["demo", "--video", str(missing), "--line", "G:1,1,5,5", "--exit"]) == 2
    assert f"{missing}: no such video file" in capsys.readouterr().err
