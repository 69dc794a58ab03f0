"""The setup page's options, as the ``setup`` command passes them to ``edge.app``, and its
source: ``--source`` or the config's, a file played at its recorded speed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edge.config import (
    AppConfig,
    OpenCVSourceConfig,
    PicameraSourceConfig,
    ReplaySourceConfig,
    SourceConfig,
)
from edge.errors import ConfigError

#: The device service's systemd unit (``systemd/edge-counter.service``).
SERVICE_UNIT = "edge-counter"


@dataclass(frozen=True)
class SetupOptions:
    """What the installer asked for.

    Attributes:
        config: the device TOML to edit (created on the first save if absent).
        source: ``FILE``, ``URL`` (or camera index / ``/dev/videoN``) or ``picamera`` for a
            first look; None: the config's ``[source]``.
        host: address to bind (``127.0.0.1``: this machine only; ``0.0.0.0``: the LAN).
        port: TCP port (0: any free port).
        models_dir: where model manifests and weights are.
        restart_service: after a save, run ``systemctl restart`` on the device service.
    """

    config: Path
    source: str | None
    host: str
    port: int
    models_dir: Path
    restart_service: bool = False


def parse_source_option(text: str) -> SourceConfig:
    """``--source``: ``picamera``, a URL / camera index / ``/dev/videoN``, or a video file.

    Raises:
        ConfigError: a file that does not exist.
    """
    if text == "picamera":
        return PicameraSourceConfig()
    if "://" in text or text.isdigit() or text.startswith("/dev/video"):
        return OpenCVSourceConfig(url=text)
    path = Path(text)
    if not path.is_file():
        raise ConfigError(f"--source {text!r}: no such video file (or give a URL or 'picamera')")
    return ReplaySourceConfig(path=path.resolve())


def watched(cfg: AppConfig, source: SourceConfig | None) -> AppConfig:
    """The config the live view runs: the page's source, a file played at recorded speed."""
    src = source if source is not None else cfg.source
    if src is None:
        raise ConfigError("source: no camera or video: pass --source FILE|URL|picamera")
    if isinstance(src, ReplaySourceConfig):
        src = src.model_copy(update={"realtime": True})
    return cfg.model_copy(update={"source": src})
