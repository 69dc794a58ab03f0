"""Detection stage: the NanoDet decoder (GFL head: class scores and box distributions)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edge.classes import class_map
from edge.detect.manifest import ModelManifest
from edge.detect.postprocess import Candidates, anchor_grid, check_class_count, select_best_class
from edge.types import FloatArray

#: Bins of each side's distance distribution.
NANODET_BINS = 8


class NanoDetDecoder:
    """NanoDet (GFL): per stride a ``[1, N, C]`` score output, then per stride ``[1, N, 32]``
    box distributions (l, t, r, b × 8 bins, softmax, expectation × stride).

    Score = best class score (sigmoid applied, no objectness); distances are measured from
    the point centre ``(x·s + (s−1)/2, y·s + (s−1)/2)``.
    """

    def __init__(self, manifest: ModelManifest) -> None:
        """Precompute point centres ``(x·s + (s−1)/2, y·s + (s−1)/2)`` for every row."""
        xy, stride = anchor_grid(manifest.input.size_wh, manifest.strides)
        self._centre = xy * stride[:, None] + (stride[:, None] - 1) / 2
        self._stride = stride
        self._levels = len(manifest.strides)
        self._cmap = class_map(manifest.classes)
        self._bins = np.arange(NANODET_BINS, dtype=np.float32)
        self._name = manifest.name

    def __call__(self, outputs: Sequence[FloatArray], min_score: float) -> Candidates:
        """Decode; see ``edge.detect.postprocess.Decoder``. Softmax runs only on rows that
        pass the score cut.

        Raises:
            ModelError: the score outputs' width does not match the manifest's classes.
        """
        check_class_count(self._name, outputs[0].shape[-1], len(self._cmap))
        scores = np.concatenate([o[0] for o in outputs[: self._levels]], axis=0)
        idx, score, cls = select_best_class(scores, min_score, self._cmap)
        dist = np.concatenate([o[0] for o in outputs[self._levels :]], axis=0)[idx]
        logits = dist.reshape(-1, 4, NANODET_BINS)
        p = np.exp(logits - logits.max(axis=2, keepdims=True))
        ltrb = (p @ self._bins) / p.sum(axis=2) * self._stride[idx, None]
        c = self._centre[idx]
        xyxy = np.concatenate([c - ltrb[:, 0:2], c + ltrb[:, 2:4]], axis=1)
        return Candidates(xyxy.astype(np.float32), score.astype(np.float32), cls)
