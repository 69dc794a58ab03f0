"""The device service's config sections: the example validates, bad values name their path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge.config import PicameraSourceConfig, load_config, parse_config
from edge.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_pi_camera_example_passes_check_config() -> None:
    example = ROOT / "examples" / "pi-camera.toml"
    out = subprocess.run(
        [sys.executable, "-m", "edge.cli", "check-config", str(example)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    cfg = load_config(example)
    assert isinstance(cfg.source, PicameraSourceConfig)
    assert cfg.service.drain_timeout_s == 10.0 and cfg.health.startup_grace_s == 30.0


@pytest.mark.parametrize(
    ("tree", "path"),
    [
        ({"source": {"type": "opencv", "url": "0", "reconnect_min_s": 5, "reconnect_max_s": 1}},
         "source.opencv"),
        ({"source": {"type": "opencv", "url": ""}}, "source.opencv.url"),
        ({"source": {"type": "opencv", "url": "0", "frozen_after_s": 0}},
         "source.opencv.frozen_after_s"),
        ({"source": {"type": "picamera", "width": 1281}}, "source.picamera.width"),
        ({"source": {"type": "picamera", "fps": 500}}, "source.picamera.fps"),
        ({"health": {"latency_window_frames": 2}}, "health.latency_window_frames"),
        ({"health": {"fps_window": 10}}, "health.fps_window"),
        ({"service": {"drain_timeout_s": -1}}, "service.drain_timeout_s"),
    ],
)  # fmt: skip
def test_invalid_service_fields_name_their_dotted_path(tree: dict[str, object], path: str) -> None:
    with pytest.raises(ConfigError, match=rf"<t>: {path}"):
        parse_config(tree, "<t>")
