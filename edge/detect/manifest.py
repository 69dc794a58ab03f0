"""Detection stage: model manifests (what a model file is and how to feed and decode it)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast, get_args

from edge.classes import CLASS_NAMES, DROPPED, class_map
from edge.detect.labels import COCO_CLASSES
from edge.errors import ModelError

#: Decoder families (``edge.detect.decoders``); ``ultralytics`` covers YOLOv8 and YOLO11.
Family = Literal["yolox", "nanodet", "ultralytics"]
#: Other names accepted for a family in a manifest.
FAMILY_ALIASES: dict[str, str] = {"yolov8": "ultralytics", "yolo11": "ultralytics"}
Precision = Literal["fp32", "int8"]
LetterboxMode = Literal["top_left", "centre"]
Interpolation = Literal["linear", "area"]
ColourOrder = Literal["BGR", "RGB"]


@dataclass(frozen=True)
class InputSpec:
    """How a frame becomes the model's input tensor.

    Attributes:
        name: graph input to feed (the only one fed; NanoDet lists weights as inputs too).
        size_wh: model input width and height in pixels.
        letterbox: where the resized image goes on the canvas (``top_left`` or ``centre``).
        pad_value: canvas fill, a pixel value before normalisation.
        interpolation: ``linear`` or ``area`` resize.
        colour: channel order the model expects (frames are BGR).
        mean: per-channel mean in the model's channel order, or None for raw 0..255.
        std: per-channel std in the model's channel order, or None for raw 0..255.
    """

    name: str
    size_wh: tuple[int, int]
    letterbox: LetterboxMode = "top_left"
    pad_value: int = 114
    interpolation: Interpolation = "linear"
    colour: ColourOrder = "BGR"
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class ModelManifest:
    """Everything known about one model file (``models/<name>.json``).

    Attributes:
        name: short model name, the manifest's file stem (``yolox-nano``).
        family: decoder to use: ``yolox``, ``nanodet`` or ``ultralytics`` (YOLOv8/YOLO11).
        precision: ``fp32`` or ``int8``.
        file: model file name, next to the manifest.
        sha256: preferred checksum of ``file``; empty when unknown (bare .onnx).
        accepted_sha256: every accepted checksum (includes ``sha256``) -> what that file is.
        input: pre-processing facts.
        outputs: graph output names in the order the decoder expects.
        strides: feature-map strides, finest first.
        classes: model class names in output order, mapped onto ours by
            ``edge.classes.class_map`` (the 80 COCO names when the manifest lists none).
        licence: SPDX licence of the weights.
        urls: upstream download URLs, tried in order.
        size_bytes: expected file size, or None.
        source: for a derived (INT8) build, the manifest name it was built from.
        agreement: for a derived build, how well it agrees with its source, or None.
        upstream: provenance summary, free-form.
    """

    name: str
    family: Family
    precision: Precision
    file: str
    sha256: str
    input: InputSpec
    outputs: tuple[str, ...]
    strides: tuple[int, ...]
    classes: tuple[str, ...] = COCO_CLASSES
    accepted_sha256: Mapping[str, str] = field(default_factory=dict)
    licence: str = "unknown"
    urls: tuple[str, ...] = ()
    size_bytes: int | None = None
    source: str | None = None
    agreement: Mapping[str, Any] | None = None
    upstream: Mapping[str, Any] = field(default_factory=dict)


def _choice(value: object, allowed: object, key: str) -> Any:
    options = get_args(allowed)
    if value not in options:
        raise ValueError(f"{key} must be one of {list(options)}, got {value!r}")
    return value


def _triple(value: object, key: str) -> tuple[float, float, float] | None:
    if value is None:
        return None
    seq = cast(list[float], value)
    if len(seq) != 3:
        raise ValueError(f"{key} must list 3 numbers")
    return (float(seq[0]), float(seq[1]), float(seq[2]))


def _input_spec(d: Mapping[str, Any]) -> InputSpec:
    if d.get("layout", "NCHW") != "NCHW":
        raise ValueError("input.layout must be NCHW")
    w, h = (int(v) for v in d["size_wh"])
    return InputSpec(
        name=str(d["name"]),
        size_wh=(w, h),
        letterbox=_choice(d.get("letterbox", "top_left"), LetterboxMode, "input.letterbox"),
        pad_value=int(d.get("pad_value", 114)),
        interpolation=_choice(d.get("interpolation", "linear"), Interpolation, "input.interp"),
        colour=_choice(d.get("colour", "BGR"), ColourOrder, "input.colour"),
        mean=_triple(d.get("mean"), "input.mean"),
        std=_triple(d.get("std"), "input.std"),
    )


def _classes(value: object) -> tuple[str, ...]:
    classes = tuple(str(c) for c in cast(list[str], value))
    if not (class_map(classes) != DROPPED).any():
        raise ValueError(f"classes: none of {list(classes)[:8]} is a counted class {CLASS_NAMES}")
    return classes


def manifest_from_dict(d: Mapping[str, Any], name: str) -> ModelManifest:
    """Build a manifest from parsed JSON.

    Raises:
        KeyError, ValueError, TypeError: a field is missing or invalid (``load_manifest``
            turns these into ``ModelError``).
    """
    sha = str(d.get("sha256", "")).lower()
    accepted = {str(k).lower(): str(v) for k, v in d.get("sha256_accepted", {}).items()}
    if sha and sha not in accepted:
        accepted[sha] = "preferred"
    agreement = d.get("agreement")
    return ModelManifest(
        name=str(d.get("name", name)),
        family=_choice(FAMILY_ALIASES.get(d["family"], d["family"]), Family, "family"),
        precision=_choice(d.get("precision", "fp32"), Precision, "precision"),
        file=str(d["file"]),
        sha256=sha,
        input=_input_spec(d["input"]),
        outputs=tuple(str(o) for o in d["outputs"]),
        strides=tuple(int(s) for s in d.get("strides", ())),
        classes=_classes(d.get("classes", COCO_CLASSES)),
        accepted_sha256=accepted,
        licence=str(d.get("licence", "unknown")),
        urls=tuple(str(u) for u in d.get("urls", ())),
        size_bytes=None if d.get("size_bytes") is None else int(d["size_bytes"]),
        source=None if d.get("source") is None else str(d["source"]),
        agreement=None if agreement is None else dict(agreement),
        upstream=dict(d.get("upstream", {})),
    )


def load_manifest(path: Path) -> ModelManifest:
    """Read and validate a model manifest JSON file.

    Raises:
        ModelError: naming ``path`` when it is missing, not JSON or a field is invalid.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ModelError(f"{path}: cannot read model manifest: {err.strerror}") from None
    except json.JSONDecodeError as err:
        raise ModelError(f"{path}: model manifest is not valid JSON: {err}") from None
    try:
        return manifest_from_dict(data, path.stem)
    except (KeyError, ValueError, TypeError, AttributeError) as err:
        raise ModelError(f"{path}: invalid model manifest: {err!r}") from None


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _checked_model_path(manifest: ModelManifest, directory: Path, origin: Path) -> Path:
    path = directory / manifest.file
    if not path.is_file():
        raise ModelError(
            f"{path}: model file of {origin} is missing (run `edge-counter assets fetch`)"
        )
    if manifest.accepted_sha256:
        digest = sha256_file(path)
        if digest not in manifest.accepted_sha256:
            raise ModelError(
                f"{path}: sha256 {digest[:12]}… matches none listed in {origin}: "
                "the file is corrupt or not this model"
            )
    return path


def _sibling_manifest(onnx_path: Path) -> Path | None:
    same_stem = onnx_path.with_suffix(".json")
    if same_stem.is_file():
        return same_stem
    for candidate in sorted(onnx_path.parent.glob("*.json")):
        try:
            if json.loads(candidate.read_text(encoding="utf-8")).get("file") == onnx_path.name:
                return candidate
        except (OSError, json.JSONDecodeError, AttributeError):
            continue
    return None


def resolve_model(name_or_path: str, models_dir: Path) -> tuple[ModelManifest, Path]:
    """Find the manifest and the verified model file for a config's ``detector.model``.

    Args:
        name_or_path: a manifest name in ``models_dir`` (``yolox-nano``), a path to a
            manifest ``.json``, or a path to an ``.onnx``. A bare ``.onnx`` uses a sibling
            manifest (same stem, or any ``.json`` whose ``file`` names it); without one it is
            accepted only when its outputs are exactly the Ultralytics YOLOv8/YOLO11
            ``[1, 84, N]`` layout (COCO classes).
        models_dir: directory of the committed manifests and fetched weights.

    Returns:
        The manifest and the path of the model file (sha256 checked when the manifest
        lists one).

    Raises:
        ModelError: unknown name, missing or corrupt file, or a family that cannot be told.
    """
    as_path = Path(name_or_path)
    if as_path.suffix == ".json":
        manifest = load_manifest(as_path)
        return manifest, _checked_model_path(manifest, as_path.parent, as_path)
    if as_path.suffix == ".onnx":
        if not as_path.is_file():
            raise ModelError(f"{as_path}: model file does not exist")
        sibling = _sibling_manifest(as_path)
        if sibling is not None:
            manifest = load_manifest(sibling)
            return manifest, _checked_model_path(manifest, as_path.parent, sibling)
        # Lazy: onnx.py is the only module that imports onnxruntime.
        from edge.detect.onnx import probe_bare_model  # noqa: PLC0415

        return probe_bare_model(as_path), as_path
    manifest_path = models_dir / f"{name_or_path}.json"
    if not manifest_path.is_file():
        known = sorted(p.stem for p in models_dir.glob("*.json"))
        raise ModelError(f"unknown model {name_or_path!r}: no {manifest_path} (known: {known})")
    manifest = load_manifest(manifest_path)
    return manifest, _checked_model_path(manifest, models_dir, manifest_path)
