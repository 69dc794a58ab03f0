"""Annotated video for replays: boxes, track ids, counting lines and live counts.

Drawing is kept apart from counting so the counter stays a pure function of tracks.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.classes import CLASS_NAMES
from edge.config import LineConfig
from edge.errors import SourceError
from edge.runtime.pipeline import FrameResult

_COLOURS = [(66, 135, 245), (245, 66, 230), (66, 245, 96), (245, 164, 66), (66, 233, 245)]


class Annotator:
    """Writes one annotated frame per processed frame to an MP4 file.

    Args:
        path: output file (``.mp4``, codec ``mp4v``).
        size_wh: frame size in pixels.
        fps: frame rate of the output (the processed rate, so time runs true).
        lines: the counting lines to draw.
    """

    def __init__(
        self, path: Path, size_wh: tuple[int, int], fps: float, lines: tuple[LineConfig, ...]
    ):
        fourcc = cv2.VideoWriter.fourcc(*"mp4v")
        self._writer = cv2.VideoWriter(str(path), fourcc, max(fps, 1.0), size_wh)
        if not self._writer.isOpened():
            raise SourceError(f"{path}: cannot write annotated video")
        self._lines = lines
        self._totals: dict[str, dict[str, int]] = {ln.name: {"in": 0, "out": 0} for ln in lines}

    def write(self, result: FrameResult) -> None:
        """Draw the frame's tracks, the lines and the running totals, and append it."""
        image = result.frame.image.copy()
        for c in result.crossings:
            self._totals[c.line][c.direction] += 1
        tr = result.tracks
        for box, tid, cid in zip(tr.xyxy.astype(np.int32), tr.track_id, tr.class_id, strict=True):
            colour = _COLOURS[int(tid) % len(_COLOURS)]
            cv2.rectangle(image, (int(box[0]), int(box[1])), (int(box[2]), int(box[3])), colour, 1)
            label = f"{CLASS_NAMES[int(cid)]} {int(tid)}"
            cv2.putText(image, label, (int(box[0]), int(box[1]) - 2), 0, 0.35, colour, 1)
        for i, ln in enumerate(self._lines):
            a = (int(ln.a[0]), int(ln.a[1]))
            b = (int(ln.b[0]), int(ln.b[1]))
            cv2.arrowedLine(image, a, b, (0, 255, 255), 2, tipLength=0.02)
            t = self._totals[ln.name]
            text = f"{ln.name}  {ln.in_name}: {t['in']}  {ln.out_name}: {t['out']}"
            cv2.putText(image, text, (8, 18 + 18 * i), 0, 0.5, (0, 255, 255), 1)
        self._writer.write(image)

    def close(self) -> None:
        """Finish the file."""
        self._writer.release()
