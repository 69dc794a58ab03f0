"""The setup command's options: ``--http`` and ``--source``."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.commands.setup import DEFAULT_HTTP, parse_http
from edge.config import OpenCVSourceConfig, PicameraSourceConfig, ReplaySourceConfig
from edge.errors import ConfigError
from edge.setup.options import parse_source_option


def test_the_default_address_is_localhost() -> None:
    assert parse_http(DEFAULT_HTTP) == ("127.0.0.1", 8765)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.0.0.0:80", ("0.0.0.0", 80)),
        ("[::1]:9000", ("::1", 9000)),
        ("pi.local:0", ("pi.local", 0)),
    ],
)
def test_http_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_http(text) == expected


@pytest.mark.parametrize("text", ["8765", "host:", ":8765", "host:port", "host:70000"])
def test_bad_http_addresses_name_the_option(text: str) -> None:
    with pytest.raises(ConfigError, match="--http"):
        parse_http(text)


def test_sources(tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"")
    assert parse_source_option("picamera") == PicameraSourceConfig()
    assert parse_source_option("rtsp://cam/1") == OpenCVSourceConfig(url="rtsp://cam/1")
    assert parse_source_option("0") == OpenCVSourceConfig(url="0")
    assert parse_source_option(str(video)) == ReplaySourceConfig(path=video.resolve())
    with pytest.raises(ConfigError, match="no such video file"):
        parse_source_option(str(tmp_path / "missing.mp4"))
