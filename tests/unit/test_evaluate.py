"""Evaluation: a customer's clip folder (clip.json, events.csv) is read and scored on the
classes it annotates only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.errors import ConfigError
from edge.tools.evaluate import load_clip, score_clip, wape

LINE = {"id": "gate", "A": [0, 100], "B": [200, 100]}


def _clip(tmp_path: Path, meta: dict[str, object], events: str | None = None) -> Path:
    folder = tmp_path / "gate_morning"
    folder.mkdir()
    (folder / "clip.json").write_text(json.dumps(meta))
    if events is not None:
        (folder / "events.csv").write_text(events)
    return folder


def test_truth_from_events_csv_when_clip_json_has_none(tmp_path: Path) -> None:
    events = (
        "line_id,frame,class,direction,note\ngate,1,car,in,\ngate,9,car,in,\ngate,5,person,out,\n"
    )
    meta, lines = load_clip(_clip(tmp_path, {"lines": [LINE]}, events))
    assert meta["clip"] == "gate_morning" and [ln.name for ln in lines] == ["gate"]
    counted = {"gate": {"in": {"car": 2}, "out": {"person": 0}}}
    score = score_clip(meta, counted)
    assert wape(score.classes) == pytest.approx(1 / 3)
    assert {(c.key, c.direction): c.truth for c in score.categories if c.truth} == {
        ("vehicle", "in"): 2,
        ("pedestrian", "out"): 1,
    }


def test_only_annotated_classes_are_scored(tmp_path: Path) -> None:
    line = {**LINE, "ground_truth": {"per_class": {"bus": {"in": 1}, "motorcycle": {"in": 0}}}}
    meta, _ = load_clip(_clip(tmp_path, {"lines": [line], "classes_annotated": ["person", "bus"]}))
    counted = {"gate": {"in": {"bus": 1, "motorcycle": 40}, "out": {"person": 2}}}
    score = score_clip(meta, counted)
    assert {c.key for c in score.classes} == {"person", "bus"}
    assert wape(score.classes) == pytest.approx(2.0)  # the two persons; the motorbikes ignored
    assert wape(score.categories) == pytest.approx(2.0)


def test_unknown_class_in_events_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown class"):
        load_clip(_clip(tmp_path, {"lines": [LINE]}, "line_id,class,direction\ngate,tram,in\n"))
