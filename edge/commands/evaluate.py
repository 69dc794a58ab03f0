"""``edge-counter evaluate``: counting accuracy on every clip with ground truth."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edge.config import AppConfig, default_data_dir, default_models_dir, load_config
from edge.tools.evaluate import Cell, ClipScore, evaluate, wape


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the evaluate command."""
    p.add_argument("--clips", type=Path, help="folder of clip folders (default: data/videos)")
    p.add_argument("--config", type=Path, help="TOML config for detector and tracker")
    p.add_argument("--model", help="model name or path")
    p.add_argument("--models-dir", type=Path, default=None)
    p.add_argument("--detect-fps", type=float, help="detect at this rate")
    p.add_argument("--json-out", type=Path, help="also write the scores as JSON here")


def _fmt(x: float | None) -> str:
    return "   n/a" if x is None else f"{100 * x:5.1f}%"


def _print_cells(title: str, cells: list[Cell]) -> None:
    print(title)
    print(f"  {'clip':<24} {'line':<5} {'dir':<4} {'key':<11} {'truth':>6} {'counted':>8}")
    for c in cells:
        if c.truth or c.counted:
            where = f"{c.clip:<24} {c.line:<5} {c.direction:<4}"
            print(f"  {where} {c.key:<11} {c.truth:>6} {c.counted:>8}")


def report(scores: list[ClipScore]) -> dict[str, object]:
    """Print the tables and return the figures as a JSON-ready dict."""
    cats = [c for s in scores for c in s.categories]
    classes = [c for s in scores for c in s.classes]
    _print_cells("Per clip, line, direction and category:", cats)
    _print_cells("Per class:", classes)
    print(f"\n  {'clip':<24} {'cat WAPE':>9} {'class WAPE':>11} {'fps':>7}")
    for s in scores:
        print(
            f"  {s.clip:<24} {_fmt(wape(s.categories)):>9} {_fmt(wape(s.classes)):>11} {s.fps:7.1f}"
        )
    print(f"  {'OVERALL':<24} {_fmt(wape(cats)):>9} {_fmt(wape(classes)):>11}")
    return {
        "overall": {"category_wape": wape(cats), "class_wape": wape(classes)},
        "clips": {
            s.clip: {
                "category_wape": wape(s.categories),
                "class_wape": wape(s.classes),
                "fps": s.fps,
                "processed_frames": s.processed_frames,
                "cells": [c.__dict__ for c in s.categories],
            }
            for s in scores
        },
    }


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the tables."""
    cfg = load_config(args.config) if args.config else AppConfig()
    det = cfg.detector.model_dump()
    if args.model:
        det["model"] = args.model
    if args.detect_fps:
        det["detect_fps"] = args.detect_fps
    cfg = cfg.model_copy(update={"detector": cfg.detector.model_validate(det)})
    clips = args.clips or default_data_dir() / "videos"
    scores = evaluate(clips, cfg, args.models_dir or default_models_dir())
    figures = report(scores)
    if args.json_out:
        args.json_out.write_text(json.dumps(figures, indent=1))
    return 0
