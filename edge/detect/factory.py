"""Detection stage: the one factory, a detector built from the ``[detector]`` section by ``type``.

Each backend is imported only when its type is asked for, so a scripted detector never
imports onnxruntime (``edge.detect.onnx`` is the only module that does).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge.config import DetectorConfig, OnnxDetectorConfig, ScriptedDetectorConfig
from edge.detect import Detector
from edge.errors import ModelError


def _onnx(cfg: OnnxDetectorConfig, models_dir: Path) -> Detector:
    from edge.detect.onnx import open_detector  # noqa: PLC0415 - lazy: imports onnxruntime

    return open_detector(cfg, models_dir)


def _scripted(cfg: ScriptedDetectorConfig, models_dir: Path) -> Detector:
    from edge.detect.scripted import ScriptedDetector  # noqa: PLC0415 - lazy, like every backend

    return ScriptedDetector(cfg.path)


#: Builder per ``detector.type``; each takes its own member of the union (the discriminator
#: guarantees a section of type ``t`` is that member, hence ``Any`` here).
_BUILDERS: dict[str, Callable[[Any, Path], Detector]] = {"onnx": _onnx, "scripted": _scripted}


def build_detector(cfg: DetectorConfig, models_dir: Path) -> Detector:
    """Build the detector the config names.

    Args:
        cfg: the ``[detector]`` section (``OnnxDetectorConfig`` or ``ScriptedDetectorConfig``).
        models_dir: where model names resolve (manifests and weights); unused by ``scripted``.

    Raises:
        ModelError: the backend cannot be built: unknown model, missing or corrupt file,
            missing onnxruntime, or a missing detections file.
    """
    build = _BUILDERS.get(cfg.type)
    if build is None:
        raise ModelError(f"detector type {cfg.type!r} has no backend (known: {sorted(_BUILDERS)})")
    return build(cfg, models_dir)
