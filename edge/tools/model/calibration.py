"""Model build (workstation only): which frames calibrate and which verify, decoded lazily.

Sampling is deterministic (evenly spaced, equal share per video) so two builds from the same
sources see the same frames; calibration and verification frames never overlap.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.detect.preprocess import Preprocessor
from edge.errors import ConfigError
from edge.types import FloatArray, Frame

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mkv", ".mov"})


@dataclass(frozen=True)
class FrameRef:
    """One frame to sample: a video and frame index, or an image file (index 0)."""

    path: Path
    index: int


def public_clips(data_dir: Path) -> list[Path]:
    """Videos of the clips marked ``"split": "public"`` in ``data_dir/clips.json``.

    Held-out clips measure accuracy and are never used for calibration or verification.

    Raises:
        ConfigError: no clip index, or no public clip fetched.
    """
    index = data_dir / "clips.json"
    try:
        clips: dict[str, Any] = json.loads(index.read_text(encoding="utf-8"))["clips"]
    except (OSError, ValueError, KeyError) as err:
        raise ConfigError(f"{index}: cannot read the clip index: {err}") from None
    videos = [data_dir / "videos" / name / "video.mp4"
              for name, meta in sorted(clips.items()) if meta.get("split") == "public"]  # fmt: skip
    found = [v for v in videos if v.is_file()]
    if not found:
        raise ConfigError(f"{data_dir}/videos: no public clip present (run assets fetch)")
    return found


def _expand(source: Path) -> list[Path]:
    if source.is_dir():
        wanted = IMAGE_SUFFIXES | VIDEO_SUFFIXES
        return sorted(p for p in source.rglob("*") if p.suffix.lower() in wanted and p.is_file())
    if source.is_file():
        return [source]
    raise ConfigError(f"--calib {source}: no such file or directory")


def _frame_count(path: Path) -> int:
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return 1 if cv2.imread(str(path)) is not None else 0
    cap = cv2.VideoCapture(str(path))
    n = max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT))) if cap.isOpened() else 0
    cap.release()
    return n


def sample_frames(sources: Sequence[Path], count: int) -> list[FrameRef]:
    """Pick up to ``count`` frames, an equal share per video, evenly spaced; deterministic.

    Args:
        sources: videos, images, or directories of them (searched recursively).
        count: frames wanted in total.

    Raises:
        ConfigError: a source does not exist, or no frame can be read from any of them.
    """
    files = [f for s in sources for f in _expand(s)]
    counts = [(f, _frame_count(f)) for f in files]
    usable = [(f, n) for f, n in counts if n > 0]
    if not usable:
        names = ", ".join(str(s) for s in sources)
        raise ConfigError(f"calibration source {names}: no readable image or video frame")
    images = [FrameRef(f, 0) for f, n in usable if f.suffix.lower() in IMAGE_SUFFIXES]
    videos = [(f, n) for f, n in usable if f.suffix.lower() not in IMAGE_SUFFIXES]
    if len(images) >= count or not videos:
        step = max(1, len(images) / count)
        return [images[int(i * step)] for i in range(min(count, len(images)))]
    share = math.ceil((count - len(images)) / len(videos))
    refs = list(images)
    for f, n in videos:
        k = min(share, n)
        refs += sorted({FrameRef(f, int((i + 0.5) * n / k)) for i in range(k)}, key=_key)
    return refs


def _key(ref: FrameRef) -> tuple[str, int]:
    return str(ref.path), ref.index


def split_frames(refs: Sequence[FrameRef], verify: int) -> tuple[list[FrameRef], list[FrameRef]]:
    """Disjoint calibration and verification sets, interleaved so both span every source."""
    if verify <= 0 or len(refs) < 2:
        return list(refs), []
    verify = min(verify, len(refs) // 2)
    picked = {int((i + 0.5) * len(refs) / verify) for i in range(verify)}
    calib = [r for i, r in enumerate(refs) if i not in picked]
    return calib, [r for i, r in enumerate(refs) if i in picked]


def read_frames(refs: Iterable[FrameRef]) -> Iterator[Frame]:
    """Decode the referenced frames in order, opening each video once (low memory)."""
    cap: Any = None
    current: Path | None = None
    pos = 0
    for ref in refs:
        if ref.path.suffix.lower() in IMAGE_SUFFIXES:
            image = cv2.imread(str(ref.path))
            if image is not None:
                yield Frame(image.astype(np.uint8, copy=False), 0.0, 0)
            continue
        if ref.path != current or ref.index < pos:
            cap, current, pos = cv2.VideoCapture(str(ref.path)), ref.path, 0
        while pos < ref.index and cap.grab():
            pos += 1
        ok, image = cap.read()
        pos += 1
        if ok:
            yield Frame(image, 0.0, ref.index)


def input_tensors(frames: Iterable[Frame], pre: Preprocessor) -> Iterator[FloatArray]:
    """Each frame through the model's own pre-processing."""
    for frame in frames:
        yield pre(frame.image)[0]
