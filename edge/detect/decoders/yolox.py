"""Detection stage: the YOLOX decoder (anchor-free, objectness × class score)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edge.classes import class_map
from edge.detect.manifest import ModelManifest
from edge.detect.postprocess import Candidates, anchor_grid, check_class_count, select_best_class
from edge.types import FloatArray

#: Box (4) and objectness (1) columns before the class scores.
_HEAD_COLUMNS = 5


class YoloxDecoder:
    """YOLOX ``[1, N, 5 + C]``: ``[dx, dy, log_w, log_h, obj, C cls]``, score = obj × cls.

    Rows are the grid cells of every stride, finest first, row-major; ``cx = (dx + gx) · s``,
    ``w = exp(log_w) · s``. Objectness and class scores come with the sigmoid applied.
    """

    def __init__(self, manifest: ModelManifest) -> None:
        """Precompute the anchor grid for the manifest's input size and strides."""
        self._xy, self._stride = anchor_grid(manifest.input.size_wh, manifest.strides)
        self._cmap = class_map(manifest.classes)
        self._name = manifest.name

    def __call__(self, outputs: Sequence[FloatArray], min_score: float) -> Candidates:
        """Decode; see ``edge.detect.postprocess.Decoder``.

        Raises:
            ModelError: the output's class columns do not match the manifest's classes.
        """
        out = outputs[0][0]
        check_class_count(self._name, out.shape[1] - _HEAD_COLUMNS, len(self._cmap))
        pre = np.flatnonzero(out[:, 4] >= min_score)  # score ≤ obj: cheap first cut
        rows_pre = out[pre]
        scores = rows_pre[:, 5:] * rows_pre[:, 4:5]
        sel, score, cls = select_best_class(scores, min_score, self._cmap)
        rows, idx = rows_pre[sel], pre[sel]
        s = self._stride[idx, None]
        cxy = (rows[:, 0:2] + self._xy[idx]) * s
        half = np.exp(rows[:, 2:4]) * s * 0.5
        xyxy = np.concatenate([cxy - half, cxy + half], axis=1)
        return Candidates(xyxy.astype(np.float32), score.astype(np.float32), cls)
