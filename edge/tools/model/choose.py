"""``edge-counter model choose``, measurements: each variant's speed and counts, on the device.

Candidates are the installed members of the configured model's family: its FP32 root (the
manifest whose ``source`` chain ends at it) and every manifest derived from it (``-int8``,
``-WxH`` and their builds) whose file exists and loads. Each is measured twice:

* speed: ``session.run`` alone (``infer_ms``) on frames of the device's own source, the
  candidates taking turns on every frame, so a change of load or clock hits them alike;
* counts: a replay of the first seconds of a recording of the same camera through the same
  pipeline as ``replay`` (``edge.app``), crossings per (line, direction, category) compared
  with the FP32 root's.

Runs on the device: it imports neither ``onnx`` nor the build tools.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge import app
from edge.capture import GAP
from edge.capture.replay import ReplaySource
from edge.classes import category_of
from edge.config import AppConfig, OnnxDetectorConfig, ReplaySourceConfig
from edge.detect import Detector
from edge.detect.manifest import load_manifest, resolve_model
from edge.errors import ConfigError, EdgeError
from edge.runtime.notify import Notifier
from edge.types import Frame

#: Default disagreement allowed: 5% of FP32's crossings, or one crossing if that is more.
DEFAULT_TOLERANCE = 0.05
#: Frames each candidate runs before its times count (session warm-up, page faults).
WARMUP_FRAMES = 3
#: (line, direction, category) -> crossings.
Counts = dict[tuple[str, str, str], int]


@dataclass(frozen=True)
class Family:
    """The configured model's family as installed.

    Attributes:
        root: the FP32 model the others derive from (the reference for counts).
        members: names that resolve (file present, checksum right), root first.
        skipped: (name, reason) of derived manifests that do not resolve.
    """

    root: str
    members: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Timing:
    """Inference time of one candidate (``session.run`` alone), in milliseconds."""

    p50_ms: float
    p90_ms: float
    frames: int


@dataclass(frozen=True)
class Recording:
    """The stretch replayed for the count check.

    Attributes:
        path: the video file.
        start_frame: first frame of the file used (as in ``ReplaySourceConfig``).
        frames: source frames replayed (``seconds`` times the file's frame rate).
        seconds: the length of the stretch, in seconds of recording.
    """

    path: Path
    start_frame: int
    frames: int
    seconds: float


def _sources(models_dir: Path) -> dict[str, str | None]:
    """Every readable manifest in ``models_dir``: name -> the name it was derived from."""
    out: dict[str, str | None] = {}
    for path in sorted(models_dir.glob("*.json")):
        try:
            out[path.stem] = load_manifest(path).source
        except EdgeError:
            continue  # not a model manifest (or a broken one): never a candidate
    return out


def _root(name: str, sources: dict[str, str | None]) -> str:
    seen = [name]
    while (parent := sources.get(seen[-1])) is not None and parent not in seen:
        seen.append(parent)
    return seen[-1]


def find_family(cfg: AppConfig, models_dir: Path) -> Family:
    """The installed family of ``cfg.detector.model``.

    Raises:
        ConfigError: the detector is not an ONNX model named in ``models_dir``, or its root
            is not FP32. ModelError: the root itself does not resolve.
    """
    det = cfg.detector
    if not isinstance(det, OnnxDetectorConfig):
        raise ConfigError(f"detector.type is {det.type!r}: there is no model to choose")
    if Path(det.model).suffix in (".json", ".onnx"):
        raise ConfigError(
            f"detector.model is the path {det.model!r}: model choose picks among the named "
            f"models of {models_dir}; name one of them"
        )
    sources = _sources(models_dir)
    if det.model not in sources:
        resolve_model(det.model, models_dir)  # raises the unknown-model error
    root = _root(det.model, sources)
    manifest, _ = resolve_model(root, models_dir)
    if manifest.precision != "fp32":
        raise ConfigError(f"{root} ({manifest.precision}) has no FP32 source to compare with")
    members, skipped = [root], []
    for name in sorted(sources):
        if name != root and _root(name, sources) == root:
            try:
                resolve_model(name, models_dir)
                members.append(name)
            except EdgeError as err:
                skipped.append((name, str(err)))
    return Family(root, tuple(members), tuple(skipped))


def with_model(cfg: AppConfig, model: str) -> AppConfig:
    """The config with another ``detector.model`` (everything else as configured)."""
    return cfg.model_copy(update={"detector": cfg.detector.model_copy(update={"model": model})})


def open_detectors(
    cfg: AppConfig, family: Family, models_dir: Path
) -> tuple[dict[str, Detector], list[tuple[str, str]]]:
    """Load every member through the app, with the configured threads, thresholds and ROI.

    Returns:
        The detectors that loaded, by name (root first), and (name, reason) of those that
        did not.
    """
    loaded: dict[str, Detector] = {}
    failed: list[tuple[str, str]] = []
    for name in family.members:
        try:
            loaded[name] = app.build_pipeline(with_model(cfg, name), models_dir).detector
        except EdgeError as err:
            if name == family.root:
                raise
            failed.append((name, str(err)))
    return loaded, failed


def _timing_frames(cfg: AppConfig, count: int) -> Iterator[Frame]:
    """``count`` frames of the configured source (a file is read as fast as it decodes)."""
    src = cfg.source
    if src is None:
        raise ConfigError("source: no camera or video configured (add a [source] section)")
    if isinstance(src, ReplaySourceConfig):
        src = src.model_copy(update={"realtime": False})
    source = app.open_source(src)
    frames = source.frames()
    try:
        got = 0
        for item in frames:
            if item is GAP or not isinstance(item, Frame):
                continue
            yield item
            got += 1
            if got >= count:
                return
    finally:
        source.close()
        frames.close()


def time_detectors(
    cfg: AppConfig, detectors: dict[str, Detector], frames: int
) -> dict[str, Timing]:
    """Median and p90 ``infer_ms`` of each detector over ``frames`` frames of the source.

    Every frame goes through every detector, their order rotating from frame to frame; the
    first ``WARMUP_FRAMES`` frames are not counted.

    Raises:
        ConfigError: the source gave no frame after the warm-up. SourceError: it cannot open.
    """
    names = list(detectors)
    ms: dict[str, list[float]] = {n: [] for n in names}
    for i, frame in enumerate(_timing_frames(cfg, frames + WARMUP_FRAMES)):
        for k in range(len(names)):
            name = names[(i + k) % len(names)]
            det = detectors[name]
            inferred = det.infer(det.prepare(frame))
            if i >= WARMUP_FRAMES:
                ms[name].append(inferred.infer_ms)
    if not ms[names[0]]:
        raise ConfigError(f"source: fewer than {WARMUP_FRAMES + 1} frames to time the models on")
    out = {}
    for name, values in ms.items():
        p50, p90 = np.percentile(np.asarray(values, np.float64), [50, 90])
        out[name] = Timing(float(p50), float(p90), len(values))
    return out


def recording_for(cfg: AppConfig, video: Path | None, seconds: float) -> Recording | None:
    """The stretch to replay: ``video``, else the configured file; None for a live camera.

    Raises:
        ConfigError: ``video`` is missing or not a video (naming it), or ``seconds`` <= 0.
    """
    if seconds <= 0:
        raise ConfigError(f"--seconds must be positive, got {seconds:g}")
    start = 0
    if video is None:
        if not isinstance(cfg.source, ReplaySourceConfig):
            return None
        video, start = cfg.source.path, cfg.source.start_frame
    if not video.is_file():
        raise ConfigError(f"--recording {video}: no such file")
    try:
        source = ReplaySource(video, start_frame=start)
    except EdgeError as err:
        raise ConfigError(f"--recording {video}: {str(err).removeprefix(f'{video}: ')}") from None
    try:
        fps, total = source.fps, source.frame_count
    finally:
        source.close()
    if fps <= 0:
        raise ConfigError(f"--recording {video}: no frame rate in the file's header")
    frames = math.ceil(seconds * fps)
    if total > 0:
        frames = min(frames, max(0, total - start))
    if frames < 1:
        raise ConfigError(f"--recording {video}: no frame after frame {start}")
    return Recording(video, start, frames, frames / fps)


def count_recording(cfg: AppConfig, model: str, rec: Recording, models_dir: Path) -> Counts:
    """Replay ``rec`` with ``model`` exactly as ``replay`` would; crossings per category.

    Raises:
        SourceError, ModelError, ConfigError: as ``edge.app.build``.
    """
    source = ReplaySourceConfig(path=rec.path, start_frame=rec.start_frame)
    run_cfg = with_model(cfg, model).model_copy(update={"source": source, "mqtt": None})
    options = app.Options(models_dir, max_frames=rec.frames, notifier=Notifier(None))
    report = app.run(run_cfg, options)
    counts: Counts = {}
    for line, directions in report.totals.items():
        for direction, per_class in directions.items():
            for cls, n in per_class.items():
                key = (line, direction, category_of(cls))
                counts[key] = counts.get(key, 0) + n
    return counts


def disagreement(counts: Counts, reference: Counts) -> float:
    """Σ |counts − reference| over (line, direction, category) / max(1, Σ reference)."""
    keys = set(counts) | set(reference)
    diff = sum(abs(counts.get(k, 0) - reference.get(k, 0)) for k in keys)
    return diff / max(1, sum(reference.values()))


def allowed(tolerance: float | None, reference_total: int) -> float:
    """The disagreement a candidate may have: ``tolerance`` as given, or by default
    ``DEFAULT_TOLERANCE`` or one crossing of ``reference_total``, whichever is larger."""
    if tolerance is not None:
        return tolerance
    return max(DEFAULT_TOLERANCE, 1 / max(1, reference_total))
