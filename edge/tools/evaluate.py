"""Evaluation: replay every clip that has ground truth and score the counts (WAPE).

A clip is a folder with ``video.mp4`` (or an upstream video and ``video.json``, see
``edge.tools.clips``) and ``clip.json`` (its lines, and optionally the classes
it annotates and the true counts); true counts missing from ``clip.json`` are summed from its
``events.csv`` (one row per crossing). ``docs/evaluate.md`` describes the format.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge import app
from edge.capture.replay import ReplaySource
from edge.classes import CLASS_NAMES, category_of
from edge.config import AppConfig, LineConfig, ReplaySourceConfig
from edge.errors import ConfigError
from edge.runtime.sinks import Totals
from edge.tools.clips import clip_video


@dataclass(frozen=True)
class Cell:
    """Ground truth and count for one clip, line, direction and class (or category)."""

    clip: str
    line: str
    direction: str
    key: str
    truth: int
    counted: int


@dataclass(frozen=True)
class ClipScore:
    """Every cell of one clip and its replay figures."""

    clip: str
    classes: tuple[Cell, ...]
    categories: tuple[Cell, ...]
    fps: float
    processed_frames: int


def wape(cells: list[Cell] | tuple[Cell, ...]) -> float | None:
    """Weighted absolute percentage error Σ|counted − truth| / Σ truth; None without truth."""
    truth = sum(c.truth for c in cells)
    return sum(abs(c.counted - c.truth) for c in cells) / truth if truth else None


def load_clip(clip_dir: Path) -> tuple[dict[str, Any], tuple[LineConfig, ...]]:
    """Read ``clip.json`` and turn its lines into line configs (default hysteresis).

    The clip's name defaults to its folder's. A line without ``ground_truth`` takes its true
    counts from ``events.csv`` (columns ``line_id``, ``class``, ``direction``).

    Raises:
        ConfigError: the description, its lines or its ground truth cannot be read.
    """
    path = clip_dir / "clip.json"
    try:
        meta: dict[str, Any] = json.loads(path.read_text())
        meta.setdefault("clip", clip_dir.name)
        lines = tuple(
            LineConfig(name=ln["id"], a=tuple(ln["A"]), b=tuple(ln["B"])) for ln in meta["lines"]
        )
        if any("ground_truth" not in ln for ln in meta["lines"]):
            from_events = _truth_from_events(clip_dir / "events.csv")
            for ln in meta["lines"]:
                ln.setdefault("ground_truth", {"per_class": from_events.get(ln["id"], {})})
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ConfigError(f"{path}: not a readable clip description: {err}") from None
    return meta, lines


def _truth_from_events(path: Path) -> dict[str, dict[str, dict[str, int]]]:
    """Per line, class and direction, the number of rows of an ``events.csv``.

    Raises:
        ValueError: a row names an unknown class or direction.
    """
    truth: dict[str, dict[str, dict[str, int]]] = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            cls, direction = row["class"].strip(), row["direction"].strip()
            if cls not in CLASS_NAMES or direction not in ("in", "out"):
                raise ValueError(f"{path}: unknown class or direction in {row}")
            per = truth.setdefault(row["line_id"].strip(), {}).setdefault(cls, {})
            per[direction] = per.get(direction, 0) + 1
    return truth


def recording_duration_s(video: Path) -> float:
    """A recording's length from its header (frames over rate; 0 when the rate is unknown).

    Raises:
        SourceError: the file is missing or not a video.
    """
    source = ReplaySource(video)
    try:
        return source.duration_s
    finally:
        source.close()


def score_clip(
    meta: dict[str, Any], totals: Totals, fps: float = 0.0, processed_frames: int = 0
) -> ClipScore:
    """Compare a replay's totals with the clip's ground truth, for annotated classes only."""
    annotated = [c for c in CLASS_NAMES if c in meta.get("classes_annotated", CLASS_NAMES)]
    classes: list[Cell] = []
    categories: list[Cell] = []
    for ln in meta["lines"]:
        truth = ln["ground_truth"]["per_class"]
        for direction in ("in", "out"):
            got = totals[ln["id"]][direction]
            per_cat: dict[str, list[int]] = {}
            for cls in annotated:
                t, c = int(truth.get(cls, {}).get(direction, 0)), got.get(cls, 0)
                classes.append(Cell(meta["clip"], ln["id"], direction, cls, t, c))
                acc = per_cat.setdefault(category_of(cls), [0, 0])
                acc[0] += t
                acc[1] += c
            categories += [
                Cell(meta["clip"], ln["id"], direction, cat, t, c)
                for cat, (t, c) in per_cat.items()
            ]
    return ClipScore(meta["clip"], tuple(classes), tuple(categories), fps, processed_frames)


def evaluate(clips_dir: Path, cfg: AppConfig, models_dir: Path) -> list[ClipScore]:
    """Replay and score every clip folder under ``clips_dir`` that has a ``clip.json``.

    Raises:
        ConfigError: no clip with ground truth was found.
    """
    scores = []
    clip_dirs = sorted(p.parent for p in clips_dir.glob("*/clip.json"))
    if not clip_dirs:
        raise ConfigError(f"{clips_dir}: no clip folder with a clip.json (run assets fetch)")
    for clip_dir in clip_dirs:
        meta, lines = load_clip(clip_dir)
        video = clip_video(clip_dir)
        source = ReplaySourceConfig(path=video.path, start_frame=video.start_frame)
        clip_cfg = cfg.model_copy(update={"lines": lines, "source": source, "mqtt": None})
        result = app.run(clip_cfg, app.Options(models_dir))
        scores.append(score_clip(meta, result.totals, result.fps, result.processed_frames))
    return scores
