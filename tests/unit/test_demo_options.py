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
