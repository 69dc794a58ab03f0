"""Detection stage: the Ultralytics YOLOv8 / YOLO11 decoder (``[1, 4 + C, N]``, no objectness)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edge.classes import class_map
from edge.detect.manifest import ModelManifest
from edge.detect.postprocess import Candidates, check_class_count
from edge.types import FloatArray

#: Box columns (cx, cy, w, h) before the class scores.
_BOX_ROWS = 4


class UltralyticsDecoder:
    """Ultralytics YOLOv8/YOLO11 detect export, one output ``[1, 4 + C, N]``.

    Channel-major: rows 0-3 are ``cx, cy, w, h`` in model-input pixels (the export has
    already decoded the grid and the DFL), rows ``4 .. 4 + C`` the class scores with the
    sigmoid applied; no objectness, so score = best class score. ``N`` is the number of
    grid cells over strides 8/16/32 (3549 for 416×416); the decoder needs no grid.
    """

    def __init__(self, manifest: ModelManifest) -> None:
        """Build the class map; this layout needs no grid."""
        self._cmap = class_map(manifest.classes)
        self._name = manifest.name

    def __call__(self, outputs: Sequence[FloatArray], min_score: float) -> Candidates:
        """Decode; see ``edge.detect.postprocess.Decoder``.

        Raises:
            ModelError: the output's class rows do not match the manifest's classes.
        """
        out = outputs[0][0]  # (4 + C, N)
        check_class_count(self._name, out.shape[0] - _BOX_ROWS, len(self._cmap))
        best = out[_BOX_ROWS:].max(axis=0)
        rows = np.flatnonzero(best >= min_score)
        ours = self._cmap[out[_BOX_ROWS:, rows].argmax(axis=0)]
        keep = ours >= 0
        rows, score, cls = rows[keep], best[rows[keep]], ours[keep]
        box = out[:_BOX_ROWS, rows].T
        half = box[:, 2:4] * 0.5
        xyxy = np.concatenate([box[:, 0:2] - half, box[:, 0:2] + half], axis=1)
        return Candidates(xyxy.astype(np.float32), score.astype(np.float32), cls)
