"""Detection stage: a scripted detector replaying detections from a file (tests, fault drills).

The file is JSON lines, one line per frame that has detections, in increasing ``seq`` order::

    {"seq": 12, "boxes": [[x1, y1, x2, y2], ...], "scores": [0.9, ...], "classes": ["car", ...]}

Boxes are frame pixels, scores in [0, 1], classes names of ``edge.classes.CLASS_NAMES`` (or an
alias such as ``motorbike``). A frame without a line has no detections; blank lines are skipped.

The file must exist when the detector is built; its lines are parsed only when a frame reaches
them, in ``infer``, the step the runtime runs on its detect thread. A malformed line therefore
fails the frame that looks it up, with a ``ModelError`` naming the file and line: a file with a
bad line on purpose injects a detect-step fault at a chosen frame.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge.classes import ALIASES, CLASS_ID
from edge.detect import Inferred, Prepared
from edge.detect.preprocess import Letterbox
from edge.errors import ModelError
from edge.types import Detections, FloatArray, Frame


@dataclass(frozen=True)
class _Line:
    """One parsed line: its boxes (N×4 frame pixels), scores and our class ids."""

    xyxy: FloatArray
    score: FloatArray
    class_id: FloatArray


def _parse(text: str) -> tuple[int, _Line]:
    """Parse one line into its ``seq`` and detections.

    Raises:
        ValueError, TypeError, KeyError: the line is not of the documented shape.
    """
    row: dict[str, Any] = json.loads(text)
    seq = row["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise ValueError(f"seq must be a non-negative integer, got {seq!r}")
    xyxy = np.asarray(row["boxes"], np.float32).reshape(-1, 4)
    score = np.asarray(row["scores"], np.float32).reshape(-1)
    names = [ALIASES.get(str(c), str(c)) for c in row["classes"]]
    unknown = sorted({n for n in names if n not in CLASS_ID})
    if unknown:
        raise ValueError(f"unknown classes {unknown} (known: {sorted(CLASS_ID)})")
    if not len(xyxy) == len(score) == len(names):
        raise ValueError(f"{len(xyxy)} boxes, {len(score)} scores, {len(names)} classes")
    if len(xyxy) and not np.all(xyxy[:, 2:] > xyxy[:, :2]):
        raise ValueError("every box must be x1, y1, x2, y2 with x2 > x1 and y2 > y1")
    ids = np.asarray([CLASS_ID[n] for n in names], np.float32)
    return seq, _Line(xyxy, score, ids)


class ScriptedDetector:
    """Replays detections from a JSON-lines file; implements ``edge.detect.Detector``.

    ``infer`` must see frames in increasing ``seq`` order (as the runtime runs it, on one
    thread); lines already read are kept, so looking up an earlier frame again works.
    """

    def __init__(self, path: Path) -> None:
        """Read the file's lines (parsed later, frame by frame).

        Raises:
            ModelError: naming ``path`` when it does not exist or cannot be read.
        """
        try:
            self._lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as err:
            raise ModelError(
                f"{path}: cannot read the scripted detections: {err.strerror}"
            ) from None
        self._path = path
        self._next = 0  # index of the first line not parsed yet
        self._last_seq = -1
        self._parsed: dict[int, _Line] = {}

    @property
    def name(self) -> str:
        """``scripted:<file name>``."""
        return f"scripted:{self._path.name}"

    def prepare(self, frame: Frame) -> Prepared:
        """Nothing to prepare: an empty tensor and the identity mapping to frame pixels."""
        letterbox = Letterbox(1.0, (0, 0), (0, 0), frame.size_wh)
        return Prepared(frame, np.zeros(0, np.float32), letterbox, 0.0)

    def infer(self, prepared: Prepared) -> Inferred:
        """Look the frame's ``seq`` up, reading the file up to it.

        Returns:
            Outputs ``(xyxy N×4, scores N, class ids N as float32)``, empty for a frame
            without a line.

        Raises:
            ModelError: naming the file and line number, for a line that is not valid JSON,
                lacks a field, has mismatched lengths, an unknown class, or breaks the
                increasing ``seq`` order.
        """
        t0 = time.perf_counter()
        seq = prepared.frame.seq
        while self._next < len(self._lines) and self._last_seq < seq:
            self._read_next()
        line = self._parsed.get(seq)
        if line is None:
            empty = Detections.empty()
            outputs = (empty.xyxy, empty.confidence, empty.confidence)
        else:
            outputs = (line.xyxy, line.score, line.class_id)
        return Inferred(prepared, outputs, (time.perf_counter() - t0) * 1e3)

    def decode(self, inferred: Inferred) -> Detections:
        """The looked-up detections, best score first (as a model's NMS gives them)."""
        xyxy, score, class_id = inferred.outputs
        order = np.argsort(-score, kind="stable")
        return Detections(xyxy[order].copy(), score[order].copy(), class_id[order].astype(np.int64))

    def detect(self, frame: Frame) -> Detections:
        """The three steps in the caller's thread."""
        return self.decode(self.infer(self.prepare(frame)))

    def _read_next(self) -> None:
        number = self._next + 1
        text = self._lines[self._next]
        self._next += 1
        if not text.strip():
            return
        try:
            seq, line = _parse(text)
        except (ValueError, TypeError, KeyError) as err:
            detail = f"missing field {err}" if isinstance(err, KeyError) else str(err)
            raise ModelError(f"{self._path}:{number}: bad scripted detections: {detail}") from None
        if seq <= self._last_seq:
            raise ModelError(
                f"{self._path}:{number}: seq {seq} after seq {self._last_seq}: lines must be in "
                "increasing seq order"
            )
        self._last_seq = seq
        self._parsed[seq] = line
